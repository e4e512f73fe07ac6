// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the kernel-side plumbing of replication: TCP over loopback (IPv4 and IPv6)
//! between the test thread and a [`KThread`], with the copying page send/receive paths, the
//! time-out, shutdown and EOF error codes the receiver relies on; stopping kernel threads that
//! are blocked in `accept`, `recv` or a sleep, or that finished (or never started); the
//! `crypto_shash` wrapper against published test vectors; and `SockAddr` parsing.
//!
//! Tests return `Result` and check with [`ensure!`], so a failure unwinds through the
//! destructors (threads stopped, sockets released) instead of leaving them behind.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use kernel::{
    bindings,
    page::Page,
    prelude::*,
    str::CString,
    sync::Arc,
    time::{Instant, Monotonic},
};

use crate::sys::{
    crypto::Shash,
    net::{copy_from_page, copy_to_page, Listener, SockAddr, TcpStream},
    thread::{should_stop, sleep_ms, KThread},
};

/// Fails the test (with the condition and line in the log) unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            pr_err!(
                "drbd_rs_net: check failed at line {}: {}\n",
                line!(),
                stringify!($cond)
            );
            return Err(EINVAL);
        }
    };
}

/// Bytes each side sends in the transfer tests.
const TOTAL: usize = 1 << 20;

/// The outcome a thread reports: 1 while it has not finished, 0 for `Ok`, else `-errno`.
fn new_outcome() -> Result<Arc<AtomicI32>> {
    Ok(Arc::new(AtomicI32::new(1), GFP_KERNEL)?)
}

fn record(outcome: &AtomicI32, r: Result) {
    let v = match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    };
    outcome.store(v, Ordering::SeqCst);
}

fn outcome_is(outcome: &AtomicI32, r: Result) -> bool {
    let want = match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    };
    let got = outcome.load(Ordering::SeqCst);
    if got != want {
        pr_err!("drbd_rs_net: outcome {} where {} was expected\n", got, want);
    }
    got == want
}

/// Waits up to `ms` for the thread's closure to return.
fn wait_finished(t: &KThread, ms: u32) -> bool {
    for _ in 0..ms / 10 {
        if !t.is_running() {
            return true;
        }
        sleep_ms(10);
    }
    !t.is_running()
}

fn v4(ip: [u8; 4], port: u16) -> Result<SockAddr> {
    let mut b = [0u8; 16];
    b[..2].copy_from_slice(&(bindings::AF_INET as u16).to_ne_bytes());
    b[2..4].copy_from_slice(&port.to_be_bytes());
    b[4..8].copy_from_slice(&ip);
    SockAddr::from_raw(&b)
}

fn v6(ip: [u8; 16], port: u16) -> Result<SockAddr> {
    let mut b = [0u8; 28];
    b[..2].copy_from_slice(&(bindings::AF_INET6 as u16).to_ne_bytes());
    b[2..4].copy_from_slice(&port.to_be_bytes());
    b[8..24].copy_from_slice(&ip);
    SockAddr::from_raw(&b)
}

fn lo4() -> Result<SockAddr> {
    v4([127, 0, 0, 1], 0)
}

fn lo6() -> Result<SockAddr> {
    let mut ip = [0u8; 16];
    ip[15] = 1;
    v6(ip, 0)
}

fn display_is(a: &SockAddr, want: &CStr) -> Result<bool> {
    let s = CString::try_from_fmt(fmt!("{}", a))?;
    if s.to_bytes() != want.to_bytes() {
        pr_err!(
            "drbd_rs_net: {} displayed where {:?} was expected\n",
            a,
            want
        );
    }
    Ok(s.to_bytes() == want.to_bytes())
}

/// A connected pair over `addr` (port 0): (accepted side, connecting side). The connect
/// completes in the kernel's softirq, so one thread can do both ends.
fn pair(addr: &SockAddr) -> Result<(TcpStream, TcpStream)> {
    let l = Listener::bind(addr)?;
    let peer = l.local_addr()?;
    let c = TcpStream::connect(addr, &peer, 2000)?;
    let s = l.accept(2000)?.ok_or(ETIMEDOUT)?;
    Ok((s, c))
}

/// Test data: byte `i` of stream `seed`.
fn pat(seed: u32, i: usize) -> u8 {
    ((i as u32)
        .wrapping_mul(2654435761)
        .wrapping_add(seed.wrapping_mul(0x9e37_79b9))
        >> 24) as u8
}

