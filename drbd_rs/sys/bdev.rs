// SPDX-License-Identifier: GPL-2.0

//! Backing devices: opening a block device by path with an exclusive claim, its size and
//! limits, synchronous 4 KiB meta-data I/O, and the data path that passes `/dev/drbdN`
//! requests through to the backing device without copying.
//!
//! The data path ([`LowerDev::submit`]) turns one blk-mq request into bios on the backing device
//! at the same sectors, over the same pages: the request's segments are added to a bio until it
//! is full, then the next bio is chained to it (`bio_chain`: a chained parent completes only
//! after all its children, and takes over the first error). The last bio carries the request;
//! when it completes, all bios have, and the request ends with the combined status. Bios come
//! from the device's own `bio_set` (with a rescuer, because `queue_rq` can run inside another
//! `submit_bio`, where bios we submit wait on `current->bio_list`).

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::Completion,
    types::Opaque,
};

use super::disk::{
    BlkStatus, IoRequest, ReqOp, BLK_OPEN_RW_EXCL, REQ_BACKGROUND, REQ_FUA, REQ_IDLE, REQ_META,
    REQ_NOUNMAP, REQ_PREFLUSH, REQ_PRIO, REQ_RAHEAD, REQ_SYNC,
};
use super::GFP_NOIO;

/// Size of a meta-data block: DRBD does all meta-data I/O in aligned 4 KiB blocks.
pub(crate) const MD_BLOCK_SIZE: usize = 4096;
const MD_BLOCK_SECTORS: u64 = (MD_BLOCK_SIZE as u64) >> bindings::SECTOR_SHIFT;

/// A block device opened by path for reading and writing, claimed exclusively.
///
/// # Invariants
///
/// `file` is a block-device file returned by `bdev_file_open_by_path` with a non-NULL holder;
/// this object owns that reference and the claim, and releases both in drop (`bdev_fput`).
pub(crate) struct BdevFile {
    file: NonNull<bindings::file>,
}

// SAFETY: the file reference may be used and released from any thread; the functions used
// through `&self` (size, limits, bio submission) are thread-safe.
unsafe impl Send for BdevFile {}
// SAFETY: as for `Send`.
unsafe impl Sync for BdevFile {}

impl BdevFile {
    /// Opens the block device at `path` read-write, claimed by `holder` (an identity, never
    /// dereferenced: the same holder may claim the same device twice, anyone else gets
    /// `EBUSY`). Fails like `open(2)`: `ENOENT`, `ENOTBLK`, `EACCES` (read-only device), ...
    pub(crate) fn open(path: &CStr, holder: *const c_void) -> Result<Self> {
        if holder.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `path` is NUL-terminated and valid for the call; `holder` is only compared;
        // no holder operations.
        let file = from_err_ptr(unsafe {
            bindings::bdev_file_open_by_path(
                path.as_char_ptr(),
                BLK_OPEN_RW_EXCL,
                holder.cast_mut(),
                core::ptr::null(),
            )
        })?;
        // INVARIANT: opened with a non-NULL holder just above.
        Ok(BdevFile {
            file: NonNull::new(file).ok_or(EINVAL)?,
        })
    }

    /// The `struct block_device`.
    pub(super) fn bdev(&self) -> *mut bindings::block_device {
        // SAFETY: `file` is an open block-device file (type invariant).
        unsafe { bindings::file_bdev(self.file.as_ptr()) }
    }

    /// Size in sectors (`bdev_nr_sectors`).
    pub(crate) fn nr_sectors(&self) -> u64 {
        // SAFETY: the open file keeps the block device alive.
        unsafe { (*self.bdev()).bd_nr_sectors }
    }

    fn limits(&self) -> &bindings::queue_limits {
        // SAFETY: the open file keeps the device and its queue alive; limits are read without
        // the limits lock, as the block layer's own `bdev_*` helpers do.
        unsafe { &(*(*self.bdev()).bd_queue).limits }
    }

    /// Largest request the device takes, in bytes (`queue_max_hw_sectors << 9`).
    pub(crate) fn max_hw_bytes(&self) -> u32 {
        self.limits()
            .max_hw_sectors
            .saturating_mul(bindings::SECTOR_SIZE)
    }

    /// Largest discard, in sectors; 0 if the device cannot discard.
    pub(crate) fn max_discard_sectors(&self) -> u32 {
        self.limits().max_discard_sectors
    }

    /// Whether `other` is the same block device (internal meta-data: the backing device is
    /// also the meta-data device).
    pub(crate) fn same_device(&self, other: &BdevFile) -> bool {
        core::ptr::eq(self.bdev(), other.bdev())
    }

