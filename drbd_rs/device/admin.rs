// SPDX-License-Identifier: GPL-2.0

//! The admin requests that steer resync (`drbd_nl.c`: `invalidate`, `invalidate-remote`,
//! `pause-sync`, `resume-sync`, `outdate`) and the peer's half of a full sync it asked for.
//!
//! A child module of `device`, so it works on the device's state and meta-data directly. The
//! rules (which state a request leads to, what it answers) are `core::state::AdminChange`.
//!
//! - `invalidate` on a StandAlone Secondary makes the disk Inconsistent and sets every bit;
//!   otherwise it asks the peer (`P_STATE_CHG_REQ`, conn StartingSyncT, which the peer sees
//!   as StartingSyncS) and on its consent enters StartingSyncT, sets every bit and waits for
//!   the sync UUID (WFSyncUUID). The peer sets every bit, sends the sync UUID and becomes
//!   SyncSource. No bitmap is exchanged: both know every block is out of sync.
//! - `invalidate-remote` is the mirror image (StartingSyncS here); on a StandAlone Primary it
//!   only marks the peer's disk Inconsistent and sets every bit.
//! - `pause-sync`/`resume-sync` set and clear `user_isp`; a set pause bit turns
//!   SyncSource/SyncTarget into PausedSyncS/PausedSyncT, and `P_STATE` tells the peer, which
//!   pauses too (its `peer_isp`). A paused SyncTarget asks for nothing.
//! - `outdate` marks the disk Outdated (in the meta-data flags too).

use kernel::{prelude::*, sync::Arc};

use super::{log_state_change, Device};
use crate::connection::{Failure, Session};
use crate::drbd_core::{
    genl::{ConnState, DiskState, DrbdState, RetCode, StateRv},
    state::{self, AdminChange, ChangeFlags, DrbdRet, State, StateEnv},
};

/// The resync engine's start of a full sync after StartingSyncT/StartingSyncS was entered
/// (`crate::sync::resync::begin_full_sync`).
pub(crate) type BeginFullSync = fn(&Arc<Session>, u16, &Arc<Device>) -> Result<(), Failure>;

impl Device {
    /// Runs an admin request that changes the state (`drbd_request_state` and the after-state
    /// actions of `after_state_ch`). Returns the `ret_code` for the reply. A full sync this
    /// request entered with the peer's consent is begun by `begin_full_sync`, the resync
    /// engine's entry, which the caller passes down.
    pub(crate) fn admin_change(self: &Arc<Self>, req: AdminRequest, begin_full_sync: BeginFullSync) -> DrbdRet {
        let os = self.state();
        let ch = match req {
            AdminRequest::Invalidate => AdminChange::invalidate(&os, false),
            AdminRequest::InvalidateRemote => AdminChange::invalidate(&os, true),
            AdminRequest::Change(ch) => ch,
        };
        let invalidate = !matches!(
            ch,
            AdminChange::PauseSync | AdminChange::ResumeSync | AdminChange::Outdate
        );
        if invalidate && !self.has_disk() {
            return DrbdRet::Ret(RetCode::NoDisk);
        }
        if ch.cluster_wide(&os) {
            // Judged locally first, then by the peer (`drbd_req_state` for a cluster-wide
            // change), then entered.
            if let Err(rv) = self.judge(&os, ch) {
                return self.refused(rv);
            }
            let Some((s, vnr)) = self.session_of_peer() else {
                return self.refused(StateRv::NeedConnection);
            };
            let want = ch.request(&os).conn;
            let mask = DrbdState {
                conn: 0x1f,
                ..Default::default()
            };
            let val = DrbdState {
                conn: want.raw(),
                ..Default::default()
            };
            self.set_full_sync_pending(true);
            let rv = s.request_state(vnr, mask, val);
            if rv < StateRv::Success.raw() {
                self.set_full_sync_pending(false);
                return self.refused(StateRv::from_raw(rv).unwrap_or(StateRv::CwFailedByPeer));
            }
            let entered = self.enter(ch);
            let r = match entered {
                Ok(rv) => {
                    if let Err(why) = begin_full_sync(&s, vnr, self) {
                        s.fail(why);
                    }
                    DrbdRet::State(rv)
                }
                Err(rv) => self.refused(rv),
            };
            self.set_full_sync_pending(false);
            return r;
        }
        let rv = match self.enter(ch) {
            Ok(rv) => rv,
            Err(StateRv::NothingToDo) => StateRv::NothingToDo,
            Err(rv) => {
                let r = self.refused(rv);
                return match ch {
                    // pause-sync/resume-sync keep NO_ERROR after a refused change.
                    AdminChange::PauseSync | AdminChange::ResumeSync => ch.reply(rv, &self.state()),
                    _ => r,
                };
            }
        };
        // (A full sync that is not cluster-wide needs a connection: the rules refused it.)
        if matches!(ch, AdminChange::InvalidateLocal | AdminChange::InvalidatePeerLocal) {
            // `drbd_bmio_set_n_write`: every block out of sync, in memory and on disk.
            self.set_all_out_of_sync();
        }
        ch.reply(rv, &self.state())
    }

    /// The rules' answer to `ch` in state `os`.
    fn judge(&self, os: &State, ch: AdminChange) -> Result<State, StateRv> {
        let env = self.env();
        state::change_state(os, &ch.request(os), &env, ChangeFlags::Normal)
    }

