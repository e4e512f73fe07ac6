// SPDX-License-Identifier: GPL-2.0

//! Kernel threads running Rust closures (DRBD's receiver, ack receiver and worker threads).
//!
//! Stopping a thread is `kthread_stop`: it sets the thread's should-stop flag, then sets
//! `TIF_NOTIFY_SIGNAL` on it (which `signal_pending()` reports) and wakes it. So every
//! interruptible wait in the thread -- [`sleep_ms`], and the blocking socket calls of
//! [`super::net`] -- returns early (`EINTR`) once [`KThread::stop`] has been called, and
//! [`should_stop`] is already true when it does; no signal has to be allowed or sent, and there
//! is no lost wake-up (the scheduler does not put a task with a pending signal to sleep
//! interruptibly).

//! # Who frees the closure
//!
//! `spawn` moves `f` into a heap `Start` whose ownership passes to exactly one party:
//! - `kthread_create_on_node` fails: no thread will ever call the trampoline with it (none was
//!   made, or the one made later exits in `kthread()` before looking at its data), so `spawn`
//!   frees it;
//! - the thread runs the trampoline: the trampoline takes the box and frees it (after `f`
//!   returned, or with `f` if `f` is consumed by its call);
//! - the thread is stopped before its first run: `kthread()` sees the stop flag, exits with
//!   `-EINTR` without calling the trampoline, and `kthread_stop` returns that `-EINTR`; the
//!   trampoline itself always returns 0, so drop tells this case apart exactly and frees the
//!   box itself. `kthread_stop` returns only after the thread exited, so nothing races it.
//!
//! Forgetting a [`KThread`] (`mem::forget`) leaks the task reference and, if the thread never
//! ran, the box; it never frees anything the thread still uses.

//! # The module stays while a thread runs
//!
//! Every thread holds a reference on this module ([`ModuleRef`], taken in `spawn` as the C
//! DRBD's `drbd_thread_start` does), so `rmmod` is refused ("in use") while any receiver,
//! ack receiver or ticker exists, and the module's code cannot be unloaded under a running
//! thread. The thread gives the reference back on its way out with
//! `__module_put_and_kthread_exit`, which drops it and exits without returning into module
//! code; a thread stopped before its first run has it dropped with its closure.

use core::{
    ffi::{c_void, CStr},
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::{bindings, error::from_err_ptr, ffi::c_int, prelude::*, sync::Arc, task::Task};

/// State shared by a [`KThread`] handle and its thread.
struct Shared {
    /// Set by the thread once `f` has returned.
    done: AtomicBool,
}

/// A reference on this module (`try_module_get`): while one is held the module cannot be
/// unloaded.
///
/// # Invariants
///
/// Holds exactly one reference on this module, taken with `try_module_get` and given back
/// once: by drop (`module_put`) or by [`ModuleRef::put_and_exit`].
struct ModuleRef(());

impl ModuleRef {
    fn this_module() -> *mut bindings::module {
        <crate::LocalModule as kernel::ModuleMetadata>::THIS_MODULE.as_ptr()
    }

    /// Takes a reference; fails with `ENODEV` once the module is being unloaded.
    fn get() -> Result<ModuleRef> {
        // SAFETY: `this_module()` is this module's `struct module` (valid while its code runs);
        // `try_module_get` refuses a module that is going away.
        if unsafe { bindings::try_module_get(Self::this_module()) } {
            // INVARIANT: the reference was just taken.
            Ok(ModuleRef(()))
        } else {
            Err(ENODEV)
        }
    }

    /// Gives the reference back and ends the calling kernel thread, without returning into
    /// this module's code (which may be unloaded as soon as the reference is gone).
    fn put_and_exit(self) -> ! {
        core::mem::forget(self);
        // SAFETY: the reference this object held (type invariant) is given back here, once
        // (drop will not run); called from a kernel thread, which it ends.
        unsafe { bindings::__module_put_and_kthread_exit(Self::this_module(), 0) }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: the reference this object holds (type invariant), given back once.
        unsafe { bindings::module_put(Self::this_module()) };
    }
}

/// What the new thread receives: the closure, its side of the shared state and the module
/// reference it keeps while it runs.
struct Start<F> {
    f: F,
    shared: Arc<Shared>,
    module: ModuleRef,
}

/// The thread function: runs `f` and marks it done.
///
/// # Safety
///
/// `data` is a `KBox<Start<F>>` leaked by [`KThread::spawn`] for this thread alone; it is called
/// at most once (kthread's contract: a thread function runs once, or never).
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: per the function's contract the box is ours now; `spawn` only frees it itself if
    // this function never runs (see `KThread::stop`).
    let start = unsafe { KBox::from_raw(data.cast::<Start<F>>()) };
    let Start { f, shared, module } = KBox::into_inner(start);
    f();
    shared.done.store(true, Ordering::Release);
    // Nothing of ours may outlive the exit below, which never returns.
    drop(shared);
    // Exit code 0, never -EINTR: `KThread::stop` reads -EINTR as "the thread function never
    // ran".
    module.put_and_exit()
}

