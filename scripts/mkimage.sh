#!/usr/bin/env bash
# Builds the guest initramfs: busybox, the kernel's own modules (the C DRBD reference peer),
# drbd_rs.ko, Debian's drbd-utils binaries, the drbd-rs userspace tools, the scenario scripts,
# and every shared library those binaries need.
#   usage: mkimage.sh KBUILD_DIR MODULE_KO TOOLS_BIN_DIR OUT.cpio.gz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kbuild=$1 module_ko=$2 tools=$3 out=$4

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,lib/modules,lib/drbd,lib/drbd-rs,scenarios,proc,sys,dev,etc,tmp,usr/bin,var/lib/drbd,var/run}

cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"   # /init's interpreter; init installs the other applets
# drbdsetup/drbdadm look for /etc/drbd.conf only when asked to; an empty one keeps drbdadm quiet.
: > "$stage/etc/drbd.conf"
install -m 0755 "$here/guest/init" "$stage/init"
cp "$here/guest/lib.sh" "$stage/lib/drbd-rs/lib.sh"
cp "$here"/scenarios/*.sh "$stage/scenarios/"

# Kernel modules built with the kernel (drbd.ko and what it needs) and drbd_rs.ko.
find "$kbuild" -name '*.ko' -exec cp {} "$stage/lib/modules/" \;
cp "$module_ko" "$stage/lib/modules/drbd_rs.ko"

bins=(/lib/drbd/drbdsetup-84 /lib/drbd/drbdadm-84 /sbin/drbdmeta)
for b in "${bins[@]}"; do cp "$b" "$stage$b"; done
# dmsetup (Debian's dmsetup package, with lvm2): device-mapper targets that fail I/O on demand
# (io-error scenario). Run with DM_DISABLE_UDEV=1, it creates its /dev/mapper nodes itself.
dmsetup=$(command -v dmsetup || echo /sbin/dmsetup)
cp "$dmsetup" "$stage/sbin/dmsetup" && bins+=("$dmsetup")
# lvm2 (Debian's lvm2 2.03): the dual-primary scenarios put a volume group on a DRBD device that
# both Primaries activate. One binary, the commands as links to it, and an lvm.conf for a guest
# without udev (scripts/guest/lvm.conf).
lvm=$(command -v lvm || echo /sbin/lvm)
cp "$lvm" "$stage/sbin/lvm" && bins+=("$lvm")
for c in pvcreate pvs pvscan vgcreate vgchange vgs vgscan vgremove lvcreate lvchange lvs lvscan lvremove; do
    ln -s lvm "$stage/sbin/$c"
done
mkdir -p "$stage/etc/lvm" "$stage/run/lock/lvm"
cp "$here/guest/lvm.conf" "$stage/etc/lvm/lvm.conf"
for t in "$tools"/*; do
    [ -f "$t" ] && [ -x "$t" ] && cp "$t" "$stage/usr/bin/" && bins+=("$t")
done
# fio pulls in about 80 MiB of libraries: only the benchmark image carries it.
if [ "${WITH_FIO:-0}" = 1 ]; then
    cp /usr/bin/fio "$stage/usr/bin/" && bins+=(/usr/bin/fio)
fi

# Shared libraries, at the paths the dynamic loader expects.
for lib in $(ldd "${bins[@]}" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }' | sort -u); do
    [ -f "$lib" ] || continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
done
# Debian's loader lives in /lib64 and /lib/x86_64-linux-gnu; bookworm's /lib is a real dir here.
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out"
echo "mkimage: $out ($(du -h "$out" | cut -f1))"
