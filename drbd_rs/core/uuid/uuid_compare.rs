// SPDX-License-Identifier: GPL-2.0

//! `drbd_uuid_compare`: the numbered rules that decide whether and in which direction two nodes
//! resync ([`compare`], [`Verdict`]).

use super::super::genl::Role;
use super::super::meta::UUID_JUST_CREATED;
use super::events::{EventSink, Level, Msg};
use super::peer::PeerUuids;
use super::sets::Uuids;
use super::{DRBD_FF_WSAME, ID, PRO_VERSION_MAX, UUID_FLAG_CRASHED_PRIMARY, UUID_NEW_BM_OFFSET};

/// The outcome of [`compare`] (the C function's return value, named).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// 0: the data is the same generation; no resync.
    NoSync,
    /// 1: become SyncSource, resync the bits set in the bitmap.
    SyncSourceBitmap,
    /// -1: become SyncTarget, resync the bits set in the bitmap.
    SyncTargetBitmap,
    /// 2: become SyncSource, set the whole bitmap first (full sync).
    SyncSourceFull,
    /// -2: become SyncTarget, set the whole bitmap first (full sync).
    SyncTargetFull,
    /// Both nodes wrote since they parted. `auto_recover` (100, rule 90): both bitmap UUIDs
    /// name the same parent generation, so the after-sb policies may pick a side and a
    /// bitmap-based resync suffices. Without it (-100, rules 41 and 100): the common ancestor is
    /// only found in the history (or, rule 41, cannot be told), so only `always-asbp` (then with
    /// a full sync) or discard-my-data resolves it.
    SplitBrain {
        /// 100 rather than -100.
        auto_recover: bool,
    },
    /// -1000: no common generation at all.
    Unrelated,
    /// -1000 - `protocol` (only -1091 occurs): the UUIDs need a fix-up (a lost resync-finished
    /// event or sync UUID) that needs at least this protocol. Reported under rule 30 for the
    /// rule 34-37 cases (the C code returns before it sets those numbers), and under 51 or 71.
    NeedProtocol(u32),
    /// `-(0x10000 | protocol | features << 8)` (rule 41): equal unrotated UUIDs with a Primary
    /// present need a peer with protocol 101 and `DRBD_FF_WSAME`.
    NeedFeatures {
        /// Protocol version (101).
        protocol: u32,
        /// `DRBD_FF_*` bits ([`DRBD_FF_WSAME`]).
        features: u32,
    },
}

impl Verdict {
    /// The C module's integer for this verdict (`hg`), as logged by "uuid_compare()=%d".
    pub fn hg(self) -> i32 {
        match self {
            Verdict::NoSync => 0,
            Verdict::SyncSourceBitmap => 1,
            Verdict::SyncTargetBitmap => -1,
            Verdict::SyncSourceFull => 2,
            Verdict::SyncTargetFull => -2,
            Verdict::SplitBrain { auto_recover: true } => 100,
            Verdict::SplitBrain {
                auto_recover: false,
            } => -100,
            Verdict::Unrelated => -1000,
            Verdict::NeedProtocol(p) => {
                (-1000i32).saturating_sub(i32::try_from(p).unwrap_or(i32::MAX))
            }
            Verdict::NeedFeatures { protocol, features } => {
                let v = 0x10000 | (protocol & 0xff) | ((features & 0xff) << 8);
                -i32::try_from(v).unwrap_or(i32::MAX)
            }
        }
    }

    /// The verdict for a C `hg` value, as far as one exists.
    pub fn from_hg(hg: i32) -> Option<Verdict> {
        Some(match hg {
            0 => Verdict::NoSync,
            1 => Verdict::SyncSourceBitmap,
            -1 => Verdict::SyncTargetBitmap,
            2 => Verdict::SyncSourceFull,
            -2 => Verdict::SyncTargetFull,
            100 => Verdict::SplitBrain { auto_recover: true },
            -100 => Verdict::SplitBrain {
                auto_recover: false,
            },
            -1000 => Verdict::Unrelated,
            h if h < -0x10000 => {
                let v = h.unsigned_abs();
                Verdict::NeedFeatures {
                    protocol: v & 0xff,
                    features: (v >> 8) & 0xff,
                }
            }
            h if h < -1000 => Verdict::NeedProtocol(h.unsigned_abs() - 1000),
            _ => return None,
        })
    }
}

/// A repair of UUIDs that [`compare`] made because one side missed an event. The repaired
/// UUIDs are in [`Comparison::local`] / [`Comparison::peer`]; local repairs must be written to
/// the meta-data by the caller (the C module marks it dirty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// Rule 34: we were SyncSource and missed the resync-finished event; our bitmap UUID is
    /// rotated into the history.
    SelfMissedResyncFinished,
    /// Rule 35: we were SyncTarget and the peer missed the resync-finished event; the peer's
    /// bitmap UUID is rotated into its history (in our copy).
    PeerMissedResyncFinished,
    /// Rule 51: the peer, as SyncSource, generated a sync UUID we never received; its bitmap
    /// UUID is rolled back (in our copy).
    PeerLostSyncUuid,
    /// Rule 71: we, as SyncSource, generated a sync UUID the peer never received; our bitmap
    /// UUID is rolled back.
    SelfLostSyncUuid,
}

