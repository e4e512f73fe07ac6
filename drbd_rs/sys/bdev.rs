// SPDX-License-Identifier: GPL-2.0

//! Backing devices: opening a block device by path with an exclusive claim, its size and
//! limits, synchronous 4 KiB meta-data I/O, and the data path to the backing device.
//!
//! The data path turns a blk-mq request of `/dev/drbdN` ([`LowerDev::submit`],
//! [`LowerDev::submit_request`]) or a [`PageBuf`] ([`LowerDev::read_buf`],
//! [`LowerDev::write_buf`], and their synchronous forms) into bios on the backing device over
//! the same pages, without copying: pages are added to a bio until it is full, then the next
//! bio is chained to it (`bio_chain`: a chained parent completes only after all its children,
//! and takes over the first error). The last bio carries the submission's completion: when it
//! completes, all bios have. [`LowerDev::submit`] then ends the request; the other forms hand
//! the reference to their owner object they kept back to [`LocalIo::local_io_done`], so the
//! driver decides when a request ends (a mirrored write: after the local write *and* the
//! peer's ack). Bios come from the device's own `bio_set` (with a rescuer, because `queue_rq`
//! can run inside another `submit_bio`, where bios we submit wait on `current->bio_list`).
//!
//! Nothing is submitted outside the backing device: a range beyond its end is refused (I/O
//! error, `EINVAL` for the synchronous forms) before any bio is built, whatever the caller
//! checked, since sectors can come from the peer.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::{Arc, Completion},
    types::Opaque,
};

use super::disk::{
    BlkStatus, IoRequest, ReqOp, BLK_OPEN_RW_EXCL, REQ_BACKGROUND, REQ_FUA, REQ_IDLE, REQ_META,
    REQ_OP_MASK,
    REQ_NOUNMAP, REQ_PREFLUSH, REQ_PRIO, REQ_RAHEAD, REQ_SYNC,
};
use super::pages::PageBuf;
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

// SAFETY: `bdev` is the block device of the open file (type invariant), held open until the
// `BdevFile` is dropped.
unsafe impl super::disk::BackingQueue for BdevFile {
    fn block_device(&self) -> *mut bindings::block_device {
        self.bdev()
    }
}

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

    /// Discard granularity in bytes (0: unknown, take 512).
    pub(crate) fn discard_granularity(&self) -> u32 {
        self.limits().discard_granularity
    }

    /// Largest write-zeroes, in sectors; 0 if the device cannot write zeroes (then
    /// [`LowerDev::discard`] with `zeroes` writes zero pages).
    pub(crate) fn max_write_zeroes_sectors(&self) -> u32 {
        self.limits().max_write_zeroes_sectors
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

/// What a failed submission to the backing device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocalIoOp {
    /// A read.
    Read,
    /// A read-ahead (`REQ_RAHEAD`): failing it is legal.
    ReadAhead,
    /// A write, including an empty flush.
    Write,
    /// A discard or write-zeroes.
    Discard,
}

/// A submission to the backing device that completed with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LocalIoError {
    /// What it did.
    pub(crate) op: LocalIoOp,
    /// Its first sector.
    pub(crate) sector: u64,
    /// Its size in bytes.
    pub(crate) bytes: u64,
    /// The error.
    pub(crate) status: BlkStatus,
}

/// Told about every submission of a [`LowerDev`] that completes with an error (not about
/// submissions refused before any bio was built: a range beyond the device, no memory).
pub(crate) trait IoErrorSink: Send + Sync {
    /// `e` failed. Called from the bio completion, possibly in interrupt context, before the
    /// submission's own completion (the request's end, [`LocalIo::local_io_done`]): must not
    /// sleep nor take locks that are held with interrupts enabled. For synchronous submissions,
    /// called by the submitting thread before it returns.
    fn local_io_error(&self, e: LocalIoError);
}

