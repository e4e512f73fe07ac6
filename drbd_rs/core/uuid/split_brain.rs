// SPDX-License-Identifier: GPL-2.0

//! After-split-brain recovery: the `after-sb-0pri`, `after-sb-1pri` and `after-sb-2pri` policies
//! applied to a split-brain verdict ([`asb_recover_0p`], [`asb_recover_1p`], [`asb_recover_2p`]).

use super::super::genl::{AfterSb, Role};
use super::events::{Event, EventSink, Helper, Level, Msg};
use super::UUID_PRIMARY_BIT;

/// What an after-split-brain policy decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsbResult {
    /// 1: this node keeps its data and becomes SyncSource.
    SyncFromThis,
    /// -1: this node discards its changes and becomes SyncTarget.
    SyncFromPeer,
    /// -100: no decision (disconnect, configuration error, or a Primary that cannot be
    /// demoted).
    Unresolved,
}

impl AsbResult {
    /// The C value.
    pub fn hg(self) -> i32 {
        match self {
            AsbResult::SyncFromThis => 1,
            AsbResult::SyncFromPeer => -1,
            AsbResult::Unresolved => -100,
        }
    }
}

/// Inputs of the after-split-brain policies (`drbd_asb_recover_0p/1p/2p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsbInput {
    /// The `after-sb-0pri` policy, which the 1p and 2p policies consult too.
    pub after_sb_0p: AfterSb,
    /// Our bitmap UUID; bit 0 set means we were Primary when the peer went away.
    pub local_bitmap: u64,
    /// The peer's bitmap UUID.
    pub peer_bitmap: u64,
    /// Our bit count as sent in `P_UUIDS` (`comm_bm_set`).
    pub local_bits: u64,
    /// The peer's bit count from its `P_UUIDS`.
    pub peer_bits: u64,
    /// Our `RESOLVE_CONFLICTS` flag.
    pub resolve_conflicts: bool,
}

/// `drbd_asb_recover_0p`: split brain with no Primary. `discard-younger-primary` and
/// `discard-older-primary` look at the role bits of the bitmap UUIDs and fall back to
/// `discard-least-changes`; `discard-zero-changes` picks the side without changes (a tie with
/// no changes on both sides goes by `RESOLVE_CONFLICTS`, changes on both sides stay
/// unresolved); `discard-least-changes` compares bit counts (ties by `RESOLVE_CONFLICTS`).
/// Policies that need a Primary are a configuration error here.
pub fn asb_recover_0p(input: &AsbInput, log: &mut impl EventSink) -> AsbResult {
    use AsbResult::*;
    let self_pri = input.local_bitmap & UUID_PRIMARY_BIT;
    let peer_pri = input.peer_bitmap & UUID_PRIMARY_BIT;
    let (ch_self, ch_peer) = (input.local_bits, input.peer_bits);
    let tie = if input.resolve_conflicts {
        SyncFromPeer
    } else {
        SyncFromThis
    };
    let policy = input.after_sb_0p;

    let least_changes = || {
        if ch_self < ch_peer {
            SyncFromPeer
        } else if ch_self > ch_peer {
            SyncFromThis
        } else {
            tie
        }
    };

    match policy {
        AfterSb::Consensus
        | AfterSb::DiscardSecondary
        | AfterSb::CallHelper
        | AfterSb::Violently => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Disconnect => Unresolved,
        AfterSb::DiscardLocal => SyncFromPeer,
        AfterSb::DiscardRemote => SyncFromThis,
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardZeroChg
        | AfterSb::DiscardLeastChg => {
            // The C switch falls through from younger to older to zero-changes to
            // least-changes; each stage either decides or hands on.
            if policy == AfterSb::DiscardYoungerPri {
                if self_pri == 0 && peer_pri == 1 {
                    return SyncFromPeer;
                }
                if self_pri == 1 && peer_pri == 0 {
                    return SyncFromThis;
                }
            }
            if policy == AfterSb::DiscardYoungerPri || policy == AfterSb::DiscardOlderPri {
                if self_pri == 0 && peer_pri == 1 {
                    return SyncFromThis;
                }
                if self_pri == 1 && peer_pri == 0 {
                    return SyncFromPeer;
                }
                log.log(Level::Warn, Msg::NoYoungerOlderDecision);
            }
            if policy != AfterSb::DiscardLeastChg {
                if ch_peer == 0 && ch_self == 0 {
                    return tie;
                }
                if ch_peer == 0 {
                    return SyncFromThis;
                }
                if ch_self == 0 {
                    return SyncFromPeer;
                }
                if policy == AfterSb::DiscardZeroChg {
                    return Unresolved;
                }
            }
            least_changes()
        }
    }
}

/// `drbd_asb_recover_1p`: split brain with one Primary (`role` is ours; it changes to Secondary
/// if the policy demotes us). `consensus` follows the 0p result only if it keeps the Primary's
/// data; `violently` follows it regardless; `discard-secondary` keeps the Primary's data;
/// `call-pri-lost-after-sb` follows the 0p result and, if that discards our data while we are
/// Primary, tries to demote us with `try_demote` (the state change `role = Secondary`), running
/// the `pri-lost-after-sb` helper if that fails.
pub fn asb_recover_1p(
    policy: AfterSb,
    input: &AsbInput,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    use AsbResult::*;
    match policy {
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardLeastChg
        | AfterSb::DiscardLocal
        | AfterSb::DiscardRemote
        | AfterSb::DiscardZeroChg => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Disconnect => Unresolved,
        AfterSb::Consensus => {
            let hg = asb_recover_0p(input, log);
            match hg {
                SyncFromPeer if *role == Role::Secondary => hg,
                SyncFromThis if *role == Role::Primary => hg,
                _ => Unresolved,
            }
        }
        AfterSb::Violently => asb_recover_0p(input, log),
        AfterSb::DiscardSecondary => {
            if *role == Role::Primary {
                SyncFromThis
            } else {
                SyncFromPeer
            }
        }
        AfterSb::CallHelper => {
            let hg = asb_recover_0p(input, log);
            if hg == SyncFromPeer && *role == Role::Primary {
                demote_or_helper(hg, role, try_demote, log)
            } else {
                hg
            }
        }
    }
}

/// `drbd_asb_recover_2p`: split brain with two Primaries. Only `disconnect`, `violently`
/// (follow the 0p result) and `call-pri-lost-after-sb` (follow it, demoting us if our data is
/// discarded) are valid.
pub fn asb_recover_2p(
    policy: AfterSb,
    input: &AsbInput,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    use AsbResult::*;
    match policy {
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardLeastChg
        | AfterSb::DiscardLocal
        | AfterSb::DiscardRemote
        | AfterSb::Consensus
        | AfterSb::DiscardSecondary
        | AfterSb::DiscardZeroChg => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Violently => asb_recover_0p(input, log),
        AfterSb::Disconnect => Unresolved,
        AfterSb::CallHelper => {
            let hg = asb_recover_0p(input, log);
            if hg == SyncFromPeer {
                demote_or_helper(hg, role, try_demote, log)
            } else {
                hg
            }
        }
    }
}

fn demote_or_helper(
    hg: AsbResult,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    if try_demote() {
        *role = Role::Secondary;
        log.log(Level::Warn, Msg::GaveUpPrimary);
        hg
    } else {
        log.event(Event::Helper(Helper::PriLostAfterSb));
        AsbResult::Unresolved
    }
}