    /// Reads the 4 KiB block at `sector` (`REQ_SYNC | REQ_META`) and waits.
    pub(crate) fn read_block(&self, sector: u64, buf: &mut MdBlock) -> Result {
        let opf = bindings::req_op_REQ_OP_READ | REQ_SYNC | REQ_META;
        self.sync_io(sector, buf.0.as_mut_ptr().cast(), opf)
    }

    /// Writes the 4 KiB block at `sector` (`REQ_SYNC | REQ_META`) and waits. `durable`: flush
    /// the device's cache first and write through it (`REQ_PREFLUSH | REQ_FUA`), so the block
    /// and everything written before it are on stable storage when this returns, as DRBD does
    /// for superblock writes.
    pub(crate) fn write_block(&self, sector: u64, buf: &MdBlock, durable: bool) -> Result {
        let mut opf = bindings::req_op_REQ_OP_WRITE | REQ_SYNC | REQ_META;
        if durable {
            opf |= REQ_PREFLUSH | REQ_FUA;
        }
        // The device only reads the buffer for a write.
        self.sync_io(sector, buf.0.as_ptr().cast_mut().cast(), opf)
    }

    fn sync_io(&self, sector: u64, data: *mut c_void, opf: bindings::blk_opf_t) -> Result {
        let end = sector.checked_add(MD_BLOCK_SECTORS).ok_or(EINVAL)?;
        if end > self.nr_sectors() {
            return Err(EINVAL);
        }
        let mut bvec = core::mem::MaybeUninit::<bindings::bio_vec>::zeroed();
        let mut bio = core::mem::MaybeUninit::<bindings::bio>::zeroed();
        let bio = bio.as_mut_ptr();
        // SAFETY: `bio` and `bvec` are exclusively ours, live until `bio_uninit` below and do
        // not move; `data` is a 4 KiB kmalloc buffer (`MdBlock`), directly mapped, as
        // `bio_add_virt_nofail` needs; the one-entry table has room for it. `submit_bio_wait`
        // returns only when the I/O is complete, so nothing refers to the stack afterwards.
        let ret = unsafe {
            bindings::bio_init(bio, self.bdev(), bvec.as_mut_ptr(), 1, opf);
            (*bio).bi_iter.bi_sector = sector;
            bindings::bio_add_virt_nofail(bio, data, MD_BLOCK_SIZE as u32);
            let ret = bindings::submit_bio_wait(bio);
            bindings::bio_uninit(bio);
            ret
        };
        to_result(ret)
    }
}

impl Drop for BdevFile {
    fn drop(&mut self) {
        // SAFETY: we own the file reference and the claim (type invariant). `bdev_fput` gives
        // up the claim at once (so the device can be claimed again right away), then puts the
        // file.
        unsafe { bindings::bdev_fput(self.file.as_ptr()) };
    }
}

/// A 4 KiB meta-data buffer in directly mapped memory (a power-of-two kmalloc is naturally
/// aligned and physically contiguous), as block I/O on a kernel address needs.
pub(crate) struct MdBlock(KBox<[u8; MD_BLOCK_SIZE]>);

impl MdBlock {
    /// A zeroed buffer.
    pub(crate) fn new() -> Result<Self> {
        Ok(MdBlock(KBox::zeroed(GFP_KERNEL)?))
    }
}

