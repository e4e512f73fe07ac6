//! Wire-header codec: golden bytes from the C structs, round trips, and hostile input.

use drbd_core::wire::*;
use proptest::prelude::*;

#[test]
fn header100_matches_c_layout() {
    let mut buf = [0u8; 16];
    assert_eq!(encode_header(&mut buf, 101, 0x0102, 0x0304, 0x0506_0708), Some(16));
    assert_eq!(
        buf,
        [0x86, 0x20, 0xec, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0, 0, 0, 0]
    );
}

#[test]
fn header80_and_95_match_c_layout() {
    let mut buf = [0u8; 8];
    assert_eq!(encode_header(&mut buf, 90, 0, 0xfffe, 0x1234), Some(8));
    assert_eq!(buf, [0x83, 0x74, 0x02, 0x67, 0xff, 0xfe, 0x12, 0x34]);
    assert_eq!(encode_header(&mut buf, 96, 0, 0x0000, 0x0010_0000), Some(8));
    assert_eq!(buf, [0x83, 0x5a, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00]);
}

#[test]
fn volumes_need_protocol_100() {
    let mut buf = [0u8; 16];
    assert_eq!(encode_header(&mut buf, 96, 1, 0, 16), None);
    assert_eq!(encode_header(&mut buf, 100, 1, 0, 16), Some(16));
}

#[test]
fn short_output_buffer_is_refused() {
    let mut buf = [0u8; 15];
    assert_eq!(encode_header(&mut buf, 101, 0, 0, 0), None);
}

#[test]
fn header_size_follows_agreed_protocol() {
    assert_eq!(header_size(0), 8);
    assert_eq!(header_size(99), 8);
    assert_eq!(header_size(100), 16);
    assert_eq!(header_size(PRO_VERSION_MAX), 16);
}

#[test]
fn command_names_are_distinct() {
    for (i, a) in Command::ALL.iter().enumerate() {
        for b in &Command::ALL[i + 1..] {
            assert_ne!(a.name(), b.name());
            assert_ne!(*a as u16, *b as u16);
        }
    }
}

proptest! {
    #[test]
    fn round_trip(proto in prop_oneof![Just(0u32), 86u32..=101], volume: u16, command: u16, length: u32) {
        let mut buf = [0u8; 16];
        match encode_header(&mut buf, proto, volume, command, length) {
            Some(n) => {
                prop_assert_eq!(n, header_size(proto));
                let h = decode_header(&buf[..n], proto).unwrap();
                prop_assert_eq!(h, PacketHeader { volume, command, length });
            }
            // Only formats that cannot carry the value refuse it.
            None => prop_assert!(proto < 100 && (volume != 0 || (length > MAX_SIZE_H80_PACKET && proto < 95))),
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32), proto in 0u32..=101) {
        let _ = decode_header(&bytes, proto);
    }
}