/// Told when a submission to the backing device is complete.
pub(crate) trait LocalIo: Send + Sync + Sized + 'static {
    /// All bios of one submission have completed, with `status` (the first error any of them
    /// had, or [`BlkStatus::OK`]). Called exactly once per submission: from a bio completion,
    /// possibly in interrupt context (so it must not sleep), or from the submitting function
    /// itself when nothing was submitted (range refused, operation not supported, no memory).
    ///
    /// `this` is the reference the submission kept; it must not be the last reference to the
    /// [`LowerDev`] (whose drop waits for this call to return).
    fn local_io_done(this: Arc<Self>, status: BlkStatus);
}

/// An object that owns a blk-mq request and keeps it unended while any `Arc` to it is alive
/// (typically it ends the request in its `Drop`, with [`IoRequest::complete`]).
pub(crate) trait OwnsRequest: LocalIo {
    /// The request: the object's own, the same one for the object's whole life.
    fn request(&self) -> &IoRequest;
}

/// An object that owns a [`PageBuf`] for the duration of its I/O.
pub(crate) trait OwnsBuf: LocalIo {
    /// The buffer: the object's own (or one that lives at least as long as the object).
    fn buf(&self) -> &PageBuf;
}

/// How a buffer submission writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WriteFlags {
    /// `REQ_FUA`: the data is on stable storage when the write completes.
    pub(crate) fua: bool,
    /// `REQ_PREFLUSH`: flush the device's volatile cache before writing.
    pub(crate) preflush: bool,
}

impl WriteFlags {
    fn opf(self) -> bindings::blk_opf_t {
        let mut opf = bindings::req_op_REQ_OP_WRITE;
        if self.fua {
            opf |= REQ_FUA;
        }
        if self.preflush {
            opf |= REQ_PREFLUSH;
        }
        opf
    }
}

/// The errno for a status of I/O that was not (completely) submitted.
fn status_result(status: BlkStatus) -> Result {
    match status {
        BlkStatus::OK => Ok(()),
        BlkStatus::RESOURCE => Err(ENOMEM),
        BlkStatus::NOTSUPP => Err(EOPNOTSUPP),
        _ => Err(EIO),
    }
}

/// Per-bio data in front of every bio of a [`LowerDev`]'s bio set (its `front_pad`). Written
/// only for the last bio of an asynchronous submission ([`Last::submit`]), and read only by its
/// completion.
#[repr(C)]
struct BioPad {
    /// The buffer whose fill ends when this bio completes (buffer reads), or NULL.
    fill: *const PageBuf,
    /// The submission's first sector and size, for error reports.
    sector: u64,
    bytes: u64,
}

/// The [`BioPad`] of `bio`.
///
/// # Safety
///
/// `bio` must be a bio from a [`LowerDev`]'s bio set.
unsafe fn pad_of(bio: *mut bindings::bio) -> *mut BioPad {
    // SAFETY: the bio set puts `front_pad = size_of::<BioPad>()` bytes, suitably aligned,
    // in front of each of its bios (`LowerDev` invariant).
    unsafe { bio.cast::<u8>().sub(core::mem::size_of::<BioPad>()).cast() }
}

