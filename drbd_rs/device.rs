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

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::{new_condvar, new_mutex, new_spinlock, Arc, CondVar, Mutex, SpinLock},
};

use crate::drbd_core::{
    genl::{limits, DiskState, Fencing, OnIoError, RetCode, Role, StateRv},
    meta::{
        MetaDisk, MetaError, Superblock, AL_EXTENT_SIZE, DRBD_MD_MAGIC_08,
        DRBD_MD_MAGIC_84_UNCLEAN, MDF_AL_CLEAN, MD_128MB_SECT, MD_4KB_SECT,
        MIN_FLEX_MD_DEVICE_SECTORS, UI_CURRENT, UI_SIZE,
    },
    state::{self, ChangeFlags, DrbdRet, OpenRefusal, State, StateEnv, DRBD_MAX_BIO_SIZE_SAFE},
    uuid,
};
use crate::sys::{
    self,
    bdev::{BdevFile, LowerDev, MdBlock},
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
    pub(crate) open_count: u32,
    /// The generation UUIDs, while attached.
    pub(crate) uuids: Option<[u64; UI_SIZE]>,
    /// The meta-data flags (`MDF_*`), while attached.
    pub(crate) md_flags: Option<u32>,
    /// The `on-io-error` policy, while attached.
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
    ed_uuid: u64,
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
        let lower = {
            let mut st = self.st.lock();
            let lower = st.lower.clone();
            if lower.is_some() {
                st.users += 1;
            }
            lower
        };
        let Some(lower) = lower else {
            // Diskless (or detaching): no data to serve. A peer will serve it later.
            return rq.end(BlkStatus::IOERR);
        };
        let sectors = u64::from(rq.bytes()) >> 9;
        match rq.op() {
            ReqOp::Read => self.read_sectors.fetch_add(sectors, Ordering::Relaxed),
            ReqOp::Write => self.written_sectors.fetch_add(sectors, Ordering::Relaxed),
            _ => 0,
        };
        lower.submit(rq);
        // Our reference goes before `users` does, so a detach waiting for `users == 0` holds
        // the last one and closes the backing device itself, never a `queue_rq` (which may run
        // inside another `submit_bio` and must not wait for its own bios).
        drop(lower);
        let mut st = self.st.lock();
        st.users -= 1;
        if st.users == 0 {
            self.idle.notify_all();
        }
    }
}

impl DeviceIo {
    fn state(&self) -> State {
        self.st.lock().state
    }
}

