// SPDX-License-Identifier: GPL-2.0

//! Bitmap exchange and resync (DRBD 8.4's `drbd_send_bitmap` / `receive_bitmap`,
//! `drbd_start_resync`, `make_resync_request`, `drbd_resync_finished`).
//!
//! After the sync handshake the SyncSource (WFBitMapS) sends its out-of-sync bitmap; the
//! SyncTarget (WFBitMapT) merges it into its own and sends the result back, then waits for
//! the sync UUID (WFSyncUUID). The source, having the target's bitmap merged too, generates the
//! sync UUID, sends it and becomes SyncSource; the target becomes SyncTarget on receipt.
//!
//! The target then asks for every out-of-sync block (`P_RS_DATA_REQUEST`, up to a window of
//! requests in flight), writes each `P_RS_DATA_REPLY`, clears its bits and acknowledges with
//! `P_RS_WRITE_ACK`, on which the source clears its bits. Each side finishes when its own
//! bitmap is empty: the target becomes UpToDate and adopts the source's UUIDs.

use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

use crate::sys::thread::{self, KThread};

use super::digest::{csums_tfm, digest_buf, read_local};
use crate::connection::{conn_err, conn_info, DataTx, Failure, Session, Sock};
use crate::sys::crypto::Shash;
use crate::device::Device;
use crate::drbd_core::{
    bitmap_codec::{BitmapPacket, Step},
    genl::{ConnState, DiskState},
    packets::{self, BlockRequest, Packet, RsUuid, ID_SYNCER, MAX_DIGEST_SIZE},
    resync_ctl,
    wire::{self, Command},
};

/// Bitmap block: 4 KiB.
const BM_BLOCK_SIZE: u32 = 4096;

/// Largest resync request: runs of out-of-sync blocks are asked for in one request up to this
/// size (the C target merges up to its max BIO size).
const RS_MAX_REQUEST: u32 = 128 * 1024;

/// How long a `P_SYNC_UUID` that arrives before the full sync this node asked for is entered
/// waits for it (the C receiver waits without limit; a peer that sends one unasked is cut off).
const SYNC_UUID_WAIT_MS: u32 = 10_000;

/// Enters the bitmap exchange as source: send our bitmap.
pub(crate) fn start_bitmap_exchange(s: &Arc<Session>, vnr: u16, d: &Arc<Device>) -> Result<(), Failure> {
    d.bm_xfer_reset();
    send_bitmap(s, vnr, d)
}

/// Sends the whole out-of-sync bitmap (`drbd_send_bitmap`).
fn send_bitmap(s: &Session, vnr: u16, d: &Device) -> Result<(), Failure> {
    let hs = wire::header_size(s.agreed);
    let mut out: KVec<u8> = KVec::new();
    out.resize(4096, 0, GFP_KERNEL).map_err(|_| Failure::NetworkFailure)?;
    let mut tx = s.data_tx.lock();
    let mut ctx = d.bm_xfer_ctx();
    loop {
        let (pkt, step) = d
            .bm_send_next(&mut ctx, hs, &mut out)
            .map_err(|()| Failure::NetworkFailure)?;
        let (cmd, len) = match pkt {
            BitmapPacket::Compressed { len } => (Command::CompressedBitmap, len),
            BitmapPacket::Plain { len } => (Command::Bitmap, len),
        };
        send_raw(s, &mut tx, vnr, cmd, &out[..len])?;
        if step == Step::Done {
            break;
        }
    }
    Ok(())
}

fn send_raw(s: &Session, tx: &mut DataTx, vnr: u16, cmd: Command, payload: &[u8]) -> Result<(), Failure> {
    s.send_raw_locked(tx, vnr, cmd, payload, false)
        .map_err(Failure::of_error)
}

