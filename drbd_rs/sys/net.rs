// SPDX-License-Identifier: GPL-2.0

//! TCP sockets in the kernel (`init_net`), for DRBD's data and meta connections.
//!
//! Every socket is set up as DRBD sets up its own: `sk_allocation = GFP_NOIO` and no task page
//! fragments (it serves the block layer), and the send paths copy the data (`kernel_sendmsg`
//! of mapped pages), never splice pages into the network stack, since the caller may reuse a
//! page as soon as the call returns.
//!
//! Blocking calls are interruptible: a kernel thread being stopped ([`super::thread::KThread`])
//! makes them return `EINTR` (the kernel's `-ERESTARTSYS` and friends are reported as `EINTR`).
//! Socket calls lock the socket themselves, so a [`TcpStream`] may be used by several threads
//! at once (one sending, one receiving, one shutting down); callers serialise their senders.

use core::{
    ffi::c_void,
    fmt,
    ptr::{self, NonNull},
};

use kernel::{
    bindings,
    error::to_result,
    ffi::{c_int, c_long},
    page::Page,
    prelude::*,
};

use super::disk::IoRequest;

const AF_INET: u16 = bindings::AF_INET as u16;
const AF_INET6: u16 = bindings::AF_INET6 as u16;
/// `sizeof(struct sockaddr_in)`, `sizeof(struct sockaddr_in6)` (checked in `shim_net.c`).
const SOCKADDR_IN_LEN: usize = 16;
const SOCKADDR_IN6_LEN: usize = 28;
/// `MAX_SCHEDULE_TIMEOUT` (`LONG_MAX`, checked in `shim_net.c`): wait forever.
const MAX_SCHEDULE_TIMEOUT: c_long = c_long::MAX;
/// The largest piece handed to one `kernel_sendmsg`/`kernel_recvmsg` (they return an `int`).
const MAX_CHUNK: usize = 1 << 30;

/// The raw bytes of a `struct sockaddr_in` or `sockaddr_in6`, aligned as the kernel expects.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct RawAddr([u8; SOCKADDR_IN6_LEN]);

/// An IPv4 or IPv6 endpoint, kept as the raw `struct sockaddr_in`/`sockaddr_in6` bytes that
/// DRBD's netlink `net_conf` carries in `T_my_addr`/`T_peer_addr` (family in host byte order,
/// port and address in network byte order).
///
/// # Invariants
///
/// `len` is 16 and `raw` starts with a `sockaddr_in` with family `AF_INET`, or `len` is 28 and
/// `raw` is a `sockaddr_in6` with family `AF_INET6`.
#[derive(Clone, Copy)]
pub(crate) struct SockAddr {
    raw: RawAddr,
    len: usize,
}

impl SockAddr {
    /// Parses a `sockaddr_in` (at least 16 bytes, `AF_INET`) or `sockaddr_in6` (at least 28
    /// bytes, `AF_INET6`); bytes beyond that size are ignored. Anything else is `EINVAL`.
    pub(crate) fn from_raw(bytes: &[u8]) -> Result<SockAddr> {
        let family =
            u16::from_ne_bytes([*bytes.first().ok_or(EINVAL)?, *bytes.get(1).ok_or(EINVAL)?]);
        let len = match family {
            AF_INET => SOCKADDR_IN_LEN,
            AF_INET6 => SOCKADDR_IN6_LEN,
            _ => return Err(EINVAL),
        };
        let src = bytes.get(..len).ok_or(EINVAL)?;
        let mut raw = RawAddr([0; SOCKADDR_IN6_LEN]);
        raw.0[..len].copy_from_slice(src);
        // INVARIANT: family and length checked above.
        Ok(SockAddr { raw, len })
    }

    /// True for IPv6.
    pub(crate) fn is_v6(&self) -> bool {
        self.len == SOCKADDR_IN6_LEN
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        u16::from_be_bytes([self.raw.0[2], self.raw.0[3]])
    }

