//! Generic-netlink ABI: numbers checked against DRBD's headers, field tables, drbdsetup texts,
//! the attribute codec (golden bytes, round trips, hostile input) and the kernel's parse rules.

use drbd_core::genl::*;
use proptest::prelude::*;

// ---- numbers from the headers ------------------------------------------------------------------

#[test]
fn family_constants() {
    assert_eq!(FAMILY_NAME, "drbd");
    assert_eq!(FAMILY_VERSION, 1);
    assert_eq!(MCAST_GROUP_EVENTS, "events");
    assert_eq!(DRBD_GENLA_F_MANDATORY, 0x4000);
    assert_eq!(NLA_F_NESTED, 0x8000);
    assert_eq!(NLA_TYPE_MASK, 0x3fff);
    assert_eq!(DRBD_GENLMSGHDR_SIZE, 8);
    assert_eq!(DRBD_NLA_MAX, 24);
}

#[test]
fn command_numbers_match_drbd_genl_h() {
    let expected: [(Cmd, u8); 38] = [
        (Cmd::Event, 1),
        (Cmd::GetStatus, 2),
        (Cmd::NewMinor, 5),
        (Cmd::DelMinor, 6),
        (Cmd::NewResource, 7),
        (Cmd::DelResource, 8),
        (Cmd::ResourceOpts, 9),
        (Cmd::Connect, 10),
        (Cmd::Disconnect, 11),
        (Cmd::Attach, 12),
        (Cmd::Resize, 13),
        (Cmd::Primary, 14),
        (Cmd::Secondary, 15),
        (Cmd::NewCUuid, 16),
        (Cmd::StartOv, 17),
        (Cmd::Detach, 18),
        (Cmd::Invalidate, 19),
        (Cmd::InvalPeer, 20),
        (Cmd::PauseSync, 21),
        (Cmd::ResumeSync, 22),
        (Cmd::SuspendIo, 23),
        (Cmd::ResumeIo, 24),
        (Cmd::Outdate, 25),
        (Cmd::GetTimeoutType, 26),
        (Cmd::Down, 27),
        (Cmd::ChgDiskOpts, 28),
        (Cmd::ChgNetOpts, 29),
        (Cmd::GetResources, 30),
        (Cmd::GetDevices, 31),
        (Cmd::GetConnections, 32),
        (Cmd::GetPeerDevices, 33),
        (Cmd::ResourceState, 34),
        (Cmd::DeviceState, 35),
        (Cmd::ConnectionState, 36),
        (Cmd::PeerDeviceState, 37),
        (Cmd::GetInitialState, 38),
        (Cmd::Helper, 40),
        (Cmd::InitialStateDone, 41),
    ];
    assert_eq!(Cmd::ALL.len(), expected.len());
    for (cmd, n) in expected {
        assert_eq!(cmd as u8, n, "{cmd:?}");
        assert_eq!(Cmd::from_raw(n), Some(cmd));
    }
    for unused in [0u8, 3, 4, 39, 42, 255] {
        assert_eq!(Cmd::from_raw(unused), None);
    }
    assert_eq!(Cmd::Attach.name(), "DRBD_ADM_ATTACH");
}

#[test]
fn command_properties() {
    assert!(Cmd::Event.is_notification() && !Cmd::Event.has_doit());
    assert!(Cmd::GetStatus.has_doit() && Cmd::GetStatus.has_dumpit());
    assert!(!Cmd::GetStatus.needs_admin());
    assert!(Cmd::GetResources.has_dumpit() && !Cmd::GetResources.has_doit());
    assert!(Cmd::Attach.needs_admin() && Cmd::Attach.has_doit());
    assert!(Cmd::GetTimeoutType.needs_admin());
    assert_eq!(Cmd::ChgDiskOpts.request_tla(), Some(TopAttr::DiskConf));
    assert_eq!(Cmd::Connect.request_tla(), Some(TopAttr::NetConf));
    assert_eq!(Cmd::NewResource.request_tla(), Some(TopAttr::ResourceOpts));
    assert_eq!(Cmd::Invalidate.request_tla(), None);
}

#[test]
fn top_level_attribute_numbers_match_drbd_genl_h() {
    let expected: [(TopAttr, u16); 23] = [
        (TopAttr::CfgReply, 1),
        (TopAttr::CfgContext, 2),
        (TopAttr::DiskConf, 3),
        (TopAttr::ResourceOpts, 4),
        (TopAttr::NetConf, 5),
        (TopAttr::SetRoleParms, 6),
        (TopAttr::ResizeParms, 7),
        (TopAttr::StateInfo, 8),
        (TopAttr::StartOvParms, 9),
        (TopAttr::NewCUuidParms, 10),
        (TopAttr::TimeoutParms, 11),
        (TopAttr::DisconnectParms, 12),
        (TopAttr::DetachParms, 13),
        (TopAttr::ResourceInfo, 15),
        (TopAttr::DeviceInfo, 16),
        (TopAttr::ConnectionInfo, 17),
        (TopAttr::PeerDeviceInfo, 18),
        (TopAttr::ResourceStatistics, 19),
        (TopAttr::DeviceStatistics, 20),
        (TopAttr::ConnectionStatistics, 21),
        (TopAttr::PeerDeviceStatistics, 22),
        (TopAttr::NotificationHeader, 23),
        (TopAttr::Helper, 24),
    ];
    assert_eq!(TopAttr::ALL.len(), expected.len());
    for (a, n) in expected {
        assert_eq!(a as u16, n, "{a:?}");
        assert_eq!(TopAttr::from_raw(n), Some(a));
    }
    assert_eq!(TopAttr::from_raw(14), None);
    assert_eq!(TopAttr::from_raw(0), None);
}