/// `P_BITMAP` / `P_COMPRESSED_BITMAP` (`receive_bitmap`).
pub(crate) fn receive_bitmap(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    cmd: Command,
    payload: &[u8],
) -> Result<(), Failure> {
    let conn = d.state().conn;
    if conn != ConnState::WfBitMapS && conn != ConnState::WfBitMapT {
        conn_err!(s.conn, "Unexpected data packet {} (0x{:04x}) in {}\n", cmd.name(), cmd as u16, conn.name());
        return Err(Failure::ProtocolError);
    }
    let hs = wire::header_size(s.agreed);
    let step = d.bm_receive(cmd == Command::CompressedBitmap, payload, hs).map_err(|()| {
        conn_err!(s.conn, "malformed {} packet\n", cmd.name());
        Failure::ProtocolError
    })?;
    if step == Step::More {
        return Ok(());
    }
    conn_info!(s.conn, "bitmap received, {} KiB out of sync\n", d.oos_weight() * 4);
    if conn == ConnState::WfBitMapT {
        // Our turn: send the merged bitmap back, then wait for the sync UUID.
        d.bm_xfer_reset();
        send_bitmap(s, vnr, d)?;
        d.change_conn_state(|st| st.conn = ConnState::WfSyncUuid);
        crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
    } else {
        // Source: both bitmaps are merged; start, unless the handler objects.
        let r = (crate::helper::run(d.minor(), Some(&s.conn.peer_addr), crate::helper::Cmd::BeforeResyncSource) >> 8) & 0xff;
        if r > 0 {
            if r == 3 {
                pr_info!("drbd{}: before-resync-source handler returned {}, ignoring. Old userland tools?\n", d.minor(), r);
            } else {
                pr_info!("drbd{}: before-resync-source handler returned {}, dropping connection.\n", d.minor(), r);
                return Err(Failure::Incompatible);
            }
        }
        let sync_uuid = d.gen_sync_uuid();
        s.send(crate::connection::Sock::Data, vnr, &Packet::RsUuid(RsUuid { uuid: sync_uuid }))
            .map_err(Failure::of_error)?;
        d.start_resync(ConnState::SyncSource);
        resync_started(s, d, ConnState::SyncSource);
        crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
        if d.oos_weight() == 0 {
            source_finished(s, vnr, d);
        }
    }
    Ok(())
}

/// `P_SYNC_UUID`: the target takes the sync UUID and starts requesting.
pub(crate) fn receive_sync_uuid(s: &Arc<Session>, vnr: u16, d: &Arc<Device>, uuid: u64) -> Result<(), Failure> {
    // A full sync this node asked for (`invalidate`): the peer agreed and sent the sync UUID
    // before this node entered WFSyncUUID; wait for it, as the C receiver does.
    let mut waited_ms = 0u32;
    while d.sync_uuid_must_wait() && !s.is_failed() && waited_ms < SYNC_UUID_WAIT_MS {
        if !thread::sleep_ms(10) {
            break;
        }
        waited_ms += 10;
    }
    let conn = d.state().conn;
    if conn != ConnState::WfSyncUuid && conn != ConnState::WfBitMapT {
        conn_err!(s.conn, "Unexpected data packet SyncUUID in {}\n", conn.name());
        return Err(Failure::ProtocolError);
    }
    d.receive_sync_uuid(uuid);
    // The handler may refuse to let this node's data become inconsistent.
    let r = (crate::helper::run(d.minor(), Some(&s.conn.peer_addr), crate::helper::Cmd::BeforeResyncTarget) >> 8) & 0xff;
    if r > 0 {
        pr_info!("drbd{}: before-resync-target handler returned {}, dropping connection.\n", d.minor(), r);
        return Err(Failure::Incompatible);
    }
    d.start_resync(ConnState::SyncTarget);
    resync_started(s, d, ConnState::SyncTarget);
    crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
    start_ticker(s, vnr, d)
}

/// Starts the SyncTarget's request thread (`drbd_rs_<name>`): every 100 ms it asks the
/// controller how much to request (`resync-rate`, or the `c-*` controller) and sends that many
/// `P_RS_DATA_REQUEST`s, until the bitmap is clean or the resync ends otherwise.
fn start_ticker(s: &Arc<Session>, vnr: u16, d: &Arc<Device>) -> Result<(), Failure> {
    let (s2, d2) = (s.clone(), d.clone());
    match KThread::spawn(c"drbd_rs_resync", move || ticker(s2, vnr, d2)) {
        Ok(t) => {
            d.set_rs_ticker(Some(t));
            Ok(())
        }
        Err(_) => {
            conn_err!(s.conn, "cannot start the resync thread\n");
            Err(Failure::NetworkFailure)
        }
    }
}

