//! `drbd-test-peer`: a hostile DRBD 8.4 peer for VM scenarios.
//!
//! Two roles:
//!
//! * `stranger`: connects to a resource's listening port as an unknown client would and sends a
//!   malformed first packet (or a malformed features handshake), then watches whether the DUT
//!   drops the socket.
//! * `peer`: plays the configured peer of a resource. It opens the data and the meta socket
//!   (`P_INITIAL_DATA`, `P_INITIAL_META`), agrees protocol 101 in the features handshake, sends
//!   `P_PROTOCOL`, `P_SYNC_PARAM89`, `P_SIZES`, `P_UUIDS` and `P_STATE` as the C module's
//!   `conn_connect` / `drbd_connected` do, answers `P_PING` and state-change requests, and once
//!   the DUT is connected injects ONE malformed packet. It then prints `DUT-CLOSED` if the DUT
//!   dropped the connection within the time-out, `DUT-ALIVE` otherwise.
//!
//! Every packet is built with the codec of `drbd-core` (the module's own `core/wire.rs` and
//! `core/packets.rs`); the malformed ones are valid encodings altered in one named way.
//!
//! The peer only connects out: it does not listen on the DUT's configured peer address, so the
//! DUT's own connection attempts are refused and the sockets of `drbd_connect()` never cross.
//! The DUT then takes our first socket as its data socket and our second as its meta socket.
//!
//! Every payload that carries data is filled with [`MARKER`], so a scenario can search the
//! whole backing device for it afterwards: finding it means a hostile write reached the disk.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use drbd_core::genl::{ConnState, DiskState, DrbdState, Role};
use drbd_core::meta::UUID_JUST_CREATED;
use drbd_core::packets::{
    encode_packet, AlgName, BarrierAck, BlockRequest, ConnectionFeatures, DataHeader, FeatureNegotiation, Packet,
    Protocol, QueueLimits, ReqStateReply, Sizes, State, SyncParam, Uuids, DRBD_MAX_BIO_SIZE,
    FF_WSAME, UUID_FLAG_INCONSISTENT,
};
use drbd_core::wire::{self, Command, PacketHeader};

/// Fills every data payload the peer sends; a scenario greps the backing device for it.
const MARKER: &[u8] = b"DRBD-TEST-PEER-HOSTILE-PAYLOAD\n";
/// Largest payload accepted from the DUT (a 1 MiB data packet plus its sub-header and digest).
const MAX_RECV_PAYLOAD: u32 = DRBD_MAX_BIO_SIZE + 4096;
/// An unknown command below `P_MAY_IGNORE` (0x100), so a receiver may not skip it.
const UNKNOWN_COMMAND: u16 = 0x00ff;

#[derive(Parser)]
#[command(about = "A hostile DRBD 8.4 peer: handshakes like the C module, then misbehaves once")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Connect to the resource's port as an unknown client and send a malformed first packet.
    Stranger {
        /// The DUT's listening address (its local address in `drbdsetup connect`).
        #[arg(long)]
        connect: SocketAddr,
        /// What to send.
        #[arg(long, value_enum)]
        case: StrangerCase,
        /// How many strangers to send, one after the other (one result line each).
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Seconds to wait for the DUT to drop each stranger.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Be the resource's configured peer, reach Connected, then inject one malformed packet.
    Peer {
        /// The peer address the DUT's configuration names (not listened on: see the crate docs).
        #[arg(long)]
        local: SocketAddr,
        /// The DUT's listening address.
        #[arg(long)]
        remote: SocketAddr,
        /// The DUT device's size in sectors; announced as our disk size, and the first sector
        /// past it is the target of `sector-out-of-range`.
        #[arg(long)]
        size_sectors: u64,
        /// What to inject.
        #[arg(long, value_enum)]
        case: PeerCase,
        /// Inject once this file exists (the scenario creates it when the DUT is Connected);
        /// without it, inject `--settle` seconds after the handshake.
        #[arg(long)]
        trigger: Option<PathBuf>,
        /// Seconds to wait after the handshake when no `--trigger` is given.
        #[arg(long, default_value_t = 3)]
        settle: u64,
        /// Seconds to wait for the DUT to accept the connection, and for the trigger.
        #[arg(long, default_value_t = 60)]
        connect_timeout: u64,
        /// Seconds to wait for the DUT to drop the connection after the injection.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
}

/// Malformed first contacts of a stranger.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StrangerCase {
    /// Data socket and meta socket, then a `P_CONNECTION_FEATURES` whose length is not 72.
    BadFeaturesLen,
    /// Bytes that are no DRBD header at all (an HTTP request).
    Garbage,
    /// A `P_INITIAL_DATA` header with a wrong magic.
    BadMagic,
    /// Three bytes of a header, then the stranger closes its side.
    ShortThenClose,
}

