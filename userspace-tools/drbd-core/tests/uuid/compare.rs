//! `drbd_uuid_compare`, rule by rule: the rule table with the C module's verdict and rule
//! number, the crashed-primary rules 40 and 41, the UUID corrections, and the `hg` values.

use super::*;

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
