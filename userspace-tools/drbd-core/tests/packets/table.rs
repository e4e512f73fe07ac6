//! The per-command table (expected payload per command and socket, the payload rules, the
//! header checks, decoding whole packets) and encoding whole packets: header + payload.

use super::*;

#[test]
fn expected_payload_mirrors_the_c_tables() {
    use Channel::*;
    // (command, fixed, may_have_data, channel) for protocol 101 without WSAME.
    let table: &[(Command, usize, bool, Channel)] = &[
        (Command::Data, 24, true, Data),
        (Command::DataReply, 24, true, Data),
        (Command::RsDataReply, 24, true, Data),
        (Command::Barrier, 8, false, Data),
        (Command::Bitmap, 0, true, Data),
        (Command::CompressedBitmap, 0, true, Data),
        (Command::UnplugRemote, 0, false, Data),
        (Command::DataRequest, 24, false, Data),
        (Command::RsDataRequest, 24, false, Data),
        (Command::SyncParam, 0, true, Data),
        (Command::SyncParam89, 0, true, Data),
        (Command::Protocol, 24, true, Data),
        (Command::Uuids, 48, false, Data),
        (Command::Sizes, 32, false, Data),
        (Command::State, 4, false, Data),
        (Command::StateChgReq, 8, false, Data),
        (Command::SyncUuid, 8, false, Data),
        (Command::OvRequest, 24, false, Data),
        (Command::OvReply, 24, true, Data),
        (Command::CsumRsRequest, 24, true, Data),
        (Command::RsThinReq, 24, false, Data),
        (Command::DelayProbe, 8, false, Both),
        (Command::OutOfSync, 16, false, Data),
        (Command::ConnStChgReq, 8, false, Data),
        (Command::ProtocolUpdate, 24, true, Data),
        (Command::Trim, 28, false, Data),
        (Command::Zeroes, 28, false, Data),
        (Command::RsDeallocated, 16, false, Data),
        (Command::Ping, 0, false, Meta),
        (Command::PingAck, 0, false, Meta),
        (Command::RecvAck, 24, false, Meta),
        (Command::WriteAck, 24, false, Meta),
        (Command::RsWriteAck, 24, false, Meta),
        (Command::Superseded, 24, false, Meta),
        (Command::NegAck, 24, false, Meta),
        (Command::NegDReply, 24, false, Meta),
        (Command::NegRsDReply, 24, false, Meta),
        (Command::OvResult, 24, false, Meta),
        (Command::BarrierAck, 8, false, Meta),
        (Command::StateChgReply, 4, false, Meta),
        (Command::RsIsInSync, 24, false, Meta),
        (Command::RsCancel, 24, false, Meta),
        (Command::ConnStChgReply, 4, false, Meta),
        (Command::RetryWrite, 24, false, Meta),
        (Command::ConnectionFeatures, 72, false, Handshake),
        (Command::AuthChallenge, 64, true, Handshake),
        (Command::AuthResponse, 0, true, Handshake),
        (Command::InitialData, 0, false, Handshake),
        (Command::InitialMeta, 0, false, Handshake),
    ];
    for &(cmd, fixed, data, ch) in table {
        let r = expected_payload(cmd, 101, 0).unwrap_or_else(|| panic!("{cmd:?}"));
        assert_eq!(
            (r.fixed, r.may_have_data, r.channel),
            (fixed, data, ch),
            "{cmd:?}"
        );
        if !data {
            assert_eq!(r.max, fixed, "{cmd:?}");
        }
        assert!(r.max >= r.fixed);
    }
    // Everything else has no handler in the 8.4 receiver.
    for cmd in Command::ALL {
        if !table.iter().any(|t| t.0 == cmd) {
            assert_eq!(expected_payload(cmd, 101, PRO_FEATURES), None, "{cmd:?}");
        }
    }
    assert_eq!(table.len() + 3, Command::ALL.len());
    // P_SIZES grows by o_qlim with WSAME.
    assert_eq!(
        expected_payload(Command::Sizes, 101, FF_WSAME)
            .unwrap()
            .fixed,
        56
    );
    // Upper bounds that depend on the protocol version.
    let max = |cmd, v| expected_payload(cmd, v, 0).unwrap().max;
    assert_eq!(max(Command::SyncParam, 87), 4);
    assert_eq!(max(Command::SyncParam, 88), 68);
    assert_eq!(max(Command::SyncParam89, 94), 132);
    assert_eq!(max(Command::SyncParam89, 95), 148);
    assert_eq!(max(Command::Protocol, 86), 24);
    assert_eq!(max(Command::Protocol, 87), 88);
    assert_eq!(max(Command::Bitmap, 101), 4080);
    assert_eq!(max(Command::Bitmap, 96), 4088);
    assert_eq!(max(Command::Data, 101), 24 + 64 + (1 << 20));
    assert_eq!(max(Command::OvReply, 101), 24 + 64);
}

