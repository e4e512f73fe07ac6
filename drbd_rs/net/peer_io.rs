// SPDX-License-Identifier: GPL-2.0

//! I/O this node does for its peer (DRBD 8.4's peer requests, `drbd_peer_request`): writes the
//! peer replicates to us (`P_DATA`, and `P_RS_DATA_REPLY` while we are SyncTarget) and reads it
//! asks of us (`P_DATA_REQUEST`, and `P_RS_DATA_REQUEST` while we are SyncSource).
//!
//! The receiver reads the data into a [`PageBuf`] and submits it; the bio completion (interrupt
//! context) hands the object to the system workqueue, which sends the answer on the meta socket
//! (acks) or the data socket (read replies). Peer writes of the current epoch are counted in
//! [`RxEpoch`](crate::connection::rx_epoch::RxEpoch): `P_BARRIER` waits until they are all on disk, flushes, and answers
//! `P_BARRIER_ACK` with their number, as the C receiver does with write ordering `flush`.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    prelude::*,
    sync::Arc,
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

use crate::connection::Session;
use crate::device::Device;
use crate::drbd_core::{
    packets::ID_SYNCER,
    wire::Command,
};
use crate::sys::{
    bdev::{LocalIo, OwnsBuf},
    disk::BlkStatus,
    pages::PageBuf,
};

/// What a completed peer write answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// An application write: `P_WRITE_ACK` (or `P_NEG_ACK`) if the peer asked for it.
    Data {
        /// `DP_SEND_WRITE_ACK` was set (protocol C).
        write_ack: bool,
    },
    /// Resync data: `P_RS_WRITE_ACK` (or `P_NEG_ACK`), bits cleared.
    Resync,
}

/// A write the peer sent us.
#[pin_data]
pub(crate) struct PeerWrite {
    session: Arc<Session>,
    dev: Arc<Device>,
    vnr: u16,
    buf: PageBuf,
    sector: u64,
    block_id: u64,
    kind: WriteKind,
    /// Its entry among the device's writes in flight (two Primaries), 0 if none.
    ws_id: u64,
    failed: AtomicBool,
    #[pin]
    work: Work<PeerWrite>,
}

impl_has_work! {
    impl HasWork<Self> for PeerWrite { self.work }
}

impl PeerWrite {
    /// Wraps a received write.
    pub(crate) fn new(
        session: Arc<Session>,
        dev: Arc<Device>,
        vnr: u16,
        buf: PageBuf,
        sector: u64,
        block_id: u64,
        kind: WriteKind,
        ws_id: u64,
    ) -> Result<Arc<PeerWrite>> {
        Arc::pin_init(
            pin_init!(PeerWrite {
                session,
                dev,
                vnr,
                buf,
                sector,
                block_id,
                kind,
                ws_id,
                failed: AtomicBool::new(false),
                work <- new_work!("PeerWrite::work"),
            }),
            crate::request::GFP_NOIO_FLAGS,
        )
    }
}

impl LocalIo for PeerWrite {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        if status != BlkStatus::OK {
            this.failed.store(true, Ordering::Relaxed);
        }
        // The ack is sent from process context.
        let _ = crate::sys::workqueue::io_queue().enqueue(this);
    }
}

impl OwnsBuf for PeerWrite {
    fn buf(&self) -> &PageBuf {
        &self.buf
    }
}

impl WorkItem for PeerWrite {
    type Pointer = Arc<PeerWrite>;

    fn run(this: Arc<PeerWrite>) {
        let bytes = this.buf.len() as u32;
        let failed = this.failed.load(Ordering::Relaxed);
        let s = &this.session;
        if failed {
            this.dev.oos_set(this.sector, bytes);
        }
        let ack = |cmd: Command, block_id: u64| {
            let _ = s.send_ack(this.vnr, cmd, this.sector, block_id, bytes);
        };
        match this.kind {
            WriteKind::Data { write_ack } => {
                if write_ack {
                    ack(
                        if failed { Command::NegAck } else { Command::WriteAck },
                        this.block_id,
                    );
                }
            }
            WriteKind::Resync => {
                if failed {
                    ack(Command::NegAck, ID_SYNCER);
                } else {
                    this.dev.oos_clear(this.sector, bytes);
                    ack(Command::RsWriteAck, ID_SYNCER);
                }
            }
        }
        // After the ack (`e_end_block`): the peer may now have our writes it postponed sent
        // again, and our local writes parked behind this one may go.
        end_peer_write(s, &this.dev, this.vnr, this.ws_id);
        if this.kind == WriteKind::Resync {
            crate::sync::resync::target_reply_done(s, &this.dev, this.vnr, failed, bytes);
        }
        // Last: the session's cleanup waits for this count, and nothing of the write may run
        // after it.
        let npages = this.buf.len().div_ceil(kernel::page::PAGE_SIZE) as u32;
        let mut rx = s.rx.lock();
        rx.inflight -= 1;
        rx.pages = rx.pages.saturating_sub(npages);
        rx.remove_range(this.vnr, this.sector);
        s.rx_cv.notify_all();
    }
}

