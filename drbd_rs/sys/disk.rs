// SPDX-License-Identifier: GPL-2.0

//! The `/dev/drbdN` block device: block major registration, a blk-mq gendisk with DRBD's fixed
//! major and the minor the user chose, open/release callbacks so the driver can refuse opens by
//! role, queue limits, capacity, and the requests blk-mq hands to the driver.
//!
//! The `kernel` crate's `GenDiskBuilder` cannot set the major, minor or `fops`, and its
//! `TagSet`/`Request` neither allow a blocking `queue_rq` (`BLK_MQ_F_BLOCKING`: the data path
//! allocates bios with `GFP_NOIO`, and will write activity-log transactions, before it can hand
//! a request on) nor ending a request with an error status; so this file has its own builder,
//! tag set and request type, on the pattern of `rust/kernel/block/mq/`.
//!
//! Lifetime of the driver object: the gendisk owns one `Arc<T>` reference, stored in both
//! `private_data` (for the `fops` callbacks) and the queue's `queuedata` (for `queue_rq`). It is
//! released by `free_disk`, which the block layer calls when the last reference to the gendisk
//! goes, i.e. after [`Disk`] is dropped *and* the last opener has closed the device, so a
//! `release` that comes after `del_gendisk` still finds the object alive.

use core::{
    fmt::{self, Write},
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, AtomicU32, Ordering},
};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    prelude::*,
    str::NullTerminatedFormatter,
    sync::Arc,
    types::Opaque,
};


/// DRBD's block major (`DRBD_MAJOR`), which drbd-utils and udev rules expect.
pub(crate) const DRBD_MAJOR: u32 = 147;

// `blk_opf_t` request flags (`REQ_*`, macros over `enum req_flag_bits`).
/// `REQ_SYNC`: the submitter waits for this I/O.
pub(crate) const REQ_SYNC: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_SYNC;
/// `REQ_META`: meta-data I/O.
pub(crate) const REQ_META: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_META;
/// `REQ_PRIO`: boosted priority.
pub(crate) const REQ_PRIO: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_PRIO;
/// `REQ_IDLE`: no more I/O is expected soon.
pub(crate) const REQ_IDLE: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_IDLE;
/// `REQ_FUA`: the data is on stable storage when the request completes.
pub(crate) const REQ_FUA: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_FUA;
/// `REQ_PREFLUSH`: flush the device's volatile cache before this request.
pub(crate) const REQ_PREFLUSH: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_PREFLUSH;
/// `REQ_RAHEAD`: read-ahead, may fail.
pub(crate) const REQ_RAHEAD: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_RAHEAD;
/// `REQ_BACKGROUND`: background write-back.
pub(crate) const REQ_BACKGROUND: bindings::blk_opf_t =
    1 << bindings::req_flag_bits___REQ_BACKGROUND;
/// `REQ_NOUNMAP`: write-zeroes must not deallocate.
pub(crate) const REQ_NOUNMAP: bindings::blk_opf_t = 1 << bindings::req_flag_bits___REQ_NOUNMAP;
/// `REQ_OP_MASK`: the operation in the low bits of `blk_opf_t`.
pub(super) const REQ_OP_MASK: bindings::blk_opf_t = (1 << bindings::REQ_OP_BITS) - 1;

// `blk_mode_t` bits of `open` (checked against the headers in `shim_blk.c`).
const BLK_OPEN_READ: bindings::blk_mode_t = 1 << 0;
const BLK_OPEN_WRITE: bindings::blk_mode_t = 1 << 1;
const BLK_OPEN_EXCL: bindings::blk_mode_t = 1 << 2;

/// Mode for opening a backing device: read, write, exclusive (with a holder).
pub(super) const BLK_OPEN_RW_EXCL: bindings::blk_mode_t =
    BLK_OPEN_READ | BLK_OPEN_WRITE | BLK_OPEN_EXCL;

// `blk_features_t` (checked in `shim_blk.c`).
const BLK_FEAT_WRITE_CACHE: bindings::blk_features_t = 1 << 0;
const BLK_FEAT_FUA: bindings::blk_features_t = 1 << 1;
const BLK_FEAT_ROTATIONAL: bindings::blk_features_t = 1 << 2;
const BLK_FEAT_STABLE_WRITES: bindings::blk_features_t = 1 << 5;

/// `BLK_MAX_SEGMENTS`: DRBD's segment limit when `max-bio-bvecs` is not set.
pub(crate) const BLK_MAX_SEGMENTS: u16 = 128;

/// Completion status of a request (`blk_status_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlkStatus(bindings::blk_status_t);

impl BlkStatus {
    /// Success.
    pub(crate) const OK: BlkStatus = BlkStatus(0);
    /// The operation is not supported (`-EOPNOTSUPP`).
    pub(crate) const NOTSUPP: BlkStatus = BlkStatus(1);
    /// Out of a resource (`-ENOMEM`).
    pub(crate) const RESOURCE: BlkStatus = BlkStatus(9);
    /// I/O error (`-EIO`).
    pub(crate) const IOERR: BlkStatus = BlkStatus(10);

    /// Wraps a raw `blk_status_t` from a completed bio.
    pub(super) fn from_raw(raw: bindings::blk_status_t) -> Self {
        BlkStatus(raw)
    }

