//! Online verify and checksum-resync arithmetic against the C module's.

use drbd_core::ov::{csums_ratio, request_size, start_position, OosRun};

#[test]
fn start_position_rounds_and_clamps() {
    assert_eq!(start_position(0, 8192), (0, 8192));
    assert_eq!(start_position(13, 8192), (8, 8191));
    assert_eq!(start_position(8 * 8192, 8192), (8 * 8191, 1));
    assert_eq!(start_position(u64::MAX, 8192), (8 * 8191, 1));
    assert_eq!(start_position(5, 0), (0, 0));
}

#[test]
fn request_sizes() {
    assert_eq!(request_size(0, 65536), Some(4096));
    assert_eq!(request_size(65528, 65536), Some(4096));
    assert_eq!(request_size(65536, 65536), None);
    assert_eq!(request_size(65536, 65539), Some(3 * 512));
    assert_eq!(request_size(u64::MAX, 65539), None);
}

#[test]
fn oos_runs_merge_when_adjacent() {
    let mut r = OosRun::default();
    assert_eq!(r.take(), None);
    r.found(16, 4096);
    r.found(24, 4096);
    assert_eq!(r.take(), Some((16, 16)));
    assert_eq!(r.take(), None);
    r.found(16, 4096);
    r.found(800, 4096);
    assert_eq!(r.take(), Some((800, 8)));
}

#[test]
fn ratio_like_c() {
    assert_eq!(csums_ratio(0, 0), 0);
    assert_eq!(csums_ratio(8188, 8192), 99);
    assert_eq!(csums_ratio(8192, 8192), 100);
    // Large totals divide first, as C does.
    assert_eq!(csums_ratio(150_000, 200_000), 75);
    assert_eq!(csums_ratio(199_999, 200_000), 99);
}