impl core::ops::Deref for MdBlock {
    type Target = [u8; MD_BLOCK_SIZE];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for MdBlock {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Request flags passed on to the backing device.
const PASS_FLAGS: bindings::blk_opf_t = REQ_SYNC
    | REQ_META
    | REQ_PRIO
    | REQ_IDLE
    | REQ_FUA
    | REQ_PREFLUSH
    | REQ_RAHEAD
    | REQ_BACKGROUND
    | REQ_NOUNMAP;

/// The backing device of an attached `/dev/drbdN`, set up for the data path.
///
/// # Invariants
///
/// - `bio_set` is initialised (`bioset_init`) and exited only in drop.
/// - `inflight` is 1 (the bias dropped in drop) plus the number of requests submitted by
///   [`LowerDev::submit`] whose last bio has not completed; `done` is completed when it
///   reaches 0, which only happens in or after drop. Bios in flight refer to `bio_set` and to
///   `file`'s block device, so drop waits for them before releasing either.
#[pin_data(PinnedDrop)]
pub(crate) struct LowerDev {
    file: BdevFile,
    inflight: AtomicUsize,
    #[pin]
    done: Completion,
    #[pin]
    bio_set: Opaque<bindings::bio_set>,
}

// SAFETY: `bio_set` is used only through the thread-safe bio allocator; the other fields are
// `Send + Sync`.
unsafe impl Send for LowerDev {}
// SAFETY: as for `Send`.
unsafe impl Sync for LowerDev {}

impl LowerDev {
    /// Sets up the data path to `file`.
    pub(crate) fn new(file: BdevFile) -> impl PinInit<Self, Error> {
        try_pin_init!(LowerDev {
            file,
            inflight: AtomicUsize::new(1),
            done <- Completion::new(),
            // Last: if it fails, nothing initialised before it needs `bioset_exit`.
            bio_set <- Opaque::try_ffi_init(|bs: *mut bindings::bio_set| {
                // SAFETY: `bs` points to uninitialised, pinned memory for a `bio_set`.
                // `bioset_init` expects it zeroed (it only sets what the flags ask for, and
                // `bioset_exit`, also on its own error path, looks at the rest, e.g. `cache`).
                to_result(unsafe {
                    core::ptr::write_bytes(bs, 0, 1);
                    bindings::bioset_init(
                        bs,
                        bindings::BIO_POOL_SIZE,
                        0,
                        (bindings::BIOSET_NEED_BVECS | bindings::BIOSET_NEED_RESCUER) as c_int,
                    )
                })
            }),
        })
    }

    /// The backing device.
    pub(crate) fn file(&self) -> &BdevFile {
        &self.file
    }

    fn alloc_bio(&self, nr_vecs: usize, opf: bindings::blk_opf_t) -> *mut bindings::bio {
        let nr = nr_vecs.min(bindings::BIO_MAX_VECS as usize) as u16;
        // SAFETY: `bio_set` is initialised (type invariant), the block device is held open by
        // `file`. With `GFP_NOIO` (may sleep) allocation from the mempool does not fail for
        // `nr <= BIO_MAX_VECS`, but a NULL is still handled by the callers.
        unsafe {
            bindings::bio_alloc_bioset(self.file.bdev(), nr, opf, GFP_NOIO, self.bio_set.get())
        }
    }

    /// Submits `rq` to the backing device at the same sectors; the request is ended when all
    /// its bios have completed, with the first error any of them had. Reads and writes map the
    /// request's pages (no copy); flush becomes an empty `REQ_PREFLUSH` write; discard and
    /// write-zeroes keep their ranges. `REQ_FUA`, `REQ_PREFLUSH`, `REQ_SYNC` and the other
    /// hints are passed on. May sleep.
    pub(crate) fn submit(&self, mut rq: IoRequest) {
        let flags = rq.flags() & PASS_FLAGS;
        let op = match rq.op() {
            ReqOp::Read => bindings::req_op_REQ_OP_READ,
            ReqOp::Write => bindings::req_op_REQ_OP_WRITE,
            ReqOp::Flush => bindings::req_op_REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC,
            ReqOp::Discard => bindings::req_op_REQ_OP_DISCARD,
            ReqOp::WriteZeroes => bindings::req_op_REQ_OP_WRITE_ZEROES,
            ReqOp::Other(_) => return rq.end(BlkStatus::NOTSUPP),
        };
        let opf = op | flags;

        let mut chain = BioChain {
            lower: self,
            cur: core::ptr::null_mut(),
            opf,
            failed: false,
            // The first bio is sized for the request's segments (usually it takes them all);
            // more, if bvecs do not merge as the request's segments did, come at full size.
            nr_vecs: usize::from(rq.nr_segments()).max(1),
        };
        match rq.op() {
            ReqOp::Flush => chain.start(0, 0),
            ReqOp::Discard | ReqOp::WriteZeroes => {
                // A discard request may hold several ranges (one per bio): one bio each.
                let _ = rq.for_each_bio(|bio| {
                    chain.start(0, bio.bi_iter.bi_sector);
                    if !chain.cur.is_null() {
                        // SAFETY: `cur` is a fresh bio of ours without data pages.
                        unsafe { (*chain.cur).bi_iter.bi_size = bio.bi_iter.bi_size };
                    }
                    Ok(())
                });
            }
            _ => {
                let mut sector = rq.sector();
                let _ = rq.for_each_segment(|seg| {
                    chain.add(seg.page, seg.len, seg.offset, sector);
                    sector += u64::from(seg.len >> bindings::SECTOR_SHIFT);
                    Ok(())
                });
            }
        }

        let last = chain.cur;
        if last.is_null() {
            // Nothing to submit (no allocation at all, or no data): end it here.
            let status = if chain.failed {
                BlkStatus::RESOURCE
            } else {
                BlkStatus::OK
            };
            return rq.end(status);
        }
        // INVARIANT: one more request in flight until `end_io` of its last bio.
        self.inflight.fetch_add(1, Ordering::Relaxed);
        rq.set_token(core::ptr::from_ref(self) as usize);
        // SAFETY: `last` is our unsubmitted bio; from here it owns the request, which `end_io`
        // takes back exactly once.
        unsafe {
            (*last).bi_private = rq.into_raw().cast();
            (*last).bi_end_io = Some(end_io);
            if chain.failed {
                // Children already submitted still complete into `last` before `end_io` runs.
                (*last).bi_status = BlkStatus::RESOURCE.raw();
                bindings::bio_endio(last);
            } else {
                bindings::submit_bio(last);
            }
        }
    }

    /// One request in flight less; wakes drop when it was the last.
    fn put_inflight(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.complete_all();
        }
    }
}

/// Builds the chain of bios for one request.
struct BioChain<'a> {
    lower: &'a LowerDev,
    /// The bio being filled, not yet submitted; earlier ones are chained to it and submitted.
    cur: *mut bindings::bio,
    opf: bindings::blk_opf_t,
    /// A bio could not be allocated: the rest of the request is not submitted.
    failed: bool,
    /// `bio_vec`s for the next data bio.
    nr_vecs: usize,
}

