//! State rules: role changes, detach, open, meta-data flags, UUIDs and sizes of a device
//! without a peer, checked against what the C DRBD 8.4 module does in the same situation
//! (the expected values cite the C code path that produces them).

use drbd_core::genl::{ConnState, DiskState, DrbdState, Fencing, OnNoData, RetCode, Role, StateRv};
use drbd_core::meta::*;
use drbd_core::state::*;
use proptest::prelude::*;

fn standalone(role: Role, disk: DiskState) -> State {
    State {
        role,
        disk,
        ..State::UNCONFIGURED
    }
}

fn never() -> impl FnMut() -> bool {
    || panic!("the peer must not be outdated in this case")
}

const ENV: StateEnv = StateEnv::STANDALONE;

#[test]
fn primary_needs_up_to_date_data_or_force() {
    let os = standalone(Role::Secondary, DiskState::Inconsistent);
    // `drbdsetup primary 0` on fresh meta-data: "(-2) Need access to UpToDate data".
    assert_eq!(
        set_role(&os, Role::Primary, false, &ENV, &mut never()),
        Err(StateRv::NoUpToDateDisk)
    );
    // `--force` declares the data UpToDate.
    let ch = set_role(&os, Role::Primary, true, &ENV, &mut never())
        .unwrap()
        .unwrap();
    assert!(ch.forced);
    assert_eq!(ch.state.role, Role::Primary);
    assert_eq!(ch.state.disk, DiskState::UpToDate);
    assert_eq!(ch.state.conn, ConnState::StandAlone);

    // Outdated data can be forced too; UpToDate data needs no force.
    let os = standalone(Role::Secondary, DiskState::Outdated);
    assert!(
        set_role(&os, Role::Primary, true, &ENV, &mut never())
            .unwrap()
            .unwrap()
            .forced
    );
    let os = standalone(Role::Secondary, DiskState::UpToDate);
    let ch = set_role(&os, Role::Primary, false, &ENV, &mut never())
        .unwrap()
        .unwrap();
    assert!(!ch.forced);
}

/// `call-pri-lost-after-sb` demotes a Primary during the sync handshake with
/// `drbd_change_state(NS(role, R_SECONDARY))`. On a new connection (WFReportParams, the C
/// module's `STATE_SENT` set) the soft-transition rule refuses every change that does not
/// advance the connection, so the demotion fails (and the pri-lost-after-sb helper runs); in a
/// later handshake (Connected) only an open device refuses it.
#[test]
fn split_brain_demotion_during_the_handshake() {
    let os = State {
        role: Role::Primary,
        peer: Role::Secondary,
        conn: ConnState::WfReportParams,
        disk: DiskState::UpToDate,
        pdsk: DiskState::UpToDate,
        ..State::UNCONFIGURED
    };
    let ns = State {
        role: Role::Secondary,
        ..os
    };
    let sent = StateEnv {
        state_sent: true,
        ..ENV
    };
    assert_eq!(
        change_state(&os, &ns, &sent, ChangeFlags::Normal),
        Err(StateRv::InTransientState)
    );
    // The connection advancing is still allowed while STATE_SENT is set.
    let connected = State {
        conn: ConnState::Connected,
        ..os
    };
    assert_eq!(
        change_state(&os, &connected, &sent, ChangeFlags::Normal),
        Ok(connected)
    );
    let os = connected;
    let ns = State {
        role: Role::Secondary,
        ..os
    };
    assert_eq!(change_state(&os, &ns, &ENV, ChangeFlags::Normal), Ok(ns));
    let open = StateEnv { open: true, ..ENV };
    assert_eq!(
        change_state(&os, &ns, &open, ChangeFlags::Normal),
        Err(StateRv::DeviceInUse)
    );
}

#[test]
fn diskless_cannot_be_forced_primary() {
    let os = State::UNCONFIGURED;
    assert_eq!(
        set_role(&os, Role::Primary, true, &ENV, &mut never()),
        Err(StateRv::NoUpToDateDisk)
    );
}

