// SPDX-License-Identifier: GPL-2.0

//! What replication asks of a volume: the resync interlock with application writes, the
//! writes in flight, the peer link and its state, the out-of-sync bitmap, the packets that
//! describe the volume, and the traffic counters.

use super::*;

impl DeviceIo {
    /// Resizes the bitmap for a device of `sectors` sectors, keeping the bits it has.
    pub(super) fn oos_resize(&self, sectors: u64) -> Result {
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
    pub(super) fn oos_resize(&self, sectors: u64) {
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
    pub(super) fn release_held(&self) {
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

    /// `ns:` and `nr:` start again from 0, as the C module's `drbd_adm_connect` and
    /// `drbd_adm_attach` have them.
    pub(crate) fn reset_net_counters(&self) {
        self.io.send_sectors.store(0, Ordering::Relaxed);
        self.io.recv_sectors.store(0, Ordering::Relaxed);
    }

    /// Sectors sent to and received from the peer.
    pub(crate) fn net_sectors(&self) -> (u64, u64) {
        (
            self.io.send_sectors.load(Ordering::Relaxed),
            self.io.recv_sectors.load(Ordering::Relaxed),
        )
    }
}
