// SPDX-License-Identifier: GPL-2.0

//! Roles and policies: fencing, `on-io-error`, promotion and demotion (with or without the
//! peer's consent), new data generations, and writing the meta-data back.

use super::*;

impl Device {
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

    pub(super) fn set_role_local(&self, role: Role, force: bool, peer_outdated: bool) -> Result<StateRv, DrbdRet> {
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
    pub(super) fn refused(&self, rv: StateRv) -> DrbdRet {
        let rv = DrbdRet::State(rv);
        pr_err!("drbd{}: State change failed: {}\n", self.minor, rv.text());
        rv
    }

    /// Writes the in-core superblock (`drbd_md_sync`), marked in use.
    pub(super) fn md_sync(&self, ldev: &mut Ldev) {
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