impl BioChain<'_> {
    /// Starts a new bio at `sector`, chaining and submitting the current one.
    fn start(&mut self, nr_vecs: usize, sector: u64) {
        if self.failed {
            return;
        }
        let next = self.lower.alloc_bio(nr_vecs, self.opf);
        if next.is_null() {
            self.failed = true;
            return;
        }
        // SAFETY: `next` is a fresh bio of ours.
        unsafe { (*next).bi_iter.bi_sector = sector };
        if !self.cur.is_null() {
            // SAFETY: `cur` is ours, unsubmitted, without end_io; `next` completes only after
            // it. Submitting hands `cur` to the block layer.
            unsafe {
                bindings::bio_chain(self.cur, next);
                bindings::submit_bio(self.cur);
            }
        }
        self.cur = next;
    }

    /// Adds `len` bytes at `offset` in `page` (the data for `sector`), starting a new bio when
    /// the current one is full.
    fn add(&mut self, page: *mut bindings::page, len: u32, offset: u32, sector: u64) {
        for _ in 0..2 {
            if self.failed {
                return;
            }
            if !self.cur.is_null() {
                // SAFETY: `cur` is ours and unsubmitted; `page` is a page of the request's
                // data, which stays valid until the request ends, after all its bios.
                if unsafe { bindings::bio_add_page(self.cur, page, len, offset) } as u32 == len {
                    return;
                }
            }
            self.start(self.nr_vecs, sector);
            self.nr_vecs = bindings::BIO_MAX_VECS as usize;
        }
        // An empty bio with room for `BIO_MAX_VECS` entries takes any segment; not reached.
        self.failed = true;
    }
}

/// Completion of the last bio of a request: all its bios are done.
///
/// # Safety
///
/// Called by the block layer only, for a bio set up by [`LowerDev::submit`]: `bi_private` is
/// the request given up with `into_raw`, whose token is the `LowerDev`.
unsafe extern "C" fn end_io(bio: *mut bindings::bio) {
    // SAFETY: per this function's contract.
    let (status, rq) = unsafe {
        (
            (*bio).bi_status,
            (*bio).bi_private.cast::<bindings::request>(),
        )
    };
    // SAFETY: the bio is ours and done; this drops the last reference.
    unsafe { bindings::bio_put(bio) };
    // SAFETY: given up in `submit`, taken back only here.
    let rq = unsafe { IoRequest::from_raw(rq) };
    let lower = rq.token() as *const LowerDev;
    // Possibly inside the backing device's flush completion: end ours outside of it.
    rq.complete(BlkStatus::from_raw(status));
    // SAFETY: the request counted in `inflight` keeps the `LowerDev` alive until this call,
    // which is our last access (drop may free it as soon as the count reaches 0).
    unsafe { (*lower).put_inflight() };
}

#[pinned_drop]
impl PinnedDrop for LowerDev {
    fn drop(self: Pin<&mut Self>) {
        // Drop the bias; if requests are still in flight, the last completion wakes us.
        if self.inflight.fetch_sub(1, Ordering::AcqRel) != 1 {
            self.done.wait_for_completion();
        }
        // SAFETY: initialised (type invariant) and no bio from it is in flight any more.
        unsafe { bindings::bioset_exit(self.bio_set.get()) };
    }
}
