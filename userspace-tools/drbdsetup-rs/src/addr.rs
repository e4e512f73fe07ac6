//! Network addresses in drbdsetup's syntax, `[af:]addr[:port]`, encoded as the `struct sockaddr`
//! bytes the `drbd` netlink family carries in `ctx_my_addr` / `ctx_peer_addr`, and printed the
//! way `drbdsetup show` prints them.
//!
//! Parsing follows drbd-utils' `split_address`/`nla_put_address` to the letter, including what
//! it accepts (`inet_addr` forms like `127.1`, host names, ports wrapped to 16 bits) and the
//! messages it exits with; name resolution goes through the C library like drbdsetup's does.

use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::num::new_strtoll;

/// DRBD's default port when an address names none.
pub const DEFAULT_PORT: u16 = 7788;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// `AF_INET_SDP` (drbd-utils' value; also the usual AF_SSOCKS).
const AF_INET_SDP: u16 = 27;

/// A parsed replication endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    V4(Ipv4Addr, u16),
    V6(Ipv6Addr, u16),
    /// An IPv4-style address of another family (`sdp:`, `ssocks:`).
    Other(u16, Ipv4Addr, u16),
}

/// Why an address was refused: the message drbdsetup prints and its exit code (it exits on
/// the spot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrError {
    pub message: String,
    pub exit_code: i32,
}

fn err(message: String) -> AddrError {
    AddrError {
        message,
        exit_code: 20,
    }
}

/// `m_strtoll(port, 1)`, truncated to 16 bits like `htons(int)`.
fn port_of(p: &str) -> Result<u16, AddrError> {
    match new_strtoll(p, '1') {
        Ok(v) => Ok(v as u16),
        Err(e) => {
            let (message, exit_code) = e.message(p);
            Err(AddrError { message, exit_code })
        }
    }
}

/// How host names are turned into addresses; the C library in the tool, a table in tests.
pub trait Resolver {
    /// `inet_addr` then `gethostbyname`: the address, or the `hstrerror` text.
    fn v4(&self, name: &str) -> Result<Ipv4Addr, String>;
    /// `getaddrinfo(AF_INET6)`: the address, or the `gai_strerror` text.
    fn v6(&self, name: &str) -> Result<Ipv6Addr, String>;
}

/// Resolution through libc, exactly the calls drbdsetup makes.
pub struct LibcResolver;

extern "C" {
    fn inet_addr(cp: *const libc::c_char) -> u32;
    fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
    fn hstrerror(err: libc::c_int) -> *const libc::c_char;
    fn __h_errno_location() -> *mut libc::c_int;
}

impl Resolver for LibcResolver {
    fn v4(&self, name: &str) -> Result<Ipv4Addr, String> {
        let Ok(c) = CString::new(name) else {
            return Err("Unknown host".into());
        };
        // SAFETY: a NUL-terminated string; inet_addr only reads it.
        let a = unsafe { inet_addr(c.as_ptr()) };
        if a != u32::MAX {
            return Ok(Ipv4Addr::from(u32::from_be(a)));
        }
        // SAFETY: gethostbyname returns NULL or a pointer to static data valid until the next
        // call; we copy the first address out immediately.
        unsafe {
            let he = gethostbyname(c.as_ptr());
            if he.is_null() {
                let msg = CStr::from_ptr(hstrerror(*__h_errno_location()));
                return Err(msg.to_string_lossy().into_owned());
            }
            let list = (*he).h_addr_list;
            if list.is_null() || (*list).is_null() {
                return Err("Unknown host".into());
            }
            let p = *list as *const u8;
            Ok(Ipv4Addr::new(*p, *p.add(1), *p.add(2), *p.add(3)))
        }
    }

    fn v6(&self, name: &str) -> Result<Ipv6Addr, String> {
        let Ok(c) = CString::new(name) else {
            return Err("Name or service not known".into());
        };
        // SAFETY: standard getaddrinfo use with zeroed hints; the result list is freed below.
        unsafe {
            let mut hints: libc::addrinfo = std::mem::zeroed();
            hints.ai_family = libc::AF_INET6;
            hints.ai_socktype = libc::SOCK_STREAM;
            hints.ai_protocol = libc::IPPROTO_TCP;
            let mut res: *mut libc::addrinfo = std::ptr::null_mut();
            let e = libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res);
            if e != 0 {
                return Err(CStr::from_ptr(libc::gai_strerror(e))
                    .to_string_lossy()
                    .into_owned());
            }
            let mut out = Ipv6Addr::UNSPECIFIED;
            if !res.is_null() && !(*res).ai_addr.is_null() {
                let sa = (*res).ai_addr as *const libc::sockaddr_in6;
                out = Ipv6Addr::from((*sa).sin6_addr.s6_addr);
            }
            libc::freeaddrinfo(res);
            Ok(out)
        }
    }
}

