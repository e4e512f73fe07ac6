// SPDX-License-Identifier: GPL-2.0

//! The data socket's receiver (DRBD 8.4's `drbdd` and its `receive_*` functions): the
//! parameters exchange after the handshake, state changes of the peer, the sync handshake,
//! peer writes and barriers, read requests, bitmap exchange and resync data.
//!
//! Every header is checked against the pure per-command rules (`core::packets::check_header`)
//! before a byte of payload is read, and every sector range against the device before any I/O:
//! a malformed or unexpected packet ends the session (ProtocolError) with a log line naming it,
//! and never reaches the disk.

use kernel::{prelude::*, sync::Arc};

use crate::connection::{conn_err, conn_info, conn_warn, BadHeader, Failure, Session, ShortRead};
use crate::device::Device;
use crate::drbd_core::{
    genl::{ConnState, DiskState, DrbdState, Role, StateRv},
    packets::{
        self, check_header, BlockRequest, Channel, DataHeader, Packet, Protocol, ReqStateReply, ID_SYNCER,
        SyncParam, Trim, DP_SEND_RECEIVE_ACK, DP_SEND_WRITE_ACK,
    },
    uuid::{self, Outcome, PeerUuids},
    wire::{self, Command},
};
use crate::drbd_core::conflict::Verdict;
use crate::net::peer_io::{PeerDiscard, PeerRead, PeerWrite, WriteKind};
use crate::sys::{bdev::WriteFlags, pages::PageBuf};

/// Payload buffer for everything but data (the largest is a bitmap packet: 4 KiB).
const RX_BUF: usize = 4096;

/// Sends `P_PROTOCOL`, then per volume `P_SYNC_PARAM`, `P_SIZES`, `P_UUIDS`, `P_STATE`
/// (`drbd_send_protocol`, `drbd_connected`), and enters WFReportParams.
fn send_params(s: &Arc<Session>) -> Result {
    let proto = s.conn.settings.lock().protocol_packet();
    s.send(
        crate::connection::Sock::Data,
        0,
        &Packet::Protocol(Command::Protocol, proto),
    )?;
    for (vnr, d) in s.conn.devices.iter() {
        d.change_conn_state(|st| st.conn = ConnState::WfReportParams);
        let sp = d.sync_param();
        s.send(
            crate::connection::Sock::Data,
            *vnr,
            &Packet::SyncParam(
                SyncParam::command(s.agreed),
                crate::sync::digest::with_algs(s, sp).as_sent(s.agreed),
            ),
        )?;
        crate::device::announce::send_sizes(s, *vnr, d)?;
        crate::device::announce::send_uuids(s, *vnr, d)?;
        crate::device::announce::send_state(s, *vnr, d)?;
    }
    Ok(())
}

/// The engines a connection's sessions run: this receiver, the ack receiver, the clean-up.
pub(crate) static SESSION_ENGINE: crate::connection::SessionEngine = crate::connection::SessionEngine {
    receive: run,
    receive_acks: crate::net::ack::ack_receiver,
    cleanup,
};

/// Runs the receiver for an established session until it fails.
pub(crate) fn run(s: &Arc<Session>) {
    if let Err(e) = send_params(s) {
        s.fail(Failure::of_error(e));
        return;
    }
    let mut buf: KVec<u8> = KVec::new();
    if buf.resize(RX_BUF, 0, GFP_KERNEL).is_err() {
        s.fail(Failure::NetworkFailure);
        return;
    }
    let hs = wire::header_size(s.agreed);
    while !s.is_failed() {
        let mut h = [0u8; 16];
        if let Err(e) = s.data.recv_exact(&mut h[..hs]) {
            if !s.is_failed() {
                if e == ECONNRESET {
                    conn_warn!(s.conn, "sock was shut down by peer\n");
                } else {
                    conn_warn!(s.conn, "receive error {} on the data socket\n", e.to_errno());
                }
            }
            s.fail(Failure::of_error(e));
            break;
        }
        let hdr = match wire::decode_header(&h[..hs], s.agreed) {
            Ok(hdr) => hdr,
            Err(err) => {
                conn_err!(s.conn, "{}\n", BadHeader { err, proto: s.agreed });
                s.fail(Failure::ProtocolError);
                break;
            }
        };
        let (cmd, rule) = match check_header(Channel::Data, &hdr, s.agreed, s.features) {
            Ok(x) => x,
            Err(packets::PacketError::UnexpectedCommand { command }) => {
                let name = Command::from_u16(command).map_or("Unknown", |c| c.name());
                conn_err!(
                    s.conn,
                    "Unexpected data packet {} (0x{:04x}), length {}\n",
                    name,
                    command,
                    hdr.length
                );
                s.fail(Failure::ProtocolError);
                break;
            }
            Err(e) => {
                conn_err!(s.conn, "bad packet header: {}\n", e);
                s.fail(Failure::ProtocolError);
                break;
            }
        };
        let r = match cmd {
            Command::Data | Command::RsDataReply | Command::DataReply => {
                receive_data(s, hdr.volume, cmd, hdr.length)
            }
            _ => {
                let len = hdr.length as usize;
                let _ = rule;
                match buf.get_mut(..len) {
                    None => {
                        conn_err!(s.conn, "packet {} too long: {}\n", cmd.name(), len);
                        Err(Failure::ProtocolError)
                    }
                    Some(payload) => match s.data.recv_exact(payload) {
                        Ok(()) => dispatch(s, hdr.volume, cmd, payload),
                        Err(e) => Err(short_read(s, cmd, len, e)),
                    },
                }
            }
        };
        if let Err(why) = r {
            s.fail(why);
            break;
        }
    }
}

