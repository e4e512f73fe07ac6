// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the backing-device data path (`sys/bdev.rs`, `sys/pages.rs`): page buffers
//! written and read at several sectors and sizes, requests submitted for an owner object that
//! ends them when the last reference goes, discard and write-zeroes, flushes, and ranges beyond
//! the backing device, which must be refused before any I/O reaches it.
//!
//! The backing device is a RAM disk served by the same `sys::disk` layer
//! (`/dev/drbdrs-bio0`), which counts the requests it sees; a second disk
//! (`/dev/drbdrs-bio1`) passes its requests through [`LowerDev::submit_request`] to the RAM disk,
//! as the replication driver will for `/dev/drbdN`.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Completion, Mutex},
};

use crate::sys::{
    bdev::{BdevFile, LocalIo, LowerDev, OwnsBuf, OwnsRequest, WriteFlags},
    disk::{BlkStatus, Disk, DiskOps, IoRequest, QueueParams, ReqOp},
    flush_delayed_fput,
    pages::{PageBuf, MAX_BUF_BYTES},
    InitFs,
};

/// Fails the test (with the condition and line in the log) unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            pr_err!(
                "drbd_rs_bio: check failed at line {}: {}\n",
                line!(),
                stringify!($cond)
            );
            return Err(EINVAL);
        }
    };
}

/// Minors of the test disks (the device suite uses 1000..).
const MINOR_BASE: u32 = 1100;
/// Size of the RAM disk.
const RAM_BYTES: usize = 4 << 20;
const RAM_SECTORS: u64 = (RAM_BYTES / 512) as u64;
/// What a discard leaves in the RAM disk (write-zeroes leaves zeroes).
const DISCARDED: u8 = 0xdd;

/// A status as a number, so completions can record it in an atomic.
fn code(s: BlkStatus) -> u32 {
    match s {
        BlkStatus::OK => 0,
        BlkStatus::NOTSUPP => 1,
        BlkStatus::RESOURCE => 2,
        BlkStatus::IOERR => 3,
        _ => 4,
    }
}

fn status(code: u32) -> BlkStatus {
    match code {
        0 => BlkStatus::OK,
        1 => BlkStatus::NOTSUPP,
        2 => BlkStatus::RESOURCE,
        _ => BlkStatus::IOERR,
    }
}

/// The memory behind the RAM disk, and what it was asked to do.
#[pin_data]
struct Ram {
    #[pin]
    data: Mutex<KVVec<u8>>,
    requests: AtomicUsize,
    flushes: AtomicUsize,
    discards: AtomicUsize,
    zeroes: AtomicUsize,
}

impl DiskOps for Ram {
    fn open(&self, _write: bool) -> Result {
        Ok(())
    }

    fn release(&self) {}

    fn queue_rq(&self, mut rq: IoRequest) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        // Flushes have sector -1: compute the range checked.
        let range = (rq.sector() as usize)
            .checked_mul(512)
            .and_then(|off| Some(off..off.checked_add(rq.bytes() as usize)?));
        let mut data = self.data.lock();
        let st = match (rq.op(), range.and_then(|r| data.get_mut(r))) {
            (ReqOp::Flush, _) => {
                self.flushes.fetch_add(1, Ordering::Relaxed);
                BlkStatus::OK
            }
            (ReqOp::Read, Some(src)) => match rq.copy_from_slice(src) {
                Ok(()) => BlkStatus::OK,
                Err(_) => BlkStatus::IOERR,
            },
            (ReqOp::Write, Some(dst)) => match rq.copy_to_slice(dst) {
                Ok(()) => BlkStatus::OK,
                Err(_) => BlkStatus::IOERR,
            },
            (ReqOp::Discard, Some(dst)) => {
                self.discards.fetch_add(1, Ordering::Relaxed);
                dst.fill(DISCARDED);
                BlkStatus::OK
            }
            (ReqOp::WriteZeroes, Some(dst)) => {
                self.zeroes.fetch_add(1, Ordering::Relaxed);
                dst.fill(0);
                BlkStatus::OK
            }
            (ReqOp::Other(_), _) => BlkStatus::NOTSUPP,
            _ => BlkStatus::IOERR,
        };
        drop(data);
        rq.end(st);
    }
}

