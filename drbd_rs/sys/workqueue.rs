// SPDX-License-Identifier: GPL-2.0

//! The module's own workqueues: created at module init, drained and destroyed at module exit,
//! so that no work item outlives the module's code (work on the kernel's system queues can).
//!
//! - [`io_queue`]: the I/O path's deferred work (peer-write acks, the activity log's
//!   transactions, I/O-error handling, parked writes, epoch barriers). It has
//!   `WQ_MEM_RECLAIM`: the queue keeps a rescuer thread, so this work makes progress when
//!   no new kworker can be created under memory pressure, while the writes it finishes may
//!   be what frees memory (the C module's per-device `submit` queue has the same flag).
//! - [`helper_queue`]: user-mode helpers nobody waits for (unbound, long-running).

use core::{
    ffi::CStr,
    ptr,
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
};

use kernel::{
    bindings,
    prelude::*,
    workqueue::{Queue, RawWorkItem},
};

/// A workqueue owned by the module, reached through a `static`.
///
/// # Invariants
///
/// While `wq` is non-null it points at a workqueue from `drbd_rs_alloc_wq` that
/// [`ModuleQueue::destroy`] has not destroyed yet; `destroy` nulls it first and destroys the
/// queue only once `users` is zero, so a user that counted itself in and then saw it non-null
/// may use it until it counts itself out.
pub(crate) struct ModuleQueue {
    wq: AtomicPtr<bindings::workqueue_struct>,
    /// Callers of [`ModuleQueue::enqueue`] between reading `wq` and being done with it.
    users: AtomicUsize,
    name: &'static CStr,
    flags: u32,
}

// Per-CPU like `system_long`, whose work this is (7.3 warns unless one of `WQ_PERCPU` and
// `WQ_UNBOUND` is given).
static IO_QUEUE: ModuleQueue = ModuleQueue::new(
    c"drbd_rs_io",
    bindings::wq_flags_WQ_MEM_RECLAIM | bindings::wq_flags_WQ_PERCPU,
);
static HELPER_QUEUE: ModuleQueue = ModuleQueue::new(c"drbd_rs_helper", bindings::wq_flags_WQ_UNBOUND);

/// The I/O path's queue (see the module doc).
pub(crate) fn io_queue() -> &'static ModuleQueue {
    &IO_QUEUE
}

/// The queue of helpers nobody waits for.
pub(crate) fn helper_queue() -> &'static ModuleQueue {
    &HELPER_QUEUE
}

/// Creates every module queue (module init); on failure none is left.
pub(crate) fn init_queues() -> Result {
    IO_QUEUE.create()?;
    HELPER_QUEUE.create().inspect_err(|_| IO_QUEUE.destroy())
}

/// Drains and destroys every module queue (module exit). The I/O queue goes first: its last
/// items may still start a helper.
pub(crate) fn destroy_queues() {
    IO_QUEUE.destroy();
    HELPER_QUEUE.destroy();
}

impl ModuleQueue {
    const fn new(name: &'static CStr, flags: u32) -> ModuleQueue {
        ModuleQueue {
            wq: AtomicPtr::new(ptr::null_mut()),
            users: AtomicUsize::new(0),
            name,
            flags,
        }
    }

    fn create(&self) -> Result {
        // SAFETY: `name` is a NUL-terminated string that lives for ever (the queue keeps a
        // copy anyway); process context.
        let wq = unsafe { shim::drbd_rs_alloc_wq(self.name.as_ptr().cast(), self.flags) };
        if wq.is_null() {
            return Err(ENOMEM);
        }
        if let Err(wq) = self
            .wq
            .compare_exchange(ptr::null_mut(), wq, Ordering::SeqCst, Ordering::SeqCst)
        {
            // Already created: keep the first.
            // SAFETY: `wq` is the queue just allocated, used by nobody.
            unsafe { bindings::destroy_workqueue(wq) };
        }
        Ok(())
    }

    /// Waits for every queued work item and destroys the queue. Later [`ModuleQueue::enqueue`]
    /// calls find no queue.
    fn destroy(&self) {
        let wq = self.wq.swap(ptr::null_mut(), Ordering::SeqCst);
        if wq.is_null() {
            return;
        }
        // Callers that saw the queue are about to enqueue on it: let them.
        while self.users.load(Ordering::SeqCst) != 0 {
            super::thread::sleep_ms(1);
        }
        // SAFETY: by the type invariant nobody uses `wq` any more; `destroy_workqueue` drains
        // it (runs every queued item, and what those queue in turn, to its end) before freeing
        // it.
        unsafe { bindings::destroy_workqueue(wq) };
    }

    /// Queues `w`. Gives `w` back if there is no queue (before init, after exit) or it is
    /// queued already. May be called in interrupt context.
    pub(crate) fn enqueue<W>(&self, w: W) -> core::result::Result<(), W>
    where
        W: RawWorkItem<0, EnqueueOutput = core::result::Result<(), W>> + Send + 'static,
    {
        self.users.fetch_add(1, Ordering::SeqCst);
        let wq = self.wq.load(Ordering::SeqCst);
        let r = if wq.is_null() {
            Err(w)
        } else {
            // SAFETY: counted in `users` before reading a non-null `wq`, so by the type
            // invariant the queue stays valid until we count ourselves out below.
            let q = unsafe { Queue::from_raw(wq) };
            q.enqueue(w)
        };
        self.users.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

mod shim {
    extern "C" {
        /// `alloc_workqueue("%s", flags, 0, name)`; null on failure.
        pub(super) fn drbd_rs_alloc_wq(
            name: *const kernel::ffi::c_char,
            flags: u32,
        ) -> *mut kernel::bindings::workqueue_struct;
    }
}