fn volume(s: &Session, vnr: u16, cmd: Command) -> Result<Arc<Device>, Failure> {
    match s.conn.device(vnr) {
        Some(d) => Ok(d.clone()),
        None => {
            conn_err!(s.conn, "{} for unknown volume {}\n", cmd.name(), vnr);
            Err(Failure::ProtocolError)
        }
    }
}

/// A receive inside a packet failed (the peer closed the socket mid-packet, or an error): logs
/// it, unless the session is already failing, and maps it.
fn short_read(s: &Session, cmd: Command, size: usize, err: Error) -> Failure {
    if !s.is_failed() {
        conn_warn!(s.conn, "error receiving {}: {}\n", cmd.name(), ShortRead { err, size });
    }
    Failure::of_error(err)
}

fn proto_err(s: &Session, cmd: Command, e: packets::PacketError) -> Failure {
    conn_err!(s.conn, "malformed {} packet: {}\n", cmd.name(), e);
    Failure::ProtocolError
}

fn dispatch(s: &Arc<Session>, vnr: u16, cmd: Command, payload: &[u8]) -> Result<(), Failure> {
    let p = packets::decode_packet(cmd, payload, s.agreed, s.features, 0)
        .map_err(|e| proto_err(s, cmd, e))?;
    match p {
        Packet::Protocol(c, proto) => receive_protocol(s, c, &proto),
        Packet::SyncParam(_, sp) => {
            let d = volume(s, vnr, cmd)?;
            d.set_peer_resync_rate(sp.resync_rate);
            crate::sync::digest::receive_algs(s, &d, &sp)
        }
        Packet::Sizes(sz) => {
            let d = volume(s, vnr, cmd)?;
            receive_sizes(s, vnr, &d, &sz)
        }
        Packet::Uuids(u) => {
            let d = volume(s, vnr, cmd)?;
            d.set_peer_uuids(PeerUuids::from(u));
            if d.state().conn == ConnState::Connected && d.has_disk() {
                d.accept_skip_initial_sync(s, &u);
            }
            // A diskless node exposes the peer's data generation (`drbd_set_ed_uuid`), so it
            // can only attach a disk holding that generation later.
            if d.state().conn >= ConnState::Connected && !d.has_disk() {
                d.set_ed_uuid(u.current);
            }
            Ok(())
        }
        Packet::State(st) => {
            let d = volume(s, vnr, cmd)?;
            receive_state(s, vnr, &d, st.state)
        }
        Packet::ReqState(c, rq) => receive_req_state(s, vnr, c, rq.mask, rq.val),
        Packet::Barrier(b) => receive_barrier(s, b.barrier),
        Packet::BlockRequest { command, request, digest } => {
            let d = volume(s, vnr, cmd)?;
            match command {
                Command::OvRequest | Command::OvReply | Command::CsumRsRequest => {
                    receive_request(s, vnr, &d, command, &request, digest)
                }
                _ => receive_data_request(s, vnr, &d, command, &request),
            }
        }
        Packet::Bitmap(_) | Packet::CompressedBitmap(..) => {
            let d = volume(s, vnr, cmd)?;
            crate::sync::resync::receive_bitmap(s, vnr, &d, cmd, payload)
        }
        Packet::RsUuid(u) => {
            let d = volume(s, vnr, cmd)?;
            crate::sync::resync::receive_sync_uuid(s, vnr, &d, u.uuid)
        }
        Packet::BlockDesc(Command::OutOfSync, b) => {
            let d = volume(s, vnr, cmd)?;
            if b.out_of_sync_range(d.size_sectors()).is_err() {
                conn_err!(s.conn, "OutOfSync beyond end of device\n");
                return Err(Failure::ProtocolError);
            }
            d.oos_set(b.sector, b.blksize);
            Ok(())
        }
        Packet::Trim(c, t) => {
            let d = volume(s, vnr, cmd)?;
            receive_trim(s, vnr, &d, c, &t)
        }
        Packet::Empty(Command::UnplugRemote) | Packet::DelayProbe(_) => Ok(()),
        _ => {
            conn_err!(s.conn, "Unexpected data packet {} (0x{:04x})\n", cmd.name(), cmd as u16);
            Err(Failure::ProtocolError)
        }
    }
}

