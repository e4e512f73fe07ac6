// SPDX-License-Identifier: GPL-2.0

//! The Primary's write path (DRBD 8.4's `drbd_req.c`): an application write is submitted to the
//! local disk and sent to the peer as `P_DATA` at the same time; it completes when the local
//! write is done and the peer has answered as the protocol requires (protocol C: `P_WRITE_ACK`
//! once on the peer's disk; B: `P_RECV_ACK` once received; A: once sent).
//!
//! A [`Req`] owns the blk-mq request and ends it when the last reference goes: the local bio
//! holds one until it completes, the transfer log holds one until the peer's ack. Nothing waits
//! for anything; whoever drops last completes the request, in whatever context.
//!
//! Epochs are closed as the C module closes them (`start_new_tl_epoch`): when a write of the
//! current epoch completes, before the upper layer hears of it, so that a write issued after
//! that completion is in a later epoch, behind a `P_BARRIER`, and the peer cannot write the two
//! in the other order; also on a flush and at `max-epoch-size`. Writes issued while none of
//! the epoch's writes completed yet share it (at depth 32, dozens of writes behind one
//! barrier and one flush on the peer). The barrier goes out before the next write of the new
//! epoch, or from [`Connection::barrier_work`] when no write comes.
//!
//! The transfer log ([`Tl`]) also records, per epoch, which blocks were written, until the
//! peer's `P_BARRIER_ACK` says the epoch is on its disk. If the session fails first, every
//! block of an unacknowledged epoch, and every write still waiting for its ack, is marked out
//! of sync, so the next resync carries it: no acknowledged write can be missing on the peer
//! without its bit set here.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::Arc,
    workqueue::WorkItem,
};

use crate::connection::{conn_err, conn_warn, Connection, Failure, Session};
use crate::drbd_core::packets::{
    DataHeader, Packet, Trim, DP_DISCARD, DP_FLUSH, DP_FUA, DP_RW_SYNC, DP_SEND_RECEIVE_ACK,
    DP_SEND_WRITE_ACK,
};
use crate::io::actlog::AlRef;
use crate::drbd_core::wire::Command;
use crate::sys::{
    bdev::{LocalIo, OwnsRequest},
    disk::{BlkStatus, IoRequest, ReqOp},
};

/// An application write in flight: the blk-mq request, and what the peer must acknowledge.
pub(crate) struct Req {
    rq: Option<IoRequest>,
    /// The connection and volume it is replicated over.
    conn: Arc<Connection>,
    vnr: u16,
    /// First sector and size.
    pub(crate) sector: u64,
    /// See `sector`.
    pub(crate) bytes: u32,
    local_failed: AtomicBool,
    /// An application write counted in the device's resync interlock until it goes.
    app_write: bool,
    /// Keeps the write's activity-log extents active until the request goes.
    al: Option<AlRef>,
    /// Its entry among the device's writes in flight (`crate::io::writes`), 0 if it has none.
    pub(crate) ws_id: u64,
    /// The resolver answered `P_RETRY_WRITE`: when the request goes, the blk-mq request is
    /// not ended but written and sent again as a new write.
    postponed: AtomicBool,
    /// The transfer-log epoch it was sent in ([`NOT_SENT`] until then).
    epoch: AtomicU64,
    /// When it was sent (`jiffies_ms`), for `ko-count`.
    sent_ms: AtomicU64,
}

/// [`Req::epoch`] of a request not sent (yet).
const NOT_SENT: u64 = u64::MAX;

impl Req {
    /// Wraps a request of `dev`.
    pub(crate) fn new(
        rq: IoRequest,
        conn: Arc<Connection>,
        vnr: u16,
        app_write: bool,
        al: Option<AlRef>,
        ws_id: u64,
    ) -> Result<Arc<Req>> {
        let sector = rq.sector();
        let bytes = rq.bytes();
        // Failed until the `Arc` exists: if its allocation fails, dropping the `Req` ends the
        // request with an error instead of reporting a write nobody made.
        let req = Arc::new(
            Req {
                rq: Some(rq),
                conn,
                vnr,
                sector,
                bytes,
                local_failed: AtomicBool::new(true),
                app_write,
                al,
                ws_id,
                postponed: AtomicBool::new(false),
                epoch: AtomicU64::new(NOT_SENT),
                sent_ms: AtomicU64::new(0),
            },
            GFP_NOIO_FLAGS,
        )?;
        req.local_failed.store(false, Ordering::Relaxed);
        Ok(req)
    }

