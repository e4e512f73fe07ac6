// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the block-device half of a standalone node, in the kernel's own build:
//! the state rules and the meta-data codec as compiled for the kernel, and then the real thing
//! without a real disk: RAM disks served by the same `sys::disk` layer (`/dev/drbdrs-kunitN`,
//! created by the test) stand in for backing devices, and `/dev/drbd25x` devices are attached
//! to them, promoted, written and read through the block layer, detached and re-attached. The
//! hostile cases (garbage, unclean, old or misplaced meta-data, devices too small or in use,
//! bad paths) must each fail with DRBD's error code and leave nothing claimed or half set up,
//! which the tests check by attaching successfully afterwards.
//!
//! Tests return `Result` and check with [`ensure!`] rather than `assert!`, so a failure unwinds
//! through the destructors (gendisks deleted, devices closed) instead of killing the test
//! thread with devices left behind.

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::device::Device;
use crate::drbd_core::{
    genl::{DiskState, OnIoError, RetCode, Role, StateRv},
    meta::*,
    state::{self, DrbdRet, OpenRefusal, State, StateEnv},
};
use crate::sys::{
    bdev::{BdevFile, MdBlock},
    disk::{BlkStatus, Disk, DiskOps, IoRequest, QueueParams, ReqOp},
    flush_delayed_fput, InitFs,
};

/// Fails the test (with the condition and line in the log) unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            pr_err!(
                "drbd_rs_device: check failed at line {}: {}\n",
                line!(),
                stringify!($cond)
            );
            return Err(EINVAL);
        }
    };
}

/// Minors of the RAM disks; DRBD minors in the tests are 250..=253.
const MEM_MINOR_BASE: u32 = 1000;

/// The memory behind a RAM disk.
#[pin_data]
struct MemStore {
    #[pin]
    data: Mutex<KVVec<u8>>,
}

impl DiskOps for MemStore {
    fn open(&self, _write: bool) -> Result {
        Ok(())
    }

    fn release(&self) {}

    fn queue_rq(&self, mut rq: IoRequest) {
        // Requests without data (flush) have sector -1: compute the range checked.
        let range = (rq.sector() as usize)
            .checked_mul(512)
            .and_then(|off| Some(off..off.checked_add(rq.bytes() as usize)?));
        let mut data = self.data.lock();
        let status = match (rq.op(), range.and_then(|r| data.get_mut(r))) {
            (ReqOp::Flush, _) => BlkStatus::OK,
            (ReqOp::Read, Some(src)) => match rq.copy_from_slice(src) {
                Ok(()) => BlkStatus::OK,
                Err(_) => BlkStatus::IOERR,
            },
            (ReqOp::Write, Some(dst)) => match rq.copy_to_slice(dst) {
                Ok(()) => BlkStatus::OK,
                Err(_) => BlkStatus::IOERR,
            },
            (ReqOp::Discard | ReqOp::WriteZeroes, Some(dst)) => {
                dst.fill(0);
                BlkStatus::OK
            }
            (ReqOp::Other(_), _) => BlkStatus::NOTSUPP,
            _ => BlkStatus::IOERR,
        };
        drop(data);
        rq.end(status);
    }
}

/// A RAM disk `/dev/drbdrs-kunit<n>` to attach DRBD devices to.
struct MemDisk {
    store: Arc<MemStore>,
    _disk: Disk<MemStore>,
}

impl MemDisk {
    fn new(n: u32, bytes: usize) -> Result<Self> {
        let data = KVVec::from_elem(0u8, bytes, GFP_KERNEL)?;
        let store = Arc::pin_init(
            pin_init!(MemStore {
                data <- new_mutex!(data),
            }),
            GFP_KERNEL,
        )?;
        let params = QueueParams {
            lower: None,
            max_hw_sectors: 256,
            max_segments: 128,
            max_discard_sectors: 0,
            max_write_zeroes_sectors: 0,
        };
        let disk = Disk::new(
            MEM_MINOR_BASE + n,
            fmt!("drbdrs-kunit{}", n),
            false,
            &params,
            store.clone(),
        )?;
        disk.set_capacity((bytes / 512) as u64);
        Ok(MemDisk { store, _disk: disk })
    }