#[test]
fn same_role_is_nothing_to_do() {
    let os = standalone(Role::Primary, DiskState::UpToDate);
    assert_eq!(
        set_role(&os, Role::Primary, false, &ENV, &mut never()),
        Ok(None)
    );
    let os = standalone(Role::Secondary, DiskState::Diskless);
    assert_eq!(
        set_role(&os, Role::Secondary, false, &ENV, &mut never()),
        Ok(None)
    );
}

#[test]
fn secondary_refused_while_open() {
    let os = standalone(Role::Primary, DiskState::UpToDate);
    let open = StateEnv { open: true, ..ENV };
    assert_eq!(
        set_role(&os, Role::Secondary, false, &open, &mut never()),
        Err(StateRv::DeviceInUse)
    );
    // --force does not help (`drbdsetup secondary` has no force semantics for this).
    assert_eq!(
        set_role(&os, Role::Secondary, true, &open, &mut never()),
        Err(StateRv::DeviceInUse)
    );
    let ch = set_role(&os, Role::Secondary, false, &ENV, &mut never())
        .unwrap()
        .unwrap();
    assert_eq!(ch.state.role, Role::Secondary);
}

#[test]
fn consistent_data_asks_the_fencing_policy() {
    let os = standalone(Role::Secondary, DiskState::Consistent);
    let fenced = StateEnv {
        fencing: Fencing::Resource,
        ..ENV
    };
    // The fence-peer handler could not outdate the peer: no promotion.
    let mut calls = 0;
    let r = set_role(&os, Role::Primary, false, &fenced, &mut || {
        calls += 1;
        false
    });
    assert_eq!(r, Err(StateRv::NoUpToDateDisk));
    assert!(calls > 0);
    // The peer was outdated: the data counts as UpToDate, and the peer as Outdated is then
    // still required by `fencing resource-only` (SS_PRIMARY_NOP) unless forced.
    let r = set_role(&os, Role::Primary, false, &fenced, &mut || true);
    assert_eq!(r, Err(StateRv::PrimaryNop));
    let os = standalone(Role::Secondary, DiskState::UpToDate);
    let ch = set_role(&os, Role::Primary, true, &fenced, &mut || false)
        .unwrap()
        .unwrap();
    assert_eq!(
        ch.state.pdsk,
        DiskState::Outdated,
        "forced into split brain"
    );
}

#[test]
fn detach_of_a_standalone_primary_needs_force() {
    let os = standalone(Role::Primary, DiskState::UpToDate);
    assert_eq!(detach(&os, false, &ENV), Err(StateRv::NoUpToDateDisk));
    let ns = detach(&os, true, &ENV).unwrap().unwrap();
    assert_eq!(ns.disk, DiskState::Failed);
    assert_eq!(ns.role, Role::Primary);

    let os = standalone(Role::Secondary, DiskState::UpToDate);
    assert_eq!(
        detach(&os, false, &ENV).unwrap().unwrap().disk,
        DiskState::Failed
    );
    // An open Secondary does not exist (open is refused), but the open count does not matter
    // for detach anyway.
    let open = StateEnv { open: true, ..ENV };
    assert_eq!(
        detach(
            &standalone(Role::Secondary, DiskState::Inconsistent),
            false,
            &open
        )
        .unwrap()
        .unwrap()
        .disk,
        DiskState::Failed
    );
    // Diskless: SS_IS_DISKLESS, which the C module reports as SS_NOTHING_TO_DO.
    assert_eq!(detach(&State::UNCONFIGURED, false, &ENV), Ok(None));
    assert_eq!(detach(&State::UNCONFIGURED, true, &ENV), Ok(None));
}

#[test]
fn a_diskless_primary_may_attach_and_step_down() {
    // What a forced detach of a Primary leaves: Primary without data. The state is invalid
    // (no UpToDate data), but moving to another state that breaks the same rule is allowed.
    let os = standalone(Role::Primary, DiskState::Diskless);
    let mut ns = os;
    ns.disk = DiskState::Attaching;
    assert_eq!(
        change_state(&os, &ns, &ENV, ChangeFlags::Normal).map(|s| s.disk),
        Ok(DiskState::Attaching)
    );
    let ch = set_role(&os, Role::Secondary, false, &ENV, &mut never())
        .unwrap()
        .unwrap();
    assert_eq!(ch.state.role, Role::Secondary);
}