/// The one malformed thing a configured peer injects once connected.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PeerCase {
    /// A header whose magic is wrong for protocol 101.
    BadMagic,
    /// A `P_DATA` header whose length exceeds the largest data packet (1 MiB of data).
    OversizeLen,
    /// A `P_DATA` header promising 4 KiB of data, 1 KiB sent, then our side of the data
    /// socket is shut down.
    Truncated,
    /// A command no 8.4 receiver knows, below `P_MAY_IGNORE`.
    UnknownCmd,
    /// A 4 KiB `P_DATA` at the first sector past the end of the device.
    SectorOutOfRange,
    /// A `P_DATA_REPLY` for a read request the DUT never sent.
    WrongState,
    /// A `P_OV_REQUEST` (online verify) for 4 KiB at the first sector past the end of the
    /// device.
    OvRequestOutOfRange,
    /// A `P_CSUM_RS_REQUEST` whose digest is 128 bytes (the largest digest is 64).
    CsumDigestOversize,
    /// A `P_BARRIER_ACK` on the meta socket for an epoch the DUT never sent.
    BarrierAck,
    /// A `P_SUPERSEDED` (a two-Primaries conflict verdict) on the meta socket for a write the
    /// DUT never sent, without allow-two-primaries.
    Superseded,
    /// A `P_RETRY_WRITE` likewise.
    RetryWrite,
    /// With two Primaries allowed (`two_primaries` in our `P_PROTOCOL`; the DUT connects
    /// with --allow-two-primaries and resolves conflicts, as it accepted our meta socket): a
    /// 4 KiB `P_DATA` whose sequence number skips 1000 numbers no packet ever carried. The
    /// resolver waits for the missing packets (`wait_for_and_update_peer_seq`) and must give
    /// up after ping-timeout without writing.
    SeqGap,
}

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("[drbd-test-peer {:7.3}s] {}", start().elapsed().as_secs_f64(), format!($($arg)*))
    };
}

type Res<T> = Result<T, String>;