/// `P_PROTOCOL`: the settings both sides must share (`receive_protocol`).
///
/// `P_PROTOCOL_UPDATE` (the peer's `net-options` while connected): we take its
/// `allow-two-primaries` and `after-sb-*` policies, as the C module does, so both sides keep
/// agreeing. A change of the wire protocol itself is not followed (this node's requests in
/// flight were sent for the old one): the connection is dropped.
fn receive_protocol(s: &Session, cmd: Command, p: &Protocol) -> Result<(), Failure> {
    // The peer's "discard local" is our "discard remote".
    let convert = |v: u32| match v {
        5 => 6,
        6 => 5,
        v => v,
    };
    if cmd == Command::ProtocolUpdate {
        if p.wire_protocol != s.protocol {
            conn_err!(s.conn, "peer changed the protocol while connected; not supported by drbd-rs\n");
            return Err(Failure::ProtocolError);
        }
        let after_sb = [convert(p.after_sb_0p), convert(p.after_sb_1p), convert(p.after_sb_2p)];
        let two_primaries = p.two_primaries != 0;
        {
            let mut st = s.conn.settings.lock();
            st.after_sb = after_sb;
            st.two_primaries = two_primaries;
        }
        crate::connection::events::peer_protocol(&s.conn, two_primaries, after_sb);
        return Ok(());
    }
    let mine = s.conn.settings.lock().protocol_packet();
    let what = if p.wire_protocol != mine.wire_protocol {
        Some("protocol")
    } else if convert(p.after_sb_0p) != mine.after_sb_0p {
        Some("after-sb-0pri")
    } else if convert(p.after_sb_1p) != mine.after_sb_1p {
        Some("after-sb-1pri")
    } else if convert(p.after_sb_2p) != mine.after_sb_2p {
        Some("after-sb-2pri")
    } else if p.conn_flags & packets::CF_DISCARD_MY_DATA != 0
        && mine.conn_flags & packets::CF_DISCARD_MY_DATA != 0
    {
        Some("discard-my-data")
    } else if (p.two_primaries != 0) != (mine.two_primaries != 0) {
        Some("allow-two-primaries")
    } else if p.integrity_alg != mine.integrity_alg {
        Some("data-integrity-alg")
    } else {
        None
    };
    match what {
        Some(w) => {
            conn_err!(s.conn, "incompatible {} settings\n", w);
            Err(Failure::Incompatible)
        }
        None => Ok(()),
    }
}

/// `P_SIZES` (`receive_sizes`): agree on the smaller of the two disks.
fn receive_sizes(
    s: &Session,
    vnr: u16,
    d: &Arc<Device>,
    p: &packets::Sizes,
) -> Result<(), Failure> {
    if p.d_size == 0 && d.state().disk == DiskState::Diskless {
        conn_err!(s.conn, "some backing storage is needed\n");
        return Err(Failure::Incompatible);
    }
    match d.agree_size(p.d_size, p.u_size, p.c_size, p.max_bio_size) {
        Ok(changed) => {
            if changed && d.state().conn > ConnState::WfReportParams {
                let _ = crate::device::announce::send_sizes(s, vnr, d);
            }
            Ok(())
        }
        Err(()) => {
            conn_err!(s.conn, "The peer's disk size is too small! ({} sectors)\n", p.d_size);
            Err(Failure::Incompatible)
        }
    }
}

fn role_of(v: u8) -> Role {
    Role::from_raw(v).unwrap_or(Role::Unknown)
}

fn disk_of(v: u8) -> DiskState {
    DiskState::from_raw(v).unwrap_or(DiskState::DUnknown)
}

fn conn_of(v: u8) -> ConnState {
    ConnState::from_raw(v).unwrap_or(ConnState::StandAlone)
}

/// `P_STATE` (`receive_state`): the peer's role and disk; on a new connection (or when asked
/// to consider a resync), the sync handshake decides between Connected, SyncSource and
/// SyncTarget.
fn receive_state(s: &Arc<Session>, vnr: u16, d: &Arc<Device>, ps: DrbdState) -> Result<(), Failure> {
    let peer_role = role_of(ps.role);
    let peer_disk = disk_of(ps.disk);
    let peer_conn = conn_of(ps.conn);
    let peer_uuids = d.peer_uuids();
    let real_peer_disk = match &peer_uuids {
        Some(u) => uuid::real_peer_disk(peer_disk, u.flags),
        None => peer_disk,
    };
    if crate::sync::verify::peer_state(s, vnr, d, peer_conn, real_peer_disk) {
        return Ok(());
    }
    let os = d.state();
    let mut ns_conn = os.conn;
    if ns_conn == ConnState::WfReportParams {
        ns_conn = ConnState::Connected;
    }
    let cr = os.conn < ConnState::Connected
        || (os.conn == ConnState::Connected
            && (peer_disk == DiskState::Negotiating || os.disk == DiskState::Negotiating))
        || d.take_consider_resync()
        || (os.conn == ConnState::Connected
            && peer_conn >= ConnState::StartingSyncS
            && peer_conn <= ConnState::WfBitMapT);
    let mut outcome = Outcome::Connected;
    if cr && peer_uuids.is_some() && peer_disk >= DiskState::Negotiating && d.has_disk() {
        let pu = peer_uuids.unwrap_or_default();
        outcome = d.sync_handshake(s, pu, peer_role, real_peer_disk);
        match outcome {
            Outcome::Refused(_) => {
                if os.conn == ConnState::WfReportParams {
                    return Err(Failure::Incompatible);
                }
                return Err(Failure::ProtocolError);
            }
            Outcome::Connected => {
                ns_conn = ConnState::Connected;
                if d.state().disk == DiskState::UpToDate && real_peer_disk == DiskState::UpToDate {
                    d.handshake_found_equal();
                }
            }
            Outcome::SyncSource { full } => {
                if full {
                    d.oos_set_all();
                }
                ns_conn = ConnState::WfBitMapS;
            }
            Outcome::SyncTarget { full } => {
                if full {
                    d.oos_set_all();
                }
                ns_conn = ConnState::WfBitMapT;
            }
        }
    }
    // A new connection's state is judged by the state rules (not a hard change): two
    // Primaries need allow-two-primaries (`SS_TWO_PRIMARIES`, then the C module disconnects).
    if os.conn == ConnState::WfReportParams
        && d.role() == Role::Primary
        && peer_role == Role::Primary
        && !s.conn.settings.lock().two_primaries
    {
        pr_err!(
            "drbd{}: State change failed: {}\n",
            d.minor(),
            crate::drbd_core::genl::set_st_err_str(StateRv::TwoPrimaries.raw())
        );
        return Err(Failure::Incompatible);
    }
    let (os, ns) = d.change_conn_state(|st| {
        st.conn = ns_conn;
        st.peer = peer_role;
        st.pdsk = real_peer_disk;
        st.peer_isp = ps.aftr_isp || ps.user_isp;
        if st.disk == DiskState::Negotiating {
            st.disk = DiskState::Inconsistent;
        }
        // A node chosen as SyncTarget no longer has good data, even before the sync UUID
        // arrives and the source's data reaches it (`sanitize_state`: at most Outdated).
        if matches!(st.conn, ConnState::WfBitMapT | ConnState::WfSyncUuid)
            && st.disk.raw() > DiskState::Outdated.raw()
        {
            st.disk = DiskState::Outdated;
        }
    });
    if os.conn == ConnState::WfReportParams && ns.conn >= ConnState::Connected {
        crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
        // The peer is back while fencing froze the I/O (the C module's "case2"): the writes
        // it may lack are marked out of sync for the resync this handshake starts.
        if ns.susp_fen {
            s.conn.end_fencing();
        }
    }
    if os.conn >= ConnState::Connected && d.maybe_new_current_uuid(&os, &ns) {
        crate::device::announce::send_uuids(s, vnr, d).map_err(Failure::of_error)?;
    }
    if os.conn > ConnState::WfReportParams
        && ns.conn > ConnState::Connected
        && peer_conn <= ConnState::Connected
        && peer_disk != DiskState::Negotiating
    {
        // We want a resync the peer has not decided on yet.
        crate::device::announce::send_uuids(s, vnr, d).map_err(Failure::of_error)?;
        crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
    }
    if os.conn != ConnState::WfBitMapS && ns.conn == ConnState::WfBitMapS {
        crate::sync::resync::start_bitmap_exchange(s, vnr, d)?;
    }
    // A resync the peer finished (SyncSource side): its last P_RS_WRITE_ACKs cleared our
    // bits, or the target reports UpToDate.
    // Only once no bit is left but those that failed: acks still on their way on the meta
    // socket finish it otherwise (finishing early would keep the bitmap UUID and ignore them).
    if ns.conn == ConnState::SyncSource && peer_conn == ConnState::Connected
        && real_peer_disk == DiskState::UpToDate
        && d.rs_only_failed_left()
    {
        crate::sync::resync::source_finished(s, vnr, d);
    }
    let _ = outcome;
    Ok(())
}

