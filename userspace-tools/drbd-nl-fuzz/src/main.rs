//! drbd-nl-fuzz: talks to the DRBD 8.4 generic-netlink family with hand-made requests, including
//! deliberately malformed ones, and prints what the kernel answers, decoded, one line per
//! message. Run against the C DRBD and against drbd-rs, the two transcripts must be equal.
//!
//! ```text
//! drbd-nl-fuzz [--family NAME] probe              the fixed request suite (creates and removes
//!                                                 resources fz0/fz1 and minors 90/91)
//! drbd-nl-fuzz [--family NAME] limits             connect fzl (minor 92) with every network
//!                                                 time-out at u32::MAX, then disconnect
//! drbd-nl-fuzz [--family NAME] dump WHAT [RES]    a dump request: status, resources, devices,
//!                                                 connections, peer-devices, initial-state
//! drbd-nl-fuzz [--family NAME] listen SECONDS     prints the broadcasts of the `events` group
//! drbd-nl-fuzz as-uid UID PROGRAM [ARGS...]       runs PROGRAM as UID/GID UID without capabilities
//! ```
//!
//! Exit status: 0 when every request got an answer (whatever it was), 1 on a local error.

use drbd_core::genl::*;
use std::ffi::CString;
use std::io::{self, Write};

mod probe;

use probe::probe;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
const SOL_NETLINK: i32 = 270;
const NETLINK_ADD_MEMBERSHIP: i32 = 1;

/// A generic-netlink socket.
struct Sock {
    fd: i32,
    seq: u32,
}