/// `len` bytes of [`MARKER`], repeated.
fn marked(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

/// Encodes a whole packet (header of the agreed protocol, payload) with the core codec.
fn frame(agreed: u32, packet: &Packet<'_>) -> Res<Vec<u8>> {
    let data = match packet {
        Packet::Data { data, digest, .. } => data.len() + digest.len(),
        _ => 0,
    };
    let mut buf = vec![0u8; 16 + 4096 + data];
    let n = encode_packet(&mut buf, agreed, 0, packet)
        .map_err(|e| format!("encoding {}: {e}", packet.command().name()))?;
    buf.truncate(n);
    Ok(buf)
}

/// Encodes a header alone, with whatever command and length the caller wants.
fn header(agreed: u32, command: u16, length: u32) -> Res<Vec<u8>> {
    let mut buf = vec![0u8; 16];
    let n = wire::encode_header(&mut buf, agreed, 0, command, length)
        .ok_or_else(|| format!("no header of protocol {agreed} for length {length}"))?;
    buf.truncate(n);
    Ok(buf)
}

fn send(stream: &mut impl Write, agreed: u32, packet: &Packet<'_>) -> Res<()> {
    let bytes = frame(agreed, packet)?;
    stream
        .write_all(&bytes)
        .map_err(|e| format!("sending {}: {e}", packet.command().name()))?;
    say!("-> {} ({} bytes)", packet.command().name(), bytes.len());
    Ok(())
}

fn send_raw(stream: &mut impl Write, what: &str, bytes: &[u8]) -> Res<()> {
    stream
        .write_all(bytes)
        .map_err(|e| format!("sending {what}: {e}"))?;
    say!("-> {what} ({} bytes)", bytes.len());
    Ok(())
}

fn command_name(command: u16) -> String {
    Command::from_u16(command).map_or_else(|| format!("0x{command:04x}"), |c| c.name().to_string())
}

/// Reads one packet; `Ok(None)` at a clean end of stream before a header.
fn recv(stream: &mut impl Read, agreed: u32) -> Res<Option<(PacketHeader, Vec<u8>)>> {
    let hs = wire::header_size(agreed);
    let mut h = [0u8; 16];
    let mut got = 0;
    while got < hs {
        match stream.read(&mut h[got..hs]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(format!(
                    "end of stream inside a header ({got} of {hs} bytes)"
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading a header: {e}")),
        }
    }
    let header =
        wire::decode_header(&h[..hs], agreed).map_err(|e| format!("bad header from DUT: {e:?}"))?;
    if header.length > MAX_RECV_PAYLOAD {
        return Err(format!("DUT sent a {} byte payload", header.length));
    }
    let mut payload = vec![0u8; header.length as usize];
    stream
        .read_exact(&mut payload)
        .map_err(|e| format!("reading {} payload: {e}", command_name(header.command)))?;
    Ok(Some((header, payload)))
}

fn connect_until(addr: SocketAddr, deadline: Instant) -> Res<TcpStream> {
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => {
                // Best effort: small packets must not wait for Nagle.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if Instant::now() >= deadline => return Err(format!("connect {addr}: {e}")),
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Waits until the DUT closes `stream` (end of stream or a reset) or `timeout` passes; the
/// bytes it sends meanwhile are discarded. Returns whether it closed.
fn wait_closed(stream: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return true;
        }
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Strangers.

fn stranger(addr: SocketAddr, case: StrangerCase, timeout: Duration) -> Res<&'static str> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut s = match connect_until(addr, deadline) {
        Ok(s) => s,
        Err(e) => {
            say!("stranger: {e}");
            return Ok("DUT-REFUSED");
        }
    };
    say!("stranger {case:?}: connected to {addr}");
    // Kept open until the verdict, so that the DUT sees both sockets alive.
    let mut _meta = None;
    match case {
        StrangerCase::Garbage => {
            send_raw(&mut s, "garbage", b"GET / HTTP/1.0\r\nHost: drbd\r\n\r\n")?;
        }
        StrangerCase::BadMagic => {
            let mut bytes = frame(0, &Packet::Empty(Command::InitialData))?;
            bytes[..4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
            send_raw(&mut s, "InitialData with magic 0xdeadbeef", &bytes)?;
        }
        StrangerCase::ShortThenClose => {
            let bytes = frame(0, &Packet::Empty(Command::InitialData))?;
            send_raw(&mut s, "3 bytes of an InitialData header", &bytes[..3])?;
            let _ = s.shutdown(Shutdown::Write);
            say!("shut down our side");
        }
        StrangerCase::BadFeaturesLen => {
            send(&mut s, 0, &Packet::Empty(Command::InitialData))?;
            let mut m = connect_until(addr, deadline)?;
            send(&mut m, 0, &Packet::Empty(Command::InitialMeta))?;
            _meta = Some(m);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            match recv(&mut s, 0)? {
                Some((h, _)) => say!("<- {} ({} bytes)", command_name(h.command), h.length),
                None => return Ok("DUT-CLOSED"),
            }
            let features = frame(0, &Packet::Features(FeatureNegotiation::DRBD_84.packet()))?;
            let mut bytes = header(0, Command::ConnectionFeatures as u16, 8)?;
            bytes.extend_from_slice(&features[8..16]);
            send_raw(&mut s, "ConnectionFeatures with length 8", &bytes)?;
        }
    }
    if wait_closed(&mut s, timeout) {
        say!("the DUT closed the stranger's socket");
        Ok("DUT-CLOSED")
    } else {
        say!(
            "the DUT kept the stranger's socket open for {}s",
            timeout.as_secs()
        );
        Ok("DUT-ALIVE")
    }
}

// ------------------------------------------------------------------------------------------------
// The configured peer.

/// What the reader threads saw.
struct Seen {
    closed: AtomicBool,
}

/// Reads the data socket: logs the DUT's packets and answers state-change requests on the meta
/// socket.
fn data_reader(mut data: TcpStream, meta: Arc<Mutex<TcpStream>>, agreed: u32, seen: Arc<Seen>) {
    loop {
        match recv(&mut data, agreed) {
            Ok(Some((h, payload))) => {
                let Some(cmd) = Command::from_u16(h.command) else {
                    say!(
                        "<- data: unknown command 0x{:04x} ({} bytes)",
                        h.command,
                        h.length
                    );
                    continue;
                };
                match cmd {
                    Command::State => {
                        if let Ok(p) = State::decode(&payload, agreed) {
                            let st = p.state;
                            say!(
                                "<- data: ReportState {}/{} {} {}/{}",
                                Role::from_raw(st.role).map_or("?", Role::name),
                                Role::from_raw(st.peer).map_or("?", Role::name),
                                ConnState::from_raw(st.conn).map_or("?", ConnState::name),
                                DiskState::from_raw(st.disk).map_or("?", DiskState::name),
                                DiskState::from_raw(st.pdsk).map_or("?", DiskState::name),
                            );
                        }
                    }
                    Command::StateChgReq | Command::ConnStChgReq => {
                        say!("<- data: {} (accepting it)", cmd.name());
                        let reply = if cmd == Command::StateChgReq {
                            Command::StateChgReply
                        } else {
                            Command::ConnStChgReply
                        };
                        // SS_SUCCESS.
                        let p = Packet::ReqStateReply(reply, ReqStateReply { retcode: 1 });
                        if let Ok(mut m) = meta.lock() {
                            if let Err(e) = send(&mut *m, agreed, &p) {
                                say!("{e}");
                            }
                        }
                    }
                    _ => say!("<- data: {} ({} bytes)", cmd.name(), h.length),
                }
            }
            Ok(None) => {
                say!("data socket: end of stream");
                break;
            }
            Err(e) => {
                say!("data socket: {e}");
                break;
            }
        }
    }
    seen.closed.store(true, Ordering::SeqCst);
}

/// Reads the meta socket and answers `P_PING` with `P_PING_ACK`.
fn meta_reader(mut rd: TcpStream, meta: Arc<Mutex<TcpStream>>, agreed: u32, seen: Arc<Seen>) {
    loop {
        match recv(&mut rd, agreed) {
            Ok(Some((h, _))) => {
                if h.command == Command::Ping as u16 {
                    if let Ok(mut m) = meta.lock() {
                        if let Err(e) = m.write_all(
                            &frame(agreed, &Packet::Empty(Command::PingAck)).unwrap_or_default(),
                        ) {
                            say!("meta socket: sending PingAck: {e}");
                        }
                    }
                } else {
                    say!("<- meta: {} ({} bytes)", command_name(h.command), h.length);
                }
            }
            Ok(None) => {
                say!("meta socket: end of stream");
                break;
            }
            Err(e) => {
                say!("meta socket: {e}");
                break;
            }
        }
    }
    seen.closed.store(true, Ordering::SeqCst);
}

struct PeerArgs {
    remote: SocketAddr,
    size_sectors: u64,
    case: PeerCase,
    trigger: Option<PathBuf>,
    settle: Duration,
    connect_timeout: Duration,
    timeout: Duration,
}

fn peer(a: &PeerArgs) -> Res<&'static str> {
    let deadline = Instant::now() + a.connect_timeout;
    // drbd_connect(): the first socket that sends P_INITIAL_DATA becomes the data socket, the
    // one that sends P_INITIAL_META the meta socket. Both headers are p_header80 (no version
    // is agreed yet).
    let mut data = connect_until(a.remote, deadline)?;
    say!("data socket connected to {}", a.remote);
    send(&mut data, 0, &Packet::Empty(Command::InitialData))?;
    let mut meta = connect_until(a.remote, deadline)?;
    say!("meta socket connected to {}", a.remote);
    send(&mut meta, 0, &Packet::Empty(Command::InitialMeta))?;

    // Features: each side sends its P_CONNECTION_FEATURES on the data socket and reads the
    // other's (drbd_do_features).
    let ours = FeatureNegotiation::DRBD_84;
    send(&mut data, 0, &Packet::Features(ours.packet()))?;
    data.set_read_timeout(Some(a.connect_timeout))
        .map_err(|e| e.to_string())?;
    let (h, payload) =
        recv(&mut data, 0)?.ok_or("the DUT closed the data socket before the features")?;
    ours.check_header(&h).map_err(|e| e.to_string())?;
    let theirs = ConnectionFeatures::decode(&payload, 0).map_err(|e| e.to_string())?;
    let agreed = ours.negotiate(&theirs).map_err(|e| e.to_string())?;
    say!(
        "<- ConnectionFeatures: {agreed}, {}",
        agreed.features_line()
    );
    let ap = agreed.protocol;
    data.set_read_timeout(None).map_err(|e| e.to_string())?;

    // What a C peer sends next: drbd_send_protocol, then drbd_connected per volume.
    let protocol = Protocol {
        wire_protocol: 3, // protocol C
        after_sb_0p: 0,   // disconnect
        after_sb_1p: 0,
        after_sb_2p: 0,
        conn_flags: 0,
        two_primaries: u32::from(matches!(a.case, PeerCase::SeqGap)),
        integrity_alg: AlgName::EMPTY,
    };
    send(
        &mut data,
        ap,
        &Packet::Protocol(Command::Protocol, protocol),
    )?;
    let sync = SyncParam {
        resync_rate: 250,
        c_plan_ahead: 20,
        c_delay_target: 10,
        c_fill_target: 100,
        c_max_rate: 102_400,
        ..SyncParam::default()
    };
    send(
        &mut data,
        ap,
        &Packet::SyncParam(SyncParam::command(ap), sync),
    )?;
    let qlim = (agreed.features & FF_WSAME != 0).then_some(QueueLimits {
        physical_block_size: 512,
        logical_block_size: 512,
        alignment_offset: 0,
        io_min: 512,
        io_opt: 0,
        discard_enabled: false,
        discard_zeroes_data: false,
        write_same_capable: false,
    });
    let sizes = Sizes {
        d_size: a.size_sectors,
        u_size: 0,
        c_size: a.size_sectors,
        max_bio_size: DRBD_MAX_BIO_SIZE,
        queue_order_type: 0,
        dds_flags: 0,
        qlim,
    };
    send(&mut data, ap, &Packet::Sizes(sizes))?;
    // Fresh meta-data on both sides: UUID_JUST_CREATED against UUID_JUST_CREATED is rule 10 of
    // drbd_uuid_compare, "no resync", and both stay Inconsistent.
    let uuids = Uuids {
        current: UUID_JUST_CREATED,
        bitmap: 0,
        history: [0, 0],
        bits_set: 0,
        flags: UUID_FLAG_INCONSISTENT,
    };
    send(&mut data, ap, &Packet::Uuids(uuids))?;
    let state = DrbdState {
        role: Role::Secondary.raw(),
        peer: Role::Unknown.raw(),
        conn: ConnState::WfReportParams.raw(),
        disk: DiskState::Inconsistent.raw(),
        pdsk: DiskState::DUnknown.raw(),
        ..DrbdState::default()
    };
    send(&mut data, ap, &Packet::State(State { state }))?;

    let seen = Arc::new(Seen {
        closed: AtomicBool::new(false),
    });
    let meta_w = Arc::new(Mutex::new(meta.try_clone().map_err(|e| e.to_string())?));
    {
        let (rd, m, s) = (
            data.try_clone().map_err(|e| e.to_string())?,
            meta_w.clone(),
            seen.clone(),
        );
        thread::spawn(move || data_reader(rd, m, ap, s));
        let (rd, m, s) = (
            meta.try_clone().map_err(|e| e.to_string())?,
            meta_w.clone(),
            seen.clone(),
        );
        thread::spawn(move || meta_reader(rd, m, ap, s));
    }

    match &a.trigger {
        Some(path) => {
            say!("waiting for {} before injecting", path.display());
            while !path.exists() {
                if Instant::now() >= deadline {
                    return Err(format!("{} did not appear in time", path.display()));
                }
                if seen.closed.load(Ordering::SeqCst) {
                    return Err("the DUT closed the connection before the injection".into());
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        None => thread::sleep(a.settle),
    }
    if seen.closed.load(Ordering::SeqCst) {
        return Err("the DUT closed the connection before the injection".into());
    }

    say!("injecting {:?}", a.case);
    let injected = Instant::now();
    // Write errors after the first bytes are expected (the DUT may drop us mid-packet).
    let result = inject(a, ap, &mut data, &meta_w);
    if let Err(e) = result {
        say!("{e}");
    }

    while !seen.closed.load(Ordering::SeqCst) && injected.elapsed() < a.timeout {
        thread::sleep(Duration::from_millis(50));
    }
    let verdict = if seen.closed.load(Ordering::SeqCst) {
        say!(
            "the DUT dropped the connection {:.2}s after the injection",
            injected.elapsed().as_secs_f64()
        );
        "DUT-CLOSED"
    } else {
        say!(
            "the DUT kept the connection for {}s after the injection",
            a.timeout.as_secs()
        );
        "DUT-ALIVE"
    };
    let _ = data.shutdown(Shutdown::Both);
    let _ = meta.shutdown(Shutdown::Both);
    Ok(verdict)
}

fn inject(a: &PeerArgs, ap: u32, data: &mut TcpStream, meta: &Mutex<TcpStream>) -> Res<()> {
    match a.case {
        PeerCase::BadMagic => {
            let mut bytes = frame(ap, &Packet::Empty(Command::Ping))?;
            bytes[..4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
            send_raw(data, "a header with magic 0xdeadbeef", &bytes)
        }
        PeerCase::OversizeLen => {
            // 1 MiB + 4 KiB of data: beyond DRBD_MAX_BIO_SIZE. Only the sub-header follows.
            let length = DataHeader::SIZE as u32 + DRBD_MAX_BIO_SIZE + 4096;
            let mut bytes = header(ap, Command::Data as u16, length)?;
            let mut sub = [0u8; DataHeader::SIZE];
            let dh = DataHeader {
                sector: 0,
                block_id: 1,
                seq_num: 1,
                dp_flags: 0,
            };
            dh.encode(&mut sub).map_err(|e| e.to_string())?;
            bytes.extend_from_slice(&sub);
            send_raw(
                data,
                &format!("Data header with length {length}, and its sub-header"),
                &bytes,
            )
        }
        PeerCase::Truncated => {
            let payload = marked(4096);
            let p = Packet::Data {
                command: Command::Data,
                header: DataHeader {
                    sector: 0,
                    block_id: 1,
                    seq_num: 1,
                    dp_flags: 0,
                },
                digest: &[],
                data: &payload,
            };
            let bytes = frame(ap, &p)?;
            let cut = bytes.len() - 3072;
            send_raw(
                data,
                &format!("{cut} of the {} bytes of a 4 KiB Data packet", bytes.len()),
                &bytes[..cut],
            )?;
            data.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
            say!("shut down our side of the data socket");
            Ok(())
        }
        PeerCase::UnknownCmd => {
            let bytes = header(ap, UNKNOWN_COMMAND, 0)?;
            send_raw(data, &format!("command 0x{UNKNOWN_COMMAND:04x}"), &bytes)
        }
        PeerCase::SectorOutOfRange => {
            let payload = marked(4096);
            let p = Packet::Data {
                command: Command::Data,
                header: DataHeader {
                    sector: a.size_sectors,
                    block_id: 1,
                    seq_num: 1,
                    dp_flags: 0,
                },
                digest: &[],
                data: &payload,
            };
            say!(
                "Data of 4096 bytes at sector {} (the device has {} sectors)",
                a.size_sectors,
                a.size_sectors
            );
            send(data, ap, &p)
        }
        PeerCase::SeqGap => {
            let payload = marked(4096);
            let p = Packet::Data {
                command: Command::Data,
                header: DataHeader {
                    sector: 8,
                    block_id: 1,
                    seq_num: 1000,
                    // Protocol C: the write is to be acknowledged once on disk.
                    dp_flags: drbd_core::packets::DP_SEND_WRITE_ACK,
                },
                digest: &[],
                data: &payload,
            };
            say!("Data of 4096 bytes at sector 8 with sequence number 1000 (none before it)");
            send(data, ap, &p)
        }
        PeerCase::WrongState => {
            let payload = marked(4096);
            let p = Packet::Data {
                command: Command::DataReply,
                header: DataHeader {
                    sector: 0,
                    block_id: 0x1234_5678,
                    seq_num: 0,
                    dp_flags: 0,
                },
                digest: &[],
                data: &payload,
            };
            say!("DataReply for block_id 0x12345678, a read the DUT never requested");
            send(data, ap, &p)
        }
        PeerCase::OvRequestOutOfRange => {
            let p = Packet::BlockRequest {
                command: Command::OvRequest,
                request: BlockRequest {
                    sector: a.size_sectors,
                    block_id: u64::MAX,
                    blksize: 4096,
                },
                digest: &[],
            };
            say!("OVRequest of 4096 bytes at sector {} (the device has {} sectors)", a.size_sectors, a.size_sectors);
            send(data, ap, &p)
        }
        PeerCase::CsumDigestOversize => {
            let mut bytes = header(ap, Command::CsumRsRequest as u16, (BlockRequest::SIZE + 128) as u32)?;
            let mut sub = [0u8; BlockRequest::SIZE];
            BlockRequest { sector: 0, block_id: u64::MAX, blksize: 4096 }
                .encode(&mut sub)
                .map_err(|e| e.to_string())?;
            bytes.extend_from_slice(&sub);
            bytes.extend_from_slice(&[0x5a; 128]);
            send_raw(data, "CsumRSRequest with a digest of 128 bytes", &bytes)
        }
        PeerCase::BarrierAck => {
            let p = Packet::BarrierAck(BarrierAck {
                barrier: 4711,
                set_size: 1,
            });
            say!("BarrierAck for epoch 4711 on the meta socket, no write was ever sent");
            let mut m = meta.lock().map_err(|_| "meta socket lock poisoned")?;
            send(&mut *m, ap, &p)
        }
        PeerCase::Superseded | PeerCase::RetryWrite => {
            let cmd = if matches!(a.case, PeerCase::Superseded) {
                Command::Superseded
            } else {
                Command::RetryWrite
            };
            let p = Packet::BlockAck(
                cmd,
                drbd_core::packets::BlockAck {
                    sector: 8,
                    block_id: 0x4711_0000,
                    blksize: 4096,
                    seq_num: 1,
                },
            );
            say!("{} for a write the DUT never sent, on the meta socket", cmd.name());
            let mut m = meta.lock().map_err(|_| "meta socket lock poisoned")?;
            send(&mut *m, ap, &p)
        }
    }
}

fn main() -> ExitCode {
    start();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Stranger {
            connect,
            case,
            count,
            timeout,
        } => (|| {
            for i in 0..count {
                let verdict = stranger(connect, case, Duration::from_secs(timeout))?;
                if count > 1 {
                    say!("stranger {}: {verdict}", i + 1);
                }
                println!("{verdict}");
            }
            Ok(())
        })(),
        Cmd::Peer {
            local,
            remote,
            size_sectors,
            case,
            trigger,
            settle,
            connect_timeout,
            timeout,
        } => {
            say!("peer of the resource listening on {remote} (configured peer address {local})");
            let a = PeerArgs {
                remote,
                size_sectors,
                case,
                trigger,
                settle: Duration::from_secs(settle),
                connect_timeout: Duration::from_secs(connect_timeout),
                timeout: Duration::from_secs(timeout),
            };
            peer(&a).map(|verdict| println!("{verdict}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