impl Endpoint {
    /// `nla_put_address`'s parse of `[af:]addr[:port]`. `warn` receives the compatibility note
    /// drbdsetup prints for `ipv6:addr:port` without brackets.
    pub fn parse_with(
        text: &str,
        resolver: &dyn Resolver,
        warn: &mut dyn FnMut(&str),
    ) -> Result<Endpoint, AddrError> {
        let mut af = AF_INET;
        let mut rest = text;
        for (prefix, fam) in [
            ("ipv4:", AF_INET),
            ("ipv6:", AF_INET6),
            ("sdp:", AF_INET_SDP),
            ("ssocks:", 0),
        ] {
            if let Some(r) = text.strip_prefix(prefix) {
                af = fam;
                rest = r;
                break;
            }
        }
        if af == 0 {
            af = af_ssocks(warn);
        }
        let (host, port) = if af == AF_INET6 && rest.starts_with('[') {
            let Some(b) = rest.rfind(']') else {
                return Err(err(format!("unexpected ipv6 format: {rest}\n")));
            };
            let after = &rest[b + 1..];
            if !after.is_empty() && !after.starts_with(':') {
                return Err(err(format!("unexpected ipv6 format: {rest}\n")));
            }
            let port = match after.strip_prefix(':') {
                Some(p) => port_of(p)?,
                None => DEFAULT_PORT,
            };
            (&rest[1..b], port)
        } else {
            match rest.rfind(':') {
                Some(b) => {
                    let (h, p) = (&rest[..b], &rest[b + 1..]);
                    if af == AF_INET6 {
                        warn(&format!("interpreting ipv6:{h}:{p} as ipv6:[{h}]:{p}\n"));
                    }
                    (h, port_of(p)?)
                }
                None => (rest, DEFAULT_PORT),
            }
        };
        if af == AF_INET6 {
            let ip = resolver
                .v6(host)
                .map_err(|e| err(format!("getaddrinfo {host}: {e}\n")))?;
            return Ok(Endpoint::V6(ip, port));
        }
        let ip = resolver.v4(host).map_err(|e| {
            err(format!(
                "can not resolve the hostname: gethostbyname({host}): {e}\n"
            ))
        })?;
        Ok(if af == AF_INET {
            Endpoint::V4(ip, port)
        } else {
            Endpoint::Other(af, ip, port)
        })
    }

    /// The `struct sockaddr_in` / `sockaddr_in6` bytes (family in host order, port and address
    /// in network order), as the kernel copies them into the connection's `my_addr`/`peer_addr`.
    pub fn to_sockaddr(&self) -> Vec<u8> {
        match self {
            Endpoint::V4(ip, port) => v4_sockaddr(AF_INET, ip, *port),
            Endpoint::Other(af, ip, port) => v4_sockaddr(*af, ip, *port),
            Endpoint::V6(ip, port) => {
                let mut b = Vec::with_capacity(28);
                b.extend_from_slice(&AF_INET6.to_ne_bytes());
                b.extend_from_slice(&port.to_be_bytes());
                b.extend_from_slice(&0u32.to_be_bytes()); // flowinfo
                b.extend_from_slice(&ip.octets());
                b.extend_from_slice(&0u32.to_ne_bytes()); // scope id
                b
            }
        }
    }

    /// Decodes sockaddr bytes from the kernel; `None` for anything but a well-formed
    /// `sockaddr_in`/`sockaddr_in6`.
    #[cfg(test)]
    pub fn from_sockaddr(b: &[u8]) -> Option<Endpoint> {
        let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
        let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
        match family {
            AF_INET if b.len() >= 8 => {
                Some(Endpoint::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7]), port))
            }
            AF_INET6 if b.len() >= 24 => {
                let octets: [u8; 16] = b[8..24].try_into().ok()?;
                Some(Endpoint::V6(Ipv6Addr::from(octets), port))
            }
            _ => None,
        }
    }
}

/// `get_af_ssocks(1)`: the address family number of SSOCKS, from /proc, or 27 with a warning.
fn af_ssocks(warn: &mut dyn FnMut(&str)) -> u16 {
    let read = std::fs::read_to_string("/proc/net/af_ssocks/family")
        .or_else(|_| std::fs::read_to_string("/proc/net/af_sci/family"));
    match read {
        Ok(s) => new_strtoll(s.trim_end_matches('\n'), '1').map_or(AF_INET_SDP, |v| v as u16),
        Err(e) => {
            let e = crate::sys::strerror(e.raw_os_error().unwrap_or(libc::ENOENT));
            warn(&format!(
                "open(/proc/net/af_ssocks/family) failed: {e}\n WARNING: assuming AF_SSOCKS = 27. Socket creation may fail.\n"
            ));
            AF_INET_SDP
        }
    }
}

fn v4_sockaddr(af: u16, ip: &Ipv4Addr, port: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&af.to_ne_bytes());
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(&ip.octets());
    b.extend_from_slice(&[0; 8]);
    b
}