#[test]
fn struct_tables_line_up_with_top_level_attributes() {
    assert_eq!(STRUCTS.len(), TopAttr::ALL.len());
    for (s, a) in STRUCTS.iter().zip(TopAttr::ALL) {
        assert_eq!(s.tla, *a);
        assert_eq!(a.struct_def() as *const StructDef, *s as *const StructDef);
    }
}

/// The `__DRBD_A_<STRUCT>_MAX - 1` of every struct in the uapi header: the highest field number.
#[test]
fn highest_field_numbers_match_drbd_genl_h() {
    let expected: [(TopAttr, u16); 23] = [
        (TopAttr::CfgReply, 1),
        (TopAttr::CfgContext, 4),
        (TopAttr::DiskConf, 26),
        (TopAttr::ResourceOpts, 2),
        (TopAttr::NetConf, 34),
        (TopAttr::SetRoleParms, 1),
        (TopAttr::ResizeParms, 5),
        (TopAttr::StateInfo, 23),
        (TopAttr::StartOvParms, 2),
        (TopAttr::NewCUuidParms, 1),
        (TopAttr::TimeoutParms, 1),
        (TopAttr::DisconnectParms, 1),
        (TopAttr::DetachParms, 1),
        (TopAttr::ResourceInfo, 4),
        (TopAttr::DeviceInfo, 1),
        (TopAttr::ConnectionInfo, 2),
        (TopAttr::PeerDeviceInfo, 5),
        (TopAttr::ResourceStatistics, 1),
        (TopAttr::DeviceStatistics, 14),
        (TopAttr::ConnectionStatistics, 1),
        (TopAttr::PeerDeviceStatistics, 9),
        (TopAttr::NotificationHeader, 1),
        (TopAttr::Helper, 2),
    ];
    for (a, max) in expected {
        assert_eq!(a.struct_def().max_id(), max, "{a:?}");
    }
}

#[test]
fn gaps_in_field_numbers_are_the_headers_gaps() {
    let ids = |s: &StructDef| s.fields.iter().map(|f| f.id).collect::<Vec<_>>();
    let disk: Vec<u16> = (1..=21).chain(23..=26).collect();
    assert_eq!(ids(&DISK_CONF), disk);
    let net: Vec<u16> = (1..=29).chain(33..=34).collect();
    assert_eq!(ids(&NET_CONF), net);
    assert_eq!(ids(&PEER_DEVICE_STATISTICS), [1, 2, 3, 4, 5, 6, 7, 9]);
    assert_eq!(ids(&STATE_INFO), (1..=23).collect::<Vec<_>>());
}

#[test]
fn every_field_table_is_consistent() {
    for s in STRUCTS {
        for (i, f) in s.fields.iter().enumerate() {
            assert!(
                f.id >= 1 && f.id & !NLA_TYPE_MASK == 0,
                "{}.{}",
                s.c_name,
                f.c_name
            );
            for g in &s.fields[i + 1..] {
                assert_ne!(f.id, g.id, "{}: duplicate id", s.c_name);
                assert_ne!(f.c_name, g.c_name, "{}: duplicate C name", s.c_name);
                assert_ne!(f.name, g.name, "{}: duplicate option name", s.c_name);
            }
            assert!(
                !(f.name.contains('_') && f.cli != Cli::Positional),
                "{}",
                f.name
            );
            if let (Some(d), Some(_), Some(_)) = (f.default, f.min, f.max) {
                assert!(f.in_range(d), "{}: default out of range", f.name);
            }
            if let Some(e) = f.values {
                assert_eq!(f.ty, FieldType::U32);
                let d = f.default.expect("enum options have defaults") as u32;
                assert!(e.name_of(d).is_some(), "{}: default has no name", f.name);
            }
            if f.cli == Cli::Boolean || f.cli == Cli::Flag {
                assert_eq!(f.ty, FieldType::Flag, "{}", f.name);
            }
            assert_eq!(s.field(f.id), Some(f));
            assert_eq!(s.field_by_name(f.name), Some(f));
        }
    }
}

