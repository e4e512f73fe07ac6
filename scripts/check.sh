#!/usr/bin/env bash
# `make check`: every test of drbd-rs, ending with one "check: N passed, N failed" line.
#  1. set-up (idempotent): packages, Linux source, bindgen
#  2. the test kernel (cached outside the repo), drbd_rs.ko with its KUnit suites, the tools
#  3. cargo test of the userspace workspace (the module's pure core and the tools)
#  4. KUnit in QEMU, then every VM scenario in scripts/scenarios/ with each tool/module pairing
#     it supports
# Exits non-zero if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
build=${DRBD_RS_BUILD:-$top/build}
mkdir -p "$build/logs"
start=$(date +%s)
passed=0 failed=0
stamp() { printf '[%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
die() { stamp "check: $*"; echo "check: $passed passed, $((failed + 1)) failed"; exit 1; }

. "$here/prepare.sh"
prepare_all

stamp "cargo test"
(cd "$top/userspace-tools" && "$CARGO" test --release 2>&1) | tee "$build/logs/cargo-test.log" | grep -E '^(test result|test .* FAILED|failures:)'
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
    sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$build/logs/cargo-test.log")
grep -q '^test result:' "$build/logs/cargo-test.log" || { stamp "cargo test did not run"; failed=$((failed + 1)); }

# The packet decoders take bytes from a possibly hostile peer: a million mutated packets and
# header+payload streams must decode or be rejected without a panic.
stamp "decoder fuzzer"
if (cd "$top/userspace-tools" && "$CARGO" run --release --quiet -p drbd-core --example fuzz_decoders -- --iterations 1000000); then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

run_vm() {
    if out=$("$here/run-scenario.sh" -o "$build/logs" "$KERNEL_IMAGE" "$INITRD" "$@" 2>&1); then
        r=0
    else
        r=1
    fi
    echo "$out" | sed 's/^/    /'
    return $r
}

stamp "KUnit in QEMU"
if kout=$(run_vm kunit); then kunit_ok=1; else kunit_ok=0; fi
echo "$kout"
# Each KUnit case counts; a crash, time-out or missing run fails the step as one more failure.
kp=$(echo "$kout" | sed -n 's/.*Testing complete\. Ran [0-9]* tests: passed: \([0-9]*\).*/\1/p')
kf=$(echo "$kout" | sed -n 's/.*Testing complete\..*failed: \([0-9]*\).*/\1/p')
passed=$((passed + ${kp:-0})); failed=$((failed + ${kf:-0}))
if [ $kunit_ok = 0 ] && [ "${kf:-0}" = 0 ]; then failed=$((failed + 1)); fi

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
)
# The scenarios run $DRBD_RS_JOBS at a time (default 2: the guests spend much of their time
# waiting on each other and on timers, so two at once nearly halve the wall time on two
# cores); each one's output is printed when it ends, whole. DRBD_RS_JOBS=1 runs them in order.
jobs=${DRBD_RS_JOBS:-2}
res=$(mktemp -d "${TMPDIR:-/tmp}/drbd-rs-check.XXXXXX")
run_one() {
    local i=$1 t0=$(date +%s) r=FAIL
    shift
    # shellcheck disable=SC2086
    if out=$(run_vm $*); then r=PASS; fi
    { stamp "scenario: $* ($(($(date +%s) - t0))s)"; echo "$out"; } > "$res/$i.out"
    echo $r > "$res/$i.rc"
}
collect() {
    local f i
    for f in "$res"/*.rc; do
        [ -e "$f" ] || continue
        i=$(basename "$f" .rc)
        cat "$res/$i.out"
        if [ "$(cat "$f")" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
        rm -f "$f" "$res/$i.out"
    done
}
running=0 i=0
for s in "${scenarios[@]}"; do
    while [ $running -ge "$jobs" ]; do
        wait -n
        running=$((running - 1))
        collect
    done
    i=$((i + 1))
    run_one $i "$s" &
    running=$((running + 1))
done
wait
collect
rm -rf "$res"

stamp "done in $(($(date +%s) - start))s"
echo "check: $passed passed, $failed failed"
[ $failed = 0 ]
