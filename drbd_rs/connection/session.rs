// SPDX-License-Identifier: GPL-2.0

//! An established session: both sockets, the agreed protocol and features, the send side's
//! locking and sequence numbers, and the ways it fails.

use super::*;

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
    pub(super) meta_tx: Mutex<()>,
    pub(super) failed: AtomicBool,
    pub(super) failure: AtomicU32,
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
    pub(super) peer_seq: SpinLock<PeerSeq>,
    /// Notified when `peer_seq` grows or the session fails.
    #[pin]
    pub(super) peer_seq_cv: CondVar,
    /// The `verify-alg` transform, allocated once for the whole verify.
    #[pin]
    pub(crate) verify_tfm: crate::sys::crypto::ShashSlot,
    /// The `csums-alg` transform, allocated once for the whole resync.
    #[pin]
    pub(crate) csums_tfm: crate::sys::crypto::ShashSlot,
}

impl Session {
    /// Admits a read of `bytes` at `sector` of volume `vnr` done for the peer (a
    /// `P_DATA_REQUEST`, `P_RS_DATA_REQUEST` or `P_OV_REQUEST`): it waits until it fits in
    /// max-buffers (so a peer that asks and does not read its socket cannot make us allocate
    /// without bound) and no peer write to those blocks is in flight (it must not overtake
    /// one), then counts it for the cleanup to wait on. Returns its pages, for
    /// [`Session::end_peer_read`].
    pub(crate) fn begin_peer_read(&self, vnr: u16, sector: u64, bytes: u32) -> u32 {
        let npages = (bytes as usize).div_ceil(kernel::page::PAGE_SIZE) as u32;
        let max = self.conn.settings.lock().max_buffers;
        let mut rx = self.rx.lock();
        while (rx.pages > 0 && rx.pages + npages > max) || rx.overlaps(vnr, sector, u64::from(bytes >> 9)) {
            self.rx_cv.wait(&mut rx);
        }
        rx.pages += npages;
        rx.reads += 1;
        npages
    }

    /// A read admitted by [`Session::begin_peer_read`] is over (answered or abandoned).
    pub(crate) fn end_peer_read(&self, npages: u32) {
        let mut rx = self.rx.lock();
        rx.pages = rx.pages.saturating_sub(npages);
        rx.reads -= 1;
        self.rx_cv.notify_all();
    }

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
            6 => Failure::Timeout,
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
            Failure::Timeout => 6,
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

    pub(super) fn sock(&self, s: Sock) -> &TcpStream {
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

    pub(super) fn send_unlocked(&self, sock: Sock, vnr: u16, p: &Packet<'_>) -> Result {
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

    pub(super) fn request_with(&self, cmd: Command, vnr: u16, mask: DrbdState, val: DrbdState) -> i32 {
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
