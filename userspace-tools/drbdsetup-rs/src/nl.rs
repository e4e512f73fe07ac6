//! The generic-netlink socket: family resolution through nlctrl, framing of `drbd` requests,
//! and reception of replies, dumps and broadcasts, with drbd-utils' `libgenl` semantics
//! (replies only from the kernel, a receive buffer that grows, timeouts via poll).

use std::io;
use std::os::fd::AsRawFd;

use drbd_core::genl::{Cmd, DrbdGenlMsgHdr, DRBD_GENLMSGHDR_SIZE, FAMILY_NAME, FAMILY_VERSION};
use netlink_packet_core::{
    DecodeError, Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, ParseableParametrized,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::{GenlCtrlAttrs, McastGrpAttrs};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket};

/// `GENL_ID_CTRL`, nlctrl's fixed family id (also its notify group's id).
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_DELMCAST_GRP`.
pub const CTRL_CMD_DELMCAST_GRP: u8 = 8;
/// `CTRL_ATTR_FAMILY_ID`.
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `NLMSG_MIN_TYPE`: lower message types are netlink control messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// A `drbd` family request: the family header and the attribute bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrbdRequest {
    pub cmd: Cmd,
    pub hdr: DrbdGenlMsgHdr,
    pub attrs: Vec<u8>,
}

impl GenlFamily for DrbdRequest {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd as u8
    }
    fn version(&self) -> u8 {
        FAMILY_VERSION as u8
    }
}

impl Emitable for DrbdRequest {
    fn buffer_len(&self) -> usize {
        DRBD_GENLMSGHDR_SIZE + self.attrs.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        // The buffer is sized by buffer_len, so the header always fits.
        let _ = self.hdr.encode(buffer);
        buffer[DRBD_GENLMSGHDR_SIZE..self.buffer_len()].copy_from_slice(&self.attrs);
    }
}

/// A received generic-netlink payload of any family, kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawGenl {
    pub body: Vec<u8>,
}

impl ParseableParametrized<[u8], GenlHeader> for RawGenl {
    fn parse_with_param(buf: &[u8], _header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(RawGenl { body: buf.to_vec() })
    }
}

/// Builds the bytes of a request: `nlmsghdr | genlmsghdr | drbd_genlmsghdr | attrs`.
pub fn encode_request(req: DrbdRequest, family_id: u16, seq: u32, pid: u32, dump: bool) -> Vec<u8> {
    let mut g = GenlMessage::from_payload(req);
    g.set_resolved_family_id(family_id);
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
    header.sequence_number = seq;
    header.port_number = pid;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(g));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// One netlink message of a received datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// Everything after `nlmsghdr`.
    pub payload: Vec<u8>,
}

impl Msg {
    /// The generic-netlink command (first payload byte).
    pub fn genl_cmd(&self) -> u8 {
        self.payload.first().copied().unwrap_or(0)
    }

    /// The `drbd_genlmsghdr` of a `drbd` family message.
    pub fn drbd_hdr(&self) -> DrbdGenlMsgHdr {
        DrbdGenlMsgHdr::decode(self.payload.get(4..).unwrap_or(&[]))
            .unwrap_or(DrbdGenlMsgHdr { minor: 0, flags: 0 })
    }

    /// The attributes after the family header.
    pub fn drbd_attrs(&self) -> &[u8] {
        self.payload.get(4 + DRBD_GENLMSGHDR_SIZE..).unwrap_or(&[])
    }

    /// The error code of an `NLMSG_ERROR` / `NLMSG_DONE` message (negative errno or 0).
    pub fn error_code(&self) -> i32 {
        match self.payload.get(..4) {
            Some(b) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }
}

/// Splits a datagram into messages, as `nlmsg_for_each_msg` walks it: each needs a full header
/// and a length that fits. Returns the messages and whether the first one was well formed.
pub fn split_datagram(buf: &[u8]) -> (Vec<Msg>, bool) {
    let mut out = Vec::new();
    let mut off = 0;
    let mut first_ok = false;
    while buf.len() - off >= NLMSG_HDRLEN {
        let h = &buf[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < NLMSG_HDRLEN || len > h.len() {
            break;
        }
        if off == 0 {
            first_ok = true;
        }
        // Parse through netlink-packet-core for the header; the payload stays raw.
        let parsed = NetlinkMessage::<GenlMessage<RawGenl>>::deserialize(&h[..len]);
        let header = match &parsed {
            Ok(m) => m.header,
            Err(_) => {
                let mut hd = NetlinkHeader::default();
                hd.length = len as u32;
                hd.message_type = u16::from_ne_bytes([h[4], h[5]]);
                hd.flags = u16::from_ne_bytes([h[6], h[7]]);
                hd.sequence_number = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                hd.port_number = u32::from_ne_bytes([h[12], h[13], h[14], h[15]]);
                hd
            }
        };
        out.push(Msg {
            ty: header.message_type,
            flags: header.flags,
            seq: header.sequence_number,
            pid: header.port_number,
            payload: h[NLMSG_HDRLEN..len].to_vec(),
        });
        off += (len + 3) & !3;
        if off >= buf.len() {
            break;
        }
    }
    (out, first_ok)
}

/// What `genl_recv_msgs` reports besides a datagram.
#[derive(Debug)]
pub enum RecvError {
    /// Nothing arrived in time (`E_RCV_TIMEDOUT`).
    TimedOut,
    /// The receive failed (`E_RCV_FAILED`, `E_RCV_ENOBUFS`).
    Failed(io::Error),
}

/// The resolved `drbd` family.
#[derive(Clone, Debug, Default)]
pub struct Family {
    pub id: u16,
    pub version: u32,
    pub hdrsize: u32,
    pub mcast_groups: Vec<(String, u32)>,
}

/// A bound generic-netlink socket.
pub struct GenlSock {
    pub sock: Socket,
    pub pid: u32,
    pub seq_next: u32,
    pub family: Family,
}

impl GenlSock {
    /// `genl_connect_to_family`: opens the socket and asks nlctrl for the family. `None` when the
    /// socket cannot be set up or the family is unknown.
    pub fn connect(name: &str) -> Option<GenlSock> {
        let mut sock = Socket::new(NETLINK_GENERIC).ok()?;
        let bsz: libc::c_int = 1 << 20;
        for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
            // SAFETY: setsockopt with a pointer to a live c_int and its size.
            let r = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&bsz as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r != 0 {
                return None;
            }
        }
        let addr = sock.bind_auto().ok()?;
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        let mut s = GenlSock {
            sock,
            pid: addr.port_number(),
            seq_next: seq,
            family: Family::default(),
        };
        let mut g = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
        });
        g.finalize();
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST;
        header.sequence_number = s.next_seq();
        header.port_number = s.pid;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(g));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        s.send(&buf).ok()?;
        let data = s.recv(3000).ok()?;
        let parsed = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&data).ok()?;
        let NetlinkPayload::InnerMessage(reply) = parsed.payload else {
            return None;
        };
        for nla in reply.payload.nlas {
            match nla {
                GenlCtrlAttrs::FamilyId(id) => s.family.id = id,
                GenlCtrlAttrs::Version(v) => s.family.version = v,
                GenlCtrlAttrs::HdrSize(h) => s.family.hdrsize = h,
                GenlCtrlAttrs::McastGroups(groups) => {
                    for g in groups {
                        let mut name = None;
                        let mut id = None;
                        for a in g {
                            match a {
                                McastGrpAttrs::Name(n) => name = Some(n),
                                McastGrpAttrs::Id(i) => id = Some(i),
                            }
                        }
                        if let (Some(n), Some(i)) = (name, id) {
                            s.family.mcast_groups.push((n, i));
                        }
                    }
                }
                _ => {}
            }
        }
        if s.family.id == 0 {
            return None;
        }
        Some(s)
    }

    /// The next sequence number (`s_seq_next++`).
    pub fn next_seq(&mut self) -> u32 {
        let s = self.seq_next;
        self.seq_next = self.seq_next.wrapping_add(1);
        s
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        let mut off = 0;
        while off < buf.len() {
            match self.sock.send(&buf[off..], 0) {
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Joins a multicast group of the family by name; false if it has no such group.
    pub fn join_group(&self, name: &str) -> bool {
        match self.family.mcast_groups.iter().find(|(n, _)| n == name) {
            Some((_, id)) => self.sock.add_membership(*id).is_ok(),
            None => false,
        }
    }

    /// Joins nlctrl's notify group, to notice the family going away (rmmod).
    pub fn join_ctrl_notify(&self) {
        let _ = self.sock.add_membership(u32::from(GENL_ID_CTRL));
    }

    /// `genl_recv_timeout`: waits up to `timeout_ms` (negative: forever) and returns one
    /// datagram sent by the kernel; datagrams from other senders are skipped.
    pub fn recv(&self, timeout_ms: i32) -> Result<Vec<u8>, RecvError> {
        let fd = self.sock.as_raw_fd();
        loop {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(RecvError::TimedOut);
            }
            if r != 1 || pfd.revents & libc::POLLIN == 0 {
                return Err(RecvError::TimedOut);
            }
            let mut probe = [0u8; 1];
            // SAFETY: peeking into a one-byte buffer; MSG_TRUNC makes recv return the real size.
            let n = unsafe {
                libc::recv(
                    fd,
                    probe.as_mut_ptr().cast(),
                    probe.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => return Err(RecvError::TimedOut),
                    _ => return Err(RecvError::Failed(e)),
                }
            }
            let mut buf = vec![0u8; (n as usize).max(16)];
            // SAFETY: sockaddr_nl storage and a buffer of buf.len() bytes.
            let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            let mut alen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            let n = unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut addr as *mut libc::sockaddr_nl).cast(),
                    &mut alen,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => return Err(RecvError::TimedOut),
                    _ => return Err(RecvError::Failed(e)),
                }
            }
            if n == 0 {
                return Err(RecvError::TimedOut);
            }
            if addr.nl_pid != 0 {
                continue;
            }
            buf.truncate(n as usize);
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_framing() {
        let req = DrbdRequest {
            cmd: Cmd::Secondary,
            hdr: DrbdGenlMsgHdr { minor: 3, flags: 0 },
            attrs: vec![],
        };
        let b = encode_request(req, 0x1c, 7, 99, false);
        let mut want = Vec::new();
        want.extend_from_slice(&28u32.to_ne_bytes()); // nlmsg_len
        want.extend_from_slice(&0x1cu16.to_ne_bytes()); // type: family id
        want.extend_from_slice(&1u16.to_ne_bytes()); // NLM_F_REQUEST
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&99u32.to_ne_bytes());
        want.extend_from_slice(&[15, 1, 0, 0]); // cmd SECONDARY, version 1
        want.extend_from_slice(&3u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        assert_eq!(b, want);
        let dump = encode_request(
            DrbdRequest {
                cmd: Cmd::GetResources,
                hdr: DrbdGenlMsgHdr {
                    minor: u32::MAX,
                    flags: 0,
                },
                attrs: vec![],
            },
            0x1c,
            1,
            1,
            true,
        );
        assert_eq!(
            u16::from_ne_bytes([dump[6], dump[7]]),
            NLM_F_REQUEST | NLM_F_DUMP
        );
    }

    #[test]
    fn splits_multi_message_datagrams() {
        let a = encode_request(
            DrbdRequest {
                cmd: Cmd::GetStatus,
                hdr: DrbdGenlMsgHdr { minor: 1, flags: 0 },
                attrs: vec![5, 0, 1, 0, 9, 0, 0, 0],
            },
            0x1c,
            1,
            0,
            false,
        );
        let mut d = a.clone();
        d.extend_from_slice(&a);
        let (msgs, ok) = split_datagram(&d);
        assert!(ok);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].drbd_hdr().minor, 1);
        assert_eq!(msgs[1].genl_cmd(), Cmd::GetStatus as u8);
        assert_eq!(msgs[1].drbd_attrs(), &[5, 0, 1, 0, 9, 0, 0, 0]);
        let (msgs, ok) = split_datagram(&d[..10]);
        assert!(!ok && msgs.is_empty());
    }
}