#[test]
fn open_follows_drbd_open() {
    assert_eq!(may_open(Role::Primary, true, false), Ok(()));
    assert_eq!(may_open(Role::Primary, false, false), Ok(()));
    assert_eq!(
        may_open(Role::Secondary, true, false),
        Err(OpenRefusal::ReadOnly)
    );
    assert_eq!(
        may_open(Role::Secondary, true, true),
        Err(OpenRefusal::ReadOnly)
    );
    assert_eq!(
        may_open(Role::Secondary, false, false),
        Err(OpenRefusal::WrongMediumType)
    );
    assert_eq!(may_open(Role::Secondary, false, true), Ok(()));
}

#[test]
fn md_flags_follow_the_state() {
    let created = MDF_AL_CLEAN;
    // Attached Inconsistent Secondary: AL no longer clean, nothing else.
    let s = standalone(Role::Secondary, DiskState::Inconsistent);
    assert_eq!(md_flags_for_state(created, &s, false), 0);
    // Forced Primary: consistent, was UpToDate, primary indicator.
    let s = standalone(Role::Primary, DiskState::UpToDate);
    assert_eq!(
        md_flags_for_state(created, &s, false),
        MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PRIMARY_IND
    );
    // Flags the state does not own are kept; crashed primary is the device's bit.
    assert_eq!(
        md_flags_for_state(
            MDF_AL_DISABLED | MDF_FULL_SYNC | MDF_CRASHED_PRIMARY,
            &s,
            false
        ),
        MDF_AL_DISABLED | MDF_FULL_SYNC | MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PRIMARY_IND
    );
    let s2 = standalone(Role::Secondary, DiskState::Outdated);
    assert_eq!(
        md_flags_for_state(0, &s2, true),
        MDF_CRASHED_PRIMARY | MDF_CONSISTENT
    );
    // Known-outdated peer.
    let s3 = State {
        pdsk: DiskState::Outdated,
        ..standalone(Role::Secondary, DiskState::UpToDate)
    };
    assert_eq!(
        md_flags_for_state(0, &s3, false),
        MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PEER_OUT_DATED
    );
    // Without a disk (Failed on the way to Diskless) the flags stay as they were.
    let f = standalone(Role::Primary, DiskState::Failed);
    let keep = MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PRIMARY_IND;
    assert_eq!(md_flags_for_state(keep, &f, false), keep);
}

#[test]
fn disk_state_on_attach_follows_the_flags() {
    assert_eq!(
        disk_state_on_attach(MDF_AL_CLEAN, Fencing::DontCare),
        (DiskState::Inconsistent, None)
    );
    assert_eq!(
        disk_state_on_attach(MDF_CONSISTENT, Fencing::DontCare),
        (DiskState::Outdated, None)
    );
    assert_eq!(
        disk_state_on_attach(MDF_CONSISTENT | MDF_WAS_UP_TO_DATE, Fencing::DontCare),
        (DiskState::UpToDate, None)
    );
    assert_eq!(
        disk_state_on_attach(MDF_CONSISTENT | MDF_WAS_UP_TO_DATE, Fencing::Resource),
        (DiskState::Consistent, None)
    );
    assert_eq!(
        disk_state_on_attach(
            MDF_CONSISTENT | MDF_WAS_UP_TO_DATE | MDF_PEER_OUT_DATED,
            Fencing::Stonith
        ),
        (DiskState::UpToDate, Some(DiskState::Outdated))
    );
    assert!(crashed_primary_on_attach(MDF_PRIMARY_IND, Role::Secondary));
    assert!(!crashed_primary_on_attach(MDF_PRIMARY_IND, Role::Primary));
    assert!(crashed_primary_on_attach(
        MDF_CRASHED_PRIMARY,
        Role::Primary
    ));
    assert!(!crashed_primary_on_attach(MDF_CONSISTENT, Role::Secondary));
}

