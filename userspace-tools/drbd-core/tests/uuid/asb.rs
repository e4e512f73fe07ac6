//! The after-split-brain policies: the matrices of `drbd_asb_recover_0p`, `_1p` and `_2p`.

use super::*;

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