    pub(super) fn raw(self) -> bindings::blk_status_t {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Block major
// ---------------------------------------------------------------------------------------------

/// The block major registered by module init; 0 while none is.
static MAJOR: AtomicU32 = AtomicU32::new(0);

/// A block major registered with `register_blkdev`, so the minors of `/dev/drbdN` belong to us.
///
/// # Invariants
///
/// `major` is registered under `name` until this object is dropped; it is the value in
/// [`MAJOR`].
pub(crate) struct BlockMajor {
    major: u32,
    name: &'static CStr,
}

impl BlockMajor {
    /// Registers `major` under `name` (`major` 0: a dynamic one). Fails with `EBUSY` if another
    /// driver (the C `drbd`, say) has it.
    pub(crate) fn register(major: u32, name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string that lives forever (the registry keeps the
        // pointer); no probe callback.
        let ret = unsafe { bindings::__register_blkdev(major, name.as_char_ptr(), None) };
        to_result(ret)?;
        let major = if major == 0 { ret as u32 } else { major };
        MAJOR.store(major, Ordering::Release);
        // INVARIANT: registered just above.
        Ok(BlockMajor { major, name })
    }
}

impl Drop for BlockMajor {
    fn drop(&mut self) {
        MAJOR.store(0, Ordering::Release);
        // SAFETY: by the type invariant, `major` is registered under `name`.
        unsafe { bindings::unregister_blkdev(self.major, self.name.as_char_ptr()) };
    }
}

/// The registered block major, if module init registered one.
pub(crate) fn registered_major() -> Option<u32> {
    match MAJOR.load(Ordering::Acquire) {
        0 => None,
        m => Some(m),
    }
}

// ---------------------------------------------------------------------------------------------
// The driver's side
// ---------------------------------------------------------------------------------------------

/// What the owner of a [`Disk`] does when the block layer calls.
pub(crate) trait DiskOps: Send + Sync + 'static {
    /// A process (or the kernel) opens the device; `write`: for writing. An error is returned
    /// to `open(2)`.
    fn open(&self, write: bool) -> Result;

    /// One successful [`DiskOps::open`] is closed.
    fn release(&self);

    /// A request to serve. The owner must end it ([`IoRequest::end`]), now or later from any
    /// context. This may sleep (the queue is `BLK_MQ_F_BLOCKING`), and it never runs inside
    /// another `submit_bio`, so bios it submits are dispatched at once (see [`Deferred`]).
    fn queue_rq(&self, rq: IoRequest);

    /// The gendisk is gone and every request was ended: nothing calls any more (`free_disk`,
    /// just before the gendisk's reference goes).
    fn freed(&self) {}
}

/// What a request asks for (`req_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReqOp {
    /// Read data.
    Read,
    /// Write data.
    Write,
    /// Flush the volatile cache (no data).
    Flush,
    /// Discard a range (no data).
    Discard,
    /// Write zeroes to a range (no data).
    WriteZeroes,
    /// Anything else (zone operations, secure erase, driver-private).
    Other(u32),
}

/// Per-request driver data (`cmd_size` bytes after `struct request`): the status and work item
/// of a deferred end ([`IoRequest::complete`]).
#[repr(C)]
struct RqPdu {
    status: bindings::blk_status_t,
    work: Opaque<bindings::work_struct>,
    /// Next request in [`Deferred::pending`].
    next: *mut bindings::request,
}

/// A request blk-mq handed to the driver.
///
/// # Invariants
///
/// `rq` is a live `struct request` of a [`Disk`]'s queue that blk-mq passed to `queue_rq`, on
/// which `blk_mq_start_request` was called, and which has not been ended: this object is its
/// only owner until [`IoRequest::end`] (or drop) hands it back with `blk_mq_end_request`. Its
/// private area is a [`RqPdu`].
pub(crate) struct IoRequest {
    rq: NonNull<bindings::request>,
}

// SAFETY: a started request may be worked on and ended from any thread or interrupt context.
unsafe impl Send for IoRequest {}
// SAFETY: through `&IoRequest` only fields blk-mq does not change while the driver owns the
// request are read (operation, range, flags, bios and their vectors); everything that changes
// the request or its private area takes `&mut self` or `self`.
unsafe impl Sync for IoRequest {}

/// One piece of a request's data: `len` bytes at `offset` into `page` (a multi-page `bio_vec`
/// as `for_each_mp_bvec` yields it; `offset` is below `PAGE_SIZE`, the bytes may run on into
/// the following pages).
pub(super) struct Segment {
    pub(super) page: *mut bindings::page,
    pub(super) offset: u32,
    pub(super) len: u32,
}

impl IoRequest {
    fn raw(&self) -> &bindings::request {
        // SAFETY: by the type invariant `rq` is live and owned by us; blk-mq does not change
        // these fields while the driver owns the request.
        unsafe { self.rq.as_ref() }
    }

    /// The operation.
    pub(crate) fn op(&self) -> ReqOp {
        match self.raw().cmd_flags & REQ_OP_MASK {
            bindings::req_op_REQ_OP_READ => ReqOp::Read,
            bindings::req_op_REQ_OP_WRITE => ReqOp::Write,
            bindings::req_op_REQ_OP_FLUSH => ReqOp::Flush,
            bindings::req_op_REQ_OP_DISCARD => ReqOp::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => ReqOp::WriteZeroes,
            other => ReqOp::Other(other),
        }
    }

    /// First sector (`blk_rq_pos`).
    pub(crate) fn sector(&self) -> u64 {
        self.raw().__sector
    }

    /// Bytes (`blk_rq_bytes`).
    pub(crate) fn bytes(&self) -> u32 {
        self.raw().__data_len
    }

