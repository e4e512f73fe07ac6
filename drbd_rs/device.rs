// SPDX-License-Identifier: GPL-2.0

//! A DRBD device (one volume, `/dev/drbdN`) on this node: its gendisk, its role and disk state,
//! and its backing device with the meta-data on it. Safe Rust only; the kernel interfaces are
//! in `sys`, the state rules in `core::state`.
//!
//! What works so far is the standalone half of DRBD: attach a backing device with v08
//! meta-data (internal, flexible external or indexed), become Primary (with `--force` on data
//! that is not UpToDate, which starts a new data generation), serve I/O by passing requests
//! through to the backing device, become Secondary, detach. Replication, the activity log and
//! the bitmap come later; until then a clean detach writes the superblock back with the v08
//! magic and [`MDF_AL_CLEAN`], since there is no activity log to apply (the C module leaves it
//! marked unclean and relies on `drbdadm apply-al` before the next attach).
//!
//! Locking: configuration requests (attach, detach, role changes) are serialised by
//! `Device::cfg`, which may be held across meta-data I/O. What the I/O path and `open` need
//! (state, open count, the backing device) is in `DeviceIo::st`, a spinlock held only for
//! copies, so `open(2)` and `queue_rq` never wait for meta-data I/O. A role change checks and
//! commits under `st`, so no open can slip between the check and the change.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::{
        new_condvar, new_mutex, new_spinlock, new_spinlock_irq, Arc, CondVar, Mutex, SpinLock,
        SpinLockIrq,
    },
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

use crate::connection::{Connection, Session};
use crate::drbd_core::{
    bitmap_codec::{BitmapPacket, Step, WordBitmap, XferCtx},
    genl::{limits, ConnState, DiskState, Fencing, OnIoError, RetCode, Role, StateRv},
    oos, packets,
    uuid::PeerUuids,
    meta::{
        MetaDisk, MetaError, Superblock, AL_EXTENT_SIZE, DRBD_MD_MAGIC_08,
        DRBD_MD_MAGIC_84_UNCLEAN, MDF_AL_CLEAN, MDF_FULL_SYNC, MD_128MB_SECT, MD_4KB_SECT,
        MIN_FLEX_MD_DEVICE_SECTORS, MD_BLOCK_SIZE, AL_CONTEXT_PER_TRANSACTION, UI_CURRENT, UI_SIZE, Layout,
    },
    state::{self, ChangeFlags, DrbdRet, NetEnv, OpenRefusal, State, StateEnv, DRBD_MAX_BIO_SIZE_SAFE},
    uuid,
};
use crate::io::actlog::{self, ActivityLog, AlHost, AlRef, Begin};
use crate::request::Req;
use crate::io::writes::{self, InFlight, Ready};

mod admin;
pub(crate) use admin::AdminRequest;
pub(crate) mod events;
pub(crate) mod ov_state;
pub(crate) mod announce;
use crate::sys::{
    self,
    bdev::{BdevFile, IoErrorSink, LocalIoError, LocalIoOp, LowerDev, MdBlock},
    disk::{BlkStatus, Disk, DiskOps, IoRequest, QueueParams, ReqOp, BLK_MAX_SEGMENTS},
};

/// Holder identity of indexed external meta-data devices, which several minors share (the C
/// module's `drbd_m_holder`).
static SHARED_MD_HOLDER: u8 = 0;

/// A copy of what status reports need, taken under one lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeviceStatus {
    /// Role, connection and disk states.
    pub(crate) state: State,
    /// Size of `/dev/drbdN` in sectors.
    pub(crate) size_sectors: u64,
    /// Sectors read from the backing device since attach (`dr:` in /proc/drbd, there in KiB).
    pub(crate) read_sectors: u64,
    /// Sectors written to the backing device since attach (`dw:`).
    pub(crate) written_sectors: u64,
    /// Openers of `/dev/drbdN`.
    #[cfg_attr(not(drbd_rs_kunit), allow(dead_code))]
    pub(crate) open_count: u32,
    /// The generation UUIDs, while attached.
    pub(crate) uuids: Option<[u64; UI_SIZE]>,
    /// The meta-data flags (`MDF_*`), while attached.
    pub(crate) md_flags: Option<u32>,
    /// The `on-io-error` policy, while attached.
    #[cfg_attr(not(drbd_rs_kunit), allow(dead_code))]
    pub(crate) on_io_error: Option<OnIoError>,
    /// The current UUID of the data last exposed while the disk was at least Consistent
    /// (`ed_uuid`), 0 if none.
    pub(crate) ed_uuid: u64,
}

/// What the I/O path, `open` and status readers share.
struct IoState {
    state: State,
    open_count: u32,
    /// The backing device, while attached and not detaching.
    lower: Option<Arc<LowerDev>>,
    /// `queue_rq` calls holding a reference to `lower`.
    users: u32,
    size_sectors: u64,
    uuids: Option<[u64; UI_SIZE]>,
    md_flags: Option<u32>,
    on_io_error: Option<OnIoError>,
    /// The disk's `fencing` policy (`dont-care` while diskless).
    fencing: Fencing,
    ed_uuid: u64,
    /// The activity log of the attached disk (until detach finished).
    al: Option<Arc<ActivityLog>>,
    /// Where meta-data write errors go, while attached.
    errors: Option<Arc<IoErrors>>,
}

/// How far a write got with the activity log and the writes in flight.
enum AlStage {
    /// Not asked yet (from `queue_rq`).
    Begin,
    /// A postponed write starting again (`P_RETRY_WRITE`): like `Begin`, but not counted
    /// again in the statistics.
    Restart,
    /// Its extents are active (or it goes on without the log: `None`).
    Ready(Option<AlRef>),
    /// It was parked behind an overlapping write and may go now: it is registered among the
    /// writes in flight under this id.
    Started(u64, Option<AlRef>),
}

/// The part of a device the gendisk callbacks use; the gendisk holds a reference to it.
#[pin_data]
struct DeviceIo {
    minor: u32,
    #[pin]
    st: SpinLock<IoState>,
    /// Notified when `users` drops to 0.
    #[pin]
    idle: CondVar,
    read_sectors: AtomicU64,
    written_sectors: AtomicU64,
    /// The connection this volume replicates over, and its volume number there.
    #[pin]
    peer: SpinLock<Option<(Arc<Connection>, u16)>>,
    /// The out-of-sync bitmap (one bit per 4 KiB block of the device).
    #[pin]
    bm: SpinLock<OosBitmap>,
    /// Sectors sent to / received from the peer.
    send_sectors: AtomicU64,
    recv_sectors: AtomicU64,
    /// Resync: bits out of sync at its start, and blocks that failed.
    rs_total: AtomicU64,
    rs_failed: AtomicU64,
    /// Resync sectors answered since the request thread last looked.
    rs_sect_in: AtomicU32,
    /// The running resync was finished (set by the one caller of `finish_resync` that does).
    rs_finished: AtomicBool,
    /// "neither local nor remote data" lines logged.
    no_data_log: AtomicU32,
    /// The resync interlock (the C module's resync extents, at device granularity):
    /// application writes in flight (from before their local write and `P_DATA` until both
    /// are done), application writes waiting for resync I/O, resync reads a SyncSource
    /// serves (until the reply is sent), resync requests a SyncTarget has outstanding.
    app_inflight: AtomicU32,
    app_waiting: AtomicU32,
    rs_reads: AtomicU32,
    rs_outstanding: AtomicU32,
    /// Writes in flight while replicated, for conflict detection (`crate::io::writes`).
    #[pin]
    writes: InFlight,
    /// Starts parked and restarted writes in process context.
    #[pin]
    writes_work: Work<DeviceIo>,
    /// New application I/O held while I/O is suspended (`suspend-io`).
    #[pin]
    held: SpinLockIrq<HeldIo>,
    /// This object, for queueing `writes_work` from `&self`; set by [`Device::new`] and
    /// taken by the `Device`'s drop (which breaks the cycle; no I/O comes after it).
    #[pin]
    me: SpinLockIrq<Option<Arc<DeviceIo>>>,
}

impl_has_work! {
    impl HasWork<Self> for DeviceIo { self.writes_work }
}

/// Application I/O held by `suspend-io` (the C module's `inc_ap_bio` waiting while
/// `drbd_suspended`): it starts, in arrival order, on `resume-io`.
struct HeldIo {
    suspended: bool,
    /// Room for every request of the tag set, so holding one never allocates.
    requests: KVec<IoRequest>,
}

impl WorkItem for DeviceIo {
    type Pointer = Arc<DeviceIo>;

    fn run(this: Arc<DeviceIo>) {
        while let Some(r) = this.writes.take_ready() {
            match r {
                Ready::Parked(id, rq, al) => this.dispatch(rq, AlStage::Started(id, al)),
                Ready::Restart(rq) => this.dispatch(rq, AlStage::Restart),
            }
        }
    }
}

/// The out-of-sync bitmap's storage.
struct OosBitmap {
    words: KVVec<u64>,
    bits: u64,
}

impl DiskOps for DeviceIo {
    fn open(&self, write: bool) -> Result {
        let mut st = self.st.lock();
        match state::may_open(st.state.role, write, false) {
            Ok(()) => {
                st.open_count += 1;
                Ok(())
            }
            Err(OpenRefusal::ReadOnly) => Err(EROFS),
            Err(OpenRefusal::WrongMediumType) => Err(EMEDIUMTYPE),
        }
    }

    fn release(&self) {
        let mut st = self.st.lock();
        st.open_count = st.open_count.saturating_sub(1);
    }

    fn queue_rq(&self, rq: IoRequest) {
        let rq = {
            let mut held = self.held.lock();
            if held.suspended {
                match held.requests.push_within_capacity(rq) {
                    Ok(()) => return,
                    // More requests than the tag set has: cannot happen.
                    Err(e) => e.0,
                }
            } else {
                rq
            }
        };
        self.dispatch(rq, AlStage::Begin);
    }

    fn freed(&self) {
        // No request is left to start: the work item's reference cycle can go.
        let me = self.me.lock().take();
        drop(me);
    }
}

impl AlHost for DeviceIo {
    fn bitmap_block(&self, index: u64, out: &mut [u8; MD_BLOCK_SIZE]) {
        let bm = self.bm.lock();
        let first = (index as usize).saturating_mul(actlog::WORDS_PER_BM_BLOCK);
        for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
            let w = bm.words.get(first.saturating_add(i)).copied().unwrap_or(0);
            chunk.copy_from_slice(&w.to_le_bytes());
        }
    }

    fn continue_write(&self, rq: IoRequest, r: Option<AlRef>) {
        self.dispatch(rq, AlStage::Ready(r));
    }

    fn md_io_error(&self) {
        let errors = self.st.lock().errors.clone();
        if let Some(e) = errors {
            IoErrors::raise(&e, ERR_META);
        }
    }
}

impl DeviceIo {
    /// Runs a request (from `queue_rq`, or again once the activity log took its write).
    fn dispatch(&self, rq: IoRequest, stage: AlStage) {
        let first_pass = matches!(stage, AlStage::Begin);
        let op = rq.op();
        let is_write = matches!(op, ReqOp::Write | ReqOp::Discard | ReqOp::WriteZeroes);
        let (lower, al) = {
            let mut st = self.st.lock();
            // `may_do_writes`: the local disk takes writes only while the data here or on the
            // peer is UpToDate (after `on-io-error pass_on` made it Inconsistent, say).
            let lower = st.lower.clone().filter(|_| {
                !is_write
                    || st.state.disk == DiskState::UpToDate
                    || st.state.pdsk == DiskState::UpToDate
            });
            if lower.is_some() {
                st.users += 1;
            }
            (lower, st.al.clone())
        };
        if lower.is_none() && is_write && self.replicating_session().is_none() {
            // Diskless, detaching, or data not good enough to write to, and no peer to take it.
            if self.no_data_log.fetch_add(1, Ordering::Relaxed) < NO_DATA_LOG_MAX {
                pr_err!(
                    "drbd{}: IO ERROR: neither local nor remote data, sector {}+{}\n",
                    self.minor,
                    rq.sector(),
                    rq.bytes() >> 9
                );
            }
            if let AlStage::Started(id, _) = stage {
                self.end_write(id);
            }
            return rq.end(BlkStatus::IOERR);
        }
        let sectors = if first_pass { u64::from(rq.bytes()) >> 9 } else { 0 };
        match op {
            ReqOp::Read if lower.is_some() => {
                self.read_sectors.fetch_add(sectors, Ordering::Relaxed)
            }
            ReqOp::Write if lower.is_some() => {
                self.written_sectors.fetch_add(sectors, Ordering::Relaxed)
            }
            _ => 0,
        };
        match op {
            ReqOp::Write | ReqOp::Discard | ReqOp::WriteZeroes => {
                self.write(rq, lower.as_ref(), al.as_ref(), stage)
            }
            ReqOp::Read => self.read(rq, lower.as_ref()),
            ReqOp::Flush => {
                if let Some((s, _)) = self.replicating_session() {
                    let _ = s.close_epoch();
                }
                match lower.as_ref() {
                    Some(l) => l.submit(rq),
                    // Diskless: the peer flushes at the barrier just sent.
                    None => rq.end(BlkStatus::OK),
                }
            }
            _ => match lower.as_ref() {
                Some(l) => l.submit(rq),
                None => rq.end(BlkStatus::IOERR),
            },
        }
        // Our reference goes before `users` does, so a detach waiting for `users == 0` holds
        // the last one and closes the backing device itself, never a `queue_rq` (which may run
        // inside another `submit_bio` and must not wait for its own bios).
        if let Some(lower) = lower {
            drop(lower);
            let mut st = self.st.lock();
            st.users -= 1;
            if st.users == 0 {
                self.idle.notify_all();
            }
        }
    }
}

/// "neither local nor remote data" lines logged per device at most (the C module rate-limits).
const NO_DATA_LOG_MAX: u32 = 20;

impl DeviceIo {
    fn state(&self) -> State {
        self.st.lock().state
    }

    /// The session to replicate writes over, if the peer's disk follows ours
    /// (`drbd_should_do_remote`).
    fn replicating_session(&self) -> Option<(Arc<Session>, u16)> {
        let st = self.state();
        let follows = st.pdsk == DiskState::UpToDate
            || (st.pdsk.raw() >= DiskState::Inconsistent.raw()
                && st.conn.raw() >= ConnState::WfBitMapT.raw()
                && st.conn.raw() < ConnState::Ahead.raw());
        if !follows || st.conn.raw() < ConnState::Connected.raw() {
            return None;
        }
        let (conn, vnr) = self.peer.lock().clone()?;
        let s = conn.session()?;
        Some((s, vnr))
    }

