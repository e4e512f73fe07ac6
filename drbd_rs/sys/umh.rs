// SPDX-License-Identifier: GPL-2.0

//! User-mode helpers: the `usermode_helper` module parameter (defined in `shim.c` as the C
//! module defines it: 80 bytes, default `/sbin/drbdadm`, writable through sysfs), running a
//! program from the kernel with `call_usermodehelper` and waiting until it exits. Helpers
//! nobody waits for run on [`super::workqueue::helper_queue`].

use core::{
    ffi::CStr,
    ptr,
};

use kernel::{
    bindings,
    ffi::{c_char, c_int},
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

mod shim {
    extern "C" {
        /// Copies the `usermode_helper` parameter to `buf` (`len` bytes, NUL-terminated).
        pub(super) fn drbd_rs_usermode_helper_path(buf: *mut kernel::ffi::c_char, len: usize);
    }
}