/// The backing device of an attached `/dev/drbdN`, set up for the data path.
///
/// # Invariants
///
/// - `bio_set` is initialised (`bioset_init`, with `front_pad` = `size_of::<BioPad>()`) and
///   exited only in drop. Every bio of a submission comes from it, so its `bi_pool` leads back
///   to this object.
/// - `inflight` is 1 (the bias dropped in drop) plus the number of submissions handed to the
///   block layer by [`Last::submit`] whose completion has not returned; `done` is completed
///   when it reaches 0, which only happens in or after drop. Bios in flight refer to `bio_set`
///   and to `file`'s block device, so drop waits for them before releasing either.
///   Synchronous submissions ([`Last::submit_wait`]) are not counted: they borrow the object
///   until they are complete.
#[pin_data(PinnedDrop)]
pub(crate) struct LowerDev {
    file: BdevFile,
    /// Told about failed submissions.
    errors: Option<Arc<dyn IoErrorSink>>,
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
    /// Sets up the data path to `file`; `errors` is told about every failed submission.
    pub(crate) fn new(
        file: BdevFile,
        errors: Option<Arc<dyn IoErrorSink>>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(LowerDev {
            file,
            errors,
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
                        core::mem::size_of::<BioPad>() as c_uint,
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

    /// Capacity of the backing device in 512-byte sectors.
    pub(crate) fn sectors(&self) -> u64 {
        self.file.nr_sectors()
    }

    /// Whether `bytes` at `sector` lie inside the backing device.
    fn in_range(&self, sector: u64, bytes: u64) -> bool {
        sector
            .checked_add(bytes.div_ceil(u64::from(bindings::SECTOR_SIZE)))
            .is_some_and(|end| end <= self.sectors())
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
    /// hints are passed on. A range beyond the backing device ends with an I/O error, without
    /// a bio. May sleep.
    pub(crate) fn submit(&self, rq: IoRequest) {
        match self.build_request(&rq) {
            Err(status) => rq.end(status),
            // SAFETY: `end_io_request` takes back the request given up here, exactly once.
            Ok(last) => unsafe { last.submit(rq.into_raw().cast(), end_io_request) },
        }
    }

    /// Submits the operation and data of `owner.request()` like [`LowerDev::submit`] (same
    /// mapping, flags passed on, range checked) *without* ending the request; calls
    /// `T::local_io_done(owner, status)` once all bios completed (first error wins). The
    /// reference kept meanwhile keeps the request, and so its pages, alive. May sleep.
    pub(crate) fn submit_request<T: OwnsRequest>(&self, owner: Arc<T>) {
        match self.build_request(owner.request()) {
            Err(status) => T::local_io_done(owner, status),
            Ok(last) => last.submit_for(owner),
        }
    }

    /// Reads `owner.buf().len()` bytes at `sector` into the buffer; `local_io_done` as for
    /// [`LowerDev::submit_request`]. While the read is in flight, CPU reads of the buffer fail
    /// with `EBUSY`; a buffer that is being read or filled already is refused (I/O error), as
    /// is a range beyond the backing device. May sleep.
    pub(crate) fn read_buf<T: OwnsBuf>(&self, sector: u64, owner: Arc<T>) {
        let buf = owner.buf();
        if !self.in_range(sector, buf.len() as u64) || !buf.begin_fill() {
            return T::local_io_done(owner, BlkStatus::IOERR);
        }
        match self.build_buf(sector, buf, bindings::req_op_REQ_OP_READ) {
            Err(status) => {
                buf.end_fill();
                T::local_io_done(owner, status)
            }
            Ok(mut last) => {
                last.set_fill(buf);
                // SAFETY: `end_io_fill::<T>` ends the fill of `buf` (which lives as long as the
                // owner) and takes back the reference given up here, exactly once.
                unsafe { last.submit(Arc::into_raw(owner).cast_mut().cast(), end_io_fill::<T>) }
            }
        }
    }

    /// Writes `owner.buf().len()` bytes at `sector` from the buffer, with `flags`;
    /// `local_io_done` as for [`LowerDev::submit_request`]. A range beyond the backing device
    /// is refused (I/O error). May sleep.
    pub(crate) fn write_buf<T: OwnsBuf>(&self, sector: u64, flags: WriteFlags, owner: Arc<T>) {
        let buf = owner.buf();
        if !self.in_range(sector, buf.len() as u64) {
            return T::local_io_done(owner, BlkStatus::IOERR);
        }
        match self.build_buf(sector, buf, flags.opf()) {
            Err(status) => T::local_io_done(owner, status),
            Ok(last) => last.submit_for(owner),
        }
    }

    /// Discards (`zeroes`: writes zeroes to) `bytes` at `sector`, for a peer's `P_TRIM` /
    /// `P_ZEROES`; no buffer. `bytes` must be a positive multiple of 512 and the range inside
    /// the backing device, else I/O error without a bio. A device that cannot discard
    /// completes a discard with [`BlkStatus::NOTSUPP`]; on one that cannot write zeroes, the
    /// shared zero page is written over the range instead (as `blkdev_issue_zeroout` does).
    /// Alignment to the discard granularity is the caller's business (DRBD zeroes the
    /// unaligned ends). May sleep.
    pub(crate) fn discard<T: LocalIo>(&self, sector: u64, bytes: u32, zeroes: bool, owner: Arc<T>) {
        if bytes == 0
            || !bytes.is_multiple_of(bindings::SECTOR_SIZE)
            || !self.in_range(sector, bytes.into())
        {
            return T::local_io_done(owner, BlkStatus::IOERR);
        }
        let chain = if zeroes && self.file.max_write_zeroes_sectors() == 0 {
            let page = zero_page();
            let mut chain = BioChain::new(
                self,
                bindings::req_op_REQ_OP_WRITE,
                (bytes as usize).div_ceil(bindings::PAGE_SIZE),
            );
            let (mut sector, mut left) = (sector, bytes);
            while left > 0 {
                let n = left.min(bindings::PAGE_SIZE as u32);
                // SAFETY: the zero page exists as long as the kernel; the device only reads it.
                unsafe { chain.add(page, n, 0, sector) };
                sector += u64::from(n >> bindings::SECTOR_SHIFT);
                left -= n;
            }
            chain
        } else {
            let op = if zeroes {
                bindings::req_op_REQ_OP_WRITE_ZEROES
            } else {
                bindings::req_op_REQ_OP_DISCARD
            };
            let mut chain = BioChain::new(self, op, 0);
            chain.start(0, sector);
            chain.set_size(bytes);
            chain
        };
        match chain.finish() {
            Err(status) => T::local_io_done(owner, status),
            Ok(last) => last.submit_for(owner),
        }
    }

    /// Flushes the backing device's volatile cache (an empty `REQ_PREFLUSH` write) and waits;
    /// for barriers. May sleep.
    pub(crate) fn flush_sync(&self) -> Result {
        // SAFETY: the block device is held open by `file`; this waits for its on-stack bio.
        to_result(unsafe { bindings::blkdev_issue_flush(self.file.bdev()) })
    }

    /// Reads `buf.len()` bytes at `sector` into `buf` and waits. `EINVAL` for a range beyond
    /// the backing device. May sleep.
    pub(crate) fn read_buf_sync(&self, sector: u64, buf: &mut PageBuf) -> Result {
        if !self.in_range(sector, buf.len() as u64) {
            return Err(EINVAL);
        }
        // `&mut` excludes any other user of the pages while the device writes them.
        match self.build_buf(sector, buf, bindings::req_op_REQ_OP_READ | REQ_SYNC) {
            Ok(last) => last.submit_wait(),
            Err(status) => status_result(status),
        }
    }

    /// Writes `buf` at `sector` with `flags` and waits. `EINVAL` for a range beyond the
    /// backing device, `EBUSY` while the device is reading into `buf`. May sleep.
    pub(crate) fn write_buf_sync(&self, sector: u64, buf: &PageBuf, flags: WriteFlags) -> Result {
        if !self.in_range(sector, buf.len() as u64) {
            return Err(EINVAL);
        }
        if !buf.begin_read() {
            return Err(EBUSY);
        }
        let r = match self.build_buf(sector, buf, flags.opf() | REQ_SYNC) {
            Ok(last) => last.submit_wait(),
            Err(status) => status_result(status),
        };
        buf.end_read();
        r
    }

    /// The bios for `rq` on the backing device (all but the last submitted), or the status to
    /// end it with at once: `NOTSUPP` for an operation we do not pass on, `IOERR` for a range
    /// beyond the backing device, `RESOURCE` if no bio could be allocated.
    fn build_request(&self, rq: &IoRequest) -> Result<Last<'_>, BlkStatus> {
        let flags = rq.flags() & PASS_FLAGS;
        let op = match rq.op() {
            ReqOp::Read => bindings::req_op_REQ_OP_READ,
            ReqOp::Write => bindings::req_op_REQ_OP_WRITE,
            ReqOp::Flush => bindings::req_op_REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC,
            ReqOp::Discard => bindings::req_op_REQ_OP_DISCARD,
            ReqOp::WriteZeroes => bindings::req_op_REQ_OP_WRITE_ZEROES,
            ReqOp::Other(_) => return Err(BlkStatus::NOTSUPP),
        };
        let in_range = match rq.op() {
            // Flushes have no range (their sector is meaningless).
            ReqOp::Flush => true,
            ReqOp::Discard | ReqOp::WriteZeroes => rq
                .for_each_bio(|bio| {
                    if self.in_range(bio.bi_iter.bi_sector, bio.bi_iter.bi_size.into()) {
                        Ok(())
                    } else {
                        Err(EINVAL)
                    }
                })
                .is_ok(),
            _ => self.in_range(rq.sector(), rq.bytes().into()),
        };
        if !in_range {
            return Err(BlkStatus::IOERR);
        }

        // The first bio is sized for the request's segments (usually it takes them all);
        // more, if bvecs do not merge as the request's segments did, come at full size.
        let mut chain = BioChain::new(self, op | flags, usize::from(rq.nr_segments()).max(1));
        match rq.op() {
            ReqOp::Flush => chain.start(0, 0),
            ReqOp::Discard | ReqOp::WriteZeroes => {
                // A discard request may hold several ranges (one per bio): one bio each.
                let _ = rq.for_each_bio(|bio| {
                    chain.start(0, bio.bi_iter.bi_sector);
                    chain.set_size(bio.bi_iter.bi_size);
                    Ok(())
                });
            }
            _ => {
                let mut sector = rq.sector();
                let _ = rq.for_each_segment(|seg| {
                    // SAFETY: the request's pages stay valid until it ends, which its owner
                    // (the caller, or the submission that takes it over) does only after the
                    // chain completed.
                    unsafe { chain.add(seg.page, seg.len, seg.offset, sector) };
                    sector += u64::from(seg.len >> bindings::SECTOR_SHIFT);
                    Ok(())
                });
            }
        }
        chain.finish()
    }

    /// The bios for `buf` at `sector` (all but the last submitted).
    fn build_buf(
        &self,
        sector: u64,
        buf: &PageBuf,
        opf: bindings::blk_opf_t,
    ) -> Result<Last<'_>, BlkStatus> {
        let mut chain = BioChain::new(self, opf, buf.len().div_ceil(bindings::PAGE_SIZE));
        let mut sector = sector;
        for (page, used) in buf.pages() {
            // SAFETY: the pages stay valid until the chain completes: the caller holds the
            // buffer (borrowed for a synchronous submission, through its owner's reference in
            // the last bio for an asynchronous one).
            unsafe { chain.add(page.as_ptr(), used as u32, 0, sector) };
            sector += (used >> bindings::SECTOR_SHIFT) as u64;
        }
        chain.finish()
    }

    /// Reports a failed submission to the error sink.
    fn report(&self, e: LocalIoError) {
        if e.status != BlkStatus::OK {
            if let Some(sink) = self.errors.as_ref() {
                sink.local_io_error(e);
            }
        }
    }

    /// One submission in flight less; wakes drop when it was the last.
    fn put_inflight(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.complete_all();
        }
    }
}

/// Builds the chain of bios for one submission.
struct BioChain<'a> {
    lower: &'a LowerDev,
    /// The bio being filled, not yet submitted; earlier ones are chained to it and submitted.
    cur: *mut bindings::bio,
    opf: bindings::blk_opf_t,
    /// A bio could not be allocated: the rest of the data is not submitted.
    failed: bool,
    /// `bio_vec`s for the next data bio.
    nr_vecs: usize,
    /// First sector of the submission (of its first bio) and bytes added so far.
    sector: Option<u64>,
    bytes: u64,
}