#[test]
fn uuids_on_promotion() {
    let created = [UUID_JUST_CREATED, 0, 0, 0];
    let prim = standalone(Role::Primary, DiskState::UpToDate);
    // primary --force on fresh meta-data: a new generation, the old one goes to the bitmap slot.
    let (u, warn) = uuids_after_role_change(&created, &prim, true, 0x1234_5678_9abc_def0);
    assert_eq!(u, [0x1234_5678_9abc_def1, UUID_JUST_CREATED, 0, 0]);
    assert!(!warn);
    // Standalone without a bitmap UUID: a new generation even without force.
    let up = [0xaaaa_0000_0000_0000, 0, 0x77, 0];
    let (u, _) = uuids_after_role_change(&up, &prim, false, 0xbbbb_0000_0000_0002);
    assert_eq!(u, [0xbbbb_0000_0000_0003, 0xaaaa_0000_0000_0000, 0x77, 0]);
    // A bitmap generation is already open: keep the current UUID, only set the role bit.
    let open = [0xaaaa_0000_0000_0000, 0xcccc, 0, 0];
    let (u, _) = uuids_after_role_change(&open, &prim, false, 0xdead_0000);
    assert_eq!(u, [0xaaaa_0000_0000_0001, 0xcccc, 0, 0]);
    // Forced over an open bitmap generation: the C module warns and overwrites.
    let (u, warn) = uuids_after_role_change(&open, &prim, true, 0xdead_0000);
    assert_eq!(u, [0xdead_0001, 0xaaaa_0000_0000_0000, 0, 0]);
    assert!(warn);
    // Becoming Secondary clears the role bit only.
    let sec = standalone(Role::Secondary, DiskState::UpToDate);
    let (u, _) = uuids_after_role_change(&[0xdead_0001, 5, 6, 7], &sec, false, 99);
    assert_eq!(u, [0xdead_0000, 5, 6, 7]);
    assert_eq!(current_uuid_for_role(0x10, Role::Primary), 0x11);
    assert_eq!(current_uuid_for_role(0x11, Role::Secondary), 0x10);
}

#[test]
fn sizes_on_attach() {
    // Fresh meta-data: everything before the bitmap.
    assert_eq!(attach_size(130_000, 0, 0, 0, 0), Ok(130_000));
    // The last agreed size is kept without a peer, even if the disk could hold more.
    assert_eq!(
        attach_size(130_000, 100_000, 0, 0, MDF_CONSISTENT),
        Ok(100_000)
    );
    // A consistent disk that shrank is refused; an inconsistent one just takes what fits.
    assert_eq!(
        attach_size(90_000, 100_000, 0, 0, MDF_CONSISTENT),
        Err(RetCode::ImplicitShrink)
    );
    assert_eq!(attach_size(90_000, 100_000, 0, 0, 0), Ok(90_000));
    // ... unless the user asked for exactly that size.
    assert_eq!(
        attach_size(90_000, 100_000, 80_000, 0, MDF_CONSISTENT),
        Ok(80_000)
    );
    // --size larger than the disk, or a diskless Primary larger than the disk.
    assert_eq!(
        attach_size(90_000, 0, 100_000, 0, 0),
        Err(RetCode::DiskTooSmall)
    );
    assert_eq!(
        attach_size(90_000, 0, 0, 95_000, 0),
        Err(RetCode::DiskTooSmall)
    );
    assert_eq!(new_dev_size(100, 0, 50, 0), (50, false));
    assert_eq!(new_dev_size(100, 0, 0, 200), (100, true));
    assert_eq!(new_dev_size(0, 0, 0, 0), (0, false));
}

#[test]
fn max_bio_size_starts_at_4k_without_a_known_peer() {
    assert_eq!(max_bio_size(0, 0), DRBD_MAX_BIO_SIZE_SAFE);
    assert_eq!(max_bio_size(128 << 10, 0), DRBD_MAX_BIO_SIZE_SAFE);
    assert_eq!(max_bio_size(128 << 10, 1 << 20), 128 << 10);
    assert_eq!(max_bio_size(4 << 20, 8 << 20), DRBD_MAX_BIO_SIZE);
    assert_eq!(max_bio_size(0, 64 << 10), 64 << 10);
}

