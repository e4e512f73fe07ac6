//! Properties: hostile input never panics, decoders accept only the lengths the rules allow,
//! negotiation agrees within both ranges, and encode/decode round trips.

use super::*;

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
