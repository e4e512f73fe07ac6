//! Generation UUIDs: every rule of `drbd_uuid_compare` with the C module's verdict and rule
//! number, the after-split-brain policy matrix of `drbd_asb_recover_0p/1p/2p`, the decisions of
//! `drbd_sync_handshake`, and the UUID rotations of `drbd_main.c` / `drbd_worker.c`, checked
//! against what the C DRBD 8.4 module does (the expected values cite the C code path).

use drbd_core::genl::{AfterSb, ConnState, DiskState, RetCode, Role};
use drbd_core::meta::UUID_JUST_CREATED;
use drbd_core::uuid::*;
use proptest::prelude::*;

const JC: u64 = UUID_JUST_CREATED;
const OFF: u64 = UUID_NEW_BM_OFFSET;

// Distinct generation UUIDs, role bit clear.
const A: u64 = 0xA1A1_0000_0000_0010;
const B: u64 = 0xB2B2_0000_0000_0020;
const C: u64 = 0xC3C3_0000_0000_0030;
const D: u64 = 0xD4D4_0000_0000_0040;
const P: u64 = 0x1111_0000_0000_0050;
const Q: u64 = 0x2222_0000_0000_0060;
const R: u64 = 0x3333_0000_0000_0070;
const S: u64 = 0x4444_0000_0000_0080;
const X: u64 = 0x5555_0000_0000_0090;
const Y: u64 = 0x6666_0000_0000_00a0;
const Z: u64 = 0x7777_0000_0000_00b0;
const W: u64 = 0x8888_0000_0000_00c0;

fn u(current: u64, bitmap: u64, h0: u64, h1: u64) -> Uuids {
    Uuids {
        current,
        bitmap,
        history: [h0, h1],
    }
}

fn input(local: Uuids, peer: Uuids) -> CompareInput {
    CompareInput {
        local,
        peer: PeerUuids {
            uuids: peer,
            bits: 0,
            flags: 0,
        },
        crashed_primary: false,
        role: Role::Secondary,
        peer_role: Role::Secondary,
        agreed_protocol: 101,
        agreed_features: DRBD_FF_WSAME,
        resolve_conflicts: false,
        bm_weight: 0,
    }
}

fn cmp(i: &CompareInput) -> Comparison {
    compare(i, &mut Log::new())
}

fn vr(i: &CompareInput) -> (Verdict, u32) {
    let c = cmp(i);
    (c.verdict, c.rule)
}

use Verdict::*;
const SB_AUTO: Verdict = SplitBrain { auto_recover: true };
const SB: Verdict = SplitBrain {
    auto_recover: false,
};

// ---------------------------------------------------------------------------------------------
// drbd_uuid_compare, rule by rule
// ---------------------------------------------------------------------------------------------

struct Case {
    name: &'static str,
    local: Uuids,
    peer: Uuids,
    proto: u32,
    expect: (Verdict, u32),
}

#[test]
fn compare_rule_table() {
    let cases = [
        // Rule 10: both freshly created (the role bit does not count).
        Case {
            name: "10 both just created",
            local: u(JC, 0, 0, 0),
            peer: u(JC | 1, 0, 0, 0),
            proto: 101,
            expect: (NoSync, 10),
        },
        // Rule 20: we have no data generation, the peer has one: full sync from the peer.
        Case {
            name: "20 local just created",
            local: u(JC, 0, 0, 0),
            peer: u(A, 0, 0, 0),
            proto: 101,
            expect: (SyncTargetFull, 20),
        },
        Case {
            name: "20 local zero",
            local: u(0, 0, 0, 0),
            peer: u(A, 0, 0, 0),
            proto: 101,
            expect: (SyncTargetFull, 20),
        },
        Case {
            name: "20 both zero",
            local: u(0, 0, 0, 0),
            peer: u(0, 0, 0, 0),
            proto: 101,
            expect: (SyncTargetFull, 20),
        },
        // Rule 30: the mirror image.
        Case {
            name: "30 peer just created",
            local: u(A | 1, 0, 0, 0),
            peer: u(JC, 0, 0, 0),
            proto: 101,
            expect: (SyncSourceFull, 30),
        },
        Case {
            name: "30 peer zero",
            local: u(A, 0, 0, 0),
            peer: u(0, 0, 0, 0),
            proto: 101,
            expect: (SyncSourceFull, 30),
        },
        Case {
            name: "30 local zero, peer just created",
            local: u(0, 0, 0, 0),
            peer: u(JC, 0, 0, 0),
            proto: 101,
            expect: (SyncSourceFull, 30),
        },
        // Rule 34: equal current, we still have the bitmap UUID the peer already rotated.
        Case {
            name: "34 was SyncSource, missed resync finished",
            local: u(A, B, C, D),
            peer: u(A, 0, B, C),
            proto: 101,
            expect: (SyncSourceBitmap, 34),
        },
        // Rule 36: ... but the histories do not confirm it.
        Case {
            name: "36 was SyncSource, peer failed to write sync uuid",
            local: u(A, B, C, D),
            peer: u(A, 0, X, Y),
            proto: 101,
            expect: (SyncSourceBitmap, 36),
        },
        // Rule 35 / 37: the mirror images.
        Case {
            name: "35 was SyncTarget, peer missed resync finished",
            local: u(A, 0, B, C),
            peer: u(A, B, C, D),
            proto: 101,
            expect: (SyncTargetBitmap, 35),
        },
        Case {
            name: "37 was SyncTarget, failed to write sync uuid",
            local: u(A, 0, X, Y),
            peer: u(A, B, C, D),
            proto: 101,
            expect: (SyncTargetBitmap, 37),
        },
        // Below protocol 91 the fix-ups are refused, still under rule number 30.
        Case {
            name: "30/-1091 local bitmap, old protocol",
            local: u(A, B, C, D),
            peer: u(A, 0, B, C),
            proto: 90,
            expect: (NeedProtocol(91), 30),
        },
        Case {
            name: "30/-1091 peer bitmap, old protocol",
            local: u(A, 0, B, C),
            peer: u(A, B, C, D),
            proto: 86,
            expect: (NeedProtocol(91), 30),
        },
        // Rule 40: equal, no bitmap UUIDs, nobody crashed: a link hiccup.
        Case {
            name: "40 equal",
            local: u(A | 1, 0, X, Y),
            peer: u(A, 0, Z, W),
            proto: 101,
            expect: (NoSync, 40),
        },
        // Rule 50: the peer's bitmap is relative to our current generation.
        Case {
            name: "50 peer wrote since",
            local: u(A, 0, X, Y),
            peer: u(P, A | 1, X, Y),
            proto: 101,
            expect: (SyncTargetBitmap, 50),
        },
        // Rule 51: the peer's sync UUID never arrived (protocol 96+: bitmap = h0 + offset).
        Case {
            name: "51 lost sync uuid, proto 101",
            local: u(A, 0, X, Y),
            peer: u(P, A + OFF, A, Z),
            proto: 101,
            expect: (SyncTargetBitmap, 51),
        },
        // Before 96: our h0 equals the peer's h1.
        Case {
            name: "51 lost sync uuid, proto 95",
            local: u(A, 0, X, Y),
            peer: u(P, Q, A, X),
            proto: 95,
            expect: (SyncTargetBitmap, 51),
        },
        Case {
            name: "51/-1091 lost sync uuid, proto 90",
            local: u(A, 0, X, Y),
            peer: u(P, Q, A, X),
            proto: 90,
            expect: (NeedProtocol(91), 51),
        },
        // The protocol-96 test is not the pre-96 test: with 101 the same UUIDs fall through.
        Case {
            name: "51 not taken at 101 with the pre-96 pattern -> 60",
            local: u(A, 0, X, Y),
            peer: u(P, Q, A, X),
            proto: 101,
            expect: (SyncTargetFull, 60),
        },
        Case {
            name: "51 not taken at 95 with the 96 pattern -> 60",
            local: u(A, 0, X, Y),
            peer: u(P, A + OFF, A, Z),
            proto: 95,
            expect: (SyncTargetFull, 60),
        },
        // Rule 60: our current generation is in the peer's history.
        Case {
            name: "60 in peer history[1]",
            local: u(A, 0, X, Y),
            peer: u(P, Q, R, A | 1),
            proto: 101,
            expect: (SyncTargetFull, 60),
        },
        // Rule 70: our bitmap is relative to the peer's current generation.
        Case {
            name: "70 we wrote since",
            local: u(A, P | 1, X, Y),
            peer: u(P, 0, X, Y),
            proto: 101,
            expect: (SyncSourceBitmap, 70),
        },
        // Rule 71: our sync UUID never reached the peer.
        Case {
            name: "71 sync uuid did not get through, proto 101",
            local: u(A, P + OFF, P, X),
            peer: u(P, 0, R, S),
            proto: 101,
            expect: (SyncSourceBitmap, 71),
        },
        Case {
            name: "71 sync uuid did not get through, proto 95",
            local: u(A, B, P, X),
            peer: u(P, 0, X, S),
            proto: 95,
            expect: (SyncSourceBitmap, 71),
        },
        Case {
            name: "71/-1091 proto 88",
            local: u(A, B, P, X),
            peer: u(P, 0, X, S),
            proto: 88,
            expect: (NeedProtocol(91), 71),
        },
        // Rule 80: the peer's current generation is in our history.
        Case {
            name: "80 peer far behind",
            local: u(A, B, X, P),
            peer: u(P, 0, Y, Z),
            proto: 101,
            expect: (SyncSourceFull, 80),
        },
        Case {
            name: "80 via history[0] when rule 71's test fails",
            local: u(A, B, P, X),
            peer: u(P, 0, Y, Z),
            proto: 101,
            expect: (SyncSourceFull, 80),
        },
        // Rule 90: both bitmaps relative to the same parent (role bits differ): split brain
        // that the policies may resolve.
        Case {
            name: "90 split brain",
            local: u(A, B | 1, X, Y),
            peer: u(P, B, Z, W),
            proto: 101,
            expect: (SB_AUTO, 90),
        },
        // Rule 100: a common ancestor only in the histories.
        Case {
            name: "100 split brain via history",
            local: u(A, B, X, Y),
            peer: u(P, Q, Z, X | 1),
            proto: 101,
            expect: (SB, 100),
        },
        // Both bitmap UUIDs zero is not rule 90; empty history slots match each other in rule
        // 100 (the C code does not skip zeros).
        Case {
            name: "100 via empty history slots",
            local: u(A, 0, 0, 0),
            peer: u(P, 0, 0, 0),
            proto: 101,
            expect: (SB, 100),
        },
        Case {
            name: "unrelated",
            local: u(A, B, X, Y),
            peer: u(P, Q, Z, W),
            proto: 101,
            expect: (Unrelated, 100),
        },
    ];
    for c in &cases {
        let mut i = input(c.local, c.peer);
        i.agreed_protocol = c.proto;
        assert_eq!(vr(&i), c.expect, "{}", c.name);
    }
}