    /// A write (or discard): to the local disk, and to the peer when it follows; otherwise
    /// its blocks are out of sync. Without a local disk only the peer gets it.
    ///
    /// A local write first needs its extents in the activity log; if that takes a transaction,
    /// the request waits there and comes back through [`DeviceIo::dispatch`].
    fn write(
        &self,
        rq: IoRequest,
        lower: Option<&Arc<LowerDev>>,
        al: Option<&Arc<ActivityLog>>,
        stage: AlStage,
    ) {
        let mut started = None;
        let (rq, al_ref) = match (lower, stage, al) {
            (_, AlStage::Started(id, r), _) => {
                started = Some(id);
                (rq, r)
            }
            (None, _, _) => (rq, None),
            (Some(_), AlStage::Ready(r), _) => (rq, r),
            (Some(_), AlStage::Begin | AlStage::Restart, Some(al)) => match al.begin(rq) {
                Begin::Go(rq, r) => (rq, r),
                Begin::Queued => return,
            },
            (Some(_), AlStage::Begin | AlStage::Restart, None) => (rq, None),
        };
        // A local write the activity log does not cover is marked out of sync before it
        // starts: the bit reaches the disk with the bitmap, so a crash cannot hide it.
        if lower.is_some() && al_ref.is_none() {
            self.oos_set(rq.sector(), rq.bytes());
        }
        let session = self.replicating_session();
        let (s, vnr) = match (session, lower) {
            (Some(x), _) if rq.op() != ReqOp::WriteZeroes || lower.is_none() => x,
            (_, lower) => {
                // Not replicated (any more): no conflict to avoid.
                if let Some(id) = started {
                    self.end_write(id);
                }
                let Some(lower) = lower else {
                    return rq.end(BlkStatus::IOERR);
                };
                // Out of sync before the write starts, while its extents are active: the bit
                // is on disk (with the bitmap block written when the extent leaves the log)
                // or its extent is in the log, so the reference is not needed any longer.
                self.oos_set(rq.sector(), rq.bytes());
                drop(al_ref);
                return lower.submit(rq);
            }
        };
        // No two overlapping writes are in flight at once (`complete_conflicting_writes`):
        // one that overlaps a write still in flight, ours or the peer's, waits for it, parked
        // (the hardware context goes on), and comes back through the work item.
        let (ws_id, rq, al_ref) = match started {
            Some(id) => (id, rq, al_ref),
            None => match self.writes.begin_local(rq, al_ref) {
                writes::Begin::Go(id, rq, al) => (id, rq, al),
                writes::Begin::Parked => return,
            },
        };
        let bytes = rq.bytes();
        self.enter_app_write();
        // On failure the `Req` was dropped inside `Req::new`: that ended the request with an
        // error, left the resync interlock (`app_write_done`) and the writes in flight.
        let Ok(req) = Req::new(rq, s.conn.clone(), vnr, true, al_ref, ws_id) else {
            return;
        };
        match lower {
            Some(lower) => lower.submit_request(req.clone()),
            // No local write to wait for.
            None => self.writes.set_local_done(ws_id),
        }
        if s.send_write(vnr, &req, s.protocol).is_err() {
            if lower.is_some() {
                self.oos_set(req.sector, req.bytes);
            } else {
                req.fail();
            }
        } else {
            self.send_sectors.fetch_add(u64::from(bytes) >> 9, Ordering::Relaxed);
        }
    }

    /// Whether a read of `bytes` at `sector` may be served by the local disk
    /// (`drbd_may_do_local_read`): UpToDate data, or Inconsistent data whose blocks there are
    /// not out of sync.
    fn may_read_locally(&self, sector: u64, bytes: u32) -> bool {
        let st = self.state();
        if st.disk == DiskState::UpToDate {
            return true;
        }
        if st.disk != DiskState::Inconsistent {
            return false;
        }
        let Some((a, b)) = oos::touched_bits(sector, bytes) else {
            return true;
        };
        let bm = self.bm.lock();
        oos::next_set(&bm.words, bm.bits, a).is_none_or(|n| n > b)
    }

    /// A read: from the local disk when its data is good there, else from an UpToDate peer
    /// (`P_DATA_REQUEST`), else an I/O error, as the C module does.
    fn read(&self, rq: IoRequest, lower: Option<&Arc<LowerDev>>) {
        if let Some(l) = lower {
            if self.may_read_locally(rq.sector(), rq.bytes()) {
                return l.submit(rq);
            }
        }
        let peer = {
            let st = self.state();
            if st.conn.raw() >= ConnState::Connected.raw() && st.pdsk == DiskState::UpToDate {
                self.peer
                    .lock()
                    .clone()
                    .and_then(|(c, vnr)| c.session().map(|s| (s, vnr)))
            } else {
                None
            }
        };
        match (peer, lower) {
            (Some((s, vnr)), _) => {
                let Ok(req) = Req::new(rq, s.conn.clone(), vnr, false, None, 0) else {
                    return;
                };
                if s.send_read(vnr, &req).is_err() {
                    req.fail();
                }
            }
            // "IO ERROR: neither local nor remote data".
            _ => rq.end(BlkStatus::IOERR),
        }
    }

