// SPDX-License-Identifier: GPL-2.0

//! The connection of a resource to its peer (DRBD 8.4's `struct drbd_connection`): its network
//! settings, the receiver thread that establishes the two TCP sockets and runs the handshake,
//! and the [`Session`] of one established connection, through which everything is sent.
//!
//! Threads, as in the C module:
//! - the receiver (`drbd_r_<name>`): listens and connects until both sockets are up
//!   (`P_INITIAL_DATA` / `P_INITIAL_META`), runs the features handshake and cram-hmac, sends the
//!   parameters, then reads the data socket ([`crate::net::receiver`]) until the session fails; then
//!   it cleans up and starts over, until `disconnect`;
//! - the ack receiver (`drbd_a_<name>`, [`crate::ack`]): reads the meta socket and keeps the
//!   peer alive with `P_PING`;
//! - application writes are sent by the submitting thread itself (blk-mq `queue_rq` may sleep
//!   here), serialised on the data socket by [`Session::data_tx`]; the `P_BARRIER` closing an
//!   epoch goes out before the next write, or from [`Connection::barrier_work`] if none comes.
//!
//! A session fails ([`Session::fail`]) on the first error anywhere: both sockets are shut down,
//! which wakes every thread blocked on them; the receiver then reaps the ack receiver, fails
//! what was in flight ([`crate::request`]) and reconnects. Nothing a peer sends can make this
//! node forget its configuration: malformed handshakes from strangers only drop that socket.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::{new_condvar, new_mutex, new_spinlock, Arc, CondVar, Mutex, SpinLock},
    workqueue::{impl_has_work, new_work, Work},
};

use crate::device::Device;
use crate::drbd_core::{
    conflict::PeerSeq,
    genl::{AfterSb, ConnState, DrbdState},
    packets::{
        AuthChallenge, AuthResponse, ConnectionFeatures, FeatureNegotiation, Packet, Protocol, CF_DISCARD_MY_DATA, CF_DRY_RUN, CHALLENGE_LEN,
    },
    uuid::Policies,
    wire::{self, Command, HeaderError},
};
use crate::conf::Conf;
use crate::sys::{
    self,
    crypto::Shash,
    net::{Listener, SockAddr, TcpStream},
    thread::{self, KThread},
};

/// Largest control packet this node encodes (header + payload) on the stack. Bitmaps and data
/// are sent from their own buffers.
const SMALL_PACKET: usize = 256;

/// The `net_conf` values the connection uses, read from the netlink [`Conf`] (field numbers of
/// `drbd_genl.h`).
pub(crate) struct NetSettings {
    /// Replication protocol: 1 = A, 2 = B, 3 = C.
    pub(crate) protocol: u32,
    /// `timeout`, 0.1 s.
    pub(crate) timeout_ds: u32,
    /// `ping-int`, s.
    pub(crate) ping_int_s: u32,
    /// `ping-timeout`, 0.1 s.
    pub(crate) ping_timeo_ds: u32,
    /// `connect-int`, s.
    pub(crate) connect_int_s: u32,
    /// `ko-count`.
    pub(crate) ko_count: u32,
    /// `max-buffers`.
    pub(crate) max_buffers: u32,
    /// `max-epoch-size`.
    pub(crate) max_epoch_size: u32,
    /// `sndbuf-size`, `rcvbuf-size` (0: autotuning).
    pub(crate) sndbuf: u32,
    /// See `sndbuf`.
    pub(crate) rcvbuf: u32,
    /// `cram-hmac-alg` (empty: no authentication) and `shared-secret`.
    pub(crate) cram_hmac_alg: KVec<u8>,
    /// See `cram_hmac_alg`.
    pub(crate) shared_secret: KVec<u8>,
    /// `after-sb-0pri`, `-1pri`, `-2pri`, `rr-conflict` as the wire carries them.
    pub(crate) after_sb: [u32; 3],
    /// See `after_sb`.
    pub(crate) rr_conflict: u32,
    /// `allow-two-primaries`, `discard-my-data`, `always-asbp`, `tentative`.
    pub(crate) two_primaries: bool,
    /// See `two_primaries`.
    pub(crate) discard_my_data: bool,
    /// See `two_primaries`.
    pub(crate) always_asbp: bool,
    /// See `two_primaries`.
    pub(crate) tentative: bool,
    /// `sock-check-timeo`, 0.1 s (0: use ping-timeout).
    pub(crate) sock_check_timeo_ds: u32,
    /// `verify-alg` (empty: online verify refused), `csums-alg` (empty: plain resync).
    pub(crate) verify_alg: KVec<u8>,
    /// See `verify_alg`.
    pub(crate) csums_alg: KVec<u8>,
    /// `csums-after-crash-only`.
    pub(crate) csums_after_crash_only: bool,
}