    /// The `sockaddr` bytes (16 for IPv4, 28 for IPv6), e.g. for netlink replies.
    pub(crate) fn as_raw(&self) -> &[u8] {
        &self.raw.0[..self.len]
    }

    fn family(&self) -> u16 {
        if self.is_v6() {
            AF_INET6
        } else {
            AF_INET
        }
    }

    /// The address bytes: 4 for IPv4, 16 for IPv6.
    pub(crate) fn ip(&self) -> &[u8] {
        if self.is_v6() {
            &self.raw.0[8..24]
        } else {
            &self.raw.0[4..8]
        }
    }

    /// Whether `other` is the same host (family and address; any port).
    pub(crate) fn same_host(&self, other: &SockAddr) -> bool {
        self.len == other.len && self.ip() == other.ip()
    }

    /// The same address with port 0 (any source port).
    fn with_port_zero(&self) -> SockAddr {
        let mut a = *self;
        a.raw.0[2] = 0;
        a.raw.0[3] = 0;
        a
    }

    /// A pointer for `kernel_bind`/`kernel_connect`, which do not write through it.
    fn as_ptr(&self) -> *mut bindings::sockaddr_unsized {
        ptr::from_ref(&self.raw).cast_mut().cast()
    }
}

impl PartialEq for SockAddr {
    /// Same family, address and port (IPv6 flow info and scope id are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.ip() == other.ip() && self.port() == other.port()
    }
}

impl Eq for SockAddr {}