/// Limits of the test disks: 128 KiB requests (so 1 MiB takes several), discard and
/// write-zeroes of up to 1 MiB.
const PARAMS: QueueParams<'static> = QueueParams {
    lower: None,
    max_hw_sectors: 256,
    max_segments: 128,
    max_discard_sectors: 2048,
    max_write_zeroes_sectors: 2048,
};

/// Runs the file closes a kernel thread deferred when dropped: declared after a disk and
/// before what opens it, so the device is really closed before the disk goes. Twice, because
/// closing `/dev/drbdrs-bio1` releases its backing device, which closes the RAM disk.
struct CloseDeferred;

impl Drop for CloseDeferred {
    fn drop(&mut self) {
        flush_delayed_fput();
        flush_delayed_fput();
    }
}

/// A RAM disk `/dev/drbdrs-bio<n>`.
struct RamDisk {
    ram: Arc<Ram>,
    _disk: Disk<Ram>,
}

impl RamDisk {
    fn new() -> Result<Self> {
        Self::with(0, &PARAMS)
    }

    fn with(n: u32, params: &QueueParams<'_>) -> Result<Self> {
        let data = KVVec::from_elem(0u8, RAM_BYTES, GFP_KERNEL)?;
        let ram = Arc::pin_init(
            pin_init!(Ram {
                data <- new_mutex!(data),
                requests: AtomicUsize::new(0),
                flushes: AtomicUsize::new(0),
                discards: AtomicUsize::new(0),
                zeroes: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )?;
        let name = fmt!("drbdrs-bio{}", n);
        let disk = Disk::new(MINOR_BASE + n, name, false, params, ram.clone())?;
        disk.set_limits(params)?;
        disk.set_capacity(RAM_SECTORS);
        Ok(RamDisk { ram, _disk: disk })
    }

    /// Whether the RAM disk holds `want` at `sector`.
    fn holds(&self, sector: u64, want: &[u8]) -> bool {
        let at = sector as usize * 512;
        self.ram.data.lock().get(at..at + want.len()) == Some(want)
    }

    /// Whether the RAM disk holds `len` bytes of `byte` at `sector`.
    fn holds_fill(&self, sector: u64, len: usize, byte: u8) -> bool {
        let at = sector as usize * 512;
        self.ram
            .data
            .lock()
            .get(at..at + len)
            .is_some_and(|d| d.iter().all(|&b| b == byte))
    }

    fn requests(&self) -> usize {
        self.ram.requests.load(Ordering::Relaxed)
    }
}

/// Holder identity for the test's opens.
static HOLDER: u8 = 0;

/// Opens `path` and sets up the data path to it.
fn open_lower(path: &CStr) -> Result<Arc<LowerDev>> {
    let file = BdevFile::open(path, core::ptr::from_ref(&HOLDER).cast())?;
    Arc::pin_init(LowerDev::new(file, None), GFP_KERNEL)
}

/// `len` bytes of a pattern that differs by `seed` and by position.
fn pattern(seed: u64, len: usize) -> Result<KVVec<u8>> {
    let mut v = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    for (i, b) in v.iter_mut().enumerate() {
        *b = (seed.wrapping_mul(0x9e37_79b9) ^ (i as u64 / 3).wrapping_mul(131) ^ (i as u64 >> 9))
            as u8;
    }
    Ok(v)
}

/// A page buffer holding `data`.
fn buf_with(data: &[u8]) -> Result<PageBuf> {
    let mut buf = PageBuf::alloc(data.len())?;
    buf.copy_from_slice(0, data)?;
    Ok(buf)
}

/// The contents of `buf`.
fn contents(buf: &PageBuf) -> Result<KVVec<u8>> {
    let mut v = KVVec::from_elem(0u8, buf.len(), GFP_KERNEL)?;
    buf.copy_to_slice(0, &mut v)?;
    Ok(v)
}

/// An owner of a page buffer that records its completions.
#[pin_data]
struct BufIo {
    buf: PageBuf,
    status: AtomicU32,
    calls: AtomicUsize,
    #[pin]
    done: Completion,
}

impl LocalIo for BufIo {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        this.status.store(code(status), Ordering::Relaxed);
        this.calls.fetch_add(1, Ordering::AcqRel);
        this.done.complete_all();
    }
}

impl OwnsBuf for BufIo {
    fn buf(&self) -> &PageBuf {
        &self.buf
    }
}

impl BufIo {
    fn new(buf: PageBuf) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(BufIo {
                buf,
                status: AtomicU32::new(u32::MAX),
                calls: AtomicUsize::new(0),
                done <- Completion::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Starts one I/O with `start` and waits for it; its status, after checking it completed
    /// exactly once.
    fn run(buf: PageBuf, start: impl FnOnce(Arc<Self>)) -> Result<(Arc<Self>, BlkStatus)> {
        let io = Self::new(buf)?;
        start(io.clone());
        io.done.wait_for_completion();
        ensure!(io.calls.load(Ordering::Acquire) == 1);
        let st = status(io.status.load(Ordering::Relaxed));
        Ok((io, st))
    }
}

/// A no-buffer owner (discard) that records its completion.
#[pin_data]
struct Done {
    status: AtomicU32,
    calls: AtomicUsize,
    #[pin]
    done: Completion,
}

impl LocalIo for Done {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        this.status.store(code(status), Ordering::Relaxed);
        this.calls.fetch_add(1, Ordering::AcqRel);
        this.done.complete_all();
    }
}

/// Discards (`zeroes`: writes zeroes) and waits; the status.
fn discard(lower: &LowerDev, sector: u64, bytes: u32, zeroes: bool) -> Result<BlkStatus> {
    let d = Arc::pin_init(
        pin_init!(Done {
            status: AtomicU32::new(u32::MAX),
            calls: AtomicUsize::new(0),
            done <- Completion::new(),
        }),
        GFP_KERNEL,
    )?;
    lower.discard(sector, bytes, zeroes, d.clone());
    d.done.wait_for_completion();
    ensure!(d.calls.load(Ordering::Acquire) == 1);
    Ok(status(d.status.load(Ordering::Relaxed)))
}

/// What the pass-through disk's owners did.
struct Counts {
    queued: AtomicUsize,
    done: AtomicUsize,
    ended: AtomicUsize,
    failed: AtomicUsize,
}

/// `/dev/drbdrs-bio1`: each request goes to the RAM disk through
/// [`LowerDev::submit_request`], owned by a [`ReqIo`] that ends it when dropped.
struct Pass {
    lower: Arc<LowerDev>,
    counts: Arc<Counts>,
}

/// Owns one request of [`Pass`]; ends it, with the backing device's status, when the last
/// reference goes.
struct ReqIo {
    /// Taken only by drop.
    rq: Option<IoRequest>,
    status: AtomicU32,
    counts: Arc<Counts>,
}

impl LocalIo for ReqIo {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        this.status.store(code(status), Ordering::Relaxed);
        this.counts.done.fetch_add(1, Ordering::AcqRel);
    }
}

impl OwnsRequest for ReqIo {
    fn request(&self) -> &IoRequest {
        self.rq.as_ref().expect("the request is taken only by drop")
    }
}

impl Drop for ReqIo {
    fn drop(&mut self) {
        if let Some(rq) = self.rq.take() {
            let st = status(self.status.load(Ordering::Relaxed));
            if st != BlkStatus::OK {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
            }
            self.counts.ended.fetch_add(1, Ordering::AcqRel);
            rq.complete(st);
        }
    }
}

impl DiskOps for Pass {
    fn open(&self, _write: bool) -> Result {
        Ok(())
    }

