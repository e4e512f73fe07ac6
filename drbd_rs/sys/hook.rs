// SPDX-License-Identifier: GPL-2.0

//! Run-time hooks: a `static` slot that holds an optional `&'static T`.
//!
//! The driver's lower layers report upward (a state change for `events2`, a lookup of a
//! device by minor) through interfaces they own, which the control plane fills in when the
//! module starts. A [`Hook`] is the slot such an interface is registered in: set once at
//! init, cleared at exit, read lock-free from any context (also interrupt context), so the
//! lower layer never names the module that implements it.

use core::sync::atomic::{AtomicPtr, Ordering};

/// A slot for an optional `&'static T`.
///
/// # Invariants
///
/// `ptr` is null or was made from a `&'static T`.
pub(crate) struct Hook<T: Sync + 'static> {
    ptr: AtomicPtr<T>,
}

impl<T: Sync + 'static> Hook<T> {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        // INVARIANT: null.
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Registers `v` (`None`: clears the slot). A reader that loaded the old value may still
    /// be using it; since it is `'static`, that stays valid.
    pub(crate) fn set(&self, v: Option<&'static T>) {
        let p = v.map_or(core::ptr::null_mut(), |r| r as *const T as *mut T);
        // INVARIANT: `p` is null or made from a `&'static T`.
        self.ptr.store(p, Ordering::Release);
    }

    /// The registered value, if any.
    pub(crate) fn get(&self) -> Option<&'static T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: By the type invariant `p` is null or made from a `&'static T`; only shared
        // references are ever handed out, and `T: Sync`.
        unsafe { p.as_ref() }
    }
}