    /// Ends the request with an error when it goes (no copy of it succeeded).
    pub(crate) fn fail(&self) {
        self.local_failed.store(true, Ordering::Relaxed);
    }

    /// The blk-mq request (to receive a read's data into its pages).
    pub(crate) fn request(&self) -> &IoRequest {
        self.rq()
    }

    /// Size in bytes.
    pub(crate) fn bytes(&self) -> u32 {
        self.bytes
    }

    /// Marks the request's blocks out of sync (the peer may not have them).
    /// Without a local disk the peer's copy was the only one: the write fails instead.
    fn mark_out_of_sync(&self) {
        match self.conn.device(self.vnr) {
            Some(d) if d.has_disk() => d.oos_set(self.sector, self.bytes),
            _ => self.fail(),
        }
    }

    fn rq(&self) -> &IoRequest {
        // `rq` is `Some` from `new` until drop.
        match &self.rq {
            Some(rq) => rq,
            None => unreachable!(),
        }
    }
}

/// Allocation flags on the I/O path. The kernel crate offers no `GFP_NOIO`; these
/// allocations are small and bounded by the requests in flight.
pub(crate) const GFP_NOIO_FLAGS: kernel::alloc::Flags = GFP_KERNEL;

impl LocalIo for Req {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        if status != BlkStatus::OK {
            this.local_failed.store(true, Ordering::Relaxed);
        }
        if this.ws_id != 0 {
            if let Some(d) = this.conn.device(this.vnr) {
                d.write_local_done(this.ws_id);
            }
        }
    }
}

impl OwnsRequest for Req {
    fn request(&self) -> &IoRequest {
        self.rq()
    }
}

impl Drop for Req {
    fn drop(&mut self) {
        // Before the upper layer hears of it (even a postponed write: an extra epoch boundary
        // is always safe).
        if let Ok(epoch) = u32::try_from(self.epoch.load(Ordering::Acquire)) {
            self.conn.write_completing(epoch);
        }
        let dev = self.conn.device(self.vnr).cloned();
        // A postponed write is not done: the same blk-mq request goes through the write path
        // again (`drbd_restart_request`), as a new write with a new block id and sequence
        // number, written locally again after the peer's write that conflicted with it.
        if self.postponed.load(Ordering::Acquire) {
            if let (Some(d), Some(rq)) = (dev.as_ref(), self.rq.take()) {
                if let Err(rq) = d.restart_write(self.ws_id, rq) {
                    self.rq = Some(rq);
                }
            }
        }
        if let Some(rq) = self.rq.take() {
            let status = if self.local_failed.load(Ordering::Relaxed) {
                BlkStatus::IOERR
            } else {
                BlkStatus::OK
            };
            rq.complete(status);
            if self.ws_id != 0 {
                if let Some(d) = dev.as_ref() {
                    d.end_write(self.ws_id);
                }
            }
        }
        if self.app_write {
            if let Some(d) = dev.as_ref() {
                d.app_write_done();
            }
        }
    }
}

/// Blocks written in one epoch (for marking them out of sync if the epoch is never
/// acknowledged).
struct EpochRec {
    nr: u32,
    closed: bool,
    /// When its `P_BARRIER` was sent (`jiffies_ms`), once `closed`.
    closed_ms: u64,
    writes: u32,
    /// A write of this epoch was superseded or postponed by the peer (it no longer counts in
    /// `writes`). The C resolver never acknowledges such an epoch: see [`Tl::barrier_ack`].
    conflicted: bool,
    /// Volume, sector, size, and a reference keeping the block's activity-log extents active
    /// until the barrier ack (protocols A and B end the request before the peer has the data
    /// on disk).
    blocks: KVec<(u16, u64, u32, Option<AlRef>)>,
}