    fn release(&self) {}

    fn queue_rq(&self, rq: IoRequest) {
        self.counts.queued.fetch_add(1, Ordering::Relaxed);
        // Ends the request with an I/O error if the allocation fails (dropped unsubmitted).
        if let Ok(io) = Arc::new(
            ReqIo {
                rq: Some(rq),
                status: AtomicU32::new(code(BlkStatus::IOERR)),
                counts: self.counts.clone(),
            },
            GFP_KERNEL,
        ) {
            self.lower.submit_request(io);
        }
    }
}

#[kunit_tests(drbd_rs_bio)]
mod tests {
    use super::*;

    #[test]
    fn page_buffers() -> Result {
        ensure!(PageBuf::alloc(0).err() == Some(EINVAL));
        ensure!(PageBuf::alloc(513).err() == Some(EINVAL));
        ensure!(PageBuf::alloc(MAX_BUF_BYTES + 512).err() == Some(EINVAL));
        let one = PageBuf::alloc(512)?;
        ensure!(one.len() == 512);
        ensure!(contents(&one)?.iter().all(|&b| b == 0));

        // 9 sectors: a full page and 512 bytes of a second one.
        let mut buf = PageBuf::alloc(4608)?;
        let mut used = KVec::new();
        for (_, n) in buf.pages() {
            used.push(n, GFP_KERNEL)?;
        }
        ensure!(used[..] == [4096, 512]);
        let data = pattern(1, 4608)?;
        buf.copy_from_slice(0, &data)?;
        ensure!(contents(&buf)?[..] == data[..]);
        // Across the page boundary, and the last bytes.
        buf.copy_from_slice(4000, &[7u8; 200])?;
        let mut back = [0u8; 300];
        buf.copy_to_slice(3950, &mut back)?;
        ensure!(back[..50] == data[3950..4000] && back[50..250] == [7u8; 200]);
        ensure!(back[250..] == data[4200..4250]);
        buf.copy_to_slice(4608 - 300, &mut back)?;
        ensure!(back[..] == data[4608 - 300..]);
        // Out of bounds, and offsets that overflow.
        ensure!(buf.copy_from_slice(4608 - 10, &[0u8; 11]).err() == Some(EINVAL));
        ensure!(buf.copy_to_slice(4609, &mut [0u8; 0]).err() == Some(EINVAL));
        ensure!(buf.copy_to_slice(usize::MAX, &mut [0u8; 2]).err() == Some(EINVAL));

        let big = PageBuf::alloc(MAX_BUF_BYTES)?;
        ensure!(big.pages().count() == MAX_BUF_BYTES / 4096);
        ensure!(big.pages().all(|(_, n)| n == 4096));
        Ok(())
    }