/// `P_STATE_CHG_REQ` / `P_CONN_ST_CHG_REQ`: the peer asks us to agree to (and apply) a change
/// of its state; we see it mirrored (its role is our peer role).
fn receive_req_state(
    s: &Arc<Session>,
    vnr: u16,
    cmd: Command,
    mask: DrbdState,
    val: DrbdState,
) -> Result<(), Failure> {
    let reply_cmd = if cmd == Command::ConnStChgReq {
        Command::ConnStChgReply
    } else {
        Command::StateChgReply
    };
    let reply = |rv: i32| {
        s.send_meta(vnr, &Packet::ReqStateReply(reply_cmd, ReqStateReply { retcode: rv }))
            .map_err(Failure::of_error)
    };
    // A disconnect request: agree, then tear down. A Primary of ours that fences refuses
    // unless the peer outdates itself with it (`is_valid_state`: SS_PRIMARY_NOP); asked to
    // outdate ourselves (the peer's pdsk), we do.
    if mask.conn != 0 && conn_of(val.conn) == ConnState::Disconnecting {
        let peer_disk = (mask.disk != 0).then(|| disk_of(val.disk));
        let refuse = s.conn.devices.iter().any(|(_, d)| {
            let st = d.state();
            let pdsk = peer_disk.unwrap_or(st.pdsk);
            d.fencing() != crate::drbd_core::genl::Fencing::DontCare
                && st.role == Role::Primary
                && !matches!(pdsk, DiskState::Inconsistent | DiskState::Outdated)
        });
        if refuse {
            return reply(StateRv::PrimaryNop.raw());
        }
        // Asked to outdate ourselves: not while Primary (`SS_NO_UP_TO_DATE_DISK`: a Primary
        // needs UpToDate data without its peer).
        let outdate_me = mask.pdsk != 0 && disk_of(val.pdsk) == DiskState::Outdated;
        if outdate_me && s.conn.devices.iter().any(|(_, d)| d.state().role == Role::Primary) {
            return reply(StateRv::NoUpToDateDisk.raw());
        }
        for (_, d) in s.conn.devices.iter() {
            if let Some(p) = peer_disk {
                d.change_conn_state(|st| st.pdsk = p);
            }
            if outdate_me {
                d.outdate_own_disk();
            }
        }
        reply(StateRv::Success.raw())?;
        conn_info!(s.conn, "peer requested disconnect\n");
        return Err(Failure::TearDown);
    }
    // `invalidate`/`invalidate-remote` on the peer: a full sync, StartingSyncT there is
    // StartingSyncS here and the other way round (`convert_state`).
    if cmd == Command::StateChgReq && mask.conn != 0 {
        let want = crate::drbd_core::state::mirror_conn(conn_of(val.conn));
        if matches!(want, ConnState::StartingSyncS | ConnState::StartingSyncT) {
            let d = volume(s, vnr, cmd)?;
            // Both sides asked at once: the side that resolves conflicts refuses the peer's
            // request (`SS_CONCURRENT_ST_CHG`), the other lets the peer's win.
            if s.resolve_conflicts && d.full_sync_pending() {
                return reply(StateRv::ConcurrentStChg.raw());
            }
            let rv = d.peer_requests_full_sync(want);
            reply(rv.raw())?;
            if rv.raw() >= StateRv::Success.raw() {
                crate::sync::resync::begin_full_sync(s, vnr, &d)?;
            }
            return Ok(());
        }
    }
    if mask.conn != 0 && cmd == Command::StateChgReq {
        // Online verify: the peer becomes VerifyS, we VerifyT.
        let d = volume(s, vnr, cmd)?;
        return reply(crate::sync::verify::peer_requests_conn(s, &d, val.conn));
    }
    let targets: KVec<(u16, Arc<Device>)> = if cmd == Command::ConnStChgReq {
        let mut v = KVec::new();
        for (n, d) in s.conn.devices.iter() {
            v.push((*n, d.clone()), GFP_KERNEL)
                .map_err(|_| Failure::NetworkFailure)?;
        }
        v
    } else {
        let d = volume(s, vnr, cmd)?;
        let mut v = KVec::new();
        v.push((vnr, d), GFP_KERNEL).map_err(|_| Failure::NetworkFailure)?;
        v
    };
    let two_primaries = s.conn.settings.lock().two_primaries;
    let mut rv = StateRv::Success.raw();
    for (_, d) in targets.iter() {
        let st = d.state();
        // The peer's role becomes our peer role, its disk our peer disk.
        let new_peer = if mask.role != 0 { role_of(val.role) } else { st.peer };
        if new_peer == Role::Primary && st.role == Role::Primary && !two_primaries {
            rv = StateRv::TwoPrimaries.raw();
            break;
        }
    }
    if rv == StateRv::Success.raw() {
        for (tv, d) in targets.iter() {
            // Checked again under the state lock: a promotion of ours may have happened since.
            let mut refused = false;
            let (os, ns) = d.change_conn_state(|st| {
                let new_peer = if mask.role != 0 { role_of(val.role) } else { st.peer };
                if new_peer == Role::Primary && st.role == Role::Primary && !two_primaries {
                    refused = true;
                    return;
                }
                if mask.role != 0 {
                    st.peer = role_of(val.role);
                }
                if mask.disk != 0 {
                    st.pdsk = disk_of(val.disk);
                }
            });
            if refused {
                rv = StateRv::TwoPrimaries.raw();
                break;
            }
            if d.maybe_new_current_uuid(&os, &ns) {
                let _ = crate::device::announce::send_uuids(s, *tv, d);
            }
            // Peer was forced UpToDate & Primary while both were Inconsistent: resync.
            if os.disk == DiskState::Inconsistent
                && os.pdsk == DiskState::Inconsistent
                && os.peer == Role::Secondary
                && ns.peer == Role::Primary
            {
                d.set_consider_resync();
            }
        }
    }
    reply(rv)
}