/// The transfer log of a session: writes waiting for their ack, and epochs waiting for their
/// barrier ack.
#[derive(Default)]
pub(crate) struct Tl {
    /// Writes waiting for their ack: block id, volume, the request, its epoch.
    pending: KVec<(u64, u16, Arc<Req>, u32)>,
    next_id: u64,
    epochs: KVec<EpochRec>,
    /// Reads sent to the peer (`P_DATA_REQUEST`), waiting for `P_DATA_REPLY`.
    reads: KVec<(u64, u16, Arc<Req>)>,
    /// The session ended and its log was failed: nothing may enter any more (a writer that
    /// still held the session marks its blocks out of sync itself).
    closed: bool,
}

impl Tl {
    /// Records a write of the open epoch `nr`; returns the block id to send, registering
    /// `req` for an ack if `wants_ack`.
    fn record(&mut self, nr: u32, vnr: u16, req: &Arc<Req>, wants_ack: bool) -> Result<u64> {
        if self.closed {
            return Err(ECONNABORTED);
        }
        let open = matches!(self.epochs.last(), Some(e) if e.nr == nr && !e.closed);
        if !open {
            self.epochs.push(
                EpochRec {
                    nr,
                    closed: false,
                    closed_ms: 0,
                    writes: 0,
                    conflicted: false,
                    blocks: KVec::new(),
                },
                GFP_NOIO_FLAGS,
            )?;
        }
        let e = self.epochs.last_mut().ok_or(EINVAL)?;
        let al = req.al.as_ref().and_then(|r| r.dup());
        e.blocks
            .push((vnr, req.sector, req.bytes, al), GFP_NOIO_FLAGS)?;
        e.writes += 1;
        self.next_id += 1;
        // Never 0 and never one of the `ID_*` values the peer may echo for other purposes.
        let id = self.next_id << 8;
        if wants_ack {
            self.pending.push((id, vnr, req.clone(), nr), GFP_NOIO_FLAGS)?;
        }
        Ok(id)
    }

    /// Registers a read sent to the peer; returns its block id.
    fn add_read(&mut self, vnr: u16, req: &Arc<Req>) -> Result<u64> {
        if self.closed {
            return Err(ECONNABORTED);
        }
        self.next_id += 1;
        let id = self.next_id << 8 | 1;
        self.reads.push((id, vnr, req.clone()), GFP_NOIO_FLAGS)?;
        Ok(id)
    }

    /// Takes the read with block id `id` for volume `vnr` and sector `sector`.
    pub(crate) fn take_read(&mut self, id: u64, vnr: u16, sector: u64) -> Option<Arc<Req>> {
        let i = self
            .reads
            .iter()
            .position(|(rid, v, r)| *rid == id && *v == vnr && r.sector == sector)?;
        self.reads.remove(i).ok().map(|p| p.2)
    }

    /// Closes epoch `nr` (a `P_BARRIER` for it is being sent).
    fn close(&mut self, nr: u32) {
        if let Some(e) = self.epochs.iter_mut().find(|e| e.nr == nr) {
            e.closed = true;
            e.closed_ms = crate::sys::jiffies_ms();
        }
    }

    /// What the peer has owed us longest, and since when (`jiffies_ms`): the ack of the
    /// oldest write sent (not one it asked us to retry), else the `P_BARRIER_ACK` of the oldest
    /// epoch closed (`request_timer_fn`'s `req_ack_pending`, then `req_not_net_done`).
    fn oldest_unanswered(&self) -> Option<Unanswered> {
        let write = self
            .pending
            .iter()
            .find(|(_, _, r, _)| !r.postponed.load(Ordering::Acquire))
            .map(|(_, _, r, _)| Unanswered::Write(r.sent_ms.load(Ordering::Acquire)));
        write.or_else(|| {
            self.epochs
                .iter()
                .find(|e| e.closed)
                .map(|e| Unanswered::Barrier(e.closed_ms))
        })
    }

    fn position(&self, id: u64, vnr: u16, sector: u64) -> Option<usize> {
        self.pending
            .iter()
            .position(|(pid, v, r, _)| *pid == id && *v == vnr && r.sector == sector)
    }

