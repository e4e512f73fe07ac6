// SPDX-License-Identifier: GPL-2.0

//! Local I/O errors of an attachment (`__drbd_chk_io_error`): recorded in any context, handled
//! by a work item in process context with the `on-io-error` policy; the detach work item.

use super::*;

/// `IoErrors::pending`: a read failed.
pub(super) const ERR_READ: u32 = 1 << 0;
/// `IoErrors::pending`: a write failed.
pub(super) const ERR_WRITE: u32 = 1 << 1;
/// `IoErrors::pending`: a meta-data write failed.
pub(super) const ERR_META: u32 = 1 << 2;

/// The local I/O errors of one attachment (`__drbd_chk_io_error`). The data path's completions
/// (interrupt context) only record what failed and queue the work item; the work item finds
/// the device by its minor and applies the `on-io-error` policy in process context
/// ([`Device::local_io_errors`]).
#[pin_data]
pub(crate) struct IoErrors {
    minor: u32,
    /// `ERR_*` bits not yet handled.
    pub(super) pending: AtomicU32,
    /// Error lines logged so far (at most [`IoErrors::LOG_MAX`] per attachment).
    logged: AtomicU32,
    #[pin]
    work: Work<IoErrors>,
}

impl_has_work! {
    impl HasWork<Self> for IoErrors { self.work }
}

impl IoErrors {
    const LOG_MAX: u32 = 10;

    pub(super) fn new(minor: u32) -> Result<Arc<IoErrors>> {
        Arc::pin_init(
            pin_init!(IoErrors {
                minor,
                pending: AtomicU32::new(0),
                logged: AtomicU32::new(0),
                work <- new_work!("IoErrors::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// Records `bits` and has the work item handle them.
    pub(super) fn raise(this: &Arc<IoErrors>, bits: u32) {
        this.pending.fetch_or(bits, Ordering::AcqRel);
        // Already queued: it handles these bits too.
        let _ = crate::sys::workqueue::io_queue().enqueue(this.clone());
    }

    pub(super) fn may_log(&self) -> bool {
        self.logged.fetch_add(1, Ordering::Relaxed) < Self::LOG_MAX
    }
}

impl WorkItem for IoErrors {
    type Pointer = Arc<IoErrors>;

    fn run(this: Arc<IoErrors>) {
        if let Some(dev) = events::device_of_minor(this.minor) {
            dev.local_io_errors(&this);
        }
    }
}

/// The error sink of a [`LowerDev`]: hands its errors to an [`IoErrors`].
pub(super) struct ErrorSink(pub(super) Arc<IoErrors>);

impl IoErrorSink for ErrorSink {
    fn local_io_error(&self, e: LocalIoError) {
        let (what, bits) = match e.op {
            LocalIoOp::Read => ("READ", ERR_READ),
            LocalIoOp::Write => ("WRITE", ERR_WRITE),
            // Read-ahead may fail; a failed discard is no reason to detach (C: `__req_mod`).
            LocalIoOp::ReadAhead | LocalIoOp::Discard => return,
        };
        if self.0.may_log() {
            pr_warn!(
                "drbd{}: local {} IO error sector {}+{} on backing device\n",
                self.0.minor,
                what,
                e.sector,
                e.bytes >> 9
            );
        }
        IoErrors::raise(&self.0, bits);
    }
}

/// A forced detach, finished in process context once the backing device's I/O drained.
#[pin_data]
pub(super) struct DetachWork {
    pub(super) dev: Arc<Device>,
    #[pin]
    pub(super) ldev: SpinLock<Option<Ldev>>,
    #[pin]
    pub(super) work: Work<DetachWork>,
}

impl_has_work! {
    impl HasWork<Self> for DetachWork { self.work }
}

impl WorkItem for DetachWork {
    type Pointer = Arc<DetachWork>;

    fn run(this: Arc<DetachWork>) {
        let ldev = this.ldev.lock().take();
        if let Some(ldev) = ldev {
            this.dev.finish_detach_async(ldev);
        }
    }
}