#[test]
fn connection_transitions() {
    use ConnState::*;
    assert_eq!(
        is_valid_conn_transition(StandAlone, StandAlone),
        StateRv::NothingToDo
    );
    assert_eq!(
        is_valid_conn_transition(StandAlone, Disconnecting),
        StateRv::AlreadyStandalone
    );
    assert_eq!(
        is_valid_conn_transition(StandAlone, Connected),
        StateRv::NeedConnection
    );
    assert_eq!(
        is_valid_conn_transition(StandAlone, Unconnected),
        StateRv::Success
    );
    assert_eq!(
        is_valid_conn_transition(WfConnection, Connected),
        StateRv::NeedConnection
    );
    assert_eq!(
        is_valid_conn_transition(WfReportParams, Connected),
        StateRv::Success
    );
    assert_eq!(
        is_valid_conn_transition(BrokenPipe, WfConnection),
        StateRv::InTransientState
    );
    assert_eq!(
        is_valid_conn_transition(Disconnecting, Unconnected),
        StateRv::InTransientState
    );
    assert_eq!(
        is_valid_conn_transition(Disconnecting, StandAlone),
        StateRv::Success
    );
}

#[test]
fn sanitize_clears_peer_facts_without_a_connection() {
    let os = State::UNCONFIGURED;
    let ns = State {
        peer: Role::Primary,
        pdsk: DiskState::UpToDate,
        peer_isp: true,
        ..os
    };
    let s = sanitize_state(&os, &ns, &ENV);
    assert_eq!(s.peer, Role::Unknown);
    assert_eq!(s.pdsk, DiskState::DUnknown);
    assert!(!s.peer_isp);
    // A known-outdated peer stays known.
    let ns = State {
        pdsk: DiskState::Outdated,
        ..os
    };
    assert_eq!(sanitize_state(&os, &ns, &ENV).pdsk, DiskState::Outdated);
    // on-no-data-accessible suspend-io suspends a Primary that loses its data.
    let env = StateEnv {
        on_no_data: OnNoData::SuspendIo,
        ..ENV
    };
    let os = standalone(Role::Primary, DiskState::UpToDate);
    let ns = State {
        disk: DiskState::Failed,
        ..os
    };
    assert!(sanitize_state(&os, &ns, &env).susp_nod);
    assert!(!sanitize_state(&os, &ns, &ENV).susp_nod);
}

#[test]
fn replies_carry_drbd_numbers_and_texts() {
    let r = DrbdRet::from(RetCode::MdUnclean);
    assert_eq!(r.code(), 165);
    assert_eq!(
        r.text(),
        "Unclean meta-data found.\nYou need to 'drbdadm apply-al res'\n"
    );
    assert!(!r.is_success());
    let s = DrbdRet::from(StateRv::NoUpToDateDisk);
    assert_eq!(s.code(), -2);
    assert_eq!(s.text(), "Need access to UpToDate data");
    assert!(DrbdRet::from(StateRv::NothingToDo).is_success());
    assert!(DrbdRet::from(RetCode::NoError).is_success());
}

#[test]
fn state_abi_word() {
    let s = State {
        pdsk: DiskState::Outdated,
        ..standalone(Role::Primary, DiskState::UpToDate)
    };
    let w = s.to_abi();
    assert_eq!(DrbdState::from_u32(w.to_u32()), w);
    assert_eq!(w.role, 1);
    assert_eq!(w.disk, 8);
    assert_eq!(w.pdsk, 5);
    assert_eq!(w.conn, 0);
}

fn any_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}
fn any_disk() -> impl Strategy<Value = DiskState> {
    prop::sample::select(DiskState::ALL.to_vec())
}
fn any_conn() -> impl Strategy<Value = ConnState> {
    prop::sample::select(ConnState::ALL.to_vec())
}