    /// Physical segments (`blk_rq_nr_phys_segments`): how many `bio_vec`s the data needs at
    /// most once merged; a hint for sizing bios.
    pub(crate) fn nr_segments(&self) -> u16 {
        self.raw().nr_phys_segments
    }

    /// The request flags (`cmd_flags` without the operation): `REQ_FUA`, `REQ_PREFLUSH`, ...
    pub(crate) fn flags(&self) -> bindings::blk_opf_t {
        self.raw().cmd_flags & !REQ_OP_MASK
    }

    /// A forced-unit-access write (`REQ_FUA`).
    pub(crate) fn is_fua(&self) -> bool {
        self.flags() & REQ_FUA != 0
    }

    /// Flush the cache before this request (`REQ_PREFLUSH`).
    pub(crate) fn is_preflush(&self) -> bool {
        self.flags() & REQ_PREFLUSH != 0
    }

    /// The submitter waits for it (`REQ_SYNC`).
    pub(crate) fn is_sync(&self) -> bool {
        self.flags() & REQ_SYNC != 0
    }

    /// Ends the request with `status`, handing it back to blk-mq.
    pub(crate) fn end(self, status: BlkStatus) {
        let rq = self.rq.as_ptr();
        core::mem::forget(self);
        // SAFETY: by the type invariant we own the started request; forgetting `self` makes
        // this the only end.
        unsafe { bindings::blk_mq_end_request(rq, status.raw()) };
    }

    /// Ends the request with `status`, from any context: a completion of the backing device,
    /// or the `Drop` of an object that owns the request, run by such a completion. Requests of
    /// the flush machinery (a flush, or data in a flush sequence: those have an `end_io`) end
    /// from the `kblockd` workqueue instead: the backing device may be completing our bio from
    /// its own flush completion, under its flush-queue lock, and ending ours there would take
    /// our flush-queue lock inside it (same lock class: lockdep's "recursive locking").
    pub(crate) fn complete(mut self, status: BlkStatus) {
        if self.raw().end_io.is_none() {
            return self.end(status);
        }
        let pdu = self.pdu();
        pdu.status = status.raw();
        let work = pdu.work.get();
        core::mem::forget(self);
        // SAFETY: `work` is in the private area of the request we own; it stays valid until
        // `end_deferred` ends the request, which is the work item's only run. The request is
        // handed over to `end_deferred` with the work item.
        unsafe {
            shim::drbd_rs_init_work(work, Some(end_deferred));
            bindings::kblockd_schedule_work(work);
        }
    }

    fn pdu(&mut self) -> &mut RqPdu {
        // SAFETY: the private area of an owned request is a `RqPdu` (type invariant);
        // `&mut self` makes us its only user.
        unsafe { &mut *bindings::blk_mq_rq_to_pdu(self.rq.as_ptr()).cast::<RqPdu>() }
    }

    /// Gives up ownership without ending the request; [`IoRequest::from_raw`] takes it back.
    pub(super) fn into_raw(self) -> *mut bindings::request {
        let rq = self.rq.as_ptr();
        core::mem::forget(self);
        rq
    }

    /// Takes back a request given up with [`IoRequest::into_raw`].
    ///
    /// # Safety
    ///
    /// `rq` must come from [`IoRequest::into_raw`] and be taken back at most once.
    pub(super) unsafe fn from_raw(rq: *mut bindings::request) -> Self {
        // INVARIANT: ownership was given up by `into_raw` and comes back here, once.
        // SAFETY: `into_raw` never returns NULL.
        IoRequest {
            rq: unsafe { NonNull::new_unchecked(rq) },
        }
    }

    /// The bios of the request, in order (`__rq_for_each_bio`).
    pub(super) fn for_each_bio(&self, mut f: impl FnMut(&bindings::bio) -> Result) -> Result {
        let mut bio = self.raw().bio;
        while !bio.is_null() {
            // SAFETY: the bios of an owned request stay linked and alive until it is ended.
            let b = unsafe { &*bio };
            f(b)?;
            bio = b.bi_next;
        }
        Ok(())
    }

    /// The data of a read or write, in order (`rq_for_each_bvec`); nothing for operations
    /// without data (flush, discard, write-zeroes), whose bios have a size but no pages.
    pub(super) fn for_each_segment(&self, mut f: impl FnMut(Segment) -> Result) -> Result {
        if !matches!(self.op(), ReqOp::Read | ReqOp::Write) {
            return Ok(());
        }
        self.for_each_bio(|bio| {
            let mut iter = bio.bi_iter;
            while iter.bi_size > 0 {
                // SAFETY: while `bi_size` is left, `bi_idx` indexes a valid `bio_vec` of the
                // bio's table (the bvec_iter invariant the block layer keeps).
                let bv = unsafe { &*bio.bi_io_vec.add(iter.bi_idx as usize) };
                let offset = bv.bv_offset + iter.bi_offset;
                let len = (bv.bv_len - iter.bi_offset).min(iter.bi_size);
                let page_idx = offset as usize / bindings::PAGE_SIZE;
                // SAFETY: a bio_vec's pages are consecutive `struct page`s (the C helper
                // `bvec_iter_page` does the same arithmetic); `offset` is inside the bvec.
                let page = unsafe { bv.bv_page.add(page_idx) };
                f(Segment {
                    page,
                    offset: (offset as usize % bindings::PAGE_SIZE) as u32,
                    len,
                })?;
                // `bvec_iter_advance_single`.
                iter.bi_size -= len;
                iter.bi_offset += len;
                if iter.bi_offset == bv.bv_len {
                    iter.bi_offset = 0;
                    iter.bi_idx += 1;
                }
            }
            Ok(())
        })
    }