impl<'a> BioChain<'a> {
    /// An empty chain of `opf` bios; the first data bio gets `nr_vecs` entries.
    fn new(lower: &'a LowerDev, opf: bindings::blk_opf_t, nr_vecs: usize) -> Self {
        BioChain {
            lower,
            cur: core::ptr::null_mut(),
            opf,
            failed: false,
            nr_vecs: nr_vecs.max(1),
            sector: None,
            bytes: 0,
        }
    }

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
        self.sector.get_or_insert(sector);
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

    /// Sets the size of the bio just started (operations without data: discard, write-zeroes).
    fn set_size(&mut self, bytes: u32) {
        if !self.failed && !self.cur.is_null() {
            // SAFETY: `cur` is a bio of ours, unsubmitted, without data pages.
            unsafe { (*self.cur).bi_iter.bi_size = bytes };
            self.bytes += u64::from(bytes);
        }
    }

    /// Adds `len` bytes at `offset` in `page` (the data for `sector`), starting a new bio when
    /// the current one is full.
    ///
    /// # Safety
    ///
    /// `page` (and, if `offset + len` runs past it, the pages after it) must stay valid until
    /// the chain has completed, and the device may read them (writes) or write them (reads).
    unsafe fn add(&mut self, page: *mut bindings::page, len: u32, offset: u32, sector: u64) {
        for _ in 0..2 {
            if self.failed {
                return;
            }
            if !self.cur.is_null() {
                // SAFETY: `cur` is ours and unsubmitted; `page` is valid as long as the chain
                // (this function's contract).
                if unsafe { bindings::bio_add_page(self.cur, page, len, offset) } as u32 == len {
                    self.bytes += u64::from(len);
                    return;
                }
            }
            self.start(self.nr_vecs, sector);
            self.nr_vecs = bindings::BIO_MAX_VECS as usize;
        }
        // An empty bio with room for `BIO_MAX_VECS` entries takes any segment; not reached.
        self.failed = true;
    }