// `kernel::fmt::Display` is what `pr_info!` and `fmt!` use; `core::fmt::Display` (below) is
// for `write!` into any `core::fmt::Write`.
impl kernel::fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SockAddr {
    /// `192.0.2.1:7789`, `[fd00::1]:7789` (IPv6 compressed as RFC 5952 has it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.ip();
        if !self.is_v6() {
            return write!(f, "{}.{}.{}.{}:{}", ip[0], ip[1], ip[2], ip[3], self.port());
        }
        let mut g = [0u16; 8];
        for (i, w) in g.iter_mut().enumerate() {
            *w = u16::from_be_bytes([ip[2 * i], ip[2 * i + 1]]);
        }
        // The first longest run of at least two zero groups becomes "::".
        let (mut best, mut best_len, mut i) = (0, 0, 0);
        while i < 8 {
            let start = i;
            while i < 8 && g[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best, best_len) = (start, i - start);
            }
            i += 1;
        }
        if best_len < 2 {
            best_len = 0;
        }
        f.write_str("[")?;
        let mut i = 0;
        while i < 8 {
            if best_len > 0 && i == best {
                f.write_str("::")?;
                i += best_len;
                continue;
            }
            if i > 0 && !(best_len > 0 && i == best + best_len) {
                f.write_str(":")?;
            }
            write!(f, "{:x}", g[i])?;
            i += 1;
        }
        write!(f, "]:{}", self.port())
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A kernel errno from a socket call as an [`Error`], with the restart codes a signal (or a
/// kthread stop) produces reported as `EINTR`.
fn sock_error(rc: c_int) -> Error {
    let e = Error::from_errno(rc);
    if e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND || e == ERESTART_RESTARTBLOCK
    {
        EINTR
    } else {
        e
    }
}

/// `rc` as a result: `Ok(rc)` if non-negative.
fn sock_result(rc: c_int) -> Result<usize> {
    if rc < 0 {
        Err(sock_error(rc))
    } else {
        Ok(rc as usize)
    }
}

/// A time-out in jiffies for `sk_rcvtimeo`/`sk_sndtimeo`: `None` = forever; at least one jiffy
/// (0 would mean "do not wait").
fn timeout_jiffies(ms: Option<u32>) -> c_long {
    match ms {
        None => MAX_SCHEDULE_TIMEOUT,
        Some(ms) => (kernel::time::msecs_to_jiffies(ms) as c_long).max(1),
    }
}

/// An owned kernel socket.
///
/// # Invariants
///
/// `sock` is a live `struct socket` with an `sk`, owned by this object: released
/// (`sock_release`) by drop and nowhere else.
struct Socket {
    sock: NonNull<bindings::socket>,
}

// SAFETY: the socket calls used lock the socket (`lock_sock`) themselves and may be made from
// any process context, concurrently; only drop (exclusive) releases it.
unsafe impl Send for Socket {}
// SAFETY: see `Send`: `&self` methods are socket calls that do their own locking.
unsafe impl Sync for Socket {}

impl Socket {
    /// A TCP socket of `family` in `init_net`, set up for block I/O.
    fn new(family: u16) -> Result<Socket> {
        let mut sock = ptr::null_mut();
        // SAFETY: `init_net` lives forever; `sock` is written on success only.
        to_result(unsafe {
            bindings::sock_create_kern(
                ptr::addr_of_mut!(bindings::init_net),
                family.into(),
                bindings::sock_type_SOCK_STREAM as c_int,
                bindings::IPPROTO_TCP as c_int,
                &mut sock,
            )
        })?;
        // SAFETY: success gives a live socket, now ours.
        unsafe { Socket::from_new(sock) }
    }

    /// Takes ownership of a fresh socket and sets it up.
    ///
    /// # Safety
    ///
    /// `sock` is a live socket with an `sk` that the caller owns and hands over.
    unsafe fn from_new(sock: *mut bindings::socket) -> Result<Socket> {
        // A successful `sock_create_kern`/`kernel_accept` never gives NULL.
        let sock = NonNull::new(sock).ok_or(EINVAL)?;
        // SAFETY: the caller gives a live, owned socket; not shared with anyone yet.
        unsafe { shim::drbd_rs_sock_setup(sock.as_ptr().cast()) };
        // INVARIANT: live and owned, per the caller.
        Ok(Socket { sock })
    }

    fn ptr(&self) -> *mut bindings::socket {
        self.sock.as_ptr()
    }

    fn set_timeouts(&self, rcv: c_long, snd: c_long) {
        // SAFETY: a live socket (type invariant); the shim writes the fields with WRITE_ONCE,
        // as setsockopt does.
        unsafe { shim::drbd_rs_sock_set_timeouts(self.ptr().cast(), rcv, snd) };
    }

    fn bind(&self, addr: &SockAddr) -> Result {
        // SAFETY: a live socket; `addr` points to `len` valid, aligned bytes of a sockaddr of
        // the socket's family, which the kernel copies.
        to_result(unsafe { bindings::kernel_bind(self.ptr(), addr.as_ptr(), addr.len as c_int) })
    }

    fn shutdown(&self) {
        // SAFETY: a live socket; shutdown locks it and wakes its waiters. Errors (e.g. not
        // connected) leave nothing to do.
        unsafe {
            bindings::kernel_sock_shutdown(self.ptr(), bindings::sock_shutdown_cmd_SHUT_RDWR)
        };
    }

    /// One `kernel_recvmsg` into `len` bytes at `buf`.
    ///
    /// # Safety
    ///
    /// `buf` is valid for writes of `len` bytes for the duration of the call.
    unsafe fn recv_raw(&self, buf: *mut u8, len: usize, flags: u32) -> c_int {
        let mut iov = bindings::kvec {
            iov_base: buf.cast::<c_void>(),
            iov_len: len,
        };
        let mut msg = bindings::msghdr::default();
        // SAFETY: a live socket; `iov` describes writable memory per the caller; `msg` is a
        // plain zeroed header without a name or control data.
        unsafe { bindings::kernel_recvmsg(self.ptr(), &mut msg, &mut iov, 1, len, flags as c_int) }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant) and released only here; no other thread can be in a
        // call on it, since those borrow the owner.
        unsafe { bindings::sock_release(self.ptr()) };
    }
}

/// A listening TCP socket (`SO_REUSEADDR`, backlog 5) in `init_net`.
pub(crate) struct Listener {
    sock: Socket,
}