    // The copying helpers serve the KUnit RAM disk only; the data path maps pages instead
    // (`for_each_page_piece`, e.g. `sys::net::TcpStream::send_request_data`).
    /// Copies the request's data, in order, into `buf` (a write's payload). `buf` must be
    /// [`IoRequest::bytes`] long.
    #[cfg(drbd_rs_kunit)]
    pub(crate) fn copy_to_slice(&self, buf: &mut [u8]) -> Result {
        let mut at = 0usize;
        self.for_each_page_piece(|ptr, len| {
            let dst = buf.get_mut(at..at + len).ok_or(EINVAL)?;
            // SAFETY: `ptr` is a mapped, readable piece of `len` bytes of a request page.
            unsafe { core::ptr::copy_nonoverlapping(ptr, dst.as_mut_ptr(), len) };
            at += len;
            Ok(())
        })?;
        if at == buf.len() {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Copies `buf` into the request's pages, in order (a read's result). `buf` must be
    /// [`IoRequest::bytes`] long.
    #[cfg(drbd_rs_kunit)]
    pub(crate) fn copy_from_slice(&mut self, buf: &[u8]) -> Result {
        let mut at = 0usize;
        self.for_each_page_piece(|ptr, len| {
            let src = buf.get(at..at + len).ok_or(EINVAL)?;
            // SAFETY: `ptr` is a mapped, writable piece of `len` bytes of a request page,
            // which the block layer lets the driver fill for a read it owns.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), ptr, len) };
            at += len;
            Ok(())
        })?;
        if at == buf.len() {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Maps the data one page at a time (`kmap_local_page`) and calls `f(address, len)`: the
    /// piece is readable, and writable for a read the driver owns (it fills the pages).
    pub(super) fn for_each_page_piece(&self, mut f: impl FnMut(*mut u8, usize) -> Result) -> Result {
        self.for_each_segment(|seg| {
            let mut offset = seg.offset as usize;
            let mut left = seg.len as usize;
            let mut page = seg.page;
            while left > 0 {
                let len = left.min(bindings::PAGE_SIZE - offset);
                // SAFETY: `page` is a page of the request's data (see `for_each_segment`).
                let base = unsafe { bindings::kmap_local_page(page) }.cast::<u8>();
                // SAFETY: `offset + len <= PAGE_SIZE`, inside the mapping.
                let r = f(unsafe { base.add(offset) }, len);
                // SAFETY: unmaps the mapping made above, in LIFO order.
                unsafe { bindings::kunmap_local(base.cast()) };
                r?;
                left -= len;
                offset = 0;
                // SAFETY: the segment's bytes run on into the next page (see `Segment`).
                page = unsafe { page.add(1) };
            }
            Ok(())
        })
    }
}

/// The work item of [`IoRequest::complete`]: ends the request it is embedded in.
///
/// # Safety
///
/// Called by the workqueue only, for a work item queued by [`IoRequest::complete`].
unsafe extern "C" fn end_deferred(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the `work` field of the `RqPdu` of a request `complete` gave up, so the
    // pdu, and the request just before it, are found by offset.
    let rq = unsafe {
        let pdu = work
            .cast::<u8>()
            .sub(core::mem::offset_of!(RqPdu, work))
            .cast::<RqPdu>();
        bindings::blk_mq_rq_from_pdu(pdu.cast())
    };
    // INVARIANT: `complete` gave up ownership for exactly this call.
    let mut req = IoRequest {
        // SAFETY: derived from a valid request above.
        rq: unsafe { NonNull::new_unchecked(rq) },
    };
    let status = BlkStatus(req.pdu().status);
    req.end(status);
}

impl Drop for IoRequest {
    fn drop(&mut self) {
        // A request the driver forgot must not hang its submitter: fail it.
        // SAFETY: by the type invariant we own the started request, and `end`/`into_raw`
        // forget `self`, so this is the only end.
        unsafe { bindings::blk_mq_end_request(self.rq.as_ptr(), BlkStatus::IOERR.raw()) };
    }
}

// ---------------------------------------------------------------------------------------------
// Tag set and vtables
// ---------------------------------------------------------------------------------------------

/// A blk-mq tag set: one hardware queue, a blocking `queue_rq`, no I/O scheduler by default
/// (the backing device schedules).
///
/// # Invariants
///
/// `inner` was initialised by `blk_mq_alloc_tag_set` and is freed only in drop; it is pinned
/// (the tag set holds list heads and locks).
struct TagSet {
    inner: Pin<KBox<Opaque<bindings::blk_mq_tag_set>>>,
}

/// Requests a `/dev/drbdN` can have in flight (one hardware queue of this depth).
pub(crate) const QUEUE_DEPTH: u32 = 128;

impl TagSet {
    const QUEUE_DEPTH: u32 = QUEUE_DEPTH;

    fn new<T: DiskOps>(deferred: &Deferred<T>) -> Result<Self> {
        let inner = KBox::pin(Opaque::<bindings::blk_mq_tag_set>::zeroed(), GFP_KERNEL)?;
        let set = inner.get();
        // SAFETY: `set` points to a zeroed tag set we own; filling in the fields
        // `blk_mq_alloc_tag_set` reads, then letting it initialise the rest in place (the box
        // is pinned, so list heads stay valid).
        unsafe {
            (*set).ops = VTable::<T>::mq_ops();
            (*set).nr_hw_queues = 1;
            (*set).nr_maps = 1;
            (*set).queue_depth = Self::QUEUE_DEPTH;
            (*set).cmd_size = core::mem::size_of::<RqPdu>() as u32;
            (*set).numa_node = bindings::NUMA_NO_NODE;
            (*set).flags = bindings::BLK_MQ_F_BLOCKING | bindings::BLK_MQ_F_NO_SCHED_BY_DEFAULT;
            (*set).driver_data = core::ptr::from_ref(deferred).cast_mut().cast();
            to_result(bindings::blk_mq_alloc_tag_set(set))?;
        }
        // INVARIANT: initialised above.
        Ok(TagSet { inner })
    }

    fn raw(&self) -> *mut bindings::blk_mq_tag_set {
        self.inner.get()
    }
}

impl Drop for TagSet {
    fn drop(&mut self) {
        // SAFETY: initialised (type invariant) and no queue uses it any more: the `Disk` that
        // owns it has been deleted (`del_gendisk` exits its queue) before its fields drop.
        unsafe { bindings::blk_mq_free_tag_set(self.inner.get()) };
    }
}

/// The C vtables for a driver type `T`.
struct VTable<T: DiskOps>(PhantomData<T>);

impl<T: DiskOps> VTable<T> {
    const MQ_OPS: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq),
        ..pin_init::zeroed()
    };

    const FOPS: bindings::block_device_operations = bindings::block_device_operations {
        open: Some(Self::open),
        release: Some(Self::release),
        free_disk: Some(Self::free_disk),
        // The module cannot be unloaded while the device is open.
        owner: <crate::LocalModule as kernel::ModuleMetadata>::THIS_MODULE.as_ptr(),
        ..pin_init::zeroed()
    };

    const fn mq_ops() -> &'static bindings::blk_mq_ops {
        &Self::MQ_OPS
    }