#[test]
fn rule_40_crashed_primary_both_secondary() {
    let base = input(u(A, 0, X, Y), u(A, 0, X, Y));
    // Bit 0 of rct: we crashed as Primary -> we win.
    let mut i = base;
    i.crashed_primary = true;
    assert_eq!(vr(&i), (SyncSourceBitmap, 40));
    // Bit 1: the peer did (its UUID flag) -> it wins.
    let mut i = base;
    i.peer.flags = UUID_FLAG_CRASHED_PRIMARY;
    assert_eq!(vr(&i), (SyncTargetBitmap, 40));
    // Both: RESOLVE_CONFLICTS decides (set -> we become target).
    let mut i = base;
    i.crashed_primary = true;
    i.peer.flags = UUID_FLAG_CRASHED_PRIMARY;
    assert_eq!(vr(&i), (SyncSourceBitmap, 40));
    i.resolve_conflicts = true;
    assert_eq!(vr(&i), (SyncTargetBitmap, 40));
    // Other flag bits do not count as a crash.
    let mut i = base;
    i.peer.flags = UUID_FLAG_DISCARD_MY_DATA | UUID_FLAG_INCONSISTENT | UUID_FLAG_SKIP_INITIAL_SYNC;
    assert_eq!(vr(&i), (NoSync, 40));
}

#[test]
fn rule_41_crashed_with_a_primary_present() {
    let mut base = input(u(A | 1, 0, X, Y), u(A, 0, X, Y));
    base.crashed_primary = true;

    let mut i = base;
    i.role = Role::Primary;
    assert_eq!(vr(&i), (SyncSourceBitmap, 41));

    let mut i = base;
    i.peer_role = Role::Primary;
    assert_eq!(vr(&i), (SyncTargetBitmap, 41));

    let mut i = base;
    i.role = Role::Primary;
    i.peer_role = Role::Primary;
    let mut log = Log::new();
    let c = compare(&i, &mut log);
    assert_eq!((c.verdict, c.rule), (SB, 41));
    assert!(log.contains(&Msg::UnrotatedBothPrimary));

    // A peer without DRBD_FF_WSAME: -(0x10000 | 101 | 4 << 8).
    let mut i = base;
    i.role = Role::Primary;
    i.agreed_features = 0;
    let mut log = Log::new();
    let c = compare(&i, &mut log);
    assert_eq!(
        (c.verdict, c.rule),
        (
            NeedFeatures {
                protocol: 101,
                features: 4
            },
            41
        )
    );
    assert_eq!(c.verdict.hg(), -0x10465);
    assert!(log.contains(&Msg::UnrotatedPrimaryPresent));
}

#[test]
fn corrections_rewrite_the_right_uuids() {
    // Rule 34: our bitmap UUID goes to history.
    let mut log = Log::new();
    let mut i = input(u(A, B, C, D), u(A, 0, B, C));
    i.bm_weight = 17;
    let c = compare(&i, &mut log);
    assert_eq!(c.correction, Some(Correction::SelfMissedResyncFinished));
    assert_eq!(c.local, u(A, 0, B, C));
    assert_eq!(c.peer, u(A, 0, B, C));
    let lines: Vec<String> = log
        .iter()
        .map(|e| match e {
            Event::Log(_, m) => m.to_string(),
            Event::Helper(h) => h.name().to_string(),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "was SyncSource, missed the resync finished event, corrected myself:".to_string(),
            format!(
                "self {:016X}:0000000000000000:{:016X}:{:016X} bits:17 flags:0",
                A, B, C
            ),
        ]
    );

    // Rule 35: the peer's copy is fixed, ours is untouched.
    let c = cmp(&input(u(A, 0, B, C), u(A, B, C, D)));
    assert_eq!(c.correction, Some(Correction::PeerMissedResyncFinished));
    assert_eq!(c.peer, u(A, 0, B, C));
    assert_eq!(c.local, u(A, 0, B, C));

    // Rule 51: the peer's last sync-source step is undone in our copy.
    let c = cmp(&input(u(A, 0, X, Y), u(P, A + OFF, A, Z)));
    assert_eq!(c.correction, Some(Correction::PeerLostSyncUuid));
    assert_eq!(c.peer, u(P, A, Z, Z));

    // Rule 71: ours is undone.
    let mut log = Log::new();
    let c = compare(&input(u(A, P + OFF, P, X), u(P, 0, R, S)), &mut log);
    assert_eq!(c.correction, Some(Correction::SelfLostSyncUuid));
    assert_eq!(c.local, u(A, P, X, X));
    assert!(log.contains(&Msg::LastSyncUuidNotThrough));

    // Rules without a correction leave both sets alone and log nothing.
    let mut log = Log::new();
    let i = input(u(A, P, X, Y), u(P, 0, X, Y));
    let c = compare(&i, &mut log);
    assert_eq!(
        (c.correction, c.local, c.peer),
        (None, i.local, i.peer.uuids)
    );
    assert!(log.is_empty());
}