    #[test]
    fn buffers_round_trip() -> Result {
        let _fs = InitFs::new();
        let ram = RamDisk::new()?;
        let _close = CloseDeferred;
        let lower = open_lower(c"/dev/drbdrs-bio0")?;
        ensure!(lower.sectors() == RAM_SECTORS);

        let cases: [(u64, usize); 9] = [
            (0, 4096),
            (8, 64 << 10),
            (200, MAX_BUF_BYTES),
            (3, 7 * 512),
            (4001, 9 * 512),
            (5, MAX_BUF_BYTES - 512),
            (1, 512),
            (RAM_SECTORS - 13, 13 * 512),
            (RAM_SECTORS - 2048, MAX_BUF_BYTES),
        ];
        for (i, &(sector, len)) in cases.iter().enumerate() {
            let seed = i as u64 + 10;
            // Asynchronous write, synchronous read.
            let data = pattern(seed, len)?;
            let (_, st) = BufIo::run(buf_with(&data)?, |io| {
                lower.write_buf(sector, WriteFlags::default(), io)
            })?;
            ensure!(st == BlkStatus::OK);
            ensure!(ram.holds(sector, &data));
            let mut back = PageBuf::alloc(len)?;
            lower.read_buf_sync(sector, &mut back)?;
            ensure!(contents(&back)?[..] == data[..]);

            // Synchronous write with FUA and preflush, asynchronous read.
            let data = pattern(seed + 100, len)?;
            let flags = WriteFlags {
                fua: true,
                preflush: true,
            };
            lower.write_buf_sync(sector, &buf_with(&data)?, flags)?;
            ensure!(ram.holds(sector, &data));
            let (io, st) = BufIo::run(PageBuf::alloc(len)?, |io| lower.read_buf(sector, io))?;
            ensure!(st == BlkStatus::OK);
            ensure!(contents(&io.buf)?[..] == data[..]);
        }
        // Sectors next to a write keep their data.
        let before = pattern(1, 4096)?;
        lower.write_buf_sync(5000, &buf_with(&before)?, WriteFlags::default())?;
        lower.write_buf_sync(5001, &buf_with(&[0x5a; 512])?, WriteFlags::default())?;
        ensure!(ram.holds(5000, &before[..512]) && ram.holds(5002, &before[1024..]));
        ensure!(ram.holds_fill(5001, 512, 0x5a));
        Ok(())
    }