impl Listener {
    /// Binds to `addr` and listens; `EADDRINUSE`, `EADDRNOTAVAIL` etc. are passed through.
    pub(crate) fn bind(addr: &SockAddr) -> Result<Listener> {
        let sock = Socket::new(addr.family())?;
        // SAFETY: a live socket, not shared yet.
        unsafe { shim::drbd_rs_sock_set_reuseaddr(sock.ptr().cast()) };
        sock.bind(addr)?;
        // SAFETY: a live, bound socket.
        to_result(unsafe { bindings::kernel_listen(sock.ptr(), 5) })?;
        Ok(Listener { sock })
    }

    /// The address it listens on (with the port the kernel chose if bound to port 0).
    pub(crate) fn local_addr(&self) -> Result<SockAddr> {
        let mut buf = [0u64; 16];
        // SAFETY: a live socket; `buf` (128 bytes, aligned) holds any `sockaddr_storage`.
        let len = sock_result(unsafe {
            bindings::kernel_getsockname(self.sock.ptr(), buf.as_mut_ptr().cast())
        })?;
        SockAddr::from_raw(&as_bytes(&buf)[..len.min(128)])
    }

    /// Waits up to `timeout_ms` (0: just poll) for a connection: `Ok(None)` on time-out,
    /// `Err(EINTR)` if the calling kthread is asked to stop (or a signal is pending),
    /// `Err(EINVAL)` once [`Listener::shutdown`] was called. Concurrent callers share the
    /// socket's accept time-out, so only one thread should accept at a time.
    pub(crate) fn accept(&self, timeout_ms: u32) -> Result<Option<TcpStream>> {
        let timeo = kernel::time::msecs_to_jiffies(timeout_ms) as c_long;
        // `inet_csk_accept` waits `sk_rcvtimeo`.
        self.sock.set_timeouts(timeo, MAX_SCHEDULE_TIMEOUT);
        let mut new = ptr::null_mut();
        // SAFETY: a live, listening socket; `new` is written on success only.
        let rc = unsafe { bindings::kernel_accept(self.sock.ptr(), &mut new, 0) };
        if rc < 0 {
            let e = sock_error(rc);
            return if e == EAGAIN { Ok(None) } else { Err(e) };
        }
        // SAFETY: success gives a live, connected socket, now ours.
        let sock = unsafe { Socket::from_new(new) }?;
        // A child socket inherits the listener's time-outs.
        sock.set_timeouts(MAX_SCHEDULE_TIMEOUT, MAX_SCHEDULE_TIMEOUT);
        Ok(Some(TcpStream { sock }))
    }

    /// Stops listening: a blocked [`Listener::accept`] returns promptly (`EINVAL`), and so do
    /// later ones.
    pub(crate) fn shutdown(&self) {
        self.sock.shutdown();
    }
}

/// A connected TCP socket. One thread may send while another receives and a third calls
/// [`TcpStream::shutdown`]; callers serialise their own senders (two interleaved
/// [`TcpStream::send_all`]s would interleave their bytes).
pub(crate) struct TcpStream {
    sock: Socket,
}

impl TcpStream {
    /// Connects from `local`'s address (any source port, as DRBD 8.4 does) to `peer`, giving
    /// up after `timeout_ms` (`ETIMEDOUT`); `ECONNREFUSED`, `ENETUNREACH` etc. are passed
    /// through, `EINTR` if the calling kthread is asked to stop, `EINVAL` if the two addresses
    /// are of different families.
    pub(crate) fn connect(local: &SockAddr, peer: &SockAddr, timeout_ms: u32) -> Result<TcpStream> {
        if local.family() != peer.family() {
            return Err(EINVAL);
        }
        let sock = Socket::new(peer.family())?;
        // A blocking connect waits `sk_sndtimeo`.
        let timeo = timeout_jiffies(Some(timeout_ms));
        sock.set_timeouts(timeo, timeo);
        sock.bind(&local.with_port_zero())?;
        // SAFETY: a live, bound socket; `peer` points to `len` valid bytes of a sockaddr of the
        // socket's family, which the kernel copies.
        let rc =
            unsafe { bindings::kernel_connect(sock.ptr(), peer.as_ptr(), peer.len as c_int, 0) };
        if rc < 0 {
            let e = sock_error(rc);
            // A blocking connect that times out reports "still in progress".
            return Err(if e == EINPROGRESS || e == EAGAIN {
                ETIMEDOUT
            } else {
                e
            });
        }
        sock.set_timeouts(MAX_SCHEDULE_TIMEOUT, MAX_SCHEDULE_TIMEOUT);
        Ok(TcpStream { sock })
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self) -> Result<SockAddr> {
        let mut buf = [0u64; 16];
        // SAFETY: a live socket; `buf` (128 bytes, aligned) holds any `sockaddr_storage`.
        let len = sock_result(unsafe {
            bindings::kernel_getpeername(self.sock.ptr(), buf.as_mut_ptr().cast())
        })?;
        SockAddr::from_raw(&as_bytes(&buf)[..len.min(128)])
    }

