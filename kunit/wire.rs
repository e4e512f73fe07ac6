// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the wire-header codec as compiled into the kernel module: the same code the
//! receiver runs, checked in the kernel's own build (target, alignment, overflow checks).

use kernel::prelude::*;

#[kunit_tests(drbd_rs_wire)]
mod tests {
    use crate::drbd_core::wire::*;

    #[test]
    fn header100_round_trip_keeps_volume_command_length() {
        let mut buf = [0u8; 16];
        assert_eq!(
            encode_header(&mut buf, 101, 3, Command::Data as u16, 4096),
            Some(16)
        );
        // Bytes as the C `p_header100` has them: magic, volume, command, length, pad.
        assert_eq!(&buf[0..4], &[0x86, 0x20, 0xec, 0x20]);
        assert_eq!(&buf[4..6], &[0, 3]);
        let h = decode_header(&buf, 101).unwrap();
        assert_eq!(h.volume, 3);
        assert_eq!(h.command, Command::Data as u16);
        assert_eq!(h.length, 4096);
    }

    #[test]
    fn handshake_uses_header80_and_big_payloads_use_header95() {
        let mut buf = [0u8; 16];
        assert_eq!(
            encode_header(&mut buf, 0, 0, Command::ConnectionFeatures as u16, 32),
            Some(8)
        );
        assert_eq!(&buf[0..4], &[0x83, 0x74, 0x02, 0x67]);
        let h = decode_header(&buf, 0).unwrap();
        assert_eq!(h.command, 0xfffe);
        assert_eq!(h.length, 32);

        assert_eq!(encode_header(&mut buf, 96, 0, 0, 1 << 20), Some(8));
        assert_eq!(&buf[0..2], &[0x83, 0x5a]);
        assert_eq!(decode_header(&buf, 96).unwrap().length, 1 << 20);
        // Protocol 94 has no big header.
        assert_eq!(encode_header(&mut buf, 94, 0, 0, 1 << 20), None);
    }

    #[test]
    fn hostile_headers_are_rejected() {
        let mut buf = [0u8; 16];
        encode_header(&mut buf, 101, 0, Command::Ping as u16, 0).unwrap();
        assert_eq!(
            decode_header(&buf[..15], 101),
            Err(HeaderError::Truncated { have: 15, need: 16 })
        );
        buf[15] = 1;
        assert_eq!(decode_header(&buf, 101), Err(HeaderError::NonZeroPad(1)));
        // An 8-byte header where a 16-byte one is in force is a bad magic, as in the C module.
        encode_header(&mut buf, 0, 0, Command::Ping as u16, 0).unwrap();
        assert_eq!(
            decode_header(&buf, 101),
            Err(HeaderError::BadMagic(DRBD_MAGIC))
        );
        assert_eq!(
            decode_header(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0], 0),
            Err(HeaderError::BadMagic(0xdead_beef))
        );
    }

    #[test]
    fn every_command_maps_back_to_itself() {
        for c in Command::ALL {
            assert_eq!(Command::from_u16(c as u16), Some(c));
        }
        assert_eq!(Command::from_u16(0x25), None);
        assert_eq!(Command::from_u16(0xffff), None);
    }
}
