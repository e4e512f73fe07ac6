// SPDX-License-Identifier: GPL-2.0

//! Attach and detach: opening the backing and meta-data devices, reading and checking the
//! superblock, the bitmap and the activity log, and going diskless again.

use super::*;

impl Device {
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
        self.reset_net_counters();
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
    pub(super) fn load_bitmap(
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
                let _ = crate::sys::workqueue::io_queue().enqueue(w);
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
    pub(super) fn wait_detached(&self) -> Result<StateRv, DrbdRet> {
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
    pub(super) fn begin_detach(&self, os: &State, failed: State) {
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
    pub(super) fn log_pri_on_incon_degr(&self, os: &State, ns: &State) {
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
    pub(super) fn finish_detach_async(&self, ldev: Ldev) {
        let os = self.io.state();
        self.detach_ldev(ldev, os, None);
        let ns = self.io.state();
        events::disk_detached(self.minor, os, ns);
    }

    /// The second half of a detach, from state `failed` (disk `Failed`; `None`: the state is
    /// Failed already). `os` is the state before, for the log.
    pub(super) fn detach_ldev(&self, mut ldev: Ldev, os: State, failed: Option<State>) {
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
    pub(super) fn finish_diskless(&self) {
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
}
