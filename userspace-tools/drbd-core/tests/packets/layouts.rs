//! Golden byte layouts: the struct sizes as gcc lays out the packed C structs of
//! `drbd_protocol.h`, and every payload encoded byte for byte.

use super::*;

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