/// A discard (`P_TRIM`) or zero-out (`P_ZEROES`) the peer sent, applied to our disk and then
/// acknowledged like a write.
#[pin_data]
pub(crate) struct PeerDiscard {
    session: Arc<Session>,
    dev: Arc<Device>,
    vnr: u16,
    sector: u64,
    bytes: u32,
    block_id: u64,
    write_ack: bool,
    /// `P_ZEROES` (must read back zeroes) rather than `P_TRIM` (a hint).
    zeroes: bool,
    /// Its entry among the device's writes in flight (two Primaries), 0 if none.
    ws_id: u64,
    failed: AtomicBool,
    #[pin]
    work: Work<PeerDiscard>,
}

impl_has_work! {
    impl HasWork<Self> for PeerDiscard { self.work }
}

impl PeerDiscard {
    /// Wraps a received discard of `bytes` at `sector`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        session: Arc<Session>,
        dev: Arc<Device>,
        vnr: u16,
        sector: u64,
        bytes: u32,
        block_id: u64,
        write_ack: bool,
        zeroes: bool,
        ws_id: u64,
    ) -> Result<Arc<PeerDiscard>> {
        Arc::pin_init(
            pin_init!(PeerDiscard {
                session,
                dev,
                vnr,
                sector,
                bytes,
                block_id,
                write_ack,
                zeroes,
                ws_id,
                failed: AtomicBool::new(false),
                work <- new_work!("PeerDiscard::work"),
            }),
            crate::request::GFP_NOIO_FLAGS,
        )
    }
}

impl LocalIo for PeerDiscard {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        // A discard the device does not support leaves the data as it was, which is what a
        // discard may do; a failed zero-out is a failed write.
        if status != BlkStatus::OK && (this.zeroes || status != BlkStatus::NOTSUPP) {
            this.failed.store(true, Ordering::Relaxed);
        }
        let _ = crate::sys::workqueue::io_queue().enqueue(this);
    }
}

impl WorkItem for PeerDiscard {
    type Pointer = Arc<PeerDiscard>;

    fn run(this: Arc<PeerDiscard>) {
        let s = &this.session;
        let failed = this.failed.load(Ordering::Relaxed);
        if failed {
            this.dev.oos_set(this.sector, this.bytes);
        }
        if this.write_ack {
            let cmd = if failed { Command::NegAck } else { Command::WriteAck };
            let _ = s.send_ack(this.vnr, cmd, this.sector, this.block_id, this.bytes);
        }
        end_peer_write(s, &this.dev, this.vnr, this.ws_id);
        let mut rx = s.rx.lock();
        rx.inflight -= 1;
        rx.remove_range(this.vnr, this.sector);
        s.rx_cv.notify_all();
    }
}

/// Peer write `ws_id` (0: not registered) was acknowledged: it leaves the device's writes in
/// flight, our postponed writes it overlapped are sent again (`restart_conflicting_writes`),
/// and local writes parked behind it may go.
pub(crate) fn end_peer_write(s: &Session, dev: &Device, vnr: u16, ws_id: u64) {
    if ws_id == 0 {
        return;
    }
    if dev.writes().end_peer(ws_id, |r| s.restart_postponed(vnr, r)) {
        dev.kick_writes();
    }
}

/// A read the peer asked for.
#[pin_data]
pub(crate) struct PeerRead {
    session: Arc<Session>,
    vnr: u16,
    buf: PageBuf,
    sector: u64,
    block_id: u64,
    /// `P_RS_DATA_REQUEST` (answered with `P_RS_DATA_REPLY`) rather than `P_DATA_REQUEST`.
    resync: bool,
    failed: AtomicBool,
    #[pin]
    work: Work<PeerRead>,
}

impl_has_work! {
    impl HasWork<Self> for PeerRead { self.work }
}

impl PeerRead {
    /// Wraps a read to serve.
    pub(crate) fn new(
        session: Arc<Session>,
        vnr: u16,
        buf: PageBuf,
        sector: u64,
        block_id: u64,
        resync: bool,
    ) -> Result<Arc<PeerRead>> {
        Arc::pin_init(
            pin_init!(PeerRead {
                session,
                vnr,
                buf,
                sector,
                block_id,
                resync,
                failed: AtomicBool::new(false),
                work <- new_work!("PeerRead::work"),
            }),
            crate::request::GFP_NOIO_FLAGS,
        )
    }
}

impl LocalIo for PeerRead {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        if status != BlkStatus::OK {
            this.failed.store(true, Ordering::Relaxed);
        }
        let _ = crate::sys::workqueue::io_queue().enqueue(this);
    }
}

impl OwnsBuf for PeerRead {
    fn buf(&self) -> &PageBuf {
        &self.buf
    }
}

impl WorkItem for PeerRead {
    type Pointer = Arc<PeerRead>;

    fn run(this: Arc<PeerRead>) {
        let s = &this.session;
        this.send_reply();
        if this.resync {
            if let Some(d) = s.conn.device(this.vnr) {
                d.end_resync_read();
            }
        }
        // Last, as for writes: the session's cleanup waits for this count.
        s.end_peer_read(this.buf.len().div_ceil(kernel::page::PAGE_SIZE) as u32);
    }
}

impl PeerRead {
    /// Sends the data (or `P_NEG_*DREPLY` if the read failed).
    fn send_reply(&self) {
        self.session.send_read_reply(
            self.vnr,
            &self.buf,
            self.sector,
            self.block_id,
            self.resync,
            self.failed.load(Ordering::Relaxed),
        );
    }
}