#[test]
fn selected_fields_match_the_header_and_drbdsetup() {
    let f = DISK_CONF.field_by_name("resync-rate").unwrap();
    assert_eq!((f.id, f.c_name, f.mandatory), (8, "resync_rate", true));
    assert_eq!(f.nla_type(), 0x4008);
    assert_eq!(
        (f.default, f.min, f.max),
        (Some(250), Some(1), Some(4 << 20))
    );
    assert_eq!(f.scale, Scale::Kilo);
    assert_eq!(f.unit, Some("bytes/second"));

    let f = DISK_CONF.field(1).unwrap();
    assert_eq!(
        (f.c_name, f.required, f.invariant, f.mandatory),
        ("backing_dev", true, true, false)
    );
    assert_eq!(f.ty, FieldType::String { max_len: 127 });
    assert_eq!(f.nla_type(), 1);
    assert_eq!(DISK_CONF.field(3).unwrap().ty, FieldType::I32);
    assert_eq!(DISK_CONF.field(9).unwrap().default, Some(-1));

    let f = DISK_CONF.field_by_name("al-updates").unwrap();
    assert_eq!(
        (f.id, f.mandatory, f.default, f.cli),
        (23, false, Some(1), Cli::Boolean)
    );
    assert_eq!(
        DISK_CONF.field_by_name("disable-write-same").unwrap().id,
        26
    );
    assert_eq!(DISK_CONF.field_by_name("c-plan-ahead").unwrap().id, 11);
    assert_eq!(
        DISK_CONF.field_by_name("on-io-error").unwrap().values,
        Some(&ON_IO_ERROR)
    );

    let f = NET_CONF.field_by_name("protocol").unwrap();
    assert_eq!((f.id, f.c_name, f.default), (6, "wire_protocol", Some(3)));
    assert_eq!(
        NET_CONF.field_by_name("allow-two-primaries").unwrap().id,
        24
    );
    assert_eq!(
        NET_CONF.field_by_name("ping-timeout").unwrap().c_name,
        "ping_timeo"
    );
    assert_eq!(NET_CONF.field_by_name("data-integrity-alg").unwrap().id, 3);
    assert_eq!(
        NET_CONF.field_by_name("unplug-watermark").unwrap().default,
        Some(128)
    );
    let f = NET_CONF.field_by_name("socket-check-timeout").unwrap();
    assert_eq!((f.id, f.mandatory), (34, false));
    let f = NET_CONF.field(1).unwrap();
    assert!(f.sensitive && f.mandatory);
    assert_eq!(f.ty, FieldType::String { max_len: 63 });
    let f = NET_CONF.field_by_name("discard-my-data").unwrap();
    assert_eq!((f.id, f.invariant, f.cli), (25, true, Cli::Flag));

    assert_eq!(
        RES_OPTS.field_by_name("cpu-mask").unwrap().ty,
        FieldType::String { max_len: 31 }
    );
    assert_eq!(
        RES_OPTS.field_by_name("on-no-data-accessible").unwrap().id,
        2
    );
    assert_eq!(
        SET_ROLE_PARMS.field_by_name("force").unwrap().c_name,
        "assume_uptodate"
    );
    assert_eq!(RESIZE_PARMS.field_by_name("assume-clean").unwrap().id, 3);
    assert_eq!(
        RESIZE_PARMS
            .field_by_name("al-stripe-size-kB")
            .unwrap()
            .default,
        Some(32)
    );
    assert_eq!(START_OV_PARMS.field_by_name("stop").unwrap().id, 2);
    assert_eq!(
        NEW_C_UUID_PARMS
            .field_by_name("clear-bitmap")
            .unwrap()
            .nla_type(),
        0x4001
    );
    assert_eq!(
        CFG_CONTEXT.field(3).unwrap().ty,
        FieldType::Binary { max_len: 128 }
    );
    assert_eq!(
        STATE_INFO.field(7).unwrap().ty,
        FieldType::Binary { max_len: 32 }
    );
    assert!(STATE_INFO.field(2).unwrap().required);
    assert!(!STATE_INFO.field(15).unwrap().mandatory);
    assert_eq!(
        DEVICE_STATISTICS.field(14).unwrap().ty,
        FieldType::Binary { max_len: 256 }
    );
    assert!(TIMEOUT_PARMS.field(1).unwrap().required);
}

// ---- texts --------------------------------------------------------------------------------------

#[test]
fn ret_code_numbers_and_texts() {
    assert_eq!(RetCode::NoError as i32, 101);
    assert_eq!(RetCode::MandatoryTag as i32, 126);
    assert_eq!(RetCode::ResNotKnown as i32, 158);
    assert_eq!(RetCode::ImplicitShrink as i32, 170);
    assert_eq!(RetCode::ALL.len(), 63);
    assert_eq!(RetCode::from_raw(106), None);
    assert_eq!(RetCode::NoError.text(), "No further Information available.");
    assert_eq!(
        RetCode::LocalAddr.text(),
        "Local address(port) already in use."
    );
    assert_eq!(RetCode::MandatoryTag.text(), "UnknownMandatoryTag");
    assert_eq!(RetCode::MinorInvalid.text(), "Device minor not allocated");
    assert_eq!(RetCode::ResNotKnown.text(), "Unknown resource");
    assert_eq!(
        RetCode::ImplicitShrink.text(),
        "Implicit device shrinking not allowed. See kernel log.\n"
    );
    assert_eq!(RetCode::MdInvalid.text(), "No valid meta-data signature found.\n\n\t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n");
    assert_eq!(ret_code_text(106), Some("Lower device already in use."));
    assert_eq!(
        ret_code_text(136),
        Some("Disk state is lower than outdated")
    );
    assert_eq!(ret_code_text(100), None);
    assert_eq!(ret_code_text(171), None);
    assert_eq!(ret_code_text(-1), None);
    assert_eq!(ret_code_text(i32::MIN), None);
    for code in 101..AFTER_LAST_ERR_CODE {
        assert!(ret_code_text(code).is_some(), "{code}");
    }
}

#[test]
fn state_change_texts() {
    assert_eq!(StateRv::TwoPrimaries as i32, -1);
    assert_eq!(StateRv::OutdateWoConn as i32, -21);
    assert_eq!(StateRv::from_raw(-3), None);
    assert_eq!(set_st_err_str(-2), "Need access to UpToDate data");
    assert_eq!(set_st_err_str(-12), "Device is held open by someone");
    assert_eq!(
        set_st_err_str(-21),
        "Need a connection for a graceful disconnect/outdate peer"
    );
    assert_eq!(set_st_err_str(1), "TOO_LARGE");
    assert_eq!(set_st_err_str(0), "TOO_LARGE");
    assert_eq!(set_st_err_str(-22), "TOO_SMALL");
    assert_eq!(set_st_err_str(i32::MIN), "TOO_SMALL");
    assert_eq!(set_st_err_str(-3), "(null)");
}