    /// The last bio, or, if there is none, the status of the submission: `RESOURCE` if no bio
    /// could be allocated, `OK` if there was nothing to do.
    fn finish(self) -> Result<Last<'a>, BlkStatus> {
        match NonNull::new(self.cur) {
            None if self.failed => Err(BlkStatus::RESOURCE),
            None => Err(BlkStatus::OK),
            // INVARIANT: `cur` is our last, unsubmitted bio; the earlier ones are chained to
            // it.
            Some(bio) => Ok(Last {
                lower: self.lower,
                bio,
                failed: self.failed,
                fill: core::ptr::null(),
                sector: self.sector.unwrap_or(0),
                bytes: self.bytes,
                opf: self.opf,
            }),
        }
    }
}

/// The last bio of a chain, not yet submitted.
///
/// # Invariants
///
/// `bio` is a bio of `lower`'s bio set, ours and unsubmitted; the earlier bios of the chain are
/// submitted and chained to it (it completes after all of them, with the first error).
/// `failed`: part of the data has no bio.
struct Last<'a> {
    lower: &'a LowerDev,
    bio: NonNull<bindings::bio>,
    failed: bool,
    /// The buffer whose fill ends with this chain, or NULL.
    fill: *const PageBuf,
    /// The submission's first sector, size and operation (error reports).
    sector: u64,
    bytes: u64,
    opf: bindings::blk_opf_t,
}