/// `P_BARRIER`: once every write of the epoch is on disk, flush and acknowledge it with the
/// number of writes (nothing for an empty epoch, as the C receiver).
fn receive_barrier(s: &Arc<Session>, nr: u32) -> Result<(), Failure> {
    let writes = {
        let mut rx = s.rx.lock();
        while rx.inflight != 0 {
            s.rx_cv.wait(&mut rx);
        }
        let w = rx.writes;
        rx.writes = 0;
        w
    };
    if writes == 0 {
        return Ok(());
    }
    for (_, d) in s.conn.devices.iter() {
        if let Some(lower) = d.lower() {
            if let Err(e) = lower.flush_sync() {
                conn_warn!(s.conn, "flush of the backing device failed: {}\n", e.to_errno());
            }
        }
    }
    s.send_meta(
        0,
        &Packet::BarrierAck(packets::BarrierAck {
            barrier: nr,
            set_size: writes,
        }),
    )
    .map_err(Failure::of_error)
}

/// Receives the data of `P_DATA`, `P_RS_DATA_REPLY` (into a page buffer, then written) or
/// `P_DATA_REPLY` (into the pages of the read that asked for it).
fn receive_data(s: &Arc<Session>, vnr: u16, cmd: Command, length: u32) -> Result<(), Failure> {
    let mut sub = [0u8; DataHeader::SIZE];
    s.data
        .recv_exact(&mut sub)
        .map_err(|e| short_read(s, cmd, sub.len(), e))?;
    let dh = DataHeader::decode(&sub, s.agreed).map_err(|e| proto_err(s, cmd, e))?;
    let split = packets::split_body(cmd, length - DataHeader::SIZE as u32, 0)
        .map_err(|e| proto_err(s, cmd, e))?;
    if cmd == Command::DataReply {
        // The answer to one of our reads: its data goes straight into the request's pages.
        let Some(req) = s.tl.lock().take_read(dh.block_id, vnr, dh.sector) else {
            conn_err!(
                s.conn,
                "receive_DataReply: failed to find request 0x{:x}, sector {}s\n",
                dh.block_id,
                dh.sector
            );
            return Err(Failure::ProtocolError);
        };
        if split.data != req.bytes() {
            conn_err!(
                s.conn,
                "receive_DataReply: {} bytes for a read of {} at sector {}s\n",
                split.data,
                req.bytes(),
                dh.sector
            );
            req.fail();
            return Err(Failure::ProtocolError);
        }
        if let Err(e) = s.data.recv_request_data(req.request()) {
            req.fail();
            return Err(short_read(s, cmd, split.data as usize, e));
        }
        return Ok(());
    }
    let d = volume(s, vnr, cmd)?;
    let capacity = d.size_sectors();
    if let Err(e) = packets::check_capacity(dh.sector, split.data, capacity) {
        // "request from peer beyond end of local disk: capacity: ..s < sector: ..s + size: .."
        conn_err!(s.conn, "{}: {}\n", cmd.name(), e);
        return Err(Failure::ProtocolError);
    }
    if cmd == Command::Data {
        dh.check_data_flags().map_err(|e| proto_err(s, cmd, e))?;
    }
    if cmd == Command::RsDataReply && !d.expects_resync_reply() {
        conn_err!(s.conn, "Unexpected data packet RSDataReply: no resync request pending\n");
        return Err(Failure::ProtocolError);
    }
    let Some(lower) = d.lower() else {
        // No disk (detached, or failed): the data is read and dropped, the write is counted
        // in its epoch and refused with P_NEG_ACK, as the C receiver does.
        if split.data > 0 {
            let buf = PageBuf::alloc(split.data as usize).map_err(|_| Failure::NetworkFailure)?;
            for (page, used) in buf.pages() {
                s.data
                    .recv_page(page, 0, used)
                    .map_err(|e| short_read(s, cmd, split.data as usize, e))?;
            }
        }
        if cmd == Command::Data {
            s.rx.lock().writes += 1;
            if dh.dp_flags & DP_SEND_WRITE_ACK != 0 || (s.agreed < 100 && s.protocol == 3) {
                send_block_ack(s, vnr, Command::NegAck, dh.sector, dh.block_id, split.data)?;
            }
        } else {
            send_block_ack(s, vnr, Command::NegAck, dh.sector, ID_SYNCER, split.data)?;
        }
        return Ok(());
    };
    if split.data == 0 {
        // An empty write (a flush): nothing to store; ack as asked.
        if cmd == Command::Data && dh.dp_flags & DP_SEND_WRITE_ACK != 0 {
            let _ = lower.flush_sync();
            send_block_ack(s, vnr, Command::WriteAck, dh.sector, dh.block_id, 0)?;
        }
        return Ok(());
    }
    let npages = (split.data as usize).div_ceil(kernel::page::PAGE_SIZE) as u32;
    let nsect = u64::from(split.data >> 9);
    {
        // Bound the memory peer writes (data and resync) hold (max-buffers pages), as the C
        // receiver does, and keep overlapping ones in the order they came.
        let max = s.conn.settings.lock().max_buffers;
        let mut rx = s.rx.lock();
        while rx.inflight > 0 && (rx.pages + npages > max || rx.overlaps(vnr, dh.sector, nsect)) {
            s.rx_cv.wait(&mut rx);
        }
        rx.ranges
            .push((vnr, dh.sector, dh.sector + nsect), GFP_KERNEL)
            .map_err(|_| Failure::NetworkFailure)?;
        rx.inflight += 1;
        rx.pages += npages;
        if cmd == Command::Data {
            rx.writes += 1;
        }
    }
    let undo = |s: &Session| {
        let mut rx = s.rx.lock();
        rx.inflight -= 1;
        rx.pages = rx.pages.saturating_sub(npages);
        rx.remove_range(vnr, dh.sector);
        if cmd == Command::Data {
            rx.writes -= 1;
        }
        s.rx_cv.notify_all();
    };
    let mut buf = match PageBuf::alloc(split.data as usize) {
        Ok(b) => b,
        Err(_) => {
            undo(s);
            return Err(Failure::NetworkFailure);
        }
    };
    let mut off = 0usize;
    let mut r = Ok(());
    for (page, used) in buf.pages() {
        if let Err(e) = s.data.recv_page(page, 0, used) {
            r = Err(e);
            break;
        }
        off += used;
    }
    if let Err(e) = r {
        undo(s);
        // Nothing of a partly received block is written.
        return Err(short_read(s, cmd, split.data as usize - off, e));
    }
    // Two Primaries: ordered against our own writes in flight (`handle_write_conflicts`).
    let mut ws_id = 0;
    if cmd == Command::Data {
        let admitted = admit_peer_write(s, vnr, &d, dh.sector, dh.block_id, dh.seq_num, split.data);
        match written_or_undone(admitted, s, &undo)? {
            Some(id) => ws_id = id,
            None => return Ok(()),
        }
    }
    let kind = if cmd == Command::Data {
        if dh.dp_flags & DP_SEND_RECEIVE_ACK != 0 {
            send_block_ack(s, vnr, Command::RecvAck, dh.sector, dh.block_id, split.data)?;
        }
        WriteKind::Data {
            write_ack: dh.dp_flags & DP_SEND_WRITE_ACK != 0
                || (s.agreed < 100 && s.protocol == 3),
        }
    } else {
        WriteKind::Resync
    };
    let flags = WriteFlags {
        fua: dh.dp_flags & packets::DP_FUA != 0,
        preflush: dh.dp_flags & packets::DP_FLUSH != 0,
    };
    let _ = &mut buf;
    let pw = match PeerWrite::new(s.clone(), d.clone(), vnr, buf, dh.sector, dh.block_id, kind, ws_id) {
        Ok(pw) => pw,
        Err(_) => {
            crate::net::peer_io::end_peer_write(s, &d, vnr, ws_id);
            undo(s);
            return Err(Failure::NetworkFailure);
        }
    };
    d.count_received(split.data);
    lower.write_buf(dh.sector, flags, pw);
    Ok(())
}