    const fn fops() -> &'static bindings::block_device_operations {
        &Self::FOPS
    }

    /// # Safety
    ///
    /// Called by blk-mq only: `hctx` is a live hardware context of a [`Disk<T>`]'s queue, `bd`
    /// is valid for the call, and `bd.rq` is a request handed to the driver.
    unsafe extern "C" fn queue_rq(
        hctx: *mut bindings::blk_mq_hw_ctx,
        bd: *const bindings::blk_mq_queue_data,
    ) -> bindings::blk_status_t {
        // SAFETY: per this function's contract.
        let rq = unsafe { (*bd).rq };
        // SAFETY: the queue's `queuedata` is the `Arc<T>` pointer the gendisk owns (`Disk`
        // invariant); it lives until `free_disk`, which comes after the queue is drained.
        let ops = unsafe { &*(*(*hctx).queue).queuedata.cast::<T>() };
        // SAFETY: `rq` was just handed to us and not started yet.
        unsafe { bindings::blk_mq_start_request(rq) };
        // INVARIANT: started and owned by the driver until ended.
        let req = IoRequest {
            // SAFETY: blk-mq never passes a NULL request.
            rq: unsafe { NonNull::new_unchecked(rq) },
        };
        // Requests must not submit bios from the submitter's context when it is inside
        // `submit_bio` (`bio_list` set: our bios would queue behind the rest of a split bio) or
        // flushing a plug (`plug` set: our backing-device requests would join the plug list
        // blk-mq is draining, which corrupts its count and issues them outside the backing
        // queue's own dispatch section). Both are served from the worker instead.
        // SAFETY: `current` is always valid for the running task.
        let nested = unsafe {
            let task = bindings::get_current();
            !(*task).bio_list.is_null() || !(*task).plug.is_null()
        };
        if nested {
            // SAFETY: the tag set's `driver_data` is the `Deferred<T>` of the `Disk` this queue
            // belongs to (`Disk` invariant), alive while requests can be queued.
            let deferred = unsafe {
                &*(*(*(*hctx).queue).tag_set)
                    .driver_data
                    .cast::<Deferred<T>>()
            };
            deferred.push(req);
        } else {
            ops.queue_rq(req);
        }
        BlkStatus::OK.raw()
    }

