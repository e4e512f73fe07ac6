// SPDX-License-Identifier: GPL-2.0

//! `drbd_sync_handshake`: the verdict of [`compare`](super::compare) with disk states, the
//! after-split-brain policies, discard-my-data and rr-conflict applied, yielding the next
//! connection state or the reason the connection is dropped ([`handshake`], [`Outcome`]).

use super::super::genl::{AfterSb, ConnState, DiskState, Role};
use super::events::{Event, EventSink, Helper, Level, Msg};
use super::split_brain::{asb_recover_0p, asb_recover_1p, asb_recover_2p, AsbInput};
use super::uuid_compare::{compare, CompareInput, Comparison, Verdict};
use super::UUID_FLAG_DISCARD_MY_DATA;

/// The connection's split-brain and resync policies (`net_conf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policies {
    /// `after-sb-0pri`.
    pub after_sb_0p: AfterSb,
    /// `after-sb-1pri`.
    pub after_sb_1p: AfterSb,
    /// `after-sb-2pri`.
    pub after_sb_2p: AfterSb,
    /// `rr-conflict`: what a Primary with good data does when it would become SyncTarget.
    pub rr_conflict: AfterSb,
    /// `always-asbp`: apply the after-sb policies also to ambiguous split brains (-100).
    pub always_asbp: bool,
    /// `tentative` (`--dry-run` on connect).
    pub tentative: bool,
}

impl Policies {
    /// drbdsetup's defaults: disconnect everywhere, no always-asbp, not tentative.
    pub const DEFAULT: Policies = Policies {
        after_sb_0p: AfterSb::Disconnect,
        after_sb_1p: AfterSb::Disconnect,
        after_sb_2p: AfterSb::Disconnect,
        rr_conflict: AfterSb::Disconnect,
        always_asbp: false,
        tentative: false,
    };
}

/// Everything [`handshake`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeInput {
    /// The UUID comparison's inputs.
    pub cmp: CompareInput,
    /// Our disk state now (`device->state.disk`).
    pub disk: DiskState,
    /// The disk state we negotiate towards (`new_state_tmp.disk`), used instead of `disk`
    /// while that is Negotiating.
    pub negotiated_disk: DiskState,
    /// The peer's real disk state (see [`real_peer_disk`](super::real_peer_disk)).
    pub peer_disk: DiskState,
    /// Our bit count as sent in `P_UUIDS` (`comm_bm_set`).
    pub local_bits: u64,
    /// Our `DISCARD_MY_DATA` device flag.
    pub discard_my_data: bool,
    /// The connection's `CONN_DRY_RUN` flag.
    pub dry_run: bool,
    /// Net policies.
    pub policies: Policies,
}

/// Why [`handshake`] drops the connection (the C function returns `C_MASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// "Unrelated data, aborting!"
    Unrelated,
    /// The UUIDs need a fix-up this protocol version cannot do.
    NeedProtocol(u32),
    /// The UUIDs need a peer with this protocol and feature flags.
    NeedFeatures {
        /// Protocol version.
        protocol: u32,
        /// `DRBD_FF_*` bits.
        features: u32,
    },
    /// "Split-Brain detected but unresolved, dropping connection!"
    SplitBrain,
    /// "I shall become SyncSource, but I am inconsistent!"
    InconsistentSource,
    /// "I shall become SyncTarget, but I am primary!" (rr-conflict disconnect or
    /// call-pri-lost).
    PrimaryTarget,
    /// A tentative or dry-run connect: report and drop.
    DryRun,
}

/// What the connection does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `C_CONNECTED`: no resync.
    Connected,
    /// `C_WF_BITMAP_S`: become SyncSource; with `full` the caller first sets and writes the
    /// whole bitmap (`drbd_bmio_set_n_write`; if that fails, the connection is dropped).
    SyncSource {
        /// Full sync.
        full: bool,
    },
    /// `C_WF_BITMAP_T`: become SyncTarget; `full` as for `SyncSource`.
    SyncTarget {
        /// Full sync.
        full: bool,
    },
    /// `C_MASK`: drop the connection.
    Refused(Refusal),
}

