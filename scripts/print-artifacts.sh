#!/usr/bin/env bash
# `make print-artifacts`: one NAME=path line for every artifact a build left behind, so scripts
# and people find the module that belongs to each kernel. Builds nothing; an artifact not built
# yet is not printed (run `make check-quick` or `make module` first).
#   KDIR        the cached test kernel's build tree (what `make module KDIR=` takes)
#   KERNEL      its bzImage          KERNEL_CONFIG  its .config
#   DRBD_C      the in-tree C DRBD 8.4.11 module built with it (the reference peer)
#   MODULE      drbd_rs.ko for that kernel, with the KUnit suites (what the guest images carry)
#   DRBDSETUP   drbdsetup-rs         and the other userspace tools under their own names
#   INITRD      the guest image of make check; BENCH_INITRD the one of make bench (with fio)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
build=${DRBD_RS_BUILD:-$top/build}

# art NAME PATH: prints the line if PATH exists.
art() { [ -e "$2" ] && echo "$1=$(realpath "$2")"; return 0; }

if kdir=$("$here/build-kernel.sh" --no-build 2>/dev/null); then
    art KDIR "$kdir"
    art KERNEL "$kdir/arch/x86/boot/bzImage"
    art KERNEL_CONFIG "$kdir/.config"
    art DRBD_C "$kdir/drivers/block/drbd/drbd.ko"
fi
art MODULE "$build/module/drbd_rs/drbd_rs.ko"
rel=$top/userspace-tools/target/release
art DRBDSETUP "$rel/drbdsetup-rs"
art DRBD_TESTDATA "$rel/drbd-testdata"
art DRBD_NL_FUZZ "$rel/drbd-nl-fuzz"
art DRBD_TEST_PEER "$rel/drbd-test-peer"
art INITRD "$build/initramfs.cpio.gz"
art BENCH_INITRD "$build/bench-initramfs.cpio.gz"
