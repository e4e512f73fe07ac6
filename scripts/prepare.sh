# Sourced by check.sh and demo.sh: set-up, then builds the kernel, drbd_rs.ko, the userspace
# tools and the guest image. Sets KBUILD, KERNEL_IMAGE, MODULE_KO, TOOLS_DIR, INITRD. Uses
# stamp() and die() from the caller. INITRD_NAME (default initramfs.cpio.gz) names the image in
# $build; WITH_FIO=1 (read by mkimage.sh) adds fio to it.
prepare_all() {
    stamp "set-up"
    if [ "$(id -u)" = 0 ]; then
        "$here/setup.sh" || die "set-up failed"
    else
        stamp "not root: skipping scripts/setup.sh (run it once as root)"
    fi
    CARGO=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")

    stamp "kernel"
    KBUILD=$("$here/build-kernel.sh") || die "kernel build failed"
    KERNEL_IMAGE="$KBUILD/arch/x86/boot/bzImage"
    stamp "kernel ready: $KBUILD"

    stamp "drbd_rs.ko (with KUnit suites)"
    MODULE_KO=$("$here/build-module.sh" "$KBUILD" "$build/module" kunit) || die "module build failed"

    stamp "userspace tools"
    (cd "$top/userspace-tools" && "$CARGO" build --release --quiet) || die "cargo build failed"
    TOOLS_DIR="$build/tools"
    mkdir -p "$TOOLS_DIR"
    for b in drbd-testdata drbdsetup-rs drbd-nl-fuzz drbd-test-peer; do cp "$top/userspace-tools/target/release/$b" "$TOOLS_DIR/"; done

    stamp "guest image"
    INITRD="$build/${INITRD_NAME:-initramfs.cpio.gz}"
    "$here/mkimage.sh" "$KBUILD" "$MODULE_KO" "$TOOLS_DIR" "$INITRD" || die "image build failed"
}
