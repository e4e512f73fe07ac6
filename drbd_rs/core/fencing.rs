// SPDX-License-Identifier: GPL-2.0

//! Fencing (`conn_try_outdate_peer` in `drbd_nl.c`): what the `fence-peer` handler's exit
//! code means for the disk states, and when a Primary that lost its peer must freeze its I/O.
//!
//! With `fencing resource-only` or `resource-and-stonith` a Primary that loses its peer (or a
//! node that wants to become Primary without one) runs the usermode helper as
//! `<helper> fence-peer <resource>`. The handler (drbdadm runs the configured script) answers
//! with its exit code: 3 the peer's disk is Inconsistent, 4 the peer was outdated, 5 the peer
//! is down, 6 the peer is Primary (so outdate ourselves), 7 the peer was STONITHed; anything
//! else means the handler is broken. With `resource-and-stonith` the I/O stays frozen
//! (`susp_fen`) from the loss until the peer's disk is known Outdated or worse.
//!
//! Pure code (only `core`): built into the module and into the userspace `drbd-core` crate.

use super::genl::{DiskState, Fencing};

/// What a `fence-peer` exit code leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceAnswer {
    /// A known answer: the C module's words for it, and the disk states to set.
    Known {
        /// The text of "fence-peer helper returned %d (%s)".
        what: &'static str,
        /// The peer's disk state to record, if the answer says one.
        pdsk: Option<DiskState>,
        /// Our own disk state to set (6: the peer is Primary, outdate myself).
        disk: Option<DiskState>,
    },
    /// Any other exit code: "fence-peer helper broken, returned %d"; the disk states stay and
    /// frozen I/O stays frozen.
    Broken,
}

/// Exit code: the peer's disk is Inconsistent (or worse).
pub const P_INCONSISTENT: u8 = 3;
/// Exit code: the peer was outdated (or already was).
pub const P_OUTDATED: u8 = 4;
/// Exit code: the peer is down.
pub const P_DOWN: u8 = 5;
/// Exit code: the peer is Primary: outdate myself.
pub const P_PRIMARY: u8 = 6;
/// Exit code: the peer was fenced by STONITH.
pub const P_FENCING: u8 = 7;

/// The meaning of `fence-peer` exit code `code` for a connection whose best local disk is
/// `highest_disk` (`conn_highest_disk`): a peer that is down counts as Outdated only when our
/// data is UpToDate ("we will(have) create(d) a new UUID anyways").
pub fn fence_answer(code: u8, highest_disk: DiskState) -> FenceAnswer {
    let known = |what, pdsk, disk| FenceAnswer::Known { what, pdsk, disk };
    match code {
        P_INCONSISTENT => known("peer is inconsistent or worse", Some(DiskState::Inconsistent), None),
        P_OUTDATED => known("peer was fenced", Some(DiskState::Outdated), None),
        P_DOWN if highest_disk == DiskState::UpToDate => {
            known("peer is unreachable, assumed to be dead", Some(DiskState::Outdated), None)
        }
        P_DOWN => known("peer unreachable, doing nothing since disk != UpToDate", None, None),
        P_PRIMARY => known("peer is active", None, Some(DiskState::Outdated)),
        P_FENCING => known("peer was stonithed", Some(DiskState::Outdated), None),
        _ => FenceAnswer::Broken,
    }
}

/// Exit code 7 from a handler while the policy is not `resource-and-stonith`: the C module
/// logs "fence-peer() = 7 && fencing != Stonith !!!" and takes the answer anyway.
pub fn stonith_answer_without_stonith(code: u8, fencing: Fencing) -> bool {
    code == P_FENCING && fencing != Fencing::Stonith
}

/// The policy of a connection: the highest of its volumes that have a disk at least
/// Consistent (`highest_fencing_policy`); `None` (`FP_NOT_AVAIL`) when no volume has one: then
/// the peer is not fenced ("I'm not even Consistent myself") and frozen I/O thaws.
pub fn highest_policy(volumes: impl IntoIterator<Item = (DiskState, Fencing)>) -> Option<Fencing> {
    volumes
        .into_iter()
        .filter(|(disk, _)| disk.raw() >= DiskState::Consistent.raw())
        .map(|(_, f)| f)
        .max_by_key(|f| f.raw())
}

/// Whether frozen I/O (`susp_fen`) may thaw because fencing succeeded: the peer's disk is
/// known Outdated or worse (`ns_max.pdsk <= D_OUTDATED` in `w_after_conn_state_ch`).
pub fn fenced(pdsk: DiskState) -> bool {
    pdsk.raw() <= DiskState::Outdated.raw()
}