    /// # Safety
    ///
    /// Called by the block layer only, for a gendisk built by [`Disk::new`] for `T`.
    unsafe extern "C" fn open(disk: *mut bindings::gendisk, mode: bindings::blk_mode_t) -> c_int {
        // SAFETY: `private_data` holds the gendisk's `Arc<T>` reference (`Disk` invariant).
        let ops = unsafe { &*(*disk).private_data.cast::<T>() };
        match ops.open(mode & BLK_OPEN_WRITE != 0) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// As for [`VTable::open`]; once per successful open.
    unsafe extern "C" fn release(disk: *mut bindings::gendisk) {
        // SAFETY: as in `open`; the reference lives until `free_disk`, which cannot come
        // before the last release.
        let ops = unsafe { &*(*disk).private_data.cast::<T>() };
        ops.release();
    }

    /// # Safety
    ///
    /// Called by the block layer only, once, when the last reference to an added gendisk
    /// built by [`Disk::new`] for `T` is dropped.
    unsafe extern "C" fn free_disk(disk: *mut bindings::gendisk) {
        // SAFETY: `private_data` came from `Arc::into_raw` in `Disk::new`; the gendisk's
        // reference is given back exactly once, here.
        let ops = unsafe { Arc::from_raw((*disk).private_data.cast::<T>().cast_const()) };
        ops.freed();
        drop(ops);
    }
}

/// Requests whose `queue_rq` came inside another `submit_bio` (a direct issue or plug flush in
/// the submitter's context, where `current->bio_list` is set), served from the `kblockd`
/// workqueue instead.
///
/// There, bios the driver submits to the backing device would only be queued on
/// `current->bio_list`, behind the rest of the bio being split into our requests: that rest
/// waits for one of our tags, our tags wait for our requests to end, and those wait for the
/// backing-device bios nobody dispatches. (The `loop` driver always serves requests from a
/// worker for the same reason; bio-based stacking drivers have `__submit_bio_noacct` order the
/// lists for them.) Served from a worker, the bios go out at once.
///
/// # Invariants
///
/// - `work` is initialised (`INIT_WORK` with [`Deferred::run`]); it is queued whenever
///   `pending` is not empty, and flushed before this is freed.
/// - `pending` is a stack of owned, started requests of the disk's queue, linked through
///   [`RqPdu::next`].
/// - `ops` is the queue's `queuedata` (the gendisk's `Arc<T>` reference), valid while requests
///   can be pending.
#[repr(C)]
struct Deferred<T: DiskOps> {
    // First: `run` finds the struct from the work item.
    work: Opaque<bindings::work_struct>,
    pending: AtomicPtr<bindings::request>,
    ops: *const T,
}

impl<T: DiskOps> Deferred<T> {
    fn new(ops: *const T) -> Result<Pin<KBox<Self>>> {
        let d = KBox::pin(
            Deferred {
                work: Opaque::zeroed(),
                pending: AtomicPtr::new(core::ptr::null_mut()),
                ops,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `work` is zeroed memory of ours that does not move (pinned box).
        unsafe { shim::drbd_rs_init_work(d.work.get(), Some(Self::run)) };
        // INVARIANT: initialised; nothing pending.
        Ok(d)
    }

    /// Hands `rq` to the worker.
    fn push(&self, mut rq: IoRequest) {
        let rq_ptr = rq.rq.as_ptr();
        let mut head = self.pending.load(Ordering::Relaxed);
        loop {
            rq.pdu().next = head;
            match self.pending.compare_exchange_weak(
                head,
                rq_ptr,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        core::mem::forget(rq);
        // SAFETY: `work` is initialised (type invariant); queueing an already queued work item
        // is a no-op, and one that is running gets queued again, so no push is missed.
        unsafe { bindings::kblockd_schedule_work(self.work.get()) };
    }

    /// # Safety
    ///
    /// Called by the workqueue only, for the `work` of a live `Deferred<T>`.
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the first field of a `#[repr(C)]` `Deferred<T>`.
        let this = unsafe { &*work.cast::<Self>() };
        // Oldest first: the stack holds the newest on top.
        let mut list = this.pending.swap(core::ptr::null_mut(), Ordering::Acquire);
        let mut fifo: *mut bindings::request = core::ptr::null_mut();
        while !list.is_null() {
            // SAFETY: requests on the stack are owned and started (type invariant).
            let mut rq = IoRequest {
                rq: unsafe { NonNull::new_unchecked(list) },
            };
            list = rq.pdu().next;
            rq.pdu().next = fifo;
            fifo = rq.into_raw();
        }
        // SAFETY: `ops` is valid while requests are pending (type invariant).
        let ops = unsafe { &*this.ops };
        while !fifo.is_null() {
            // INVARIANT: taken off the list, owned by us.
            // SAFETY: non-NULL, owned (see above).
            let mut rq = IoRequest {
                rq: unsafe { NonNull::new_unchecked(fifo) },
            };
            fifo = rq.pdu().next;
            ops.queue_rq(rq);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The gendisk
// ---------------------------------------------------------------------------------------------

/// A backing device whose queue limits a gendisk can stack on (implemented by
/// [`super::bdev::BdevFile`]), so this file need not know how backing devices are opened.
///
/// # Safety
///
/// `block_device` returns a live block device, held open for as long as `self` lives.
pub(crate) unsafe trait BackingQueue {
    /// The `struct block_device`.
    fn block_device(&self) -> *mut bindings::block_device;
}

/// The queue limits the driver wants (`drbd_reconsider_queue_parameters`).
pub(crate) struct QueueParams<'a> {
    /// Stack on this backing device's limits (block sizes, alignment, segment limits,
    /// features), or use the diskless defaults.
    pub(crate) lower: Option<&'a dyn BackingQueue>,
    /// Largest request in sectors.
    pub(crate) max_hw_sectors: u32,
    /// Most segments per request.
    pub(crate) max_segments: u16,
    /// Largest discard in sectors; 0: no discard.
    pub(crate) max_discard_sectors: u32,
    /// Largest write-zeroes in sectors; 0: none (the block layer writes zero pages instead).
    pub(crate) max_write_zeroes_sectors: u32,
}

/// A `/dev/<name>` blk-mq gendisk with a fixed major and minor, driven by `T`.
///
/// # Invariants
///
/// - `gendisk` was allocated by `__blk_mq_alloc_disk` on `tag_set` and added with
///   `device_add_disk`; it is deleted and put only in drop.
/// - Its `private_data` and its queue's `queuedata` both hold the pointer of one
///   `Arc::<T>::into_raw` reference, owned by the gendisk and released by `free_disk`.
/// - `fops` is [`VTable::<T>::fops`], whose `owner` is this module.
/// - The tag set's `driver_data` points to `deferred`, whose `ops` is the `Arc<T>` pointer.
pub(crate) struct Disk<T: DiskOps> {
    gendisk: NonNull<bindings::gendisk>,
    // Freed after the gendisk is deleted (fields drop after `Drop::drop`), in this order.
    _tag_set: TagSet,
    deferred: Pin<KBox<Deferred<T>>>,
    _p: PhantomData<Arc<T>>,
}

// SAFETY: the gendisk functions used through `&self` (`set_capacity_and_notify`,
// `set_disk_ro`, queue limit updates, freezing) do their own locking; `T` is `Send + Sync`.
unsafe impl<T: DiskOps> Send for Disk<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: DiskOps> Sync for Disk<T> {}

impl<T: DiskOps> Disk<T> {
    /// Creates and adds `/dev/<name>` with minor `minor` of the registered major, capacity 0,
    /// read-only if `read_only`, initial limits `params` (`params.lower` is ignored here).
    /// `ops` serves the callbacks.
    pub(crate) fn new(
        minor: u32,
        name: fmt::Arguments<'_>,
        read_only: bool,
        params: &QueueParams<'_>,
        ops: Arc<T>,
    ) -> Result<Self> {
        let major = registered_major().ok_or(ENODEV)?;
        // A larger minor would spill into the next major's `dev_t`s.
        if minor >= 1 << bindings::MINORBITS {
            return Err(EINVAL);
        }
        let deferred = Deferred::new(Arc::as_ptr(&ops))?;
        let tag_set = TagSet::new::<T>(&deferred)?;

        let mut lim: bindings::queue_limits = pin_init::zeroed();
        lim.max_hw_sectors = params.max_hw_sectors;
        lim.max_segments = params.max_segments;
        lim.seg_boundary_mask = bindings::PAGE_SIZE - 1;
        lim.features = BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA | BLK_FEAT_ROTATIONAL;

        let data = Arc::into_raw(ops).cast_mut().cast::<c_void>();
        // SAFETY: `tag_set` is initialised; `lim` is valid for the call; `data` is stored,
        // not dereferenced, by the block layer.
        let gendisk = match from_err_ptr(unsafe {
            bindings::__blk_mq_alloc_disk(
                tag_set.raw(),
                &mut lim,
                data,
                kernel::static_lock_class!().as_ptr(),
            )
        }) {
            Ok(g) => g,
            Err(e) => {
                // SAFETY: `data` came from `into_raw` above and was not handed on.
                drop(unsafe { Arc::from_raw(data.cast::<T>().cast_const()) });
                return Err(e);
            }
        };

        // SAFETY: `gendisk` is a fresh, not yet added gendisk we own exclusively.
        let named = unsafe {
            (*gendisk).major = major as c_int;
            (*gendisk).first_minor = minor as c_int;
            (*gendisk).minors = 1;
            (*gendisk).fops = VTable::<T>::fops();
            (*gendisk).private_data = data;
            (*gendisk).flags |= bindings::GENHD_FL_NO_PART as c_int;
            match NullTerminatedFormatter::new(&mut (*gendisk).disk_name) {
                Some(mut w) => w.write_fmt(name).map_err(|_| EINVAL),
                None => Err(EINVAL),
            }
        };
        let added = named.and_then(|()| {
            // SAFETY: `gendisk` is valid and not yet added.
            unsafe { bindings::set_disk_ro(gendisk, read_only) };
            // SAFETY: as above; no parent device, no extra attribute groups.
            to_result(unsafe {
                bindings::device_add_disk(core::ptr::null_mut(), gendisk, core::ptr::null_mut())
            })
        });
        if let Err(e) = added {
            // SAFETY: never added, so `free_disk` will not run: put the gendisk, then give
            // back the `Arc` reference it held.
            unsafe { bindings::put_disk(gendisk) };
            // SAFETY: `data` came from `into_raw` above; the gendisk is gone.
            drop(unsafe { Arc::from_raw(data.cast::<T>().cast_const()) });
            return Err(e);
        }
        // INVARIANT: allocated on `tag_set`, added, `private_data`/`queuedata` = `data`,
        // `fops` = `VTable::<T>::fops()`.
        Ok(Disk {
            // SAFETY: `from_err_ptr` let through a valid pointer.
            gendisk: unsafe { NonNull::new_unchecked(gendisk) },
            _tag_set: tag_set,
            deferred,
            _p: PhantomData,
        })
    }

    fn queue(&self) -> *mut bindings::request_queue {
        // SAFETY: the gendisk is live (type invariant); `queue` is set for its lifetime.
        unsafe { (*self.gendisk.as_ptr()).queue }
    }

    /// Sets the size in sectors and tells user space (`set_capacity_and_notify`).
    pub(crate) fn set_capacity(&self, sectors: u64) {
        // SAFETY: the gendisk is live (type invariant).
        unsafe { bindings::set_capacity_and_notify(self.gendisk.as_ptr(), sectors) };
    }

    /// The size in sectors (`get_capacity`).
    pub(crate) fn capacity(&self) -> u64 {
        // SAFETY: the gendisk and its whole-disk `part0` live as long as we do.
        unsafe { (*(*self.gendisk.as_ptr()).part0).bd_nr_sectors }
    }

    /// Marks the device read-only or writable (`set_disk_ro`).
    pub(crate) fn set_read_only(&self, read_only: bool) {
        // SAFETY: the gendisk is live (type invariant).
        unsafe { bindings::set_disk_ro(self.gendisk.as_ptr(), read_only) };
    }

    /// Applies queue limits the way `drbd_reconsider_queue_parameters` does: with a backing
    /// device, start from stacking defaults and inherit its limits (`blk_stack_limits`) and
    /// features, always with stable writes (the same pages go to disk and, later, to the
    /// peer); without one, keep what is there and announce a volatile cache with FUA so
    /// flushes reach the driver. Segments never cross a page (`seg_boundary_mask`), as DRBD's
    /// sender expects. Freezes the queue while committing.
    pub(crate) fn set_limits(&self, p: &QueueParams<'_>) -> Result {
        let q = self.queue();
        let mut lim: bindings::queue_limits = pin_init::zeroed();
        // SAFETY: `q` is our live queue; this takes `q->limits_lock` and copies the limits;
        // the commit below releases the lock on every path.
        unsafe { shim::drbd_rs_queue_limits_start_update(q.cast(), &mut lim) };
        if p.lower.is_some() {
            // SAFETY: `lim` is a valid, exclusively borrowed limits struct.
            unsafe { bindings::blk_set_stacking_limits(&mut lim) };
        } else {
            lim.features =
                BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA | BLK_FEAT_ROTATIONAL | BLK_FEAT_STABLE_WRITES;
        }
        lim.max_segments = p.max_segments;
        lim.max_hw_sectors = p.max_hw_sectors;
        lim.seg_boundary_mask = bindings::PAGE_SIZE - 1;
        if p.max_discard_sectors != 0 {
            lim.discard_granularity = bindings::SECTOR_SIZE;
            lim.max_hw_discard_sectors = p.max_discard_sectors;
        } else {
            lim.discard_granularity = 0;
            lim.max_hw_discard_sectors = 0;
        }
        if let Some(lower) = p.lower {
            // SAFETY: by `BackingQueue`'s contract `lower`'s block device is held open while it
            // is borrowed, so its queue and limits are live;
            // `blk_stack_limits` only reads the bottom limits.
            unsafe {
                let b = &raw mut (*(*lower.block_device()).bd_queue).limits;
                bindings::blk_stack_limits(&mut lim, b, 0);
            }
            lim.features |= BLK_FEAT_STABLE_WRITES;
        }
        lim.max_write_zeroes_sectors = p.max_write_zeroes_sectors;
        lim.max_hw_wzeroes_unmap_sectors = 0;
        if lim.discard_granularity >> bindings::SECTOR_SHIFT > lim.max_hw_discard_sectors {
            lim.discard_granularity = 0;
            lim.max_hw_discard_sectors = 0;
        }
        // SAFETY: `q` is live; we hold `limits_lock` from the start of the update, which this
        // releases.
        to_result(unsafe { bindings::queue_limits_commit_update_frozen(q, &mut lim) })
    }

    /// Blocks new requests and waits until none is in flight (`blk_mq_freeze_queue`), until
    /// the guard is dropped.
    pub(crate) fn freeze(&self) -> FreezeGuard<'_> {
        let q = self.queue();
        // SAFETY: `q` is our live queue.
        unsafe { bindings::blk_mq_freeze_queue_nomemsave(q) };
        // INVARIANT: frozen just above.
        FreezeGuard {
            q,
            _disk: PhantomData,
        }
    }
}

impl<T: DiskOps> Drop for Disk<T> {
    fn drop(&mut self) {
        let g = self.gendisk.as_ptr();
        // SAFETY: added and live (type invariant). `del_gendisk` removes `/dev/<name>`, waits
        // for requests in flight and exits the queue (so the tag set can be freed after this).
        unsafe { bindings::del_gendisk(g) };
        // A `queue_rq` that already ended its request may still be returning (it touches the
        // driver object and the worker after that); wait for every dispatch section to end,
        // then for the worker, and only then drop our reference, whose `free_disk` may free
        // the driver object.
        // SAFETY: the tag set is live until our fields drop, after this function.
        unsafe { bindings::blk_mq_wait_quiesce_done(self._tag_set.raw()) };
        // SAFETY: `work` is initialised (`Deferred` invariant).
        unsafe { bindings::flush_work(self.deferred.work.get()) };
        // SAFETY: our reference from `Disk::new`, dropped once.
        unsafe { bindings::put_disk(g) };
    }
}

/// A frozen queue: no request is in flight and none starts until the guard is dropped.
///
/// # Invariants
///
/// `q` is the live queue of the borrowed [`Disk`] and was frozen once by this guard.
pub(crate) struct FreezeGuard<'a> {
    q: *mut bindings::request_queue,
    _disk: PhantomData<&'a ()>,
}

impl Drop for FreezeGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: frozen once by this guard (type invariant); the disk outlives the guard.
        unsafe { bindings::blk_mq_unfreeze_queue_nomemrestore(self.q) };
    }
}

/// The C helpers in `shim_blk.c`.
pub(super) mod shim {
    use kernel::bindings;

    extern "C" {
        /// `*lim = queue_limits_start_update(q)`: takes `q->limits_lock`. `q` is a
        /// `struct request_queue *` (passed untyped: the struct embeds lockdep's field-less
        /// `lock_class_key`, which the FFI lint rejects).
        pub(crate) fn drbd_rs_queue_limits_start_update(
            q: *mut core::ffi::c_void,
            lim: *mut bindings::queue_limits,
        );

        /// `INIT_WORK(work, func)`.
        pub(crate) fn drbd_rs_init_work(
            work: *mut bindings::work_struct,
            func: bindings::work_func_t,
        );
    }
}