/// Everything [`compare`] needs (`drbd_uuid_compare`'s view of device and connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompareInput {
    /// Our UUIDs (`ldev->md.uuid`).
    pub local: Uuids,
    /// The peer's `P_UUIDS` (`device->p_uuid`).
    pub peer: PeerUuids,
    /// Our `CRASHED_PRIMARY` device flag.
    pub crashed_primary: bool,
    /// Our role now.
    pub role: Role,
    /// The peer's role now.
    pub peer_role: Role,
    /// Agreed protocol version (86 .. 101).
    pub agreed_protocol: u32,
    /// Agreed `DRBD_FF_*` feature bits.
    pub agreed_features: u32,
    /// Our `RESOLVE_CONFLICTS` connection flag (set on exactly one of the two nodes); breaks
    /// ties.
    pub resolve_conflicts: bool,
    /// Our bitmap weight now (`drbd_bm_total_weight`). Only printed: in the dump after a local
    /// correction (pass 0 if the disk is below Negotiating, as the C module prints then) and in
    /// [`handshake`](super::handshake())'s "No resync, but %lu bits in bitmap!".
    pub bm_weight: u64,
}

/// The result of [`compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The verdict.
    pub verdict: Verdict,
    /// The C code's `*rule_nr` when it returned.
    pub rule: u32,
    /// Our UUIDs after any correction.
    pub local: Uuids,
    /// The peer's UUIDs (our copy) after any correction.
    pub peer: Uuids,
    /// The correction made, if any.
    pub correction: Option<Correction>,
}

/// `drbd_uuid_compare`: which node has the newer data and what kind of resync brings the other
/// one up to date. Log lines the C function prints go to `log`.
pub fn compare(input: &CompareInput, log: &mut impl EventSink) -> Comparison {
    let mut local = input.local;
    let mut peer = input.peer.uuids;
    let (verdict, rule, correction) = compare_inner(input, &mut local, &mut peer, log);
    Comparison {
        verdict,
        rule,
        local,
        peer,
        correction,
    }
}