    #[test]
    fn out_of_range_is_refused() -> Result {
        let _fs = InitFs::new();
        let ram = RamDisk::new()?;
        let _close = CloseDeferred;
        let lower = open_lower(c"/dev/drbdrs-bio0")?;
        let end = RAM_SECTORS;
        let data = pattern(3, 4096)?;
        let before = ram.requests();

        for sector in [end - 7, end, end + 1, u64::MAX - 3, u64::MAX] {
            let (_, st) = BufIo::run(buf_with(&data)?, |io| {
                lower.write_buf(sector, WriteFlags::default(), io)
            })?;
            ensure!(st == BlkStatus::IOERR);
            let (io, st) = BufIo::run(PageBuf::alloc(4096)?, |io| lower.read_buf(sector, io))?;
            ensure!(st == BlkStatus::IOERR);
            // A refused read leaves the buffer readable.
            ensure!(contents(&io.buf).is_ok());
            let mut buf = PageBuf::alloc(4096)?;
            ensure!(lower.read_buf_sync(sector, &mut buf).err() == Some(EINVAL));
            let flags = WriteFlags::default();
            ensure!(lower.write_buf_sync(sector, &buf, flags).err() == Some(EINVAL));
            ensure!(discard(&lower, sector, 4096, false)? == BlkStatus::IOERR);
            ensure!(discard(&lower, sector, 4096, true)? == BlkStatus::IOERR);
        }
        // Discards must be whole sectors.
        ensure!(discard(&lower, 0, 0, false)? == BlkStatus::IOERR);
        ensure!(discard(&lower, 0, 100, true)? == BlkStatus::IOERR);
        // None of it reached the device.
        ensure!(ram.requests() == before);

        // The last sectors themselves are fine.
        let (_, st) = BufIo::run(buf_with(&data)?, |io| {
            lower.write_buf(end - 8, WriteFlags::default(), io)
        })?;
        ensure!(st == BlkStatus::OK && ram.holds(end - 8, &data));
        Ok(())
    }

    #[test]
    fn flush_and_discard() -> Result {
        let _fs = InitFs::new();
        let ram = RamDisk::new()?;
        let _close = CloseDeferred;
        let lower = open_lower(c"/dev/drbdrs-bio0")?;

        let flushes = ram.ram.flushes.load(Ordering::Relaxed);
        lower.flush_sync()?;
        ensure!(ram.ram.flushes.load(Ordering::Relaxed) == flushes + 1);

        let data = pattern(5, 64 << 10)?;
        lower.write_buf_sync(100, &buf_with(&data)?, WriteFlags::default())?;
        ensure!(discard(&lower, 104, 8192, false)? == BlkStatus::OK);
        ensure!(ram.ram.discards.load(Ordering::Relaxed) >= 1);
        ensure!(ram.holds(100, &data[..2048]));
        ensure!(ram.holds_fill(104, 8192, DISCARDED));
        ensure!(ram.holds(120, &data[10240..]));

        ensure!(discard(&lower, 130, 512 * 3, true)? == BlkStatus::OK);
        ensure!(ram.ram.zeroes.load(Ordering::Relaxed) >= 1);
        ensure!(ram.holds_fill(130, 512 * 3, 0));
        ensure!(ram.holds(133, &data[33 * 512..]));
        ensure!(ram.holds(120, &data[10240..130 * 512 - 100 * 512]));

        // Larger than one request (1 MiB limit): split by the block layer.
        ensure!(discard(&lower, 0, RAM_BYTES as u32, true)? == BlkStatus::OK);
        ensure!(ram.holds_fill(0, RAM_BYTES, 0));
        Ok(())
    }