    /// Receive and send time-outs (`sk_rcvtimeo`/`sk_sndtimeo`); `None` waits forever. A
    /// time-out is at least one jiffy.
    pub(crate) fn set_timeouts(&self, rcv_ms: Option<u32>, snd_ms: Option<u32>) {
        self.sock
            .set_timeouts(timeout_jiffies(rcv_ms), timeout_jiffies(snd_ms));
    }

    /// `TCP_NODELAY`: small packets go out at once.
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: a live TCP socket; the helper locks it.
        unsafe { shim::drbd_rs_sock_set_nodelay(self.sock.ptr().cast()) };
    }

    /// `TCP_CORK` on (hold back partial frames) or off (push what is queued), as DRBD does
    /// around a batch of packets.
    pub(crate) fn set_cork(&self, on: bool) {
        // SAFETY: a live TCP socket; the helper locks it.
        unsafe { shim::drbd_rs_sock_set_cork(self.sock.ptr().cast(), on) };
    }

    /// Send and receive buffer sizes in bytes, set as given and locked against autotuning;
    /// 0 leaves that one to autotuning (DRBD's `sndbuf-size`/`rcvbuf-size`).
    pub(crate) fn set_buffer_sizes(&self, snd: u32, rcv: u32) {
        // SAFETY: a live socket; the helper locks it.
        unsafe { shim::drbd_rs_sock_set_bufsize(self.sock.ptr().cast(), snd, rcv) };
    }

    /// Sends `len` bytes at `buf`, all of them (short sends are retried).
    ///
    /// # Safety
    ///
    /// `buf` is valid for reads of `len` bytes for the duration of the call.
    unsafe fn send_raw(&self, buf: *const u8, len: usize, more: bool) -> Result {
        let mut flags = bindings::MSG_NOSIGNAL;
        if more {
            flags |= bindings::MSG_MORE;
        }
        let mut sent = 0;
        while sent < len {
            let chunk = (len - sent).min(MAX_CHUNK);
            let mut iov = bindings::kvec {
                // SAFETY: `sent < len`, inside the caller's buffer.
                iov_base: unsafe { buf.add(sent) }.cast_mut().cast::<c_void>(),
                iov_len: chunk,
            };
            let mut msg = bindings::msghdr {
                msg_flags: flags,
                ..Default::default()
            };
            // SAFETY: a live socket; `iov` describes `chunk` readable bytes (the kernel only
            // reads through a send's kvec); `msg` has no name or control data.
            let n = sock_result(unsafe {
                bindings::kernel_sendmsg(self.sock.ptr(), &mut msg, &mut iov, 1, chunk)
            })?;
            if n == 0 {
                return Err(EPIPE);
            }
            sent += n;
        }
        Ok(())
    }

    /// Sends all of `buf` (`MSG_NOSIGNAL`, plus `MSG_MORE` if `more`: more data follows at
    /// once). Errors: `EAGAIN` on send time-out, `EINTR` if the kthread must stop, `EPIPE` or
    /// `ECONNRESET` on a broken connection. After an error part of `buf` may have been sent:
    /// the stream is then out of step and should be dropped.
    pub(crate) fn send_all(&self, buf: &[u8], more: bool) -> Result {
        // SAFETY: `buf` is readable for its length during the call.
        unsafe { self.send_raw(buf.as_ptr(), buf.len(), more) }
    }

    /// Sends `len` bytes of `page` from `offset` (inside the page, else `EINVAL`), copying
    /// them: the page may be rewritten once this returns.
    pub(crate) fn send_page(&self, page: &Page, offset: usize, len: usize, more: bool) -> Result {
        with_page_mapped(page, offset, len, |p| {
            // SAFETY: `p` is mapped and valid for `len` bytes while the closure runs.
            unsafe { self.send_raw(p, len, more) }
        })
    }

    /// Sends all data of a write request, copying as [`TcpStream::send_page`] does (the
    /// request's pages belong to the upper layer). `MSG_MORE` is set on all but the last piece,
    /// and on that one too if `more`.
    pub(crate) fn send_request_data(&self, rq: &IoRequest, more: bool) -> Result {
        let total = rq.bytes() as usize;
        let mut done = 0usize;
        rq.for_each_page_piece(|p, len| {
            done += len;
            // SAFETY: `p` is a mapped piece of `len` readable bytes of the request's data.
            unsafe { self.send_raw(p, len, more || done < total) }
        })
    }

    /// Receives exactly `len` bytes into `buf`.
    ///
    /// # Safety
    ///
    /// `buf` is valid for writes of `len` bytes for the duration of the call.
    unsafe fn recv_raw_exact(&self, buf: *mut u8, len: usize) -> Result {
        let mut got = 0;
        while got < len {
            let chunk = (len - got).min(MAX_CHUNK);
            // SAFETY: `got < len`: `chunk` writable bytes of the caller's buffer.
            let rc = unsafe {
                self.sock.recv_raw(
                    buf.add(got),
                    chunk,
                    bindings::MSG_WAITALL | bindings::MSG_NOSIGNAL,
                )
            };
            match sock_result(rc) {
                Ok(0) => return Err(ECONNRESET),
                Ok(n) => got += n,
                Err(e) if e == EAGAIN && got > 0 => return Err(ETIMEDOUT),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Receives exactly `buf.len()` bytes. Errors: `EAGAIN` = time-out before the first byte,
    /// `ETIMEDOUT` = time-out after part of it, `ECONNRESET` = the peer closed (EOF) or reset
    /// (or this side was shut down), `EINTR` = the kthread must stop; others passed through.
    pub(crate) fn recv_exact(&self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is writable for its length during the call.
        unsafe { self.recv_raw_exact(buf.as_mut_ptr(), buf.len()) }
    }

    /// Receives exactly `len` bytes into `page` at `offset` (inside the page, else `EINVAL`);
    /// errors as [`TcpStream::recv_exact`].
    pub(crate) fn recv_page(&self, page: &Page, offset: usize, len: usize) -> Result {
        with_page_mapped(page, offset, len, |p| {
            // SAFETY: `p` is mapped and valid for `len` bytes while the closure runs; the
            // page's contents are not Rust-owned memory (they are accessed through mappings
            // only), so writing through a shared `Page` does not alias a reference.
            unsafe { self.recv_raw_exact(p, len) }
        })
    }

    /// Receives exactly the data of a read request into its pages (`P_DATA_REPLY`):
    /// [`IoRequest::bytes`] bytes; errors as [`TcpStream::recv_exact`].
    pub(crate) fn recv_request_data(&self, rq: &IoRequest) -> Result {
        rq.for_each_page_piece(|p, len| {
            // SAFETY: `p` is a mapped piece of `len` bytes of the request's pages, which the
            // driver owns and may fill (see `for_each_page_piece`).
            unsafe { self.recv_raw_exact(p, len) }
        })
    }

    /// True if the socket is still usable: a non-blocking `MSG_PEEK` receive reports data or
    /// "nothing yet", not EOF or an error (DRBD's `drbd_socket_okay`).
    pub(crate) fn is_alive(&self) -> bool {
        let mut b = [0u8; 4];
        // SAFETY: `b` is writable for its length during the call.
        let rc = unsafe {
            self.sock.recv_raw(
                b.as_mut_ptr(),
                b.len(),
                bindings::MSG_DONTWAIT | bindings::MSG_PEEK | bindings::MSG_NOSIGNAL,
            )
        };
        rc > 0 || rc == EAGAIN.to_errno()
    }

    /// `shutdown(SHUT_RDWR)`: blocked sends and receives in other threads return with an
    /// error, and so do later ones. The peer sees EOF.
    pub(crate) fn shutdown(&self) {
        self.sock.shutdown();
    }
}

/// The bytes of an aligned address buffer.
fn as_bytes(buf: &[u64; 16]) -> &[u8] {
    // SAFETY: any initialised memory may be read as bytes; the length is the buffer's.
    unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), 128) }
}

