#!/usr/bin/env bash
# `make check`: every test of drbd-rs, ending with one "check: N passed, N failed" line.
#  1. set-up (idempotent): packages, Linux source, bindgen
#  2. the test kernel (cached outside the repo), drbd_rs.ko with its KUnit suites, the tools
#  3. cargo test of the userspace workspace (the module's pure core and the tools)
#  4. the decoder fuzzer
#  5. KUnit in QEMU, then every VM scenario in scripts/scenarios/ with each tool/module pairing
#     it supports, each with its time
# Ends with the total time and the summary line; exits non-zero if anything failed. The steps
# are in check-lib.sh, shared with check-quick.sh (`make check-quick`).
set -uo pipefail
CHECK_NAME=check
. "$(cd "$(dirname "$0")" && pwd)/check-lib.sh"
prepare_all
check_cargo_test
check_layers
check_artifacts
check_fuzzer
check_kunit

# Scenarios and the tool/module pairings they run with. The C DRBD with Debian's drbdsetup-84
# is the reference that passes before drbd-rs replicates anything.
scenarios=(
    "replicate-loopback tool=drbdsetup-84 module=drbd"
    "replicate-two-guests tool=drbdsetup-84 module=drbd"
    "replicate-loopback tool=drbdsetup-rs module=drbd"
    "replicate-two-guests tool=drbdsetup-rs module=drbd"
    "tool-compat module=drbd"
    "control-plane tool=drbdsetup-84 module=drbd"
    "control-plane tool=drbdsetup-84 module=drbd_rs"
    "single-node-io tool=drbdsetup-84 module=drbd"
    "single-node-io tool=drbdsetup-84 module=drbd_rs"
    "single-node-io tool=drbdsetup-rs module=drbd_rs"
    "io-error tool=drbdsetup-84 module=drbd"
    "io-error tool=drbdsetup-84 module=drbd_rs"
    # Replication: drbd-rs with itself, with the C DRBD in both directions (mixed pairs), a full
    # sync of a prefilled 256 MiB device, protocols A, B and C, killed nodes, hostile peers.
    "tool-compat module=drbd_rs"
    "replicate-loopback tool=drbdsetup-84 module=drbd_rs"
    "replicate-loopback tool=drbdsetup-rs module=drbd_rs"
    "replicate-two-guests tool=drbdsetup-84 module=drbd_rs"
    "replicate-two-guests tool=drbdsetup-84 module0=drbd_rs module1=drbd auth=yes"
    "replicate-two-guests tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "auth-ipv6 tool=drbdsetup-84 module=drbd_rs"
    "split-brain tool=drbdsetup-84 module=drbd"
    "split-brain tool=drbdsetup-84 module=drbd_rs"
    # Automatic split-brain recovery (after-sb-0pri/-1pri/-2pri, rr-conflict) and the usermode
    # helpers, recorded by a script set as usermode_helper.
    "after-sb-0pri tool=drbdsetup-84 module=drbd"
    "after-sb-0pri tool=drbdsetup-84 module=drbd_rs"
    "after-sb-1pri tool=drbdsetup-84 module=drbd"
    "after-sb-1pri tool=drbdsetup-84 module=drbd_rs"
    # Two Primaries (allow-two-primaries), the C DRBD as the reference: configuration and its
    # refusals, LVM and a live migration on both nodes, conflicting writes from both, split brain.
    "dual-primary-config tool=drbdsetup-84 module=drbd"
    "dual-primary-lvm tool=drbdsetup-84 module=drbd"
    "dual-primary-conflicts tool=drbdsetup-84 module=drbd"
    "dual-primary-split tool=drbdsetup-84 module=drbd"
    "dual-primary-split-two-guests tool=drbdsetup-84 module=drbd"
    # The same on drbd-rs and in mixed pairs; drbd-rs pairs take the hammer with four writers
    # per node (the C DRBD cannot: see dual-primary-conflicts.sh).
    "dual-primary-config tool=drbdsetup-84 module=drbd_rs"
    "dual-primary-lvm tool=drbdsetup-84 module=drbd_rs"
    "dual-primary-lvm tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "dual-primary-lvm tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "dual-primary-conflicts tool=drbdsetup-84 module=drbd_rs threads=4"
    # Mixed pairs: drbd-rs resolving the conflicts, then the C DRBD (node0 resolves).
    "dual-primary-conflicts tool=drbdsetup-84 module0=drbd_rs module1=drbd resolver=0"
    "dual-primary-conflicts tool=drbdsetup-84 module0=drbd module1=drbd_rs resolver=0"
    "dual-primary-split tool=drbdsetup-84 module=drbd_rs"
    "dual-primary-split-two-guests tool=drbdsetup-84 module=drbd_rs"
    "dual-primary-split-two-guests tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "dual-primary-split-two-guests tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    # Fencing (resource-and-stonith: fence-peer, susp-fen, resume-io, unfence-peer, the
    # disconnect that outdates instead of fencing). node0 fences: drbd-rs only, the C DRBD logs
    # a kernel BUG there (docs/FENCING-C-RESULTS.md); node1 runs both modules.
    "fencing tool=drbdsetup-84 module=drbd_rs"
    "fencing tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "resync-under-writes tool=drbdsetup-84 module=drbd"
    "resync-under-writes tool=drbdsetup-84 module=drbd_rs"
    "restart-resync tool=drbdsetup-84 module=drbd"
    "restart-resync tool=drbdsetup-84 module=drbd_rs"
    # Admin commands that steer resync (invalidate, invalidate-remote, pause-sync,
    # resume-sync, outdate); two guests for the mixed pairs.
    "resync-admin tool=drbdsetup-84 module=drbd"
    "resync-admin tool=drbdsetup-84 module=drbd_rs"
    "resync-admin-two-guests tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "resync-admin-two-guests tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "diskless-peer tool=drbdsetup-84 module=drbd"
    "diskless-peer tool=drbdsetup-84 module=drbd_rs"
    "diskless-peer tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "sync-protocols-loopback tool=drbdsetup-84 module=drbd"
    "sync-protocols-loopback tool=drbdsetup-84 module=drbd_rs"
    "sync-protocols tool=drbdsetup-84 module=drbd_rs"
    "sync-protocols tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "sync-protocols tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    # Online verify and checksum-based resync (verify-alg, csums-alg), the C DRBD as the
    # reference, drbd-rs on its own and in both roles against the C DRBD.
    "verify-loopback tool=drbdsetup-84 module=drbd"
    "verify-loopback tool=drbdsetup-84 module=drbd_rs"
    "csums-loopback tool=drbdsetup-84 module=drbd"
    "csums-loopback tool=drbdsetup-84 module=drbd_rs"
    "verify-two-guests tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "verify-two-guests tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "kill-secondary tool=drbdsetup-84 module=drbd"
    "kill-secondary tool=drbdsetup-84 module=drbd_rs"
    "kill-primary tool=drbdsetup-84 module=drbd"
    "kill-primary tool=drbdsetup-84 module=drbd_rs"
    "hostile-peer tool=drbdsetup-84 module=drbd"
    "hostile-peer tool=drbdsetup-84 module=drbd_rs"
    # Activity log and on-disk bitmap: a short outage resyncs only the dirty blocks, a crashed
    # Primary only its hot extents; mixed pairs in both directions.
    "resync-scattered tool=drbdsetup-84 module=drbd"
    "resync-scattered tool=drbdsetup-84 module=drbd_rs"
    "resync-scattered tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "resync-scattered tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    "crash-al-eviction tool=drbdsetup-84 module=drbd"
    "crash-al-eviction tool=drbdsetup-84 module=drbd_rs"
    "crash-primary tool=drbdsetup-84 module=drbd"
    "crash-primary tool=drbdsetup-84 module=drbd_rs"
    "crash-primary tool=drbdsetup-84 module0=drbd_rs module1=drbd"
    "crash-primary tool=drbdsetup-84 module0=drbd module1=drbd_rs"
    # Two Primaries (allow-two-primaries): refusals, P_PROTOCOL_UPDATE, concurrent writes
    # from both sides with the replicas compared (overlapping ones on drbd-rs).
    "dual-primary-loopback tool=drbdsetup-84 module=drbd"
    "dual-primary-loopback tool=drbdsetup-84 module=drbd_rs"
    "suspend-io-loopback tool=drbdsetup-84 module=drbd"
    "suspend-io-loopback tool=drbdsetup-84 module=drbd_rs"
    "ko-count-loopback tool=drbdsetup-84 module=drbd"
    "ko-count-loopback tool=drbdsetup-84 module=drbd_rs"
)
check_scenarios "${scenarios[@]}"
check_finish