    fn sectors(&self) -> u64 {
        (self.store.data.lock().len() / 512) as u64
    }

    /// Copies 4 KiB at `sector` out of the disk.
    fn get_block(&self, sector: u64, out: &mut [u8; MD_BLOCK_SIZE]) {
        let data = self.store.data.lock();
        let at = sector as usize * 512;
        out.copy_from_slice(&data[at..at + MD_BLOCK_SIZE]);
    }

    /// Stores 4 KiB at `sector` on the disk.
    fn put_block(&self, sector: u64, blk: &[u8; MD_BLOCK_SIZE]) {
        let mut data = self.store.data.lock();
        let at = sector as usize * 512;
        data[at..at + MD_BLOCK_SIZE].copy_from_slice(blk);
    }
}

/// Writes fresh internal meta-data, as `drbdmeta create-md` does, and returns its layout.
fn create_md(mem: &MemDisk) -> Result<Layout> {
    let layout = Layout::internal(mem.sectors()).map_err(|_| EINVAL)?;
    let mut blk = MdBlock::new()?;
    Superblock::new_created(&layout).encode(&mut blk);
    mem.put_block(layout.md_offset, &blk);
    Ok(layout)
}

/// The superblock as it is on the RAM disk now.
fn read_sb(mem: &MemDisk, layout: &Layout) -> Result<Superblock> {
    let mut blk = MdBlock::new()?;
    mem.get_block(layout.md_offset, &mut blk);
    Superblock::parse(&blk[..]).map_err(|_| EINVAL)
}

/// Holder identity for the test's own opens of `/dev/drbdN`.
static TEST_HOLDER: u8 = 0;

fn open_drbd(path: &CStr) -> Result<BdevFile> {
    BdevFile::open(path, core::ptr::from_ref(&TEST_HOLDER).cast())
}

fn pattern(blk: &mut [u8; MD_BLOCK_SIZE], seed: u64) {
    for (i, b) in blk.iter_mut().enumerate() {
        *b = (seed.wrapping_mul(131) ^ (i as u64).wrapping_mul(7)) as u8;
    }
}

fn ret(r: RetCode) -> DrbdRet {
    DrbdRet::Ret(r)
}

fn ss(s: StateRv) -> DrbdRet {
    DrbdRet::State(s)
}

const MIB: usize = 1 << 20;

#[kunit_tests(drbd_rs_device)]
mod tests {
    use super::*;

    #[test]
    fn role_rules_as_compiled() {
        let sec = State {
            disk: DiskState::Inconsistent,
            ..State::UNCONFIGURED
        };
        let env = StateEnv::STANDALONE;
        assert_eq!(
            state::set_role(&sec, Role::Primary, false, &env, &mut || true),
            Err(StateRv::NoUpToDateDisk)
        );
        let ch = state::set_role(&sec, Role::Primary, true, &env, &mut || true);
        assert!(matches!(ch, Ok(Some(c)) if c.forced && c.state.disk == DiskState::UpToDate));
        let open = StateEnv { open: true, ..env };
        let prim = State {
            role: Role::Primary,
            disk: DiskState::UpToDate,
            ..State::UNCONFIGURED
        };
        assert_eq!(
            state::set_role(&prim, Role::Secondary, false, &open, &mut || true),
            Err(StateRv::DeviceInUse)
        );
        assert_eq!(
            state::detach(&prim, false, &env),
            Err(StateRv::NoUpToDateDisk)
        );
        assert_eq!(
            state::may_open(Role::Secondary, true, false),
            Err(OpenRefusal::ReadOnly)
        );
        assert_eq!(
            state::may_open(Role::Secondary, false, false),
            Err(OpenRefusal::WrongMediumType)
        );
        assert_eq!(ret(RetCode::MdUnclean).code(), 165);
        assert_eq!(ret(RetCode::MdInvalid).code(), 119);
        assert_eq!(ss(StateRv::NoUpToDateDisk).code(), -2);
    }