#[test]
fn state_names() {
    assert_eq!(role_str(1), "Primary");
    assert_eq!(role_str(2), "Secondary");
    assert_eq!(role_str(0), "Unknown");
    assert_eq!(role_str(3), "TOO_LARGE");
    assert_eq!(ConnState::WfConnection as u8, 8);
    assert_eq!(conn_str(8), "WFConnection");
    assert_eq!(conn_str(10), "Connected");
    assert_eq!(conn_str(18), "VerifyS");
    assert_eq!(conn_str(21), "PausedSyncT");
    assert_eq!(conn_str(23), "Behind");
    assert_eq!(conn_str(24), "TOO_LARGE");
    assert_eq!(conn_str(u32::MAX), "TOO_LARGE");
    assert_eq!(disk_str(8), "UpToDate");
    assert_eq!(disk_str(6), "DUnknown");
    assert_eq!(disk_str(9), "TOO_LARGE");
}

#[test]
fn policy_names_as_drbdsetup_spells_them() {
    assert_eq!(ON_IO_ERROR.value_of("pass_on"), Some(0));
    assert_eq!(ON_IO_ERROR.name_of(2), Some("detach"));
    assert_eq!(FENCING.value_of("resource-and-stonith"), Some(2));
    assert_eq!(AFTER_SB_0P.value_of("discard-zero-changes"), Some(3));
    assert_eq!(AFTER_SB_0P.value_of("consensus"), None);
    assert_eq!(
        AFTER_SB_1P.name_of(AfterSb::Violently as u32),
        Some("violently-as0p")
    );
    assert_eq!(
        AFTER_SB_2P.name_of(AfterSb::CallHelper as u32),
        Some("call-pri-lost-after-sb")
    );
    assert_eq!(
        RR_CONFLICT.name_of(AfterSb::Violently as u32),
        Some("violently")
    );
    assert_eq!(
        RR_CONFLICT.name_of(AfterSb::CallHelper as u32),
        Some("call-pri-lost")
    );
    assert_eq!(ON_NO_DATA.value_of("suspend-io"), Some(1));
    assert_eq!(ON_CONGESTION.value_of("pull-ahead"), Some(1));
    assert_eq!(READ_BALANCING.value_of("1M-striping"), Some(10));
    assert_eq!(WIRE_PROTOCOL.value_of("c"), Some(3));
    assert_eq!(WIRE_PROTOCOL.value_of("A"), Some(1));
    assert_eq!(ON_IO_ERROR.value_of("DETACH"), None);
    assert_eq!(NotifyType::Destroy.name(), "destroy");
}

// ---- headers ------------------------------------------------------------------------------------

#[test]
fn drbd_genlmsghdr_layout() {
    let h = DrbdGenlMsgHdr {
        minor: 7,
        flags: DRBD_GENL_F_SET_DEFAULTS,
    };
    let mut buf = [0xffu8; 10];
    assert_eq!(h.encode(&mut buf), Ok(8));
    let mut want = Vec::new();
    want.extend_from_slice(&7u32.to_ne_bytes());
    want.extend_from_slice(&1u32.to_ne_bytes());
    assert_eq!(&buf[..8], &want[..]);
    assert_eq!(DrbdGenlMsgHdr::decode(&buf), Ok(h));
    assert!(h.set_defaults());

    let r = DrbdGenlMsgHdr::reply(MINOR_NONE, StateRv::NoUpToDateDisk as i32);
    assert_eq!(r.ret_code(), -2);
    assert_eq!(
        DrbdGenlMsgHdr::decode(&{
            let mut b = [0u8; 8];
            r.encode(&mut b).unwrap();
            b
        })
        .unwrap()
        .ret_code(),
        -2
    );

    assert_eq!(
        h.encode(&mut [0u8; 7]),
        Err(NlaError::NoSpace { need: 8, have: 7 })
    );
    assert_eq!(
        DrbdGenlMsgHdr::decode(&[0u8; 5]),
        Err(NlaError::Truncated {
            offset: 0,
            need: 8,
            have: 5
        })
    );
}

#[test]
fn genlmsghdr_layout() {
    let h = GenlMsgHdr::new(Cmd::Attach);
    let mut buf = [0u8; 4];
    assert_eq!(h.encode(&mut buf), Ok(4));
    assert_eq!(buf, [12, 1, 0, 0]);
    assert_eq!(GenlMsgHdr::decode(&buf), Ok(h));
    assert!(GenlMsgHdr::decode(&buf[..3]).is_err());
}

#[test]
fn drbd_state_bit_layout() {
    let s = DrbdState {
        role: Role::Primary as u8,
        peer: Role::Secondary as u8,
        conn: ConnState::Connected as u8,
        disk: DiskState::UpToDate as u8,
        pdsk: DiskState::Inconsistent as u8,
        user_isp: true,
        ..DrbdState::default()
    };
    let v = 1 | (2 << 2) | (10 << 4) | (8 << 9) | (4 << 13) | (1 << 20);
    assert_eq!(s.to_u32(), v);
    assert_eq!(DrbdState::from_u32(v), s);
    assert!(DrbdState::from_u32(1 << 22).susp_fen);
    assert!(DrbdState::from_u32(1 << 17).susp);
}

// ---- codec: golden bytes ------------------------------------------------------------------------

fn hdr(len: u16, ty: u16) -> Vec<u8> {
    let mut v = len.to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v
}

