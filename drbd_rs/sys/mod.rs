// SPDX-License-Identifier: GPL-2.0

//! The thin unsafe layer: safe wrappers over the kernel C APIs that the `kernel` crate does not
//! cover. Every `unsafe` block of the module lives under this directory; the driver above
//! (`device.rs`, `resource.rs`, ...) is safe Rust.
//!
//! - [`disk`]: the `/dev/drbdN` gendisk (block major, blk-mq tag set with a blocking
//!   `queue_rq`, open/release, queue limits, capacity, freezing) and the in-flight request.
//! - [`bdev`]: backing devices opened by path, synchronous 4 KiB meta-data I/O, and the
//!   zero-copy data path: requests passed through or submitted for an owner that ends them
//!   later, page buffers read and written, discards, flushes.
//! - [`pages`]: page buffers for data that is not in a request (peer writes, resync).
//! - [`net`]: TCP listeners and streams in `init_net` (DRBD's data and meta sockets).
//! - [`thread`]: kernel threads running closures, stopped with `kthread_stop`.
//! - [`crypto`]: synchronous hashes (`crypto_shash`) for peer authentication and checksums.
//! - [`umh`]: the `usermode_helper` module parameter and `call_usermodehelper`.
//! - [`workqueue`]: the module's own workqueues (the I/O path's, with `WQ_MEM_RECLAIM`, and
//!   the helpers'), drained at module exit.
//! - [`hook`]: `static` slots through which lower layers call interfaces registered above them.
//!
//! Constants that are C macros (bindgen cannot see through `(__force blk_status_t)10` and the
//! like) are defined here and checked against the headers at build time by `_Static_assert`s
//! in `shim_blk.c`.

// These wrappers offer whole APIs (a listener's shutdown, synchronous buffer I/O, discards,
// corking, ...); the driver does not use every method yet, KUnit does.
#[allow(dead_code)]
pub(crate) mod bdev;
pub(crate) mod crypto;
pub(crate) mod disk;
pub(crate) mod genl;
pub(crate) mod hook;
#[allow(dead_code)]
pub(crate) mod net;
#[allow(dead_code)]
pub(crate) mod pages;
pub(crate) mod procfs;
#[allow(dead_code)]
pub(crate) mod thread;
pub(crate) mod umh;
pub(crate) mod workqueue;

use kernel::bindings;

/// `GFP_NOIO`: may sleep and reclaim, but not start I/O, so allocations on the I/O path cannot
/// recurse into the device they serve.
pub(crate) const GFP_NOIO: bindings::gfp_t =
    (1 << bindings::___GFP_DIRECT_RECLAIM_BIT) | (1 << bindings::___GFP_KSWAPD_RECLAIM_BIT);

/// Milliseconds of the monotonic clock (for rate limits and resync statistics).
pub(crate) fn jiffies_ms() -> u64 {
    // SAFETY: `ktime_get` has no preconditions; it may be called from any context.
    (unsafe { bindings::ktime_get() } / 1_000_000) as u64
}

/// A fixed buffer that `core::fmt::Write` fills (cut at its end), for log lines built in
/// pieces.
pub(crate) struct FmtBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> FmtBuf<'a> {
    /// An empty buffer over `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        FmtBuf { buf, len: 0 }
    }

    /// What was written (whole UTF-8 characters only).
    pub(crate) fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl core::fmt::Write for FmtBuf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// A random 64-bit number from the kernel's CRNG, for generation UUIDs.
pub(crate) fn random_u64() -> u64 {
    // SAFETY: `get_random_u64` has no preconditions; it may be called from any context.
    unsafe { bindings::get_random_u64() }
}

/// While alive, path lookups of the current kernel thread start from user space's root (as
/// they do for `drbdsetup`, which passes device paths), not from the empty root kernel threads
/// have. For KUnit tests, which run in kernel threads; not `Send`, it must end on the thread
/// that made it.
///
/// # Invariants
///
/// `old` is the `fs_struct` the thread had before; the thread's `fs` is user space's init
/// `fs_struct` until drop puts `old` back.
#[cfg(drbd_rs_kunit)]
pub(crate) struct InitFs {
    old: *mut core::ffi::c_void,
}

#[cfg(drbd_rs_kunit)]
impl InitFs {
    /// Switches the current kernel thread to user space's root.
    pub(crate) fn new() -> Self {
        // SAFETY: swaps `current->fs` for the kernel's `userspace_init_fs` without taking a
        // reference; the guard (not `Send`: raw pointer field) puts the old one back on this
        // thread before it can exit through its normal path.
        let old = unsafe { shim::drbd_rs_override_init_fs() };
        // INVARIANT: switched above.
        InitFs { old }
    }
}

#[cfg(drbd_rs_kunit)]
impl Drop for InitFs {
    fn drop(&mut self) {
        // SAFETY: `old` is the thread's own `fs_struct`, saved by `new` on this thread.
        unsafe { shim::drbd_rs_revert_init_fs(self.old) };
    }
}

/// Runs the file closes kernel threads deferred (`flush_delayed_fput`): a kernel thread's
/// `fput` only queues the release, so a test that closes `/dev/drbdN` and then expects it
/// closed (Secondary refused while open) waits for it here.
#[cfg(drbd_rs_kunit)]
pub(crate) fn flush_delayed_fput() {
    // SAFETY: no preconditions; may sleep, and is called from process context.
    unsafe { bindings::flush_delayed_fput() };
}

#[cfg(drbd_rs_kunit)]
mod shim {
    extern "C" {
        /// `__override_init_fs()`: returns the old `struct fs_struct *`.
        pub(super) fn drbd_rs_override_init_fs() -> *mut core::ffi::c_void;
        /// `__revert_init_fs(old)`.
        pub(super) fn drbd_rs_revert_init_fs(old: *mut core::ffi::c_void);
    }
}