    /// Counts an application write in the resync interlock; while a resync runs it first
    /// waits for the resync reads (SyncSource) or requests (SyncTarget) in flight, so the two
    /// never pass each other on the wire or on a disk.
    fn enter_app_write(&self) {
        let mut waiting = false;
        loop {
            self.app_inflight.fetch_add(1, Ordering::SeqCst);
            let busy = match self.state().conn {
                ConnState::SyncSource | ConnState::PausedSyncS => {
                    self.rs_reads.load(Ordering::SeqCst) != 0
                }
                ConnState::SyncTarget | ConnState::PausedSyncT => {
                    self.rs_outstanding.load(Ordering::SeqCst) != 0
                }
                // Online verify: blocks being compared (`crate::sync::verify`).
                ConnState::VerifyS | ConnState::VerifyT => {
                    self.rs_outstanding.load(Ordering::SeqCst) != 0
                }
                _ => false,
            };
            if !busy {
                break;
            }
            self.app_inflight.fetch_sub(1, Ordering::SeqCst);
            if !waiting {
                waiting = true;
                self.app_waiting.fetch_add(1, Ordering::SeqCst);
            }
            crate::sys::thread::sleep_ms(1);
        }
        if waiting {
            self.app_waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Marks the blocks `bytes` at `sector` touches out of sync.
    pub(crate) fn oos_set(&self, sector: u64, bytes: u32) {
        if let Some((a, b)) = oos::touched_bits(sector, bytes) {
            let mut bm = self.bm.lock();
            let n = bm.bits;
            oos::change_bits(&mut bm.words, n, a, b, true);
        }
    }

    /// Marks the blocks `bytes` at `sector` fully covers in sync.
    pub(crate) fn oos_clear(&self, sector: u64, bytes: u32) {
        let capacity = self.st.lock().size_sectors;
        if let Some((a, b)) = oos::covered_bits_in(sector, bytes, capacity) {
            let mut bm = self.bm.lock();
            let n = bm.bits;
            oos::change_bits(&mut bm.words, n, a, b, false);
        }
    }

    /// Bits set.
    pub(crate) fn oos_weight(&self) -> u64 {
        let bm = self.bm.lock();
        oos::weight(&bm.words, bm.bits)
    }

    /// Local write `id` left the writes in flight; parked writes it held may go now.
    fn end_write(&self, id: u64) {
        if self.writes.end(id) {
            self.kick_writes();
        }
    }

    /// Has the work item start the writes that are ready. May be called in interrupt
    /// context.
    fn kick_writes(&self) {
        let me = self.me.lock().clone();
        if let Some(me) = me {
            // Already queued: the queued run takes these too.
            let _ = workqueue::system_long().enqueue(me);
        }
    }
}

/// An attached backing device and its meta-data.
struct Ldev {
    lower: Arc<LowerDev>,
    md_file: Arc<BdevFile>,
    /// The activity log, which also writes the on-disk bitmap.
    al: Arc<ActivityLog>,
    meta_disk: MetaDisk,
    md_offset: u64,
    /// The in-core superblock; written back on every change.
    sb: Superblock,
    buf: MdBlock,
    crashed_primary: bool,
    /// Sectors the backing device can hold for data (`drbd_get_max_capacity`).
    my_max: u64,
    /// Where the data path reports its errors.
    errors: Arc<IoErrors>,
}

/// `IoErrors::pending`: a read failed.
const ERR_READ: u32 = 1 << 0;
/// `IoErrors::pending`: a write failed.
const ERR_WRITE: u32 = 1 << 1;
/// `IoErrors::pending`: a meta-data write failed.
const ERR_META: u32 = 1 << 2;

/// The local I/O errors of one attachment (`__drbd_chk_io_error`). The data path's completions
/// (interrupt context) only record what failed and queue the work item; the work item finds
/// the device by its minor and applies the `on-io-error` policy in process context
/// ([`Device::local_io_errors`]).
#[pin_data]
pub(crate) struct IoErrors {
    minor: u32,
    /// `ERR_*` bits not yet handled.
    pending: AtomicU32,
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

    fn new(minor: u32) -> Result<Arc<IoErrors>> {
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
    fn raise(this: &Arc<IoErrors>, bits: u32) {
        this.pending.fetch_or(bits, Ordering::AcqRel);
        // Already queued: it handles these bits too.
        let _ = workqueue::system_long().enqueue(this.clone());
    }

    fn may_log(&self) -> bool {
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
struct ErrorSink(Arc<IoErrors>);

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
struct DetachWork {
    dev: Arc<Device>,
    #[pin]
    ldev: SpinLock<Option<Ldev>>,
    #[pin]
    work: Work<DetachWork>,
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

/// What this node knows of the peer's view of a volume, and the resync in progress.
#[derive(Default)]
pub(crate) struct PeerInfo {
    uuids: Option<PeerUuids>,
    consider_resync: bool,
    peer_resync_rate: u32,
    /// Bitmap transfer in progress (receive side).
    bm_rx: Option<XferCtx>,
    /// Resync: bits at the start, failed blocks, next bit to ask for, requests in flight,
    /// start time (jiffies in ms).
    rs_cursor: u64,
    rs_inflight: u32,
    /// The SyncTarget's request thread.
    rs_ticker: Option<crate::sys::thread::KThread>,
    rs_start_ms: u64,
    /// Time the resync spent paused, and since when it is paused (ms).
    rs_paused_ms: u64,
    rs_paused_since: Option<u64>,
    /// An `invalidate`/`invalidate-remote` of this node waits for the peer's consent or is
    /// entering the full sync.
    full_sync_pending: bool,
}

/// Configuration state, serialised by `Device::cfg`.
struct Config {
    ldev: Option<Ldev>,
}

/// A DRBD device: `/dev/drbd<minor>`, its state and its backing device.
#[pin_data(PinnedDrop)]
pub(crate) struct Device {
    minor: u32,
    // Dropped before `io`: the gendisk's teardown waits for I/O that still uses `io`.
    disk: Disk<DeviceIo>,
    io: Arc<DeviceIo>,
    #[pin]
    cfg: Mutex<Config>,
    #[pin]
    peer_info: Mutex<PeerInfo>,
    #[pin]
    sync_param: SpinLock<packets::SyncParam>,
    /// Online verify and checksum-resync bookkeeping (`crate::sync::verify`).
    pub(crate) ov: ov_state::OvState,
    /// Notified (with `io.st`) when a detach finished in a worker reaches Diskless.
    #[pin]
    detached: CondVar,
    /// `al-extents` of the next attach (from its disk options).
    al_extents: AtomicU32,
}

fn disk_at_least(a: DiskState, b: DiskState) -> bool {
    a.raw() >= b.raw()
}

/// Queue limits without a backing device. The C module starts with 8 KiB requests and lets
/// attach (or connect) raise it.
const DISKLESS_LIMITS: QueueParams<'static> = QueueParams {
    lower: None,
    max_hw_sectors: DRBD_MAX_BIO_SIZE_SAFE >> 8,
    max_segments: BLK_MAX_SEGMENTS,
    max_discard_sectors: 0,
    max_write_zeroes_sectors: 0,
};

impl Device {
    /// Creates `/dev/drbd<minor>`: Secondary, StandAlone, Diskless, size 0, read-only.
    pub(crate) fn new(minor: u32) -> Result<Arc<Device>> {
        let writes = InFlight::new()?;
        let held_requests = KVec::with_capacity(sys::disk::QUEUE_DEPTH as usize, GFP_KERNEL)?;
        let io = Arc::pin_init(
            pin_init!(DeviceIo {
                minor,
                st <- new_spinlock!(IoState {
                    state: State::UNCONFIGURED,
                    open_count: 0,
                    lower: None,
                    users: 0,
                    size_sectors: 0,
                    uuids: None,
                    md_flags: None,
                    on_io_error: None,
                    fencing: Fencing::DontCare,
                    ed_uuid: 0,
                    al: None,
                    errors: None,
                }),
                idle <- new_condvar!(),
                read_sectors: AtomicU64::new(0),
                written_sectors: AtomicU64::new(0),
                peer <- new_spinlock!(None),
                bm <- new_spinlock!(OosBitmap { words: KVVec::new(), bits: 0 }),
                send_sectors: AtomicU64::new(0),
                recv_sectors: AtomicU64::new(0),
                rs_total: AtomicU64::new(0),
                rs_failed: AtomicU64::new(0),
                rs_sect_in: AtomicU32::new(0),
                rs_finished: AtomicBool::new(false),
                no_data_log: AtomicU32::new(0),
                app_inflight: AtomicU32::new(0),
                app_waiting: AtomicU32::new(0),
                rs_reads: AtomicU32::new(0),
                rs_outstanding: AtomicU32::new(0),
                writes <- writes,
                writes_work <- new_work!("DeviceIo::writes_work"),
                held <- new_spinlock_irq!(HeldIo {
                    suspended: false,
                    requests: held_requests,
                }),
                me <- new_spinlock_irq!(None),
            }),
            GFP_KERNEL,
        )?;
        *io.me.lock() = Some(io.clone());
        let disk = match Disk::new(
            minor,
            fmt!("{}{}", crate::disk_name_prefix(), minor),
            true,
            &DISKLESS_LIMITS,
            io.clone(),
        ) {
            Ok(disk) => disk,
            Err(e) => {
                // No gendisk, so no `freed()`: break the cycle here.
                let me = io.me.lock().take();
                drop(me);
                return Err(e);
            }
        };
        Arc::pin_init(
            try_pin_init!(Device {
                minor,
                io,
                disk,
                cfg <- new_mutex!(Config { ldev: None }),
                peer_info <- new_mutex!(PeerInfo::default()),
                sync_param <- new_spinlock!(packets::SyncParam {
                    resync_rate: limits::RESYNC_RATE_DEF as u32,
                    c_plan_ahead: limits::C_PLAN_AHEAD_DEF as u32,
                    c_delay_target: limits::C_DELAY_TARGET_DEF as u32,
                    c_fill_target: limits::C_FILL_TARGET_DEF as u32,
                    c_max_rate: limits::C_MAX_RATE_DEF as u32,
                    ..packets::SyncParam::default()
                }),
                detached <- new_condvar!(),
                al_extents: AtomicU32::new(limits::AL_EXTENTS_DEF as u32),
                ov: ov_state::OvState::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The minor number.
    pub(crate) fn minor(&self) -> u32 {
        self.minor
    }

    /// Role, connection and disk states.
    pub(crate) fn state(&self) -> State {
        self.io.state()
    }

    /// The local role.
    pub(crate) fn role(&self) -> Role {
        self.state().role
    }

    /// The local disk state.
    #[cfg_attr(not(drbd_rs_kunit), allow(dead_code))]
    pub(crate) fn disk_state(&self) -> DiskState {
        self.state().disk
    }

    /// Size of `/dev/drbdN` in sectors.
    pub(crate) fn size_sectors(&self) -> u64 {
        self.io.st.lock().size_sectors
    }

    /// Sectors read from the backing device since attach.
    pub(crate) fn read_sectors(&self) -> u64 {
        self.io.read_sectors.load(Ordering::Relaxed)
    }

    /// Sectors written to the backing device since attach.
    pub(crate) fn written_sectors(&self) -> u64 {
        self.io.written_sectors.load(Ordering::Relaxed)
    }

    /// The generation UUIDs (current, bitmap, two history), while attached.
    pub(crate) fn uuids(&self) -> Option<[u64; UI_SIZE]> {
        self.io.st.lock().uuids
    }

    /// The meta-data flags, while attached.
    #[cfg_attr(not(drbd_rs_kunit), allow(dead_code))]
    pub(crate) fn md_flags(&self) -> Option<u32> {
        self.io.st.lock().md_flags
    }

    /// Everything status reports show, consistently.
    pub(crate) fn status(&self) -> DeviceStatus {
        let st = self.io.st.lock();
        DeviceStatus {
            state: st.state,
            size_sectors: st.size_sectors,
            read_sectors: self.read_sectors(),
            written_sectors: self.written_sectors(),
            open_count: st.open_count,
            uuids: st.uuids,
            md_flags: st.md_flags,
            on_io_error: st.on_io_error,
            ed_uuid: st.ed_uuid,
        }
    }

    /// The identity this device claims its backing devices with.
    fn holder(&self) -> *const c_void {
        Arc::as_ptr(&self.io).cast()
    }

    /// What the state rules need of the network configuration, if the device has one.
    fn net_env(&self) -> Option<NetEnv> {
        let peer = self.io.peer.lock().clone();
        let (c, vnr) = peer?;
        let two_primaries = c.settings.lock().two_primaries;
        let agreed_pro_version = c.session().map_or(0, |s| s.agreed);
        let peer_primary_elsewhere = c
            .devices
            .iter()
            .any(|(v, d)| *v != vnr && d.state().peer == Role::Primary);
        let verify_alg = !c.settings.lock().verify_alg.is_empty();
        Some(NetEnv {
            two_primaries,
            peer_primary_elsewhere,
            verify_alg,
            agreed_pro_version,
        })
    }

    fn env(&self) -> StateEnv {
        let st = self.io.st.lock();
        StateEnv {
            open: st.open_count > 0,
            fencing: st.fencing,
            ..StateEnv::STANDALONE
        }
    }

    /// Attaches `lower` as backing device with meta-data on `meta` (the same device for
    /// internal meta-data, index -1 or -3; index -2 for flexible external, `n >= 0` for slot
    /// `n` of an indexed meta device), as `drbdsetup attach` does. Reads and checks the
    /// superblock, refusing unclean (`ERR_MD_UNCLEAN`: run `drbdadm apply-al`), missing or
    /// foreign meta-data (`ERR_MD_INVALID`), a meta-data device too small for its kind, a disk
    /// smaller than the device must be, and devices that cannot be opened or are in use
    /// (`ERR_OPEN_DISK`, `ERR_OPEN_MD_DISK`). Then marks the meta-data in use (the 8.4
    /// "unclean" magic, as the C module does), sets the disk state from the meta-data flags
    /// and the device's size.
    pub(crate) fn attach(
        &self,
        lower: &CStr,
        meta: &CStr,
        meta_index: i32,
        on_io_error: OnIoError,
    ) -> Result<(), DrbdRet> {
        let mut cfg = self.cfg.lock();
        let minor = self.minor;
        let os = self.io.state();
        if os.disk != DiskState::Diskless || cfg.ldev.is_some() {
            return Err(RetCode::DiskConfigured.into());
        }
        if os.conn.raw() >= ConnState::WfReportParams.raw() {
            // The C module negotiates a late attach with the peer (Negotiating and a sync
            // handshake); drbd-rs does not yet, and an attached disk the peer was not told
            // about could serve stale data. Attach before connecting.
            pr_err!(
                "drbd{}: attach while connected is not supported by drbd-rs yet; disconnect, attach, then connect\n",
                minor
            );
            return Err(RetCode::NetConfigured.into());
        }
        let meta_disk = MetaDisk::from_index(meta_index).map_err(|_| RetCode::MdIdxInvalid)?;

        let holder = self.holder();
        let lower_file = BdevFile::open(lower, holder).map_err(|e| {
            pr_err!(
                "drbd{}: open(\"{}\") failed with {}\n",
                minor,
                lower.to_str().unwrap_or("?"),
                e.to_errno()
            );
            RetCode::OpenDisk
        })?;
        let md_holder = if meta_index < 0 {
            holder
        } else {
            core::ptr::from_ref(&SHARED_MD_HOLDER).cast()
        };
        let md_file = BdevFile::open(meta, md_holder).map_err(|e| {
            pr_err!(
                "drbd{}: open(\"{}\") failed with {}\n",
                minor,
                meta.to_str().unwrap_or("?"),
                e.to_errno()
            );
            RetCode::OpenMdDisk
        })?;
        if lower_file.same_device(&md_file) != meta_disk.is_internal() {
            return Err(RetCode::MdIdxInvalid.into());
        }

        // Read the superblock where the meta-data kind puts it.
        let md_sectors = md_file.nr_sectors();
        let mut buf = MdBlock::new().map_err(|_| RetCode::Nomem)?;
        let md_offset = meta_disk
            .superblock_sector(md_sectors)
            .filter(|s| s.saturating_add(MD_4KB_SECT) <= md_sectors);
        let read = match md_offset {
            Some(sector) => md_file.read_block(sector, &mut buf).map(|()| sector),
            None => Err(EIO),
        };
        let md_offset = read.map_err(|_| {
            pr_err!("drbd{}: Error while reading metadata.\n", minor);
            RetCode::IoMdDisk
        })?;
        // Meta-data left in use (a crash, or the C module's detach) has an activity log to
        // apply; drbd-rs applies it below, as `drbdmeta apply-al` would, if the rest of the
        // superblock is sound.
        let decoded = match Superblock::decode(&buf[..]) {
            Err(MetaError::Unclean) => Superblock::parse(&buf[..]).and_then(|raw| {
                let mut clean = raw;
                clean.magic = DRBD_MD_MAGIC_08;
                clean.flags |= MDF_AL_CLEAN;
                clean.validate().map(|()| (raw, true))
            }),
            r => r.map(|sb| (sb, false)),
        };
        let (sb, unclean) = decoded.map_err(|e| {
            match e {
                MetaError::Unclean => pr_err!(
                    "drbd{}: Found unclean meta data. Did you \"drbdadm apply-al\"?\n",
                    minor
                ),
                MetaError::OldMagic07 => pr_err!(
                    "drbd{}: Found old (0.7) meta data magic. Did you \"drbdadm create-md\"?\n",
                    minor
                ),
                MetaError::BadMagic(_) => pr_err!(
                    "drbd{}: Meta data magic not found. Did you \"drbdadm create-md\"?\n",
                    minor
                ),
                e => pr_err!("drbd{}: invalid meta data: {:?}\n", minor, e),
            }
            DrbdRet::from(if e == MetaError::Unclean {
                RetCode::MdUnclean
            } else {
                RetCode::MdInvalid
            })
        })?;
        let mut sb = sb;
        if unclean {
            // From here on it is judged as the clean meta-data it becomes.
            sb.magic = DRBD_MD_MAGIC_08;
        }
        let layout = sb.layout_on(meta_disk, md_sectors).map_err(|e| {
            pr_err!(
                "drbd{}: meta data does not fit the device: {:?}\n",
                minor,
                e
            );
            RetCode::MdInvalid
        })?;
        let min_md_sectors = match meta_disk {
            MetaDisk::Indexed(n) => MD_128MB_SECT * (u64::from(n) + 1),
            _ => MIN_FLEX_MD_DEVICE_SECTORS,
        };
        if md_sectors < min_md_sectors {
            pr_warn!(
                "drbd{}: refusing attach: md-device too small, at least {} sectors needed for this meta-disk type\n",
                minor,
                min_md_sectors
            );
            return Err(RetCode::MdDiskTooSmall.into());
        }
        let my_max = layout.max_data_sectors(lower_file.nr_sectors());
        let size = state::attach_size(my_max, sb.la_size_sect, 0, self.disk.capacity(), sb.flags)
            .map_err(|e| {
            pr_err!(
                "drbd{}: refusing attach: disk can hold {} sectors, last agreed size {}\n",
                minor,
                my_max,
                sb.la_size_sect
            );
            e
        })?;
        // A diskless Primary may only get back the data it exposed.
        let ed_uuid = self.io.st.lock().ed_uuid;
        if os.role == Role::Primary && ed_uuid != 0 && (ed_uuid & !1) != (sb.uuids[UI_CURRENT] & !1)
        {
            pr_err!(
                "drbd{}: Can only attach to data with current UUID={:016X}\n",
                minor,
                ed_uuid
            );
            return Err(RetCode::DataNotCurrent.into());
        }

        // The state changes: Diskless -> Attaching -> what the meta-data says.
        let env = self.env();
        let attaching = state::change_state(
            &os,
            &State {
                disk: DiskState::Attaching,
                ..os
            },
            &env,
            ChangeFlags::Normal,
        )
        .map_err(|rv| self.refused(rv))?;
        let (disk, pdsk) = state::disk_state_on_attach(sb.flags, Fencing::DontCare);
        let ns = state::change_state(
            &attaching,
            &State {
                disk,
                pdsk: pdsk.unwrap_or(attaching.pdsk),
                ..attaching
            },
            &env,
            ChangeFlags::Normal,
        )
        .map_err(|rv| self.refused(rv))?;

        // The in-core meta-data while attached, as the C module writes it.
        let crashed_primary = state::crashed_primary_on_attach(sb.flags, os.role);
        let peer_max_bio = sb.la_peer_max_bio_size.max(DRBD_MAX_BIO_SIZE_SAFE);
        let mut md = sb;
        md.uuids[UI_CURRENT] = state::current_uuid_for_role(md.uuids[UI_CURRENT], ns.role);
        md.flags = state::md_flags_for_state(md.flags, &ns, crashed_primary);
        md.la_size_sect = size;
        md.magic = DRBD_MD_MAGIC_84_UNCLEAN;
        // As many slots as asked for, but no more than the ring can describe
        // (`drbd_al_extents_max`: all but one transaction of the ring's context).
        let al_max = (layout.al.size_4k().saturating_sub(1) * AL_CONTEXT_PER_TRANSACTION as u64)
            .clamp(limits::AL_EXTENTS_MIN as u64, limits::AL_EXTENTS_MAX as u64);
        let al_extents = u64::from(self.al_extents.load(Ordering::Relaxed))
            .min(al_max)
            .max(limits::AL_EXTENTS_MIN as u64) as u32;
        md.al_nr_extents = al_extents;
        md.la_peer_max_bio_size = peer_max_bio;

        let errors = IoErrors::new(minor).map_err(|_| RetCode::Nomem)?;
        let sink: Arc<dyn IoErrorSink> =
            Arc::new(ErrorSink(errors.clone()), GFP_KERNEL).map_err(|_| RetCode::Nomem)?;
        let lower = Arc::pin_init(LowerDev::new(lower_file, Some(sink)), GFP_KERNEL).map_err(|e| {
            pr_err!(
                "drbd{}: cannot set up the data path: {}\n",
                minor,
                e.to_errno()
            );
            RetCode::Nomem
        })?;
        let md_file = Arc::new(md_file, GFP_KERNEL).map_err(|_| RetCode::Nomem)?;
        let host: Arc<dyn AlHost> = self.io.clone();
        let (bits, grew) =
            self.load_bitmap(&md_file, &layout, sb.la_size_sect, size, unclean, &mut md)?;
        // Numbering must continue after the ring's newest transaction, or a later replay
        // would order ours before stale ones.
        let ring = actlog::replay(&md_file, &layout, false, |_| {}).map_err(|_| RetCode::Nomem)?;
        let al = ActivityLog::new(
            minor,
            layout,
            md_file.clone(),
            host,
            al_extents as usize,
            ring.next_tr,
        )
        .map_err(|_| RetCode::Nomem)?;
        if unclean || grew || md.flags & MDF_FULL_SYNC != 0 {
            // The bits the replay, a pending full sync or the growth set must be on disk
            // before the superblock stops asking for them (or records the new size).
            if al.write_bitmap(bits).is_err() {
                al.close();
                return Err(RetCode::IoMdDisk.into());
            }
            md.flags &= !MDF_FULL_SYNC;
        }
        // Mark the meta-data in use before any data can be written.
        md.encode(&mut buf);
        md_file.write_block(md_offset, &buf, true).map_err(|e| {
            pr_err!(
                "drbd{}: meta data update failed! ({})\n",
                minor,
                e.to_errno()
            );
            RetCode::IoMdDisk
        })?;

        let max_bio = state::max_bio_size(lower.file().max_hw_bytes(), peer_max_bio);
        pr_info!("drbd{}: max BIO size = {}\n", minor, max_bio);
        let params = QueueParams {
            lower: Some(lower.file()),
            max_hw_sectors: max_bio >> 9,
            max_segments: BLK_MAX_SEGMENTS,
            // DRBD 8.4 without a peer's feature flags: discards of up to one AL extent.
            max_discard_sectors: if lower.file().max_discard_sectors() != 0 {
                (AL_EXTENT_SIZE >> 9) as u32
            } else {
                0
            },
            max_write_zeroes_sectors: 0,
        };
        if let Err(e) = self.disk.set_limits(&params) {
            pr_err!(
                "drbd{}: setting new queue limits failed ({})\n",
                minor,
                e.to_errno()
            );
        }

        self.io.read_sectors.store(0, Ordering::Relaxed);
        self.io.written_sectors.store(0, Ordering::Relaxed);
        {
            let _frozen = self.disk.freeze();
            let mut st = self.io.st.lock();
            st.lower = Some(lower.clone());
            st.state = ns;
            st.size_sectors = size;
            st.uuids = Some(md.uuids);
            st.md_flags = Some(md.flags);
            st.on_io_error = Some(on_io_error);
            st.al = Some(al.clone());
            st.errors = Some(errors.clone());
            if disk_at_least(ns.disk, DiskState::Consistent) {
                st.ed_uuid = md.uuids[UI_CURRENT];
            }
        }
        self.disk.set_capacity(size);
        pr_info!(
            "drbd{}: disk( {} -> {} ), size {} sectors, current UUID {:016X}\n",
            minor,
            os.disk.name(),
            ns.disk.name(),
            size,
            md.uuids[UI_CURRENT]
        );
        cfg.ldev = Some(Ldev {
            lower,
            md_file,
            al,
            meta_disk,
            md_offset,
            sb: md,
            buf,
            crashed_primary,
            my_max,
            errors,
        });
        drop(cfg);
        Ok(())
    }

    /// Loads the on-disk bitmap for a device of `size` sectors into memory; with `unclean`,
    /// replays the activity log into it (`drbdmeta apply-al`); with `MDF_FULL_SYNC` in `md`,
    /// sets every bit. Sectors beyond the last agreed size `old_size` are new to both nodes and
    /// out of sync, as the C module marks a grown device. Returns the number of bits and
    /// whether the device grew.
    fn load_bitmap(
        &self,
        md_file: &BdevFile,
        layout: &Layout,
        old_size: u64,
        size: u64,
        unclean: bool,
        md: &mut Superblock,
    ) -> Result<(u64, bool), DrbdRet> {
        let minor = self.minor;
        self.io.oos_resize(size).map_err(|_| RetCode::Nomem)?;
        let bits = self.io.bm.lock().bits;
        let mut words: KVVec<u64> = KVVec::new();
        let read = actlog::read_bitmap(md_file, layout, bits, |b, block| {
            for (i, chunk) in block.chunks_exact(8).enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let at = b as usize * actlog::WORDS_PER_BM_BLOCK + i;
                if at == words.len() {
                    let _ = words.push(u64::from_le_bytes(w), GFP_KERNEL);
                }
            }
        });
        {
            let mut bm = self.io.bm.lock();
            let n = bm.bits;
            for (d, w) in bm.words.iter_mut().zip(words.iter()) {
                *d = *w;
            }
            // Bits past the end of the device are not ours.
            if n % 64 != 0 {
                if let Some(w) = bm.words.get_mut((n / 64) as usize) {
                    *w &= (1u64 << (n % 64)) - 1;
                }
            }
        }
        if read.is_err() || words.len() < oos::words_for_bits(bits) as usize {
            pr_err!(
                "drbd{}: reading the on-disk bitmap failed; all blocks out of sync\n",
                minor
            );
            md.flags |= MDF_FULL_SYNC;
        }
        if md.flags & MDF_FULL_SYNC != 0 {
            self.oos_set_all();
        }
        let grew = size > old_size;
        if grew {
            let grown = self.io.oos_weight();
            let first = old_size / oos::BM_SECT_PER_BIT;
            {
                let mut bm = self.io.bm.lock();
                let n = bm.bits;
                oos::change_bits(&mut bm.words, n, first, u64::MAX, true);
            }
            pr_info!(
                "drbd{}: size grew from {} to {} sectors: {} KB more out of sync\n",
                minor,
                old_size,
                size,
                (self.io.oos_weight() - grown) * 4
            );
        }
        if unclean {
            let before = self.io.oos_weight();
            let mut extents = 0u32;
            let r = actlog::replay(md_file, layout, true, |e| {
                extents += 1;
                let (a, b) = crate::drbd_core::al::extent_bits(e, bits);
                if a < b {
                    let mut bm = self.io.bm.lock();
                    let n = bm.bits;
                    oos::change_bits(&mut bm.words, n, a, b - 1, true);
                }
            });
            match r {
                Ok(r) => pr_info!(
                    "drbd{}: Found unclean meta data: replayed the activity log ({} transactions, {} extents), {} KB more out of sync\n",
                    minor,
                    r.transactions,
                    extents,
                    (self.io.oos_weight() - before) * 4
                ),
                Err(_) => {
                    pr_err!(
                        "drbd{}: reading the activity log failed; all blocks out of sync\n",
                        minor
                    );
                    self.oos_set_all();
                }
            }
        }
        Ok((bits, grew))
    }

    /// Detaches the backing device (`drbdsetup detach`): waits for the I/O in flight, writes
    /// the superblock back clean and closes the devices. A StandAlone Primary cannot give up
    /// its only UpToDate data (`SS_NO_UP_TO_DATE_DISK`) unless `force`; it then stays Primary
    /// without data and fails I/O. Detaching a diskless device is `SS_NOTHING_TO_DO`.
    ///
    /// A forced detach returns at once, as the C module's does: the disk is Failed and takes
    /// no new I/O, and a worker finishes the detach (Diskless) once the I/O in flight on the
    /// backing device drained. A detach while such a worker (or one after an I/O error) is
    /// still at work waits, interruptibly, until the disk is Diskless
    /// (`drbd_request_detach_interruptible`).
    pub(crate) fn detach(self: &Arc<Self>, force: bool) -> Result<StateRv, DrbdRet> {
        let mut cfg = self.cfg.lock();
        let os = self.io.state();
        if os.disk == DiskState::Failed && cfg.ldev.is_none() {
            drop(cfg);
            if force {
                return Ok(StateRv::Success);
            }
            return self.wait_detached();
        }
        let failed = match state::detach(&os, force, &self.env()) {
            Ok(None) => return Ok(StateRv::NothingToDo),
            Ok(Some(s)) => s,
            Err(rv) => return Err(self.refused(rv)),
        };
        let Some(ldev) = cfg.ldev.take() else {
            self.io.st.lock().state.disk = DiskState::Diskless;
            return Ok(StateRv::Success);
        };
        if !force {
            self.detach_ldev(ldev, os, Some(failed));
            return Ok(StateRv::Success);
        }
        self.begin_detach(&os, failed);
        drop(cfg);
        let work = Arc::pin_init(
            pin_init!(DetachWork {
                dev: self.clone(),
                ldev <- new_spinlock!(Some(ldev)),
                work <- new_work!("DetachWork::work"),
            }),
            GFP_KERNEL,
        );
        match work {
            Ok(w) => {
                let _ = workqueue::system_long().enqueue(w);
            }
            // `pin_init!` consumed the `Ldev`, and dropping it waited for its I/O: finish
            // here (the superblock cannot be written back any more; it stays marked in use,
            // so the next attach replays the activity log). The log lets go of the devices.
            Err(_) => {
                let al = self.io.st.lock().al.take();
                if let Some(al) = al {
                    al.close();
                }
                self.finish_diskless()
            }
        }
        Ok(StateRv::Success)
    }

    /// Waits until a detach finished elsewhere reached Diskless; `ERR_INTR` on a signal.
    fn wait_detached(&self) -> Result<StateRv, DrbdRet> {
        let mut st = self.io.st.lock();
        while st.state.disk == DiskState::Failed {
            if self.detached.wait_interruptible(&mut st) {
                return Err(DrbdRet::Ret(RetCode::Intr));
            }
        }
        Ok(StateRv::Success)
    }

    /// The first half of a detach (`__drbd_set_state` to Failed): new requests find no
    /// backing device. Requests already in flight complete on their own.
    fn begin_detach(&self, os: &State, failed: State) {
        {
            let mut st = self.io.st.lock();
            st.lower = None;
            st.state = failed;
        }
        log_state_change(self.minor, os, &failed);
        self.log_pri_on_incon_degr(os, &failed);
    }

    /// `pri-on-incon-degr`: a Primary lost access to UpToDate data (`after_state_ch`): runs
    /// the helper.
    fn log_pri_on_incon_degr(&self, os: &State, ns: &State) {
        let degraded = |s: &State| {
            s.role == Role::Primary
                && s.disk.raw() < DiskState::UpToDate.raw()
                && s.pdsk.raw() < DiskState::UpToDate.raw()
        };
        if !degraded(os) && degraded(ns) {
            // From a work item: callers hold the configuration lock.
            crate::helper::spawn(self.minor, self.peer_addr(), crate::helper::Cmd::PriOnInconDegr);
        }
    }

    /// The second half of a forced detach or of a detach after an I/O error, in a worker
    /// (no configuration lock held): waits for the I/O in flight, writes the superblock back,
    /// closes the devices, and enters Diskless.
    fn finish_detach_async(&self, ldev: Ldev) {
        let os = self.io.state();
        self.detach_ldev(ldev, os, None);
        let ns = self.io.state();
        events::disk_detached(self.minor, os, ns);
    }

    /// The second half of a detach, from state `failed` (disk `Failed`; `None`: the state is
    /// Failed already). `os` is the state before, for the log.
    fn detach_ldev(&self, mut ldev: Ldev, os: State, failed: Option<State>) {
        let minor = self.minor;
        {
            // No request is in flight while frozen, and new ones find no backing device.
            let _frozen = self.disk.freeze();
            let mut st = self.io.st.lock();
            st.lower = None;
            if let Some(failed) = failed {
                st.state = failed;
            }
        }
        {
            // A `queue_rq` that looked the device up before may still hold a reference.
            let mut st = self.io.st.lock();
            while st.users != 0 {
                self.io.idle.wait(&mut st);
            }
        }

        // No write is in flight: write the whole bitmap, and the activity log has nothing to
        // replay any more. If the bitmap does not reach the disk, the next attach does a
        // full sync instead.
        let (size, al) = {
            let mut st = self.io.st.lock();
            st.errors = None;
            (st.size_sectors, st.al.take())
        };
        // Writes the peer has not acknowledged by a barrier ack yet (protocols A and B end
        // requests earlier) still hold their extents: once the log is closed nothing covers
        // them, so their whole extents go into the bitmap.
        let bits = self.io.bm.lock().bits;
        ldev.al.referenced_extents(|e| {
            let (a, b) = crate::drbd_core::al::extent_bits(e, bits);
            if a < b {
                let mut bm = self.io.bm.lock();
                let n = bm.bits;
                oos::change_bits(&mut bm.words, n, a, b - 1, true);
            }
        });
        if ldev.al.write_bitmap(bits).is_err() {
            ldev.sb.flags |= MDF_FULL_SYNC;
        }
        let transactions = ldev.al.close();
        drop(al);
        pr_info!(
            "drbd{}: activity log: {} transactions written while attached\n",
            minor,
            transactions
        );
        ldev.sb.magic = DRBD_MD_MAGIC_08;
        ldev.sb.flags |= MDF_AL_CLEAN;
        ldev.sb.la_size_sect = size;
        ldev.sb.encode(&mut ldev.buf);
        if let Err(e) = ldev.md_file.write_block(ldev.md_offset, &ldev.buf, true) {
            pr_err!(
                "drbd{}: meta data update failed! ({})\n",
                minor,
                e.to_errno()
            );
        }
        let meta_disk = ldev.meta_disk;
        // Closes the backing and meta-data devices; nothing of ours is in flight on them.
        drop(ldev);
        self.finish_diskless();
        pr_info!(
            "drbd{}: disk( {} -> Diskless ) ({:?} meta-data written back clean)\n",
            minor,
            os.disk.name(),
            meta_disk
        );
    }

    /// Enters Diskless from the current (Failed) state, without a backing device. A Primary
    /// keeps its size, as in the C module: its users see I/O errors, not a device that shrank
    /// to nothing under them.
    fn finish_diskless(&self) {
        let keep_size = {
            let mut st = self.io.st.lock();
            let cur = st.state;
            st.state = state::sanitize_state(
                &cur,
                &State {
                    disk: DiskState::Diskless,
                    ..cur
                },
                &StateEnv::STANDALONE,
            );
            let keep_size = st.state.role == Role::Primary;
            if !keep_size {
                st.size_sectors = 0;
            }
            st.uuids = None;
            st.md_flags = None;
            st.on_io_error = None;
            st.fencing = Fencing::DontCare;
            self.detached.notify_all();
            keep_size
        };
        if !keep_size {
            self.disk.set_capacity(0);
        }
        if let Err(e) = self.disk.set_limits(&DISKLESS_LIMITS) {
            pr_err!(
                "drbd{}: setting new queue limits failed ({})\n",
                self.minor,
                e.to_errno()
            );
        }
        self.tell_peer_state();
    }

    /// Sets the `fencing` policy of the attached disk (`attach`, `disk-options`).
    pub(crate) fn set_fencing(&self, f: Fencing) {
        let mut st = self.io.st.lock();
        if st.lower.is_some() {
            st.fencing = f;
        }
    }

    /// The disk's `fencing` policy (`dont-care` while diskless).
    pub(crate) fn fencing(&self) -> Fencing {
        self.io.st.lock().fencing
    }

    /// Whether losing the peer now freezes this device's I/O (`resource-and-stonith`, a
    /// Primary whose peer's disk is not known Outdated: `sanitize_state`'s `susp_fen`).
    pub(crate) fn fences_on_loss(&self) -> bool {
        let st = self.io.st.lock();
        // Only a loss from Connected on: a session that ends in its handshake leaves a
        // Primary that had no peer already (`sanitize_state` freezes on the transition only).
        st.fencing == Fencing::Stonith
            && st.state.role == Role::Primary
            && st.state.conn.raw() >= ConnState::Connected.raw()
            && st.state.pdsk.raw() > DiskState::Outdated.raw()
    }

    /// Freezes new application I/O for fencing (`susp_fen`): called before the state says so,
    /// so that no write slips through between the loss of the peer and the state change.
    pub(crate) fn freeze_for_fencing(&self) {
        self.io.held.lock().suspended = true;
    }

    /// Fencing is over (the peer is outdated, the connection is back, or the policy no
    /// longer applies): `susp_fen` goes and, unless another suspension holds it, the held
    /// I/O starts. Returns whether the state changed.
    pub(crate) fn thaw_fencing(&self) -> bool {
        let (os, ns) = self.change_conn_state(|st| st.susp_fen = false);
        if !(ns.susp || ns.susp_nod || ns.susp_fen) {
            self.release_held();
        }
        os != ns
    }

    /// Sets the peer's disk state, or ours, as the fence-peer handler's answer says
    /// (`conn_try_outdate_peer`), and thaws frozen I/O once the peer counts as fenced (the
    /// C module's `w_after_conn_state_ch`).
    pub(crate) fn apply_fence_answer(&self, pdsk: Option<DiskState>, disk: Option<DiskState>) {
        let (_, ns) = self.change_conn_state(|st| {
            if let Some(p) = pdsk {
                st.pdsk = p;
            }
            if let Some(d) = disk {
                st.disk = d;
            }
        });
        if ns.susp_fen && crate::drbd_core::fencing::fenced(ns.pdsk) {
            self.thaw_fencing();
        }
    }

    /// Our disk becomes Outdated (unless it is worse already), as agreed with the peer in a
    /// disconnect (`NS2(conn, C_DISCONNECTING, disk, D_OUTDATED)`); the meta-data follow.
    pub(crate) fn outdate_own_disk(&self) {
        let (os, ns) = self.change_conn_state(|st| {
            if st.disk.raw() > DiskState::Outdated.raw() {
                st.disk = DiskState::Outdated;
            }
        });
        if os != ns {
            self.md_follow_state(&ns);
        }
    }

    /// Sets the `on-io-error` policy (`disk-options`).
    pub(crate) fn set_on_io_error(&self, p: OnIoError) {
        let mut st = self.io.st.lock();
        if st.on_io_error.is_some() {
            st.on_io_error = Some(p);
        }
    }

    /// Applies the `on-io-error` policy to the errors `errors` recorded
    /// (`__drbd_chk_io_error_`), in process context. `pass_on`: a read or write error makes a
    /// disk better than Inconsistent Inconsistent, the error goes to the application.
    /// `detach` and `call-local-io-error` (and any meta-data error): the disk goes Failed, then
    /// Diskless once its I/O drained; with `call-local-io-error` the `local-io-error`
    /// helper runs first. After a read error the bitmap would
    /// need writing, which drbd-rs cannot do (it keeps none on disk): the meta-data asks for
    /// a full sync (`MDF_FULL_SYNC`), as the C module does when that write fails.
    pub(crate) fn local_io_errors(&self, errors: &Arc<IoErrors>) {
        let bits = errors.pending.swap(0, Ordering::AcqRel);
        if bits == 0 {
            return;
        }
        let minor = self.minor;
        let mut cfg = self.cfg.lock();
        match cfg.ldev.as_ref() {
            // Another attachment's errors: its disk is gone already.
            Some(l) if Arc::ptr_eq(&l.errors, errors) => {}
            _ => return,
        }
        let os = self.io.state();
        let policy = self.io.st.lock().on_io_error.unwrap_or(OnIoError::Detach);
        if policy == OnIoError::PassOn && bits & ERR_META == 0 {
            pr_err!("drbd{}: Local IO failed in __req_mod.\n", minor);
            if os.disk.raw() <= DiskState::Inconsistent.raw() {
                return;
            }
            let ns = {
                let mut st = self.io.st.lock();
                st.state.disk = DiskState::Inconsistent;
                st.state
            };
            if let Some(ldev) = cfg.ldev.as_mut() {
                ldev.sb.flags = state::md_flags_for_state(ldev.sb.flags, &ns, ldev.crashed_primary);
                let flags = ldev.sb.flags;
                self.md_sync(ldev);
                self.io.st.lock().md_flags = Some(flags);
            }
            drop(cfg);
            log_state_change(minor, &os, &ns);
            self.log_pri_on_incon_degr(&os, &ns);
            events::state_changed(minor, os, ns);
            self.tell_peer_state();
            return;
        }
        let Some(mut ldev) = cfg.ldev.take() else {
            return;
        };
        if bits & ERR_READ != 0 {
            ldev.sb.flags |= MDF_FULL_SYNC;
        }
        let failed = State {
            disk: DiskState::Failed,
            ..os
        };
        self.begin_detach(&os, failed);
        drop(cfg);
        pr_err!("drbd{}: Local IO failed in __req_mod. Detaching...\n", minor);
        if policy == OnIoError::CallHelper {
            // In this work item, as the C module runs it in its worker, and before the detach
            // finishes; no lock is held.
            crate::helper::run(minor, self.peer_addr().as_ref(), crate::helper::Cmd::LocalIoError);
        }
        events::state_changed(minor, os, failed);
        self.finish_detach_async(ldev);
    }

    /// Changes the role (`drbdsetup primary [--force]` / `secondary`). Becoming Primary needs
    /// UpToDate data, or `force`, which declares Inconsistent, Outdated or Consistent data
    /// UpToDate; without a peer that starts a new data generation (new current UUID).
    /// Becoming Secondary is refused while the device is open (`SS_DEVICE_IN_USE`). Returns
    /// `SS_SUCCESS`, or `SS_NOTHING_TO_DO` when already in that role.
    pub(crate) fn set_role(&self, role: Role, force: bool) -> Result<StateRv, DrbdRet> {
        self.set_role_fenced(role, force, true)
    }

    /// Whether a promotion to Primary would ask the fencing policy (`conn_try_outdate_peer`
    /// in `drbd_set_role`): the rules refuse it for want of an outdated peer or of UpToDate
    /// data, and the policy is not `dont-care` (for which outdating "succeeds" at once).
    pub(crate) fn promotion_needs_fencing(&self, force: bool) -> bool {
        let env = StateEnv {
            net: self.net_env(),
            ..self.env()
        };
        if env.fencing == Fencing::DontCare {
            return false;
        }
        let os = self.state();
        if os.role == Role::Primary || os.conn.raw() >= ConnState::Connected.raw() {
            return false;
        }
        let mut asked = false;
        let _ = state::set_role(&os, Role::Primary, force, &env, &mut || {
            asked = true;
            true
        });
        asked
    }

    /// [`Device::set_role`] with the fence-peer handler's verdict: `peer_outdated` is what
    /// `conn_try_outdate_peer` answered (true when it was not asked).
    pub(crate) fn set_role_fenced(
        &self,
        role: Role,
        force: bool,
        peer_outdated: bool,
    ) -> Result<StateRv, DrbdRet> {
        let peer = self.io.peer.lock().clone();
        let session = peer
            .as_ref()
            .and_then(|(c, vnr)| c.session().map(|s| (s, *vnr)))
            .filter(|_| self.state().conn.raw() >= ConnState::Connected.raw());
        // Promotion while connected is a cluster-wide change: the peer must agree (and learns
        // that a forced Primary may now sync it).
        if let Some((s, vnr)) = session.as_ref() {
            let os = self.state();
            if role == Role::Primary && os.role != Role::Primary {
                // Checked here first, as the C module's `cl_wide_st_chg` does, so that the
                // peer is never told of a promotion that we then refuse ourselves.
                let env = StateEnv {
                    net: self.net_env(),
                    ..self.env()
                };
                if let Err(rv) = state::set_role(&os, role, force, &env, &mut || peer_outdated) {
                    return Err(self.refused(rv));
                }
                let mut mask = crate::drbd_core::genl::DrbdState {
                    role: 3,
                    ..Default::default()
                };
                let mut val = crate::drbd_core::genl::DrbdState {
                    role: Role::Primary.raw(),
                    ..Default::default()
                };
                if force && os.disk.raw() < DiskState::UpToDate.raw() {
                    mask.disk = 0xf;
                    val.disk = DiskState::UpToDate.raw();
                }
                let rv = s.request_state(*vnr, mask, val);
                if rv < StateRv::Success.raw() {
                    let rv = StateRv::from_raw(rv).unwrap_or(StateRv::CwFailedByPeer);
                    return Err(self.refused(rv));
                }
            }
        }
        let r = self.set_role_local(role, force, peer_outdated);
        match (&r, session) {
            (Ok(StateRv::Success), Some((s, vnr))) => {
                if force && role == Role::Primary {
                    let _ = announce::send_uuids(&s, vnr, self);
                }
                let _ = announce::send_state(&s, vnr, self);
            }
            // The peer agreed, but the change failed here after all (the state changed in
            // between): it learns our real role.
            (Err(_), Some((s, vnr))) if role == Role::Primary => {
                let _ = announce::send_state(&s, vnr, self);
            }
            _ => {}
        }
        r
    }

    fn set_role_local(&self, role: Role, force: bool, peer_outdated: bool) -> Result<StateRv, DrbdRet> {
        let mut cfg = self.cfg.lock();
        let minor = self.minor;
        let (os, ch) = {
            // The network configuration counts (`is_valid_state`): a peer that became Primary
            // while our promotion was being agreed makes it `SS_TWO_PRIMARIES` here, under the
            // same lock the receiver takes to record the peer's role.
            let net = self.net_env();
            let mut st = self.io.st.lock();
            let env = StateEnv {
                open: st.open_count > 0,
                fencing: st.fencing,
                net,
                ..StateEnv::STANDALONE
            };
            let os = st.state;
            // With `fencing dont-care` outdating the peer "succeeds"; otherwise the caller
            // asked the fence-peer handler.
            match state::set_role(&os, role, force, &env, &mut || peer_outdated) {
                Ok(Some(ch)) => {
                    st.state = ch.state;
                    (os, ch)
                }
                Ok(None) => return Ok(StateRv::NothingToDo),
                Err(rv) => {
                    drop(st);
                    return Err(self.refused(rv));
                }
            }
        };
        if ch.forced {
            pr_warn!(
                "drbd{}: Forced to consider local data as UpToDate!\n",
                minor
            );
        }
        if os.disk == ch.state.disk {
            pr_info!(
                "drbd{}: role( {} -> {} )\n",
                minor,
                os.role.name(),
                ch.state.role.name()
            );
        } else {
            pr_info!(
                "drbd{}: role( {} -> {} ) disk( {} -> {} )\n",
                minor,
                os.role.name(),
                ch.state.role.name(),
                os.disk.name(),
                ch.state.disk.name()
            );
        }
        if let Some(ldev) = cfg.ldev.as_mut() {
            let old = ldev.sb.uuids[UI_CURRENT];
            let (uuids, overwrote) = state::uuids_after_role_change(
                &ldev.sb.uuids,
                &ch.state,
                ch.forced,
                sys::random_u64(),
            );
            if overwrote {
                pr_warn!("drbd{}: bm UUID was already set\n", minor);
            }
            if (uuids[UI_CURRENT] & !1) != (old & !1) {
                pr_info!(
                    "drbd{}: new current UUID {:016X}\n",
                    minor,
                    uuids[UI_CURRENT]
                );
            }
            ldev.sb.uuids = uuids;
            ldev.sb.flags =
                state::md_flags_for_state(ldev.sb.flags, &ch.state, ldev.crashed_primary);
            let (uuids, flags) = (ldev.sb.uuids, ldev.sb.flags);
            self.md_sync(ldev);
            let mut st = self.io.st.lock();
            if disk_at_least(ch.state.disk, DiskState::Consistent) {
                st.ed_uuid = uuids[UI_CURRENT];
            }
            st.uuids = Some(uuids);
            st.md_flags = Some(flags);
        }
        self.disk.set_read_only(ch.state.role != Role::Primary);
        Ok(StateRv::Success)
    }

    /// `drbdsetup new-current-uuid` on a StandAlone device (`drbd_nl_new_c_uuid_doit`): the
    /// bitmap UUID rotates into the history and a new data generation starts, the old current
    /// UUID becoming the bitmap UUID; the meta-data is written at once. `--clear-bitmap`
    /// clears the bitmap; connected with fresh meta-data, it skips the initial sync: the peer
    /// gets `P_UUIDS` with the skip flag and both disks become UpToDate. Connected otherwise:
    /// `ERR_CONNECTED`.
    pub(crate) fn new_current_uuid(&self, clear_bm: bool) -> Result<(), DrbdRet> {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return Err(DrbdRet::Ret(RetCode::NoDisk));
        };
        let st = self.io.state();
        let session = self
            .io
            .peer
            .lock()
            .clone()
            .and_then(|(c, vnr)| c.session().map(|s| (s, vnr)));
        let agreed = session.as_ref().map_or(0, |(s, _)| s.agreed);
        let mut uuids = uuid::Uuids::from_array(ldev.sb.uuids);
        let skip = uuid::new_c_uuid_check(st.conn, agreed, &uuids, clear_bm)
            .map_err(DrbdRet::Ret)?;
        if skip {
            pr_info!("drbd{}: Preparing to skip initial sync\n", self.minor);
        }
        let sent = uuids.new_current_admin(st.role, sys::random_u64(), skip);
        ldev.sb.uuids = uuids.to_array();
        let u = ldev.sb.uuids;
        pr_info!(
            "drbd{}: new current UUID {:016X}:{:016X}:{:016X}:{:016X}\n",
            self.minor,
            u[0],
            u[1],
            u[2],
            u[3]
        );
        let mut ret = Ok(());
        if clear_bm {
            {
                let mut bm = self.io.bm.lock();
                bm.words.iter_mut().for_each(|w| *w = 0);
            }
            let bits = self.io.bm.lock().bits;
            if ldev.al.write_bitmap(bits).is_err() {
                pr_err!("drbd{}: Writing bitmap failed\n", self.minor);
                ret = Err(DrbdRet::Ret(RetCode::IoMdDisk));
            }
        }
        if let (true, Some((s, vnr))) = (skip, session) {
            let p = packets::Uuids {
                current: sent.get(uuid::Slot::Current),
                bitmap: sent.get(uuid::Slot::Bitmap),
                history: [
                    sent.get(uuid::Slot::History0),
                    sent.get(uuid::Slot::History1),
                ],
                bits_set: 0,
                flags: uuid::uuid_flags(false, ldev.crashed_primary, false, true),
            };
            let _ = s.send(crate::connection::Sock::Data, vnr, &packets::Packet::Uuids(p));
            self.change_conn_state(|s| {
                s.disk = DiskState::UpToDate;
                s.pdsk = DiskState::UpToDate;
            });
        }
        self.md_sync(ldev);
        self.io.st.lock().uuids = Some(u);
        ret
    }

    /// The peer's `P_UUIDS` asked to skip the initial sync (it ran `new-current-uuid
    /// --clear-bitmap` on fresh meta-data while connected; `receive_uuids`): take its current
    /// UUID, clear the bitmap, and both disks are UpToDate. Returns whether it applied.
    pub(crate) fn accept_skip_initial_sync(&self, s: &Session, peer: &packets::Uuids) -> bool {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return false;
        };
        let st = self.io.state();
        let mut uuids = uuid::Uuids::from_array(ldev.sb.uuids);
        if !uuid::skip_initial_sync(st.conn, s.agreed, &uuids, peer.flags) {
            return false;
        }
        pr_info!(
            "drbd{}: Accepted new current UUID, preparing to skip initial sync\n",
            self.minor
        );
        {
            let mut bm = self.io.bm.lock();
            bm.words.iter_mut().for_each(|w| *w = 0);
        }
        let bits = self.io.bm.lock().bits;
        if ldev.al.write_bitmap(bits).is_err() {
            pr_err!("drbd{}: Writing bitmap failed\n", self.minor);
        }
        uuids.accept_skip_initial_sync(peer.current, st.role);
        ldev.sb.uuids = uuids.to_array();
        self.change_conn_state(|s| {
            s.disk = DiskState::UpToDate;
            s.pdsk = DiskState::UpToDate;
        });
        self.md_sync(ldev);
        let u = ldev.sb.uuids;
        self.io.st.lock().uuids = Some(u);
        let cur = u[UI_CURRENT];
        self.io.st.lock().ed_uuid = cur;
        true
    }

    /// Logs a refused state change as the C module does (`print_st_err`), for the reply.
    fn refused(&self, rv: StateRv) -> DrbdRet {
        let rv = DrbdRet::State(rv);
        pr_err!("drbd{}: State change failed: {}\n", self.minor, rv.text());
        rv
    }

    /// Writes the in-core superblock (`drbd_md_sync`), marked in use.
    fn md_sync(&self, ldev: &mut Ldev) {
        // The state-derived flags as of now (`__drbd_set_state`); both disks UpToDate ends a
        // crashed Primary's recovery (`after_state_ch`).
        let st = self.io.state();
        if st.disk == DiskState::UpToDate && st.pdsk == DiskState::UpToDate {
            ldev.crashed_primary = false;
        }
        ldev.sb.flags = state::md_flags_for_state(ldev.sb.flags, &st, ldev.crashed_primary);
        self.io.st.lock().md_flags = Some(ldev.sb.flags);
        ldev.sb.magic = DRBD_MD_MAGIC_84_UNCLEAN;
        ldev.sb.la_size_sect = self.io.st.lock().size_sectors;
        ldev.sb.encode(&mut ldev.buf);
        if let Err(e) = ldev.md_file.write_block(ldev.md_offset, &ldev.buf, true) {
            pr_err!(
                "drbd{}: meta data update failed! ({})\n",
                self.minor,
                e.to_errno()
            );
            // `drbd_md_write` failing: detach, whatever the policy (`DRBD_META_IO_ERROR`).
            if e == EIO {
                IoErrors::raise(&ldev.errors, ERR_META);
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Device {
    fn drop(self: Pin<&mut Self>) {
        // `del-minor` and `down` detach first; a device going away attached (module unload
        // after a failed teardown) still leaves clean meta-data behind.
        let mut cfg = self.cfg.lock();
        if let Some(ldev) = cfg.ldev.take() {
            let os = self.io.state();
            let failed = State {
                disk: DiskState::Failed,
                ..os
            };
            self.detach_ldev(ldev, os, Some(failed));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replication: what the connection asks of a volume
// ---------------------------------------------------------------------------------------------

/// Prints a state change as the C module does (`print_st_changes`): only what changed.
fn log_state_change(minor: u32, os: &State, ns: &State) {
    let mut line = [0u8; 256];
    let mut w = crate::sys::FmtBuf::new(&mut line);
    use core::fmt::Write;
    if os.role != ns.role {
        let _ = write!(w, "role( {} -> {} ) ", os.role.name(), ns.role.name());
    }
    if os.peer != ns.peer {
        let _ = write!(w, "peer( {} -> {} ) ", os.peer.name(), ns.peer.name());
    }
    if os.conn != ns.conn {
        let _ = write!(w, "conn( {} -> {} ) ", os.conn.name(), ns.conn.name());
    }
    if os.disk != ns.disk {
        let _ = write!(w, "disk( {} -> {} ) ", os.disk.name(), ns.disk.name());
    }
    if os.pdsk != ns.pdsk {
        let _ = write!(w, "pdsk( {} -> {} ) ", os.pdsk.name(), ns.pdsk.name());
    }
    let is_susp = |s: &State| s.susp || s.susp_nod || s.susp_fen;
    if is_susp(os) != is_susp(ns) {
        let _ = write!(w, "susp( {} -> {} ) ", u8::from(is_susp(os)), u8::from(is_susp(ns)));
    }
    if os.aftr_isp != ns.aftr_isp {
        let _ = write!(w, "aftr_isp( {} -> {} ) ", u8::from(os.aftr_isp), u8::from(ns.aftr_isp));
    }
    if os.peer_isp != ns.peer_isp {
        let _ = write!(w, "peer_isp( {} -> {} ) ", u8::from(os.peer_isp), u8::from(ns.peer_isp));
    }
    if os.user_isp != ns.user_isp {
        let _ = write!(w, "user_isp( {} -> {} ) ", u8::from(os.user_isp), u8::from(ns.user_isp));
    }
    pr_info!("drbd{}: {}\n", minor, w.as_str());
}

impl DeviceIo {
    /// Resizes the bitmap for a device of `sectors` sectors, keeping the bits it has.
    fn oos_resize(&self, sectors: u64) -> Result {
        let bits = oos::bits_for_sectors(sectors);
        let words = oos::words_for_bits(bits) as usize;
        let mut new: KVVec<u64> = KVVec::with_capacity(words, GFP_KERNEL)?;
        new.resize(words, 0, GFP_KERNEL)?;
        let mut bm = self.bm.lock();
        for (n, o) in new.iter_mut().zip(bm.words.iter()) {
            *n = *o;
        }
        let old = core::mem::replace(&mut bm.words, new);
        bm.bits = bits;
        // Bits past a smaller end must not count.
        let keep = bm.bits;
        let nw = bm.words.len() as u64;
        oos::change_bits(&mut bm.words, nw * 64, keep, nw * 64, false);
        drop(bm);
        drop(old);
        Ok(())
    }
}

impl Device {
    fn oos_resize(&self, sectors: u64) {
        if self.io.oos_resize(sectors).is_err() {
            pr_err!("drbd{}: cannot allocate the bitmap\n", self.minor);
        }
    }

    /// An application write counted by the resync interlock is done.
    pub(crate) fn app_write_done(&self) {
        self.io.app_inflight.fetch_sub(1, Ordering::SeqCst);
    }

    /// `suspend-io` (`true`) / `resume-io` (`false`): new application I/O is held, or the
    /// held I/O starts and new I/O goes on. `resume-io` also ends a suspension for lack of
    /// data or for fencing (`susp_nod`, `susp_fen`), as the C module's does. Requests in
    /// flight are not affected. Returns whether the state changed.
    pub(crate) fn suspend_io(&self, suspend: bool) -> bool {
        self.io.held.lock().suspended = suspend;
        let (os, ns) = self.change_conn_state(|st| {
            st.susp = suspend;
            if !suspend {
                st.susp_nod = false;
                st.susp_fen = false;
            }
        });
        if !suspend {
            self.release_held();
        }
        os != ns
    }

    /// Ends the hold on new I/O and starts what arrived meanwhile, oldest first; new I/O goes
    /// straight on (it may overtake the held, as a request submitted on another CPU might).
    fn release_held(&self) {
        self.io.held.lock().suspended = false;
        loop {
            let rq = {
                let mut held = self.io.held.lock();
                if held.requests.is_empty() {
                    break;
                }
                held.requests.remove(0).ok()
            };
            let Some(rq) = rq else { break };
            self.io.dispatch(rq, AlStage::Begin);
        }
    }

    /// Local write `ws_id` (`crate::io::writes`) is on our disk.
    pub(crate) fn write_local_done(&self, ws_id: u64) {
        self.io.writes.set_local_done(ws_id);
    }

    /// The peer acknowledged local write `ws_id` (`P_WRITE_ACK`).
    pub(crate) fn write_net_acked(&self, ws_id: u64) {
        self.io.writes.set_net_acked(ws_id);
    }

    /// The resolver answered `P_RETRY_WRITE` for local write `ws_id`.
    pub(crate) fn write_postponed(&self, ws_id: u64) {
        self.io.writes.set_postponed(ws_id);
    }

    /// Local write `ws_id` completed: it leaves the writes in flight.
    pub(crate) fn end_write(&self, ws_id: u64) {
        self.io.end_write(ws_id);
    }

    /// Postponed write `ws_id` goes through the write path again with its blk-mq request.
    pub(crate) fn restart_write(&self, ws_id: u64, rq: IoRequest) -> Result<(), IoRequest> {
        self.io.writes.restart(ws_id, rq)?;
        self.io.kick_writes();
        Ok(())
    }

    /// The device's writes in flight (the receiver registers the peer's there).
    pub(crate) fn writes(&self) -> &InFlight {
        &self.io.writes
    }

    /// Has the work item start the local writes that became ready.
    pub(crate) fn kick_writes(&self) {
        self.io.kick_writes();
    }

    /// A SyncSource starts a resync read: new application writes wait, and this waits for
    /// those in flight to finish (then the read sees their data, and their `P_DATA` went
    /// out before its reply).
    /// Gives up when the session `s` ends (its writes then fail out of the transfer log,
    /// which needs this thread to get there).
    pub(crate) fn begin_resync_read(&self, s: &Session) {
        self.io.rs_reads.fetch_add(1, Ordering::SeqCst);
        while self.io.app_inflight.load(Ordering::SeqCst) != 0
            && !s.is_failed()
            && !crate::sys::thread::should_stop()
        {
            crate::sys::thread::sleep_ms(1);
        }
    }

    /// The reply of a resync read was sent.
    pub(crate) fn end_resync_read(&self) {
        self.io.rs_reads.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether application writes are in flight (not counting those waiting to start).
    pub(crate) fn app_writes_in_flight(&self) -> bool {
        self.io.app_inflight.load(Ordering::SeqCst) != 0
    }

    /// Online verify's part of the resync interlock: a block is being compared (VerifyS: its
    /// request sent and the reply not yet compared; VerifyT: the request read and its result
    /// not yet back). New application writes wait meanwhile.
    pub(crate) fn verify_io_begin(&self) {
        self.io.rs_outstanding.fetch_add(1, Ordering::SeqCst);
    }

    /// See [`Device::verify_io_begin`].
    pub(crate) fn verify_io_end(&self) {
        let _ = self
            .io
            .rs_outstanding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1));
    }

    /// A verify run ended: nothing is being compared any more.
    pub(crate) fn verify_io_reset(&self) {
        self.io.rs_outstanding.store(0, Ordering::SeqCst);
    }

    /// Whether application writes are in flight or waiting (a SyncTarget asks for no resync
    /// data meanwhile).
    pub(crate) fn app_writes_busy(&self) -> bool {
        self.io.app_inflight.load(Ordering::SeqCst) != 0
            || self.io.app_waiting.load(Ordering::SeqCst) != 0
    }

    /// The exposed data generation of a diskless node: the peer's current UUID.
    pub(crate) fn set_ed_uuid(&self, current: u64) {
        self.io.st.lock().ed_uuid = current;
    }

    /// The session this volume replicates over and its volume number there, while connected.
    pub(crate) fn peer_session(&self) -> Option<(Arc<Session>, u16)> {
        let (c, vnr) = self.io.peer.lock().clone()?;
        if self.state().conn.raw() < ConnState::Connected.raw() {
            return None;
        }
        c.session().map(|s| (s, vnr))
    }

    /// Bits of the out-of-sync bitmap (`drbd_bm_bits`).
    pub(crate) fn bm_bits(&self) -> u64 {
        self.io.bm.lock().bits
    }

    /// Sends our state to the peer after a local disk change (detach, I/O error), so it
    /// knows our disk no longer follows and starts a new data generation if it must.
    pub(crate) fn tell_peer_state(&self) {
        let peer = self.io.peer.lock().clone();
        if let Some((c, vnr)) = peer {
            if self.state().conn.raw() >= ConnState::Connected.raw() {
                if let Some(s) = c.session() {
                    let _ = announce::send_state(&s, vnr, self);
                }
            }
        }
    }

    /// `after_state_ch`'s rule: a Primary (here or on the peer) with UpToDate data whose peer
    /// disk stopped following starts a new data generation; the peer learns it from
    /// `P_UUIDS`. Returns true if it did.
    pub(crate) fn maybe_new_current_uuid(&self, os: &State, ns: &State) -> bool {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return false;
        };
        let u = uuid::Uuids::from_array(ldev.sb.uuids);
        if !uuid::needs_new_current_uuid(&u, os.pdsk, ns.pdsk, os.peer, ns.role, ns.peer, ns.disk) {
            return false;
        }
        let mut u = u;
        u.new_current(ns.role, sys::random_u64());
        ldev.sb.uuids = u.to_array();
        pr_info!("drbd{}: new current UUID {:016X}\n", self.minor, ldev.sb.uuids[UI_CURRENT]);
        let uuids = ldev.sb.uuids;
        self.md_sync(ldev);
        let mut st = self.io.st.lock();
        st.uuids = Some(uuids);
        st.ed_uuid = uuids[UI_CURRENT];
        true
    }

    /// The configured peer's address, for the usermode helpers' environment.
    pub(crate) fn peer_addr(&self) -> Option<crate::sys::net::SockAddr> {
        self.io.peer.lock().as_ref().map(|(c, _)| c.peer_addr)
    }

    /// Links this volume to the connection it replicates over (`None`: unlinks).
    pub(crate) fn set_peer(&self, peer: Option<(Arc<Connection>, u16)>) {
        let old = core::mem::replace(&mut *self.io.peer.lock(), peer);
        drop(old);
    }

    /// Changes the network side of the state (`conn`, `peer`, `pdsk`, ...) with `f`; logs
    /// and notifies the change. Returns the old and new state.
    pub(crate) fn change_conn_state(&self, f: impl FnOnce(&mut State)) -> (State, State) {
        let (os, ns) = {
            let mut st = self.io.st.lock();
            let os = st.state;
            let mut ns = os;
            f(&mut ns);
            // The pause bits pause and continue a resync (`sanitize_state`).
            state::apply_isp(&mut ns);
            st.state = ns;
            (os, ns)
        };
        if os != ns {
            log_state_change(self.minor, &os, &ns);
            self.note_pause(&os, &ns);
            events::state_changed(self.minor, os, ns);
        }
        (os, ns)
    }

    /// The session ended: peer unknown, and if we are Primary with UpToDate data that the
    /// peer no longer follows, a new data generation starts (`after_state_ch`), so the next
    /// handshake knows our writes since are not on the peer.
    pub(crate) fn lost_peer(&self, next: ConnState) {
        let stonith = self.fencing() == Fencing::Stonith;
        let peer_lost = |s: &State| {
            s.role == Role::Primary
                && s.conn.raw() < ConnState::Connected.raw()
                && s.pdsk.raw() > DiskState::Outdated.raw()
        };
        let (os, ns) = self.change_conn_state(|s| {
            let was_lost = peer_lost(s);
            s.conn = next;
            s.peer = Role::Unknown;
            if s.pdsk != DiskState::Outdated {
                s.pdsk = DiskState::DUnknown;
            }
            if matches!(
                s.conn,
                ConnState::Disconnecting
                    | ConnState::BrokenPipe
                    | ConnState::NetworkFailure
                    | ConnState::ProtocolError
                    | ConnState::TearDown
            ) && s.disk == DiskState::Inconsistent
            {
                // A SyncTarget that lost its source stays Inconsistent.
            }
            // `resource-and-stonith`: I/O freezes until fence-peer answered (`sanitize_state`).
            if stonith && peer_lost(s) && !was_lost {
                s.susp_fen = true;
            }
        });
        if ns.susp_fen && !os.susp_fen {
            self.freeze_for_fencing();
        }
        let mut cfg = self.cfg.lock();
        if let Some(ldev) = cfg.ldev.as_mut() {
            let u = uuid::Uuids::from_array(ldev.sb.uuids);
            if uuid::needs_new_current_uuid(&u, os.pdsk, ns.pdsk, os.peer, ns.role, ns.peer, ns.disk)
            {
                let mut u = u;
                u.new_current(ns.role, sys::random_u64());
                ldev.sb.uuids = u.to_array();
                pr_info!(
                    "drbd{}: new current UUID {:016X}\n",
                    self.minor,
                    ldev.sb.uuids[UI_CURRENT]
                );
                let uuids = ldev.sb.uuids;
                self.md_sync(ldev);
                self.io.st.lock().uuids = Some(uuids);
            }
        }
        drop(cfg);
        self.rs_abort();
    }

    /// Whether a backing device is attached.
    pub(crate) fn has_disk(&self) -> bool {
        self.io.st.lock().lower.is_some()
    }

    /// The backing device, while attached.
    pub(crate) fn lower(&self) -> Option<Arc<LowerDev>> {
        self.io.st.lock().lower.clone()
    }

    /// The resync settings of `disk_conf` to announce in `P_SYNC_PARAM` (a SyncTarget C peer
    /// runs its resync controller with what the source announces).
    pub(crate) fn sync_param(&self) -> packets::SyncParam {
        *self.sync_param.lock()
    }

    /// Records the resync settings of `disk_conf` (attach, disk-options).
    pub(crate) fn set_sync_param(&self, p: packets::SyncParam) {
        *self.sync_param.lock() = p;
    }

    /// The peer's announced resync rate.
    pub(crate) fn set_peer_resync_rate(&self, r: u32) {
        self.peer_info.lock().peer_resync_rate = r;
    }

    /// `P_SIZES` for this volume (`drbd_send_sizes`).
    pub(crate) fn sizes_packet(&self, features: u32) -> packets::Sizes {
        let cfg = self.cfg.lock();
        let (d_size, max_bio, discard) = match cfg.ldev.as_ref() {
            Some(l) => (
                l.my_max,
                l.lower.file().max_hw_bytes().min(state::DRBD_MAX_BIO_SIZE),
                l.lower.file().max_discard_sectors() != 0,
            ),
            None => (0, state::DRBD_MAX_BIO_SIZE, false),
        };
        let qlim = (features & packets::FF_WSAME != 0).then_some(packets::QueueLimits {
            physical_block_size: 512,
            logical_block_size: 512,
            alignment_offset: 0,
            io_min: 512,
            io_opt: 0,
            discard_enabled: discard,
            discard_zeroes_data: false,
            write_same_capable: false,
        });
        packets::Sizes {
            d_size,
            u_size: 0,
            c_size: self.size_sectors(),
            max_bio_size: max_bio,
            queue_order_type: 0,
            dds_flags: 0,
            qlim,
        }
    }

    /// `P_UUIDS` for this volume, while attached (`_drbd_send_uuids`).
    pub(crate) fn uuids_packet(&self, discard_my_data: bool) -> Option<packets::Uuids> {
        let cfg = self.cfg.lock();
        let l = cfg.ldev.as_ref()?;
        let st = self.state();
        let flags = uuid::uuid_flags(
            discard_my_data,
            l.crashed_primary,
            st.disk == DiskState::Inconsistent,
            false,
        );
        Some(packets::Uuids {
            current: l.sb.uuids[0],
            bitmap: l.sb.uuids[1],
            history: [l.sb.uuids[2], l.sb.uuids[3]],
            bits_set: self.io.oos_weight(),
            flags,
        })
    }

    /// Stores the peer's `P_UUIDS`.
    pub(crate) fn set_peer_uuids(&self, u: PeerUuids) {
        self.peer_info.lock().uuids = Some(u);
    }

    /// The peer's last `P_UUIDS`.
    pub(crate) fn peer_uuids(&self) -> Option<PeerUuids> {
        self.peer_info.lock().uuids
    }

    /// `CONSIDER_RESYNC`: the peer was forced Primary while both were Inconsistent.
    pub(crate) fn set_consider_resync(&self) {
        self.peer_info.lock().consider_resync = true;
    }

    /// Takes (clears) `CONSIDER_RESYNC`.
    pub(crate) fn take_consider_resync(&self) -> bool {
        core::mem::take(&mut self.peer_info.lock().consider_resync)
    }

    /// Marks the blocks `bytes` at `sector` touches out of sync.
    pub(crate) fn oos_set(&self, sector: u64, bytes: u32) {
        self.io.oos_set(sector, bytes);
    }

    /// Marks the blocks `bytes` at `sector` covers in sync.
    pub(crate) fn oos_clear(&self, sector: u64, bytes: u32) {
        self.io.oos_clear(sector, bytes);
    }

    /// After a handshake that found no resync needed with both disks UpToDate: bits left in
    /// the bitmap are reported, as the C module does (they stay until a resync clears them).
    pub(crate) fn handshake_found_equal(&self) {
        let w = self.io.oos_weight();
        if w != 0 {
            pr_info!("drbd{}: No resync, but {} bits in bitmap!\n", self.minor, w);
        }
    }

    /// Every block out of sync (a full sync).
    pub(crate) fn oos_set_all(&self) {
        let mut bm = self.io.bm.lock();
        let n = bm.bits;
        if n > 0 {
            oos::change_bits(&mut bm.words, n, 0, n - 1, true);
        }
    }

    /// Bits set in the bitmap.
    pub(crate) fn oos_weight(&self) -> u64 {
        self.io.oos_weight()
    }

    /// Data received from the peer and written to the local disk (`nr:`, and `dw:` as the C
    /// module counts every local write).
    pub(crate) fn count_received(&self, bytes: u32) {
        let sectors = u64::from(bytes) >> 9;
        self.io.recv_sectors.fetch_add(sectors, Ordering::Relaxed);
        self.io.written_sectors.fetch_add(sectors, Ordering::Relaxed);
    }

    /// Data read from the local disk for the peer (`ns:` once sent, and `dr:`).
    pub(crate) fn count_sent(&self, bytes: u32) {
        let sectors = u64::from(bytes) >> 9;
        self.io.send_sectors.fetch_add(sectors, Ordering::Relaxed);
        self.io.read_sectors.fetch_add(sectors, Ordering::Relaxed);
    }

    /// A local read done for the peer (`dr:`), and data sent to it (`ns:`), counted apart
    /// (verify and checksum reads send digests, not data).
    pub(crate) fn count_io(&self, read_bytes: u32, sent_bytes: u32) {
        self.io.read_sectors.fetch_add(u64::from(read_bytes) >> 9, Ordering::Relaxed);
        self.io.send_sectors.fetch_add(u64::from(sent_bytes) >> 9, Ordering::Relaxed);
    }

    /// Sectors sent to and received from the peer.
    pub(crate) fn net_sectors(&self) -> (u64, u64) {
        (
            self.io.send_sectors.load(Ordering::Relaxed),
            self.io.recv_sectors.load(Ordering::Relaxed),
        )
    }

    /// `receive_sizes`: agrees on the smaller disk. `Ok(true)` if our size changed; `Err` if
    /// the peer's disk is too small for the data we have.
    pub(crate) fn agree_size(
        &self,
        peer_d: u64,
        peer_u: u64,
        peer_c: u64,
        peer_max_bio: u32,
    ) -> core::result::Result<bool, ()> {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            // Diskless: the device is what the peer has (its current size, else its disk).
            let size = if peer_c != 0 { peer_c } else { peer_d };
            let params = QueueParams {
                max_hw_sectors: peer_max_bio
                    .clamp(state::DRBD_MAX_BIO_SIZE_SAFE, state::DRBD_MAX_BIO_SIZE)
                    >> 9,
                ..DISKLESS_LIMITS
            };
            if let Err(e) = self.disk.set_limits(&params) {
                pr_err!("drbd{}: setting new queue limits failed ({})\n", self.minor, e.to_errno());
            }
            let cur = self.size_sectors();
            if size == cur {
                return Ok(false);
            }
            pr_info!("drbd{}: size = {} sectors (was {}), from the peer\n", self.minor, size, cur);
            self.io.st.lock().size_sectors = size;
            self.disk.set_capacity(size);
            return Ok(true);
        };
        let st = self.state();
        let cur = self.size_sectors();
        let (mut new, _) = state::new_dev_size(ldev.my_max, ldev.sb.la_size_sect, peer_d, 0);
        if peer_u != 0 && peer_u < new {
            new = peer_u;
        }
        if new < cur
            && st.disk.raw() >= DiskState::Outdated.raw()
            && st.conn.raw() < ConnState::Connected.raw()
        {
            return Err(());
        }
        let max_bio = ldev
            .lower
            .file()
            .max_hw_bytes()
            .min(peer_max_bio.max(state::DRBD_MAX_BIO_SIZE_SAFE))
            .min(state::DRBD_MAX_BIO_SIZE);
        let params = QueueParams {
            lower: Some(ldev.lower.file()),
            max_hw_sectors: max_bio >> 9,
            max_segments: BLK_MAX_SEGMENTS,
            // A peer takes discards of up to DRBD_MAX_BATCH_BIO_SIZE in one `P_TRIM`.
            max_discard_sectors: if ldev.lower.file().max_discard_sectors() != 0 {
                packets::DRBD_MAX_BATCH_BIO_SIZE >> 9
            } else {
                0
            },
            max_write_zeroes_sectors: 0,
        };
        if let Err(e) = self.disk.set_limits(&params) {
            pr_err!("drbd{}: setting new queue limits failed ({})\n", self.minor, e.to_errno());
        }
        ldev.sb.la_peer_max_bio_size = peer_max_bio;
        if new == cur {
            return Ok(false);
        }
        pr_info!("drbd{}: size = {} sectors (was {})\n", self.minor, new, cur);
        self.io.st.lock().size_sectors = new;
        self.disk.set_capacity(new);
        ldev.sb.la_size_sect = new;
        self.md_sync(ldev);
        drop(cfg);
        self.oos_resize(new);
        Ok(true)
    }

    /// `drbd_sync_handshake` for this volume against the peer's UUIDs and state.
    pub(crate) fn sync_handshake(
        &self,
        s: &Session,
        peer: PeerUuids,
        peer_role: Role,
        peer_disk: DiskState,
    ) -> uuid::Outcome {
        // The handshake runs helpers and may demote us: no lock is held while it runs (a
        // helper may call drbdsetup, which takes them). The UUIDs are a snapshot; corrections
        // are written back below only if nothing changed them meanwhile.
        let (local, crashed_primary) = {
            let cfg = self.cfg.lock();
            let Some(ldev) = cfg.ldev.as_ref() else {
                return uuid::Outcome::Connected;
            };
            (ldev.sb.uuids, ldev.crashed_primary)
        };
        let st = self.state();
        let weight = self.io.oos_weight();
        let (policies, discard) = {
            let n = s.conn.settings.lock();
            (n.policies(), n.discard_my_data)
        };
        let input = uuid::HandshakeInput {
            cmp: uuid::CompareInput {
                local: uuid::Uuids::from_array(local),
                peer,
                crashed_primary,
                role: st.role,
                peer_role,
                agreed_protocol: s.agreed,
                agreed_features: s.features,
                resolve_conflicts: s.resolve_conflicts,
                bm_weight: weight,
            },
            disk: st.disk,
            negotiated_disk: st.disk,
            peer_disk,
            local_bits: weight,
            discard_my_data: discard,
            dry_run: false,
            policies,
        };
        let minor = self.minor;
        let peer_addr = s.conn.peer_addr;
        let r = uuid::handshake(
            &input,
            &mut || self.demote_after_split_brain(),
            &mut |e| announce::log_event(minor, &peer_addr, e),
        );
        let new = r.comparison.local.to_array();
        if new != local {
            let mut cfg = self.cfg.lock();
            if let Some(ldev) = cfg.ldev.as_mut().filter(|l| l.sb.uuids == local) {
                ldev.sb.uuids = new;
                self.md_sync(ldev);
                self.io.st.lock().uuids = Some(new);
            }
        }
        self.peer_info.lock().uuids = Some(PeerUuids {
            uuids: r.comparison.peer,
            ..peer
        });
        r.outcome
    }

    /// The state change to Secondary that the `call-pri-lost-after-sb` policies try during the
    /// sync handshake (`drbd_change_state(device, CS_VERBOSE, NS(role, R_SECONDARY))`), judged
    /// by the state rules as the C module judges it: while a new connection is still in
    /// WFReportParams the C module's `STATE_SENT` flag is set and refuses every change that
    /// does not advance the connection (`SS_IN_TRANSIENT_STATE`, not logged), so on a fresh
    /// connection the demotion always fails and the `pri-lost-after-sb` helper runs; later
    /// handshakes (e.g. the peer attached while connected) fail only while the device is open
    /// ("Device is held open by someone"). The generation UUIDs stay as they are (this node is
    /// about to become SyncTarget and adopt the peer's); the meta-data flags follow the new
    /// role. Says whether the role changed.
    fn demote_after_split_brain(&self) -> bool {
        let mut cfg = self.cfg.lock();
        let mut env = self.env();
        let (os, ns) = {
            let mut st = self.io.st.lock();
            let os = st.state;
            env.state_sent = os.conn == ConnState::WfReportParams;
            let val = State {
                role: Role::Secondary,
                ..os
            };
            match state::change_state(&os, &val, &env, ChangeFlags::Normal) {
                Ok(ns) => {
                    st.state = ns;
                    (os, ns)
                }
                Err(StateRv::NothingToDo) => return true,
                // `print_st_err` leaves this one out.
                Err(StateRv::InTransientState) => return false,
                Err(rv) => {
                    drop(st);
                    drop(cfg);
                    let _ = self.refused(rv);
                    return false;
                }
            }
        };
        if let Some(ldev) = cfg.ldev.as_mut() {
            // The meta-data flags follow the new state.
            self.md_sync(ldev);
        }
        drop(cfg);
        self.disk.set_read_only(true);
        log_state_change(self.minor, &os, &ns);
        events::state_changed(self.minor, os, ns);
        true
    }

    /// Starts a bitmap transfer in either direction.
    pub(crate) fn bm_xfer_reset(&self) {
        let bits = self.io.bm.lock().bits;
        self.peer_info.lock().bm_rx = Some(XferCtx::new(bits));
    }

    /// A fresh send context for the bitmap.
    pub(crate) fn bm_xfer_ctx(&self) -> XferCtx {
        XferCtx::new(self.io.bm.lock().bits)
    }

    /// The next packet of a bitmap we send.
    pub(crate) fn bm_send_next(
        &self,
        ctx: &mut XferCtx,
        header_size: usize,
        out: &mut [u8],
    ) -> core::result::Result<(BitmapPacket, Step), ()> {
        let bm = self.io.bm.lock();
        let src = WordBitmap::new(&bm.words, bm.bits).map_err(|_| ())?;
        ctx.send_next(&src, true, header_size, out).map_err(|_| ())
    }

    /// One packet of the peer's bitmap: merged (OR) into ours.
    pub(crate) fn bm_receive(
        &self,
        compressed: bool,
        payload: &[u8],
        header_size: usize,
    ) -> core::result::Result<Step, ()> {
        let mut pi = self.peer_info.lock();
        if pi.bm_rx.is_none() {
            pi.bm_rx = Some(XferCtx::new(self.io.bm.lock().bits));
        }
        let Some(ctx) = pi.bm_rx.as_mut() else {
            return Err(());
        };
        let mut bm = self.io.bm.lock();
        let words: &mut [u64] = &mut bm.words;
        let r = if compressed {
            ctx.receive_compressed(payload, header_size, words)
        } else {
            ctx.receive_plain(payload, header_size, words)
        };
        match r {
            Ok(Step::Done) => {
                pi.bm_rx = None;
                Ok(Step::Done)
            }
            Ok(s) => Ok(s),
            Err(_) => Err(()),
        }
    }

    /// The source's sync UUID (`drbd_gen_and_send_sync_uuid`).
    pub(crate) fn gen_sync_uuid(&self) -> u64 {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return sys::random_u64();
        };
        let mut u = uuid::Uuids::from_array(ldev.sb.uuids);
        let id = u.gen_sync_uuid(sys::random_u64());
        ldev.sb.uuids = u.to_array();
        let uuids = ldev.sb.uuids;
        self.md_sync(ldev);
        self.io.st.lock().uuids = Some(uuids);
        id
    }

    /// `P_SYNC_UUID` on the target.
    pub(crate) fn receive_sync_uuid(&self, id: u64) {
        let role = self.role();
        let mut cfg = self.cfg.lock();
        if let Some(ldev) = cfg.ldev.as_mut() {
            let mut u = uuid::Uuids::from_array(ldev.sb.uuids);
            u.receive_sync_uuid(id, role);
            ldev.sb.uuids = u.to_array();
            let uuids = ldev.sb.uuids;
            self.md_sync(ldev);
            self.io.st.lock().uuids = Some(uuids);
        }
    }

    /// `drbd_start_resync`.
    pub(crate) fn start_resync(&self, side: ConnState) {
        let total = self.io.oos_weight();
        {
            let mut pi = self.peer_info.lock();
            self.io.rs_total.store(total, Ordering::Relaxed);
            self.io.rs_failed.store(0, Ordering::Relaxed);
            self.io.rs_sect_in.store(0, Ordering::Relaxed);
            self.io.rs_finished.store(false, Ordering::Release);
            pi.rs_cursor = 0;
            pi.rs_inflight = 0;
            pi.rs_start_ms = sys::jiffies_ms();
            pi.rs_paused_ms = 0;
            pi.rs_paused_since = None;
        }
        let (_, ns) = self.change_conn_state(|s| {
            s.conn = side;
            if side == ConnState::SyncTarget {
                s.disk = DiskState::Inconsistent;
            } else {
                s.pdsk = DiskState::Inconsistent;
            }
        });
        // A pause bit already set: the resync starts paused, and that counts as paused time.
        if matches!(ns.conn, ConnState::PausedSyncS | ConnState::PausedSyncT) {
            self.peer_info.lock().rs_paused_since = Some(sys::jiffies_ms());
        }
        // The meta-data flags follow (a SyncTarget is no longer consistent).
        self.md_follow_state(&ns);
        // The bits the handshake and the bitmap exchange set are not covered by the activity
        // log: on disk with them before the resync starts clearing any.
        self.bm_write_all();
        pr_info!(
            "drbd{}: Began resync as {} (will sync {} KB [{} bits set]).\n",
            self.minor,
            ns.conn.name(),
            total * 4,
            total
        );
    }

    /// Sets `al-extents` for the next attach (the running activity log keeps its size).
    pub(crate) fn set_al_extents(&self, n: u32) {
        self.al_extents.store(n, Ordering::Relaxed);
    }

    /// Activity-log transactions and bitmap blocks written since attach.
    pub(crate) fn al_counters(&self) -> (u64, u64) {
        let al = self.io.st.lock().al.clone();
        al.map_or((0, 0), |al| al.counters())
    }

    /// Writes the whole in-memory bitmap to the meta-data, if attached.
    pub(crate) fn bm_write_all(&self) {
        let al = self.io.st.lock().al.clone();
        if let Some(al) = al {
            let bits = self.io.bm.lock().bits;
            let _ = al.write_bitmap(bits);
        }
    }

    /// The next resync request of at most `max` bytes, if bits are left to ask for.
    pub(crate) fn rs_next_request(&self, max: u32) -> Option<oos::ResyncRequest> {
        if self.state().conn != ConnState::SyncTarget {
            return None;
        }
        let cap = self.size_sectors();
        let mut pi = self.peer_info.lock();
        let (req, next) = {
            let bm = self.io.bm.lock();
            oos::plan_request(&bm.words, bm.bits, cap, pi.rs_cursor, max)?
        };
        pi.rs_cursor = next;
        pi.rs_inflight += 1;
        self.io.rs_outstanding.fetch_add(1, Ordering::SeqCst);
        Some(req)
    }

    /// Whether the target asked for everything and got all answers.
    pub(crate) fn rs_done(&self) -> bool {
        if self.state().conn != ConnState::SyncTarget {
            return false;
        }
        let (inflight, cursor) = {
            let pi = self.peer_info.lock();
            (pi.rs_inflight, pi.rs_cursor)
        };
        let bits = self.io.bm.lock().bits;
        inflight == 0 && (cursor >= bits || self.io.oos_weight() == 0)
    }

    /// Stores the SyncTarget's request thread (the previous one, finished, goes).
    pub(crate) fn set_rs_ticker(&self, t: Option<crate::sys::thread::KThread>) {
        let old = core::mem::replace(&mut self.peer_info.lock().rs_ticker, t);
        drop(old);
    }

    /// Sectors of resync data answered since the last call (`rs_sect_in`).
    pub(crate) fn take_rs_sect_in(&self) -> u32 {
        self.io.rs_sect_in.swap(0, Ordering::AcqRel)
    }

    /// A resync request of `bytes` was answered.
    pub(crate) fn rs_reply_done(&self, failed: bool, bytes: u32) {
        self.io.rs_sect_in.fetch_add(bytes >> 9, Ordering::AcqRel);
        let _ = self
            .io
            .rs_outstanding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1));
        let mut pi = self.peer_info.lock();
        pi.rs_inflight = pi.rs_inflight.saturating_sub(1);
        if failed {
            self.io.rs_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A resync block failed on the peer (source side).
    pub(crate) fn rs_count_failed(&self, bytes: u32) {
        self.io
            .rs_failed
            .fetch_add(u64::from(bytes.div_ceil(4096)), Ordering::Relaxed);
    }

    /// Whether every bit still set is a block the resync failed on: nothing is left to wait
    /// for.
    pub(crate) fn rs_only_failed_left(&self) -> bool {
        self.io.oos_weight() <= self.io.rs_failed.load(Ordering::Relaxed)
    }

    /// Whether resync data may arrive now.
    pub(crate) fn expects_resync_reply(&self) -> bool {
        self.peer_info.lock().rs_inflight > 0
    }

    /// Resets the resync bookkeeping (session ended) and stops the request thread.
    pub(crate) fn rs_abort(&self) {
        let ticker = {
            let mut pi = self.peer_info.lock();
            pi.rs_inflight = 0;
            pi.rs_cursor = 0;
            pi.bm_rx = None;
            self.io.rs_outstanding.store(0, Ordering::SeqCst);
            pi.rs_ticker.take()
        };
        // Outside the lock: the thread may be waiting for it.
        drop(ticker);
    }

    /// Resync progress: (total bits, bits left, failed), while resyncing.
    pub(crate) fn rs_progress(&self) -> (u64, u64, u64) {
        // Lock-free: `/proc/drbd` and status dumps read it under the registry lock.
        (
            self.io.rs_total.load(Ordering::Relaxed),
            self.io.oos_weight(),
            self.io.rs_failed.load(Ordering::Relaxed),
        )
    }

    /// `drbd_resync_finished`: back to Connected, the target UpToDate with the source's
    /// UUIDs. Returns false if no resync was running.
    pub(crate) fn finish_resync(&self) -> bool {
        let st = self.state();
        let Some(side) = uuid::ResyncSide::from_conn(st.conn) else {
            return false;
        };
        // The source's last ack and its peer's state, or the target's last reply and its
        // request thread, may both find the resync done: only one finishes it.
        if self.io.rs_finished.swap(true, Ordering::AcqRel) {
            return false;
        }
        let (failed, total, start, paused_ms) = {
            let pi = self.peer_info.lock();
            (
                self.io.rs_failed.load(Ordering::Relaxed),
                self.io.rs_total.load(Ordering::Relaxed),
                pi.rs_start_ms,
                pi.rs_paused_ms
                    + pi.rs_paused_since.map_or(0, |t| sys::jiffies_ms().saturating_sub(t)),
            )
        };
        let failed = failed != 0 || self.io.oos_weight() != 0;
        // As `drbd_resync_finished`: the rate over the time not paused.
        let secs = (sys::jiffies_ms().saturating_sub(start).saturating_sub(paused_ms) / 1000).max(1);
        let paused = paused_ms / 1000;
        pr_info!(
            "drbd{}: Resync done (total {} sec; paused {} sec; {} K/sec)\n",
            self.minor,
            secs + paused,
            paused,
            total * 4 / secs
        );
        self.ov.log_csums(self.minor, total);
        {
            let mut cfg = self.cfg.lock();
            if let Some(ldev) = cfg.ldev.as_mut() {
                let mut u = uuid::Uuids::from_array(ldev.sb.uuids);
                let mut pi = self.peer_info.lock();
                let mut peer = pi.uuids.map(|p| p.uuids);
                let end = uuid::resync_finished(&mut u, peer.as_mut(), side, failed, st.role);
                if let (Some(p), Some(pu)) = (peer, pi.uuids.as_mut()) {
                    pu.uuids = p;
                }
                drop(pi);
                if end.updated {
                    ldev.sb.uuids = u.to_array();
                    let uuids = ldev.sb.uuids;
                    self.md_sync(ldev);
                    self.io.st.lock().uuids = Some(uuids);
                }
            }
        }
        self.change_conn_state(|s| {
            s.conn = ConnState::Connected;
            if !failed {
                if side == uuid::ResyncSide::Target {
                    s.disk = DiskState::UpToDate;
                    s.pdsk = DiskState::UpToDate;
                } else {
                    s.pdsk = DiskState::UpToDate;
                }
            }
        });
        self.md_follow_state(&self.state());
        if !failed && side == uuid::ResyncSide::Target {
            let cur = self.uuids().map(|u| u[UI_CURRENT]).unwrap_or(0);
            self.io.st.lock().ed_uuid = cur;
        }
        // The cleared bits, so a restart does not resync again, and the disk states.
        self.bm_write_all();
        if let Some(ldev) = self.cfg.lock().ldev.as_mut() {
            self.md_sync(ldev);
        }
        true
    }
}
