//! Packet payload codecs: golden byte layouts of the C structs, round trips, every rejection,
//! the per-command size table, the features negotiation, and hostile input.

use drbd_core::genl::DrbdState;
use drbd_core::packets::*;
use drbd_core::wire::{self, Command, PacketHeader};
use proptest::prelude::*;

/// Encodes with `f` into a big buffer and returns the bytes written.
fn enc(f: impl FnOnce(&mut [u8]) -> Result<usize, PacketError>) -> Vec<u8> {
    let mut buf = vec![0xAAu8; 1 << 21];
    let n = f(&mut buf).expect("encode");
    buf.truncate(n);
    buf
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn be64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn alg(s: &str) -> AlgName {
    AlgName::new(s.as_bytes()).unwrap()
}

fn field64(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(64, 0);
    v
}

// ------------------------------------------------------------------------------------------------
// Struct sizes, as gcc lays out the packed C structs of drbd_protocol.h.

#[test]
fn sizes_match_the_c_structs() {
    assert_eq!(ConnectionFeatures::SIZE, 72); // 4 x u32 + 7 x u64
    assert_eq!(Protocol::SIZE, 24);
    assert_eq!(SyncParam::SIZE_BASE, 4); // p_rs_param
    assert_eq!(SyncParam::SIZE_89, 132); // p_rs_param_89
    assert_eq!(SyncParam::SIZE_95, 148); // p_rs_param_95
    assert_eq!(Uuids::SIZE, 48);
    assert_eq!(Sizes::SIZE, 32);
    assert_eq!(QueueLimits::SIZE, 24); // o_qlim
    assert_eq!(Sizes::SIZE_WITH_QLIM, 56);
    assert_eq!(State::SIZE, 4);
    assert_eq!(ReqState::SIZE, 8);
    assert_eq!(ReqStateReply::SIZE, 4);
    assert_eq!(DataHeader::SIZE, 24); // p_data
    assert_eq!(Trim::SIZE, 28); // p_trim
    assert_eq!(BlockRequest::SIZE, 24); // p_block_req
    assert_eq!(BlockAck::SIZE, 24); // p_block_ack
    assert_eq!(BlockDesc::SIZE, 16); // p_block_desc
    assert_eq!(Barrier::SIZE, 8);
    assert_eq!(BarrierAck::SIZE, 8);
    assert_eq!(RsUuid::SIZE, 8);
    assert_eq!(DelayProbe::SIZE, 8); // p_delay_probe93
    assert_eq!(CompressedBitmapHeader::SIZE, 1); // p_compressed_bm without code
    assert_eq!(Empty::SIZE, 0);
}

// ------------------------------------------------------------------------------------------------
// Golden layouts.

#[test]
fn connection_features_layout() {
    let p = ConnectionFeatures::new(86, 101, PRO_FEATURES);
    let b = enc(|o| p.encode(o));
    assert_eq!(
        b,
        cat(&[&be32(86), &be32(15), &be32(101), &[0; 4], &[0; 56]])
    );
    assert_eq!(ConnectionFeatures::decode(&b, 0), Ok(p));
    // Reserved words are kept, so decoding loses nothing.
    let mut odd = b.clone();
    odd[71] = 7;
    odd[13] = 1;
    let d = ConnectionFeatures::decode(&odd, 0).unwrap();
    assert_eq!(d.reserved[6], 7);
    assert_eq!(d.pad, 1 << 16);
    assert_eq!(enc(|o| d.encode(o)), odd);
}

#[test]
fn protocol_layout_with_and_without_integrity_alg() {
    let p = Protocol {
        wire_protocol: 3,
        after_sb_0p: 1,
        after_sb_1p: 6,
        after_sb_2p: 0,
        conn_flags: CF_DISCARD_MY_DATA,
        two_primaries: 1,
        integrity_alg: alg("crc32c"),
    };
    let fixed = cat(&[&be32(3), &be32(1), &be32(6), &be32(0), &be32(1), &be32(1)]);
    let b = enc(|o| p.encode(o, 101));
    assert_eq!(b, cat(&[&fixed, b"crc32c\0"]));
    assert_eq!(Protocol::decode(&b, 101), Ok(p));
    // Protocol 86 carries no algorithm name.
    let b86 = enc(|o| p.encode(o, 86));
    assert_eq!(b86, fixed);
    assert_eq!(
        Protocol::decode(&b86, 86),
        Ok(Protocol {
            integrity_alg: AlgName::EMPTY,
            ..p
        })
    );
    // An empty name is sent as a lone NUL from 87 on.
    let none = Protocol {
        integrity_alg: AlgName::EMPTY,
        ..p
    };
    assert_eq!(enc(|o| none.encode(o, 87)), cat(&[&fixed, b"\0"]));
}

#[test]
fn sync_param_layout_per_version() {
    let p = SyncParam {
        resync_rate: 250,
        verify_alg: alg("md5"),
        csums_alg: alg("sha1"),
        c_plan_ahead: 20,
        c_delay_target: 10,
        c_fill_target: 100,
        c_max_rate: 102400,
    };
    assert_eq!(enc(|o| p.encode(o, 87)), be32(250).to_vec());
    assert_eq!(enc(|o| p.encode(o, 88)), cat(&[&be32(250), b"md5\0"]));
    let b89 = cat(&[&be32(250), &field64("md5"), &field64("sha1")]);
    assert_eq!(enc(|o| p.encode(o, 94)), b89);
    let b95 = cat(&[&b89, &be32(20), &be32(10), &be32(100), &be32(102400)]);
    assert_eq!(enc(|o| p.encode(o, 101)), b95);
    assert_eq!(b95.len(), 148);
    for v in [86, 87, 88, 89, 94, 95, 100, 101] {
        let b = enc(|o| p.encode(o, v));
        assert_eq!(b.len(), p.encoded_len(v));
        assert_eq!(SyncParam::decode(&b, v), Ok(p.as_sent(v)), "protocol {v}");
    }
    assert_eq!(SyncParam::command(88), Command::SyncParam);
    assert_eq!(SyncParam::command(89), Command::SyncParam89);
}

#[test]
fn uuids_layout() {
    let u = Uuids {
        current: 0x0102_0304_0506_0708,
        bitmap: 0x1112_1314_1516_1718,
        history: [0x2122_2324_2526_2728, 0x3132_3334_3536_3738],
        bits_set: 42,
        flags: UUID_FLAG_CRASHED_PRIMARY | UUID_FLAG_INCONSISTENT,
    };
    let b = enc(|o| u.encode(o));
    let want = cat(&[
        &be64(0x0102_0304_0506_0708),
        &be64(0x1112_1314_1516_1718),
        &be64(0x2122_2324_2526_2728),
        &be64(0x3132_3334_3536_3738),
        &be64(42),
        &be64(6),
    ]);
    assert_eq!(b, want);
    let d = Uuids::decode(&b, 101).unwrap();
    assert_eq!(d, u);
    assert!(!d.discard_my_data() && d.crashed_primary() && d.inconsistent());
    assert!(!d.skip_initial_sync());
    assert_eq!(
        [
            UUID_FLAG_DISCARD_MY_DATA,
            UUID_FLAG_CRASHED_PRIMARY,
            UUID_FLAG_INCONSISTENT,
            UUID_FLAG_SKIP_INITIAL_SYNC
        ],
        [1, 2, 4, 8]
    );
}

#[test]
fn sizes_layout_with_and_without_qlim() {
    let s = Sizes {
        d_size: 0x10_0000,
        u_size: 0,
        c_size: 0x0f_0000,
        max_bio_size: 1 << 20,
        queue_order_type: 0,
        dds_flags: DDSF_NO_RESYNC,
        qlim: None,
    };
    let b = enc(|o| s.encode(o));
    let fixed = cat(&[
        &be64(0x10_0000),
        &be64(0),
        &be64(0x0f_0000),
        &be32(1 << 20),
        &[0, 0],
        &[0, 2],
    ]);
    assert_eq!(b, fixed);
    assert_eq!(Sizes::decode(&b, 101), Ok(s));
    let q = QueueLimits {
        physical_block_size: 4096,
        logical_block_size: 512,
        alignment_offset: 0,
        io_min: 4096,
        io_opt: 65536,
        discard_enabled: true,
        discard_zeroes_data: false,
        write_same_capable: true,
    };
    let sq = Sizes { qlim: Some(q), ..s };
    let bq = enc(|o| sq.encode(o));
    let tail = cat(&[
        &be32(4096),
        &be32(512),
        &be32(0),
        &be32(4096),
        &be32(65536),
        &[1, 0, 1, 0],
    ]);
    assert_eq!(bq, cat(&[&fixed, &tail]));
    assert_eq!(Sizes::decode(&bq, 101), Ok(sq));
    assert_eq!(Sizes::decode_with_features(&bq, 101, FF_WSAME), Ok(sq));
    assert_eq!(
        Sizes::decode_with_features(&b, 101, FF_WSAME),
        Err(PacketError::WrongSize {
            expected: 56,
            got: 32
        })
    );
    assert_eq!(
        Sizes::decode_with_features(&bq, 101, FF_TRIM),
        Err(PacketError::WrongSize {
            expected: 32,
            got: 56
        })
    );
}

#[test]
fn state_layout_uses_the_union_bits() {
    // Primary, peer Secondary, Connected (10), UpToDate (8) both sides.
    let st = DrbdState {
        role: 1,
        peer: 2,
        conn: 10,
        disk: 8,
        pdsk: 8,
        ..DrbdState::default()
    };
    let b = enc(|o| State { state: st }.encode(o));
    assert_eq!(b, be32(0x0001_10a9).to_vec());
    assert_eq!(State::decode(&b, 101), Ok(State { state: st }));
    let mask = DrbdState {
        conn: 0x1f,
        ..DrbdState::default()
    };
    let val = DrbdState {
        conn: 11,
        ..DrbdState::default()
    };
    let b = enc(|o| ReqState { mask, val }.encode(o));
    assert_eq!(b, cat(&[&be32(0x1f << 4), &be32(11 << 4)]));
    assert_eq!(ReqState::decode(&b, 101), Ok(ReqState { mask, val }));
    let r = ReqStateReply { retcode: -19 };
    let b = enc(|o| r.encode(o));
    assert_eq!(b, (-19i32).to_be_bytes().to_vec());
    assert_eq!(ReqStateReply::decode(&b, 101), Ok(r));
    assert!(!r.succeeded());
    assert!(ReqStateReply { retcode: 1 }.succeeded());
    assert_eq!(ReqState::conn_command(96), Command::StateChgReq);
    assert_eq!(ReqState::conn_command(100), Command::ConnStChgReq);
    assert_eq!(ReqStateReply::conn_command(99), Command::StateChgReply);
    assert_eq!(ReqStateReply::conn_command(101), Command::ConnStChgReply);
}

#[test]
fn io_packet_layouts() {
    let h = DataHeader {
        sector: 0x0102_0304_0506_0708,
        block_id: 0x1112_1314_1516_1718,
        seq_num: 0x2122_2324,
        dp_flags: DP_FUA | DP_SEND_WRITE_ACK,
    };
    let hb = cat(&[
        &be64(0x0102_0304_0506_0708),
        &be64(0x1112_1314_1516_1718),
        &be32(0x2122_2324),
        &be32(0x110),
    ]);
    assert_eq!(enc(|o| h.encode(o)), hb);
    assert_eq!(DataHeader::decode(&hb, 101), Ok(h));

    let t = Trim {
        data: h,
        size: 1 << 22,
    };
    let tb = enc(|o| t.encode(o));
    assert_eq!(tb, cat(&[&hb, &be32(1 << 22)]));
    assert_eq!(Trim::decode(&tb, 101), Ok(t));

    let r = BlockRequest {
        sector: 8,
        block_id: ID_SYNCER,
        blksize: 4096,
    };
    let rb = enc(|o| r.encode(o));
    assert_eq!(rb, cat(&[&be64(8), &[0xff; 8], &be32(4096), &[0; 4]]));
    assert_eq!(BlockRequest::decode(&rb, 101), Ok(r));
    // C senders leave the padding uninitialised: it is ignored.
    let mut garbage_pad = rb.clone();
    garbage_pad[20..].copy_from_slice(&[9, 9, 9, 9]);
    assert_eq!(BlockRequest::decode(&garbage_pad, 101), Ok(r));

    let a = BlockAck {
        sector: 16,
        block_id: ID_OUT_OF_SYNC,
        blksize: 4096,
        seq_num: 7,
    };
    let ab = enc(|o| a.encode(o));
    assert_eq!(ab, cat(&[&be64(16), &be64(4712), &be32(4096), &be32(7)]));
    assert_eq!(BlockAck::decode(&ab, 101), Ok(a));
    assert!(a.plausible());
    assert!(!BlockAck { blksize: 0, ..a }.plausible());

    let d = BlockDesc {
        sector: 24,
        blksize: 8192,
    };
    let db = enc(|o| d.encode(o));
    assert_eq!(db, cat(&[&be64(24), &be32(8192), &[0; 4]]));
    assert_eq!(BlockDesc::decode(&db, 101), Ok(d));

    let br = Barrier {
        barrier: 0x0500_0000,
    };
    let bb = enc(|o| br.encode(o));
    assert_eq!(bb, cat(&[&[5, 0, 0, 0], &[0; 4]]));
    assert_eq!(Barrier::decode(&bb, 101), Ok(br));
    let ba = BarrierAck {
        barrier: 0x0500_0000,
        set_size: 3,
    };
    let bab = enc(|o| ba.encode(o));
    assert_eq!(bab, cat(&[&[5, 0, 0, 0], &be32(3)]));
    assert_eq!(BarrierAck::decode(&bab, 101), Ok(ba));

    let u = RsUuid {
        uuid: 0xdead_beef_0000_0001,
    };
    assert_eq!(enc(|o| u.encode(o)), be64(0xdead_beef_0000_0001).to_vec());
    let dp = DelayProbe {
        seq_num: 1,
        offset: 2,
    };
    assert_eq!(enc(|o| dp.encode(o)), cat(&[&be32(1), &be32(2)]));
    assert_eq!(DelayProbe::decode(&cat(&[&be32(1), &be32(2)]), 101), Ok(dp));
    assert_eq!(enc(|o| Empty.encode(o)), Vec::<u8>::new());
    assert_eq!(Ping::decode(&[], 101), Ok(Empty));
}

#[test]
fn compressed_bitmap_header_layout() {
    let h = CompressedBitmapHeader::new(true, 5);
    assert_eq!(h.encoding(), 0x80 | (5 << 4) | 2);
    assert_eq!(enc(|o| h.encode(o)), vec![0xd2]);
    assert_eq!(CompressedBitmapHeader::decode(&[0xd2, 0x01], 101), Ok(h));
    assert_eq!(
        CompressedBitmapHeader::decode(&[0x02, 0x01], 101),
        Ok(CompressedBitmapHeader::new(false, 0))
    );
}

#[test]
fn auth_payloads() {
    let ch: Vec<u8> = (0..64).collect();
    let c = AuthChallenge::new(&ch).unwrap();
    assert_eq!(enc(|o| c.encode(o)), ch);
    assert_eq!(AuthChallenge::decode(&ch, 0), Ok(c));
    assert!(c.is_reflection_of(&ch));
    let mut other = ch.clone();
    other[63] ^= 1;
    assert!(!c.is_reflection_of(&other));
    let long: Vec<u8> = (0..128).collect();
    assert_eq!(
        AuthChallenge::decode(&long, 0).unwrap().as_bytes(),
        &long[..]
    );
    let r = AuthResponse::new(&[7; 32]).unwrap();
    assert_eq!(enc(|o| r.encode(o)), vec![7; 32]);
    assert_eq!(AuthResponse::decode_expecting(&[7; 32], 32), Ok(r));
}

// ------------------------------------------------------------------------------------------------
// Rejections.

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

// ------------------------------------------------------------------------------------------------
// The per-command table.

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

// ------------------------------------------------------------------------------------------------
// Features negotiation.

fn peer(min: u32, max: u32, flags: u32) -> ConnectionFeatures {
    ConnectionFeatures::new(min, max, flags)
}

#[test]
fn negotiation_table() {
    let us = FeatureNegotiation::DRBD_84;
    assert_eq!(
        (us.protocol_min, us.protocol_max, us.features),
        (86, 101, 0xf)
    );
    assert_eq!(us.packet(), ConnectionFeatures::new(86, 101, 0xf));
    let ok = |protocol, features| Ok(Agreed { protocol, features });
    let refused = |peer_min, peer_max| {
        Err(NegotiationError::Incompatible {
            our_min: 86,
            our_max: 101,
            peer_min,
            peer_max,
        })
    };
    assert_eq!(us.negotiate(&peer(86, 96, 0)), ok(96, 0));
    assert_eq!(us.negotiate(&peer(100, 101, 0xf)), ok(101, 0xf));
    assert_eq!(us.negotiate(&peer(102, 110, 0xf)), refused(102, 110));
    assert_eq!(us.negotiate(&peer(80, 85, 0)), refused(80, 85));
    // Edges of the overlap.
    assert_eq!(us.negotiate(&peer(80, 86, 0)), ok(86, 0));
    assert_eq!(us.negotiate(&peer(101, 120, 0)), ok(101, 0));
    assert_eq!(us.negotiate(&peer(86, 101, 0xf)), ok(101, 0xf));
    // protocol_max 0 means "only protocol_min".
    assert_eq!(us.negotiate(&peer(90, 0, 0)), ok(90, 0));
    assert_eq!(us.negotiate(&peer(85, 0, 0)), refused(85, 85));
    // Feature flags intersect, unknown peer flags drop out.
    assert_eq!(us.negotiate(&peer(86, 101, 0xff)), ok(101, 0xf));
    assert_eq!(
        us.negotiate(&peer(86, 101, FF_TRIM | 0x100)),
        ok(101, FF_TRIM)
    );
    let small = FeatureNegotiation {
        protocol_min: 86,
        protocol_max: 101,
        features: FF_TRIM,
    };
    assert_eq!(small.negotiate(&peer(86, 101, 0xf)), ok(101, FF_TRIM));
    // A peer maximum above 2^31 is no negative version here.
    assert_eq!(us.negotiate(&peer(90, 0x8000_0000, 0)), ok(101, 0));
}

#[test]
fn negotiation_log_texts() {
    let us = FeatureNegotiation::DRBD_84;
    let a = us.negotiate(&peer(86, 101, 0xf)).unwrap();
    assert_eq!(
        a.to_string(),
        "Handshake successful: Agreed network protocol version 101"
    );
    assert_eq!(
        a.features_line().to_string(),
        "Feature flags enabled on protocol level: 0xf TRIM THIN_RESYNC WRITE_SAME WRITE_ZEROES."
    );
    assert_eq!(
        FeaturesLine(0).to_string(),
        "Feature flags enabled on protocol level: 0x0 none."
    );
    assert_eq!(
        FeaturesLine(1).to_string(),
        "Feature flags enabled on protocol level: 0x1 TRIM."
    );
    assert_eq!(
        FeaturesLine(6).to_string(),
        "Feature flags enabled on protocol level: 0x6 THIN_RESYNC WRITE_SAME."
    );
    assert_eq!(
        us.negotiate(&peer(102, 110, 0)).unwrap_err().to_string(),
        "incompatible DRBD dialects: I support 86-101, peer supports 102-110"
    );
    let h = |command, length| PacketHeader {
        volume: 0,
        command,
        length,
    };
    assert_eq!(us.check_header(&h(0xfffe, 72)), Ok(()));
    assert_eq!(
        us.check_header(&h(0x0b, 72)).unwrap_err().to_string(),
        "expected ConnectionFeatures packet, received: ReportProtocol (0x000b)"
    );
    assert_eq!(
        us.check_header(&h(0xfffe, 32)).unwrap_err().to_string(),
        "expected ConnectionFeatures length: 72, received: 32"
    );
}

#[test]
fn features_packet_goes_out_with_an_8_byte_header() {
    // Before agreement the header is p_header80; the whole first packet is 80 bytes.
    let mut buf = [0u8; 80];
    let n = wire::encode_header(&mut buf, 0, 0, Command::ConnectionFeatures as u16, 72).unwrap();
    let m = FeatureNegotiation::DRBD_84
        .packet()
        .encode(&mut buf[n..])
        .unwrap();
    assert_eq!(n + m, 80);
    let hdr = wire::decode_header(&buf, 0).unwrap();
    FeatureNegotiation::DRBD_84.check_header(&hdr).unwrap();
    let p = ConnectionFeatures::decode(&buf[8..], 0).unwrap();
    assert_eq!(
        FeatureNegotiation::DRBD_84.negotiate(&p).unwrap().protocol,
        101
    );
}

// ------------------------------------------------------------------------------------------------
// Properties.

fn any_command() -> impl Strategy<Value = Command> {
    (0..Command::ALL.len()).prop_map(|i| Command::ALL[i])
}

fn any_state() -> impl Strategy<Value = DrbdState> {
    any::<u32>().prop_map(DrbdState::from_u32)
}

fn any_alg() -> impl Strategy<Value = AlgName> {
    proptest::collection::vec(1u8..=255, 0..=63).prop_map(|v| AlgName::new(&v).unwrap())
}

fn any_data_header() -> impl Strategy<Value = DataHeader> {
    (any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
        |(sector, block_id, seq_num, dp_flags)| DataHeader {
            sector,
            block_id,
            seq_num,
            dp_flags,
        },
    )
}

fn any_qlim() -> impl Strategy<Value = QueueLimits> {
    (any::<[u32; 5]>(), any::<[bool; 3]>()).prop_map(|(n, b)| QueueLimits {
        physical_block_size: n[0],
        logical_block_size: n[1],
        alignment_offset: n[2],
        io_min: n[3],
        io_opt: n[4],
        discard_enabled: b[0],
        discard_zeroes_data: b[1],
        write_same_capable: b[2],
    })
}

fn protocol_version() -> impl Strategy<Value = u32> {
    prop_oneof![80u32..=110, Just(0), any::<u32>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_packet_never_panics(
        cmd in any_command(),
        v in protocol_version(),
        features in any::<u32>(),
        digest in 0u32..80,
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = decode_packet(cmd, &bytes, v, features, digest);
        if let Some(rule) = expected_payload(cmd, v, features) {
            let _ = rule.check(cmd as u16, u32::try_from(bytes.len()).unwrap());
        }
        let _ = split_body(cmd, u32::try_from(bytes.len()).unwrap(), digest);
    }

    #[test]
    fn decode_packet_accepts_only_lengths_the_rule_allows(
        cmd in any_command(),
        v in 86u32..=101,
        features in 0u32..16,
        len in prop_oneof![0usize..200, 4070usize..4100],
    ) {
        let bytes = vec![0x02u8; len];
        if decode_packet(cmd, &bytes, v, features, 0).is_ok() {
            let rule = expected_payload(cmd, v, features).unwrap();
            prop_assert!(rule.check(cmd as u16, u32::try_from(len).unwrap()).is_ok());
        }
    }

    #[test]
    fn every_decoder_survives_arbitrary_bytes(
        v in protocol_version(),
        features in any::<u32>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let b = &bytes[..];
        let _ = ConnectionFeatures::decode(b, v);
        let _ = Protocol::decode(b, v);
        let _ = SyncParam::decode(b, v);
        let _ = Uuids::decode(b, v);
        let _ = Sizes::decode(b, v);
        let _ = Sizes::decode_with_features(b, v, features);
        let _ = State::decode(b, v);
        let _ = ReqState::decode(b, v);
        let _ = ReqStateReply::decode(b, v);
        let _ = DataHeader::decode(b, v);
        let _ = Trim::decode(b, v);
        let _ = BlockRequest::decode(b, v);
        let _ = BlockAck::decode(b, v);
        let _ = BlockDesc::decode(b, v);
        let _ = Barrier::decode(b, v);
        let _ = BarrierAck::decode(b, v);
        let _ = RsUuid::decode(b, v);
        let _ = DelayProbe::decode(b, v);
        let _ = Empty::decode(b, v);
        let _ = AuthChallenge::decode(b, v);
        let _ = AuthResponse::decode(b, v);
        let _ = AuthResponse::decode_expecting(b, usize::from(features as u8));
        let _ = CompressedBitmapHeader::decode(b, v);
        let _ = plain_bitmap_words(b.len(), v);
    }

    #[test]
    fn header_and_payload_streams_never_panic(
        v in prop_oneof![Just(0u32), 86u32..=101],
        on in prop_oneof![Just(Channel::Data), Just(Channel::Meta), Just(Channel::Handshake)],
        stream in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut rest = &stream[..];
        while let Ok(h) = wire::decode_header(rest, v) {
            rest = &rest[wire::header_size(v)..];
            let Ok((cmd, _)) = check_header(on, &h, v, PRO_FEATURES) else { break };
            let n = usize::try_from(h.length).unwrap().min(rest.len());
            let _ = decode_packet(cmd, &rest[..n], v, PRO_FEATURES, 0);
            rest = &rest[n..];
        }
    }

    #[test]
    fn negotiation_agrees_within_both_ranges(
        a_min in 0u32..200, a_len in 0u32..30, b_min in 0u32..200, b_max in 0u32..230,
        fa in any::<u32>(), fb in any::<u32>(),
    ) {
        let us = FeatureNegotiation { protocol_min: a_min, protocol_max: a_min + a_len, features: fa };
        let p = ConnectionFeatures::new(b_min, b_max, fb);
        let peer_max = if b_max == 0 { b_min } else { b_max };
        match us.negotiate(&p) {
            Ok(agreed) => {
                prop_assert!(agreed.protocol >= us.protocol_min && agreed.protocol <= us.protocol_max);
                prop_assert!(agreed.protocol <= peer_max);
                prop_assert_eq!(agreed.features, fa & fb);
                // Symmetric when the peer's range is well formed.
                if b_min <= peer_max {
                    let them = FeatureNegotiation { protocol_min: b_min, protocol_max: peer_max, features: fb };
                    let back = them.negotiate(&us.packet()).unwrap();
                    prop_assert_eq!(back.protocol, agreed.protocol);
                    prop_assert_eq!(back.features, agreed.features);
                }
            }
            Err(NegotiationError::Incompatible { .. }) => {
                prop_assert!(us.protocol_max < b_min || us.protocol_min > peer_max);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn round_trip_fixed_structs(
        words in any::<[u64; 6]>(),
        small in any::<[u32; 4]>(),
        st in any_state(), st2 in any_state(),
        h in any_data_header(),
        retcode in any::<i32>(),
        half in any::<u16>(),
        q in proptest::option::of(any_qlim()),
    ) {
        let f = ConnectionFeatures { protocol_min: small[0], feature_flags: small[1], protocol_max: small[2], pad: small[3], reserved: [words[0], words[1], words[2], words[3], words[4], words[5], 7] };
        prop_assert_eq!(ConnectionFeatures::decode(&enc(|o| f.encode(o)), 0), Ok(f));
        let u = Uuids { current: words[0], bitmap: words[1], history: [words[2], words[3]], bits_set: words[4], flags: words[5] };
        prop_assert_eq!(Uuids::decode(&enc(|o| u.encode(o)), 101), Ok(u));
        let s = Sizes { d_size: words[0], u_size: words[1], c_size: words[2], max_bio_size: small[0], queue_order_type: half, dds_flags: half ^ 0x5a5a, qlim: q };
        prop_assert_eq!(Sizes::decode(&enc(|o| s.encode(o)), 101), Ok(s));
        let feats = if q.is_some() { FF_WSAME } else { 0 };
        prop_assert_eq!(Sizes::decode_with_features(&enc(|o| s.encode(o)), 101, feats), Ok(s));
        prop_assert_eq!(State::decode(&enc(|o| State { state: st }.encode(o)), 101), Ok(State { state: st }));
        let rq = ReqState { mask: st, val: st2 };
        prop_assert_eq!(ReqState::decode(&enc(|o| rq.encode(o)), 101), Ok(rq));
        let rr = ReqStateReply { retcode };
        prop_assert_eq!(ReqStateReply::decode(&enc(|o| rr.encode(o)), 101), Ok(rr));
        prop_assert_eq!(DataHeader::decode(&enc(|o| h.encode(o)), 101), Ok(h));
        let a = BlockAck { sector: words[0], block_id: words[1], blksize: small[0], seq_num: small[1] };
        prop_assert_eq!(BlockAck::decode(&enc(|o| a.encode(o)), 101), Ok(a));
        let d = BlockDesc { sector: words[0], blksize: small[0] };
        prop_assert_eq!(BlockDesc::decode(&enc(|o| d.encode(o)), 101), Ok(d));
        let b = Barrier { barrier: small[0] };
        prop_assert_eq!(Barrier::decode(&enc(|o| b.encode(o)), 101), Ok(b));
        let ba = BarrierAck { barrier: small[0], set_size: small[1] };
        prop_assert_eq!(BarrierAck::decode(&enc(|o| ba.encode(o)), 101), Ok(ba));
        let ru = RsUuid { uuid: words[3] };
        prop_assert_eq!(RsUuid::decode(&enc(|o| ru.encode(o)), 101), Ok(ru));
        let dp = DelayProbe { seq_num: small[2], offset: small[3] };
        prop_assert_eq!(DelayProbe::decode(&enc(|o| dp.encode(o)), 101), Ok(dp));
    }

    #[test]
    fn round_trip_checked_structs(
        h in any_data_header(),
        sectors in 1u32..=(128 << 11),
        req_sectors in 1u32..=2048,
        start in any::<bool>(), pad in 0u8..8,
        challenge in proptest::collection::vec(any::<u8>(), 64..=128),
        response in proptest::collection::vec(any::<u8>(), 1..=64),
    ) {
        let t = Trim { data: h, size: sectors * 512 };
        prop_assert_eq!(Trim::decode(&enc(|o| t.encode(o)), 101), Ok(t));
        let r = BlockRequest { sector: h.sector, block_id: h.block_id, blksize: req_sectors * 512 };
        prop_assert_eq!(BlockRequest::decode(&enc(|o| r.encode(o)), 101), Ok(r));
        let c = CompressedBitmapHeader::new(start, pad);
        let mut cb = enc(|o| c.encode(o));
        cb.push(0);
        prop_assert_eq!(CompressedBitmapHeader::decode(&cb, 101), Ok(c));
        let ch = AuthChallenge::new(&challenge).unwrap();
        prop_assert_eq!(AuthChallenge::decode(&enc(|o| ch.encode(o)), 0), Ok(ch));
        let rs = AuthResponse::new(&response).unwrap();
        prop_assert_eq!(AuthResponse::decode(&enc(|o| rs.encode(o)), 0), Ok(rs));
    }

    #[test]
    fn round_trip_versioned_structs(
        v in 86u32..=101,
        wire_protocol in 1u32..=3,
        asb in any::<[u8; 3]>(),
        flags in any::<[u32; 2]>(),
        a1 in any_alg(), a2 in any_alg(),
        ctl in any::<[u32; 5]>(),
    ) {
        let p = Protocol {
            wire_protocol,
            after_sb_0p: u32::from(asb[0] % 11),
            after_sb_1p: u32::from(asb[1] % 11),
            after_sb_2p: u32::from(asb[2] % 11),
            conn_flags: flags[0],
            two_primaries: flags[1],
            integrity_alg: a1,
        };
        let want = if v >= 87 { p } else { Protocol { integrity_alg: AlgName::EMPTY, ..p } };
        let b = enc(|o| p.encode(o, v));
        prop_assert_eq!(b.len(), p.encoded_len(v));
        prop_assert_eq!(Protocol::decode(&b, v), Ok(want));
        prop_assert!(expected_payload(Command::Protocol, v, 0).unwrap().check(0x0b, u32::try_from(b.len()).unwrap()).is_ok());

        let s = SyncParam { resync_rate: ctl[0], verify_alg: a1, csums_alg: a2, c_plan_ahead: ctl[1], c_delay_target: ctl[2], c_fill_target: ctl[3], c_max_rate: ctl[4] };
        let b = enc(|o| s.encode(o, v));
        prop_assert_eq!(SyncParam::decode(&b, v), Ok(s.as_sent(v)));
        prop_assert_eq!(
            decode_packet(SyncParam::command(v), &b, v, 0, 0),
            Ok(Packet::SyncParam(SyncParam::command(v), s.as_sent(v)))
        );
    }

    #[test]
    fn decoded_packets_reencode_to_the_same_bytes_or_decode_equal(
        (cmd, v, features, bytes) in (any_command(), 86u32..=101, 0u32..16).prop_flat_map(|(cmd, v, f)| {
            let (lo, hi) = match expected_payload(cmd, v, f) {
                Some(r) => (r.fixed, r.max.min(r.fixed + 600)),
                None => (0, 64),
            };
            (Just(cmd), Just(v), Just(f), proptest::collection::vec(any::<u8>(), lo..=hi))
        }),
        digest in prop_oneof![Just(0u32), 1u32..=64],
        fixups in any::<[u8; 4]>(),
    ) {
        // Steer some inputs past the value checks: a plausible block size, a known encoding.
        let mut bytes = bytes;
        if fixups[0] & 1 == 0 && bytes.len() >= 24 {
            bytes[16..20].copy_from_slice(&(u32::from(fixups[1] % 8 + 1) * 512).to_be_bytes());
        }
        if fixups[0] & 2 == 0 && !bytes.is_empty() {
            bytes[0] = (bytes[0] & 0xf0) | RLE_VLI_BITS;
        }
        if fixups[0] & 4 == 0 && bytes.len() >= 24 {
            bytes[0..4].copy_from_slice(&u32::from(fixups[2] % 3 + 1).to_be_bytes());
            for i in 1..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&u32::from(fixups[3] % 11).to_be_bytes());
            }
        }
        if let Ok(p) = decode_packet(cmd, &bytes, v, features, digest) {
            prop_assert_eq!(p.command(), cmd);
            let mut out = vec![0u8; 8192];
            let n = p.encode(&mut out, v).unwrap();
            let again = decode_packet(cmd, &out[..n], v, features, digest).unwrap();
            prop_assert_eq!(again, p);
        }
    }
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