fn compare_inner(
    input: &CompareInput,
    local: &mut Uuids,
    peer_u: &mut Uuids,
    log: &mut impl EventSink,
) -> (Verdict, u32, Option<Correction>) {
    use Verdict::*;
    let proto = input.agreed_protocol;

    let self_cur = local.current & ID;
    let peer_cur = peer_u.current & ID;

    if self_cur == UUID_JUST_CREATED && peer_cur == UUID_JUST_CREATED {
        return (NoSync, 10, None);
    }
    if (self_cur == UUID_JUST_CREATED || self_cur == 0) && peer_cur != UUID_JUST_CREATED {
        return (SyncTargetFull, 20, None);
    }
    if self_cur != UUID_JUST_CREATED && (peer_cur == UUID_JUST_CREATED || peer_cur == 0) {
        return (SyncSourceFull, 30, None);
    }

    if self_cur == peer_cur {
        if peer_u.bitmap == 0 && local.bitmap != 0 {
            if proto < 91 {
                return (NeedProtocol(91), 30, None);
            }
            if local.bitmap & ID == peer_u.history[0] & ID
                && local.history[0] & ID == peer_u.history[1] & ID
            {
                log.log(Level::Info, Msg::WasSyncSourceCorrectedMyself);
                local.move_history();
                local.history[0] = local.bitmap;
                local.bitmap = 0;
                log.log(
                    Level::Info,
                    Msg::UuidDump {
                        who: "self",
                        uuids: *local,
                        bits: input.bm_weight,
                        flags: 0,
                    },
                );
                return (
                    SyncSourceBitmap,
                    34,
                    Some(Correction::SelfMissedResyncFinished),
                );
            }
            log.log(Level::Info, Msg::WasSyncSourcePeerFailed);
            return (SyncSourceBitmap, 36, None);
        }

        if local.bitmap == 0 && peer_u.bitmap != 0 {
            if proto < 91 {
                return (NeedProtocol(91), 30, None);
            }
            if local.history[0] & ID == peer_u.bitmap & ID
                && local.history[1] & ID == peer_u.history[0] & ID
            {
                log.log(Level::Info, Msg::WasSyncTargetCorrectedPeer);
                peer_u.history[1] = peer_u.history[0];
                peer_u.history[0] = peer_u.bitmap;
                peer_u.bitmap = 0;
                log.log(
                    Level::Info,
                    Msg::UuidDump {
                        who: "peer",
                        uuids: *peer_u,
                        bits: input.peer.bits,
                        flags: input.peer.flags,
                    },
                );
                return (
                    SyncTargetBitmap,
                    35,
                    Some(Correction::PeerMissedResyncFinished),
                );
            }
            log.log(Level::Info, Msg::WasSyncTargetFailed);
            return (SyncTargetBitmap, 37, None);
        }

        // Common power [off|failure]: bit 0 says we crashed as Primary, bit 1 the peer did.
        let rct = u64::from(input.crashed_primary) + (input.peer.flags & UUID_FLAG_CRASHED_PRIMARY);
        if rct == 0 {
            // Only a replication link hiccup.
            return (NoSync, 40, None);
        }

        if input.role == Role::Primary || input.peer_role == Role::Primary {
            // Equal current UUIDs and no bitmap UUID while a Primary is present: I/O may have
            // been frozen so no new generation was started. Older peers cannot resolve this.
            if input.agreed_features & DRBD_FF_WSAME == 0 {
                log.log(Level::Warn, Msg::UnrotatedPrimaryPresent);
                return (
                    NeedFeatures {
                        protocol: PRO_VERSION_MAX,
                        features: DRBD_FF_WSAME,
                    },
                    41,
                    None,
                );
            }
            if input.role == Role::Primary && input.peer_role == Role::Primary {
                log.log(Level::Err, Msg::UnrotatedBothPrimary);
                return (
                    SplitBrain {
                        auto_recover: false,
                    },
                    41,
                    None,
                );
            }
            if input.role == Role::Primary {
                return (SyncSourceBitmap, 41, None);
            }
            return (SyncTargetBitmap, 41, None);
        }

        // Both Secondary: recovery from a simultaneous hard crash. The one that had been
        // Primary wins; if both had been, RESOLVE_CONFLICTS decides.
        return match rct {
            1 => (SyncSourceBitmap, 40, None),
            2 => (SyncTargetBitmap, 40, None),
            _ => {
                if input.resolve_conflicts {
                    (SyncTargetBitmap, 40, None)
                } else {
                    (SyncSourceBitmap, 40, None)
                }
            }
        };
    }

    // Rule 50: the peer's bitmap is relative to our current generation: the peer wrote since.
    if peer_u.bitmap & ID == self_cur {
        return (SyncTargetBitmap, 50, None);
    }

    // Rule 51: the peer started a resync as source (its old bitmap UUID, now in its history,
    // is our current) but we never got its sync UUID.
    let peer_h0 = peer_u.history[0] & ID;
    if peer_h0 == self_cur {
        let lost = if proto < 96 {
            local.history[0] & ID == peer_u.history[1] & ID
        } else {
            peer_h0.wrapping_add(UUID_NEW_BM_OFFSET) == peer_u.bitmap & ID
        };
        if lost {
            if proto < 91 {
                return (NeedProtocol(91), 51, None);
            }
            peer_u.bitmap = peer_u.history[0];
            peer_u.history[0] = peer_u.history[1];
            log.log(Level::Info, Msg::LostLastSyncUuid);
            log.log(
                Level::Info,
                Msg::UuidDump {
                    who: "peer",
                    uuids: *peer_u,
                    bits: input.peer.bits,
                    flags: input.peer.flags,
                },
            );
            return (SyncTargetBitmap, 51, Some(Correction::PeerLostSyncUuid));
        }
    }

    // Rule 60: our current generation is in the peer's history: we are far behind.
    if peer_u.history.iter().any(|h| h & ID == self_cur) {
        return (SyncTargetFull, 60, None);
    }

    // Rule 70: our bitmap is relative to the peer's current generation: we wrote since.
    if local.bitmap & ID == peer_cur {
        return (SyncSourceBitmap, 70, None);
    }

    // Rule 71: the mirror image of rule 51.
    let self_h0 = local.history[0] & ID;
    if self_h0 == peer_cur {
        let lost = if proto < 96 {
            local.history[1] & ID == peer_u.history[0] & ID
        } else {
            self_h0.wrapping_add(UUID_NEW_BM_OFFSET) == local.bitmap & ID
        };
        if lost {
            if proto < 91 {
                return (NeedProtocol(91), 71, None);
            }
            local.bitmap = local.history[0];
            local.history[0] = local.history[1];
            log.log(Level::Info, Msg::LastSyncUuidNotThrough);
            log.log(
                Level::Info,
                Msg::UuidDump {
                    who: "self",
                    uuids: *local,
                    bits: input.bm_weight,
                    flags: 0,
                },
            );
            return (SyncSourceBitmap, 71, Some(Correction::SelfLostSyncUuid));
        }
    }

    // Rule 80: the peer's current generation is in our history: the peer is far behind.
    if local.history.iter().any(|h| h & ID == peer_cur) {
        return (SyncSourceFull, 80, None);
    }

    // Rule 90: both bitmaps are relative to the same generation: both wrote since they parted.
    let self_bm = local.bitmap & ID;
    if self_bm == peer_u.bitmap & ID && self_bm != 0 {
        return (SplitBrain { auto_recover: true }, 90, None);
    }

    // Rule 100: a common ancestor in the histories. Like the C code this does not skip empty
    // (zero) history slots, so two nodes that both have an empty slot land here rather than in
    // "unrelated".
    for s in local.history {
        for p in peer_u.history {
            if s & ID == p & ID {
                return (
                    SplitBrain {
                        auto_recover: false,
                    },
                    100,
                    None,
                );
            }
        }
    }

    (Unrelated, 100, None)
}