fn bytes_of(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), GFP_KERNEL)?;
    v.extend_from_slice(b, GFP_KERNEL)?;
    Ok(v)
}

impl NetSettings {
    /// Reads the settings from a `net_conf` (defaults already applied).
    pub(crate) fn from_conf(c: &Conf) -> Result<NetSettings> {
        let n = |id: u16| c.num(id) as u32;
        Ok(NetSettings {
            protocol: n(6),
            timeout_ds: n(8).max(1),
            ping_int_s: n(9).max(1),
            ping_timeo_ds: n(10).max(1),
            connect_int_s: n(7).max(1),
            ko_count: n(13),
            max_buffers: n(14).max(32),
            max_epoch_size: n(15).max(1),
            sndbuf: n(11),
            rcvbuf: n(12),
            cram_hmac_alg: bytes_of(c.str(2))?,
            shared_secret: bytes_of(c.str(1))?,
            after_sb: [n(17), n(18), n(19)],
            rr_conflict: n(20),
            two_primaries: c.num(24) != 0,
            discard_my_data: c.num(25) != 0,
            always_asbp: c.num(27) != 0,
            tentative: c.num(28) != 0,
            sock_check_timeo_ds: n(34),
            verify_alg: bytes_of(c.str(4))?,
            csums_alg: bytes_of(c.str(5))?,
            csums_after_crash_only: c.num(33) != 0,
        })
    }

    /// A copy (the strings are allocated).
    pub(crate) fn try_clone(&self) -> Result<NetSettings> {
        Ok(NetSettings {
            cram_hmac_alg: bytes_of(&self.cram_hmac_alg)?,
            shared_secret: bytes_of(&self.shared_secret)?,
            verify_alg: bytes_of(&self.verify_alg)?,
            csums_alg: bytes_of(&self.csums_alg)?,
            after_sb: self.after_sb,
            ..*self
        })
    }

    /// The `P_PROTOCOL` this node sends.
    pub(crate) fn protocol_packet(&self) -> Protocol {
        let mut conn_flags = 0;
        if self.discard_my_data {
            conn_flags |= CF_DISCARD_MY_DATA;
        }
        if self.tentative {
            conn_flags |= CF_DRY_RUN;
        }
        Protocol {
            wire_protocol: self.protocol,
            after_sb_0p: self.after_sb[0],
            after_sb_1p: self.after_sb[1],
            after_sb_2p: self.after_sb[2],
            conn_flags,
            two_primaries: u32::from(self.two_primaries),
            integrity_alg: Default::default(),
        }
    }

    /// The split-brain and resync policies for the sync handshake.
    pub(crate) fn policies(&self) -> Policies {
        let asb = |v: u32| AfterSb::from_raw(v).unwrap_or(AfterSb::Disconnect);
        Policies {
            after_sb_0p: asb(self.after_sb[0]),
            after_sb_1p: asb(self.after_sb[1]),
            after_sb_2p: asb(self.after_sb[2]),
            rr_conflict: asb(self.rr_conflict),
            always_asbp: self.always_asbp,
            tentative: self.tentative,
        }
    }

    fn ping_timeo_ms(&self) -> u32 {
        self.ping_timeo_ds.saturating_mul(100)
    }
}

/// Why a session ended; becomes the connection state shown until the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The peer closed or reset the connection.
    BrokenPipe,
    /// A time-out or a network error.
    NetworkFailure,
    /// The peer sent something malformed or unexpected.
    ProtocolError,
    /// The peer asked to disconnect (`P_CONN_ST_CHG_REQ` with Disconnecting).
    TearDown,
    /// Our own `disconnect` (or module unload).
    Disconnect,
    /// The configurations are incompatible: give up (StandAlone), as the C module does.
    Incompatible,
    /// The peer left a write unanswered for longer than `ko-count` x `timeout`.
    Timeout,
}

impl Failure {
    fn conn_state(self) -> ConnState {
        match self {
            Failure::BrokenPipe => ConnState::BrokenPipe,
            Failure::NetworkFailure => ConnState::NetworkFailure,
            Failure::ProtocolError => ConnState::ProtocolError,
            Failure::TearDown => ConnState::TearDown,
            Failure::Disconnect | Failure::Incompatible => ConnState::Disconnecting,
            Failure::Timeout => ConnState::Timeout,
        }
    }