/// Sends [`TOTAL`] bytes of stream `seed`, alternating `send_all` of 5000 bytes and
/// `send_page` of 3000 bytes at offset 123 of a page.
fn send_stream(s: &TcpStream, seed: u32) -> Result {
    let mut buf = KVec::from_elem(0u8, 5000, GFP_KERNEL)?;
    let page = Page::alloc_page(GFP_KERNEL)?;
    let (mut at, mut k) = (0, 0);
    while at < TOTAL {
        let len = (TOTAL - at).min(if k % 2 == 0 { 5000 } else { 3000 });
        for (j, b) in buf[..len].iter_mut().enumerate() {
            *b = pat(seed, at + j);
        }
        if k % 2 == 0 {
            s.send_all(&buf[..len], true)?;
        } else {
            copy_to_page(&page, 123, &buf[..len])?;
            s.send_page(&page, 123, len, at + len < TOTAL)?;
        }
        at += len;
        k += 1;
    }
    Ok(())
}

/// Receives [`TOTAL`] bytes of stream `seed` and checks them, alternating `recv_exact` of
/// 7000 bytes and `recv_page` of 4000 bytes at offset 50 of a page.
fn recv_stream(s: &TcpStream, seed: u32) -> Result {
    let mut buf = KVec::from_elem(0u8, 7000, GFP_KERNEL)?;
    let page = Page::alloc_page(GFP_KERNEL)?;
    let (mut at, mut k) = (0, 0);
    while at < TOTAL {
        let len = (TOTAL - at).min(if k % 2 == 0 { 7000 } else { 4000 });
        if k % 2 == 0 {
            s.recv_exact(&mut buf[..len])?;
        } else {
            s.recv_page(&page, 50, len)?;
            copy_from_page(&page, 50, &mut buf[..len])?;
        }
        if let Some(j) = (0..len).find(|&j| buf[j] != pat(seed, at + j)) {
            pr_err!("drbd_rs_net: stream {} differs at byte {}\n", seed, at + j);
            return Err(EBADMSG);
        }
        at += len;
        k += 1;
    }
    Ok(())
}

/// The connecting side of [`transfer`], in a kernel thread.
fn client(addr: &SockAddr, peer: &SockAddr) -> Result {
    let c = TcpStream::connect(addr, peer, 2000)?;
    c.set_nodelay();
    recv_stream(&c, 1)?;
    send_stream(&c, 2)
}

/// 1 MiB each way between the test thread (accepting) and a kernel thread (connecting).
fn transfer(addr: SockAddr) -> Result {
    let start = Instant::<Monotonic>::now();
    let l = Listener::bind(&addr)?;
    let peer = l.local_addr()?;
    ensure!(peer.port() != 0 && peer.is_v6() == addr.is_v6());
    let outcome = new_outcome()?;
    let o = outcome.clone();
    let t = KThread::spawn(c"drbd_rs_kunit_c", move || {
        record(&o, client(&addr, &peer));
    })?;
    let s = l.accept(2000)?.ok_or(ETIMEDOUT)?;
    let from = s.peer_addr()?;
    ensure!(from.is_v6() == addr.is_v6() && from.port() != 0 && from.port() != peer.port());
    // The client waits for our data: the connection is up.
    ensure!(s.is_alive());
    s.set_buffer_sizes(256 << 10, 256 << 10);
    s.set_timeouts(Some(10_000), Some(10_000));
    send_stream(&s, 1)?;
    recv_stream(&s, 2)?;
    ensure!(wait_finished(&t, 5000));
    ensure!(outcome_is(&outcome, Ok(())));
    // The client's stream was dropped with its closure: EOF.
    ensure!(!s.is_alive());
    t.stop();
    pr_info!(
        "drbd_rs_net: 1 MiB each way over {} in {} ms\n",
        peer,
        start.elapsed().as_millis()
    );
    Ok(())
}