/// `sprint_address`: `ipv4 10.0.0.1:7789`, `ipv6 [fd00::1]:7789`, as `show` prints addresses.
pub fn sprint_address(b: &[u8]) -> String {
    let mut a = [0u8; 28];
    let n = b.len().min(28);
    a[..n].copy_from_slice(&b[..n]);
    let family = u16::from_ne_bytes([a[0], a[1]]);
    let port = u16::from_be_bytes([a[2], a[3]]);
    match family {
        AF_INET | AF_INET_SDP => {
            let name = if family == AF_INET { "ipv4" } else { "sdp" };
            format!("{name} {}:{port}", Ipv4Addr::new(a[4], a[5], a[6], a[7]))
        }
        AF_INET6 => {
            let octets: [u8; 16] = a[8..24].try_into().unwrap_or([0; 16]);
            format!("ipv6 [{}]:{port}", Ipv6Addr::from(octets))
        }
        _ => format!("[unknown af={family}, len={}]", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table;
    impl Resolver for Table {
        fn v4(&self, name: &str) -> Result<Ipv4Addr, String> {
            match name {
                "localhost" => Ok(Ipv4Addr::LOCALHOST),
                n => n.parse().map_err(|_| "Unknown host".to_string()),
            }
        }
        fn v6(&self, name: &str) -> Result<Ipv6Addr, String> {
            name.parse()
                .map_err(|_| "Name or service not known".to_string())
        }
    }

    fn parse(t: &str) -> Result<Endpoint, AddrError> {
        Endpoint::parse_with(t, &Table, &mut |_| {})
    }

    #[test]
    fn parses_drbdsetup_forms() {
        assert_eq!(
            parse("ipv4:127.0.0.1:7789"),
            Ok(Endpoint::V4(Ipv4Addr::LOCALHOST, 7789))
        );
        assert_eq!(
            parse("10.1.1.1"),
            Ok(Endpoint::V4(Ipv4Addr::new(10, 1, 1, 1), DEFAULT_PORT))
        );
        assert_eq!(
            parse("localhost:1"),
            Ok(Endpoint::V4(Ipv4Addr::LOCALHOST, 1))
        );
        assert_eq!(
            parse("ipv6:[::1]:7790"),
            Ok(Endpoint::V6(Ipv6Addr::LOCALHOST, 7790))
        );
        assert_eq!(
            parse("ipv6:[::1]"),
            Ok(Endpoint::V6(Ipv6Addr::LOCALHOST, DEFAULT_PORT))
        );
        // Ports are not range checked; htons() keeps the low 16 bits.
        assert_eq!(
            parse("1.2.3.4:70000"),
            Ok(Endpoint::V4(Ipv4Addr::new(1, 2, 3, 4), 4464))
        );
        let mut warned = String::new();
        let e = Endpoint::parse_with("ipv6:::1:7789", &Table, &mut |w| warned.push_str(w));
        assert_eq!(e, Ok(Endpoint::V6(Ipv6Addr::LOCALHOST, 7789)));
        assert_eq!(warned, "interpreting ipv6:::1:7789 as ipv6:[::1]:7789\n");
    }

    #[test]
    fn drbdsetup_messages_for_bad_addresses() {
        assert_eq!(
            parse("ipv4:999.1.1.1:7789").unwrap_err().message,
            "can not resolve the hostname: gethostbyname(999.1.1.1): Unknown host\n"
        );
        assert_eq!(
            parse("ipv4:1.2.3.4:x").unwrap_err().message,
            "x is not a valid number\n"
        );
        assert_eq!(parse("ipv4:1.2.3.4:").unwrap_err().exit_code, 100);
        assert_eq!(
            parse("ipv6:[::1").unwrap_err().message,
            "unexpected ipv6 format: [::1\n"
        );
        assert_eq!(
            parse("ipv6:[::1]x").unwrap_err().message,
            "unexpected ipv6 format: [::1]x\n"
        );
    }

    #[test]
    fn sockaddr_round_trip_and_printing() {
        for e in [
            Endpoint::V4(Ipv4Addr::new(192, 0, 2, 1), 7789),
            Endpoint::V6(Ipv6Addr::LOCALHOST, 1),
        ] {
            let b = e.to_sockaddr();
            assert_eq!(Endpoint::from_sockaddr(&b), Some(e.clone()));
        }
        let v4 = Endpoint::V4(Ipv4Addr::new(1, 2, 3, 4), 0x1e6d).to_sockaddr();
        assert_eq!(&v4[2..8], &[0x1e, 0x6d, 1, 2, 3, 4]);
        assert_eq!(v4.len(), 16);
        assert_eq!(Endpoint::from_sockaddr(&[1, 0]), None);
        assert_eq!(sprint_address(&v4), "ipv4 1.2.3.4:7789");
        let v6 = Endpoint::V6("fd00::1".parse().unwrap(), 7790).to_sockaddr();
        assert_eq!(v6.len(), 28);
        assert_eq!(sprint_address(&v6), "ipv6 [fd00::1]:7790");
        assert_eq!(sprint_address(&[1, 0, 0, 0]), "[unknown af=1, len=4]");
    }
}