/// Maps `page` and calls `f` with the address of byte `offset`; `offset + len` must be within
/// the page (`EINVAL` otherwise).
fn with_page_mapped(
    page: &Page,
    offset: usize,
    len: usize,
    f: impl FnOnce(*mut u8) -> Result,
) -> Result {
    if offset.checked_add(len).ok_or(EINVAL)? > bindings::PAGE_SIZE {
        return Err(EINVAL);
    }
    // SAFETY: `page` is a live order-0 page (the `Page` invariant); the mapping is undone
    // below on this thread, in LIFO order with any other local mapping.
    let base = unsafe { bindings::kmap_local_page(page.as_ptr()) }.cast::<u8>();
    // SAFETY: `offset <= PAGE_SIZE`: inside (or just past) the mapping.
    let r = f(unsafe { base.add(offset) });
    // SAFETY: the mapping made above.
    unsafe { bindings::kunmap_local(base.cast()) };
    r
}

/// Copies `src` into `page` at `offset` (for tests, which may not map pages themselves).
#[cfg(drbd_rs_kunit)]
pub(crate) fn copy_to_page(page: &Page, offset: usize, src: &[u8]) -> Result {
    with_page_mapped(page, offset, src.len(), |p| {
        // SAFETY: `p` is mapped and writable for `src.len()` bytes while the closure runs.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
        Ok(())
    })
}