impl Last<'_> {
    /// Records `buf` as the buffer whose fill ends with this chain (read by `end_io_fill`).
    fn set_fill(&mut self, buf: &PageBuf) {
        self.fill = core::ptr::from_ref(buf);
    }

    /// Hands the chain to the block layer with `end_io` and `private` on the last bio, counted
    /// in the [`LowerDev`]'s in-flight submissions. If part of the data has no bio, the last
    /// bio is not submitted but completed with `RESOURCE` (after the bios already submitted).
    ///
    /// # Safety
    ///
    /// `end_io` must accept the last bio of a chain whose `bi_private` is `private`: take
    /// `private` back exactly once, free the bio with [`take_last`] and end with
    /// [`LowerDev::put_inflight`] as its last access to the `LowerDev`.
    unsafe fn submit(self, private: *mut c_void, end_io: unsafe extern "C" fn(*mut bindings::bio)) {
        // INVARIANT: one more submission in flight until `end_io` returns.
        self.lower.inflight.fetch_add(1, Ordering::Relaxed);
        let bio = self.bio.as_ptr();
        // SAFETY: `bio` is ours and unsubmitted (type invariant); from here it owns `private`.
        // It is from our bio set, so it has a pad.
        unsafe {
            pad_of(bio).write(BioPad {
                fill: self.fill,
                sector: self.sector,
                bytes: self.bytes,
            });
            (*bio).bi_private = private;
            (*bio).bi_end_io = Some(end_io);
            if self.failed {
                // Bios already submitted still complete into `bio` before `end_io` runs.
                (*bio).bi_status = BlkStatus::RESOURCE.raw();
                bindings::bio_endio(bio);
            } else {
                bindings::submit_bio(bio);
            }
        }
    }

    /// Submits the chain for `owner`, whose reference [`end_io_owner`] hands back to
    /// `T::local_io_done`.
    fn submit_for<T: LocalIo>(self, owner: Arc<T>) {
        // SAFETY: `end_io_owner::<T>` takes back the reference given up here, exactly once.
        unsafe { self.submit(Arc::into_raw(owner).cast_mut().cast(), end_io_owner::<T>) }
    }

    /// Submits the chain and waits for all of it; `ENOMEM` if part of the data had no bio.
    fn submit_wait(self) -> Result {
        let bio = self.bio.as_ptr();
        // SAFETY: `bio` is ours and unsubmitted (type invariant). `submit_bio_wait` returns
        // once it completed, i.e. after all the bios chained to it; then we drop our reference.
        let ret = unsafe {
            let ret = bindings::submit_bio_wait(bio);
            bindings::bio_put(bio);
            ret
        };
        if self.failed {
            Err(ENOMEM)
        } else {
            if ret != 0 {
                self.lower.report(LocalIoError {
                    op: op_of(self.opf),
                    sector: self.sector,
                    bytes: self.bytes,
                    status: BlkStatus::IOERR,
                });
            }
            to_result(ret)
        }
    }
}