#[test]
fn writer_produces_netlink_layout() {
    let mut buf = [0xaau8; 64];
    let mut w = NlaWriter::new(&mut buf);
    w.put_u32(0x4008, 250).unwrap();
    w.put_string(1, "ab").unwrap();
    w.put_u8(16 | DRBD_GENLA_F_MANDATORY, 1).unwrap();
    w.put_flag(9).unwrap();

    let mut want = hdr(8, 0x4008);
    want.extend_from_slice(&250u32.to_ne_bytes());
    want.extend(hdr(7, 1));
    want.extend_from_slice(b"ab\0\0"); // NUL, then one byte of zero padding
    want.extend(hdr(5, 0x4010));
    want.extend_from_slice(&[1, 0, 0, 0]);
    want.extend(hdr(4, 9));
    assert_eq!(w.as_bytes(), &want[..]);
    assert_eq!(w.len(), 28);
}

#[test]
fn nest_length_covers_its_contents() {
    let mut buf = [0u8; 64];
    let mut w = NlaWriter::new(&mut buf);
    let n = w.nest_start(TopAttr::DiskConf as u16).unwrap();
    w.put_u64(4 | DRBD_GENLA_F_MANDATORY, 1 << 40).unwrap();
    w.put_u8(23, 0).unwrap();
    w.nest_end(n).unwrap();
    let mut want = hdr(4 + 12 + 8, 3);
    want.extend(hdr(12, 0x4004));
    want.extend_from_slice(&(1u64 << 40).to_ne_bytes());
    want.extend(hdr(5, 23));
    want.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(w.as_bytes(), &want[..]);
}

// ---- codec: round trips -------------------------------------------------------------------------

/// What drbdsetup-84 sends for `drbdsetup attach 0 /dev/sdb1 /dev/sdb1 internal --resync-rate=100M`:
/// minor in the family header, disk_conf with the positional arguments and the option.
fn attach_request(buf: &mut [u8]) -> usize {
    let mut w = NlaWriter::new(buf);
    let n = w.nest_start(TopAttr::DiskConf as u16).unwrap();
    let d = &DISK_CONF;
    d.field(1)
        .unwrap()
        .encode(&mut w, FieldValue::Str(b"/dev/sdb1"), true)
        .unwrap();
    d.field(2)
        .unwrap()
        .encode(&mut w, FieldValue::Str(b"/dev/sdb1"), true)
        .unwrap();
    d.field(3)
        .unwrap()
        .encode(
            &mut w,
            FieldValue::Signed(i64::from(DRBD_MD_INDEX_FLEX_INT)),
            true,
        )
        .unwrap();
    let rate = d.field_by_name("resync-rate").unwrap();
    rate.encode(&mut w, FieldValue::Unsigned(100 * 1024), true)
        .unwrap();
    w.nest_end(n).unwrap();
    w.len()
}

#[test]
fn attach_request_round_trip() {
    let mut buf = [0u8; 256];
    let len = attach_request(&mut buf);
    let msg = &buf[..len];

    let top: Vec<_> = NlaIter::new(msg).collect::<Result<_, _>>().unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(
        (top[0].ty, top[0].nested, top[0].mandatory),
        (3, false, false)
    );

    let inner: Vec<_> = top[0].nested_iter().collect::<Result<_, _>>().unwrap();
    let types: Vec<_> = inner.iter().map(|a| (a.ty, a.mandatory)).collect();
    assert_eq!(types, [(1, false), (2, false), (3, false), (8, true)]);
    assert_eq!(inner[0].payload, b"/dev/sdb1\0");
    assert_eq!(inner[2].get_i32(), Ok(-3));
    assert_eq!(inner[3].get_u32(), Ok(102_400));

    let mut seen = Vec::new();
    DISK_CONF
        .parse(top[0].payload, ParseMode::Create, |f, v| {
            seen.push((f.c_name, v))
        })
        .unwrap();
    assert_eq!(
        seen,
        [
            ("backing_dev", FieldValue::Str(b"/dev/sdb1")),
            ("meta_dev", FieldValue::Str(b"/dev/sdb1")),
            ("meta_dev_idx", FieldValue::Signed(-3)),
            ("resync_rate", FieldValue::Unsigned(102_400)),
        ]
    );
}

#[test]
fn nested_nests_round_trip() {
    let mut buf = [0u8; 128];
    let mut w = NlaWriter::new(&mut buf);
    let outer = w
        .nest_start(TopAttr::CfgContext as u16 | NLA_F_NESTED)
        .unwrap();
    w.put_string(2 | DRBD_GENLA_F_MANDATORY, "r0").unwrap();
    let inner = w.nest_start(7 | NLA_F_NESTED).unwrap();
    w.put_u16(1, 0xbeef).unwrap();
    w.nest_end(inner).unwrap();
    w.put_u32(1 | DRBD_GENLA_F_MANDATORY, 5).unwrap();
    w.nest_end(outer).unwrap();
    w.put_u32(99, 1).unwrap();
    let bytes = w.as_bytes().to_vec();

    let top: Vec<_> = NlaIter::new(&bytes).map(Result::unwrap).collect();
    assert_eq!(top.len(), 2);
    assert!(top[0].nested && top[0].ty == 2 && !top[0].mandatory);
    let kids: Vec<_> = top[0].nested_iter().map(Result::unwrap).collect();
    assert_eq!(kids.len(), 3);
    assert!(kids[0].mandatory && kids[0].ty == 2);
    assert!(kids[1].nested && kids[1].ty == 7);
    let grandkids: Vec<_> = kids[1].nested_iter().map(Result::unwrap).collect();
    assert_eq!(grandkids[0].get_u16(), Ok(0xbeef));
    assert_eq!(kids[2].get_u32(), Ok(5));
    assert_eq!(top[1].get_u32(), Ok(1));

    let mut name = None;
    CFG_CONTEXT
        .parse(top[0].payload, ParseMode::Create, |f, v| {
            if f.id == 2 {
                name = Some(v)
            }
        })
        .unwrap();
    assert_eq!(name, Some(FieldValue::Str(b"r0")));
}