    /// The failure an I/O error on a socket means.
    pub(crate) fn of_error(e: Error) -> Failure {
        if e == ECONNRESET || e == EPIPE {
            Failure::BrokenPipe
        } else {
            Failure::NetworkFailure
        }
    }
}

/// Which socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sock {
    /// The data socket (`P_DATA`, state and parameters, bitmaps, resync data).
    Data,
    /// The meta socket (acks, pings, state-change replies).
    Meta,
}

/// What only the data-socket sender touches: the epoch being filled.
pub(crate) struct DataTx {
    /// Number of the current epoch (sent in `P_BARRIER` when it closes).
    pub(crate) epoch: u32,
    /// Writes sent in the current epoch.
    pub(crate) epoch_writes: u32,
}


/// A connection: configured by `connect`, gone after `disconnect`.
#[pin_data]
pub(crate) struct Connection {
    /// The resource name (for log lines and thread names).
    pub(crate) name: KVec<u8>,
    /// Our address and the peer's.
    pub(crate) my_addr: SockAddr,
    /// See `my_addr`.
    pub(crate) peer_addr: SockAddr,
    /// The network settings (`net-options` changes them).
    #[pin]
    pub(crate) settings: Mutex<NetSettings>,
    /// The volumes, by volume number.
    pub(crate) devices: KVec<(u16, Arc<Device>)>,
    /// The protocol engines its sessions run.
    engine: &'static SessionEngine,
    /// The current session, while established.
    #[pin]
    session: Mutex<Option<Arc<Session>>>,
    /// The receiver thread.
    #[pin]
    receiver: Mutex<Option<KThread>>,
    /// `disconnect` was asked.
    stopping: AtomicBool,
    /// Rate limit for log lines about rejected connections (not the configured peer, no valid
    /// initial packet): anyone who can reach the port can cause them.
    stranger_limit: LogLimit,
    /// Rate limit for log lines about failed handshakes (features, cram-hmac, socket errors),
    /// kept apart so that a flood of strangers does not hide them.
    handshake_limit: LogLimit,
    /// Sessions established so far (`connect_cnt`): a fence-peer answer that arrives after
    /// the connection came back and went again is ignored.
    pub(crate) connect_cnt: AtomicU32,
    /// Writes that were waiting for the peer when it was lost while fencing froze the I/O;
    /// they complete when fencing ends ([`Connection::end_fencing`]).
    #[pin]
    fence_held: Mutex<KVec<crate::request::HeldWrites>>,
    /// The thread running the fence-peer handler after a loss (`drbd_async_h`), kept so
    /// that it is collected; it holds a reference to the connection until it returns.
    #[pin]
    fencer: Mutex<Option<KThread>>,
    /// The transfer log's current epoch (C's `current_tle_nr`): new writes join it. A write of
    /// it that completes moves it on ([`Connection::write_completing`]); the sender then
    /// sends the `P_BARRIER` that ends the old one (`crate::request`).
    pub(crate) tl_epoch: AtomicU32,
    /// Sends that `P_BARRIER` when no write comes to send it first.
    #[pin]
    pub(crate) barrier_work: Work<Connection>,
}

impl_has_work! {
    impl HasWork<Self> for Connection { self.barrier_work }
}

/// A log rate limit in the manner of the kernel's `___ratelimit`: at most [`LogLimit::BURST`]
/// lines in the [`LogLimit::INTERVAL_MS`] that follow the first line of a window; the lines left
/// out are counted and reported when the next window opens. Used by the receiver thread only.
struct LogLimit {
    begin_ms: AtomicU64,
    used: AtomicU32,
    missed: AtomicU32,
}

impl LogLimit {
    const BURST: u32 = 5;
    const INTERVAL_MS: u64 = 5000;

    const fn new() -> LogLimit {
        LogLimit {
            begin_ms: AtomicU64::new(0),
            used: AtomicU32::new(0),
            missed: AtomicU32::new(0),
        }
    }