#[test]
fn verdict_hg_values() {
    let table = [
        (NoSync, 0),
        (SyncSourceBitmap, 1),
        (SyncTargetBitmap, -1),
        (SyncSourceFull, 2),
        (SyncTargetFull, -2),
        (SB_AUTO, 100),
        (SB, -100),
        (Unrelated, -1000),
        (NeedProtocol(91), -1091),
        (NeedProtocol(96), -1096),
        (
            NeedFeatures {
                protocol: 101,
                features: DRBD_FF_WSAME,
            },
            -0x10465,
        ),
    ];
    for (v, hg) in table {
        assert_eq!(v.hg(), hg, "{:?}", v);
        assert_eq!(Verdict::from_hg(hg), Some(v), "{}", hg);
    }
    assert_eq!(Verdict::from_hg(3), None);
    assert_eq!(Verdict::from_hg(-500), None);
}

// ---------------------------------------------------------------------------------------------
// After-split-brain policies
// ---------------------------------------------------------------------------------------------

use AsbResult::{SyncFromPeer as Pe, SyncFromThis as Th, Unresolved as Un};

fn asb(self_pri: bool, peer_pri: bool, ch_self: u64, ch_peer: u64, rc: bool) -> AsbInput {
    AsbInput {
        after_sb_0p: AfterSb::Disconnect,
        local_bitmap: B | u64::from(self_pri),
        peer_bitmap: B | u64::from(peer_pri),
        local_bits: ch_self,
        peer_bits: ch_peer,
        resolve_conflicts: rc,
    }
}

#[test]
fn asb_0p_matrix() {
    // (self was primary, peer was primary, changes self, changes peer, RESOLVE_CONFLICTS)
    //   -> younger-primary, older-primary, zero-changes, least-changes
    let rows = [
        ((false, true, 5, 7, false), [Pe, Th, Un, Pe]),
        ((true, false, 5, 7, false), [Th, Pe, Un, Pe]),
        ((false, false, 0, 0, false), [Th, Th, Th, Th]),
        ((false, false, 0, 0, true), [Pe, Pe, Pe, Pe]),
        ((true, true, 0, 9, false), [Pe, Pe, Pe, Pe]),
        ((false, false, 9, 0, true), [Th, Th, Th, Th]),
        ((false, false, 3, 9, false), [Pe, Pe, Un, Pe]),
        ((false, false, 9, 3, true), [Th, Th, Un, Th]),
        ((true, true, 4, 4, true), [Pe, Pe, Un, Pe]),
        ((true, true, 4, 4, false), [Th, Th, Un, Th]),
    ];
    let policies = [
        AfterSb::DiscardYoungerPri,
        AfterSb::DiscardOlderPri,
        AfterSb::DiscardZeroChg,
        AfterSb::DiscardLeastChg,
    ];
    for ((sp, pp, cs, cp, rc), expect) in rows {
        for (policy, want) in policies.iter().zip(expect) {
            let mut i = asb(sp, pp, cs, cp, rc);
            i.after_sb_0p = *policy;
            let mut log = Log::new();
            let got = asb_recover_0p(&i, &mut log);
            assert_eq!(got, want, "{:?} {:?}", policy, (sp, pp, cs, cp, rc));
            // The younger/older policies say when they fall back.
            let undecided = sp == pp;
            let fell_back = log.contains(&Msg::NoYoungerOlderDecision);
            let younger_older = matches!(
                policy,
                AfterSb::DiscardYoungerPri | AfterSb::DiscardOlderPri
            );
            assert_eq!(fell_back, younger_older && undecided, "{:?}", policy);
        }
        // Fixed answers regardless of the inputs.
        for (policy, want) in [
            (AfterSb::Disconnect, Un),
            (AfterSb::DiscardLocal, Pe),
            (AfterSb::DiscardRemote, Th),
        ] {
            let mut i = asb(sp, pp, cs, cp, rc);
            i.after_sb_0p = policy;
            let mut log = Log::new();
            assert_eq!(asb_recover_0p(&i, &mut log), want);
            assert!(log.is_empty());
        }
        for policy in [
            AfterSb::Consensus,
            AfterSb::DiscardSecondary,
            AfterSb::CallHelper,
            AfterSb::Violently,
        ] {
            let mut i = asb(sp, pp, cs, cp, rc);
            i.after_sb_0p = policy;
            let mut log = Log::new();
            assert_eq!(asb_recover_0p(&i, &mut log), Un);
            assert!(log.contains(&Msg::ConfigurationError));
        }
    }
}

fn run_1p(
    policy: AfterSb,
    zero_p: AfterSb,
    role: Role,
    demote_ok: bool,
) -> (AsbResult, Role, Log, u32) {
    let mut i = asb(false, false, 1, 1, false);
    i.after_sb_0p = zero_p;
    let mut r = role;
    let mut calls = 0;
    let mut log = Log::new();
    let res = asb_recover_1p(
        policy,
        &i,
        &mut r,
        &mut || {
            calls += 1;
            demote_ok
        },
        &mut log,
    );
    (res, r, log, calls)
}

#[test]
fn asb_1p_matrix() {
    use AfterSb::*;
    // 0p discard-local -> -1 (we discard), discard-remote -> 1 (peer discards).
    // (1p policy, 0p policy, our role) -> result
    let rows = [
        (Consensus, DiscardLocal, Role::Secondary, Pe),
        (Consensus, DiscardLocal, Role::Primary, Un),
        (Consensus, DiscardRemote, Role::Primary, Th),
        (Consensus, DiscardRemote, Role::Secondary, Un),
        (Consensus, Disconnect, Role::Primary, Un),
        (Violently, DiscardLocal, Role::Primary, Pe),
        (Violently, DiscardRemote, Role::Secondary, Th),
        (DiscardSecondary, Disconnect, Role::Primary, Th),
        (DiscardSecondary, Disconnect, Role::Secondary, Pe),
        (CallHelper, DiscardRemote, Role::Primary, Th),
        (CallHelper, DiscardLocal, Role::Secondary, Pe),
        (Disconnect, DiscardLocal, Role::Primary, Un),
    ];
    for (p1, p0, role, want) in rows {
        let (got, r, _, calls) = run_1p(p1, p0, role, true);
        assert_eq!(got, want, "{:?}/{:?}/{:?}", p1, p0, role);
        assert_eq!(r, role);
        assert_eq!(calls, 0);
    }
    for p1 in [
        DiscardYoungerPri,
        DiscardOlderPri,
        DiscardLeastChg,
        DiscardLocal,
        DiscardRemote,
        DiscardZeroChg,
    ] {
        let (got, _, log, _) = run_1p(p1, DiscardLocal, Role::Primary, true);
        assert_eq!(got, Un);
        assert!(log.contains(&Msg::ConfigurationError), "{:?}", p1);
    }
    // call-pri-lost-after-sb: we are Primary and lose: demote, or run the helper.
    let (got, r, log, calls) = run_1p(CallHelper, DiscardLocal, Role::Primary, true);
    assert_eq!((got, r, calls), (Pe, Role::Secondary, 1));
    assert!(log.contains(&Msg::GaveUpPrimary));
    let (got, r, log, calls) = run_1p(CallHelper, DiscardLocal, Role::Primary, false);
    assert_eq!((got, r, calls), (Un, Role::Primary, 1));
    assert!(log.called(Helper::PriLostAfterSb));
}

