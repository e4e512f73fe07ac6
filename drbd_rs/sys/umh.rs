// SPDX-License-Identifier: GPL-2.0

//! User-mode helpers: the `usermode_helper` module parameter (defined in `shim.c` as the C
//! module defines it: 80 bytes, default `/sbin/drbdadm`, writable through sysfs), running a
//! program from the kernel with `call_usermodehelper`, waiting until it exits, and the
//! module's own workqueue for helpers nobody waits for (drained at module exit, so no work
//! item outlives the module's code).

use core::{
    ffi::CStr,
    ptr,
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
};

use kernel::{
    bindings,
    ffi::{c_char, c_int},
    prelude::*,
    workqueue::{Queue, RawWorkItem},
};

/// Size of the parameter, including its NUL (the C module's `drbd_usermode_helper[80]`).
pub(crate) const HELPER_PATH_LEN: usize = 80;

/// Most arguments or environment strings [`call`] passes (not counting the final NULL).
pub(crate) const MAX_STRINGS: usize = 7;

/// A copy of the `usermode_helper` parameter taken at one moment.
pub(crate) struct HelperPath {
    buf: [u8; HELPER_PATH_LEN],
}

impl HelperPath {
    /// The parameter's value now.
    pub(crate) fn get() -> HelperPath {
        let mut buf = [0u8; HELPER_PATH_LEN];
        // SAFETY: `buf` is writable for `buf.len()` bytes; the shim writes at most that many,
        // NUL included, under the module's parameter lock.
        unsafe { shim::drbd_rs_usermode_helper_path(buf.as_mut_ptr().cast(), buf.len()) };
        HelperPath { buf }
    }

    /// The path as a C string (the shim always NUL-terminates it).
    pub(crate) fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }

    /// The path for log lines (the bytes up to the first invalid UTF-8 sequence).
    pub(crate) fn as_str(&self) -> &str {
        let b = self.as_cstr().to_bytes();
        match core::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

/// Runs `path` with the arguments `argv` (`argv[0]` first) and the environment `envp`, and
/// waits until it has exited (`UMH_WAIT_PROC`; the wait is not interruptible, as the C
/// module's). Returns `call_usermodehelper`'s answer: the wait status (exit code in bits 8..15)
/// or a negative errno (e.g. `-ENOENT` when there is no such program). More than
/// [`MAX_STRINGS`] arguments or environment strings are `-E2BIG` without running anything.
///
/// Must be called from process context that may sleep, holding no lock the helper could need
/// (a helper may call back into the module through drbdsetup).
pub(crate) fn call(path: &CStr, argv: &[&CStr], envp: &[&CStr]) -> i32 {
    if argv.len() > MAX_STRINGS || envp.len() > MAX_STRINGS {
        return -(bindings::E2BIG as i32);
    }
    let mut a: [*mut c_char; MAX_STRINGS + 1] = [ptr::null_mut(); MAX_STRINGS + 1];
    for (slot, s) in a.iter_mut().zip(argv) {
        *slot = s.as_ptr().cast::<c_char>().cast_mut();
    }
    let mut e: [*mut c_char; MAX_STRINGS + 1] = [ptr::null_mut(); MAX_STRINGS + 1];
    for (slot, s) in e.iter_mut().zip(envp) {
        *slot = s.as_ptr().cast::<c_char>().cast_mut();
    }
    // SAFETY: `path` and every string are NUL-terminated; both arrays end with a NULL (at
    // least one slot past the copied strings stays null). `call_usermodehelper` only reads
    // them (the `char **` is not written through: `kernel_execve` copies the strings into
    // the new process), and with `UMH_WAIT_PROC` it returns only after the helper exited,
    // waiting uninterruptibly, so nothing it keeps outlives this frame.
    unsafe {
        bindings::call_usermodehelper(
            path.as_ptr().cast::<c_char>(),
            a.as_mut_ptr(),
            e.as_mut_ptr(),
            bindings::UMH_WAIT_PROC as c_int,
        )
    }
}

/// The helper workqueue (null before [`init_queue`] and after [`destroy_queue`]).
///
/// # Invariants
///
/// While non-null it points at a workqueue from `drbd_rs_alloc_helper_wq` that
/// [`destroy_queue`] has not destroyed yet; `destroy_queue` nulls it first and destroys the
/// queue only once [`QUEUE_USERS`] is zero, so a user that counted itself in and then saw it
/// non-null may use it until it counts itself out.
static QUEUE: AtomicPtr<bindings::workqueue_struct> = AtomicPtr::new(ptr::null_mut());
/// Callers of [`enqueue`] between reading [`QUEUE`] and being done with it.
static QUEUE_USERS: AtomicUsize = AtomicUsize::new(0);

/// Creates the helper workqueue (module init).
pub(crate) fn init_queue() -> Result {
    // SAFETY: no preconditions; process context.
    let wq = unsafe { shim::drbd_rs_alloc_helper_wq() };
    if wq.is_null() {
        return Err(ENOMEM);
    }
    if let Err(wq) =
        QUEUE.compare_exchange(ptr::null_mut(), wq, Ordering::SeqCst, Ordering::SeqCst)
    {
        // Already created: keep the first.
        // SAFETY: `wq` is the queue just allocated, used by nobody.
        unsafe { bindings::destroy_workqueue(wq) };
    }
    Ok(())
}

/// Waits for every queued work item and destroys the helper workqueue (module exit). Later
/// [`enqueue`] calls find no queue.
pub(crate) fn destroy_queue() {
    let wq = QUEUE.swap(ptr::null_mut(), Ordering::SeqCst);
    if wq.is_null() {
        return;
    }
    // Callers that saw the queue are about to enqueue on it: let them.
    while QUEUE_USERS.load(Ordering::SeqCst) != 0 {
        super::thread::sleep_ms(1);
    }
    // SAFETY: by `QUEUE`'s invariant nobody uses `wq` any more; `destroy_workqueue` drains it
    // (runs every queued item to its end) before freeing it.
    unsafe { bindings::destroy_workqueue(wq) };
}

/// Queues `w` on the helper workqueue. Gives `w` back if there is no queue (before init,
/// after exit) or it is queued already.
pub(crate) fn enqueue<W>(w: W) -> core::result::Result<(), W>
where
    W: RawWorkItem<0, EnqueueOutput = core::result::Result<(), W>> + Send + 'static,
{
    QUEUE_USERS.fetch_add(1, Ordering::SeqCst);
    let wq = QUEUE.load(Ordering::SeqCst);
    let r = if wq.is_null() {
        Err(w)
    } else {
        // SAFETY: counted in `QUEUE_USERS` before reading a non-null `QUEUE`, so by its
        // invariant the queue stays valid until we count ourselves out below.
        let q = unsafe { Queue::from_raw(wq) };
        q.enqueue(w)
    };
    QUEUE_USERS.fetch_sub(1, Ordering::SeqCst);
    r
}

mod shim {
    extern "C" {
        /// `alloc_workqueue("drbd_rs_helper", WQ_UNBOUND, 0)`; null on failure.
        pub(super) fn drbd_rs_alloc_helper_wq() -> *mut kernel::bindings::workqueue_struct;
        /// Copies the `usermode_helper` parameter to `buf` (`len` bytes, NUL-terminated).
        pub(super) fn drbd_rs_usermode_helper_path(buf: *mut kernel::ffi::c_char, len: usize);
    }
}
