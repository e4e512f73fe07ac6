#!/usr/bin/env bash
# Builds drbd_rs.ko out of tree against the cached test kernel, into an output directory outside
# the source tree (kbuild's MO=), so the checkout stays clean.
#   usage: build-module.sh KBUILD_DIR OUT_DIR [kunit]
# With `kunit`, the KUnit suites from kunit/ are compiled in (they run at insmod).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
kbuild=$1 out=$(realpath -m "$2") kunit=${3:-}
mkdir -p "$out"
extra=()
[ "$kunit" = kunit ] && extra+=(DRBD_RS_KUNIT=y)
make -s -C "$kbuild" M="$top" MO="$out" "${KMAKE_FLAGS[@]}" "${extra[@]}" -j"$(nproc)" modules >&2
echo "$out/drbd_rs/drbd_rs.ko"
