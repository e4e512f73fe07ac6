// SPDX-License-Identifier: GPL-2.0

//! Fencing for a connection (`conn_try_outdate_peer` in the C module's `drbd_nl.c`): the
//! `fence-peer` handler, its answer applied to the volumes, and the I/O that `fencing
//! resource-and-stonith` froze when the peer was lost (`susp_fen`) thawed again.
//!
//! The handler runs from its own thread after a loss (`conn_try_outdate_peer_async`), so the
//! receiver goes on connecting meanwhile; a promotion without the peer waits for it
//! ([`Connection::try_outdate_peer`]). What an exit code means is the pure
//! [`crate::drbd_core::fencing`]'s business.

use core::sync::atomic::Ordering;

use kernel::{prelude::*, sync::Arc};

use super::Connection;
use crate::device::Device;
use crate::drbd_core::{
    fencing::{self, FenceAnswer},
    genl::{DiskState, Fencing},
};
use crate::helper::{self, Cmd};
use crate::request::HeldWrites;
use crate::sys::{net::SockAddr, thread::KThread};

impl Connection {
    /// Keeps writes the lost peer may lack until fencing ends.
    pub(crate) fn hold_for_fencing(&self, held: HeldWrites) {
        conn_info!(self, "{} writes wait for fence-peer\n", held.len());
        let mut h = self.fence_held.lock();
        if h.push(held, GFP_KERNEL).is_err() {
            // No room to keep them: they completed as the push dropped them (they are marked
            // out of sync).
            drop(h);
            conn_err!(self, "out of memory: writes complete without waiting for fence-peer\n");
        }
    }

    /// Completes the held writes (each was marked out of sync when the peer was lost).
    pub(crate) fn release_fence_held(&self) {
        let held = core::mem::take(&mut *self.fence_held.lock());
        drop(held);
    }

    /// Fencing is over for every volume: `susp_fen` goes, frozen I/O starts, held writes
    /// complete.
    pub(crate) fn end_fencing(&self) {
        for (_, d) in self.devices.iter() {
            if d.state().susp_fen {
                d.thaw_fencing();
            }
        }
        self.release_fence_held();
    }

    /// `disconnect` while connected (`conn_try_disconnect`): asks the peer to agree to
    /// Disconnecting. A Primary of ours that fences asks the peer to outdate itself with it
    /// (SS_PRIMARY_NOP otherwise); if the peer refuses (it is a Primary that fences and
    /// would have to fence us), we outdate ourselves and ask again, so neither side needs
    /// the fence-peer handler for a disconnect the administrator asked for.
    pub(crate) fn graceful_disconnect(&self, s: &super::Session) {
        let req = super::disconnect_request();
        let we_fence = self.devices.iter().any(|(_, d)| {
            let st = d.state();
            d.fencing() != Fencing::DontCare
                && st.role == crate::drbd_core::genl::Role::Primary
                && !matches!(st.pdsk, DiskState::Inconsistent | DiskState::Outdated)
        });
        let (mut mask, mut val) = (req.mask, req.val);
        if we_fence {
            mask.pdsk = 0xf;
            val.pdsk = DiskState::Outdated.raw();
        }
        let rv = s.request_conn_state(mask, val);
        if rv >= crate::drbd_core::genl::StateRv::Success.raw() {
            if we_fence {
                for (_, d) in self.devices.iter() {
                    d.change_conn_state(|st| st.pdsk = DiskState::Outdated);
                }
            }
            return;
        }
        // Only the peer's refusal for want of an outdated peer is worth a second request
        // (not a lost or silent peer: the session ends anyway).
        if we_fence || s.is_failed() || rv != crate::drbd_core::genl::StateRv::PrimaryNop.raw() {
            return;
        }
        // "The peer probably wants to see us outdated."
        let (mut mask, mut val) = (req.mask, req.val);
        mask.disk = 0xf;
        val.disk = DiskState::Outdated.raw();
        if s.request_conn_state(mask, val) >= crate::drbd_core::genl::StateRv::Success.raw() {
            for (_, d) in self.devices.iter() {
                d.outdate_own_disk();
            }
        }
    }