    #[test]
    fn superblock_round_trip_in_a_kmalloc_block() -> Result {
        let layout = Layout::internal(64 * 2048).map_err(|_| EINVAL)?;
        let mut blk = MdBlock::new()?;
        let sb = Superblock::new_created(&layout);
        sb.encode(&mut blk);
        ensure!(Superblock::decode(&blk[..]) == Ok(sb));
        ensure!(sb.layout_on(MetaDisk::Internal, 64 * 2048) == Ok(layout));
        let mut unclean = sb;
        unclean.magic = DRBD_MD_MAGIC_84_UNCLEAN;
        unclean.encode(&mut blk);
        ensure!(Superblock::decode(&blk[..]) == Err(MetaError::Unclean));
        blk.fill(0xa5);
        ensure!(matches!(
            Superblock::decode(&blk[..]),
            Err(MetaError::BadMagic(_))
        ));
        Ok(())
    }

    #[test]
    fn diskless_device() -> Result {
        let _fs = InitFs::new();
        let dev = Device::new(250)?;
        ensure!(dev.role() == Role::Secondary);
        ensure!(dev.disk_state() == DiskState::Diskless);
        ensure!(dev.size_sectors() == 0);
        // drbd_open: a Secondary refuses a write open with -EROFS.
        ensure!(open_drbd(c"/dev/drbd250").err() == Some(EROFS));
        ensure!(dev.set_role(Role::Primary, true) == Err(ss(StateRv::NoUpToDateDisk)));
        ensure!(dev.detach(false) == Ok(StateRv::NothingToDo));
        ensure!(dev.set_role(Role::Secondary, false) == Ok(StateRv::NothingToDo));
        let pe = OnIoError::PassOn;
        ensure!(
            dev.attach(c"/dev/no-such-disk", c"/dev/no-such-disk", -1, pe)
                == Err(ret(RetCode::OpenDisk))
        );
        ensure!(
            dev.attach(c"/dev/drbd250", c"/dev/drbd250", -5, pe) == Err(ret(RetCode::MdIdxInvalid))
        );
        // A device cannot be its own backing device: opening it for writing is refused.
        ensure!(
            dev.attach(c"/dev/drbd250", c"/dev/drbd250", -1, pe) == Err(ret(RetCode::OpenDisk))
        );
        ensure!(dev.disk_state() == DiskState::Diskless);
        drop(dev);
        // The gendisk is gone with the device.
        ensure!(open_drbd(c"/dev/drbd250").is_err());
        Ok(())
    }