prop_compose! {
    fn any_state()(role in any_role(), peer in any_role(), conn in any_conn(),
                   disk in any_disk(), pdsk in any_disk(), flags in 0u8..64) -> State {
        State {
            role, peer, conn, disk, pdsk,
            susp: flags & 1 != 0,
            susp_nod: flags & 2 != 0,
            susp_fen: flags & 4 != 0,
            aftr_isp: flags & 8 != 0,
            peer_isp: flags & 16 != 0,
            user_isp: flags & 32 != 0,
        }
    }
}

proptest! {
    // The C function rewrites (Paused)Sync states after clamping the disk states for them, so
    // it is only idempotent outside those states; so is the port.
    #[test]
    fn sanitize_is_idempotent(os in any_state(), ns in any_state(), open: bool) {
        use ConnState::*;
        prop_assume!(!matches!(ns.conn, SyncSource | SyncTarget | PausedSyncS | PausedSyncT));
        let env = StateEnv { open, ..ENV };
        let once = sanitize_state(&os, &ns, &env);
        prop_assert_eq!(sanitize_state(&os, &once, &env), once);
    }

    #[test]
    fn standalone_primary_always_has_up_to_date_data(
        disk in any_disk(), force: bool, open: bool, outdate: bool
    ) {
        let os = standalone(Role::Secondary, disk);
        let env = StateEnv { open, ..ENV };
        if let Ok(Some(ch)) = set_role(&os, Role::Primary, force, &env, &mut || outdate) {
            prop_assert_eq!(ch.state.disk, DiskState::UpToDate);
            prop_assert_eq!(ch.forced, disk != DiskState::UpToDate && disk != DiskState::Consistent
                || (disk == DiskState::Consistent && force));
        }
    }

    #[test]
    fn change_state_never_enters_an_impossible_transition(
        os in any_state(), ns in any_state(), hard: bool
    ) {
        let flags = if hard { ChangeFlags::Hard } else { ChangeFlags::Normal };
        if let Ok(s) = change_state(&os, &ns, &ENV, flags) {
            prop_assert!(is_valid_transition(&os, &s).raw() >= StateRv::Success.raw());
            prop_assert_ne!(s, os);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Admin requests that steer resync (`drbd_nl.c`: invalidate, invalidate-remote, pause-sync,
// resume-sync, outdate)
// ---------------------------------------------------------------------------------------------

fn connected(role: Role, peer: Role, conn: ConnState, disk: DiskState, pdsk: DiskState) -> State {
    State {
        role,
        peer,
        conn,
        disk,
        pdsk,
        ..State::UNCONFIGURED
    }
}

fn admin(os: &State, ch: AdminChange) -> Result<State, StateRv> {
    change_state(os, &ch.request(os), &ENV, ChangeFlags::Normal)
}

#[test]
fn pause_sync_pauses_a_running_resync_and_answers_like_drbd_nl() {
    use ConnState::*;
    let os = connected(Role::Secondary, Role::Primary, SyncTarget, DiskState::Inconsistent, DiskState::UpToDate);
    let ns = admin(&os, AdminChange::PauseSync).unwrap();
    assert_eq!(ns.conn, PausedSyncT);
    assert!(ns.user_isp);
    assert_eq!(AdminChange::PauseSync.reply(StateRv::Success, &ns), DrbdRet::Ret(RetCode::NoError));
    // A second pause-sync changes nothing: ERR_PAUSE_IS_SET.
    let rv = admin(&ns, AdminChange::PauseSync).unwrap_err();
    assert_eq!(rv, StateRv::NothingToDo);
    assert_eq!(AdminChange::PauseSync.reply(rv, &ns), DrbdRet::Ret(RetCode::PauseIsSet));
    // resume-sync continues it; a second one is ERR_PAUSE_IS_CLEAR.
    let rs = admin(&ns, AdminChange::ResumeSync).unwrap();
    assert_eq!(rs.conn, SyncTarget);
    let rv = admin(&rs, AdminChange::ResumeSync).unwrap_err();
    assert_eq!(AdminChange::ResumeSync.reply(rv, &rs), DrbdRet::Ret(RetCode::PauseIsClear));
    // Paused by the peer: our resume-sync is ERR_PIC_PEER_DEP; by a resync-after dependency,
    // ERR_PIC_AFTER_DEP.
    let mut by_peer = os;
    by_peer.peer_isp = true;
    apply_isp(&mut by_peer);
    assert_eq!(by_peer.conn, PausedSyncT);
    let rv = admin(&by_peer, AdminChange::ResumeSync).unwrap_err();
    assert_eq!(AdminChange::ResumeSync.reply(rv, &by_peer), DrbdRet::Ret(RetCode::PicPeerDep));
    let mut by_after = by_peer;
    by_after.aftr_isp = true;
    assert_eq!(
        AdminChange::ResumeSync.reply(StateRv::NothingToDo, &by_after),
        DrbdRet::Ret(RetCode::PicAfterDep)
    );
    // Pausing while only connected sets the flag; the source side pauses as PausedSyncS.
    let c = connected(Role::Primary, Role::Secondary, Connected, DiskState::UpToDate, DiskState::UpToDate);
    let p = admin(&c, AdminChange::PauseSync).unwrap();
    assert_eq!((p.conn, p.user_isp), (Connected, true));
    let s = connected(Role::Primary, Role::Secondary, SyncSource, DiskState::UpToDate, DiskState::Inconsistent);
    assert_eq!(admin(&s, AdminChange::PauseSync).unwrap().conn, PausedSyncS);
}

#[test]
fn apply_isp_forgets_the_peer_pause_without_a_connection() {
    let mut s = connected(Role::Secondary, Role::Unknown, ConnState::NetworkFailure, DiskState::Inconsistent, DiskState::DUnknown);
    s.peer_isp = true;
    s.user_isp = true;
    apply_isp(&mut s);
    assert!(!s.peer_isp);
    assert!(s.user_isp, "the user's pause survives a lost connection, as in the C module");
}

#[test]
fn invalidate_chooses_local_or_full_sync() {
    use ConnState::*;
    let sa = standalone(Role::Secondary, DiskState::UpToDate);
    assert_eq!(AdminChange::invalidate(&sa, false), AdminChange::InvalidateLocal);
    let ns = admin(&sa, AdminChange::InvalidateLocal).unwrap();
    assert_eq!(ns.disk, DiskState::Inconsistent);
    // A StandAlone Primary cannot invalidate its only data.
    let pa = standalone(Role::Primary, DiskState::UpToDate);
    assert_eq!(AdminChange::invalidate(&pa, false), AdminChange::InvalidateSync);
    assert_eq!(admin(&pa, AdminChange::InvalidateSync), Err(StateRv::NeedConnection));
    // invalidate-remote on a StandAlone Secondary needs a connection; on a StandAlone Primary
    // it marks the peer Inconsistent.
    assert_eq!(AdminChange::invalidate(&sa, true), AdminChange::InvalidatePeerSync);
    assert_eq!(admin(&sa, AdminChange::InvalidatePeerSync), Err(StateRv::NeedConnection));
    let ns = admin(&pa, AdminChange::invalidate(&pa, true)).unwrap();
    assert_eq!(ns.pdsk, DiskState::Inconsistent);
    // Connected: StartingSyncT makes the disk at most Outdated; StartingSyncS the peer's at
    // most Consistent; both are cluster-wide.
    let c = connected(Role::Secondary, Role::Primary, Connected, DiskState::UpToDate, DiskState::UpToDate);
    assert!(AdminChange::InvalidateSync.cluster_wide(&c));
    let t = admin(&c, AdminChange::InvalidateSync).unwrap();
    assert_eq!((t.conn, t.disk, t.pdsk), (StartingSyncT, DiskState::Outdated, DiskState::UpToDate));
    let s = admin(&c, AdminChange::InvalidatePeerSync).unwrap();
    assert_eq!((s.conn, s.disk, s.pdsk), (StartingSyncS, DiskState::UpToDate, DiskState::Consistent));
    // Not while a resync runs.
    let st = connected(Role::Secondary, Role::Primary, SyncTarget, DiskState::Inconsistent, DiskState::UpToDate);
    assert_eq!(admin(&st, AdminChange::InvalidateSync), Err(StateRv::ResyncRunning));
    assert_eq!(mirror_conn(StartingSyncT), StartingSyncS);
    assert_eq!(mirror_conn(StartingSyncS), StartingSyncT);
    assert_eq!(mirror_conn(Connected), Connected);
}

#[test]
fn outdate_follows_the_state_rules() {
    // A disconnected Secondary: UpToDate -> Outdated, and the meta-data forget "was UpToDate".
    let sa = standalone(Role::Secondary, DiskState::UpToDate);
    let ns = admin(&sa, AdminChange::Outdate).unwrap();
    assert_eq!(ns.disk, DiskState::Outdated);
    let f = md_flags_for_state(MDF_CONSISTENT | MDF_WAS_UP_TO_DATE, &ns, false);
    assert_eq!(f & (MDF_CONSISTENT | MDF_WAS_UP_TO_DATE), MDF_CONSISTENT);
    // A StandAlone Primary needs its UpToDate data.
    let pa = standalone(Role::Primary, DiskState::UpToDate);
    assert_eq!(admin(&pa, AdminChange::Outdate), Err(StateRv::NoUpToDateDisk));
    // Inconsistent data cannot be "outdated".
    let inc = standalone(Role::Secondary, DiskState::Inconsistent);
    assert_eq!(admin(&inc, AdminChange::Outdate), Err(StateRv::LowerThanOutdated));
    // Connected, Outdated vanishes again (sanitize_state): nothing to do.
    let c = connected(Role::Secondary, Role::Primary, ConnState::Connected, DiskState::UpToDate, DiskState::UpToDate);
    assert_eq!(admin(&c, AdminChange::Outdate), Err(StateRv::NothingToDo));
}

#[test]
fn ppsize_prints_like_the_c_module() {
    // "32 MB (8182 bits) marked out-of-sync by on disk bit-map." for a 32 MiB disk.
    assert_eq!(ppsize(8182 * 4), (32, 'M'));
    assert_eq!(ppsize(9999), (9999, 'K'));
    assert_eq!(ppsize(10000), (10, 'M'));
    assert_eq!(ppsize(256 * 1024 * 1024), (256, 'G'));
    assert_eq!(ppsize(u64::MAX).1, 'E');
}

fn net(two_primaries: bool) -> NetEnv {
    NetEnv {
        two_primaries,
        peer_primary_elsewhere: false,
        verify_alg: false,
        agreed_pro_version: 101,
    }
}

proptest! {
    // `is_valid_state`: with a network configuration, a Primary whose peer is Primary is
    // valid only with allow-two-primaries (`SS_TWO_PRIMARIES`, "Multiple primaries not
    // allowed by config"); without a network configuration the rule does not apply.
    #[test]
    fn two_primaries_need_allow_two_primaries(ns in any_state(), allow: bool, configured: bool) {
        let env = StateEnv { net: configured.then(|| net(allow)), ..ENV };
        let rv = is_valid_state(&ns, &env);
        let both = ns.role == Role::Primary && ns.peer == Role::Primary;
        prop_assert_eq!(rv == StateRv::TwoPrimaries, both && configured && !allow);
    }

    // A Secondary connected to a Primary peer cannot be promoted without allow-two-primaries,
    // whatever `--force` or its data; with it, the peer's role is no reason to refuse.
    #[test]
    fn promotion_next_to_a_primary(disk in any_disk(), pdsk in any_disk(), force: bool, allow: bool) {
        let os = State {
            role: Role::Secondary,
            peer: Role::Primary,
            conn: ConnState::Connected,
            disk,
            pdsk,
            ..State::UNCONFIGURED
        };
        let env = StateEnv { net: Some(net(allow)), ..ENV };
        let r = set_role(&os, Role::Primary, force, &env, &mut || false);
        if allow {
            prop_assert_ne!(r.err(), Some(StateRv::TwoPrimaries));
        } else {
            prop_assert!(r.is_err(), "promoted next to a Primary: {:?}", r);
        }
        if let Ok(Some(ch)) = r {
            prop_assert_eq!(ch.state.role, Role::Primary);
            prop_assert_eq!(ch.state.peer, Role::Primary);
        }
    }
}
