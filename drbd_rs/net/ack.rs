// SPDX-License-Identifier: GPL-2.0

//! The ack receiver (DRBD 8.4's `drbd_ack_receiver`): reads the meta socket, where the peer
//! acknowledges our writes and barriers, answers our state-change requests and pings; and
//! keeps the connection alive: after `ping-int` seconds of silence it sends `P_PING`, and if
//! no `P_PING_ACK` arrives within `ping-timeout`, the session fails ("PingAck did not arrive in
//! time"), which is how a dead peer (a killed guest) is noticed. A peer that answers pings
//! but not our writes (its disk stalled) is noticed by `ko-count`: when the oldest write (or
//! barrier) it has not answered is older than `ko-count` x `timeout`, the session fails with
//! the connection state Timeout, as the C module's `request_timer_fn` does.

use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

use crate::sys::jiffies_ms;

use crate::connection::{conn_err, conn_info, conn_warn, BadHeader, Failure, Session, ShortRead};
use crate::drbd_core::{
    packets::{self, check_header, Channel, Packet, ID_SYNCER},
    wire::{self, Command},
};

/// The thread body; returns when the session fails or the thread is stopped.
pub(crate) fn ack_receiver(s: Arc<Session>) {
    crate::sys::thread::set_current_realtime();
    let (ping_int_ms, ping_timeo_ms, ko) = {
        let st = s.conn.settings.lock();
        (
            st.ping_int_s.saturating_mul(1000),
            st.ping_timeo_ds.saturating_mul(100),
            KoCount { ko_count: st.ko_count, timeout_ds: st.timeout_ds },
        )
    };
    let hs = wire::header_size(s.agreed);
    let send_timeout_ms = ping_timeo_ms.saturating_mul(10);
    // The meta socket is read with a time-out: the silence left until the next ping (or the
    // ping's answer is overdue), but no longer than the next `ko-count` check.
    let mut last_packet_ms = jiffies_ms();
    let mut ping_sent_ms: u64 = 0;
    let mut rcv_timeout_ms = 0;
    let mut ko_checked_ms = last_packet_ms;
    while !s.is_failed() && !crate::sys::thread::should_stop() {
        let now = jiffies_ms();
        // Every `timeout`, busy or silent: acks for other writes do not excuse a lost one.
        if let (Some(ent_ms), Some(tick)) = (ko.effective_ms(), ko.tick_ms()) {
            if now >= ko_checked_ms.saturating_add(u64::from(tick)) {
                ko_checked_ms = now;
                if let Err(why) = s.check_ko_count(ent_ms, ko.ko_count, ko.timeout_ds) {
                    s.fail(why);
                    break;
                }
            }
        }
        let pinging = s.ping_pending.load(Ordering::Acquire);
        let due_ms = if pinging {
            ping_sent_ms.saturating_add(u64::from(ping_timeo_ms))
        } else {
            last_packet_ms.saturating_add(u64::from(ping_int_ms))
        };
        let mut wait_ms = u32::try_from(due_ms.saturating_sub(now)).unwrap_or(u32::MAX).max(1);
        if let Some(tick) = ko.tick_ms() {
            let next_check = ko_checked_ms.saturating_add(u64::from(tick));
            wait_ms = wait_ms.min(u32::try_from(next_check.saturating_sub(now)).unwrap_or(tick).max(1));
        }
        if wait_ms != rcv_timeout_ms {
            rcv_timeout_ms = wait_ms;
            s.meta.set_timeouts(Some(wait_ms), Some(send_timeout_ms));
        }
        let mut h = [0u8; 16];
        match s.meta.recv_exact(&mut h[..hs]) {
            Ok(()) => last_packet_ms = jiffies_ms(),
            Err(e) if e == EAGAIN => {
                let now = jiffies_ms();
                if s.ping_pending.load(Ordering::Acquire) {
                    if now >= ping_sent_ms.saturating_add(u64::from(ping_timeo_ms)) {
                        conn_err!(s.conn, "PingAck did not arrive in time.\n");
                        s.fail(Failure::NetworkFailure);
                        break;
                    }
                } else if now >= last_packet_ms.saturating_add(u64::from(ping_int_ms)) {
                    s.ping_pending.store(true, Ordering::Release);
                    ping_sent_ms = now;
                    if s.send_meta(0, &Packet::Empty(Command::Ping)).is_err() {
                        break;
                    }
                }
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

/// `ko-count` and `timeout` (0.1 s) of the session's network settings.
struct KoCount {
    ko_count: u32,
    timeout_ds: u32,
}

impl KoCount {
    /// How long the peer may leave a write unanswered (`ko-count` x `timeout`); `None` with
    /// `ko-count` 0 (no limit).
    fn effective_ms(&self) -> Option<u64> {
        (self.ko_count != 0).then(|| u64::from(self.timeout_ds) * 100 * u64::from(self.ko_count))
    }

    /// How often that is checked: every `timeout` (at least 0.1 s).
    fn tick_ms(&self) -> Option<u32> {
        (self.ko_count != 0).then(|| self.timeout_ds.saturating_mul(100).max(100))
    }
}

fn handle(s: &Arc<Session>, vnr: u16, p: Packet<'_>) -> Result<(), Failure> {
    match p {
        Packet::Empty(Command::Ping) => {
            s.send_meta(0, &Packet::Empty(Command::PingAck))
                .map_err(Failure::of_error)?;
        }
        Packet::Empty(Command::PingAck) => {
            s.ping_pending.store(false, Ordering::Release);
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