#[test]
fn asb_2p_matrix() {
    use AfterSb::*;
    let run = |p2: AfterSb, p0: AfterSb, demote_ok: bool| {
        let mut i = asb(false, false, 1, 1, false);
        i.after_sb_0p = p0;
        let mut role = Role::Primary;
        let mut calls = 0;
        let mut log = Log::new();
        let r = asb_recover_2p(
            p2,
            &i,
            &mut role,
            &mut || {
                calls += 1;
                demote_ok
            },
            &mut log,
        );
        (r, role, calls, log)
    };
    assert_eq!(run(Violently, DiscardLocal, true).0, Pe);
    assert_eq!(run(Violently, DiscardRemote, true).0, Th);
    assert_eq!(run(Disconnect, DiscardRemote, true).0, Un);
    let (r, role, calls, _) = run(CallHelper, DiscardRemote, true);
    assert_eq!((r, role, calls), (Th, Role::Primary, 0));
    let (r, role, calls, log) = run(CallHelper, DiscardLocal, true);
    assert_eq!((r, role, calls), (Pe, Role::Secondary, 1));
    assert!(log.contains(&Msg::GaveUpPrimary));
    let (r, role, _, log) = run(CallHelper, DiscardLocal, false);
    assert_eq!((r, role), (Un, Role::Primary));
    assert!(log.called(Helper::PriLostAfterSb));
    for p2 in [
        DiscardYoungerPri,
        DiscardOlderPri,
        DiscardLeastChg,
        DiscardLocal,
        DiscardRemote,
        Consensus,
        DiscardSecondary,
        DiscardZeroChg,
    ] {
        let (r, _, _, log) = run(p2, DiscardLocal, true);
        assert_eq!(r, Un);
        assert!(log.contains(&Msg::ConfigurationError), "{:?}", p2);
    }
}

// ---------------------------------------------------------------------------------------------
// drbd_sync_handshake
// ---------------------------------------------------------------------------------------------

fn hs(local: Uuids, peer: Uuids) -> HandshakeInput {
    HandshakeInput {
        cmp: input(local, peer),
        disk: DiskState::UpToDate,
        negotiated_disk: DiskState::UpToDate,
        peer_disk: DiskState::UpToDate,
        local_bits: 0,
        discard_my_data: false,
        dry_run: false,
        policies: Policies::DEFAULT,
    }
}

fn run_hs(i: &HandshakeInput) -> (HandshakeResult, Log) {
    let mut log = Log::new();
    let r = handshake(i, &mut || panic!("no demotion expected"), &mut log);
    assert_eq!(log.dropped(), 0);
    (r, log)
}

fn texts(log: &Log) -> Vec<String> {
    log.iter()
        .map(|e| match e {
            Event::Log(_, m) => m.to_string(),
            Event::Helper(h) => format!("helper {}", h.name()),
        })
        .collect()
}

#[test]
fn handshake_plain_outcomes() {
    let (r, log) = run_hs(&hs(u(A, 0, X, Y), u(A, 0, X, Y)));
    assert_eq!(r.outcome, Outcome::Connected);
    assert_eq!(r.outcome.conn_state(), Some(ConnState::Connected));
    let t = texts(&log);
    assert_eq!(t[0], "drbd_sync_handshake:");
    assert!(t[1].starts_with("self "));
    assert!(t[2].starts_with("peer "));
    assert_eq!(t[3], "uuid_compare()=0 by rule 40");
    assert_eq!(t.len(), 4);

    let (r, _) = run_hs(&hs(u(A, P, X, Y), u(P, 0, X, Y)));
    assert_eq!(r.outcome, Outcome::SyncSource { full: false });
    assert_eq!(r.outcome.conn_state(), Some(ConnState::WfBitMapS));

    let (r, log) = run_hs(&hs(u(A, 0, X, Y), u(P, Q, R, A)));
    assert_eq!(r.outcome, Outcome::SyncTarget { full: true });
    assert_eq!(r.outcome.conn_state(), Some(ConnState::WfBitMapT));
    assert!(log.contains(&Msg::WritingWholeBitmap));

    // No resync, but bits in the bitmap.
    let mut i = hs(u(A, 0, X, Y), u(A, 0, X, Y));
    i.cmp.bm_weight = 12;
    let (_, log) = run_hs(&i);
    assert_eq!(
        texts(&log).last().unwrap(),
        "No resync, but 12 bits in bitmap!"
    );
}

#[test]
fn handshake_refusals_with_c_messages() {
    let (r, log) = run_hs(&hs(u(A, B, X, Y), u(P, Q, Z, W)));
    assert_eq!(r.outcome, Outcome::Refused(Refusal::Unrelated));
    assert_eq!(r.outcome.conn_state(), None);
    assert_eq!(texts(&log).last().unwrap(), "Unrelated data, aborting!");

    let mut i = hs(u(A, B, C, D), u(A, 0, B, C));
    i.cmp.agreed_protocol = 90;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::NeedProtocol(91)));
    let t = texts(&log);
    assert_eq!(t[t.len() - 2], "uuid_compare()=-1091 by rule 30");
    assert_eq!(
        t.last().unwrap(),
        "To resolve this both sides have to support at least protocol 91"
    );

    let mut i = hs(u(A, 0, X, Y), u(A, 0, X, Y));
    i.cmp.crashed_primary = true;
    i.cmp.role = Role::Primary;
    i.cmp.agreed_features = 0;
    let (r, log) = run_hs(&i);
    assert_eq!(
        r.outcome,
        Outcome::Refused(Refusal::NeedFeatures {
            protocol: 101,
            features: 4
        })
    );
    assert_eq!(
        texts(&log).last().unwrap(),
        "To resolve this both sides have to support at least protocol 101 and feature flags 0x4"
    );

    // Would be SyncSource, but both disks are Inconsistent.
    let mut i = hs(u(A, P, X, Y), u(P, 0, X, Y));
    i.disk = DiskState::Inconsistent;
    i.negotiated_disk = DiskState::Inconsistent;
    i.peer_disk = DiskState::Inconsistent;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::InconsistentSource));
    assert_eq!(
        texts(&log).last().unwrap(),
        "I shall become SyncSource, but I am inconsistent!"
    );
}

#[test]
fn handshake_disk_states_override_direction() {
    // UUIDs say "no sync", but we are Inconsistent and the peer is not.
    let mut i = hs(u(A, 0, X, Y), u(A, 0, X, Y));
    i.disk = DiskState::Negotiating;
    i.negotiated_disk = DiskState::Inconsistent;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
    assert!(log.contains(&Msg::BecomingSyncDueToDiskStates { source: false }));

    // The peer is Inconsistent and the UUIDs wanted a full sync the other way: keep "full".
    let mut i = hs(u(A, 0, X, Y), u(P, Q, R, A));
    i.peer_disk = DiskState::Inconsistent;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncSource { full: true });
    assert_eq!(r.hg, 2);
    assert!(texts(&log).contains(&"Becoming sync source due to disk states.".to_string()));

    // A split brain (-100) with one Inconsistent side becomes a full sync, no split-brain
    // handlers run.
    let mut i = hs(u(A, B, X, Y), u(P, Q, Z, X));
    i.disk = DiskState::Inconsistent;
    i.negotiated_disk = DiskState::Inconsistent;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: true });
    assert!(!log.called(Helper::InitialSplitBrain));

    // Outdated counts as "better than Inconsistent".
    assert_eq!(
        real_peer_disk(DiskState::Negotiating, UUID_FLAG_INCONSISTENT),
        DiskState::Inconsistent
    );
    assert_eq!(
        real_peer_disk(DiskState::Negotiating, 0),
        DiskState::Consistent
    );
    assert_eq!(
        real_peer_disk(DiskState::Outdated, UUID_FLAG_INCONSISTENT),
        DiskState::Outdated
    );
}