    /// Runs [`Connection::try_outdate_peer`] on a thread of its own
    /// (`conn_try_outdate_peer_async`).
    pub(crate) fn try_outdate_peer_async(self: &Arc<Self>) {
        let mut slot = self.fencer.lock();
        if slot.as_ref().is_some_and(|t| t.is_running()) {
            conn_warn!(self, "fence-peer still running; not started again\n");
            return;
        }
        // A finished thread's handle: dropping it only collects the exited task.
        drop(slot.take());
        let me = self.clone();
        match KThread::spawn(c"drbd_async_h", move || {
            me.try_outdate_peer();
        }) {
            Ok(t) => *slot = Some(t),
            Err(_) => conn_err!(self, "out of mem, failed to invoke fence-peer helper\n"),
        }
    }

    /// `conn_try_outdate_peer`: asks the fence-peer handler to outdate the peer, applies its
    /// answer to the volumes (unless the connection came back meanwhile), thaws frozen I/O
    /// once the peer is fenced, and says whether the peer's disks are Outdated or worse now.
    /// Sleeps while the handler runs.
    pub(crate) fn try_outdate_peer(self: &Arc<Self>) -> bool {
        if self.session().is_some() {
            conn_err!(self, "Expected cstate < C_WF_REPORT_PARAMS\n");
            return false;
        }
        let cnt = self.connect_cnt.load(Ordering::Acquire);
        let ok = outdate_peer(&self.name, Some(&self.peer_addr), &self.devices, &|| {
            let still = self.session().is_none() && self.connect_cnt.load(Ordering::Acquire) == cnt;
            if !still {
                // "In case the connection was established and droped while the fence-peer
                // handler was running, ignore it."
                conn_info!(self, "Ignoring fence-peer exit code\n");
            }
            still
        });
        // Writes held since the loss complete once the volumes thawed.
        if self.devices.iter().all(|(_, d)| !d.state().susp_fen) {
            self.release_fence_held();
        }
        ok
    }
}

/// The policy that applies to `devices`, and their best disk state.
fn policy(devices: &[(u16, Arc<Device>)]) -> (Option<Fencing>, DiskState) {
    let fp = fencing::highest_policy(devices.iter().map(|(_, d)| (d.state().disk, d.fencing())));
    let best = devices
        .iter()
        .map(|(_, d)| d.state().disk)
        .max_by_key(|s| s.raw())
        .unwrap_or(DiskState::Diskless);
    (fp, best)
}

/// The body of `conn_try_outdate_peer` for resource `name` with the volumes `devices` and the
/// peer at `peer` (none without a network configuration). `still_valid` is asked before the
/// answer is applied (the connection may be back). Returns whether every volume's peer disk
/// is Outdated or worse afterwards.
pub(crate) fn outdate_peer(
    name: &[u8],
    peer: Option<&SockAddr>,
    devices: &[(u16, Arc<Device>)],
    still_valid: &dyn Fn() -> bool,
) -> bool {
    let res = crate::connection::name_str(name);
    let (fp, best) = policy(devices);
    match fp {
        None => {
            pr_warn!("drbd {}: Not fencing peer, I'm not even Consistent myself.\n", res);
            if still_valid() {
                for (_, d) in devices.iter() {
                    d.thaw_fencing();
                }
            }
            return false;
        }
        Some(Fencing::DontCare) => return true,
        Some(_) => {}
    }
    let fp = fp.unwrap_or(Fencing::DontCare);
    let r = helper::run_for_resource(name, peer, Cmd::FencePeer);
    let code = ((r >> 8) & 0xff) as u8;
    let (what, pdsk, disk) = match fencing::fence_answer(code, best) {
        FenceAnswer::Broken => {
            pr_err!("drbd {}: fence-peer helper broken, returned {}\n", res, code);
            // "Eventually leave IO frozen."
            return false;
        }
        FenceAnswer::Known { what, pdsk, disk } => (what, pdsk, disk),
    };
    if fencing::stonith_answer_without_stonith(code, fp) {
        pr_err!("drbd {}: fence-peer() = 7 && fencing != Stonith !!!\n", res);
    }
    if disk.is_some() {
        pr_warn!("drbd {}: Peer is primary, outdating myself.\n", res);
    }
    pr_info!("drbd {}: fence-peer helper returned {} ({})\n", res, code, what);
    if still_valid() {
        for (_, d) in devices.iter() {
            d.apply_fence_answer(pdsk, disk);
        }
    }
    devices.iter().all(|(_, d)| fencing::fenced(d.state().pdsk))
}
