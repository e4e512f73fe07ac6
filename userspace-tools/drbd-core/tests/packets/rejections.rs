//! Rejections: every way a payload decoder refuses its input (sizes, names, block sizes,
//! capacities, body splits, bitmaps, auth) and encoders refusing short buffers.

use super::*;

#[test]
fn fixed_size_packets_refuse_other_sizes() {
    fn check<T: std::fmt::Debug>(
        name: &str,
        size: usize,
        dec: fn(&[u8], u32) -> Result<T, PacketError>,
    ) {
        for len in [0, size.saturating_sub(1), size + 1, size + 8] {
            if len == size {
                continue;
            }
            let r = dec(&vec![0x11; len], 101);
            assert_eq!(
                r.err(),
                Some(PacketError::WrongSize {
                    expected: size,
                    got: len
                }),
                "{name} with {len} bytes"
            );
        }
    }
    check("features", 72, ConnectionFeatures::decode);
    check("uuids", 48, Uuids::decode);
    check("state", 4, State::decode);
    check("req_state", 8, ReqState::decode);
    check("req_state_reply", 4, ReqStateReply::decode);
    check("data", 24, DataHeader::decode);
    check("trim", 28, Trim::decode);
    check("block_req", 24, BlockRequest::decode);
    check("block_ack", 24, BlockAck::decode);
    check("block_desc", 16, BlockDesc::decode);
    check("barrier", 8, Barrier::decode);
    check("barrier_ack", 8, BarrierAck::decode);
    check("rs_uuid", 8, RsUuid::decode);
    check("delay_probe", 8, DelayProbe::decode);
    assert_eq!(
        Empty::decode(&[0], 101),
        Err(PacketError::WrongSize {
            expected: 0,
            got: 1
        })
    );
    assert_eq!(
        Sizes::decode(&[0; 40], 101),
        Err(PacketError::WrongSize {
            expected: 32,
            got: 40
        })
    );
}

fn protocol_bytes(proto: u32, asb: [u32; 3], tail: &[u8]) -> Vec<u8> {
    cat(&[
        &be32(proto),
        &be32(asb[0]),
        &be32(asb[1]),
        &be32(asb[2]),
        &be32(0),
        &be32(0),
        tail,
    ])
}

#[test]
fn protocol_rejections() {
    assert_eq!(
        Protocol::decode(&[0; 23], 101),
        Err(PacketError::Truncated { need: 24, have: 23 })
    );
    // Below 87 nothing may follow the fixed part.
    assert_eq!(
        Protocol::decode(&protocol_bytes(3, [0; 3], b"x\0"), 86),
        Err(PacketError::TooLong { max: 24, got: 26 })
    );
    // At most 64 bytes of name.
    let ok = protocol_bytes(3, [0; 3], &[b'a'; 64]);
    assert_eq!(Protocol::decode(&ok, 101).unwrap().integrity_alg.len(), 63);
    assert_eq!(
        Protocol::decode(&protocol_bytes(3, [0; 3], &[b'a'; 65]), 101),
        Err(PacketError::TooLong { max: 88, got: 89 })
    );
    for bad in [0, 4, 0xffff_ffff] {
        assert_eq!(
            Protocol::decode(&protocol_bytes(bad, [0; 3], b"\0"), 101),
            Err(PacketError::BadWireProtocol(bad))
        );
    }
    assert_eq!(
        Protocol::decode(&protocol_bytes(1, [0, 11, 0], b"\0"), 101),
        Err(PacketError::BadAfterSb(11))
    );
    assert!(Protocol::decode(&protocol_bytes(1, [10, 10, 10], b"\0"), 101).is_ok());
}

#[test]
fn protocol_alg_name_is_read_like_c() {
    // Cut at the first NUL; no NUL at all is not an error (C forces one).
    let p = Protocol::decode(&protocol_bytes(2, [0; 3], b"md5\0junk"), 101).unwrap();
    assert_eq!(p.integrity_alg.as_str(), Some("md5"));
    let p = Protocol::decode(&protocol_bytes(2, [0; 3], b"sha1"), 101).unwrap();
    assert_eq!(p.integrity_alg.as_str(), Some("sha1"));
    let p = Protocol::decode(&protocol_bytes(2, [0; 3], b""), 101).unwrap();
    assert!(p.integrity_alg.is_empty());
}