    /// Takes the postponed write registered as `ws_id` among volume `vnr`'s writes in flight
    /// out of the log (its conflict was resolved: dropping it restarts it).
    fn take_postponed(&mut self, vnr: u16, ws_id: u64) -> Option<Arc<Req>> {
        let i = self.pending.iter().position(|(_, v, r, _)| {
            *v == vnr && r.ws_id == ws_id && r.postponed.load(Ordering::Acquire)
        })?;
        self.pending.remove(i).ok().map(|p| p.2)
    }

    /// The write `id` no longer counts in its epoch: the peer superseded it or will see it
    /// again (`P_SUPERSEDED`, `P_RETRY_WRITE`); the C sender's transfer log drops such a
    /// request from the epoch the same way.
    fn uncount(&mut self, epoch: u32) {
        if let Some(e) = self.epochs.iter_mut().find(|e| e.nr == epoch) {
            e.writes = e.writes.saturating_sub(1);
            e.conflicted = true;
        }
    }

    /// `P_BARRIER_ACK`: the oldest closed epoch must be `nr` with `set_size` writes.
    ///
    /// An older epoch that had a write superseded or postponed by the peer is taken as
    /// acknowledged by the ack of a later one: the C resolver counts such a write in its
    /// receive epoch but never finishes it (the epoch stays active and is never acknowledged),
    /// and it acknowledges a later epoch only once every write it received before is on disk.
    pub(crate) fn barrier_ack(&mut self, nr: u32, set_size: u32) -> core::result::Result<(), BadBarrierAck> {
        while self.epochs.len() > 1 {
            let skip = match self.epochs.first() {
                Some(e) => e.closed && e.conflicted && e.nr != nr,
                None => false,
            };
            let later = self.epochs.iter().any(|e| e.closed && e.nr == nr);
            if !(skip && later) {
                break;
            }
            let _ = self.epochs.remove(0);
        }
        match self.epochs.first() {
            Some(e) if e.closed && e.nr == nr && e.writes == set_size => {
                let _ = self.epochs.remove(0);
                Ok(())
            }
            Some(e) if !e.closed => Err(BadBarrierAck::NoEpoch),
            Some(e) if e.nr != nr => Err(BadBarrierAck::Number(e.nr)),
            Some(e) => Err(BadBarrierAck::Writes(e.writes)),
            None => Err(BadBarrierAck::NoEpoch),
        }
    }
}

/// See [`Tl::oldest_unanswered`].
enum Unanswered {
    /// A write's ack, sent at this time.
    Write(u64),
    /// A barrier's ack, sent at this time.
    Barrier(u64),
}

/// Why a `P_BARRIER_ACK` does not match the transfer log (`tl_release`'s checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadBarrierAck {
    /// No epoch was closed (no `P_BARRIER` sent) and not yet acknowledged.
    NoEpoch,
    /// The oldest unacknowledged epoch has this other number.
    Number(u32),
    /// The epoch matches, but it had this other number of writes.
    Writes(u32),
}

impl Connection {
    /// A write sent in transfer-log epoch `epoch` completes: if that is still the current
    /// epoch, the next write starts a new one (`drbd_req_complete`'s `start_new_tl_epoch`).
    /// May be called in interrupt context.
    pub(crate) fn write_completing(self: &Arc<Self>, epoch: u32) {
        if self
            .tl_epoch
            .compare_exchange(epoch, epoch.wrapping_add(1), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Already queued: that run sends this barrier too.
            let _ = crate::sys::workqueue::io_queue().enqueue(self.clone());
        }
    }
}

/// Sends the barrier of an epoch closed while no write followed it (the C sender's
/// `wait_for_work` does when it finds nothing else to send).
impl WorkItem for Connection {
    type Pointer = Arc<Connection>;

    fn run(this: Arc<Connection>) {
        if let Some(s) = this.session() {
            let mut tx = s.data_tx.lock();
            let _ = s.send_barrier_locked(&mut tx);
        }
    }
}