impl Outcome {
    /// The connection state to request, `None` for a refusal.
    pub fn conn_state(self) -> Option<ConnState> {
        match self {
            Outcome::Connected => Some(ConnState::Connected),
            Outcome::SyncSource { .. } => Some(ConnState::WfBitMapS),
            Outcome::SyncTarget { .. } => Some(ConnState::WfBitMapT),
            Outcome::Refused(_) => None,
        }
    }
}

/// The result of [`handshake`].
#[derive(Clone, Copy, Debug)]
pub struct HandshakeResult {
    /// What to do.
    pub outcome: Outcome,
    /// The UUID comparison (with corrected UUIDs the caller must adopt).
    pub comparison: Comparison,
    /// The final `hg` after disk states and policies.
    pub hg: i32,
    /// Our role afterwards: Secondary if a split-brain policy demoted us.
    pub role: Role,
}

/// `drbd_sync_handshake`: compares UUIDs, then lets disk states override the direction, runs
/// the after-split-brain policies, applies discard-my-data, refuses an inconsistent SyncSource
/// and applies rr-conflict to a Primary that would become SyncTarget. `try_demote` attempts the
/// state change to Secondary that the `call-pri-lost-after-sb` policies ask for and says whether
/// it succeeded; it is not called otherwise. Lines to print and helpers to run go to `log`, in
/// the order the C module prints and runs them.
pub fn handshake(
    input: &HandshakeInput,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> HandshakeResult {
    let cmp_in = &input.cmp;
    let mut role = cmp_in.role;
    let mydisk = if input.disk == DiskState::Negotiating {
        input.negotiated_disk
    } else {
        input.disk
    };
    let peer_disk = input.peer_disk;

    log.log(Level::Info, Msg::HandshakeStart);
    log.log(
        Level::Info,
        Msg::UuidDump {
            who: "self",
            uuids: cmp_in.local,
            bits: input.local_bits,
            flags: 0,
        },
    );
    log.log(
        Level::Info,
        Msg::UuidDump {
            who: "peer",
            uuids: cmp_in.peer.uuids,
            bits: cmp_in.peer.bits,
            flags: cmp_in.peer.flags,
        },
    );

    let comparison = compare(cmp_in, log);
    let mut hg = comparison.verdict.hg();
    log.log(
        Level::Info,
        Msg::CompareResult {
            hg,
            rule: comparison.rule,
        },
    );

    let refuse = |outcome: Refusal, hg: i32, role: Role| HandshakeResult {
        outcome: Outcome::Refused(outcome),
        comparison,
        hg,
        role,
    };

    match comparison.verdict {
        Verdict::Unrelated => {
            log.log(Level::Alert, Msg::UnrelatedData);
            return refuse(Refusal::Unrelated, hg, role);
        }
        Verdict::NeedFeatures { protocol, features } => {
            log.log(
                Level::Alert,
                Msg::NeedProtocolAndFeatures { protocol, features },
            );
            return refuse(Refusal::NeedFeatures { protocol, features }, hg, role);
        }
        Verdict::NeedProtocol(protocol) => {
            log.log(Level::Alert, Msg::NeedProtocol { protocol });
            return refuse(Refusal::NeedProtocol(protocol), hg, role);
        }
        _ => {}
    }

    let inc = DiskState::Inconsistent.raw();
    if (mydisk == DiskState::Inconsistent && peer_disk.raw() > inc)
        || (peer_disk == DiskState::Inconsistent && mydisk.raw() > inc)
    {
        let full = hg == -100 || hg.unsigned_abs() == 2;
        hg = if mydisk.raw() > inc { 1 } else { -1 };
        if full {
            hg *= 2;
        }
        log.log(
            Level::Info,
            Msg::BecomingSyncDueToDiskStates { source: hg > 0 },
        );
    }

    if hg.unsigned_abs() == 100 {
        log.event(Event::Helper(Helper::InitialSplitBrain));
    }

    let pol = &input.policies;
    if hg == 100 || (hg == -100 && pol.always_asbp) {
        let pcount =
            u32::from(role == Role::Primary) + u32::from(cmp_in.peer_role == Role::Primary);
        let forced = hg == -100;
        let asb = AsbInput {
            after_sb_0p: pol.after_sb_0p,
            local_bitmap: comparison.local.bitmap,
            peer_bitmap: comparison.peer.bitmap,
            local_bits: input.local_bits,
            peer_bits: cmp_in.peer.bits,
            resolve_conflicts: cmp_in.resolve_conflicts,
        };
        let r = match pcount {
            0 => asb_recover_0p(&asb, log),
            1 => asb_recover_1p(pol.after_sb_1p, &asb, &mut role, try_demote, log),
            _ => asb_recover_2p(pol.after_sb_2p, &asb, &mut role, try_demote, log),
        };
        hg = r.hg();
        if hg.unsigned_abs() < 100 {
            log.log(
                Level::Warn,
                Msg::SplitBrainAutoSolved {
                    primaries: pcount,
                    from_this: hg > 0,
                },
            );
            if forced {
                log.log(Level::Warn, Msg::FullSyncAmbiguous);
                hg *= 2;
            }
        }
    }

    if hg == -100 {
        let peer_discards = cmp_in.peer.flags & UUID_FLAG_DISCARD_MY_DATA != 0;
        if input.discard_my_data && !peer_discards {
            hg = -1;
        }
        if !input.discard_my_data && peer_discards {
            hg = 1;
        }
        if hg.unsigned_abs() < 100 {
            log.log(
                Level::Warn,
                Msg::SplitBrainManuallySolved { from_this: hg > 0 },
            );
        }
    }

    if hg == -100 {
        log.log(Level::Alert, Msg::SplitBrainUnresolved);
        log.event(Event::Helper(Helper::SplitBrain));
        return refuse(Refusal::SplitBrain, hg, role);
    }

    if hg > 0 && mydisk.raw() <= inc {
        log.log(Level::Err, Msg::SourceButInconsistent);
        return refuse(Refusal::InconsistentSource, hg, role);
    }

    // By intention the C code uses the current disk state here, not `mydisk`.
    if hg < 0 && role == Role::Primary && input.disk.raw() >= DiskState::Consistent.raw() {
        match pol.rr_conflict {
            AfterSb::CallHelper => {
                log.event(Event::Helper(Helper::PriLost));
                log.log(Level::Err, Msg::TargetButPrimary);
                return refuse(Refusal::PrimaryTarget, hg, role);
            }
            AfterSb::Disconnect => {
                log.log(Level::Err, Msg::TargetButPrimary);
                return refuse(Refusal::PrimaryTarget, hg, role);
            }
            AfterSb::Violently => log.log(Level::Warn, Msg::TargetViolently),
            // Values drbdsetup does not accept for rr-conflict: the C switch has no case.
            _ => {}
        }
    }

    if pol.tentative || input.dry_run {
        if hg == 0 {
            log.log(Level::Info, Msg::DryRunNoResync);
        } else {
            log.log(
                Level::Info,
                Msg::DryRunWouldBecome {
                    source: hg > 0,
                    full: hg.unsigned_abs() >= 2,
                },
            );
        }
        return refuse(Refusal::DryRun, hg, role);
    }

    let full = hg.unsigned_abs() >= 2;
    if full {
        log.log(Level::Info, Msg::WritingWholeBitmap);
    }

    let outcome = if hg > 0 {
        Outcome::SyncSource { full }
    } else if hg < 0 {
        Outcome::SyncTarget { full }
    } else {
        if cmp_in.bm_weight != 0 {
            log.log(
                Level::Info,
                Msg::NoResyncButBits {
                    bits: cmp_in.bm_weight,
                },
            );
        }
        Outcome::Connected
    };
    HandshakeResult {
        outcome,
        comparison,
        hg,
        role,
    }
}