#[test]
fn alg_name_construction() {
    assert_eq!(AlgName::new(&[b'x'; 64]), Err(PacketError::BadAlgName));
    assert_eq!(AlgName::new(b"md\x005"), Err(PacketError::BadAlgName));
    assert_eq!(AlgName::new(&[b'x'; 63]).unwrap().len(), 63);
    assert_eq!(AlgName::default(), AlgName::EMPTY);
}

#[test]
fn sync_param_rejections() {
    assert_eq!(
        SyncParam::decode(&[0; 5], 87),
        Err(PacketError::TooLong { max: 4, got: 5 })
    );
    assert_eq!(
        SyncParam::decode(&[0; 3], 87),
        Err(PacketError::Truncated { need: 4, have: 3 })
    );
    // 88: 1..=64 bytes of verify-alg.
    assert_eq!(
        SyncParam::decode(&[0; 4], 88),
        Err(PacketError::BadAlgLength(0))
    );
    assert_eq!(
        SyncParam::decode(&[0; 69], 88),
        Err(PacketError::TooLong { max: 68, got: 69 })
    );
    assert!(SyncParam::decode(&[0; 68], 88).is_ok());
    // 88: the last byte is forced to NUL, as in C.
    let p = SyncParam::decode(&cat(&[&be32(1), b"sha1"]), 88).unwrap();
    assert_eq!(p.verify_alg.as_str(), Some("sha"));
    // 89..=94 exactly 132, 95.. exactly 148.
    assert_eq!(
        SyncParam::decode(&[0; 131], 90),
        Err(PacketError::WrongSize {
            expected: 132,
            got: 131
        })
    );
    assert_eq!(
        SyncParam::decode(&[0; 133], 94),
        Err(PacketError::TooLong { max: 132, got: 133 })
    );
    assert_eq!(
        SyncParam::decode(&[0; 147], 95),
        Err(PacketError::WrongSize {
            expected: 148,
            got: 147
        })
    );
    assert_eq!(
        SyncParam::decode(&[0; 149], 101),
        Err(PacketError::TooLong { max: 148, got: 149 })
    );
    // Unterminated 64-byte fields keep 63 bytes.
    let mut b = vec![0; 148];
    b[4..68].fill(b'v');
    b[68..132].fill(b'c');
    let p = SyncParam::decode(&b, 101).unwrap();
    assert_eq!(p.verify_alg.as_bytes(), &[b'v'; 63][..]);
    assert_eq!(p.csums_alg.as_bytes(), &[b'c'; 63][..]);
}

#[test]
fn block_size_rejections() {
    let req = |size: u32| {
        enc(|o| {
            BlockRequest {
                sector: 0,
                block_id: 1,
                blksize: size,
            }
            .encode(o)
        })
    };
    for bad in [0, 1, 511, 513, (1 << 20) + 512, u32::MAX, 0x8000_0000] {
        assert_eq!(
            BlockRequest::decode(&req(bad), 101),
            Err(PacketError::BadBlockSize {
                size: bad,
                max: 1 << 20
            }),
            "blksize {bad}"
        );
    }
    assert!(BlockRequest::decode(&req(1 << 20), 101).is_ok());
    assert!(BlockRequest::decode(&req(512), 101).is_ok());

    let trim = |size: u32| {
        enc(|o| {
            Trim {
                data: DataHeader::default(),
                size,
            }
            .encode(o)
        })
    };
    for bad in [0, 100, DRBD_MAX_BATCH_BIO_SIZE + 512] {
        assert_eq!(
            Trim::decode(&trim(bad), 101),
            Err(PacketError::BadBlockSize {
                size: bad,
                max: 128 << 20
            })
        );
    }
    assert!(Trim::decode(&trim(128 << 20), 101).is_ok());
}