/// An attached backing device and its meta-data.
struct Ldev {
    lower: Arc<LowerDev>,
    md_file: BdevFile,
    meta_disk: MetaDisk,
    md_offset: u64,
    /// The in-core superblock; written back on every change.
    sb: Superblock,
    buf: MdBlock,
    crashed_primary: bool,
    on_io_error: OnIoError,
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
                    ed_uuid: 0,
                }),
                idle <- new_condvar!(),
                read_sectors: AtomicU64::new(0),
                written_sectors: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?;
        let disk = Disk::new(
            minor,
            fmt!("{}{}", crate::disk_name_prefix(), minor),
            true,
            &DISKLESS_LIMITS,
            io.clone(),
        )?;
        Arc::pin_init(
            try_pin_init!(Device {
                minor,
                io,
                disk,
                cfg <- new_mutex!(Config { ldev: None }),
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

    fn env(&self) -> StateEnv {
        StateEnv {
            open: self.io.st.lock().open_count > 0,
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
        let sb = Superblock::decode(&buf[..]).map_err(|e| {
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
        md.al_nr_extents = limits::AL_EXTENTS_DEF as u32;
        md.la_peer_max_bio_size = peer_max_bio;

        let lower = Arc::pin_init(LowerDev::new(lower_file), GFP_KERNEL).map_err(|e| {
            pr_err!(
                "drbd{}: cannot set up the data path: {}\n",
                minor,
                e.to_errno()
            );
            RetCode::Nomem
        })?;
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
            meta_disk,
            md_offset,
            sb: md,
            buf,
            crashed_primary,
            on_io_error,
        });
        Ok(())
    }

    /// Detaches the backing device (`drbdsetup detach`): waits for the I/O in flight, writes
    /// the superblock back clean and closes the devices. A StandAlone Primary cannot give up
    /// its only UpToDate data (`SS_NO_UP_TO_DATE_DISK`) unless `force`; it then stays Primary
    /// without data and fails I/O. Detaching a diskless device is `SS_NOTHING_TO_DO`.
    pub(crate) fn detach(&self, force: bool) -> Result<StateRv, DrbdRet> {
        let mut cfg = self.cfg.lock();
        let os = self.io.state();
        let failed = match state::detach(&os, force, &self.env()) {
            Ok(None) => return Ok(StateRv::NothingToDo),
            Ok(Some(s)) => s,
            Err(rv) => return Err(self.refused(rv)),
        };
        match cfg.ldev.take() {
            Some(ldev) => self.detach_ldev(ldev, os, failed),
            None => self.io.st.lock().state.disk = DiskState::Diskless,
        }
        Ok(StateRv::Success)
    }

    /// The second half of a detach, from state `failed` (disk `Failed`).
    fn detach_ldev(&self, mut ldev: Ldev, os: State, failed: State) {
        let minor = self.minor;
        {
            // No request is in flight while frozen, and new ones find no backing device.
            let _frozen = self.disk.freeze();
            let mut st = self.io.st.lock();
            st.lower = None;
            st.state = failed;
        }
        {
            // A `queue_rq` that looked the device up before may still hold a reference.
            let mut st = self.io.st.lock();
            while st.users != 0 {
                self.io.idle.wait(&mut st);
            }
        }

        // Everything is on disk: the activity log has nothing to replay.
        let size = self.io.st.lock().size_sectors;
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

        let diskless = state::sanitize_state(
            &failed,
            &State {
                disk: DiskState::Diskless,
                ..failed
            },
            &StateEnv::STANDALONE,
        );
        {
            let mut st = self.io.st.lock();
            st.state = diskless;
            st.size_sectors = 0;
            st.uuids = None;
            st.md_flags = None;
            st.on_io_error = None;
        }
        self.disk.set_capacity(0);
        if let Err(e) = self.disk.set_limits(&DISKLESS_LIMITS) {
            pr_err!(
                "drbd{}: setting new queue limits failed ({})\n",
                minor,
                e.to_errno()
            );
        }
        pr_info!(
            "drbd{}: disk( {} -> Diskless ) ({:?} meta-data written back clean)\n",
            minor,
            os.disk.name(),
            meta_disk
        );
    }

    /// Changes the role (`drbdsetup primary [--force]` / `secondary`). Becoming Primary needs
    /// UpToDate data, or `force`, which declares Inconsistent, Outdated or Consistent data
    /// UpToDate; without a peer that starts a new data generation (new current UUID).
    /// Becoming Secondary is refused while the device is open (`SS_DEVICE_IN_USE`). Returns
    /// `SS_SUCCESS`, or `SS_NOTHING_TO_DO` when already in that role.
    pub(crate) fn set_role(&self, role: Role, force: bool) -> Result<StateRv, DrbdRet> {
        let mut cfg = self.cfg.lock();
        let minor = self.minor;
        let (os, ch) = {
            let mut st = self.io.st.lock();
            let env = StateEnv {
                open: st.open_count > 0,
                ..StateEnv::STANDALONE
            };
            let os = st.state;
            // Without a peer and with `fencing dont-care`, outdating the peer "succeeds".
            match state::set_role(&os, role, force, &env, &mut || true) {
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
    /// UUID becoming the bitmap UUID; the meta-data is written at once. The caller refuses
    /// connected devices. (`--clear-bitmap` has no bitmap to clear until drbd-rs keeps one.)
    pub(crate) fn new_current_uuid(&self) -> Result<(), DrbdRet> {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return Err(DrbdRet::Ret(RetCode::NoDisk));
        };
        let role = self.io.state().role;
        let mut uuids = uuid::Uuids::from_array(ldev.sb.uuids);
        uuids.new_current_admin(role, sys::random_u64(), false);
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
        self.md_sync(ldev);
        self.io.st.lock().uuids = Some(u);
        Ok(())
    }

    /// Logs a refused state change as the C module does (`print_st_err`), for the reply.
    fn refused(&self, rv: StateRv) -> DrbdRet {
        let rv = DrbdRet::State(rv);
        pr_err!("drbd{}: State change failed: {}\n", self.minor, rv.text());
        rv
    }

    /// Writes the in-core superblock (`drbd_md_sync`), marked in use.
    fn md_sync(&self, ldev: &mut Ldev) {
        ldev.sb.magic = DRBD_MD_MAGIC_84_UNCLEAN;
        ldev.sb.la_size_sect = self.io.st.lock().size_sectors;
        ldev.sb.encode(&mut ldev.buf);
        if let Err(e) = ldev.md_file.write_block(ldev.md_offset, &ldev.buf, true) {
            pr_err!(
                "drbd{}: meta data update failed! ({})\n",
                self.minor,
                e.to_errno()
            );
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
            self.detach_ldev(ldev, os, failed);
        }
    }
}
