// SPDX-License-Identifier: GPL-2.0

//! A read-only file in `/proc` rendered by a `seq_file` show function
//! (`proc_create_single`), such as `/proc/drbd`.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_void};

use kernel::bindings;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;

extern "C" {
    fn drbd_rs_proc_create_single(
        name: *const c_char,
        show: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
    ) -> *mut c_void;
    fn drbd_rs_proc_remove(pde: *mut c_void);
}

/// What a `/proc` file shows.
pub(crate) trait ProcShow: 'static {
    /// Writes the file's whole contents to `m`.
    fn show(m: &SeqFile);
}

/// A file in `/proc`, removed when dropped.
///
/// # Invariants
///
/// `pde` is the entry `proc_create_single` returned, not yet removed.
pub(crate) struct ProcEntry<T: ProcShow> {
    pde: NonNull<c_void>,
    _p: PhantomData<T>,
}

// SAFETY: The entry is only removed (once, in `drop`); `proc_remove` may run on any thread.
unsafe impl<T: ProcShow> Send for ProcEntry<T> {}
// SAFETY: `&ProcEntry` gives no access to the entry at all.
unsafe impl<T: ProcShow> Sync for ProcEntry<T> {}

impl<T: ProcShow> ProcEntry<T> {
    /// Creates `/proc/<name>` (mode 0444) shown by `T`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated and static; `show_trampoline::<T>` has the
        // signature `proc_create_single` expects and stays valid as long as the module (the
        // entry is removed in `drop`, before the module's code goes away).
        let pde = unsafe { drbd_rs_proc_create_single(name.as_char_ptr(), show_trampoline::<T>) };
        // INVARIANT: a non-null result is a live entry.
        Ok(ProcEntry {
            pde: NonNull::new(pde).ok_or(ENOMEM)?,
            _p: PhantomData,
        })
    }
}

impl<T: ProcShow> Drop for ProcEntry<T> {
    fn drop(&mut self) {
        // SAFETY: `pde` is live (type invariant); `proc_remove` waits for readers that are in
        // `show` to leave before returning.
        unsafe { drbd_rs_proc_remove(self.pde.as_ptr()) };
    }
}

unsafe extern "C" fn show_trampoline<T: ProcShow>(
    m: *mut bindings::seq_file,
    _v: *mut c_void,
) -> c_int {
    // SAFETY: The seq_file layer calls `show` with a valid `seq_file` that only this call uses
    // until it returns.
    let m = unsafe { SeqFile::from_raw(m) };
    T::show(m);
    0
}

/// The module's source version as `drbd_buildtag` prints it: `"(null)"` when the module has
/// none (a module without `MODULE_VERSION`, like drbd_rs), `"built-in"` when built in.
pub(crate) fn module_srcversion(m: &ThisModule) -> &'static str {
    let p = m.as_ptr();
    if p.is_null() {
        return "built-in";
    }
    // SAFETY: `p` is this module's `struct module`, which lives as long as the module's code;
    // `srcversion` is null or a NUL-terminated string in the module's read-only data.
    let sv = unsafe { (*p).srcversion };
    if sv.is_null() {
        return "(null)";
    }
    // SAFETY: Non-null `srcversion` is a NUL-terminated string that lives as long as the
    // module (see above), which outlives every caller.
    let s: &'static CStr = unsafe { CStr::from_char_ptr(sv) };
    s.to_str().unwrap_or("")
}