/// Drops set a flag: shows that a closure was freed.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[kunit_tests(drbd_rs_net)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_parse_display_compare() -> Result {
        let a = v4([192, 0, 2, 1], 7789)?;
        ensure!(!a.is_v6() && a.port() == 7789 && a.as_raw().len() == 16);
        ensure!(display_is(&a, c"192.0.2.1:7789")?);
        ensure!(SockAddr::from_raw(a.as_raw())? == a);
        ensure!(v4([192, 0, 2, 1], 7788)? != a);
        ensure!(v4([192, 0, 2, 2], 7789)? != a);

        let mut ip = [0u8; 16];
        ip[0] = 0xfd;
        ip[15] = 1;
        let b = v6(ip, 7789)?;
        ensure!(b.is_v6() && b.port() == 7789 && b.as_raw().len() == 28);
        ensure!(display_is(&b, c"[fd00::1]:7789")?);
        ensure!(b != a && SockAddr::from_raw(b.as_raw())? == b);
        ensure!(display_is(&lo6()?, c"[::1]:0")?);
        ensure!(display_is(&v6([0; 16], 1)?, c"[::]:1")?);
        let ip = [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xab, 0xcd,
        ];
        ensure!(display_is(&v6(ip, 2)?, c"[2001:db8:0:1::abcd]:2")?);

        // Too short for the family, unknown families, nothing at all.
        ensure!(SockAddr::from_raw(&a.as_raw()[..15]).is_err());
        ensure!(SockAddr::from_raw(&b.as_raw()[..27]).is_err());
        ensure!(SockAddr::from_raw(&[]).is_err());
        ensure!(SockAddr::from_raw(&[2]).is_err());
        let mut unix = [0u8; 28];
        unix[..2].copy_from_slice(&1u16.to_ne_bytes());
        ensure!(SockAddr::from_raw(&unix) == Err(EINVAL));
        // Longer input is fine: the sockaddr's own size counts.
        let mut long = [0u8; 32];
        long[..16].copy_from_slice(a.as_raw());
        ensure!(SockAddr::from_raw(&long)? == a);
        Ok(())
    }

    #[test]
    fn transfer_1mib_each_way_ipv4() -> Result {
        transfer(lo4()?)
    }

    #[test]
    fn transfer_1mib_each_way_ipv6() -> Result {
        let addr = lo6()?;
        match Listener::bind(&addr) {
            Err(e) if e == EAFNOSUPPORT || e == EADDRNOTAVAIL => {
                pr_info!("drbd_rs_net: no IPv6 loopback ({:?}), skipped\n", e);
                return Ok(());
            }
            r => drop(r?),
        }
        transfer(addr)
    }

    #[test]
    fn accept_times_out_and_shutdown_ends_it() -> Result {
        let l = Listener::bind(&lo4()?)?;
        ensure!(l.accept(0)?.is_none());
        ensure!(l.accept(30)?.is_none());
        l.shutdown();
        ensure!(l.accept(1000).is_err());
        Ok(())
    }

    #[test]
    fn connect_refused_and_mixed_families() -> Result {
        // Bind a port, then close it: nobody listens there any more.
        let port = Listener::bind(&lo4()?)?.local_addr()?.port();
        let r = TcpStream::connect(&lo4()?, &v4([127, 0, 0, 1], port)?, 1000);
        ensure!(matches!(r, Err(e) if e == ECONNREFUSED));
        let r = TcpStream::connect(&lo4()?, &lo6()?, 1000);
        ensure!(matches!(r, Err(e) if e == EINVAL));
        Ok(())
    }

    #[test]
    fn recv_timeouts_eagain_then_etimedout() -> Result {
        let (s, c) = pair(&lo4()?)?;
        s.set_timeouts(Some(30), None);
        let mut b = [0u8; 4];
        ensure!(s.recv_exact(&mut b) == Err(EAGAIN));
        c.send_all(&[1, 2], false)?;
        ensure!(s.recv_exact(&mut b) == Err(ETIMEDOUT));
        Ok(())
    }

    #[test]
    fn eof_is_econnreset_and_not_alive() -> Result {
        let (s, c) = pair(&lo4()?)?;
        ensure!(s.is_alive());
        c.send_all(b"ab", false)?;
        drop(c);
        let mut b = [0u8; 2];
        s.recv_exact(&mut b)?;
        ensure!(b == *b"ab");
        ensure!(s.recv_exact(&mut b) == Err(ECONNRESET));
        ensure!(!s.is_alive());
        Ok(())
    }

    #[test]
    fn shutdown_wakes_a_blocked_recv() -> Result {
        let (s, c) = pair(&lo4()?)?;
        let s = Arc::new(s, GFP_KERNEL)?;
        let s2 = s.clone();
        let outcome = new_outcome()?;
        let o = outcome.clone();
        let t = KThread::spawn(c"drbd_rs_kunit_r", move || {
            let mut b = [0u8; 4];
            record(&o, s2.recv_exact(&mut b));
        })?;
        sleep_ms(50);
        ensure!(t.is_running());
        s.shutdown();
        ensure!(wait_finished(&t, 2000));
        ensure!(outcome_is(&outcome, Err(ECONNRESET)));
        // The peer sees EOF.
        c.set_timeouts(Some(1000), None);
        let mut b = [0u8; 1];
        ensure!(c.recv_exact(&mut b) == Err(ECONNRESET));
        Ok(())
    }

    #[test]
    fn stop_interrupts_accept_recv_and_sleep() -> Result {
        let l = Arc::new(Listener::bind(&lo4()?)?, GFP_KERNEL)?;
        let l2 = l.clone();
        let (a, o_a) = (new_outcome()?, new_outcome()?);
        let o = a.clone();
        let accepter = KThread::spawn(c"drbd_rs_kunit_a", move || {
            record(&o, l2.accept(10_000).map(|_| ()));
            if !should_stop() {
                record(&o, Err(EBUSY));
            }
        })?;
        let (s, _c) = pair(&lo4()?)?;
        let o = o_a.clone();
        let receiver = KThread::spawn(c"drbd_rs_kunit_r", move || {
            let mut b = [0u8; 4];
            record(&o, s.recv_exact(&mut b));
        })?;
        let slept = new_outcome()?;
        let o = slept.clone();
        let sleeper = KThread::spawn(c"drbd_rs_kunit_s", move || {
            record(&o, if sleep_ms(10_000) { Err(EBUSY) } else { Ok(()) });
        })?;
        sleep_ms(50);
        ensure!(accepter.is_running() && receiver.is_running() && sleeper.is_running());
        // Each stop returns as soon as the thread noticed (not after its 10 s).
        let start = Instant::<Monotonic>::now();
        accepter.stop();
        receiver.stop();
        sleeper.stop();
        let ms = start.elapsed().as_millis();
        pr_info!("drbd_rs_net: three blocked threads stopped in {} ms\n", ms);
        ensure!(ms < 2000);
        ensure!(outcome_is(&a, Err(EINTR)));
        ensure!(outcome_is(&o_a, Err(EINTR)));
        ensure!(outcome_is(&slept, Ok(())));
        Ok(())
    }

    #[test]
    fn stop_after_return_and_before_start() -> Result {
        let outcome = new_outcome()?;
        let o = outcome.clone();
        let t = KThread::spawn(c"drbd_rs_kunit_f", move || record(&o, Ok(())))?;
        ensure!(wait_finished(&t, 2000));
        ensure!(outcome_is(&outcome, Ok(())));
        t.stop();

        // Stopped right after spawn: the thread may or may not have run its closure; either
        // way the closure is freed exactly once.
        let mut ran = 0;
        for _ in 0..20 {
            let dropped = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
            let flag = DropFlag(dropped.clone());
            let did_run = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
            let r = did_run.clone();
            let t = KThread::spawn(c"drbd_rs_kunit_e", move || {
                let _flag = flag;
                r.store(true, Ordering::SeqCst);
            })?;
            t.stop();
            ensure!(dropped.load(Ordering::SeqCst));
            ran += usize::from(did_run.load(Ordering::SeqCst));
        }
        pr_info!(
            "drbd_rs_net: {} of 20 threads stopped at once had run\n",
            ran
        );
        Ok(())
    }

    #[test]
    fn shash_test_vectors() -> Result {
        // RFC 2202, HMAC-SHA-1 test case 1.
        let mut h = Shash::new(c"hmac(sha1)")?;
        ensure!(h.digest_size() == 20);
        h.set_key(&[0x0b; 20])?;
        let mut out = [0u8; 64];
        let n = h.digest(b"Hi There", &mut out)?;
        let want = [
            0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37,
            0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00,
        ];
        ensure!(n == 20 && out[..20] == want);
        ensure!(h.digest(b"Hi There", &mut out[..19]) == Err(EINVAL));

        // CRC-32C check value of "123456789" (0xe3069283), stored little-endian.
        let mut c = Shash::new(c"crc32c")?;
        let n = c.digest(b"123456789", &mut out)?;
        ensure!(n == 4 && out[..4] == [0x83, 0x92, 0x06, 0xe3]);

        // MD5 of nothing (RFC 1321).
        let mut m = Shash::new(c"md5")?;
        let n = m.digest(b"", &mut out)?;
        let want = [
            0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8,
            0x42, 0x7e,
        ];
        ensure!(n == 16 && out[..16] == want);
        ensure!(matches!(Shash::new(c"drbd-rs-no-such-alg"), Err(e) if e == ENOENT));
        Ok(())
    }
}