    /// Whether a line may be logged at `now_ms`; if so, also how many lines the previous window
    /// left out (0: none).
    fn allow(&self, now_ms: u64) -> Option<u32> {
        let begin = self.begin_ms.load(Ordering::Relaxed);
        let mut missed = 0;
        if self.used.load(Ordering::Relaxed) == 0 || now_ms.wrapping_sub(begin) >= Self::INTERVAL_MS {
            self.begin_ms.store(now_ms, Ordering::Relaxed);
            self.used.store(0, Ordering::Relaxed);
            missed = self.missed.swap(0, Ordering::Relaxed);
        }
        if self.used.load(Ordering::Relaxed) >= Self::BURST {
            self.missed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.used.fetch_add(1, Ordering::Relaxed);
        Some(missed)
    }
}

/// A packet header that failed to decode, for a log line in the C module's words
/// ("Wrong magic value 0x%08x in protocol version %d").
pub(crate) struct BadHeader {
    /// What is wrong with it.
    pub(crate) err: HeaderError,
    /// The protocol version in force (80 before the features handshake, as the C module says).
    pub(crate) proto: u32,
}

impl fmt::Display for BadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.err {
            HeaderError::BadMagic(m) => {
                write!(f, "Wrong magic value 0x{:08x} in protocol version {}", m, self.proto)
            }
            HeaderError::NonZeroPad(p) => write!(f, "Header padding is not zero (0x{:08x})", p),
            HeaderError::Truncated { have, need } => {
                write!(f, "short header ({} of {} bytes)", have, need)
            }
        }
    }
}

/// A receive that ended early, for a log line in the C module's words ("short read (expected
/// size %d)", "sock was shut down by peer").
pub(crate) struct ShortRead {
    /// The error of the receive.
    pub(crate) err: Error,
    /// The number of bytes asked for.
    pub(crate) size: usize,
}

impl fmt::Display for ShortRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "short read (expected size {}): ", self.size)?;
        if self.err == ECONNRESET {
            f.write_str("sock was shut down by peer")
        } else if self.err == EAGAIN {
            f.write_str("timed out")
        } else {
            write!(f, "error {}", self.err.to_errno())
        }
    }
}


/// The log prefix of a connection: `drbd <name>: `.
macro_rules! conn_info {
    ($c:expr, $($arg:tt)*) => {
        pr_info!("drbd {}: {}", crate::connection::name_str(&$c.name), format_args!($($arg)*))
    };
}
macro_rules! conn_warn {
    ($c:expr, $($arg:tt)*) => {
        pr_warn!("drbd {}: {}", crate::connection::name_str(&$c.name), format_args!($($arg)*))
    };
}
macro_rules! conn_err {
    ($c:expr, $($arg:tt)*) => {
        pr_err!("drbd {}: {}", crate::connection::name_str(&$c.name), format_args!($($arg)*))
    };
}
pub(crate) use {conn_err, conn_info, conn_warn};

/// A resource name for log lines.
pub(crate) fn name_str(n: &[u8]) -> &str {
    core::str::from_utf8(n).unwrap_or("?")
}


/// The protocol engines a session runs, given by the layer above that implements them
/// (`net/`), so the connection starts and ends sessions without knowing their packets.
pub(crate) struct SessionEngine {
    /// The data socket's receiver: runs until the session fails.
    pub(crate) receive: fn(&Arc<Session>),
    /// The meta socket's receiver (acks, pings), on its own thread.
    pub(crate) receive_acks: fn(Arc<Session>),
    /// Clean-up after the session failed for the given reason.
    pub(crate) cleanup: fn(&Arc<Session>, Failure),
}

impl Connection {
    /// Creates the connection and starts its receiver thread (`drbdsetup connect`).
    /// `register` is called with the new connection before any state changes or threads
    /// start (the control plane records and announces it there); if it answers false the
    /// connection is not started (`ENOENT`).
    pub(crate) fn start(
        name: &[u8],
        my_addr: SockAddr,
        peer_addr: SockAddr,
        settings: NetSettings,
        devices: KVec<(u16, Arc<Device>)>,
        engine: &'static SessionEngine,
        register: impl FnOnce(&Arc<Connection>) -> bool,
    ) -> Result<Arc<Connection>> {
        let conn = Arc::pin_init(
            try_pin_init!(Connection {
                name: bytes_of(name)?,
                my_addr,
                peer_addr,
                settings <- new_mutex!(settings),
                devices,
                engine,
                session <- new_mutex!(None),
                receiver <- new_mutex!(None),
                stopping: AtomicBool::new(false),
                stranger_limit: LogLimit::new(),
                handshake_limit: LogLimit::new(),
                connect_cnt: AtomicU32::new(0),
                fence_held <- new_mutex!(KVec::new()),
                fencer <- new_mutex!(None),
                tl_epoch: AtomicU32::new(0),
                barrier_work <- new_work!("Connection::barrier_work"),
            }),
            GFP_KERNEL,
        )?;
        if !register(&conn) {
            return Err(ENOENT);
        }
        for (vnr, d) in conn.devices.iter() {
            d.set_peer(Some((conn.clone(), *vnr)));
            d.change_conn_state(|s| s.conn = ConnState::Unconnected);
        }
        let mut tname = [0u8; 16];
        let prefix = b"drbd_r_";
        let n = name.len().min(15 - prefix.len());
        tname[..prefix.len()].copy_from_slice(prefix);
        tname[prefix.len()..prefix.len() + n].copy_from_slice(&name[..n]);
        let tname = CStr::from_bytes_with_nul(&tname[..=prefix.len() + n]).map_err(|_| EINVAL)?;
        let c2 = conn.clone();
        match KThread::spawn(tname, move || c2.receiver_main()) {
            Ok(t) => {
                *conn.receiver.lock() = Some(t);
                Ok(conn)
            }
            Err(e) => {
                conn.detach_devices(ConnState::StandAlone);
                Err(e)
            }
        }
    }