#[test]
fn payload_rule_checks() {
    let r = expected_payload(Command::Barrier, 101, 0).unwrap();
    assert_eq!(r.check(3, 8), Ok(()));
    assert_eq!(
        r.check(3, 9),
        Err(PacketError::NoPayloadExpected {
            command: 3,
            length: 9
        })
    );
    assert_eq!(
        r.check(3, 7),
        Err(PacketError::PayloadTooShort {
            command: 3,
            expected: 8,
            received: 7
        })
    );
    let d = expected_payload(Command::Data, 101, 0).unwrap();
    assert_eq!(
        d.check(0, 23),
        Err(PacketError::PayloadTooShort {
            command: 0,
            expected: 24,
            received: 23
        })
    );
    assert_eq!(d.check(0, 24 + 4096), Ok(()));
    assert_eq!(
        d.check(0, u32::MAX),
        Err(PacketError::PayloadTooLong {
            command: 0,
            max: d.max,
            received: u32::MAX
        })
    );
    assert_eq!(
        format!("{}", r.check(3, 9).unwrap_err()),
        "No payload expected Barrier l:9"
    );
    assert_eq!(
        format!("{}", r.check(3, 7).unwrap_err()),
        "Barrier: unexpected packet size, expected:8 received:7"
    );
}

#[test]
fn check_header_per_socket() {
    let h = |command: u16, length: u32| PacketHeader {
        volume: 0,
        command,
        length,
    };
    let unexpected = |command| Err(PacketError::UnexpectedCommand { command });
    assert!(check_header(Channel::Data, &h(0, 24 + 512), 101, 0).is_ok());
    assert_eq!(
        check_header(Channel::Meta, &h(0, 24 + 512), 101, 0),
        unexpected(0)
    );
    assert_eq!(
        check_header(Channel::Data, &h(0x13, 0), 101, 0),
        unexpected(0x13)
    );
    assert!(check_header(Channel::Meta, &h(0x13, 0), 101, 0).is_ok());
    assert!(check_header(Channel::Data, &h(0x27, 8), 101, 0).is_ok());
    assert!(check_header(Channel::Meta, &h(0x27, 8), 101, 0).is_ok());
    assert_eq!(
        check_header(Channel::Data, &h(0x25, 0), 101, 0),
        unexpected(0x25)
    );
    assert_eq!(
        check_header(Channel::Data, &h(0x34, 28), 101, 0),
        unexpected(0x34)
    ); // P_WSAME
    assert_eq!(
        check_header(Channel::Data, &h(0x05, 0), 101, 0),
        unexpected(0x05)
    );
    assert_eq!(
        check_header(Channel::Data, &h(0xfffe, 72), 101, 0),
        unexpected(0xfffe)
    );
    assert!(check_header(Channel::Handshake, &h(0xfffe, 72), 0, 0).is_ok());
    assert_eq!(
        check_header(Channel::Meta, &h(0x16, 25), 101, 0),
        Err(PacketError::NoPayloadExpected {
            command: 0x16,
            length: 25
        })
    );
    let (cmd, rule) = check_header(Channel::Data, &h(0x0d, 56), 101, FF_WSAME).unwrap();
    assert_eq!((cmd, rule.fixed), (Command::Sizes, 56));
    assert_eq!(
        format!(
            "{}",
            check_header(Channel::Data, &h(0x13, 0), 101, 0).unwrap_err()
        ),
        "Unexpected packet Ping (0x0013)"
    );
}

#[test]
fn decode_packet_examples() {
    let mut payload = enc(|o| {
        DataHeader {
            sector: 8,
            block_id: 1,
            seq_num: 2,
            dp_flags: DP_FLUSH,
        }
        .encode(o)
    });
    payload.extend_from_slice(&[0xdd; 16]);
    payload.extend_from_slice(&[0x55; 1024]);
    match decode_packet(Command::Data, &payload, 101, 0, 16).unwrap() {
        Packet::Data {
            header,
            digest,
            data,
            ..
        } => {
            assert_eq!(header.sector, 8);
            assert_eq!(digest, &[0xdd; 16]);
            assert_eq!(data.len(), 1024);
        }
        p => panic!("{p:?}"),
    }
    // The same bytes without a digest are 1040 data bytes: not sector aligned.
    assert_eq!(
        decode_packet(Command::Data, &payload, 101, 0, 0),
        Err(PacketError::BadBlockSize {
            size: 1040,
            max: 1 << 20
        })
    );
    let trim_flags = enc(|o| {
        DataHeader {
            dp_flags: DP_DISCARD,
            ..DataHeader::default()
        }
        .encode(o)
    });
    assert_eq!(
        decode_packet(Command::Data, &trim_flags, 101, 0, 0),
        Err(PacketError::DataWithDiscardFlags(DP_DISCARD))
    );
    // A data reply may carry the flag bits (C sends 0 there), only P_DATA is checked.
    assert!(decode_packet(Command::DataReply, &trim_flags, 101, 0, 0).is_ok());
    let ov = cat(&[
        &enc(|o| {
            BlockRequest {
                sector: 0,
                block_id: 0,
                blksize: 4096,
            }
            .encode(o)
        }),
        &[1; 20],
    ]);
    assert!(matches!(
        decode_packet(Command::OvReply, &ov, 101, 0, 0),
        Ok(Packet::BlockRequest { digest, .. }) if digest.len() == 20
    ));
    assert_eq!(
        decode_packet(Command::DataRequest, &ov, 101, 0, 0),
        Err(PacketError::NoPayloadExpected {
            command: 8,
            length: 44
        })
    );
    assert_eq!(
        decode_packet(Command::Wsame, &[0; 28], 101, 0, 0),
        Err(PacketError::UnexpectedCommand { command: 0x34 })
    );
    let cb = [0x82, 0xff, 0x00];
    assert_eq!(
        decode_packet(Command::CompressedBitmap, &cb, 101, 0, 0),
        Ok(Packet::CompressedBitmap(
            CompressedBitmapHeader::new(true, 0),
            &cb[1..]
        ))
    );
    assert_eq!(
        decode_packet(Command::Ping, &[], 101, 0, 0),
        Ok(Packet::Empty(Command::Ping))
    );
}