#[test]
fn handshake_split_brain_paths() {
    // Rule 90, default policies: both handlers, dropped.
    let sb90 = hs(u(A, B, X, Y), u(P, B, Z, W));
    let (r, log) = run_hs(&sb90);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::SplitBrain));
    let t = texts(&log);
    assert_eq!(
        &t[3..],
        [
            "uuid_compare()=100 by rule 90",
            "helper initial-split-brain",
            "Split-Brain detected but unresolved, dropping connection!",
            "helper split-brain",
        ]
    );

    // Rule 90, after-sb-0pri discard-least-changes: we changed less.
    let mut i = sb90;
    i.policies.after_sb_0p = AfterSb::DiscardLeastChg;
    i.local_bits = 10;
    i.cmp.peer.bits = 20;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
    assert!(texts(&log).contains(
        &"Split-Brain detected, 0 primaries, automatically solved. Sync from peer node".to_string()
    ));

    // Rule 100 (-100): only with always-asbp, and then as a full sync.
    let sb100 = hs(u(A, B, X, Y), u(P, Q, Z, X));
    let mut i = sb100;
    i.policies.after_sb_0p = AfterSb::DiscardRemote;
    let (r, _) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::SplitBrain));
    i.policies.always_asbp = true;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncSource { full: true });
    assert!(log.contains(&Msg::FullSyncAmbiguous));

    // Manual resolution by discard-my-data on one side.
    let mut i = sb100;
    i.discard_my_data = true;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
    assert!(log.contains(&Msg::SplitBrainManuallySolved { from_this: false }));
    let mut i = sb100;
    i.cmp.peer.flags = UUID_FLAG_DISCARD_MY_DATA;
    let (r, _) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncSource { full: false });
    // On both sides: still a split brain.
    i.discard_my_data = true;
    let (r, _) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::SplitBrain));

    // One primary, call-pri-lost-after-sb: we are Primary and lose; demotion succeeds, and as
    // we are no longer Primary the rr-conflict check does not fire.
    let mut i = sb90;
    i.cmp.role = Role::Primary;
    i.policies.after_sb_0p = AfterSb::DiscardLocal;
    i.policies.after_sb_1p = AfterSb::CallHelper;
    let mut log = Log::new();
    let r = handshake(&i, &mut || true, &mut log);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
    assert_eq!(r.role, Role::Secondary);
    assert!(log.contains(&Msg::GaveUpPrimary));
    // Demotion fails: the helper runs and the split brain stays unresolved.
    let mut log = Log::new();
    let r = handshake(&i, &mut || false, &mut log);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::SplitBrain));
    assert_eq!(r.role, Role::Primary);
    assert!(log.called(Helper::PriLostAfterSb));
    assert!(log.called(Helper::SplitBrain));

    // Rule 41 with two Primaries: unresolvable.
    let mut i = hs(u(A | 1, 0, X, Y), u(A | 1, 0, X, Y));
    i.cmp.crashed_primary = true;
    i.cmp.role = Role::Primary;
    i.cmp.peer_role = Role::Primary;
    let (r, _) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::SplitBrain));
}

#[test]
fn handshake_rr_conflict() {
    // The peer wrote since (rule 50) and we are an UpToDate Primary.
    let mut i = hs(u(A | 1, 0, X, Y), u(P, A, X, Y));
    i.cmp.role = Role::Primary;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::PrimaryTarget));
    assert_eq!(
        texts(&log).last().unwrap(),
        "I shall become SyncTarget, but I am primary!"
    );

    i.policies.rr_conflict = AfterSb::CallHelper;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::PrimaryTarget));
    let t = texts(&log);
    assert_eq!(
        &t[t.len() - 2..],
        [
            "helper pri-lost",
            "I shall become SyncTarget, but I am primary!"
        ]
    );

    i.policies.rr_conflict = AfterSb::Violently;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
    assert!(texts(&log)
        .contains(&"Becoming SyncTarget, violating the stable-dataassumption".to_string()));

    // The current disk state, not the negotiated one, is what counts.
    i.policies.rr_conflict = AfterSb::Disconnect;
    i.disk = DiskState::Negotiating;
    let (r, _) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::SyncTarget { full: false });
}

#[test]
fn handshake_dry_run() {
    let mut i = hs(u(A, P, X, Y), u(P, 0, X, Y));
    i.policies.tentative = true;
    let (r, log) = run_hs(&i);
    assert_eq!(r.outcome, Outcome::Refused(Refusal::DryRun));
    assert_eq!(
        texts(&log).last().unwrap(),
        "dry-run connect: Would become SyncSource, doing a bit-map based resync."
    );
    let mut i = hs(u(A, 0, X, Y), u(A, 0, X, Y));
    i.dry_run = true;
    let (_, log) = run_hs(&i);
    assert_eq!(
        texts(&log).last().unwrap(),
        "dry-run connect: No resync, would become Connected immediately."
    );
    let mut i = hs(u(A, 0, X, Y), u(P, Q, R, A));
    i.dry_run = true;
    let (_, log) = run_hs(&i);
    assert_eq!(
        texts(&log).last().unwrap(),
        "dry-run connect: Would become SyncTarget, doing a full resync."
    );
    assert!(!log.contains(&Msg::WritingWholeBitmap));
}

// ---------------------------------------------------------------------------------------------
// UUID transitions
// ---------------------------------------------------------------------------------------------

#[test]
fn slot_indexes_and_arrays() {
    let x = u(A, B, C, D);
    assert_eq!(x.to_array(), [A, B, C, D]);
    assert_eq!(Uuids::from_array([A, B, C, D]), x);
    for (slot, v) in [
        (Slot::Current, A),
        (Slot::Bitmap, B),
        (Slot::History0, C),
        (Slot::History1, D),
    ] {
        assert_eq!(x.get(slot), v);
        assert_eq!(x.to_array()[slot.index()], v);
    }
    let p = PeerUuids {
        uuids: x,
        bits: 7,
        flags: 9,
    };
    assert_eq!(p.to_words(), [A, B, C, D, 7, 9]);
    assert_eq!(PeerUuids::from_words([A, B, C, D, 7, 9]), p);
    let wire: drbd_core::packets::Uuids = p.into();
    assert_eq!(PeerUuids::from(wire), p);
}

#[test]
fn new_current_and_role_bit() {
    let mut x = u(A, 0, X, Y);
    assert!(!x.new_current(Role::Primary, R));
    assert_eq!(x, u(R | 1, A, X, Y));
    // The bitmap UUID keeps the old current's role bit ("was Primary").
    let mut x = u(A | 1, 0, X, Y);
    x.new_current(Role::Secondary, R | 1);
    assert_eq!(x, u(R, A | 1, X, Y));
    // Overwriting a bitmap UUID is reported.
    let mut x = u(A, B, X, Y);
    assert!(x.new_current(Role::Primary, R));
    assert_eq!(x, u(R | 1, A, X, Y));
}