#[test]
fn capacity_checks() {
    let r = BlockRequest {
        sector: 100,
        block_id: 0,
        blksize: 4096,
    };
    assert_eq!(r.check_capacity(108), Ok(()));
    assert_eq!(
        r.check_capacity(107),
        Err(PacketError::BeyondCapacity {
            sector: 100,
            size: 4096,
            capacity: 107
        })
    );
    // C's unsigned sum would wrap and pass; refused here.
    assert!(check_capacity(u64::MAX, 512, u64::MAX - 1).is_err());
    assert!(check_capacity(u64::MAX - 1, 512, u64::MAX).is_ok());
    let h = DataHeader {
        sector: 8,
        ..DataHeader::default()
    };
    assert_eq!(h.check_capacity(0, 8), Ok(()));
    assert!(h.check_capacity(512, 8).is_err());
    let t = Trim {
        data: h,
        size: 4096,
    };
    assert!(t.check_capacity(16).is_ok() && t.check_capacity(15).is_err());

    let oos = |sector, blksize| BlockDesc { sector, blksize };
    assert_eq!(oos(0, 0).out_of_sync_range(100), Ok(false));
    assert_eq!(oos(0, 4096).out_of_sync_range(100), Ok(true));
    assert_eq!(oos(96, 1 << 20).out_of_sync_range(100), Ok(true)); // C clips the end
    assert!(oos(100, 4096).out_of_sync_range(100).is_err());
    assert!(oos(0, 1000).out_of_sync_range(100).is_err());
    assert!(oos(0, 4096).check_deallocated(8).is_ok());
    assert!(oos(0, 4096).check_deallocated(7).is_err());
    assert!(oos(0, 0).check_deallocated(8).is_err());
    assert!(oos(0, 2 << 20).check_deallocated(1 << 30).is_err());
}

#[test]
fn body_split_rules() {
    let s = |cmd, body, dig| split_body(cmd, body, dig);
    assert_eq!(
        s(Command::Data, 4096, 0),
        Ok(BodySplit {
            digest: 0,
            data: 4096
        })
    );
    assert_eq!(
        s(Command::Data, 4096 + 16, 16),
        Ok(BodySplit {
            digest: 16,
            data: 4096
        })
    );
    assert_eq!(s(Command::Data, 0, 0), Ok(BodySplit { digest: 0, data: 0 })); // empty flush
    assert_eq!(
        s(Command::Data, 8, 16),
        Err(PacketError::ShorterThanDigest {
            body: 8,
            digest: 16
        })
    );
    assert_eq!(
        s(Command::RsDataReply, 4097, 0),
        Err(PacketError::BadBlockSize {
            size: 4097,
            max: 1 << 20
        })
    );
    assert_eq!(
        s(Command::DataReply, (1 << 20) + 512, 0),
        Err(PacketError::BadBlockSize {
            size: (1 << 20) + 512,
            max: 1 << 20
        })
    );
    assert_eq!(
        s(Command::Data, (1 << 20) + 64, 64),
        Ok(BodySplit {
            digest: 64,
            data: 1 << 20
        })
    );
    assert_eq!(
        s(Command::Data, 100, 65),
        Err(PacketError::BadDigestLength(65))
    );
    assert_eq!(
        s(Command::OvReply, 20, 0),
        Ok(BodySplit {
            digest: 20,
            data: 0
        })
    );
    assert_eq!(
        s(Command::CsumRsRequest, 0, 0),
        Err(PacketError::BadDigestLength(0))
    );
    assert_eq!(
        s(Command::CsumRsRequest, 65, 0),
        Err(PacketError::BadDigestLength(65))
    );
    assert_eq!(
        s(Command::Trim, 0, 16),
        Ok(BodySplit { digest: 0, data: 0 })
    );
    assert_eq!(
        s(Command::Barrier, 1, 0),
        Err(PacketError::NoPayloadExpected {
            command: 3,
            length: 1
        })
    );
}