/// The kind of I/O an `opf` does.
fn op_of(opf: bindings::blk_opf_t) -> LocalIoOp {
    match opf & REQ_OP_MASK {
        bindings::req_op_REQ_OP_READ if opf & REQ_RAHEAD != 0 => LocalIoOp::ReadAhead,
        bindings::req_op_REQ_OP_READ => LocalIoOp::Read,
        bindings::req_op_REQ_OP_DISCARD | bindings::req_op_REQ_OP_WRITE_ZEROES => {
            LocalIoOp::Discard
        }
        _ => LocalIoOp::Write,
    }
}

/// Takes the completed last bio of a chain apart: its status, its `bi_private`, and the
/// [`LowerDev`] it was submitted to. Frees the bio. A failed submission is reported to the
/// `LowerDev`'s error sink first.
///
/// # Safety
///
/// `bio` must be the last bio of a chain submitted by [`Last::submit`], completing now (the
/// call comes from its `bi_end_io`).
unsafe fn take_last(bio: *mut bindings::bio) -> (BlkStatus, *mut c_void, *const LowerDev) {
    // SAFETY: the bio is ours and done; it came from a `LowerDev`'s `bio_set` (invariant of
    // `Last`), which `bi_pool` points to, so the `LowerDev` is found by offset; the submission
    // is counted in its `inflight`, which keeps it alive. This drops the last bio reference.
    unsafe {
        let status = BlkStatus::from_raw((*bio).bi_status);
        let private = (*bio).bi_private;
        let lower = (*bio)
            .bi_pool
            .cast::<u8>()
            .sub(core::mem::offset_of!(LowerDev, bio_set))
            .cast::<LowerDev>()
            .cast_const();
        if status != BlkStatus::OK {
            // The pad was written by `Last::submit`.
            let pad = &*pad_of(bio);
            (*lower).report(LocalIoError {
                op: op_of((*bio).bi_opf),
                sector: pad.sector,
                bytes: pad.bytes,
                status,
            });
        }
        bindings::bio_put(bio);
        (status, private, lower)
    }
}