#[test]
fn set_bm_and_set_rotating() {
    let mut x = u(A, B, X, Y);
    assert!(!x.set_bm(0));
    assert_eq!(x, u(A, 0, B, X));
    let before = x;
    x.set_bm(0);
    assert_eq!(x, before, "nothing to rotate");
    assert!(!x.set_bm(P | 1));
    assert_eq!(x, u(A, P, B, X), "bit 0 is dropped");
    assert!(x.set_bm(Q));
    assert_eq!(x.bitmap, Q);

    let mut x = u(A, B, X, Y);
    x.set_rotating(Slot::Bitmap, 0, Role::Primary);
    assert_eq!(x, u(A, 0, B, X));
    x.set_rotating(Slot::Bitmap, 0, Role::Primary);
    assert_eq!(x, u(A, 0, B, X), "a zero slot is not rotated");
    let mut x = u(A, 0, X, Y);
    x.set_raw(Slot::Current, P, Role::Primary);
    assert_eq!(x.current, P | 1);
    x.set_raw(Slot::Current, P | 1, Role::Secondary);
    assert_eq!(x.current, P);
    x.set_raw(Slot::History1, Q | 1, Role::Secondary);
    assert_eq!(
        x.history[1],
        Q | 1,
        "only the current slot gets the role bit"
    );
}

#[test]
fn sync_uuid_generation() {
    // The sync UUID is the bitmap UUID plus the offset; the old bitmap UUID goes to history.
    let mut x = u(A, B, X, Y);
    let s = x.gen_sync_uuid(R);
    assert_eq!(s, B + OFF);
    assert_eq!(x, u(A, B + OFF, B, X));
    // No bitmap UUID: the random number, nothing rotated.
    let mut x = u(A, 0, X, Y);
    assert_eq!(x.gen_sync_uuid(R), R);
    assert_eq!(x, u(A, R, X, Y));
    // UUID_JUST_CREATED as bitmap UUID: random too, but it is rotated (it is non-zero).
    let mut x = u(A, JC, X, Y);
    assert_eq!(x.gen_sync_uuid(R), R);
    assert_eq!(x, u(A, R, JC, X));
    // The offset wraps like C's u64 addition.
    let mut x = u(A, u64::MAX - 1, X, Y);
    assert_eq!(x.gen_sync_uuid(R), (u64::MAX - 1).wrapping_add(OFF));

    let mut t = u(B | 1, 0, X, Y);
    t.receive_sync_uuid(B + OFF, Role::Secondary);
    assert_eq!(
        t,
        u(B + OFF, 0, X, Y),
        "no rotation, role bit follows the role"
    );
}

/// A whole disconnect / write / reconnect / resync cycle, both nodes running the transitions
/// the C module runs, checked with the comparison at each reconnect.
#[test]
fn resync_cycle_rotations() {
    // Connected, in sync, node0 Primary.
    let mut n0 = u(A | 1, 0, X, Y);
    let mut n1 = u(A, 0, X, Y);
    // Link lost: node0 keeps writing in a new generation.
    assert!(needs_new_current_uuid(
        &n0,
        DiskState::UpToDate,
        DiskState::DUnknown,
        Role::Secondary,
        Role::Primary,
        Role::Unknown,
        DiskState::UpToDate
    ));
    n0.new_current(Role::Primary, R);
    assert_eq!(n0, u(R | 1, A | 1, X, Y));
    assert!(!needs_new_current_uuid(
        &n0,
        DiskState::DUnknown,
        DiskState::DUnknown,
        Role::Unknown,
        Role::Primary,
        Role::Unknown,
        DiskState::UpToDate
    ));

    // Reconnect.
    let v0 = cmp(&{
        let mut i = input(n0, n1);
        i.role = Role::Primary;
        i
    });
    let v1 = cmp(&{
        let mut i = input(n1, n0);
        i.peer_role = Role::Primary;
        i
    });
    assert_eq!((v0.verdict, v0.rule), (SyncSourceBitmap, 70));
    assert_eq!((v1.verdict, v1.rule), (SyncTargetBitmap, 50));
    let n0_as_seen_at_handshake = n0;
    let n1_as_seen_at_handshake = n1;

    // Resync starts: the source generates the sync UUID, the target adopts it.
    let sync = n0.gen_sync_uuid(0xdead_beef);
    assert_eq!(sync, (A | 1) + OFF);
    assert_eq!(n0, u(R | 1, (A | 1) + OFF, A | 1, X));

    // Lost sync UUID: both sides detect and undo it (rules 71 and 51).
    let c0 = cmp(&input(n0, n1));
    assert_eq!((c0.verdict, c0.rule), (SyncSourceBitmap, 71));
    assert_eq!(c0.local, u(R | 1, A | 1, X, X));
    let c1 = cmp(&input(n1, n0));
    assert_eq!((c1.verdict, c1.rule), (SyncTargetBitmap, 51));
    assert_eq!(c1.peer, u(R | 1, A | 1, X, X));

    // The sync UUID does arrive.
    n1.receive_sync_uuid(sync, Role::Secondary);
    assert_eq!(n1, u(sync & !1, 0, X, Y));

    // The target finishes first; the source misses the event.
    let mut peer_of_n1 = n0_as_seen_at_handshake;
    let end = resync_finished(
        &mut n1,
        Some(&mut peer_of_n1),
        ResyncSide::Target,
        false,
        Role::Secondary,
    );
    assert!(end.updated && !end.peer_uuids_missing);
    // Adopted the source's slots, rotated the sync UUID (its role bit cleared when it became
    // our current UUID) through the bitmap slot into the history.
    assert_eq!(n1, u(R, 0, sync & !1, A | 1));
    assert_eq!(peer_of_n1, n1);

    // Rule 34 / 35 on the next handshake.
    let c0 = cmp(&input(n0, n1));
    assert_eq!((c0.verdict, c0.rule), (SyncSourceBitmap, 34));
    let c1 = cmp(&input(n1, n0));
    assert_eq!((c1.verdict, c1.rule), (SyncTargetBitmap, 35));
    assert_eq!(c1.peer, c0.local);

    // The source finishes too: now both sets are equal (up to the role bit).
    let mut peer_of_n0 = n1_as_seen_at_handshake;
    resync_finished(
        &mut n0,
        Some(&mut peer_of_n0),
        ResyncSide::Source,
        false,
        Role::Primary,
    );
    assert_eq!(n0, u(R | 1, 0, sync, A | 1));
    assert_eq!(peer_of_n0, n0);
    assert_eq!(vr(&input(n0, n1)), (NoSync, 40));
    assert_eq!(vr(&input(n1, n0)), (NoSync, 40));
}

#[test]
fn resync_finished_leaves_uuids_alone_on_failure_or_verify() {
    let start = u(A, B, X, Y);
    for (side, failed) in [
        (ResyncSide::Source, true),
        (ResyncSide::Target, true),
        (ResyncSide::Verify, false),
    ] {
        let mut x = start;
        let mut p = u(P, Q, R, S);
        let end = resync_finished(&mut x, Some(&mut p), side, failed, Role::Primary);
        assert!(!end.updated);
        assert_eq!((x, p), (start, u(P, Q, R, S)));
    }
    // A target without peer UUIDs: "p_uuid is NULL! BUG", the bitmap UUID still rotates.
    let mut x = start;
    let end = resync_finished(&mut x, None, ResyncSide::Target, false, Role::Secondary);
    assert!(end.peer_uuids_missing);
    assert_eq!(x, u(A, 0, B, X));

    assert_eq!(
        ResyncSide::from_conn(ConnState::PausedSyncS),
        Some(ResyncSide::Source)
    );
    assert_eq!(
        ResyncSide::from_conn(ConnState::SyncTarget),
        Some(ResyncSide::Target)
    );
    assert_eq!(
        ResyncSide::from_conn(ConnState::VerifyT),
        Some(ResyncSide::Verify)
    );
    assert_eq!(ResyncSide::from_conn(ConnState::Connected), None);
}

