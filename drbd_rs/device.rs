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
    workqueue::{impl_has_work, new_work, Work, WorkItem},
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
mod attach;
mod handshake;
mod io_errors;
use io_errors::{DetachWork, ErrorSink, IoErrors, ERR_META, ERR_READ};
mod io_path;
mod peer;
mod role;
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