    /// `disconnect`: stops the receiver (which ends any session) and leaves the volumes
    /// StandAlone. Waits for the threads.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(s) = self.session() {
            // Tell the peer, as the C module does, so it does not wait for a ping time-out;
            // with a fencing policy on either side one of the two outdates first.
            self.graceful_disconnect(&s);
            s.fail(Failure::Disconnect);
        } else {
            // Not connected: Disconnecting, then StandAlone, as the C module goes.
            self.set_all_conn(ConnState::Disconnecting);
        }
        let t = self.receiver.lock().take();
        if let Some(t) = t {
            t.stop();
        }
        self.detach_devices(ConnState::StandAlone);
        // Without a connection nothing is left to wait for: the held writes (marked out of
        // sync) complete; frozen new I/O stays frozen until fence-peer answers or resume-io.
        self.release_fence_held();
    }

    /// Unlinks the devices from this connection and sets their connection state.
    fn detach_devices(&self, cs: ConnState) {
        for (_, d) in self.devices.iter() {
            d.set_peer(None);
            d.change_conn_state(|s| {
                s.conn = cs;
                s.peer = crate::drbd_core::genl::Role::Unknown;
                if s.pdsk != crate::drbd_core::genl::DiskState::Outdated {
                    s.pdsk = crate::drbd_core::genl::DiskState::DUnknown;
                }
            });
        }
    }

    /// The established session, if any.
    pub(crate) fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().clone()
    }

    /// The device of volume `vnr`.
    pub(crate) fn device(&self, vnr: u16) -> Option<&Arc<Device>> {
        self.devices.iter().find(|(v, _)| *v == vnr).map(|(_, d)| d)
    }

    fn set_all_conn(&self, cs: ConnState) {
        for (_, d) in self.devices.iter() {
            d.change_conn_state(|s| s.conn = cs);
        }
    }

    fn stop_requested(&self) -> bool {
        self.stopping.load(Ordering::Acquire) || thread::should_stop()
    }

    /// Whether to log a line about a rejected connection (rate-limited, see [`LogLimit`]).
    fn stranger_log(&self) -> bool {
        self.limited(&self.stranger_limit, "about rejected connections")
    }

    /// Whether to log a line about a failed handshake (rate-limited, see [`LogLimit`]).
    fn handshake_log(&self) -> bool {
        self.limited(&self.handshake_limit, "about failed handshakes")
    }

    fn limited(&self, l: &LogLimit, what: &str) -> bool {
        match l.allow(sys::jiffies_ms()) {
            None => false,
            Some(0) => true,
            Some(n) => {
                conn_warn!(self, "{} messages {} suppressed\n", n, what);
                true
            }
        }
    }
}

mod establish;
pub(crate) mod events;
mod session;
pub(crate) use session::Session;
mod read_reply;
pub(crate) mod rx_epoch;
pub(crate) mod fence;

/// The `P_CONN_ST_CHG_REQ` a disconnecting node sends: conn = Disconnecting.
pub(crate) fn disconnect_request() -> crate::drbd_core::packets::ReqState {
    let mask = DrbdState {
        conn: 0x1f,
        ..DrbdState::default()
    };
    let val = DrbdState {
        conn: ConnState::Disconnecting.raw(),
        ..DrbdState::default()
    };
    crate::drbd_core::packets::ReqState { mask, val }
}