fn send_block_ack(
    s: &Session,
    vnr: u16,
    cmd: Command,
    sector: u64,
    block_id: u64,
    blksize: u32,
) -> Result<(), Failure> {
    s.send_ack(vnr, cmd, sector, block_id, blksize)
        .map_err(Failure::of_error)
}

/// `P_TRIM` / `P_ZEROES`: the range is discarded (`P_TRIM`, as the C receiver does: what a
/// discarded range reads back is the backing devices' business on both nodes) or zeroed
/// (`P_ZEROES`) on the backing device, counted in the epoch like a write, and acknowledged as
/// the peer asked.
fn receive_trim(s: &Arc<Session>, vnr: u16, d: &Arc<Device>, cmd: Command, t: &Trim) -> Result<(), Failure> {
    if let Err(e) = t.check_capacity(d.size_sectors()) {
        conn_err!(s.conn, "{}: request from peer beyond end of local disk: {}\n", cmd.name(), e);
        return Err(Failure::ProtocolError);
    }
    let Some(lower) = d.lower() else {
        conn_err!(s.conn, "Can not write data: no backing device\n");
        return Err(Failure::ProtocolError);
    };
    if t.size == 0 {
        return send_block_ack(s, vnr, Command::WriteAck, t.data.sector, t.data.block_id, 0);
    }
    if t.data.dp_flags & DP_SEND_RECEIVE_ACK != 0 {
        send_block_ack(s, vnr, Command::RecvAck, t.data.sector, t.data.block_id, t.size)?;
    }
    let write_ack = t.data.dp_flags & DP_SEND_WRITE_ACK != 0 || (s.agreed < 100 && s.protocol == 3);
    let zeroes = cmd == Command::Zeroes;
    let (sector, nsect) = (t.data.sector, u64::from(t.size >> 9));
    {
        // In the order the peer sent them, like its data writes: a later overlapping write
        // waits for the discard and the discard for earlier ones.
        let mut rx = s.rx.lock();
        while rx.inflight > 0 && rx.overlaps(vnr, sector, nsect) {
            s.rx_cv.wait(&mut rx);
        }
        rx.ranges
            .push((vnr, sector, sector + nsect), GFP_KERNEL)
            .map_err(|_| Failure::NetworkFailure)?;
        rx.inflight += 1;
        rx.writes += 1;
    }
    let undo = |s: &Session| {
        let mut rx = s.rx.lock();
        rx.inflight -= 1;
        rx.writes -= 1;
        rx.remove_range(vnr, sector);
        s.rx_cv.notify_all();
    };
    let admitted = admit_peer_write(s, vnr, d, sector, t.data.block_id, t.data.seq_num, t.size);
    let Some(ws_id) = written_or_undone(admitted, s, &undo)? else {
        return Ok(());
    };
    let pd = match PeerDiscard::new(s.clone(), d.clone(), vnr, sector, t.size, t.data.block_id, write_ack, zeroes, ws_id) {
        Ok(pd) => pd,
        Err(_) => {
            crate::net::peer_io::end_peer_write(s, d, vnr, ws_id);
            undo(s);
            return Err(Failure::NetworkFailure);
        }
    };
    lower.discard(sector, t.size, zeroes, pd);
    Ok(())
}