fn ctl_settings(d: &Device) -> resync_ctl::Settings {
    let sp = d.sync_param();
    resync_ctl::Settings {
        resync_rate: sp.resync_rate,
        c_plan_ahead: sp.c_plan_ahead,
        c_delay_target: sp.c_delay_target,
        c_fill_target: sp.c_fill_target,
        c_max_rate: sp.c_max_rate,
    }
}

fn ticker(s: Arc<Session>, vnr: u16, d: Arc<Device>) {
    let mut settings = ctl_settings(&d);
    let mut ctl = resync_ctl::Controller::new(&settings);
    let max_buffers = s.conn.settings.lock().max_buffers;
    loop {
        if s.is_failed() || thread::should_stop() {
            return;
        }
        match d.state().conn {
            ConnState::SyncTarget => {}
            // Paused (`pause-sync` here or on the peer): ask for nothing until it continues.
            ConnState::PausedSyncT => {
                if !thread::sleep_ms(resync_ctl::STEP_MS) {
                    return;
                }
                continue;
            }
            _ => return,
        }
        // `disk-options` during a resync takes effect at once; a changed plan starts empty
        // (the C module allocates a new `rs_plan_s`).
        let now = ctl_settings(&d);
        if now != settings {
            settings = now;
            ctl = resync_ctl::Controller::new(&settings);
        }
        let mut blocks = ctl.step(&settings, d.take_rs_sect_in(), max_buffers);
        // The resync interlock: no resync data is asked for while application writes are in
        // flight or waiting (their P_DATA must reach the source before the request does).
        if d.app_writes_busy() {
            blocks = 0;
        }
        while blocks > 0 {
            let max = (blocks.saturating_mul(4096)).min(RS_MAX_REQUEST);
            let Some(req) = d.rs_next_request(max) else {
                break;
            };
            // With csums-alg, the digest of our block instead (`read_for_csum`).
            let r = send_rs_request(&s, vnr, &d, req.sector, req.bytes);
            if r.is_err() {
                return;
            }
            ctl.requested(req.bytes >> 9);
            blocks = blocks.saturating_sub(req.bytes.div_ceil(4096));
        }
        if d.rs_done() {
            target_finished(&s, vnr, &d);
            return;
        }
        if !thread::sleep_ms(resync_ctl::STEP_MS) {
            return;
        }
    }
}

/// A resync write completed on the target (from the workqueue).
pub(crate) fn target_reply_done(s: &Arc<Session>, d: &Arc<Device>, vnr: u16, failed: bool, bytes: u32) {
    d.rs_reply_done(failed, bytes);
    if !s.is_failed() && d.rs_done() {
        target_finished(s, vnr, d);
    }
}

/// `P_NEG_RS_DREPLY`: the source could not read a block; count it as failed.
pub(crate) fn target_request_failed(s: &Arc<Session>, vnr: u16, d: &Arc<Device>, sector: u64, bytes: u32) {
    conn_err!(s.conn, "resync read failed on the peer at sector {} (+{})\n", sector, bytes);
    target_reply_done(s, d, vnr, true, bytes);
}

/// The target has no bits left and nothing in flight.
fn target_finished(s: &Arc<Session>, vnr: u16, d: &Arc<Device>) {
    if d.finish_resync() {
        let _ = crate::device::announce::send_uuids(s, vnr, d);
        let _ = crate::device::announce::send_state(s, vnr, d);
        // Nobody waits for its answer: neither this thread (the request thread or an I/O
        // completion) nor anyone else.
        crate::helper::spawn(d.minor(), Some(s.conn.peer_addr), crate::helper::Cmd::AfterResyncTarget);
    }
}

/// `P_RS_WRITE_ACK` (or `P_NEG_ACK` for resync data) on the source.
pub(crate) fn source_block_acked(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    sector: u64,
    bytes: u32,
    ok: bool,
) -> Result<(), Failure> {
    let conn = d.state().conn;
    if conn != ConnState::SyncSource && conn != ConnState::PausedSyncS {
        // Late acks after the source finished are harmless.
        return Ok(());
    }
    if crate::drbd_core::packets::check_capacity(sector, bytes, d.size_sectors()).is_err() {
        conn_err!(s.conn, "RSWriteAck beyond end of device\n");
        return Err(Failure::ProtocolError);
    }
    if ok {
        d.oos_clear(sector, bytes);
    } else {
        d.rs_count_failed(bytes);
    }
    if d.rs_only_failed_left() {
        source_finished(s, vnr, d);
    }
    Ok(())
}