#[test]
fn every_field_type_round_trips() {
    for s in STRUCTS {
        for f in s.fields {
            let value = match f.ty {
                FieldType::U8 => FieldValue::Unsigned(0xab),
                FieldType::U16 => FieldValue::Unsigned(0xabcd),
                FieldType::U32 => FieldValue::Unsigned(0xdead_beef),
                FieldType::U64 => FieldValue::Unsigned(u64::MAX - 1),
                FieldType::I32 => FieldValue::Signed(-3),
                FieldType::Flag => FieldValue::Flag(true),
                FieldType::String { .. } => FieldValue::Str(b"x y"),
                FieldType::Binary { .. } => FieldValue::Bin(&[2, 0, 0x1e, 0x6c]),
            };
            for mark in [false, true] {
                let mut buf = [0u8; 32];
                let mut w = NlaWriter::new(&mut buf);
                f.encode(&mut w, value, mark).unwrap();
                let a = NlaIter::new(w.as_bytes()).next().unwrap().unwrap();
                assert_eq!(a.ty, f.id);
                assert_eq!(a.mandatory, mark && f.mandatory);
                assert_eq!(f.decode(a.payload), Ok(value), "{}.{}", s.c_name, f.c_name);
            }
        }
    }
}

// ---- the kernel's rules --------------------------------------------------------------------------