    #[test]
    fn zeroes_without_write_zeroes() -> Result {
        let _fs = InitFs::new();
        let params = QueueParams {
            max_discard_sectors: 0,
            max_write_zeroes_sectors: 0,
            ..PARAMS
        };
        let ram = RamDisk::with(2, &params)?;
        let _close = CloseDeferred;
        let lower = open_lower(c"/dev/drbdrs-bio2")?;
        ensure!(lower.file().max_write_zeroes_sectors() == 0);
        let data = pattern(7, 2 << 20)?;
        lower.write_buf_sync(0, &buf_with(&data[..MAX_BUF_BYTES])?, WriteFlags::default())?;
        let second = &data[MAX_BUF_BYTES..];
        lower.write_buf_sync(2048, &buf_with(second)?, WriteFlags::default())?;

        // 1 MiB and 9 sectors of zero pages (the last one partly), from an odd sector.
        let (start, bytes) = (3u64, MAX_BUF_BYTES + 9 * 512);
        ensure!(discard(&lower, start, bytes as u32, true)? == BlkStatus::OK);
        ensure!(ram.ram.zeroes.load(Ordering::Relaxed) == 0);
        ensure!(ram.holds(0, &data[..3 * 512]));
        ensure!(ram.holds_fill(start, bytes, 0));
        let end = 3 * 512 + bytes;
        ensure!(ram.holds(start + (bytes / 512) as u64, &data[end..]));

        // Nothing to fall back to for a discard.
        ensure!(discard(&lower, 0, 4096, false)? == BlkStatus::NOTSUPP);
        ensure!(ram.ram.discards.load(Ordering::Relaxed) == 0);
        Ok(())
    }

    #[test]
    fn requests_for_an_owner() -> Result {
        let _fs = InitFs::new();
        let ram = RamDisk::new()?;
        let _close = CloseDeferred;
        let counts = Arc::new(
            Counts {
                queued: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                ended: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
            },
            GFP_KERNEL,
        )?;
        let pass = Arc::new(
            Pass {
                lower: open_lower(c"/dev/drbdrs-bio0")?,
                counts: counts.clone(),
            },
            GFP_KERNEL,
        )?;
        let disk = Disk::new(MINOR_BASE + 1, fmt!("drbdrs-bio1"), false, &PARAMS, pass)?;
        disk.set_limits(&PARAMS)?;
        // Larger than the RAM disk: the end of it is beyond the backing device.
        disk.set_capacity(RAM_SECTORS + 2048);
        let _close_upper = CloseDeferred;
        {
            let upper = open_lower(c"/dev/drbdrs-bio1")?;
            // 1 MiB writes and reads through /dev/drbdrs-bio1: 128 KiB requests.
            for (i, sector) in [0u64, 77, RAM_SECTORS - 2048].into_iter().enumerate() {
                let data = pattern(i as u64 + 40, MAX_BUF_BYTES)?;
                let flags = WriteFlags {
                    fua: i == 1,
                    preflush: i == 2,
                };
                upper.write_buf_sync(sector, &buf_with(&data)?, flags)?;
                ensure!(ram.holds(sector, &data));
                let mut back = PageBuf::alloc(MAX_BUF_BYTES)?;
                upper.read_buf_sync(sector, &mut back)?;
                ensure!(contents(&back)?[..] == data[..]);
            }
            ensure!(counts.queued.load(Ordering::Relaxed) >= 2 * 3 * 8);

            let flushes = ram.ram.flushes.load(Ordering::Relaxed);
            upper.flush_sync()?;
            ensure!(ram.ram.flushes.load(Ordering::Relaxed) > flushes);
            ensure!(discard(&upper, 8, 4096, false)? == BlkStatus::OK);
            ensure!(ram.holds_fill(8, 4096, DISCARDED));
            ensure!(discard(&upper, 16, 4096, true)? == BlkStatus::OK);
            ensure!(ram.holds_fill(16, 4096, 0));
            ensure!(counts.failed.load(Ordering::Relaxed) == 0);

            // Past the end of the RAM disk but inside /dev/drbdrs-bio1: each request is
            // refused by `submit_request` and ended with an error by its owner.
            let before = ram.requests();
            let data = pattern(9, 64 << 10)?;
            let flags = WriteFlags::default();
            let r = upper.write_buf_sync(RAM_SECTORS, &buf_with(&data)?, flags);
            ensure!(r.is_err());
            ensure!(discard(&upper, RAM_SECTORS + 8, 4096, false)? != BlkStatus::OK);
            ensure!(ram.requests() == before);
            ensure!(counts.failed.load(Ordering::Relaxed) >= 2);
        }
        // Every request: one completion, and ended exactly once, by its owner's drop.
        let queued = counts.queued.load(Ordering::Relaxed);
        ensure!(counts.done.load(Ordering::Acquire) == queued);
        ensure!(counts.ended.load(Ordering::Acquire) == queued);
        Ok(())
    }
}
