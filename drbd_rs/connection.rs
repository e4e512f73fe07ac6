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
//!   here), serialised on the data socket by [`Session::data_tx`].
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
}

impl Failure {
    fn conn_state(self) -> ConnState {
        match self {
            Failure::BrokenPipe => ConnState::BrokenPipe,
            Failure::NetworkFailure => ConnState::NetworkFailure,
            Failure::ProtocolError => ConnState::ProtocolError,
            Failure::TearDown => ConnState::TearDown,
            Failure::Disconnect | Failure::Incompatible => ConnState::Disconnecting,
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

/// One established connection: both sockets and the agreed protocol.
///
/// # Invariants
///
/// Once `failed` is set it stays set and both sockets are shut down.
#[pin_data]
pub(crate) struct Session {
    /// The connection it belongs to.
    pub(crate) conn: Arc<Connection>,
    /// The data socket.
    pub(crate) data: TcpStream,
    /// The meta socket.
    pub(crate) meta: TcpStream,
    /// Agreed protocol version (86..=101).
    pub(crate) agreed: u32,
    /// Agreed `DRBD_FF_*` flags.
    pub(crate) features: u32,
    /// We hold `RESOLVE_CONFLICTS` (we accepted the peer's meta socket).
    pub(crate) resolve_conflicts: bool,
    /// Serialises the data socket's senders; holds the sender's epoch.
    #[pin]
    pub(crate) data_tx: Mutex<DataTx>,
    /// Serialises the meta socket's senders.
    #[pin]
    meta_tx: Mutex<()>,
    failed: AtomicBool,
    failure: AtomicU32,
    /// Our sequence number in acks (`packet_seq`).
    pub(crate) ack_seq: AtomicU32,
    /// The ack receiver's pending `P_PING` (set when sent, cleared by `P_PING_ACK`).
    pub(crate) ping_pending: AtomicBool,
    /// The reply to our state-change request (`P_STATE_CHG_REPLY`), if one arrived.
    #[pin]
    pub(crate) st_reply: Mutex<Option<i32>>,
    /// Notified when `st_reply` is set or the session fails.
    #[pin]
    pub(crate) st_reply_cv: CondVar,
    /// Writes waiting for acks, epochs waiting for barrier acks.
    #[pin]
    pub(crate) tl: Mutex<crate::request::Tl>,
    /// Threads sending a write now (the last one closes the epoch).
    pub(crate) senders: AtomicU32,
    /// The replication protocol of this session (1 = A, 2 = B, 3 = C).
    pub(crate) protocol: u32,
    /// Peer writes in flight and writes in the current receive epoch.
    #[pin]
    pub(crate) rx: Mutex<rx_epoch::RxEpoch>,
    /// Notified when a peer write completes.
    #[pin]
    pub(crate) rx_cv: CondVar,
    /// The newest of the peer's sequence numbers processed here (`peer_seq`; only the node
    /// that resolves conflicts keeps it).
    #[pin]
    peer_seq: SpinLock<PeerSeq>,
    /// Notified when `peer_seq` grows or the session fails.
    #[pin]
    peer_seq_cv: CondVar,
}

impl Session {
    /// Whether the session failed.
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The reason the session failed first.
    pub(crate) fn failure(&self) -> Failure {
        match self.failure.load(Ordering::Acquire) {
            0 => Failure::BrokenPipe,
            2 => Failure::ProtocolError,
            3 => Failure::TearDown,
            4 => Failure::Disconnect,
            5 => Failure::Incompatible,
            _ => Failure::NetworkFailure,
        }
    }

    /// Ends the session: the first reason is kept, both sockets are shut down so every thread
    /// blocked on them returns.
    pub(crate) fn fail(&self, why: Failure) {
        let code = match why {
            Failure::BrokenPipe => 0,
            Failure::NetworkFailure => 1,
            Failure::ProtocolError => 2,
            Failure::TearDown => 3,
            Failure::Disconnect => 4,
            Failure::Incompatible => 5,
        };
        if self
            .failed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.failure.store(code, Ordering::Release);
        }
        self.data.shutdown();
        self.meta.shutdown();
        {
            let _g = self.st_reply.lock();
            self.st_reply_cv.notify_all();
        }
        let _g = self.peer_seq.lock();
        self.peer_seq_cv.notify_all();
    }

    fn sock(&self, s: Sock) -> &TcpStream {
        match s {
            Sock::Data => &self.data,
            Sock::Meta => &self.meta,
        }
    }

    /// Encodes a header for `cmd` with `len` payload bytes for volume `vnr`.
    pub(crate) fn header(&self, vnr: u16, cmd: Command, len: u32) -> Result<([u8; 16], usize)> {
        let mut h = [0u8; 16];
        let n = wire::encode_header(&mut h, self.agreed, vnr, cmd as u16, len).ok_or(EINVAL)?;
        Ok((h, n))
    }

    /// Sends a small packet (`Packet::encode` into a stack buffer) on `sock`. Data-socket
    /// senders already holding [`Session::data_tx`] use [`Session::send_locked`].
    pub(crate) fn send(&self, sock: Sock, vnr: u16, p: &Packet<'_>) -> Result {
        match sock {
            Sock::Data => {
                let _g = self.data_tx.lock();
                self.send_unlocked(sock, vnr, p)
            }
            Sock::Meta => {
                let _g = self.meta_tx.lock();
                self.send_unlocked(sock, vnr, p)
            }
        }
    }

    /// [`Session::send`] on the data socket for a caller holding `data_tx`.
    pub(crate) fn send_locked(&self, _tx: &mut DataTx, vnr: u16, p: &Packet<'_>) -> Result {
        self.send_unlocked(Sock::Data, vnr, p)
    }

    fn send_unlocked(&self, sock: Sock, vnr: u16, p: &Packet<'_>) -> Result {
        if self.is_failed() {
            return Err(ECONNABORTED);
        }
        let mut buf = [0u8; SMALL_PACKET];
        let hs = wire::header_size(self.agreed);
        let (hbuf, body) = buf.split_at_mut(hs);
        let len = p.encode(body, self.agreed).map_err(|_| EINVAL)?;
        let n = wire::encode_header(hbuf, self.agreed, vnr, p.command() as u16, len as u32)
            .ok_or(EINVAL)?;
        let r = self.sock(sock).send_all(&buf[..n + len], false);
        if let Err(e) = r {
            self.fail(Failure::of_error(e));
        }
        r
    }

    /// Sends a header and `payload` (already encoded, e.g. a bitmap chunk) on the data socket
    /// for a caller holding `data_tx`.
    pub(crate) fn send_raw_locked(
        &self,
        _tx: &mut DataTx,
        vnr: u16,
        cmd: Command,
        payload: &[u8],
        more: bool,
    ) -> Result {
        if self.is_failed() {
            return Err(ECONNABORTED);
        }
        let (h, n) = self.header(vnr, cmd, payload.len() as u32)?;
        let r = self
            .data
            .send_all(&h[..n], true)
            .and_then(|()| self.data.send_all(payload, more));
        if let Err(e) = r {
            self.fail(Failure::of_error(e));
        }
        r
    }

    /// Sends on the meta socket (acks, pings, replies).
    pub(crate) fn send_meta(&self, vnr: u16, p: &Packet<'_>) -> Result {
        self.send(Sock::Meta, vnr, p)
    }

    /// A cluster-wide state change (`drbd_send_state_req` and the wait for its reply): asks the
    /// peer to agree to `mask`/`val` on volume `vnr`; returns the peer's `SS_*` answer, or
    /// `SS_CW_FAILED_BY_PEER`-like failure (-10) if the session ends or no answer comes.
    pub(crate) fn request_state(&self, vnr: u16, mask: DrbdState, val: DrbdState) -> i32 {
        self.request_with(Command::StateChgReq, vnr, mask, val)
    }

    /// A connection-wide state change request (`conn_send_state_req`), answered as
    /// [`Session::request_state`].
    pub(crate) fn request_conn_state(&self, mask: DrbdState, val: DrbdState) -> i32 {
        let cmd = crate::drbd_core::packets::ReqState::conn_command(self.agreed);
        self.request_with(cmd, 0, mask, val)
    }

    fn request_with(&self, cmd: Command, vnr: u16, mask: DrbdState, val: DrbdState) -> i32 {
        *self.st_reply.lock() = None;
        let req = crate::drbd_core::packets::ReqState { mask, val };
        if self
            .send(Sock::Data, vnr, &Packet::ReqState(cmd, req))
            .is_err()
        {
            return crate::drbd_core::genl::StateRv::CwFailedByPeer.raw();
        }
        let timeout = kernel::time::msecs_to_jiffies(self.conn.settings.lock().timeout_ds.saturating_mul(200));
        let mut g = self.st_reply.lock();
        let mut left = timeout;
        while g.is_none() && !self.is_failed() {
            match self.st_reply_cv.wait_interruptible_timeout(&mut g, left) {
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                _ => break,
            }
        }
        g.unwrap_or(crate::drbd_core::genl::StateRv::CwFailedByPeer.raw())
    }

    /// Sends a block ack (`p_block_ack`: `P_WRITE_ACK`, `P_NEG_ACK`, `P_RS_WRITE_ACK`,
    /// `P_NEG_DREPLY`, ...) for `blksize` bytes at `sector` on the meta socket, with the next
    /// ack sequence number.
    pub(crate) fn send_ack(
        &self,
        vnr: u16,
        cmd: Command,
        sector: u64,
        block_id: u64,
        blksize: u32,
    ) -> Result {
        // The number is taken under the socket's lock, so acks leave in the order of their
        // numbers: a resolving peer that saw ack k has seen every ack before it.
        let _g = self.meta_tx.lock();
        let a = crate::drbd_core::packets::BlockAck {
            sector,
            block_id,
            blksize,
            seq_num: self.next_ack_seq(),
        };
        self.send_unlocked(Sock::Meta, vnr, &Packet::BlockAck(cmd, a))
    }

    /// A block ack numbered `seq` was processed (`update_peer_seq`; the resolver only).
    pub(crate) fn update_peer_seq(&self, seq: u32) {
        if !self.resolve_conflicts {
            return;
        }
        let grew = self.peer_seq.lock().update(seq);
        if grew {
            self.peer_seq_cv.notify_all();
        }
    }

    /// Before judging a peer write numbered `seq` (`wait_for_and_update_peer_seq`): on the
    /// resolver, with two Primaries, waits until every ack the peer numbered before it was
    /// processed, at most `ping-timeout`; then the session fails ("Timed out waiting for
    /// missing ack packets; disconnecting"). Without two Primaries it only counts the number.
    pub(crate) fn wait_for_peer_seq(&self, minor: u32, seq: u32) -> Result<(), Failure> {
        if !self.resolve_conflicts {
            return Ok(());
        }
        let (two_primaries, timeo_ms) = {
            let st = self.conn.settings.lock();
            (st.two_primaries, st.ping_timeo_ms())
        };
        let mut g = self.peer_seq.lock();
        if !two_primaries {
            g.update(seq);
            return Ok(());
        }
        let mut left = kernel::time::msecs_to_jiffies(timeo_ms);
        loop {
            if g.may_process(seq) {
                return Ok(());
            }
            if self.is_failed() {
                return Err(self.failure());
            }
            match self.peer_seq_cv.wait_interruptible_timeout(&mut g, left) {
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                kernel::sync::CondVarTimeoutResult::Signal { .. } => {
                    return Err(Failure::NetworkFailure);
                }
                kernel::sync::CondVarTimeoutResult::Timeout => {
                    if g.may_process(seq) {
                        return Ok(());
                    }
                    drop(g);
                    pr_err!(
                        "drbd{}: Timed out waiting for missing ack packets; disconnecting\n",
                        minor
                    );
                    return Err(Failure::NetworkFailure);
                }
            }
        }
    }

    /// The next sequence number for an ack.
    pub(crate) fn next_ack_seq(&self) -> u32 {
        self.ack_seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }
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

/// Why the first packet of an accepted socket is not `P_INITIAL_DATA` / `P_INITIAL_META`.
enum BadFirst {
    Recv(ShortRead),
    Header(BadHeader),
    Command(u16, u32),
}

impl fmt::Display for BadFirst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadFirst::Recv(r) => r.fmt(f),
            BadFirst::Header(h) => h.fmt(f),
            BadFirst::Command(c, len) => write!(
                f,
                "unexpected packet {} (0x{:04x}), length {}",
                Command::from_u16(*c).map_or("Unknown", |c| c.name()),
                c,
                len
            ),
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

/// The handshake's own errors: which are the peer's fault and how to go on.
enum HandshakeError {
    /// Drop these sockets and keep waiting for the configured peer.
    Retry,
    /// Give up the configuration (incompatible settings).
    Fatal,
    /// The thread must stop.
    Stop,
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

    /// The receiver thread: connect, run a session, clean up, and again, until stopped.
    fn receiver_main(self: Arc<Self>) {
        let mut listener: Option<Listener> = None;
        while !self.stop_requested() {
            self.set_all_conn(ConnState::WfConnection);
            if listener.is_none() {
                match Listener::bind(&self.my_addr) {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        if self.stranger_log() {
                            conn_err!(self, "Failed to bind to {}: {}\n", self.my_addr, e.to_errno());
                        }
                    }
                }
            }
            let established = match listener.as_ref() {
                Some(l) => self.connect(l),
                None => {
                    thread::sleep_ms(1000);
                    continue;
                }
            };
            let (data, meta, resolve) = match established {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(_) => break,
            };
            let session = match self.handshake(data, meta, resolve) {
                Ok(s) => s,
                Err(HandshakeError::Retry) => {
                    self.set_all_conn(ConnState::Unconnected);
                    thread::sleep_ms(1000);
                    continue;
                }
                Err(HandshakeError::Stop) => break,
                Err(HandshakeError::Fatal) => {
                    conn_warn!(self, "Discarding network configuration.\n");
                    self.stopping.store(true, Ordering::Release);
                    break;
                }
            };
            let fatal = self.run_session(&session);
            if fatal {
                conn_warn!(self, "Discarding network configuration.\n");
                self.stopping.store(true, Ordering::Release);
                break;
            }
            if !self.stop_requested() {
                thread::sleep_ms(1000);
            }
        }
        drop(listener);
        if !thread::should_stop() {
            // Gave up on our own (incompatible peer): StandAlone without a network
            // configuration, as the C module goes.
            self.detach_devices(ConnState::StandAlone);
            events::gave_up(&self);
        }
    }

    /// Establishes both sockets (`drbd_connect`'s loop). `Ok(None)`: try again; `Err`: stop.
    fn connect(&self, listener: &Listener) -> Result<Option<(TcpStream, TcpStream, bool)>> {
        let (connect_ms, ping_timeo_ms, check_ms, snd, rcv) = {
            let s = self.settings.lock();
            let check = if s.sock_check_timeo_ds != 0 {
                s.sock_check_timeo_ds.saturating_mul(100)
            } else {
                s.ping_timeo_ms()
            };
            (s.connect_int_s.saturating_mul(1000), s.ping_timeo_ms(), check, s.sndbuf, s.rcvbuf)
        };
        let mut data: Option<TcpStream> = None;
        let mut meta: Option<TcpStream> = None;
        let mut resolve = false;
        loop {
            if self.stop_requested() {
                return Err(EINTR);
            }
            if let Ok(s) = TcpStream::connect(&self.my_addr, &self.peer_addr, connect_ms) {
                s.set_buffer_sizes(snd, rcv);
                if data.is_none() {
                    if self.send_first(&s, Command::InitialData).is_ok() {
                        data = Some(s);
                    }
                } else if meta.is_none() {
                    if self.send_first(&s, Command::InitialMeta).is_ok() {
                        resolve = false;
                        meta = Some(s);
                    }
                }
            }
            if data.is_some() && meta.is_some() && self.established(&data, &meta, check_ms) {
                break;
            }
            // Accept (maybe twice, when the peer's first packet crossed ours: "randomize").
            loop {
                let jitter = connect_ms / 7;
                let wait = if sys::random_u64() & 1 != 0 {
                    connect_ms.saturating_add(jitter)
                } else {
                    connect_ms - jitter
                };
                let s = match listener.accept(wait) {
                    Ok(Some(s)) => s,
                    Ok(None) => break,
                    Err(e) if e == EINTR => return Err(EINTR),
                    Err(_) => break,
                };
                if !self.is_peer(&s) {
                    if self.stranger_log() {
                        match s.peer_addr() {
                            Ok(a) => conn_warn!(self, "Dropping a connection from {}: not the configured peer\n", a),
                            Err(_) => conn_warn!(self, "Dropping a connection: not the configured peer\n"),
                        }
                    }
                    break;
                }
                s.set_buffer_sizes(snd, rcv);
                let fp = match self.receive_first(&s, ping_timeo_ms.saturating_mul(4)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        if self.stranger_log() {
                            conn_warn!(self, "Error receiving initial packet: {}\n", e);
                        }
                        None
                    }
                };
                data = data.filter(|d| d.is_alive());
                meta = meta.filter(|m| m.is_alive());
                let crossed = match fp {
                    Some(Command::InitialData) => {
                        let c = data.is_some();
                        if c && self.stranger_log() {
                            conn_warn!(self, "initial packet S crossed\n");
                        }
                        data = Some(s);
                        c
                    }
                    Some(Command::InitialMeta) => {
                        resolve = true;
                        let c = meta.is_some();
                        if c && self.stranger_log() {
                            conn_warn!(self, "initial packet M crossed\n");
                        }
                        meta = Some(s);
                        c
                    }
                    _ => true,
                };
                if crossed && sys::random_u64() & 1 != 0 {
                    continue;
                }
                break;
            }
            data = data.filter(|d| d.is_alive());
            meta = meta.filter(|m| m.is_alive());
            if data.is_some() && meta.is_some() && self.established(&data, &meta, check_ms) {
                break;
            }
        }
        match (data, meta) {
            (Some(d), Some(m)) => Ok(Some((d, m, resolve))),
            _ => Ok(None),
        }
    }

    /// Whether an accepted socket comes from the configured peer's address (any port).
    fn is_peer(&self, s: &TcpStream) -> bool {
        match s.peer_addr() {
            Ok(a) => a.same_host(&self.peer_addr),
            Err(_) => false,
        }
    }

    /// `connection_established`: both sockets up and still alive after a short wait.
    fn established(&self, d: &Option<TcpStream>, m: &Option<TcpStream>, check_ms: u32) -> bool {
        let (Some(d), Some(m)) = (d, m) else {
            return false;
        };
        thread::sleep_ms(check_ms);
        d.is_alive() && m.is_alive()
    }

    fn send_first(&self, s: &TcpStream, cmd: Command) -> Result {
        let mut h = [0u8; 8];
        wire::encode_header(&mut h, 0, 0, cmd as u16, 0).ok_or(EINVAL)?;
        s.set_timeouts(Some(self.settings.lock().ping_timeo_ms() * 4), None);
        s.send_all(&h, false)
    }

    /// Reads the first packet of an accepted socket: its command, if it is a valid one.
    fn receive_first(&self, s: &TcpStream, timeout_ms: u32) -> core::result::Result<Command, BadFirst> {
        s.set_timeouts(Some(timeout_ms), Some(timeout_ms));
        let mut h = [0u8; 8];
        s.recv_exact(&mut h)
            .map_err(|err| BadFirst::Recv(ShortRead { err, size: h.len() }))?;
        let hdr = wire::decode_header(&h, 0)
            .map_err(|err| BadFirst::Header(BadHeader { err, proto: 80 }))?;
        match Command::from_u16(hdr.command) {
            Some(c @ (Command::InitialData | Command::InitialMeta)) if hdr.length == 0 => Ok(c),
            _ => Err(BadFirst::Command(hdr.command, hdr.length)),
        }
    }

    /// The features handshake, cram-hmac and the parameters (`conn_connect` after the sockets).
    fn handshake(
        self: &Arc<Self>,
        data: TcpStream,
        meta: TcpStream,
        resolve: bool,
    ) -> core::result::Result<Arc<Session>, HandshakeError> {
        let st = self.settings.lock().try_clone().map_err(|_| HandshakeError::Retry)?;
        let ping_timeo = st.ping_timeo_ms() * 4;
        data.set_nodelay();
        meta.set_nodelay();
        data.set_timeouts(Some(ping_timeo), Some(ping_timeo));
        meta.set_timeouts(Some(st.ping_int_s.saturating_mul(1000)), Some(st.timeout_ds.saturating_mul(100)));

        // Features: an 8-byte header before any version is agreed.
        let neg = FeatureNegotiation::DRBD_84;
        let mut buf = [0u8; 8 + ConnectionFeatures::SIZE];
        let n = neg.packet().encode(&mut buf[8..]).map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut buf, 0, 0, Command::ConnectionFeatures as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&buf, false).map_err(|_| HandshakeError::Retry)?;
        let mut h = [0u8; 8];
        data.recv_exact(&mut h).map_err(|e| self.hs_io(e))?;
        let hdr = match wire::decode_header(&h, 0) {
            Ok(hdr) => hdr,
            Err(err) => {
                if self.handshake_log() {
                    conn_err!(self, "Handshake: {}\n", BadHeader { err, proto: 80 });
                }
                return Err(HandshakeError::Retry);
            }
        };
        if let Err(e) = neg.check_header(&hdr) {
            if self.handshake_log() {
                conn_err!(self, "{}\n", e);
            }
            return Err(HandshakeError::Retry);
        }
        let mut payload = [0u8; ConnectionFeatures::SIZE];
        data.recv_exact(&mut payload).map_err(|e| self.hs_io(e))?;
        let peer = ConnectionFeatures::decode(&payload, 0).map_err(|_| HandshakeError::Retry)?;
        let ag = match neg.negotiate(&peer) {
            Ok(a) => a,
            Err(e) => {
                if self.handshake_log() {
                    conn_err!(self, "{}\n", e);
                }
                return Err(HandshakeError::Retry);
            }
        };
        conn_info!(self, "{}\n", format_args!("{}", ag));
        conn_info!(self, "{}\n", format_args!("{}", ag.features_line()));

        if !st.cram_hmac_alg.is_empty() {
            self.authenticate(&data, &st, ag.protocol)?;
        }

        let session = Arc::pin_init(
            try_pin_init!(Session {
                conn: self.clone(),
                data,
                meta,
                agreed: ag.protocol,
                features: ag.features,
                resolve_conflicts: resolve,
                data_tx <- new_mutex!(DataTx { epoch: (sys::random_u64() as u32) | 1, epoch_writes: 0 }),
                meta_tx <- new_mutex!(()),
                failed: AtomicBool::new(false),
                failure: AtomicU32::new(0),
                ack_seq: AtomicU32::new(0),
                ping_pending: AtomicBool::new(false),
                st_reply <- new_mutex!(None),
                st_reply_cv <- new_condvar!(),
                tl <- new_mutex!(crate::request::Tl::default()),
                senders: AtomicU32::new(0),
                protocol: st.protocol,
                rx <- new_mutex!(rx_epoch::RxEpoch::default()),
                rx_cv <- new_condvar!(),
                peer_seq <- new_spinlock!(PeerSeq::new()),
                peer_seq_cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
        .map_err(|_| HandshakeError::Retry)?;
        // From here the data socket waits forever for the peer (the ack receiver's pings
        // detect a dead one) and sends give up after `timeout`.
        session
            .data
            .set_timeouts(None, Some(st.timeout_ds.saturating_mul(100).saturating_mul(st.ko_count.max(1))));
        Ok(session)
    }

    fn hs_io(&self, e: Error) -> HandshakeError {
        if e == EINTR && thread::should_stop() {
            return HandshakeError::Stop;
        }
        if self.handshake_log() {
            conn_warn!(self, "Handshake failed: socket error {}\n", e.to_errno());
        }
        HandshakeError::Retry
    }

    /// cram-hmac (`drbd_do_auth`): challenge the peer with 64 random bytes and answer its
    /// challenge with the HMAC of it under the shared secret.
    fn authenticate(
        &self,
        data: &TcpStream,
        st: &NetSettings,
        agreed: u32,
    ) -> core::result::Result<(), HandshakeError> {
        let mut alg = KVec::with_capacity(st.cram_hmac_alg.len() + 7, GFP_KERNEL)
            .map_err(|_| HandshakeError::Retry)?;
        let _ = alg.extend_from_slice(b"hmac(", GFP_KERNEL);
        let _ = alg.extend_from_slice(&st.cram_hmac_alg, GFP_KERNEL);
        let _ = alg.extend_from_slice(b")\0", GFP_KERNEL);
        let alg = CStr::from_bytes_with_nul(&alg).map_err(|_| HandshakeError::Fatal)?;
        let mut tfm = Shash::new(alg).map_err(|_| {
            conn_err!(self, "cram-hmac-alg {} not available\n", name_str(&st.cram_hmac_alg));
            HandshakeError::Fatal
        })?;
        tfm.set_key(&st.shared_secret).map_err(|_| HandshakeError::Fatal)?;

        let mut mine = [0u8; CHALLENGE_LEN];
        for c in mine.chunks_mut(8) {
            c.copy_from_slice(&sys::random_u64().to_ne_bytes());
        }
        let hs = wire::header_size(agreed);
        let mut out = [0u8; 16 + 2 * CHALLENGE_LEN];
        let n = AuthChallenge::new(&mine)
            .and_then(|c| c.encode(&mut out[hs..]))
            .map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut out, agreed, 0, Command::AuthChallenge as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&out[..hs + n], false).map_err(|e| self.hs_io(e))?;

        let (cmd, body) = self.recv_handshake_packet(data, agreed)?;
        if cmd != Command::AuthChallenge {
            conn_err!(self, "expected AuthChallenge packet, received: {}\n", cmd.name());
            return Err(HandshakeError::Retry);
        }
        let theirs = AuthChallenge::decode(&body, agreed).map_err(|e| {
            conn_err!(self, "AuthChallenge: {}\n", e);
            HandshakeError::Retry
        })?;
        if theirs.is_reflection_of(&mine) {
            conn_err!(self, "Peer presented the same challenge!\n");
            return Err(HandshakeError::Retry);
        }
        let mut resp = [0u8; 64];
        let rlen = tfm
            .digest(theirs.as_bytes(), &mut resp)
            .map_err(|_| HandshakeError::Retry)?;
        let n = AuthResponse::new(&resp[..rlen])
            .and_then(|r| r.encode(&mut out[hs..]))
            .map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut out, agreed, 0, Command::AuthResponse as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&out[..hs + n], false).map_err(|e| self.hs_io(e))?;

        let (cmd, body) = self.recv_handshake_packet(data, agreed)?;
        if cmd != Command::AuthResponse {
            conn_err!(self, "expected AuthResponse packet, received: {}\n", cmd.name());
            return Err(HandshakeError::Retry);
        }
        let got = AuthResponse::decode_expecting(&body, rlen).map_err(|_| {
            conn_err!(self, "expected AuthResponse payload of wrong size\n");
            HandshakeError::Retry
        })?;
        let mut right = [0u8; 64];
        let rl = tfm.digest(&mine, &mut right).map_err(|_| HandshakeError::Retry)?;
        if got.as_bytes() != &right[..rl] {
            if self.handshake_log() {
                conn_err!(self, "Authentication of peer failed\n");
            }
            return Err(HandshakeError::Retry);
        }
        conn_info!(
            self,
            "Peer authenticated using {} bytes HMAC\n",
            rl
        );
        Ok(())
    }

    /// Reads one handshake packet (at most 128 payload bytes).
    fn recv_handshake_packet(
        &self,
        data: &TcpStream,
        agreed: u32,
    ) -> core::result::Result<(Command, KVec<u8>), HandshakeError> {
        let hs = wire::header_size(agreed);
        let mut h = [0u8; 16];
        data.recv_exact(&mut h[..hs]).map_err(|e| self.hs_io(e))?;
        let hdr = wire::decode_header(&h[..hs], agreed).map_err(|err| {
            if self.handshake_log() {
                conn_err!(self, "Handshake: {}\n", BadHeader { err, proto: agreed });
            }
            HandshakeError::Retry
        })?;
        let cmd = Command::from_u16(hdr.command).ok_or(HandshakeError::Retry)?;
        let rule = crate::drbd_core::packets::expected_payload(cmd, agreed, 0)
            .ok_or(HandshakeError::Retry)?;
        if let Err(e) = rule.check(hdr.command, hdr.length) {
            conn_err!(self, "{}\n", e);
            return Err(HandshakeError::Retry);
        }
        let mut body = KVec::new();
        body.resize(hdr.length as usize, 0, GFP_KERNEL)
            .map_err(|_| HandshakeError::Retry)?;
        data.recv_exact(&mut body).map_err(|e| self.hs_io(e))?;
        Ok((cmd, body))
    }

    /// Runs an established session until it fails; returns whether the configuration must be
    /// given up.
    fn run_session(self: &Arc<Self>, session: &Arc<Session>) -> bool {
        self.connect_cnt.fetch_add(1, Ordering::AcqRel);
        *self.session.lock() = Some(session.clone());
        let ack = {
            let s2 = session.clone();
            let engine = self.engine;
            let mut tname = [0u8; 16];
            tname[..7].copy_from_slice(b"drbd_a_");
            let n = self.name.len().min(8);
            tname[7..7 + n].copy_from_slice(&self.name[..n]);
            match CStr::from_bytes_with_nul(&tname[..=7 + n]) {
                Ok(name) => KThread::spawn(name, move || (engine.receive_acks)(s2)).ok(),
                Err(_) => None,
            }
        };
        if ack.is_none() {
            session.fail(Failure::NetworkFailure);
        } else {
            (self.engine.receive)(session);
        }
        if let Some(a) = ack {
            a.stop();
        }
        *self.session.lock() = None;
        let why = session.failure();
        (self.engine.cleanup)(session, why);
        let next = if why == Failure::Incompatible || self.stop_requested() {
            ConnState::Disconnecting
        } else {
            why.conn_state()
        };
        for (_, d) in self.devices.iter() {
            d.lost_peer(next);
        }
        if !matches!(why, Failure::Incompatible | Failure::Disconnect) {
            self.set_all_conn(ConnState::Unconnected);
        }
        // A Primary that lost a peer it did not know outdated fences it (`conn_disconnect`
        // runs `conn_try_outdate_peer_async`); the receiver goes on connecting meanwhile.
        if self.devices.iter().any(|(_, d)| {
            let st = d.state();
            st.role == crate::drbd_core::genl::Role::Primary
                && st.pdsk.raw() >= crate::drbd_core::genl::DiskState::DUnknown.raw()
        }) {
            self.try_outdate_peer_async();
        }
        why == Failure::Incompatible
    }
}

pub(crate) mod events;
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