/// What became of a peer write judged against our writes in flight.
enum Admit {
    /// Write it; registered under this id among the device's writes (0: not registered,
    /// without two Primaries).
    Write(u64),
    /// The resolver superseded it or asked for it again (`P_SUPERSEDED`, `P_RETRY_WRITE`
    /// sent): it is not written.
    Answered,
}

/// What [`admit_peer_write`] answered, for a received write whose receive bookkeeping `undo`
/// takes back: `Some(id)` to write it (see [`Admit::Write`]); `None` once the resolver
/// answered it (superseded or to be retried: not written, and not counted in the epoch, so
/// the epoch's ack agrees with what the sender still has in its log); on an error, or on
/// `None`, `undo` has run.
fn written_or_undone(
    admitted: Result<Admit, Failure>,
    s: &Session,
    undo: &dyn Fn(&Session),
) -> Result<Option<u64>, Failure> {
    match admitted {
        Ok(Admit::Write(id)) => Ok(Some(id)),
        Ok(Admit::Answered) => {
            undo(s);
            Ok(None)
        }
        Err(why) => {
            undo(s);
            Err(why)
        }
    }
}

/// With two Primaries, a peer write of `bytes` at `sector` (its `seq` from `P_DATA`/`P_TRIM`)
/// is ordered against our writes in flight (`wait_for_and_update_peer_seq`,
/// `handle_write_conflicts`; the rules are `core::conflict`'s): it waits for what must come
/// first, and the node that resolves conflicts answers a concurrent overlapping one. Without
/// two Primaries it only counts the sequence number.
fn admit_peer_write(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    sector: u64,
    block_id: u64,
    seq: u32,
    bytes: u32,
) -> Result<Admit, Failure> {
    s.wait_for_peer_seq(d.minor(), seq)?;
    if !s.conn.settings.lock().two_primaries {
        return Ok(Admit::Write(0));
    }
    let w = d.writes();
    let id = loop {
        if let Some(id) = w.insert_peer(sector, bytes) {
            break id;
        }
        if s.is_failed() {
            return Err(s.failure());
        }
        w.wait_changed(100);
    };
    let mut alerted = false;
    loop {
        let (verdict, alert, woke) = w.judge_peer(id, s.resolve_conflicts);
        if woke {
            d.kick_writes();
        }
        if let (Some(a), false) = (alert, alerted) {
            alerted = true;
            match a.assumed_local_first {
                Some(local) => pr_alert!(
                    "drbd{}: Concurrent writes detected: local={}s +{}, remote={}s +{}, assuming {} came first\n",
                    d.minor(),
                    a.local_sector,
                    a.local_bytes,
                    sector,
                    bytes,
                    if local { "local" } else { "remote" }
                ),
                None => pr_alert!(
                    "drbd{}: Concurrent writes detected: local={}s +{}, remote={}s +{}\n",
                    d.minor(),
                    a.local_sector,
                    a.local_bytes,
                    sector,
                    bytes
                ),
            }
        }
        match verdict {
            Verdict::Submit => return Ok(Admit::Write(id)),
            Verdict::Supersede | Verdict::Retry => {
                // A peer before protocol 100 knows no P_RETRY_WRITE (`e_send_retry_write`).
                let cmd = if verdict == Verdict::Supersede || s.agreed < 100 {
                    Command::Superseded
                } else {
                    Command::RetryWrite
                };
                send_block_ack(s, vnr, cmd, sector, block_id, bytes)?;
                return Ok(Admit::Answered);
            }
            Verdict::Wait => {
                if s.is_failed() {
                    if w.end_peer(id, |_| {}) {
                        d.kick_writes();
                    }
                    return Err(s.failure());
                }
                w.wait_changed(100);
            }
        }
    }
}