    #[test]
    fn attach_primary_io_detach_reattach() -> Result {
        let _fs = InitFs::new();
        let mem = MemDisk::new(0, 16 * MIB)?;
        let layout = create_md(&mem)?;
        let dev = Device::new(251)?;
        let pe = OnIoError::PassOn;
        ensure!(dev.attach(c"/dev/drbdrs-kunit0", c"/dev/drbdrs-kunit0", -1, pe) == Ok(()));
        ensure!(dev.disk_state() == DiskState::Inconsistent);
        let size = layout.max_data_sectors(mem.sectors());
        ensure!(dev.size_sectors() == size);
        // In use: the 8.4 "unclean" magic, AL no longer clean.
        let sb = read_sb(&mem, &layout)?;
        ensure!(sb.magic == DRBD_MD_MAGIC_84_UNCLEAN);
        ensure!(sb.flags & MDF_AL_CLEAN == 0);
        ensure!(sb.la_size_sect == size);
        ensure!(
            dev.attach(c"/dev/drbdrs-kunit0", c"/dev/drbdrs-kunit0", -1, pe)
                == Err(ret(RetCode::DiskConfigured))
        );

        ensure!(dev.set_role(Role::Primary, false) == Err(ss(StateRv::NoUpToDateDisk)));
        ensure!(dev.set_role(Role::Primary, true) == Ok(StateRv::Success));
        ensure!(dev.role() == Role::Primary && dev.disk_state() == DiskState::UpToDate);
        let uuids = dev.uuids().ok_or(EINVAL)?;
        ensure!(uuids[UI_BITMAP] == UUID_JUST_CREATED);
        ensure!(uuids[UI_CURRENT] & 1 == 1 && uuids[UI_CURRENT] != UUID_JUST_CREATED | 1);
        let sb = read_sb(&mem, &layout)?;
        ensure!(sb.uuids == uuids);
        ensure!(
            sb.flags & (MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PRIMARY_IND)
                == MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PRIMARY_IND
        );

        // I/O through /dev/drbd251 lands on the same sectors of the backing device.
        {
            let f = open_drbd(c"/dev/drbd251")?;
            ensure!(dev.set_role(Role::Secondary, false) == Err(ss(StateRv::DeviceInUse)));
            let mut blk = MdBlock::new()?;
            let mut back = MdBlock::new()?;
            for sector in [0u64, 8, 1001, size - 8] {
                pattern(&mut blk, sector);
                f.write_block(sector, &blk, sector == 8)?;
                mem.get_block(sector, &mut back);
                ensure!(back[..] == blk[..]);
                back.fill(0);
                f.read_block(sector, &mut back)?;
                ensure!(back[..] == blk[..]);
            }
            // Beyond the data area (the meta-data) is not reachable through /dev/drbdN.
            ensure!(f.write_block(size, &blk, false).is_err());
            ensure!(dev.written_sectors() >= 32 && dev.read_sectors() >= 32);
        }
        flush_delayed_fput();
        ensure!(dev.status().open_count == 0);
        ensure!(dev.set_role(Role::Secondary, false) == Ok(StateRv::Success));
        ensure!(dev.uuids().ok_or(EINVAL)?[UI_CURRENT] & 1 == 0);
        ensure!(open_drbd(c"/dev/drbd251").err() == Some(EROFS));

        // Detach writes the superblock back clean, so re-attaching needs no apply-al.
        ensure!(dev.detach(false) == Ok(StateRv::Success));
        ensure!(dev.disk_state() == DiskState::Diskless && dev.size_sectors() == 0);
        let sb = read_sb(&mem, &layout)?;
        ensure!(sb.magic == DRBD_MD_MAGIC_08);
        ensure!(sb.flags == MDF_AL_CLEAN | MDF_CONSISTENT | MDF_WAS_UP_TO_DATE);
        ensure!(sb.uuids[UI_CURRENT] == uuids[UI_CURRENT] & !1);
        ensure!(sb.la_size_sect == size);
        ensure!(sb.validate().is_ok());

        ensure!(dev.attach(c"/dev/drbdrs-kunit0", c"/dev/drbdrs-kunit0", -1, pe) == Ok(()));
        ensure!(dev.disk_state() == DiskState::UpToDate);
        // UpToDate data: no force needed, and the open bitmap generation keeps the UUID.
        ensure!(dev.set_role(Role::Primary, false) == Ok(StateRv::Success));
        ensure!(dev.uuids().ok_or(EINVAL)?[UI_CURRENT] == uuids[UI_CURRENT]);
        {
            let f = open_drbd(c"/dev/drbd251")?;
            let mut blk = MdBlock::new()?;
            let mut want = MdBlock::new()?;
            f.read_block(1001, &mut blk)?;
            pattern(&mut want, 1001);
            ensure!(blk[..] == want[..]);
        }
        flush_delayed_fput();
        ensure!(dev.set_role(Role::Secondary, false) == Ok(StateRv::Success));
        ensure!(dev.detach(false) == Ok(StateRv::Success));
        Ok(())
    }