fn nested(build: impl FnOnce(&mut NlaWriter<'_>)) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    let mut w = NlaWriter::new(&mut buf);
    build(&mut w);
    w.as_bytes().to_vec()
}

fn parse_all(
    s: &StructDef,
    payload: &[u8],
    mode: ParseMode,
) -> Result<Vec<(u16, String)>, FieldError> {
    let mut out = Vec::new();
    s.parse(payload, mode, |f, v| out.push((f.id, format!("{v:?}"))))?;
    Ok(out)
}

fn minimal_disk_conf(w: &mut NlaWriter<'_>) {
    w.put_string(1, "/dev/a").unwrap();
    w.put_string(2, "/dev/b").unwrap();
    w.put_i32(3, -1).unwrap();
}

#[test]
fn required_fields_must_be_present_on_create_only() {
    let p = nested(|w| w.put_u32(8 | DRBD_GENLA_F_MANDATORY, 300).unwrap());
    assert_eq!(
        parse_all(&DISK_CONF, &p, ParseMode::Create),
        Err(FieldError::MissingRequired { id: 1 })
    );
    assert_eq!(
        parse_all(&DISK_CONF, &p, ParseMode::Change).unwrap().len(),
        1
    );
    assert_eq!(
        FieldError::MissingRequired { id: 1 }.info_text(),
        "required attribute missing"
    );
}

#[test]
fn invariant_fields_are_refused_on_change() {
    let p = nested(|w| w.put_u64(4 | DRBD_GENLA_F_MANDATORY, 1000).unwrap());
    let e = parse_all(&DISK_CONF, &p, ParseMode::Change).unwrap_err();
    assert_eq!(e, FieldError::InvariantChange { id: 4 });
    assert_eq!(e.info_text(), "can not change invariant setting");
    assert_eq!(e.ret_code(), RetCode::MandatoryTag);

    let p = nested(|w| {
        minimal_disk_conf(w);
        w.put_u64(4 | DRBD_GENLA_F_MANDATORY, 1000).unwrap();
    });
    assert!(parse_all(&DISK_CONF, &p, ParseMode::Create).is_ok());
}

#[test]
fn unknown_mandatory_attributes_are_refused_and_optional_ones_ignored() {
    let p = nested(|w| {
        minimal_disk_conf(w);
        w.put_u8(27 | DRBD_GENLA_F_MANDATORY, 1).unwrap();
    });
    let e = parse_all(&DISK_CONF, &p, ParseMode::Create).unwrap_err();
    assert_eq!(e, FieldError::UnknownMandatory { id: 27 });
    assert_eq!(e.info_text(), "invalid attribute value");

    let p = nested(|w| {
        minimal_disk_conf(w);
        w.put_u8(27, 1).unwrap(); // optional and unknown: ignored
        w.put_u32(22 | DRBD_GENLA_F_MANDATORY, 1).unwrap(); // a gap below max: ignored
        w.put(0, &[]).unwrap(); // NLA_UNSPEC padding: ignored
    });
    assert_eq!(
        parse_all(&DISK_CONF, &p, ParseMode::Create).unwrap().len(),
        3
    );
}

#[test]
fn last_duplicate_wins() {
    let p = nested(|w| {
        w.put_u32(8, 100).unwrap();
        w.put_u32(8 | DRBD_GENLA_F_MANDATORY, 200).unwrap();
    });
    assert_eq!(
        parse_all(&DISK_CONF, &p, ParseMode::Change).unwrap(),
        [(8, "Unsigned(200)".to_string())]
    );
}

#[test]
fn field_policy_is_enforced() {
    let short = nested(|w| w.put_u16(8, 1).unwrap());
    assert_eq!(
        parse_all(&DISK_CONF, &short, ParseMode::Change),
        Err(FieldError::TooShort {
            id: 8,
            need: 4,
            have: 2
        })
    );
    // Longer numbers are accepted and read from their first bytes, as nla_get_u32 does.
    let long = nested(|w| w.put_u64(8, 42).unwrap());
    if cfg!(target_endian = "little") {
        assert_eq!(
            parse_all(&DISK_CONF, &long, ParseMode::Change).unwrap()[0].1,
            "Unsigned(42)"
        );
    }

    let unterminated = nested(|w| w.put(1, b"/dev/a").unwrap());
    assert_eq!(
        parse_all(&DISK_CONF, &unterminated, ParseMode::Change),
        Err(FieldError::Unterminated { id: 1 })
    );
    let cpu = RES_OPTS.field(1).unwrap();
    let ok = [b'f'; 31];
    let mut p = nested(|w| w.put_str_bytes(1, &ok).unwrap());
    assert!(parse_all(&RES_OPTS, &p, ParseMode::Change).is_ok());
    // 32 characters: as in the kernel's policy, the NUL must come within the first 32 bytes.
    p = nested(|w| w.put_str_bytes(1, &[b'f'; 32]).unwrap());
    assert_eq!(
        parse_all(&RES_OPTS, &p, ParseMode::Change),
        Err(FieldError::Unterminated { id: 1 })
    );
    // The string ends at its first NUL, but the attribute may not be longer than the policy.
    assert_eq!(cpu.decode(b"ab\0cd\0"), Ok(FieldValue::Str(b"ab")));
    assert_eq!(
        cpu.decode(&[0u8; 40]),
        Err(FieldError::TooLong {
            id: 1,
            max: 31,
            have: 39
        })
    );

    let addr = CFG_CONTEXT.field(3).unwrap();
    assert_eq!(addr.decode(&[0u8; 128]), Ok(FieldValue::Bin(&[0u8; 128])));
    assert_eq!(
        addr.decode(&[0u8; 129]),
        Err(FieldError::TooLong {
            id: 3,
            max: 128,
            have: 129
        })
    );
}

#[test]
fn encode_checks_kind_and_width() {
    let mut buf = [0u8; 64];
    let mut w = NlaWriter::new(&mut buf);
    let rate = DISK_CONF.field(8).unwrap();
    assert_eq!(
        rate.encode(&mut w, FieldValue::Flag(true), true),
        Err(FieldError::WrongKind { id: 8 })
    );
    assert_eq!(
        rate.encode(&mut w, FieldValue::Unsigned(1 << 32), true),
        Err(FieldError::OutOfRange { id: 8 })
    );
    let idx = DISK_CONF.field(3).unwrap();
    assert_eq!(
        idx.encode(&mut w, FieldValue::Signed(1 << 31), true),
        Err(FieldError::OutOfRange { id: 3 })
    );
    let dev = DISK_CONF.field(1).unwrap();
    assert_eq!(
        dev.encode(&mut w, FieldValue::Str(&[b'x'; 128]), true),
        Err(FieldError::TooLong {
            id: 1,
            max: 127,
            have: 128
        })
    );
    assert_eq!(
        dev.encode(&mut w, FieldValue::Str(b"a\0b"), true),
        Err(FieldError::Malformed(NlaError::InteriorNul))
    );
    assert!(w.is_empty());
}

// ---- codec: errors ------------------------------------------------------------------------------

#[test]
fn writer_refuses_what_does_not_fit_and_leaves_the_buffer_alone() {
    let mut buf = [0u8; 12];
    let mut w = NlaWriter::new(&mut buf);
    w.put_u32(1, 1).unwrap();
    assert_eq!(
        w.put_u64(2, 2),
        Err(NlaError::NoSpace { need: 12, have: 4 })
    );
    assert_eq!(w.len(), 8);
    assert_eq!(
        w.put_string(3, "abcd"),
        Err(NlaError::NoSpace { need: 12, have: 4 })
    );
    assert_eq!(w.put_string(3, "a\0"), Err(NlaError::InteriorNul));
    w.put_flag(4).unwrap();
    assert_eq!(w.remaining(), 0);
    assert!(w.nest_start(5).is_err());

    let mut big = vec![0u8; 100_000];
    let mut w = NlaWriter::new(&mut big);
    assert_eq!(
        w.put(1, &[0u8; 65_532]),
        Err(NlaError::TooLarge { len: 65_536 })
    );
    let n = w.nest_start(1).unwrap();
    w.put(2, &[0u8; 40_000]).unwrap();
    w.put(3, &[0u8; 40_000]).unwrap();
    assert_eq!(w.nest_end(n), Err(NlaError::TooLarge { len: 80_012 }));
    assert!(w.is_empty(), "an oversized nest is removed");
}

#[test]
fn nest_cancel_and_stale_nests() {
    let mut buf = [0u8; 64];
    let mut w = NlaWriter::new(&mut buf);
    w.put_u32(1, 1).unwrap();
    let n = w.nest_start(2).unwrap();
    w.put_u32(3, 3).unwrap();
    w.nest_cancel(n);
    assert_eq!(w.len(), 8);

    let outer = w.nest_start(4).unwrap();
    let inner = w.nest_start(5).unwrap();
    w.nest_cancel(outer);
    assert_eq!(w.nest_end(inner), Err(NlaError::BadNest));
    assert_eq!(w.len(), 8);
}

#[test]
fn iterator_reports_malformed_streams_once() {
    let mut bad = hdr(3, 1);
    bad.extend_from_slice(&[0; 4]);
    let mut it = NlaIter::new(&bad);
    assert_eq!(
        it.next(),
        Some(Err(NlaError::BadLength {
            offset: 0,
            len: 3,
            have: 8
        }))
    );
    assert_eq!(it.next(), None);

    let mut past_end = hdr(8, 1);
    past_end.extend_from_slice(&[0; 2]);
    assert_eq!(
        NlaIter::new(&past_end).next(),
        Some(Err(NlaError::BadLength {
            offset: 0,
            len: 8,
            have: 6
        }))
    );

    let mut trailing = hdr(4, 1);
    trailing.extend_from_slice(&[0; 3]);
    let got: Vec<_> = NlaIter::new(&trailing).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    assert_eq!(got[1], Err(NlaError::Trailing { offset: 4, len: 3 }));

    assert_eq!(NlaIter::new(&[]).next(), None);
    assert_eq!(
        Nla {
            ty: 1,
            nested: false,
            mandatory: false,
            payload: &[1, 2]
        }
        .get_u32(),
        Err(NlaError::Truncated {
            offset: 0,
            need: 4,
            have: 2
        })
    );
}

#[test]
fn last_attribute_may_omit_its_padding() {
    let mut v = hdr(5, 7);
    v.push(9);
    let got: Vec<_> = NlaIter::new(&v).collect();
    assert_eq!(
        got,
        [Ok(Nla {
            ty: 7,
            nested: false,
            mandatory: false,
            payload: &[9]
        })]
    );
}

#[test]
fn malformed_struct_payload_is_refused() {
    let mut p = nested(minimal_disk_conf);
    p.extend_from_slice(&hdr(200, 8));
    assert!(matches!(
        parse_all(&DISK_CONF, &p, ParseMode::Create),
        Err(FieldError::Malformed(NlaError::BadLength { .. }))
    ));
}

// ---- properties ---------------------------------------------------------------------------------

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    i >= o && i + inner.len() <= o + outer.len()
}