impl Sock {
    fn open() -> io::Result<Sock> {
        // SAFETY: plain syscalls on a descriptor we own.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            if libc::bind(
                fd,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            ) < 0
            {
                let e = io::Error::last_os_error();
                libc::close(fd);
                return Err(e);
            }
            // Big enough for any dump the suite causes.
            let sz: i32 = 1 << 20;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &sz as *const i32 as *const libc::c_void,
                4,
            );
            Ok(Sock { fd, seq: 1 })
        }
    }

    fn join(&self, group: u32) -> io::Result<()> {
        // SAFETY: setsockopt with a valid u32.
        let r = unsafe {
            libc::setsockopt(
                self.fd,
                SOL_NETLINK,
                NETLINK_ADD_MEMBERSHIP,
                &group as *const u32 as *const libc::c_void,
                4,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn send(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<u32> {
        let seq = self.seq;
        self.seq += 1;
        let len = NLMSG_HDRLEN + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: sending a buffer we own to the kernel (address zeroed = pid 0).
        let r = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd,
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(seq)
    }

    /// One datagram; `None` when `nonblock` and nothing is queued.
    fn recv(&self, nonblock: bool) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 1 << 17];
        let flags = if nonblock { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: receiving into a buffer we own.
        let r = unsafe {
            libc::recv(
                self.fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                flags,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if nonblock && e.raw_os_error() == Some(libc::EAGAIN) {
                return Ok(None);
            }
            return Err(e);
        }
        buf.truncate(r as usize);
        Ok(Some(buf))
    }

    fn set_timeout(&self, secs: i64) {
        let tv = libc::timeval {
            tv_sec: secs,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a valid timeval.
        unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(self.fd) };
    }
}

/// One netlink message: type, flags, and the bytes after `nlmsghdr`.
struct Msg {
    ty: u16,
    flags: u16,
    body: Vec<u8>,
}

fn split_msgs(buf: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || pos + len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes(buf[pos + 4..pos + 6].try_into().unwrap());
        let flags = u16::from_ne_bytes(buf[pos + 6..pos + 8].try_into().unwrap());
        out.push(Msg {
            ty,
            flags,
            body: buf[pos + NLMSG_HDRLEN..pos + len].to_vec(),
        });
        pos += (len + 3) & !3;
    }
    out
}

/// The family id and the `events` group id of `name`.
fn resolve(sock: &mut Sock, name: &str) -> io::Result<(u16, u32)> {
    let mut body = vec![CTRL_CMD_GETFAMILY, 1, 0, 0];
    let mut attrs = [0u8; 64];
    let mut w = NlaWriter::new(&mut attrs);
    w.put_string(CTRL_ATTR_FAMILY_NAME, name).unwrap();
    body.extend_from_slice(w.as_bytes());
    sock.send(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, &body)?;
    let mut id = None;
    let mut group = 0;
    loop {
        let buf = sock.recv(false)?.unwrap_or_default();
        for m in split_msgs(&buf) {
            if m.ty == NLMSG_ERROR {
                let err = i32::from_ne_bytes(m.body[0..4].try_into().unwrap());
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(-err));
                }
                return id
                    .map(|i| (i, group))
                    .ok_or_else(|| io::Error::other("no family id"));
            }
            for a in NlaIter::new(&m.body[GENL_HDRLEN..]).flatten() {
                match a.ty {
                    CTRL_ATTR_FAMILY_ID => id = a.get_u16().ok(),
                    CTRL_ATTR_MCAST_GROUPS => {
                        for g in a.nested_iter().flatten() {
                            let mut gname = None;
                            let mut gid = None;
                            for f in g.nested_iter().flatten() {
                                match f.ty {
                                    CTRL_ATTR_MCAST_GRP_NAME => gname = Some(f.payload.to_vec()),
                                    CTRL_ATTR_MCAST_GRP_ID => gid = f.get_u32().ok(),
                                    _ => {}
                                }
                            }
                            if gname.as_deref() == Some(b"events\0") {
                                group = gid.unwrap_or(0);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

// ---- decoding ------------------------------------------------------------------------------

fn cmd_name(cmd: u8) -> String {
    match Cmd::from_raw(cmd) {
        Some(c) => c.name().trim_start_matches("DRBD_ADM_").to_string(),
        None => format!("CMD{cmd}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn field_text(def: Option<&FieldDef>, ty: u16, payload: &[u8]) -> String {
    let Some(f) = def else {
        return format!("?{ty}=0x{}", hex(payload));
    };
    match f.decode(payload) {
        Ok(FieldValue::Unsigned(v)) => format!("{}={v}", f.c_name),
        Ok(FieldValue::Signed(v)) => format!("{}={v}", f.c_name),
        Ok(FieldValue::Flag(v)) => format!("{}={}", f.c_name, u8::from(v)),
        Ok(FieldValue::Str(s)) => format!("{}={:?}", f.c_name, String::from_utf8_lossy(s)),
        Ok(FieldValue::Bin(b)) => format!("{}=0x{}", f.c_name, hex(b)),
        Err(e) => format!("{}=<{e:?} 0x{}>", f.c_name, hex(payload)),
    }
}

/// One line per DRBD message: command, minor, ret code, then every struct with its fields, in
/// the order the kernel put them (the payload length of each attribute included, since a
/// payload of the wrong width is a difference that matters).
fn describe_drbd(body: &[u8]) -> String {
    let Ok(g) = GenlMsgHdr::decode(body) else {
        return format!("short genl message 0x{}", hex(body));
    };
    let rest = &body[GENL_HDRLEN..];
    let Ok(d) = DrbdGenlMsgHdr::decode(rest) else {
        return format!("{} short drbd header 0x{}", cmd_name(g.cmd), hex(rest));
    };
    let mut s = format!(
        "{} v{} minor={} ret={}",
        cmd_name(g.cmd),
        g.version,
        d.minor as i32,
        d.ret_code()
    );
    for a in NlaIter::new(&rest[DRBD_GENLMSGHDR_SIZE..]) {
        let a = match a {
            Ok(a) => a,
            Err(e) => {
                s.push_str(&format!(" <{e:?}>"));
                break;
            }
        };
        let tla = TopAttr::from_raw(a.ty);
        let name = tla.map_or_else(
            || format!("?{}", a.ty),
            |t| t.struct_def().c_name.to_string(),
        );
        s.push_str(&format!(" {name}{}{{", if a.nested { "+N" } else { "" }));
        let mut first = true;
        for f in a.nested_iter() {
            match f {
                Ok(f) => {
                    let def = tla.and_then(|t| t.struct_def().field(f.ty));
                    s.push_str(if first { "" } else { " " });
                    first = false;
                    s.push_str(&field_text(def, f.ty, f.payload));
                    s.push_str(&format!("/{}", f.payload.len()));
                }
                Err(e) => s.push_str(&format!(" <{e:?}>")),
            }
        }
        s.push('}');
    }
    s
}

/// A dump the kernel keeps going (the C module answers an unknown resource filter with the same
/// error message on every round) is read this far, then abandoned.
const MAX_DUMP_MESSAGES: usize = 16;

/// Sends one request and prints every answer until the ack, error or end of dump. The flag is
/// set when the answer was abandoned and the socket must not be used again.
fn exchange(
    sock: &mut Sock,
    family: u16,
    flags: u16,
    body: &[u8],
) -> io::Result<(Vec<String>, bool)> {
    sock.send(family, NLM_F_REQUEST | NLM_F_ACK | flags, body)?;
    let mut lines = Vec::new();
    let mut count = 0;
    loop {
        if count >= MAX_DUMP_MESSAGES {
            lines.push(format!("(stopped reading after {count} messages)"));
            return Ok((lines, true));
        }
        let Some(buf) = sock.recv(false)? else {
            continue;
        };
        for m in split_msgs(&buf) {
            match m.ty {
                NLMSG_ERROR => {
                    let err = i32::from_ne_bytes(m.body[0..4].try_into().unwrap());
                    lines.push(format!("errno={}", errno_name(-err)));
                    return Ok((lines, false));
                }
                NLMSG_DONE => {
                    let err = m
                        .body
                        .get(0..4)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap()));
                    lines.push(format!("done errno={}", errno_name(-err)));
                    // A dump with NLM_F_ACK gets no extra ack on older kernels; newer ones send
                    // one. Drain it if it comes, without waiting for it.
                    let _ = sock.recv(true);
                    return Ok((lines, false));
                }
                _ => {
                    let multi = if m.flags & NLM_F_MULTI != 0 {
                        "multi "
                    } else {
                        ""
                    };
                    lines.push(format!("{multi}{}", describe_drbd(&m.body)));
                    count += 1;
                }
            }
        }
    }
}

fn errno_name(e: i32) -> String {
    let n = match e {
        0 => "0",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINVAL => "EINVAL",
        libc::ENODEV => "ENODEV",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOMEM => "ENOMEM",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ERANGE => "ERANGE",
        libc::ENOMSG => "ENOMSG",
        libc::EEXIST => "EEXIST",
        _ => return format!("{e}"),
    };
    n.to_string()
}

// ---- request building ----------------------------------------------------------------------

/// A request under construction: genl and drbd headers, then attributes.
struct Req {
    cmd: u8,
    minor: u32,
    hflags: u32,
    attrs: Vec<u8>,
    /// Cut the message after this many body bytes (for truncated-header cases).
    cut: Option<usize>,
}

impl Req {
    fn new(cmd: u8, minor: u32) -> Req {
        Req {
            cmd,
            minor,
            hflags: 0,
            attrs: Vec::new(),
            cut: None,
        }
    }

    /// Appends a top-level attribute of raw type `ty` holding `payload`.
    fn tla(mut self, ty: u16, payload: &[u8]) -> Req {
        let mut buf = vec![0u8; payload.len() + 8];
        let mut w = NlaWriter::new(&mut buf);
        w.put(ty, payload).unwrap();
        let n = w.len();
        self.attrs.extend_from_slice(&buf[..n]);
        self
    }

    fn raw(mut self, bytes: &[u8]) -> Req {
        self.attrs.extend_from_slice(bytes);
        self
    }

    /// `drbd_cfg_context` the way drbdsetup-84 sends it (NLA_F_NESTED, mandatory bits).
    fn ctx(self, name: Option<&[u8]>, volume: Option<u32>) -> Req {
        self.tla(
            TopAttr::CfgContext as u16 | NLA_F_NESTED,
            &ctx_payload(name, volume),
        )
    }

    /// A struct attribute with NLA_F_NESTED, as drbdsetup-84 sends them.
    fn nest(self, tla: u16, payload: &[u8]) -> Req {
        self.tla(tla | NLA_F_NESTED, payload)
    }

    fn body(&self) -> Vec<u8> {
        let mut b = vec![self.cmd, FAMILY_VERSION as u8, 0, 0];
        b.extend_from_slice(&self.minor.to_ne_bytes());
        b.extend_from_slice(&self.hflags.to_ne_bytes());
        b.extend_from_slice(&self.attrs);
        if let Some(n) = self.cut {
            b.truncate(n);
        }
        b
    }
}

fn ctx_payload(name: Option<&[u8]>, volume: Option<u32>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut w = NlaWriter::new(&mut buf);
    if let Some(v) = volume {
        w.put_u32(1 | DRBD_GENLA_F_MANDATORY, v).unwrap();
    }
    if let Some(n) = name {
        w.put_str_bytes(2 | DRBD_GENLA_F_MANDATORY, n).unwrap();
    }
    let n = w.len();
    buf.truncate(n);
    buf
}

/// `limits`: a connect with every network time-out at its largest u32 value (drbdsetup would
/// refuse them; the kernel must not overflow converting them to milliseconds or jiffies), to
/// a port nobody listens on, then a disconnect, which must not wait for any of those
/// time-outs. Prints what happened in words that do not depend on the module (the C module
/// answers a connect with SS_SUCCESS, drbd-rs with NO_ERROR: both are "accepted").
fn limits(sock: &mut Sock, family: u16) -> io::Result<()> {
    let ret_of = |lines: &[String]| -> Option<i32> {
        lines.iter().find_map(|l| {
            let r = l.split(" ret=").nth(1)?;
            r.split(|c: char| !c.is_ascii_digit() && c != '-').next()?.parse().ok()
        })
    };
    let verdict = |ret: Option<i32>| match ret {
        Some(1) | Some(101) => "accepted".to_string(),
        Some(r) => format!("refused ({r})"),
        None => "no answer".to_string(),
    };
    let none = MINOR_NONE;
    let setup = [
        Req::new(cmd(Cmd::NewResource), none).ctx(Some(b"fzl"), None),
        Req::new(cmd(Cmd::NewMinor), 92).ctx(Some(b"fzl"), Some(0)),
    ];
    for r in setup.iter() {
        let (lines, _) = exchange(sock, family, 0, &r.body())?;
        println!("setup: {}", verdict(ret_of(&lines)));
    }
    let huge = u32::MAX.to_ne_bytes();
    let connect = Req::new(cmd(Cmd::Connect), none)
        .tla(TopAttr::CfgContext as u16 | NLA_F_NESTED, &addr_ctx(Some(b"fzl")))
        .nest(
            TopAttr::NetConf as u16,
            &fields(&[
                (6 | M, &3u32.to_ne_bytes()),
                (7, &huge),
                (8, &huge),
                (9, &huge),
                (10, &huge),
                (13, &huge),
                (14, &huge),
                (34, &huge),
            ]),
        );
    let (lines, _) = exchange(sock, family, 0, &connect.body())?;
    println!("connect with every time-out at {}: {}", u32::MAX, verdict(ret_of(&lines)));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t = std::time::Instant::now();
    let disconnect = Req::new(cmd(Cmd::Disconnect), none)
        .tla(TopAttr::CfgContext as u16 | NLA_F_NESTED, &addr_ctx(None));
    let (lines, _) = exchange(sock, family, 0, &disconnect.body())?;
    let secs = t.elapsed().as_secs();
    println!(
        "disconnect: {}, {}",
        verdict(ret_of(&lines)),
        if secs < 20 { "within 20 s".to_string() } else { format!("after {secs} s") }
    );
    let teardown = [
        Req::new(cmd(Cmd::DelMinor), 92),
        Req::new(cmd(Cmd::DelResource), none).ctx(Some(b"fzl"), None),
    ];
    for r in teardown.iter() {
        let (lines, _) = exchange(sock, family, 0, &r.body())?;
        println!("teardown: {}", verdict(ret_of(&lines)));
    }
    Ok(())
}

/// A context with resource `name` and the addresses 127.0.0.1:7998 (ours) and
/// 127.0.0.1:7999 (the peer's), as `struct sockaddr_in` (what drbdsetup sends).
fn addr_ctx(name: Option<&[u8]>) -> Vec<u8> {
    let sin = |port: u16| {
        let mut a = vec![0u8; 16];
        a[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        a[2..4].copy_from_slice(&port.to_be_bytes());
        a[4..8].copy_from_slice(&[127, 0, 0, 1]);
        a
    };
    let mut buf = vec![0u8; 512];
    let mut w = NlaWriter::new(&mut buf);
    if let Some(name) = name {
        w.put_str_bytes(2 | DRBD_GENLA_F_MANDATORY, name).unwrap();
    }
    w.put(3 | DRBD_GENLA_F_MANDATORY, &sin(7998)).unwrap();
    w.put(4 | DRBD_GENLA_F_MANDATORY, &sin(7999)).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

/// Attribute stream of fields `(raw type, payload)`.
fn fields(list: &[(u16, &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let mut w = NlaWriter::new(&mut buf);
    for (ty, p) in list {
        w.put(*ty, p).unwrap();
    }
    let n = w.len();
    buf.truncate(n);
    buf
}

const M: u16 = DRBD_GENLA_F_MANDATORY;

fn cmd(c: Cmd) -> u8 {
    c as u8
}

fn dump(sock: &mut Sock, family: u16, what: &str, res: Option<&str>) -> io::Result<()> {
    let c = match what {
        "status" => Cmd::GetStatus,
        "resources" => Cmd::GetResources,
        "devices" => Cmd::GetDevices,
        "connections" => Cmd::GetConnections,
        "peer-devices" => Cmd::GetPeerDevices,
        "initial-state" => Cmd::GetInitialState,
        _ => return Err(io::Error::other(format!("unknown dump {what}"))),
    };
    let mut r = Req::new(c as u8, MINOR_NONE);
    if let Some(res) = res {
        r = r.ctx(Some(res.as_bytes()), None);
    }
    for l in exchange(sock, family, NLM_F_DUMP, &r.body())?.0 {
        println!("{l}");
    }
    Ok(())
}

fn listen(family_group: u32, secs: i64) -> io::Result<()> {
    let ev = Sock::open()?;
    ev.join(family_group)?;
    ev.set_timeout(secs);
    loop {
        match ev.recv(false) {
            Ok(Some(buf)) => {
                for m in split_msgs(&buf) {
                    println!("{}", describe_drbd(&m.body));
                }
                io::stdout().flush()?;
            }
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn as_uid(uid: u32, argv: &[String]) -> io::Error {
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap())
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: dropping privileges and exec'ing with NUL-terminated arguments we own.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(uid) != 0
            || libc::setuid(uid) != 0
        {
            return io::Error::last_os_error();
        }
        libc::execvp(ptrs[0], ptrs.as_ptr());
    }
    io::Error::last_os_error()
}

fn usage() -> ! {
    eprintln!(
        "usage: drbd-nl-fuzz [--family NAME] probe | limits | dump WHAT [RES] | listen SECONDS\n       drbd-nl-fuzz as-uid UID PROGRAM [ARGS...]"
    );
    std::process::exit(1);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut family_name = FAMILY_NAME.to_string();
    if args.first().map(String::as_str) == Some("--family") {
        if args.len() < 2 {
            usage();
        }
        family_name = args[1].clone();
        args.drain(..2);
    }
    if args.is_empty() {
        usage();
    }
    if args[0] == "as-uid" {
        if args.len() < 3 {
            usage();
        }
        let uid: u32 = args[1].parse().unwrap_or_else(|_| usage());
        let e = as_uid(uid, &args[2..]);
        eprintln!("drbd-nl-fuzz: as-uid: {e}");
        std::process::exit(1);
    }
    let run = || -> io::Result<()> {
        let mut sock = Sock::open()?;
        let (family, group) = resolve(&mut sock, &family_name)?;
        match args[0].as_str() {
            "probe" => probe(&mut sock, family, group),
            "limits" => limits(&mut sock, family),
            "dump" if args.len() >= 2 => {
                dump(&mut sock, family, &args[1], args.get(2).map(String::as_str))
            }
            "listen" if args.len() == 2 => {
                listen(group, args[1].parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    };
    if let Err(e) = run() {
        eprintln!("drbd-nl-fuzz: {e}");
        std::process::exit(1);
    }
}
