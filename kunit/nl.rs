// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the control plane's kernel-side pieces: a reply built into a real skb by
//! `sys::genl` and parsed back with the pure codec, the C module's attribute policies as
//! `nl::policy` applies them, and the `/proc/drbd` formatter.

use kernel::prelude::*;

#[kunit_tests(drbd_rs_nl)]
mod tests {
    use crate::drbd_core::genl::*;
    use crate::drbd_core::state::State;
    use crate::control::nl::policy::{validate, validate_stream, Pol};
    use crate::control::proc_drbd::{write_all, ProcDevice};
    use crate::resource::{Conf, DeviceStats};
    use crate::sys::genl::{Message, TestFamily};
    use core::fmt::Write;
    use kernel::bindings;
    use kernel::prelude::*;

    /// A `fmt::Write` into a fixed buffer.
    struct Buf {
        b: [u8; 512],
        n: usize,
    }

    impl Buf {
        fn new() -> Self {
            Buf { b: [0; 512], n: 0 }
        }
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.b[..self.n]).unwrap_or("<utf8>")
        }
    }

    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.n + s.len();
            if end > self.b.len() {
                return Err(core::fmt::Error);
            }
            self.b[self.n..end].copy_from_slice(s.as_bytes());
            self.n = end;
            Ok(())
        }
    }

    fn ctx(flags: u16, name: &[u8], out: &mut [u8]) -> usize {
        let mut inner = [0u8; 256];
        let mut w = NlaWriter::new(&mut inner);
        w.put_u32(1 | DRBD_GENLA_F_MANDATORY, 0).unwrap();
        w.put_str_bytes(2 | DRBD_GENLA_F_MANDATORY, name).unwrap();
        let n = w.len();
        let mut o = NlaWriter::new(out);
        o.put(TopAttr::CfgContext as u16 | flags, &inner[..n])
            .unwrap();
        o.len()
    }

    #[test]
    fn reply_built_in_an_skb_parses_back() {
        let fam = TestFamily::new(DRBD_GENLMSGHDR_SIZE as u32, 0x1d);
        let mut hdr = [0u8; DRBD_GENLMSGHDR_SIZE];
        DrbdGenlMsgHdr::reply(7, RetCode::MinorInvalid as i32)
            .encode(&mut hdr)
            .unwrap();
        let mut attrs = [0u8; 64];
        let mut w = NlaWriter::new(&mut attrs);
        let n = w.nest_start(TopAttr::CfgReply as u16).unwrap();
        w.put_string(1, "unknown minor").unwrap();
        w.nest_end(n).unwrap();
        let len = w.len();

        let mut msg = Message::new(
            fam.family(),
            1234,
            99,
            0,
            Cmd::GetStatus as u8,
            &hdr,
            bindings::GFP_KERNEL,
        )
        .unwrap();
        msg.append(&attrs[..len]).unwrap();
        let mut bytes = KVec::new();
        msg.finished_bytes(&mut bytes).unwrap();

        // nlmsghdr: length, family id as type, no flags, seq, port.
        let b = bytes.as_slice();
        assert_eq!(
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            b.len()
        );
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x1d);
        assert_eq!(u32::from_ne_bytes([b[8], b[9], b[10], b[11]]), 99);
        assert_eq!(u32::from_ne_bytes([b[12], b[13], b[14], b[15]]), 1234);
        let g = GenlMsgHdr::decode(&b[16..]).unwrap();
        assert_eq!(g.cmd, Cmd::GetStatus as u8);
        assert_eq!(g.version, 1);
        let d = DrbdGenlMsgHdr::decode(&b[20..]).unwrap();
        assert_eq!(d.minor, 7);
        assert_eq!(d.ret_code(), 127);
        let body = &b[28..];
        let reply = find_last(body, TopAttr::CfgReply as u16).unwrap().unwrap();
        let text = find_last(reply.payload, 1).unwrap().unwrap();
        assert_eq!(text.payload, b"unknown minor\0");
    }

    #[test]
    fn an_attribute_that_does_not_fit_is_refused_and_the_message_stays_usable() {
        let fam = TestFamily::new(DRBD_GENLMSGHDR_SIZE as u32, 0x1d);
        let hdr = [0u8; DRBD_GENLMSGHDR_SIZE];
        let mut msg = Message::new(fam.family(), 0, 0, 0, 1, &hdr, bindings::GFP_KERNEL).unwrap();
        let big = KVec::from_elem(0u8, 16384, GFP_KERNEL).unwrap();
        assert!(msg.append(&big).is_err());
        assert!(msg.append(&[4, 0, 1, 0]).is_ok());
        // A header of the wrong size is refused before anything is allocated.
        assert!(Message::new(fam.family(), 0, 0, 0, 1, &hdr[..4], bindings::GFP_KERNEL).is_err());
    }

    #[test]
    fn policies_follow_the_c_module() {
        let mut b = [0u8; 512];
        // drbdsetup-84 sends its structs with NLA_F_NESTED; without it, strict validation
        // refuses the request.
        let n = ctx(NLA_F_NESTED, b"r0", &mut b);
        assert_eq!(validate(Cmd::NewResource, &b[..n]), Ok(()));
        let n = ctx(0, b"r0", &mut b);
        assert_eq!(validate(Cmd::NewResource, &b[..n]), Err(EINVAL));
        // A struct the command does not take, and numbers beyond maxattr.
        let mut w = NlaWriter::new(&mut b);
        w.put(TopAttr::DiskConf as u16 | NLA_F_NESTED, &[]).unwrap();
        let n = w.len();
        assert_eq!(validate(Cmd::NewResource, &b[..n]), Err(EINVAL));
        assert_eq!(validate(Cmd::Attach, &b[..n]), Ok(()));
        // Trailing bytes.
        let n = ctx(NLA_F_NESTED, b"r0", &mut b);
        assert_eq!(validate(Cmd::NewResource, &b[..n + 2]), Err(EINVAL));
        // A string of 128 characters fits the 128-byte C buffer policy; 129 does not.
        let long = [b'x'; 129];
        let n = ctx(NLA_F_NESTED, &long[..128], &mut b);
        assert_eq!(validate(Cmd::NewResource, &b[..n]), Ok(()));
        let n = ctx(NLA_F_NESTED, &long, &mut b);
        assert_eq!(validate(Cmd::NewResource, &b[..n]), Err(EINVAL));
    }

    #[test]
    fn field_policies_check_lengths_and_ranges() {
        let pol = |_: u16| Pol::U32;
        let mut b = [0u8; 64];
        let mut w = NlaWriter::new(&mut b);
        w.put_u16(1, 5).unwrap();
        let n = w.len();
        assert_eq!(validate_stream(&b[..n], 1, &pol), Err(EINVAL));
        let bin = |_: u16| Pol::BinaryMax(4);
        let mut w = NlaWriter::new(&mut b);
        w.put(1, &[1, 2, 3, 4, 5]).unwrap();
        let n = w.len();
        assert_eq!(validate_stream(&b[..n], 1, &bin), Err(ERANGE));
        // Type 0 and types beyond the policy are unknown.
        let mut w = NlaWriter::new(&mut b);
        w.put_u32(2, 5).unwrap();
        let n = w.len();
        assert_eq!(validate_stream(&b[..n], 1, &pol), Err(EINVAL));
        // A nest shorter than an attribute header.
        let nest = |_: u16| Pol::Nested(&RES_OPTS);
        let mut w = NlaWriter::new(&mut b);
        w.put(4 | NLA_F_NESTED, &[1, 2]).unwrap();
        let n = w.len();
        assert_eq!(validate_stream(&b[..n], 4, &nest), Err(ERANGE));
    }

    #[test]
    fn conf_defaults_keep_invariant_fields() {
        let mut c = Conf::with_defaults(&DISK_CONF);
        assert_eq!(c.num(10), limits::AL_EXTENTS_DEF as u64);
        c.set_num(4, 2048);
        c.set_num(10, 3000);
        c.set_str(1, b"/dev/vda");
        c.set_defaults();
        assert_eq!(c.num(4), 2048);
        assert_eq!(c.str(1), b"/dev/vda");
        assert_eq!(c.num(10), limits::AL_EXTENTS_DEF as u64);
        // Strings are cut like nla_strscpy into the C buffer.
        let long = [b'y'; 200];
        c.set_str(2, &long);
        assert_eq!(c.str(2).len(), 127);
    }

    #[test]
    fn proc_drbd_lines() {
        let mut out = Buf::new();
        let unconfigured = ProcDevice {
            minor: 0,
            state: State::UNCONFIGURED,
            stats: DeviceStats::default(),
            protocol: None,
            epochs: 1,
        };
        let primary = ProcDevice {
            minor: 3,
            state: State {
                role: Role::Primary,
                disk: DiskState::UpToDate,
                ..State::UNCONFIGURED
            },
            stats: DeviceStats {
                congestion: b'-',
                writ_cnt: 8,
                read_cnt: 2,
                ..DeviceStats::default()
            },
            protocol: None,
            epochs: 1,
        };
        write_all(&mut out, "ABC", &[unconfigured, primary]).unwrap();
        assert_eq!(
            out.as_str(),
            "version: 8.4.11 (api:1/proto:86-101)\n\
             srcversion: ABC                     \n \
             0: cs:Unconfigured\n\
             \n \
             3: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----\n    \
             ns:0 nr:0 dw:4 dr:1 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
        );
    }
}