/// `P_DATA_REQUEST` / `P_RS_DATA_REQUEST`: read from our disk and send the data back.
fn receive_data_request(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    cmd: Command,
    r: &BlockRequest,
) -> Result<(), Failure> {
    if let Err(e) = r.check_capacity(d.size_sectors()) {
        conn_err!(
            s.conn,
            "{}: sector {} + size {} beyond end of local disk ({})\n",
            cmd.name(),
            r.sector,
            r.blksize,
            e
        );
        return Err(Failure::ProtocolError);
    }
    let resync = match cmd {
        Command::DataRequest => false,
        Command::RsDataRequest => true,
        _ => {
            // Checksum-based resync and online verify are not offered.
            conn_err!(s.conn, "Unexpected data packet {} (0x{:04x})\n", cmd.name(), cmd as u16);
            return Err(Failure::ProtocolError);
        }
    };
    let lower = match (d.lower(), d.state().disk >= DiskState::UpToDate) {
        (Some(l), true) => l,
        _ => {
            let ncmd = if resync { Command::NegRsDReply } else { Command::NegDReply };
            return send_block_ack(s, vnr, ncmd, r.sector, r.block_id, r.blksize);
        }
    };
    let npages = s.begin_peer_read(vnr, r.sector, r.blksize);
    if resync {
        // The resync interlock: this read and the application's writes must not pass each
        // other, or the target could get old data after new (the C module's resync extents).
        d.begin_resync_read(s);
    }
    let pr = PageBuf::alloc(r.blksize as usize)
        .and_then(|buf| PeerRead::new(s.clone(), vnr, buf, r.sector, r.block_id, resync));
    let pr = match pr {
        Ok(pr) => pr,
        Err(_) => {
            if resync {
                d.end_resync_read();
            }
            s.end_peer_read(npages);
            return Err(Failure::NetworkFailure);
        }
    };
    d.count_sent(r.blksize);
    lower.read_buf(r.sector, pr);
    Ok(())
}

/// After the session ended: wait for the peer's writes and reads in flight (their work items
/// have run to the end: nothing of this session runs on the I/O queue afterwards), fail the
/// transfer log.
pub(crate) fn cleanup(s: &Arc<Session>, why: Failure) {
    {
        let mut rx = s.rx.lock();
        while rx.inflight != 0 || rx.reads != 0 {
            s.rx_cv.wait(&mut rx);
        }
    }
    // Every peer write that was submitted has finished (and its entry went); those judged
    // but never written will not be acknowledged: our writes they held may go.
    for (_, d) in s.conn.devices.iter() {
        if d.writes().drop_peer_entries() {
            d.kick_writes();
        }
    }
    // `resource-and-stonith`: a Primary whose peer was not known outdated freezes its I/O,
    // and the writes the peer may not have wait for fence-peer's answer.
    let mut hold = false;
    for (_, d) in s.conn.devices.iter() {
        if d.fences_on_loss() {
            d.freeze_for_fencing();
            hold = true;
        }
    }
    if let Some(held) = s.fail_transfer_log(hold) {
        s.conn.hold_for_fencing(held);
    }
    for (_, d) in s.conn.devices.iter() {
        crate::sync::verify::abort(d);
        crate::sync::resync::abort(d);
    }
    if why != Failure::Disconnect {
        conn_info!(s.conn, "Connection closed ({:?})\n", why);
    }
}

/// `P_OV_REQUEST`, `P_OV_REPLY`, `P_CSUM_RS_REQUEST` (`receive_DataRequest`): the range is
/// checked against the device first, the digest size (1..=64 bytes) by the decoder.
pub(crate) fn receive_request(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    cmd: Command,
    r: &BlockRequest,
    digest: &[u8],
) -> Result<(), Failure> {
    if let Err(e) = r.check_capacity(d.size_sectors()) {
        conn_err!(
            s.conn,
            "{}: sector {} + size {} beyond end of local disk ({})\n",
            cmd.name(),
            r.sector,
            r.blksize,
            e
        );
        return Err(Failure::ProtocolError);
    }
    match cmd {
        Command::OvRequest => crate::sync::verify::receive_ov_request(s, vnr, d, r),
        Command::OvReply => crate::sync::verify::receive_ov_reply(s, vnr, d, r, digest),
        Command::CsumRsRequest => crate::sync::resync::receive_csum_request(s, vnr, d, r, digest),
        _ => Err(Failure::ProtocolError),
    }
}