/// The session's send-side epoch bookkeeping for one write or barrier.
impl Session {
    /// Sends `P_BARRIER` for the epoch the sender filled if the transfer log has moved on to
    /// a newer one (`maybe_send_barrier`); the sender then fills that one.
    fn send_barrier_locked(&self, tx: &mut crate::connection::DataTx) -> Result {
        let current = self.conn.tl_epoch.load(Ordering::Acquire);
        if current == tx.epoch {
            return Ok(());
        }
        let nr = tx.epoch;
        let writes = tx.epoch_writes;
        tx.epoch = current;
        tx.epoch_writes = 0;
        if writes == 0 {
            return Ok(());
        }
        self.tl.lock().close(nr);
        self.send_locked(
            tx,
            0,
            &Packet::Barrier(crate::drbd_core::packets::Barrier { barrier: nr }),
        )
    }

    /// Closes the epoch being filled, if it has writes, and sends its `P_BARRIER`.
    fn close_epoch_locked(&self, tx: &mut crate::connection::DataTx) -> Result {
        if tx.epoch_writes != 0 {
            // A completion may have moved it on already: then that is the new epoch.
            let _ = self.conn.tl_epoch.compare_exchange(
                tx.epoch,
                tx.epoch.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        self.send_barrier_locked(tx)
    }

    /// Closes the epoch being filled (an application flush: the peer flushes at the barrier).
    pub(crate) fn close_epoch(&self) -> Result {
        let mut tx = self.data_tx.lock();
        self.close_epoch_locked(&mut tx)
    }

    /// Sends an application write (or discard) to the peer. The request's local write has
    /// been submitted; `req` keeps the request open until the peer's ack (protocols B, C).
    /// On failure the caller marks the blocks out of sync.
    pub(crate) fn send_write(&self, vnr: u16, req: &Arc<Req>, protocol: u32) -> Result {
        let mut tx = self.data_tx.lock();
        if self.is_failed() {
            return Err(ECONNABORTED);
        }
        // The epoch this write joins: the transfer log's current one, after the barrier
        // of the one filled before if that was closed.
        self.send_barrier_locked(&mut tx)?;
        let max_epoch = self.conn.settings.lock().max_epoch_size;
        if tx.epoch_writes >= max_epoch {
            self.close_epoch_locked(&mut tx)?;
        }
        let rq = req.rq();
        let mut dp = 0;
        if rq.is_fua() {
            dp |= DP_FUA;
        }
        if rq.is_preflush() {
            dp |= DP_FLUSH;
        }
        if rq.is_sync() {
            dp |= DP_RW_SYNC;
        }
        let wants_ack = protocol >= 2;
        if self.agreed >= 100 {
            dp |= match protocol {
                3 => DP_SEND_WRITE_ACK,
                2 => DP_SEND_RECEIVE_ACK,
                _ => 0,
            };
        }
        req.sent_ms.store(crate::sys::jiffies_ms(), Ordering::Release);
        let id = self.tl.lock().record(tx.epoch, vnr, req, wants_ack)?;
        req.epoch.store(u64::from(tx.epoch), Ordering::Release);
        let dh = DataHeader {
            sector: req.sector,
            block_id: id,
            seq_num: self.next_ack_seq(),
            dp_flags: dp,
        };
        let r = if rq.op() == ReqOp::Discard {
            let t = Trim {
                data: DataHeader {
                    dp_flags: dp | DP_DISCARD,
                    ..dh
                },
                size: req.bytes,
            };
            self.send_locked(&mut tx, vnr, &Packet::Trim(Command::Trim, t))
        } else {
            let mut sub = [0u8; DataHeader::SIZE];
            dh.encode(&mut sub).map_err(|_| EINVAL)?;
            let total = (DataHeader::SIZE as u32) + req.bytes;
            let (h, n) = self.header(vnr, Command::Data, total)?;
            self.data
                .send_all(&h[..n], true)
                .and_then(|()| self.data.send_all(&sub, true))
                .and_then(|()| self.data.send_request_data(rq, false))
        };
        if let Err(e) = r {
            self.fail(Failure::of_error(e));
            return Err(e);
        }
        tx.epoch_writes += 1;
        Ok(())
    }

    /// Asks the peer for the data of a read (`P_DATA_REQUEST`); `req` waits in the transfer
    /// log for the `P_DATA_REPLY` (or `P_NEG_DREPLY`).
    pub(crate) fn send_read(&self, vnr: u16, req: &Arc<Req>) -> Result {
        let id = self.tl.lock().add_read(vnr, req)?;
        let br = crate::drbd_core::packets::BlockRequest {
            sector: req.sector,
            block_id: id,
            blksize: req.bytes,
        };
        let r = self.send(
            crate::connection::Sock::Data,
            vnr,
            &Packet::BlockRequest {
                command: Command::DataRequest,
                request: br,
                digest: &[],
            },
        );
        if r.is_err() {
            self.tl.lock().take_read(id, vnr, req.sector);
        }
        r
    }

    /// `P_NEG_DREPLY`: the peer could not read the block; the read fails.
    pub(crate) fn got_neg_dreply(&self, vnr: u16, id: u64, sector: u64) -> Result<(), Failure> {
        match self.tl.lock().take_read(id, vnr, sector) {
            Some(req) => {
                conn_err!(self.conn, "read from peer failed at sector {}\n", sector);
                req.fail();
                Ok(())
            }
            None => {
                conn_err!(
                    self.conn,
                    "got_NegDReply: failed to find request {:#x}, sector {}s\n",
                    id,
                    sector
                );
                Err(Failure::ProtocolError)
            }
        }
    }

    /// An ack for our write with block id `id` (`got_BlockAck`, `got_NegAck`):
    /// - `P_WRITE_ACK` / `P_RECV_ACK`: the peer has it;
    /// - `P_NEG_ACK`: the peer failed to write it: out of sync;
    /// - `P_SUPERSEDED` (two Primaries, from the resolver): the peer's own overlapping write
    ///   covers it, so it counts as written there: done;
    /// - `P_RETRY_WRITE` (two Primaries, from the resolver): the peer did not write it; it stays
    ///   in the log, postponed, until the peer's conflicting write is acknowledged here
    ///   ([`Session::restart_postponed`]) or the session ends, and is then sent again.
    ///
    /// An ack for no write of ours, or a verdict that only a resolving Primary may send, is a
    /// protocol error.
    pub(crate) fn got_write_ack(&self, vnr: u16, cmd: Command, id: u64, sector: u64) -> Result<(), Failure> {
        let verdict = matches!(cmd, Command::Superseded | Command::RetryWrite);
        if verdict && (self.resolve_conflicts || !self.conn.settings.lock().two_primaries) {
            conn_err!(
                self.conn,
                "got {} for sector {}s, but only a peer that resolves conflicts between two Primaries sends it\n",
                cmd.name(),
                sector
            );
            return Err(Failure::ProtocolError);
        }
        let mut tl = self.tl.lock();
        let Some(i) = tl.position(id, vnr, sector) else {
            drop(tl);
            conn_err!(
                self.conn,
                "got_BlockAck: failed to find request 0x{:x}, sector {}s\n",
                id,
                sector
            );
            return Err(Failure::ProtocolError);
        };
        let (epoch, ws_id) = match tl.pending.get(i) {
            Some((_, _, r, e)) => (*e, r.ws_id),
            None => return Err(Failure::ProtocolError),
        };
        match cmd {
            Command::RetryWrite => {
                let req = tl.pending.get(i).map(|p| p.2.clone());
                if let Some(req) = req {
                    if !req.postponed.swap(true, Ordering::AcqRel) {
                        tl.uncount(epoch);
                    }
                    drop(tl);
                    if let Some(d) = self.conn.device(vnr) {
                        d.write_postponed(ws_id);
                    }
                }
                Ok(())
            }
            _ => {
                if cmd == Command::Superseded {
                    tl.uncount(epoch);
                }
                let req = tl.pending.remove(i).ok().map(|p| p.2);
                drop(tl);
                let Some(req) = req else { return Ok(()) };
                match cmd {
                    Command::NegAck => req.mark_out_of_sync(),
                    Command::WriteAck if ws_id != 0 => {
                        if let Some(d) = self.conn.device(vnr) {
                            d.write_net_acked(ws_id);
                        }
                    }
                    _ => {}
                }
                // Dropping our reference completes the request once its local write is done.
                drop(req);
                Ok(())
            }
        }
    }

    /// The peer write that conflicted with our postponed write `ws_id` of volume `vnr` was
    /// acknowledged (`restart_conflicting_writes`): the write leaves the log and, as its last
    /// reference goes, is restarted.
    pub(crate) fn restart_postponed(&self, vnr: u16, ws_id: u64) {
        let req = self.tl.lock().take_postponed(vnr, ws_id);
        drop(req);
    }

    /// `ko-count`: fails with [`Failure::Timeout`] if the peer has left a write or a barrier
    /// unanswered for longer than `ent_ms` (`ko-count` x `timeout`), with the C module's
    /// warning (`net_timeout_reached`). Pings may still be answered: the peer's disk may have
    /// stalled.
    pub(crate) fn check_ko_count(&self, ent_ms: u64, ko_count: u32, timeout_ds: u32) -> Result<(), Failure> {
        let oldest = self.tl.lock().oldest_unanswered();
        let now = crate::sys::jiffies_ms();
        match oldest {
            Some(Unanswered::Write(t)) if now.saturating_sub(t) > ent_ms => {
                conn_warn!(
                    self.conn,
                    "Remote failed to finish a request within {}ms > ko-count ({}) * timeout ({} * 0.1s)\n",
                    now - t,
                    ko_count,
                    timeout_ds
                );
                Err(Failure::Timeout)
            }
            Some(Unanswered::Barrier(t)) if now.saturating_sub(t) > ent_ms => {
                conn_warn!(
                    self.conn,
                    "Remote failed to answer a P_BARRIER within {}ms > ko-count ({}) * timeout ({} * 0.1s)\n",
                    now - t,
                    ko_count,
                    timeout_ds
                );
                Err(Failure::Timeout)
            }
            _ => Ok(()),
        }
    }

    /// `P_BARRIER_ACK`.
    pub(crate) fn got_barrier_ack(&self, nr: u32, set_size: u32) -> Result<(), Failure> {
        let r = self.tl.lock().barrier_ack(nr, set_size);
        match r {
            Ok(()) => return Ok(()),
            Err(BadBarrierAck::NoEpoch) => conn_err!(
                self.conn,
                "BAD! BarrierAck #{} received, but no epoch in tl!?\n",
                nr
            ),
            Err(BadBarrierAck::Number(exp)) => conn_err!(
                self.conn,
                "BAD! BarrierAck #{} received, expected #{}!\n",
                nr,
                exp
            ),
            Err(BadBarrierAck::Writes(exp)) => conn_err!(
                self.conn,
                "BAD! BarrierAck #{} received with n_writes={}, expected n_writes={}!\n",
                nr,
                set_size,
                exp
            ),
        }
        Err(Failure::ProtocolError)
    }

    /// After the session ended: every write without its ack, and every block of an epoch
    /// without its barrier ack, may be missing on the peer: out of sync.
    /// With `hold` (fencing froze the I/O: `susp_fen`) the writes still waiting for the
    /// peer are marked out of sync but not completed: they are returned, and complete when
    /// the caller drops them, once the peer is fenced or back (the C module keeps them in the
    /// transfer log until `tl_restart`).
    pub(crate) fn fail_transfer_log(&self, hold: bool) -> Option<HeldWrites> {
        let (pending, epochs, reads) = {
            let mut tl = self.tl.lock();
            tl.closed = true;
            (
                core::mem::take(&mut tl.pending),
                core::mem::take(&mut tl.epochs),
                core::mem::take(&mut tl.reads),
            )
        };
        // Reads the peer did not answer fail (the C module would retry them locally if it
        // could; a node reading from its peer has no good local copy).
        for (_, _, req) in reads.iter() {
            req.fail();
        }
        drop(reads);
        for e in epochs.iter() {
            for &(vnr, sector, bytes, _) in e.blocks.iter() {
                if let Some(d) = self.conn.device(vnr) {
                    d.oos_set(sector, bytes);
                }
            }
        }
        for (_, _, req, _) in pending.iter() {
            req.mark_out_of_sync();
        }
        if hold && !pending.is_empty() {
            return Some(HeldWrites(pending));
        }
        drop(pending);
        None
    }
}

/// Writes whose completion waits for fencing (see [`Session::fail_transfer_log`]): their
/// blocks are marked out of sync; dropping this completes them to the upper layer.
pub(crate) struct HeldWrites(KVec<(u64, u16, Arc<Req>, u32)>);

impl HeldWrites {
    /// How many writes are held.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