/// The source has no bits left.
pub(crate) fn source_finished(s: &Arc<Session>, vnr: u16, d: &Arc<Device>) {
    if d.finish_resync() {
        let _ = crate::device::announce::send_state(s, vnr, d);
        // With a fencing policy, a SyncSource whose volumes are all back in sync lifts the
        // fence it may have put on the peer (`drbd_resync_finished`: "unfence-peer").
        let all_in_sync = s.conn.devices.iter().all(|(_, v)| {
            let st = v.state();
            st.disk == DiskState::UpToDate && st.pdsk == DiskState::UpToDate
        });
        if d.fencing() != crate::drbd_core::genl::Fencing::DontCare && all_in_sync {
            crate::helper::spawn_for_resource(
                &s.conn.name,
                Some(s.conn.peer_addr),
                crate::helper::Cmd::UnfencePeer,
            );
        }
    }
}

/// The session ended during a resync: back to a plain state (the bits stay set).
pub(crate) fn abort(d: &Arc<Device>) {
    d.rs_abort();
    let _ = DiskState::Inconsistent;
}

/// After StartingSyncT or StartingSyncS was entered (`after_state_ch`, `abw_start_sync`):
/// every block out of sync, then the target waits for the sync UUID, the source sends it and
/// starts.
pub(crate) fn begin_full_sync(s: &Arc<Session>, vnr: u16, d: &Arc<Device>) -> Result<(), Failure> {
    match d.state().conn {
        ConnState::StartingSyncT => {
            d.set_all_out_of_sync();
            d.change_conn_state(|st| {
                if st.conn == ConnState::StartingSyncT {
                    st.conn = ConnState::WfSyncUuid;
                }
            });
            Ok(())
        }
        ConnState::StartingSyncS => {
            d.set_all_out_of_sync();
            let sync_uuid = d.gen_sync_uuid();
            s.send(crate::connection::Sock::Data, vnr, &Packet::RsUuid(RsUuid { uuid: sync_uuid }))
                .map_err(Failure::of_error)?;
            d.start_resync(ConnState::SyncSource);
            crate::device::announce::send_state(s, vnr, d).map_err(Failure::of_error)?;
            if d.oos_weight() == 0 {
                source_finished(s, vnr, d);
            }
            Ok(())
        }
        other => {
            conn_info!(s.conn, "full sync not started: {}\n", other.name());
            Ok(())
        }
    }
}

/// A resync started (`drbd_start_resync`): a SyncTarget uses checksums if `csums-alg` is set
/// (and, with `csums-after-crash-only`, never: the crash is not known here).
pub(crate) fn resync_started(s: &Session, d: &Device, side: ConnState) {
    d.ov.same_csum.store(0, Ordering::Relaxed);
    let use_csums = side == ConnState::SyncTarget && s.agreed >= 89 && {
        let st = s.conn.settings.lock();
        !st.csums_alg.is_empty() && !st.csums_after_crash_only
    };
    d.ov.use_csums.store(use_csums, Ordering::Relaxed);
}

/// The SyncTarget asks for `bytes` at `sector`: with checksums, the digest of our block
/// (`read_for_csum`, `w_e_send_csum`); otherwise, or if our block cannot be read, the data.
pub(crate) fn send_rs_request(s: &Session, vnr: u16, d: &Device, sector: u64, bytes: u32) -> Result {
    if d.ov.use_csums.load(Ordering::Relaxed) {
        if let Some(mut tfm) = csums_tfm(s) {
            if let Ok(Some(buf)) = read_local(s, vnr, d, sector, bytes) {
                let mut digest = [0u8; MAX_DIGEST_SIZE];
                if let Ok(n) = digest_buf(&mut tfm, &buf, &mut digest) {
                    return s.send(Sock::Data, vnr, &Packet::BlockRequest {
                        command: Command::CsumRsRequest,
                        request: BlockRequest { sector, block_id: ID_SYNCER, blksize: bytes },
                        digest: &digest[..n],
                    });
                }
            }
        }
    }
    s.send(Sock::Data, vnr, &Packet::BlockRequest {
        command: Command::RsDataRequest,
        request: BlockRequest { sector, block_id: ID_SYNCER, blksize: bytes },
        digest: &[],
    })
}

