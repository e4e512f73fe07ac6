// SPDX-License-Identifier: GPL-2.0

//! The ack receiver (DRBD 8.4's `drbd_ack_receiver`): reads the meta socket, where the peer
//! acknowledges our writes and barriers, answers our state-change requests and pings; and
//! keeps the connection alive: after `ping-int` seconds of silence it sends `P_PING`, and if
//! no `P_PING_ACK` arrives within `ping-timeout`, the session fails ("PingAck did not arrive in
//! time"), which is how a dead peer (a killed guest) is noticed.

use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

use crate::connection::{conn_err, conn_info, conn_warn, BadHeader, Failure, Session, ShortRead};
use crate::drbd_core::{
    packets::{self, check_header, Channel, Packet, ID_SYNCER},
    wire::{self, Command},
};

/// The thread body; returns when the session fails or the thread is stopped.
pub(crate) fn ack_receiver(s: Arc<Session>) {
    crate::sys::thread::set_current_realtime();
    let (ping_int_ms, ping_timeo_ms) = {
        let st = s.conn.settings.lock();
        (st.ping_int_s.saturating_mul(1000), st.ping_timeo_ds.saturating_mul(100))
    };
    let hs = wire::header_size(s.agreed);
    s.meta.set_timeouts(Some(ping_int_ms), Some(ping_timeo_ms.saturating_mul(10)));
    while !s.is_failed() && !crate::sys::thread::should_stop() {
        let mut h = [0u8; 16];
        match s.meta.recv_exact(&mut h[..hs]) {
            Ok(()) => {}
            Err(e) if e == EAGAIN => {
                if s.ping_pending.load(Ordering::Acquire) {
                    conn_err!(s.conn, "PingAck did not arrive in time.\n");
                    s.fail(Failure::NetworkFailure);
                    break;
                }
                s.ping_pending.store(true, Ordering::Release);
                if s.send_meta(0, &Packet::Empty(Command::Ping)).is_err() {
                    break;
                }
                s.meta.set_timeouts(Some(ping_timeo_ms), Some(ping_timeo_ms.saturating_mul(10)));
                continue;
            }
            Err(e) => {
                if !s.is_failed() && e != EINTR {
                    conn_err!(s.conn, "meta connection shut down by peer.\n");
                }
                if e == ECONNRESET && !s.is_failed() {
                    // The peer closed: let the receiver first handle what it already sent on
                    // the data socket (e.g. the state that lets this side see a split brain
                    // too); it ends the session at the data socket's end.
                    let mut waited = 0;
                    while !s.is_failed() && waited < ping_timeo_ms && !crate::sys::thread::should_stop() {
                        crate::sys::thread::sleep_ms(10);
                        waited += 10;
                    }
                }
                s.fail(Failure::of_error(e));
                break;
            }
        }
        let hdr = match wire::decode_header(&h[..hs], s.agreed) {
            Ok(hdr) => hdr,
            Err(err) => {
                conn_err!(s.conn, "meta socket: {}\n", BadHeader { err, proto: s.agreed });
                s.fail(Failure::ProtocolError);
                break;
            }
        };
        let cmd = match check_header(Channel::Meta, &hdr, s.agreed, s.features) {
            Ok((cmd, _)) => cmd,
            Err(packets::PacketError::UnexpectedCommand { command }) => {
                let name = Command::from_u16(command).map_or("Unknown", |c| c.name());
                conn_err!(s.conn, "Unexpected meta packet {} (0x{:04x})\n", name, command);
                s.fail(Failure::ProtocolError);
                break;
            }
            Err(e) => {
                conn_err!(s.conn, "bad meta packet header: {}\n", e);
                s.fail(Failure::ProtocolError);
                break;
            }
        };
        let mut payload = [0u8; 32];
        let len = hdr.length as usize;
        let Some(body) = payload.get_mut(..len) else {
            conn_err!(s.conn, "meta packet {} too long: {}\n", cmd.name(), len);
            s.fail(Failure::ProtocolError);
            break;
        };
        if let Err(err) = s.meta.recv_exact(body) {
            if !s.is_failed() {
                conn_warn!(s.conn, "error receiving {}: {}\n", cmd.name(), ShortRead { err, size: len });
            }
            s.fail(Failure::of_error(err));
            break;
        }
        let r = match packets::decode_packet(cmd, body, s.agreed, s.features, 0) {
            Ok(p) => handle(&s, hdr.volume, p),
            Err(e) => {
                conn_err!(s.conn, "malformed {} packet: {}\n", cmd.name(), e);
                Err(Failure::ProtocolError)
            }
        };
        if let Err(why) = r {
            s.fail(why);
            break;
        }
    }
}

fn handle(s: &Arc<Session>, vnr: u16, p: Packet<'_>) -> Result<(), Failure> {
    match p {
        Packet::Empty(Command::Ping) => {
            s.send_meta(0, &Packet::Empty(Command::PingAck))
                .map_err(Failure::of_error)?;
        }
        Packet::Empty(Command::PingAck) => {
            if s.ping_pending.swap(false, Ordering::AcqRel) {
                let ping_int_ms = s.conn.settings.lock().ping_int_s.saturating_mul(1000);
                s.meta.set_timeouts(Some(ping_int_ms), None);
            }
        }
        Packet::BlockAck(cmd, a) => {
            let dev = s.conn.device(vnr).cloned();
            let Some(dev) = dev else {
                conn_err!(s.conn, "{} for unknown volume {}\n", cmd.name(), vnr);
                return Err(Failure::ProtocolError);
            };
            // Every block ack counts for the peer's sequence (`update_peer_seq`): a peer write
            // numbered after it is judged only once it was processed.
            s.update_peer_seq(a.seq_num);
            match cmd {
                // Verdicts on our writes; for a resync block id too, which finds no write.
                Command::Superseded | Command::RetryWrite => {
                    s.got_write_ack(vnr, cmd, a.block_id, a.sector)?;
                }
                Command::WriteAck | Command::RecvAck | Command::NegAck
                    if a.block_id != ID_SYNCER =>
                {
                    s.got_write_ack(vnr, cmd, a.block_id, a.sector)?;
                }
                Command::RsIsInSync => crate::sync::resync::got_is_in_sync(s, &dev, a.sector, a.blksize)?,
                Command::OvResult => {
                    crate::sync::verify::got_ov_result(s, vnr, &dev, a.sector, a.blksize, a.block_id)?
                }
                Command::NegRsDReply if crate::sync::verify::got_neg_reply(s, vnr, &dev) => {}
                Command::RsWriteAck | Command::WriteAck => {
                    crate::sync::resync::source_block_acked(s, vnr, &dev, a.sector, a.blksize, true)?;
                }
                Command::NegAck => {
                    crate::sync::resync::source_block_acked(s, vnr, &dev, a.sector, a.blksize, false)?;
                }
                Command::NegRsDReply => {
                    crate::sync::resync::target_request_failed(s, vnr, &dev, a.sector, a.blksize);
                }
                Command::NegDReply => s.got_neg_dreply(vnr, a.block_id, a.sector)?,
                _ => {}
            }
        }
        Packet::BarrierAck(b) => s.got_barrier_ack(b.barrier, b.set_size)?,
        Packet::ReqStateReply(_, r) => {
            let mut g = s.st_reply.lock();
            *g = Some(r.retcode);
            s.st_reply_cv.notify_all();
        }
        Packet::DelayProbe(_) => {}
        other => {
            conn_info!(s.conn, "ignoring meta packet {}\n", other.command().name());
        }
    }
    Ok(())
}
