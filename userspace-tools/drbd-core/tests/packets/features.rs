//! The features negotiation: the agreed protocol version and feature flags, the log texts,
//! and the features packet's 8-byte header.

use super::*;

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