/// `P_CSUM_RS_REQUEST` (we are SyncSource): `w_e_end_csum_rs_req`.
pub(crate) fn receive_csum_request(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    r: &BlockRequest,
    peer_digest: &[u8],
) -> Result<(), Failure> {
    if d.state().disk != DiskState::UpToDate || !d.has_disk() {
        return s
            .send_ack(vnr, Command::NegRsDReply, r.sector, r.block_id, r.blksize)
            .map_err(Failure::of_error);
    }
    let mut tfm = csums_tfm(s);
    if let Some(t) = tfm.as_ref() {
        if peer_digest.len() != t.digest_size() {
            conn_err!(
                s.conn,
                "CsumRSRequest: digest of {} bytes, csums-alg has {}\n",
                peer_digest.len(),
                t.digest_size()
            );
            return Err(Failure::ProtocolError);
        }
    }
    d.ov.use_csums.store(true, Ordering::Relaxed);
    d.begin_resync_read(s);
    let r2 = csum_answer(s, vnr, d, r, peer_digest, tfm.as_deref_mut());
    d.end_resync_read();
    r2
}

fn csum_answer(
    s: &Arc<Session>,
    vnr: u16,
    d: &Arc<Device>,
    r: &BlockRequest,
    peer_digest: &[u8],
    tfm: Option<&mut Shash>,
) -> Result<(), Failure> {
    let Some(buf) = read_local(s, vnr, d, r.sector, r.blksize)? else {
        pr_err!("drbd{}: Sending NegDReply. I guess it gets messy.\n", d.minor());
        return s
            .send_ack(vnr, Command::NegRsDReply, r.sector, r.block_id, r.blksize)
            .map_err(Failure::of_error);
    };
    let mut eq = false;
    if let Some(tfm) = tfm {
        let mut digest = [0u8; MAX_DIGEST_SIZE];
        if let Ok(n) = digest_buf(tfm, &buf, &mut digest) {
            eq = digest[..n] == *peer_digest;
        }
    }
    if eq {
        let conn = d.state().conn;
        let resyncing = conn == ConnState::SyncSource || conn == ConnState::PausedSyncS;
        if resyncing {
            d.oos_clear(r.sector, r.blksize);
        }
        d.ov.same_csum.fetch_add(u64::from(r.blksize / BM_BLOCK_SIZE), Ordering::Relaxed);
        s.send_ack(vnr, Command::RsIsInSync, r.sector, r.block_id, r.blksize)
            .map_err(Failure::of_error)?;
        if resyncing && d.rs_only_failed_left() {
            crate::sync::resync::source_finished(s, vnr, d);
        }
    } else {
        d.count_io(0, r.blksize);
        s.send_read_reply(vnr, &buf, r.sector, ID_SYNCER, true, false);
    }
    Ok(())
}

/// `P_RS_IS_IN_SYNC` (we are SyncTarget): `got_IsInSync`. The request thread notices when the
/// resync is done.
pub(crate) fn got_is_in_sync(s: &Session, d: &Device, sector: u64, size: u32) -> Result<(), Failure> {
    if packets::check_capacity(sector, size, d.size_sectors()).is_err() {
        conn_err!(s.conn, "RSIsInSync beyond end of device: sector {} size {}\n", sector, size);
        return Err(Failure::ProtocolError);
    }
    let conn = d.state().conn;
    if conn != ConnState::SyncTarget && conn != ConnState::PausedSyncT {
        return Ok(());
    }
    if !d.expects_resync_reply() {
        conn_err!(s.conn, "Unexpected RSIsInSync: no resync request pending\n");
        return Err(Failure::ProtocolError);
    }
    d.oos_clear(sector, size);
    d.ov.same_csum.fetch_add(u64::from(size / BM_BLOCK_SIZE), Ordering::Relaxed);
    d.rs_reply_done(false, size);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// The receiver's entry.
