#!/usr/bin/env bash
# `make check-quick`: the edit-compile-test loop, a few minutes instead of `make check`'s half
# hour. Ends with one "check-quick: N passed, N failed" line.
#  1. the same set-up and builds as `make check` (prepare.sh)
#  2. cargo test of the userspace workspace
#  3. KUnit in QEMU
#  4. smoke replication on drbd-rs, both at once: two resources in one guest over loopback, and
#     two guests over the network; data written on one node is read back and checksummed on
#     the other
# Not run: the decoder fuzzer and the other VM scenarios (mixed pairs with the C DRBD, resync,
# split brain, killed nodes, ...): run `make check` before asking for a merge.
# Ends with the total time and the summary line; exits non-zero if anything failed.
set -uo pipefail
CHECK_NAME=check-quick
. "$(cd "$(dirname "$0")" && pwd)/check-lib.sh"
prepare_all
check_cargo_test
check_layers
check_artifacts
check_kunit
scenarios=(
    "replicate-loopback tool=drbdsetup-84 module=drbd_rs"
    "replicate-two-guests tool=drbdsetup-84 module=drbd_rs"
)
check_scenarios "${scenarios[@]}"
check_finish