#[test]
fn bitmap_rejections() {
    assert_eq!(
        CompressedBitmapHeader::decode(&[0x02], 101),
        Err(PacketError::TooShort { min: 2, got: 1 })
    );
    assert_eq!(
        CompressedBitmapHeader::decode(&[], 101),
        Err(PacketError::TooShort { min: 2, got: 0 })
    );
    assert_eq!(
        CompressedBitmapHeader::decode(&[0x03, 0], 101),
        Err(PacketError::UnknownBitmapEncoding(3))
    );
    assert_eq!(
        CompressedBitmapHeader::decode(&[0x80, 0], 101),
        Err(PacketError::UnknownBitmapEncoding(0x80))
    );
    let mut big = vec![0x02; 4081];
    assert_eq!(
        CompressedBitmapHeader::decode(&big, 101),
        Err(PacketError::TooLong {
            max: 4080,
            got: 4081
        })
    );
    big.truncate(4080);
    assert!(CompressedBitmapHeader::decode(&big, 101).is_ok());
    // With 8-byte headers (before protocol 100) the buffer holds 8 bytes more.
    big.resize(4088, 0x02);
    assert!(CompressedBitmapHeader::decode(&big, 96).is_ok());
    big.push(0);
    assert_eq!(
        CompressedBitmapHeader::decode(&big, 96),
        Err(PacketError::TooLong {
            max: 4088,
            got: 4089
        })
    );

    assert_eq!(
        plain_bitmap_words(12, 101),
        Err(PacketError::BitmapNotWords(12))
    );
    assert_eq!(plain_bitmap_words(4080, 101), Ok(510));
    assert_eq!(
        plain_bitmap_words(4088, 101),
        Err(PacketError::TooLong {
            max: 4080,
            got: 4088
        })
    );
    assert_eq!(plain_bitmap_words(4088, 96), Ok(511));
    assert_eq!(plain_bitmap_words(0, 101), Ok(0));
    assert_eq!(plain_bitmap_expected_len(10_000, 101), 4080);
    assert_eq!(plain_bitmap_expected_len(10_000, 96), 4088);
    assert_eq!(plain_bitmap_expected_len(3, 101), 24);
    assert_eq!(plain_bitmap_expected_len(0, 101), 0);
}

#[test]
fn auth_rejections() {
    assert_eq!(
        AuthChallenge::decode(&[0; 63], 0),
        Err(PacketError::TooShort { min: 64, got: 63 })
    );
    assert_eq!(
        AuthChallenge::decode(&[0; 129], 0),
        Err(PacketError::TooLong { max: 128, got: 129 })
    );
    assert_eq!(
        AuthResponse::decode(&[], 0),
        Err(PacketError::BadDigestLength(0))
    );
    assert_eq!(
        AuthResponse::decode(&[0; 65], 0),
        Err(PacketError::BadDigestLength(65))
    );
    assert_eq!(
        AuthResponse::decode_expecting(&[0; 20], 32),
        Err(PacketError::WrongSize {
            expected: 32,
            got: 20
        })
    );
}

#[test]
fn encode_refuses_short_buffers() {
    let mut small = [0u8; 10];
    assert_eq!(
        ConnectionFeatures::default().encode(&mut small),
        Err(PacketError::BufferTooSmall { need: 72, have: 10 })
    );
    assert_eq!(
        SyncParam::default().encode(&mut small, 101),
        Err(PacketError::BufferTooSmall {
            need: 148,
            have: 10
        })
    );
    assert_eq!(
        Protocol::default().encode(&mut small, 101),
        Err(PacketError::BufferTooSmall { need: 25, have: 10 })
    );
    assert!(Barrier::default().encode(&mut small).is_ok());
    let data = [0u8; 512];
    let p = Packet::Data {
        command: Command::Data,
        header: DataHeader::default(),
        digest: &[],
        data: &data,
    };
    let mut out = [0u8; 535];
    assert_eq!(
        p.encode(&mut out, 101),
        Err(PacketError::BufferTooSmall {
            need: 536,
            have: 535
        })
    );
}