    /// Enters the state `ch` leads to from the current state: logs it, tells listeners and
    /// the peer (pause bits), and writes the meta-data flags that follow the disk states.
    fn enter(&self, ch: AdminChange) -> Result<StateRv, StateRv> {
        let (os, ns) = {
            let mut st = self.io.st.lock();
            let os = st.state;
            let env = StateEnv {
                open: st.open_count > 0,
                ..StateEnv::STANDALONE
            };
            let ns = state::change_state(&os, &ch.request(&os), &env, ChangeFlags::Normal)?;
            st.state = ns;
            (os, ns)
        };
        log_state_change(self.minor, &os, &ns);
        self.note_pause(&os, &ns);
        super::events::state_changed(self.minor, os, ns);
        self.md_follow_state(&ns);
        // "We want to pause/continue resync, tell peer."
        if ns.conn.raw() >= ConnState::Connected.raw()
            && (os.user_isp != ns.user_isp || os.aftr_isp != ns.aftr_isp)
        {
            self.tell_peer_state();
        }
        Ok(StateRv::Success)
    }

    /// The meta-data flags for state `ns`, written if they changed.
    pub(super) fn md_follow_state(&self, ns: &State) {
        let mut cfg = self.cfg.lock();
        let Some(ldev) = cfg.ldev.as_mut() else {
            return;
        };
        let flags = state::md_flags_for_state(ldev.sb.flags, ns, ldev.crashed_primary);
        if flags != ldev.sb.flags {
            ldev.sb.flags = flags;
            self.md_sync(ldev);
            self.io.st.lock().md_flags = Some(flags);
        }
    }

    /// The session with the peer of this volume, while connected.
    fn session_of_peer(&self) -> Option<(Arc<Session>, u16)> {
        let (c, vnr) = self.io.peer.lock().clone()?;
        let s = c.session()?;
        if self.state().conn.raw() < ConnState::Connected.raw() {
            return None;
        }
        Some((s, vnr))
    }

    /// The peer asks to start a full sync (`P_STATE_CHG_REQ` with conn StartingSyncS or
    /// StartingSyncT, already mirrored to our view as `want`): judged by our rules, and entered
    /// if they allow it. Returns the answer for `P_STATE_CHG_REPLY`.
    pub(crate) fn peer_requests_full_sync(&self, want: ConnState) -> StateRv {
        let ch = match want {
            ConnState::StartingSyncS => AdminChange::InvalidatePeerSync,
            ConnState::StartingSyncT => AdminChange::InvalidateSync,
            _ => return StateRv::UnknownError,
        };
        if !self.has_disk() {
            return StateRv::NoLocalDisk;
        }
        match self.enter(ch) {
            Ok(rv) => rv,
            Err(rv) => {
                let _ = self.refused(rv);
                rv
            }
        }
    }

    /// Resync pause bookkeeping and the C module's log lines when a resync is paused or
    /// continues (`__drbd_set_state`).
    pub(crate) fn note_pause(&self, os: &State, ns: &State) {
        use ConnState::*;
        let now = crate::sys::jiffies_ms();
        if matches!(os.conn, PausedSyncT | PausedSyncS) && matches!(ns.conn, SyncTarget | SyncSource) {
            pr_info!("drbd{}: Syncer continues.\n", self.minor);
            let mut pi = self.peer_info.lock();
            if let Some(since) = pi.rs_paused_since.take() {
                pi.rs_paused_ms += now.saturating_sub(since);
            }
        }
        if matches!(os.conn, SyncTarget | SyncSource) && matches!(ns.conn, PausedSyncT | PausedSyncS) {
            pr_info!("drbd{}: Resync suspended\n", self.minor);
            self.peer_info.lock().rs_paused_since = Some(now);
        }
    }
}

/// Which admin request (`invalidate` and `invalidate-remote` pick their change from the state).
#[derive(Clone, Copy)]
pub(crate) enum AdminRequest {
    Invalidate,
    InvalidateRemote,
    Change(AdminChange),
}

impl Device {
    /// Whether a `P_SYNC_UUID` must wait: the `invalidate` that started a full sync here has
    /// the peer's consent but may not have entered WFSyncUUID yet (the C receiver's
    /// `wait_event` in `receive_sync_uuid`).
    pub(crate) fn sync_uuid_must_wait(&self) -> bool {
        let st = self.state();
        self.peer_info.lock().full_sync_pending
            && matches!(st.conn, ConnState::Connected | ConnState::StartingSyncT)
            && st.disk.raw() >= DiskState::Negotiating.raw()
    }

    /// Every block out of sync, logged as the C module's bitmap write-out does.
    pub(crate) fn set_all_out_of_sync(&self) {
        self.oos_set_all();
        self.bm_write_all();
        let bits = self.oos_weight();
        let (size, unit) = state::ppsize(bits * 4);
        pr_info!(
            "drbd{}: {} {}B ({} bits) marked out-of-sync by on disk bit-map.\n",
            self.minor,
            size,
            unit,
            bits
        );
    }

    /// Whether this node's `invalidate`/`invalidate-remote` is waiting for the peer or
    /// entering the full sync.
    pub(crate) fn full_sync_pending(&self) -> bool {
        self.peer_info.lock().full_sync_pending
    }

    fn set_full_sync_pending(&self, on: bool) {
        self.peer_info.lock().full_sync_pending = on;
    }
}