/// The shared page of zeroes (`ZERO_PAGE(0)`).
fn zero_page() -> *mut bindings::page {
    extern "C" {
        /// `ZERO_PAGE(0)`, in `shim_blk.c`; a `struct page *` (untyped: `struct page` embeds
        /// field-less structs, which the FFI lint rejects).
        fn drbd_rs_zero_page() -> *mut c_void;
    }
    // SAFETY: no preconditions; the page lives as long as the kernel.
    unsafe { drbd_rs_zero_page() }.cast()
}

/// Completion of a request submitted by [`LowerDev::submit`]: ends it.
///
/// # Safety
///
/// Called by the block layer only, as the `bi_end_io` [`LowerDev::submit`] set: `bi_private`
/// is the request given up with `into_raw`.
unsafe extern "C" fn end_io_request(bio: *mut bindings::bio) {
    // SAFETY: per this function's contract.
    let (status, private, lower) = unsafe { take_last(bio) };
    // SAFETY: given up in `submit`, taken back only here.
    let rq = unsafe { IoRequest::from_raw(private.cast()) };
    // Possibly inside the backing device's flush completion: end ours outside of it.
    rq.complete(status);
    // SAFETY: the submission counted in `inflight` keeps the `LowerDev` alive until this call,
    // which is our last access (drop may free it as soon as the count reaches 0).
    unsafe { (*lower).put_inflight() };
}

/// Completion of a submission for an owner `T`: hands its reference back to
/// [`LocalIo::local_io_done`].
///
/// # Safety
///
/// Called by the block layer only, as the `bi_end_io` set with `Arc::<T>::into_raw` in
/// `bi_private` (by [`Last::submit`]), or by [`end_io_fill`] for such a bio.
unsafe extern "C" fn end_io_owner<T: LocalIo>(bio: *mut bindings::bio) {
    // SAFETY: per this function's contract.
    let (status, private, lower) = unsafe { take_last(bio) };
    // SAFETY: the reference given up with `into_raw` when the chain was submitted; this is
    // the chain's only completion, so it is taken back once.
    let owner = unsafe { Arc::<T>::from_raw(private.cast::<T>().cast_const()) };
    T::local_io_done(owner, status);
    // SAFETY: as in `end_io_request`.
    unsafe { (*lower).put_inflight() };
}

/// Completion of [`LowerDev::read_buf`]: ends the buffer's fill, then as [`end_io_owner`].
///
/// # Safety
///
/// As for [`end_io_owner`], for a bio whose [`BioPad`] was set by [`Last::set_fill`].
unsafe extern "C" fn end_io_fill<T: OwnsBuf>(bio: *mut bindings::bio) {
    // SAFETY: the pad was written by `set_fill` before the bio was submitted; the buffer lives
    // as long as the owner, whose reference is still in `bi_private` (taken back below).
    unsafe { (*(*pad_of(bio)).fill).end_fill() };
    // SAFETY: per this function's contract.
    unsafe { end_io_owner::<T>(bio) };
}

#[pinned_drop]
impl PinnedDrop for LowerDev {
    fn drop(self: Pin<&mut Self>) {
        // Drop the bias; if submissions are still in flight, the last completion wakes us.
        if self.inflight.fetch_sub(1, Ordering::AcqRel) != 1 {
            self.done.wait_for_completion();
        }
        // SAFETY: initialised (type invariant) and no bio from it is in flight any more.
        unsafe { bindings::bioset_exit(self.bio_set.get()) };
    }
}