#[test]
fn sender_max_bio_size_per_version() {
    assert_eq!(sender_max_bio_size(1 << 21, 101), 1 << 20);
    assert_eq!(sender_max_bio_size(1 << 20, 100), 1 << 20);
    assert_eq!(sender_max_bio_size(1 << 20, 99), 128 << 10);
    assert_eq!(sender_max_bio_size(1 << 20, 95), 128 << 10);
    assert_eq!(sender_max_bio_size(1 << 20, 94), 32 << 10);
    assert_eq!(sender_max_bio_size(4096, 86), 4096);
}

// ---- whole packets: header + payload -----------------------------------------------------------

#[test]
fn encode_packet_puts_the_header_of_the_agreed_protocol_before_the_payload() {
    // Before the handshake: p_header80 with the 16-bit length.
    let f = ConnectionFeatures::new(86, 101, PRO_FEATURES);
    let bytes = enc(|o| encode_packet(o, 0, 0, &Packet::Features(f)));
    assert_eq!(bytes.len(), 8 + ConnectionFeatures::SIZE);
    assert_eq!(&bytes[..4], &be32(wire::DRBD_MAGIC));
    assert_eq!(&bytes[4..6], &0xfffeu16.to_be_bytes());
    assert_eq!(&bytes[6..8], &72u16.to_be_bytes());
    assert_eq!(&bytes[8..], &enc(|o| f.encode(o))[..]);
    assert_eq!(
        wire::decode_header(&bytes, 0),
        Ok(PacketHeader { volume: 0, command: 0xfffe, length: 72 })
    );

    // Protocol 101: p_header100 with the volume; an empty packet is the header alone.
    let ping = enc(|o| encode_packet(o, 101, 3, &Packet::Empty(Command::Ping)));
    assert_eq!(ping.len(), 16);
    assert_eq!(
        wire::decode_header(&ping, 101),
        Ok(PacketHeader { volume: 3, command: Command::Ping as u16, length: 0 })
    );

    // A data packet: header, sub-header, data; the header's length covers both.
    let data = [0x5au8; 4096];
    let p = Packet::Data {
        command: Command::Data,
        header: DataHeader { sector: 8, block_id: 1, seq_num: 2, dp_flags: 0 },
        digest: &[],
        data: &data,
    };
    let bytes = enc(|o| encode_packet(o, 101, 0, &p));
    assert_eq!(bytes.len(), 16 + 24 + 4096);
    let h = wire::decode_header(&bytes, 101).unwrap();
    assert_eq!(h.length, 24 + 4096);
    assert_eq!(decode_packet(Command::Data, &bytes[16..], 101, 0, 0), Ok(p));
}

#[test]
fn encode_packet_refuses_what_no_header_can_carry() {
    // A 1 MiB data packet needs p_header95 (protocol 95+); at 94 there is only p_header80.
    let data = vec![0u8; 1 << 20];
    let p = Packet::Data {
        command: Command::Data,
        header: DataHeader::default(),
        digest: &[],
        data: &data,
    };
    let mut buf = vec![0u8; (1 << 20) + 64];
    assert_eq!(
        encode_packet(&mut buf, 94, 0, &p),
        Err(PacketError::NoHeaderFormat { agreed_protocol: 94, volume: 0, length: (1 << 20) + 24 })
    );
    let n = encode_packet(&mut buf, 95, 0, &p).unwrap();
    assert_eq!(&buf[..2], &wire::DRBD_MAGIC_BIG.to_be_bytes());
    assert_eq!(n, 8 + 24 + (1 << 20));
    // Volumes exist from protocol 100 on.
    assert!(matches!(
        encode_packet(&mut buf, 99, 1, &Packet::Empty(Command::Ping)),
        Err(PacketError::NoHeaderFormat { volume: 1, .. })
    ));
    // Too small a buffer, for the header or for the payload.
    let mut small = [0u8; 12];
    assert!(matches!(
        encode_packet(&mut small, 101, 0, &Packet::Empty(Command::Ping)),
        Err(PacketError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        encode_packet(&mut small, 0, 0, &Packet::Barrier(Barrier { barrier: 1 })),
        Err(PacketError::BufferTooSmall { .. })
    ));
}
