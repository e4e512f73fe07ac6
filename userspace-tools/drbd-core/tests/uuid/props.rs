//! Properties: the comparison is total, consistent and stable after its corrections, the
//! handshake is total, the two copies of the promotion rule agree, and a finished resync
//! leaves equal UUIDs.

use super::*;

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