/// Frees a `Start<F>` whose thread never ran.
///
/// # Safety
///
/// `data` is the `KBox<Start<F>>` leaked by [`KThread::spawn`], and [`trampoline`] has not run
/// and never will.
unsafe fn drop_start<F>(data: *mut c_void) {
    // SAFETY: per the function's contract nobody else owns the box.
    drop(unsafe { KBox::from_raw(data.cast::<Start<F>>()) });
}

/// A kernel thread running a Rust closure.
///
/// # Invariants
///
/// `task` is a kernel thread created by `kthread_create_on_node` with [`trampoline`] for `F` and
/// `start` as its data, and woken; this object holds a reference to its `task_struct`
/// (`get_task_struct`), so the pointer stays valid until drop, even after the thread exited.
/// `start` is the leaked `KBox<Start<F>>`: owned by the thread once the trampoline runs, and
/// still to be freed with `drop_start` (the matching `drop_start::<F>`) if it never does.
/// `kthread_stop` has not been called on `task` yet (drop calls it).
pub(crate) struct KThread {
    task: NonNull<bindings::task_struct>,
    shared: Arc<Shared>,
    start: *mut c_void,
    drop_start: unsafe fn(*mut c_void),
}

// SAFETY: the handle only holds a counted reference to the task (usable from any thread:
// `kthread_stop` and `put_task_struct` may be called from any process context) and the
// shared atomics; `start` is not dereferenced, only freed in drop, which has `&mut self`.
unsafe impl Send for KThread {}
// SAFETY: `&self` methods only read the atomic `done`.
unsafe impl Sync for KThread {}

impl KThread {
    /// Starts `f` in a new kernel thread named `name` (e.g. `c"drbd_r_r0"`; the task's `comm`
    /// keeps the first 15 bytes).
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(name: &CStr, f: F) -> Result<KThread> {
        let shared = Arc::new(
            Shared {
                done: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        let start = KBox::into_raw(KBox::new(
            Start {
                f,
                shared: shared.clone(),
                module: ModuleRef::get()?,
            },
            GFP_KERNEL,
        )?)
        .cast::<c_void>();
        // SAFETY: `trampoline::<F>` matches `start`'s type and may run on any thread (`F` is
        // `Send + 'static`). The name goes through "%s", so it is not a format string; the
        // kthread copies it. The new thread sleeps until woken (or stopped) below.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<F>),
                start,
                bindings::NUMA_NO_NODE,
                c"%s".as_ptr().cast(),
                name.as_ptr().cast::<kernel::ffi::c_char>(),
            )
        };
        // `kthread_create_on_node` returns a task or an `ERR_PTR`, never NULL.
        let task = match from_err_ptr(task).and_then(|t| NonNull::new(t).ok_or(ENOMEM)) {
            Ok(task) => task,
            Err(e) => {
                // SAFETY: on failure the thread function is never called with `start`: either
                // no thread was created, or (the creator was killed while waiting) the thread
                // exits in `kthread()` before looking at its data. So the box is still ours.
                unsafe { drop_start::<F>(start) };
                return Err(e);
            }
        };
        // SAFETY: `task` is a live thread that has not been woken, so it has not run (or
        // exited) yet; the reference taken here keeps its `task_struct` until drop.
        unsafe { bindings::get_task_struct(task.as_ptr()) };
        // SAFETY: as above; this wake-up starts it.
        unsafe { bindings::wake_up_process(task.as_ptr()) };
        // INVARIANT: created with `trampoline::<F>` and `start`, woken, referenced.
        Ok(KThread {
            task,
            shared,
            start,
            drop_start: drop_start::<F>,
        })
    }

