//! The UUID transitions of `drbd_main.c` / `drbd_worker.c`: slots, new current UUIDs and the
//! role bit, bitmap and sync UUIDs, resync rotations, promotion and demotion, the initial-sync
//! skip, the UUID flags, and the log message texts.

use super::*;

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