#[test]
fn promotion_and_demotion() {
    // Standalone promotion: a new generation.
    let mut x = u(A, 0, X, Y);
    let p = x.promote(ConnState::StandAlone, DiskState::DUnknown, false, R);
    assert!(p.new_generation && !p.overwrote_bitmap);
    assert_eq!(x, u(R | 1, A, X, Y));
    // Promotion while connected to a good peer: only the role bit.
    let mut x = u(A, 0, X, Y);
    let p = x.promote(ConnState::Connected, DiskState::UpToDate, false, R);
    assert!(!p.new_generation);
    assert_eq!(x, u(A | 1, 0, X, Y));
    // Connected, but the peer's disk failed.
    let mut x = u(A, 0, X, Y);
    assert!(
        x.promote(ConnState::Connected, DiskState::Failed, false, R)
            .new_generation
    );
    // Not connected, but a bitmap generation is already open: keep it.
    let mut x = u(A, B, X, Y);
    assert!(
        !x.promote(ConnState::WfConnection, DiskState::DUnknown, false, R)
            .new_generation
    );
    assert_eq!(x, u(A | 1, B, X, Y));
    // Forced: always, even over an open bitmap generation.
    let p = x.promote(ConnState::Connected, DiskState::UpToDate, true, R);
    assert!(p.new_generation && p.overwrote_bitmap);
    assert_eq!(x, u(R | 1, A | 1, X, Y));
    x.demote();
    assert_eq!(x.current, R);
}

#[test]
fn skip_initial_sync_and_new_current_uuid() {
    let fresh = Uuids::JUST_CREATED;
    assert_eq!(
        new_c_uuid_check(ConnState::Connected, 101, &fresh, true),
        Ok(true)
    );
    assert_eq!(
        new_c_uuid_check(ConnState::StandAlone, 101, &fresh, true),
        Ok(false)
    );
    assert_eq!(
        new_c_uuid_check(ConnState::Connected, 89, &fresh, true),
        Err(RetCode::Connected)
    );
    assert_eq!(
        new_c_uuid_check(ConnState::Connected, 101, &fresh, false),
        Err(RetCode::Connected)
    );
    assert_eq!(
        new_c_uuid_check(ConnState::Connected, 101, &u(A, 0, 0, 0), true),
        Err(RetCode::Connected)
    );

    // Node 0 runs new-current-uuid --clear-bitmap on a fresh, connected pair.
    let mut n0 = fresh;
    let sent = n0.new_current_admin(Role::Secondary, R, true);
    assert_eq!(sent, u(R, JC, 0, 0));
    assert_eq!(n0, u(R, 0, 0, 0));
    let flags = uuid_flags(false, false, false, true);
    assert_eq!(flags, UUID_FLAG_SKIP_INITIAL_SYNC);
    // Node 1 accepts.
    let mut n1 = fresh;
    assert!(skip_initial_sync(ConnState::Connected, 101, &n1, flags));
    assert!(!skip_initial_sync(ConnState::Connected, 89, &n1, flags));
    assert!(!skip_initial_sync(ConnState::Connected, 101, &n1, 0));
    assert!(!skip_initial_sync(
        ConnState::WfReportParams,
        101,
        &n1,
        flags
    ));
    // Exact comparison: JC with the role bit is not "just created".
    assert!(!skip_initial_sync(
        ConnState::Connected,
        101,
        &u(JC | 1, 0, 0, 0),
        flags
    ));
    n1.accept_skip_initial_sync(sent.current, Role::Secondary);
    assert_eq!(n1, n0);
    assert_eq!(vr(&input(n0, n1)), (NoSync, 40));

    // Standalone new-current-uuid: bitmap UUID to history, then a new generation.
    let mut x = u(A, B, X, Y);
    x.new_current_admin(Role::Primary, R, false);
    assert_eq!(x, u(R | 1, A, B, X));
}

#[test]
fn uuid_flags_and_lost_contact() {
    assert_eq!(uuid_flags(true, true, true, true), 15);
    assert_eq!(uuid_flags(true, false, false, false), 1);
    assert_eq!(uuid_flags(false, true, false, false), 2);
    assert_eq!(uuid_flags(false, false, true, false), 4);
    use DiskState::*;
    assert!(lost_contact_to_peer_data(UpToDate, DUnknown));
    assert!(lost_contact_to_peer_data(Inconsistent, Outdated));
    assert!(lost_contact_to_peer_data(Consistent, Diskless));
    assert!(!lost_contact_to_peer_data(Outdated, DUnknown));
    assert!(!lost_contact_to_peer_data(UpToDate, Inconsistent));
    assert!(lost_contact_to_peer_data(DUnknown, Diskless));
    assert!(lost_contact_to_peer_data(DUnknown, Outdated));
    assert!(!lost_contact_to_peer_data(DUnknown, UpToDate));
    // A diskless peer becoming Primary starts a new generation on our side.
    assert!(needs_new_current_uuid(
        &u(A, 0, X, Y),
        Diskless,
        Diskless,
        Role::Secondary,
        Role::Secondary,
        Role::Primary,
        UpToDate
    ));
    // Not without UpToDate data.
    assert!(!needs_new_current_uuid(
        &u(A, 0, X, Y),
        Diskless,
        Diskless,
        Role::Secondary,
        Role::Secondary,
        Role::Primary,
        Consistent
    ));
}

#[test]
fn log_message_texts() {
    let m = Msg::UuidDump {
        who: "self",
        uuids: Uuids::JUST_CREATED,
        bits: 0,
        flags: 0,
    };
    assert_eq!(
        m.to_string(),
        "self 0000000000000004:0000000000000000:0000000000000000:0000000000000000 bits:0 flags:0"
    );
    let m = Msg::UuidDump {
        who: "peer",
        uuids: u(0xABCDEF0123456789, 1, 2, 3),
        bits: 42,
        flags: 0x1f,
    };
    assert_eq!(
        m.to_string(),
        "peer ABCDEF0123456789:0000000000000001:0000000000000002:0000000000000003 bits:42 flags:1F"
    );
    assert_eq!(
        Msg::CompareResult {
            hg: -1091,
            rule: 30
        }
        .to_string(),
        "uuid_compare()=-1091 by rule 30"
    );
    assert_eq!(
        Msg::SplitBrainAutoSolved {
            primaries: 1,
            from_this: true
        }
        .to_string(),
        "Split-Brain detected, 1 primaries, automatically solved. Sync from this node"
    );
    assert_eq!(Helper::PriLostAfterSb.name(), "pri-lost-after-sb");
    assert_eq!(Helper::InitialSplitBrain.name(), "initial-split-brain");
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// UUIDs from a small pool, so that rules other than "unrelated" fire often.
fn pool_uuid() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(JC),
        Just(A),
        Just(A | 1),
        Just(B),
        Just(B + OFF),
        Just(C),
        Just(P),
        Just(P + OFF),
        any::<u64>(),
    ]
}

fn pool_uuids() -> impl Strategy<Value = Uuids> {
    (pool_uuid(), pool_uuid(), pool_uuid(), pool_uuid()).prop_map(|(c, b, h0, h1)| u(c, b, h0, h1))
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Primary),
        Just(Role::Secondary),
        Just(Role::Unknown)
    ]
}

fn disk() -> impl Strategy<Value = DiskState> {
    proptest::sample::select(DiskState::ALL.to_vec())
}

fn policy() -> impl Strategy<Value = AfterSb> {
    proptest::sample::select(AfterSb::ALL.to_vec())
}