    /// Asks the thread to stop ([`should_stop`] turns true; interruptible waits and blocking
    /// socket calls in it return `EINTR`) and waits until `f` has returned. Also done by drop.
    /// Safe if `f` already returned. Must not be called by the thread on its own handle (it
    /// cannot wait for itself); if it is, the handle is released without stopping anything.
    pub(crate) fn stop(self) {
        drop(self);
    }

    /// True while the thread still is to run `f` or is running it (it has not returned).
    pub(crate) fn is_running(&self) -> bool {
        !self.shared.done.load(Ordering::Acquire)
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        let task = self.task.as_ptr();
        if task == Task::current_raw() {
            // The thread drops its own handle from inside `f`: it is running, so the trampoline
            // owns `start`; nothing to wait for.
            // SAFETY: the reference taken in `spawn` (type invariant), put once.
            unsafe { bindings::put_task_struct(task) };
            return;
        }
        // SAFETY: `task` is a kthread made by `kthread_create_on_node`, kept alive by our
        // reference even if it exited already (kthread_stop then just collects its result);
        // `kthread_stop` has not been called on it before (type invariant). It returns once
        // the thread has exited.
        let ret = unsafe { bindings::kthread_stop(task) };
        if ret == EINTR.to_errno() {
            // The trampoline returns 0, so -EINTR is kthread()'s own: the stop came before the
            // thread's first run and it exited without calling its function.
            // SAFETY: the thread has exited without running the trampoline, so `start` is
            // still ours and nobody else will use it (type invariant).
            unsafe { (self.drop_start)(self.start) };
        }
        // SAFETY: the reference taken in `spawn`, put once.
        unsafe { bindings::put_task_struct(task) };
    }
}

/// Gives the current thread a low real-time priority (`sched_set_fifo_low`), as the C DRBD
/// does for its ack receiver: a peer drops the connection when a `P_PING_ACK` takes longer
/// than `ping-timeout` (0.5 s by default), however busy the node is with resync or writes.
pub(crate) fn set_current_realtime() {
    // SAFETY: `get_current` returns the running task, valid for the duration of the call;
    // `sched_set_fifo_low` may be called on it from process context.
    unsafe { bindings::sched_set_fifo_low(bindings::get_current()) };
}

/// `kthread_should_stop()` for the current kernel thread (false outside kernel threads).
pub(crate) fn should_stop() -> bool {
    // SAFETY: no preconditions; the shim checks that the caller is a kernel thread.
    unsafe { shim::drbd_rs_kthread_should_stop() }
}

/// Sleeps up to `ms` milliseconds, interruptibly; returns false (early) if the thread must
/// stop, true after the full time.
pub(crate) fn sleep_ms(ms: u32) -> bool {
    let mut left = kernel::time::msecs_to_jiffies(ms) as kernel::ffi::c_long;
    while left > 0 {
        if should_stop() {
            return false;
        }
        // SAFETY: no preconditions; sleeps in process context (callers may sleep).
        left = unsafe { bindings::schedule_timeout_interruptible(left) };
    }
    !should_stop()
}

mod shim {
    extern "C" {
        /// `kthread_should_stop()`, false outside kernel threads.
        pub(super) fn drbd_rs_kthread_should_stop() -> bool;
    }
}
