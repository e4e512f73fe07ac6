//! The fence-peer exit codes as `conn_try_outdate_peer` reads them.

use drbd_core::fencing::*;
use drbd_core::genl::{DiskState, Fencing};

#[test]
fn exit_codes_set_the_disk_states_the_c_module_sets() {
    let up = DiskState::UpToDate;
    let pdsk = |code, disk| match fence_answer(code, disk) {
        FenceAnswer::Known { pdsk, .. } => pdsk,
        FenceAnswer::Broken => panic!("{code} is a known answer"),
    };
    assert_eq!(pdsk(3, up), Some(DiskState::Inconsistent));
    assert_eq!(pdsk(4, up), Some(DiskState::Outdated));
    assert_eq!(pdsk(7, up), Some(DiskState::Outdated));
    // A peer that is down counts as Outdated only while our data is UpToDate.
    assert_eq!(pdsk(5, up), Some(DiskState::Outdated));
    assert_eq!(pdsk(5, DiskState::Consistent), None);
    assert_eq!(
        fence_answer(6, up),
        FenceAnswer::Known { what: "peer is active", pdsk: None, disk: Some(DiskState::Outdated) }
    );
    assert_eq!(
        fence_answer(7, up),
        FenceAnswer::Known { what: "peer was stonithed", pdsk: Some(DiskState::Outdated), disk: None }
    );
    for code in [0u8, 1, 2, 8, 100, 255] {
        assert_eq!(fence_answer(code, up), FenceAnswer::Broken, "{code}");
    }
    assert!(stonith_answer_without_stonith(7, Fencing::Resource));
    assert!(!stonith_answer_without_stonith(7, Fencing::Stonith));
    assert!(!stonith_answer_without_stonith(4, Fencing::Resource));
}

#[test]
fn the_policy_comes_from_volumes_with_consistent_data() {
    use DiskState::*;
    assert_eq!(highest_policy([(UpToDate, Fencing::Resource), (UpToDate, Fencing::Stonith)]), Some(Fencing::Stonith));
    assert_eq!(highest_policy([(Consistent, Fencing::DontCare)]), Some(Fencing::DontCare));
    // A volume below Consistent does not count; none left is FP_NOT_AVAIL.
    assert_eq!(highest_policy([(Outdated, Fencing::Stonith), (UpToDate, Fencing::Resource)]), Some(Fencing::Resource));
    assert_eq!(highest_policy([(Inconsistent, Fencing::Stonith), (Diskless, Fencing::DontCare)]), None);
    assert!(fenced(Outdated) && fenced(Inconsistent) && fenced(Diskless));
    assert!(!fenced(DUnknown) && !fenced(UpToDate) && !fenced(Consistent));
}