fn compare_input() -> impl Strategy<Value = CompareInput> {
    (
        (pool_uuids(), pool_uuids(), any::<u64>(), 0u64..16),
        (
            any::<bool>(),
            role(),
            role(),
            86u32..=101,
            0u32..16,
            any::<bool>(),
        ),
    )
        .prop_map(
            |((l, p, bits, flags), (crashed, r, pr, proto, ff, rc))| CompareInput {
                local: l,
                peer: PeerUuids {
                    uuids: p,
                    bits,
                    flags,
                },
                crashed_primary: crashed,
                role: r,
                peer_role: pr,
                agreed_protocol: proto,
                agreed_features: ff,
                resolve_conflicts: rc,
                bm_weight: bits / 2,
            },
        )
}

proptest! {
    #[test]
    fn compare_is_total_and_consistent(i in compare_input()) {
        let mut log = Log::new();
        let c = compare(&i, &mut log);
        prop_assert!([10, 20, 30, 34, 35, 36, 37, 40, 41, 50, 51, 60, 70, 71, 80, 90, 100].contains(&c.rule));
        prop_assert_eq!(Verdict::from_hg(c.verdict.hg()), Some(c.verdict));
        // Corrections happen in exactly the four fix-up rules, and only with protocol 91+.
        let fixup = matches!(c.rule, 34 | 35) || (matches!(c.rule, 51 | 71) && c.verdict != NeedProtocol(91));
        prop_assert_eq!(c.correction.is_some(), fixup);
        if c.correction.is_none() {
            prop_assert_eq!(c.local, i.local);
            prop_assert_eq!(c.peer, i.peer.uuids);
        }
        if c.verdict == NeedProtocol(91) {
            prop_assert!(i.agreed_protocol < 91);
        }
        prop_assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn compare_after_correction_is_stable(i in compare_input()) {
        // Feeding the corrected UUIDs back in gives the same direction without a further
        // correction of the same kind: the fix-ups converge.
        let c = cmp(&i);
        if c.correction.is_some() {
            let mut j = i;
            j.local = c.local;
            j.peer.uuids = c.peer;
            let d = cmp(&j);
            prop_assert_ne!(d.correction, c.correction);
        }
    }

    #[test]
    fn handshake_is_total(
        i in compare_input(),
        (d, nd, pd) in (disk(), disk(), disk()),
        (p0, p1, p2, rr) in (policy(), policy(), policy(), policy()),
        (asbp, tent, dry, dmd, demote_ok) in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        local_bits in any::<u64>(),
    ) {
        let input = HandshakeInput {
            cmp: i,
            disk: d,
            negotiated_disk: nd,
            peer_disk: pd,
            local_bits,
            discard_my_data: dmd,
            dry_run: dry,
            policies: Policies {
                after_sb_0p: p0,
                after_sb_1p: p1,
                after_sb_2p: p2,
                rr_conflict: rr,
                always_asbp: asbp,
                tentative: tent,
            },
        };
        let mut log = Log::new();
        let mut calls = 0;
        let r = handshake(&input, &mut || { calls += 1; demote_ok }, &mut log);
        prop_assert_eq!(log.dropped(), 0);
        prop_assert!(calls <= 1);
        prop_assert_eq!(r.outcome.conn_state().is_none(), matches!(r.outcome, Outcome::Refused(_)));
        if r.role != i.role {
            prop_assert!(demote_ok && calls == 1 && r.role == Role::Secondary);
        }
        match r.outcome {
            Outcome::SyncSource { full } | Outcome::SyncTarget { full } => {
                prop_assert_eq!(full, r.hg.unsigned_abs() >= 2);
                prop_assert!(r.hg.unsigned_abs() <= 2 && r.hg != 0);
                prop_assert!(!(tent || dry));
            }
            Outcome::Connected => prop_assert_eq!(r.hg, 0),
            Outcome::Refused(_) => {}
        }
        if let Outcome::SyncSource { .. } = r.outcome {
            // Never an inconsistent sync source.
            let mydisk = if d == DiskState::Negotiating { nd } else { d };
            prop_assert!(mydisk.raw() > DiskState::Inconsistent.raw());
        }
    }
}

fn conn() -> impl Strategy<Value = ConnState> {
    proptest::sample::select(ConnState::ALL.to_vec())
}

proptest! {
    /// `drbd_set_role`'s UUID rule exists twice in the core (`Uuids::promote`, used by tests
    /// and the simulation, and `state::uuids_after_role_change`, used by the driver): they
    /// must agree on every input.
    #[test]
    fn promote_agrees_with_uuids_after_role_change(
        u in pool_uuids(),
        c in conn(),
        pdsk in disk(),
        forced in any::<bool>(),
        random in any::<u64>(),
    ) {
        let ns = drbd_core::state::State {
            role: Role::Primary,
            conn: c,
            pdsk,
            ..drbd_core::state::State::UNCONFIGURED
        };
        let (arr, overwrote) =
            drbd_core::state::uuids_after_role_change(&u.to_array(), &ns, forced, random);
        let mut v = u;
        let p = v.promote(c, pdsk, forced, random);
        prop_assert_eq!(v.to_array(), arr);
        prop_assert_eq!(p.overwrote_bitmap, overwrote);
        if !p.new_generation {
            prop_assert_eq!(arr[0], u.current | 1);
        }
        // Demotion: only the role bit changes.
        let ns = drbd_core::state::State { role: Role::Secondary, ..ns };
        let (arr, _) = drbd_core::state::uuids_after_role_change(&v.to_array(), &ns, false, random);
        let mut w = v;
        w.demote();
        prop_assert_eq!(w.to_array(), arr);
        prop_assert_eq!(w.current, v.current & !1);
    }

    /// A resync that runs to its end leaves both nodes with the same UUIDs (role bit aside) and
    /// no bitmap UUID, so the next handshake finds nothing to do (rule 40): whatever the UUIDs
    /// were, as long as the handshake chose a (bitmap or full) resync. The target adopts the
    /// source's UUIDs as it saw them in the handshake (`p_uuid`), before the sync UUID.
    #[test]
    fn a_finished_resync_leaves_equal_uuids(
        src in pool_uuids(),
        tgt in pool_uuids(),
        random in any::<u64>(),
        (src_role, tgt_role) in (role(), role()),
    ) {
        prop_assume!(src.current & !1 != UUID_JUST_CREATED && src.current & !1 != 0);
        prop_assume!(random & !1 != UUID_JUST_CREATED && random != 0);
        let seen_by_target = src;
        let mut s = src;
        let id = s.gen_sync_uuid(random);
        prop_assert_ne!(id, 0);
        let mut t = tgt;
        t.receive_sync_uuid(id, tgt_role);
        let mut peer = Some(seen_by_target);
        let end = resync_finished(&mut t, peer.as_mut(), ResyncSide::Target, false, tgt_role);
        prop_assert!(end.updated && !end.peer_uuids_missing);
        let mut peer_of_source = Some(t);
        resync_finished(&mut s, peer_of_source.as_mut(), ResyncSide::Source, false, src_role);
        prop_assert_eq!(t.current & !1, s.current & !1);
        // (Bit 0 is the role bit, not part of the identity.)
        prop_assert_eq!(t.bitmap, 0);
        prop_assert_eq!(t.history.map(|h| h & !1), s.history.map(|h| h & !1));
        prop_assert_eq!(s.bitmap, 0);
        // The next handshake between them: no resync.
        let mut i = input(s, t);
        i.role = Role::Secondary;
        i.peer_role = Role::Secondary;
        prop_assert_eq!(vr(&i), (NoSync, 40));
    }
}
