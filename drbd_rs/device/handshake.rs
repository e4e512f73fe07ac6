// SPDX-License-Identifier: GPL-2.0

//! The sync handshake and resync state of a volume: agreeing on the size, the UUID
//! comparison and its outcome (including split-brain recovery), the bitmap exchange, and the
//! resync's requests, progress and end.

use super::*;

impl Device {
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
    pub(super) fn demote_after_split_brain(&self) -> bool {
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