    #[test]
    fn hostile_meta_data_and_devices() -> Result {
        let _fs = InitFs::new();
        let mem = MemDisk::new(1, 16 * MIB)?;
        // The meta device of the mismatched combinations below.
        let _other = MemDisk::new(2, 16 * MIB)?;
        let small = MemDisk::new(3, MIB / 2)?;
        let dev = Device::new(252)?;
        let pe = OnIoError::PassOn;
        let m0 = c"/dev/drbdrs-kunit1";
        let attach = |lower: &CStr, meta: &CStr, idx: i32| dev.attach(lower, meta, idx, pe);

        // No meta-data at all, and garbage.
        let layout = Layout::internal(mem.sectors()).map_err(|_| EINVAL)?;
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::MdInvalid)));
        let mut blk = MdBlock::new()?;
        blk.fill(0x5a);
        mem.put_block(layout.md_offset, &blk);
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::MdInvalid)));
        // Unclean (8.4 magic, or 08 magic without AL-clean: a crashed Primary): the attach
        // applies the activity log, as `drbdmeta apply-al` would. The ring names extent 2 (and
        // one far beyond the device, which must be ignored); a torn transaction counts for
        // nothing. The bitmap area is zero (fresh disk), so exactly extent 2's 1024 bits end
        // up out of sync, and the detach leaves the meta-data clean.
        let mut sb = Superblock::new_created(&layout);
        // The size the device had: no growth to mark.
        sb.la_size_sect = layout.max_data_sectors(mem.sectors());
        let updates = [
            AlUpdate { slot: 0, extent: 2 },
            AlUpdate { slot: 5, extent: 1_000_000 },
        ];
        let tr = AlTransactionData {
            tr_number: 41,
            transaction_type: AL_TR_UPDATE,
            context_size: 1237,
            context_start_slot_nr: 919,
            updates: &updates,
            context: &[],
        };
        tr.encode(&mut blk).map_err(|_| EINVAL)?;
        mem.put_block(layout.al_transaction_sector(41), &blk);
        let torn = AlTransactionData {
            tr_number: 42,
            updates: &[AlUpdate { slot: 1, extent: 3 }],
            ..tr
        };
        torn.encode(&mut blk).map_err(|_| EINVAL)?;
        blk[300] ^= 0xff;
        mem.put_block(layout.al_transaction_sector(42), &blk);
        for (magic, flags) in [
            (DRBD_MD_MAGIC_84_UNCLEAN, MDF_AL_CLEAN),
            (DRBD_MD_MAGIC_08, 0),
        ] {
            sb.magic = magic;
            sb.flags = flags;
            sb.encode(&mut blk);
            mem.put_block(layout.md_offset, &blk);
            ensure!(attach(m0, m0, -1) == Ok(()));
            ensure!(dev.oos_weight() == 1024);
            ensure!(dev.detach(false) == Ok(StateRv::Success));
            mem.get_block(layout.md_offset, &mut blk);
            let back = Superblock::decode(&blk[..]).map_err(|_| EINVAL)?;
            ensure!(back.is_clean());
        }
        // The bits are in the on-disk bitmap now: a clean attach finds them.
        ensure!(attach(m0, m0, -1) == Ok(()));
        ensure!(dev.oos_weight() == 1024);
        ensure!(dev.detach(false) == Ok(StateRv::Success));
        // DRBD 0.7 meta-data, and offsets pointing outside the device.
        sb.magic = DRBD_MD_MAGIC_07;
        sb.flags = MDF_AL_CLEAN;
        sb.encode(&mut blk);
        mem.put_block(layout.md_offset, &blk);
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::MdInvalid)));
        let mut far = Superblock::new_created(&layout);
        far.bm_offset = -(i32::MAX & !7);
        far.encode(&mut blk);
        mem.put_block(layout.md_offset, &blk);
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::MdInvalid)));
        // A consistent disk whose last agreed size it cannot hold.
        let mut big = Superblock::new_created(&layout);
        big.flags |= MDF_CONSISTENT;
        big.la_size_sect = layout.max_data_sectors(mem.sectors()) + 8;
        big.encode(&mut blk);
        mem.put_block(layout.md_offset, &blk);
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::ImplicitShrink)));

        // Index and device combinations that do not match.
        create_md(&mem)?;
        let m1 = c"/dev/drbdrs-kunit2";
        ensure!(attach(m0, m1, -1) == Err(ret(RetCode::MdIdxInvalid)));
        ensure!(attach(m0, m0, -2) == Err(ret(RetCode::MdIdxInvalid)));
        ensure!(attach(m0, c"/dev/nope", -2) == Err(ret(RetCode::OpenMdDisk)));
        // Indexed slot 0 of a meta device without meta-data there.
        ensure!(attach(m0, m1, 0) == Err(ret(RetCode::MdInvalid)));
        // Flexible external meta-data on a device below 1 MiB.
        let tiny = Superblock {
            md_size_sect: 1024,
            al_offset: 8,
            bm_offset: 72,
            ..Superblock::new_created(&layout)
        };
        tiny.encode(&mut blk);
        small.put_block(0, &blk);
        ensure!(attach(m0, c"/dev/drbdrs-kunit3", -2) == Err(ret(RetCode::MdDiskTooSmall)));
        // A backing device smaller than its meta-data.
        ensure!(
            attach(c"/dev/drbdrs-kunit3", c"/dev/drbdrs-kunit3", -1)
                == Err(ret(RetCode::MdInvalid))
        );

        // In use by another device: the exclusive claim fails.
        let dev2 = Device::new(253)?;
        ensure!(dev2.attach(m0, m0, -1, pe) == Ok(()));
        ensure!(attach(m0, m0, -1) == Err(ret(RetCode::OpenDisk)));
        ensure!(dev2.detach(false) == Ok(StateRv::Success));

        // Nothing above left a claim or half an attach behind.
        ensure!(dev.disk_state() == DiskState::Diskless);
        ensure!(attach(m0, m0, -1) == Ok(()));
        ensure!(dev.disk_state() == DiskState::Inconsistent);
        ensure!(dev.detach(false) == Ok(StateRv::Success));
        Ok(())
    }

    #[test]
    fn forced_detach_of_a_primary_and_drop_while_attached() -> Result {
        let _fs = InitFs::new();
        let mem = MemDisk::new(4, 16 * MIB)?;
        let layout = create_md(&mem)?;
        let m = c"/dev/drbdrs-kunit4";
        let pe = OnIoError::Detach;
        {
            let dev = Device::new(250)?;
            ensure!(dev.attach(m, m, -1, pe) == Ok(()));
            ensure!(dev.set_role(Role::Primary, true) == Ok(StateRv::Success));
            // The only UpToDate data of a StandAlone Primary.
            ensure!(dev.detach(false) == Err(ss(StateRv::NoUpToDateDisk)));
            ensure!(dev.detach(true) == Ok(StateRv::Success));
            // A forced detach returns at once and finishes in a worker (Failed, then
            // Diskless); a plain detach meanwhile waits for it.
            ensure!(matches!(dev.disk_state(), DiskState::Failed | DiskState::Diskless));
            ensure!(matches!(
                dev.detach(false),
                Ok(StateRv::Success) | Ok(StateRv::NothingToDo)
            ));
            ensure!(dev.role() == Role::Primary && dev.disk_state() == DiskState::Diskless);
            // Nothing left to detach (the netlink reply turns a forced one into success).
            ensure!(dev.detach(true) == Ok(StateRv::NothingToDo));
            {
                // Still Primary, so it opens, but there is no data to read.
                let f = open_drbd(c"/dev/drbd250")?;
                let mut blk = MdBlock::new()?;
                ensure!(f.read_block(0, &mut blk).is_err());
            }
            flush_delayed_fput();
            ensure!(dev.set_role(Role::Secondary, false) == Ok(StateRv::Success));
            // It was Primary when it went: a crashed primary to the next attach.
            let sb = read_sb(&mem, &layout)?;
            ensure!(sb.flags & MDF_PRIMARY_IND != 0 && sb.magic == DRBD_MD_MAGIC_08);
            ensure!(dev.attach(m, m, -1, pe) == Ok(()));
            ensure!(dev.md_flags().ok_or(EINVAL)? & MDF_CRASHED_PRIMARY != 0);
            ensure!(dev.status().on_io_error == Some(OnIoError::Detach));
            // Dropped attached: the superblock is written back clean all the same.
        }
        let sb = read_sb(&mem, &layout)?;
        ensure!(sb.magic == DRBD_MD_MAGIC_08 && sb.flags & MDF_AL_CLEAN != 0);
        Ok(())
    }
}