fn walk(input: &[u8], buf: &[u8], depth: u32) -> Result<(), TestCaseError> {
    let mut count = 0usize;
    for a in NlaIter::new(buf) {
        count += 1;
        prop_assert!(count <= buf.len() / 4 + 1, "iteration must end");
        let Ok(a) = a else { continue };
        prop_assert!(within(input, a.payload));
        prop_assert!(within(buf, a.payload));
        prop_assert_eq!(a.ty & !NLA_TYPE_MASK, 0);
        if depth < 4 {
            walk(input, a.payload, depth + 1)?;
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn iterating_arbitrary_bytes_never_panics_or_escapes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        walk(&bytes, &bytes, 0)?;
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for s in STRUCTS {
            for mode in [ParseMode::Create, ParseMode::Change] {
                let _ = s.parse(&bytes, mode, |_, v| {
                    if let FieldValue::Str(p) | FieldValue::Bin(p) = v {
                        assert!(within(&bytes, p));
                    }
                });
            }
            for f in s.fields {
                let _ = f.decode(&bytes);
            }
        }
        let _ = DrbdGenlMsgHdr::decode(&bytes);
        let _ = GenlMsgHdr::decode(&bytes);
    }

    #[test]
    fn structured_garbage_never_panics(attrs in proptest::collection::vec((0u16..40, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..16)) {
        let mut buf = [0u8; 1024];
        let mut w = NlaWriter::new(&mut buf);
        for (id, m, payload) in &attrs {
            w.put(id | if *m { DRBD_GENLA_F_MANDATORY } else { 0 }, payload).unwrap();
        }
        let bytes = w.as_bytes().to_vec();
        for s in STRUCTS {
            for mode in [ParseMode::Create, ParseMode::Change] {
                let _ = s.parse(&bytes, mode, |_, _| {});
            }
        }
    }

    #[test]
    fn writer_then_iterator_round_trips(attrs in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..24)) {
        let mut buf = vec![0u8; 24 * 68];
        let mut w = NlaWriter::new(&mut buf);
        for (ty, payload) in &attrs {
            w.put(*ty, payload).unwrap();
        }
        prop_assert_eq!(w.len() % 4, 0);
        let got: Vec<_> = NlaIter::new(w.as_bytes()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), attrs.len());
        for (a, (ty, payload)) in got.iter().zip(&attrs) {
            prop_assert_eq!(a.ty, ty & NLA_TYPE_MASK);
            prop_assert_eq!(a.nested, ty & NLA_F_NESTED != 0);
            prop_assert_eq!(a.mandatory, ty & DRBD_GENLA_F_MANDATORY != 0);
            prop_assert_eq!(a.payload, &payload[..]);
        }
    }

    #[test]
    fn nests_round_trip(inner in proptest::collection::vec(any::<u32>(), 0..20), outer_ty in 1u16..25) {
        let mut buf = [0u8; 512];
        let mut w = NlaWriter::new(&mut buf);
        let n = w.nest_start(outer_ty).unwrap();
        for (i, v) in inner.iter().enumerate() {
            w.put_u32(i as u16 + 1, *v).unwrap();
        }
        w.nest_end(n).unwrap();
        let top: Vec<_> = NlaIter::new(w.as_bytes()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(top.len(), 1);
        prop_assert_eq!(top[0].ty, outer_ty);
        let vals: Vec<u32> = top[0].nested_iter().map(|a| a.unwrap().get_u32().unwrap()).collect();
        prop_assert_eq!(vals, inner);
    }

    #[test]
    fn headers_round_trip(minor: u32, flags: u32) {
        let h = DrbdGenlMsgHdr { minor, flags };
        let mut buf = [0u8; 8];
        h.encode(&mut buf).unwrap();
        prop_assert_eq!(DrbdGenlMsgHdr::decode(&buf), Ok(h));
        prop_assert_eq!(DrbdGenlMsgHdr::reply(minor, flags as i32).ret_code(), flags as i32);
    }

    #[test]
    fn state_word_round_trips(v in 0u32..(1 << 23)) {
        prop_assert_eq!(DrbdState::from_u32(v).to_u32(), v);
    }
}
