//! `drbd_sync_handshake`: the outcomes, the refusals with the C module's messages, disk states
//! overriding the direction, the split-brain paths, `rr-conflict` and the dry run.

use super::*;

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
