#!/usr/bin/env bash
# Installs everything drbd-rs needs to build and test, idempotently, as root.
#
# - Debian packages from the machine's own suite (bookworm): the rustc-web toolchain (rustc 1.96
#   with the `core` source the kernel's Rust build needs), clang/lld/llvm 19, QEMU, busybox,
#   drbd-utils (the reference drbdsetup-84/drbdmeta), lvm2 and fio.
# - The Linux 7.3 source (linux-source-7.3, pinned) from trixie-backports, through an apt source
#   derived from the machine's existing Debian entry (no registry host is written in this repo).
# - bindgen-cli from crates.io, into a cache directory outside the repo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup: %s\n' "$*"; }

# --- 1. A trixie-backports apt source derived from the existing Debian entry -------------------
derive_backports_source() {
    local out=/etc/apt/sources.list.d/drbd-rs-trixie-backports.sources uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # deb822: the URIs line of the stanza whose suites name the base release (not -security).
        uri=$(awk '
            /^URIs:/   { u=$2 }
            /^Suites:/ { if ($0 !~ /security/) { print u; exit } }
        ' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || { echo "setup.sh: no Debian apt source found to derive trixie-backports from" >&2; exit 1; }
    local want
    want=$(printf 'Types: deb\nURIs: %s\nSuites: trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri")
    if [ ! -f "$out" ] || [ "$(cat "$out")" != "$want" ] || [ ! -f /etc/apt/preferences.d/drbd-rs-trixie-backports ]; then
        printf '%s\n' "$want" > "$out"
        # Only the kernel source comes from trixie-backports; everything else stays on the base suite.
        cat > /etc/apt/preferences.d/drbd-rs-trixie-backports <<PIN
Package: *
Pin: release n=trixie-backports
Pin-Priority: 1

Package: linux-source-${LINUX_SERIES}
Pin: release n=trixie-backports
Pin-Priority: 500
PIN
        return 0
    fi
    return 1
}

# (A newly written source is picked up by the apt-get update below: the kernel source it
# provides is then missing too.)
derive_backports_source || true

packages=(
    rustc-web rust-web-src cargo-web
    clang-19 lld-19 llvm-19 libclang-19-dev
    build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils python3 kmod
    qemu-system-x86 busybox-static drbd-utils lvm2 fio
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
src_pkg="linux-source-${LINUX_SERIES}"
src_ok=0
if dpkg-query -W -f='${Status} ${Version}' "$src_pkg" 2>/dev/null | grep -q "install ok installed ${LINUX_DEB_VERSION}\$"; then
    src_ok=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $src_ok = 0 ]; then
    log "apt-get update"
    apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $src_ok = 0 ]; then
    log "installing ${src_pkg}=${LINUX_DEB_VERSION}"
    if ! apt-get install -y -qq --no-install-recommends "${src_pkg}=${LINUX_DEB_VERSION}" >/dev/null; then
        echo "setup.sh: ${src_pkg} ${LINUX_DEB_VERSION} is not available; apt-cache policy says:" >&2
        apt-cache policy "$src_pkg" >&2
        exit 1
    fi
fi

# --- 2. bindgen-cli, built once into the cache --------------------------------------------------
if [ ! -x "$BINDGEN" ]; then
    log "cargo install bindgen-cli ${BINDGEN_VERSION}"
    mkdir -p "$CACHE_DIR/bindgen"
    # bindgen links libclang at run time; build it with the machine's rustup cargo.
    cargo install --locked --quiet --root "$CACHE_DIR/bindgen" --version "$BINDGEN_VERSION" bindgen-cli
fi

# --- 3. Unpacked kernel source -----------------------------------------------------------------
if [ ! -f "$KSRC/Makefile" ]; then
    log "unpacking ${src_pkg} into $KSRC"
    mkdir -p "$(dirname "$KSRC")"
    tmp=$(mktemp -d "$CACHE_DIR/unpack.XXXXXX")
    tar -C "$tmp" -xaf /usr/src/linux-source-${LINUX_SERIES}.tar.xz
    rm -rf "$KSRC"
    mv "$tmp"/linux-source-${LINUX_SERIES} "$KSRC"
    rmdir "$tmp"
fi
log "ok: rustc $(/usr/bin/rustc --version | cut -d' ' -f2), clang-19, bindgen $("$BINDGEN" --version | cut -d' ' -f2), Linux source at $KSRC"
