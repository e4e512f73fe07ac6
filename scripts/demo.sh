#!/usr/bin/env bash
# `make demo`: builds what is needed (like `make check`), boots two QEMU guests joined by a
# socket netdev, replicates a resource between them (full sync, patterned writes on node0, role
# switch, read back on node1) and prints each node's DRBD status as drbdsetup shows it.
# DEMO_MODULE=drbd_rs (default) or drbd (the C DRBD 8.4.11 reference) selects the module; with
# DEMO_MODULE=mixed node0 runs drbd_rs and node1 the C DRBD.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
build=${DRBD_RS_BUILD:-$top/build}
mkdir -p "$build/demo"
start=$(date +%s)
stamp() { printf '[%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
die() { stamp "demo: $*"; exit 1; }
. "$here/prepare.sh"
prepare_all >/dev/null

module=${DEMO_MODULE:-drbd_rs}
case "$module" in
    mixed) margs=(module0=drbd_rs module1=drbd) ;;
    *) margs=("module=$module") ;;
esac
stamp "booting two guests: replicate-two-guests with ${margs[*]}, tool=drbdsetup-84"
rm -f "$build/demo"/*.log
"$here/run-scenario.sh" -o "$build/demo" "$KERNEL_IMAGE" "$INITRD" replicate-two-guests \
    tool=drbdsetup-84 "${margs[@]}"
rc=$?
for log in "$build/demo"/*.node*.log; do
    tr -d '\r' < "$log" | sed -n '/^=== STATUS/,/^=== END STATUS/p' | grep -v '^=== END'
    tr -d '\r' < "$log" | grep -E '^(CHECKSUM|write ok|verify ok)' | sed 's/^/  /'
done
stamp "done (console logs in $build/demo)"
exit $rc
