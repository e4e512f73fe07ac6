#!/usr/bin/env bash
# Builds the drbd-rs test kernel (bzImage + the in-tree drbd.ko reference module) into a cache
# directory outside the repo, keyed by kernel version and config fragment. A second run with the
# same key reuses the tree and does nothing. Prints the build directory on stdout.
#   usage: build-kernel.sh [--no-build]   (--no-build: print the directory if it is built, else
#                                         fail quietly; make print-artifacts uses it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
fragment="$here/kernel/drbd-rs.config"

key=$( { echo "$LINUX_DEB_VERSION"; cat "$fragment"; /usr/bin/rustc --version; clang-19 --version | head -1; "$BINDGEN" --version; } | sha256sum | cut -c1-12)
out="$CACHE_DIR/kbuild-$LINUX_DEB_VERSION-$key"
stamp="$out/.drbd-rs-built"

if [ -f "$stamp" ]; then
    echo "$out"
    exit 0
fi
[ "${1:-}" = --no-build ] && exit 1
[ -f "$KSRC/Makefile" ] || { echo "build-kernel.sh: no kernel source at $KSRC; run scripts/setup.sh" >&2; exit 1; }

mkdir -p "$out"
log="$out/build.log"
echo "build-kernel: building Linux $LINUX_DEB_VERSION into $out (log: $log)" >&2
kmake() { make -C "$KSRC" O="$out" "${KMAKE_FLAGS[@]}" "$@"; }
{
    kmake tinyconfig
    # merge_config resolves dependencies with olddefconfig after merging the fragments.
    (cd "$out" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
        "$KSRC/kernel/configs/kvm_guest.config" "$fragment")
    kmake olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }

# Every line of the fragment must have survived dependency resolution; a silently dropped option
# (CONFIG_RUST when the toolchain is wrong, say) would otherwise surface much later.
missing=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=*) ;; *) continue ;; esac
    grep -qxF "$line" "$out/.config" || { echo "build-kernel: config lost: $line" >&2; missing=1; }
done < "$fragment"
if [ $missing = 1 ]; then
    kmake rustavailable >&2 || true
    exit 1
fi

if ! kmake -j"$(nproc)" bzImage modules >>"$log" 2>&1; then
    tail -40 "$log" >&2
    exit 1
fi
touch "$stamp"
echo "$out"