/// Copies bytes of `page` from `offset` into `dst` (for tests).
#[cfg(drbd_rs_kunit)]
pub(crate) fn copy_from_page(page: &Page, offset: usize, dst: &mut [u8]) -> Result {
    with_page_mapped(page, offset, dst.len(), |p| {
        // SAFETY: `p` is mapped and readable for `dst.len()` bytes while the closure runs.
        unsafe { ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    })
}

mod shim {
    use core::ffi::c_void;
    use kernel::ffi::c_long;

    // `struct socket` contains a zero-sized member bindgen renders as a field-less struct,
    // which `improper_ctypes` flags; the shims take it as `void *`.
    extern "C" {
        /// `sk_allocation = GFP_NOIO`, `sk_use_task_frag = false`.
        pub(super) fn drbd_rs_sock_setup(sock: *mut c_void);
        /// `sock_set_reuseaddr()`.
        pub(super) fn drbd_rs_sock_set_reuseaddr(sock: *mut c_void);
        /// `sk_rcvtimeo`, `sk_sndtimeo` in jiffies.
        pub(super) fn drbd_rs_sock_set_timeouts(sock: *mut c_void, rcv: c_long, snd: c_long);
        /// `tcp_sock_set_nodelay()`.
        pub(super) fn drbd_rs_sock_set_nodelay(sock: *mut c_void);
        /// `tcp_sock_set_cork()`.
        pub(super) fn drbd_rs_sock_set_cork(sock: *mut c_void, on: bool);
        /// DRBD's `drbd_setbufsize()`.
        pub(super) fn drbd_rs_sock_set_bufsize(sock: *mut c_void, snd: u32, rcv: u32);
    }
}
