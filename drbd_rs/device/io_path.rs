// SPDX-License-Identifier: GPL-2.0

//! The data path of a device: the gendisk callbacks (`open`, `release`, `queue_rq`), the
//! dispatch of each request through suspension, the activity log and the writes in flight, and
//! the read and write paths (local, replicated, or from the peer).

use super::*;

impl DiskOps for DeviceIo {
    fn open(&self, write: bool) -> Result {
        let mut st = self.st.lock();
        match state::may_open(st.state.role, write, false) {
            Ok(()) => {
                st.open_count += 1;
                Ok(())
            }
            Err(OpenRefusal::ReadOnly) => Err(EROFS),
            Err(OpenRefusal::WrongMediumType) => Err(EMEDIUMTYPE),
        }
    }

    fn release(&self) {
        let mut st = self.st.lock();
        st.open_count = st.open_count.saturating_sub(1);
    }

    fn queue_rq(&self, rq: IoRequest) {
        let rq = {
            let mut held = self.held.lock();
            if held.suspended {
                match held.requests.push_within_capacity(rq) {
                    Ok(()) => return,
                    // More requests than the tag set has: cannot happen.
                    Err(e) => e.0,
                }
            } else {
                rq
            }
        };
        self.dispatch(rq, AlStage::Begin);
    }

    fn freed(&self) {
        // No request is left to start: the work item's reference cycle can go.
        let me = self.me.lock().take();
        drop(me);
    }
}

impl AlHost for DeviceIo {
    fn bitmap_block(&self, index: u64, out: &mut [u8; MD_BLOCK_SIZE]) {
        let bm = self.bm.lock();
        let first = (index as usize).saturating_mul(actlog::WORDS_PER_BM_BLOCK);
        for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
            let w = bm.words.get(first.saturating_add(i)).copied().unwrap_or(0);
            chunk.copy_from_slice(&w.to_le_bytes());
        }
    }

    fn continue_write(&self, rq: IoRequest, r: Option<AlRef>) {
        self.dispatch(rq, AlStage::Ready(r));
    }

    fn md_io_error(&self) {
        let errors = self.st.lock().errors.clone();
        if let Some(e) = errors {
            IoErrors::raise(&e, ERR_META);
        }
    }
}

impl DeviceIo {
    /// Runs a request (from `queue_rq`, or again once the activity log took its write).
    pub(super) fn dispatch(&self, rq: IoRequest, stage: AlStage) {
        let first_pass = matches!(stage, AlStage::Begin);
        let op = rq.op();
        let is_write = matches!(op, ReqOp::Write | ReqOp::Discard | ReqOp::WriteZeroes);
        let (lower, al) = {
            let mut st = self.st.lock();
            // `may_do_writes`: the local disk takes writes only while the data here or on the
            // peer is UpToDate (after `on-io-error pass_on` made it Inconsistent, say).
            let lower = st.lower.clone().filter(|_| {
                !is_write
                    || st.state.disk == DiskState::UpToDate
                    || st.state.pdsk == DiskState::UpToDate
            });
            if lower.is_some() {
                st.users += 1;
            }
            (lower, st.al.clone())
        };
        if lower.is_none() && is_write && self.replicating_session().is_none() {
            // Diskless, detaching, or data not good enough to write to, and no peer to take it.
            if self.no_data_log.fetch_add(1, Ordering::Relaxed) < NO_DATA_LOG_MAX {
                pr_err!(
                    "drbd{}: IO ERROR: neither local nor remote data, sector {}+{}\n",
                    self.minor,
                    rq.sector(),
                    rq.bytes() >> 9
                );
            }
            if let AlStage::Started(id, _) = stage {
                self.end_write(id);
            }
            return rq.end(BlkStatus::IOERR);
        }
        let sectors = if first_pass { u64::from(rq.bytes()) >> 9 } else { 0 };
        match op {
            ReqOp::Read if lower.is_some() => {
                self.read_sectors.fetch_add(sectors, Ordering::Relaxed)
            }
            ReqOp::Write if lower.is_some() => {
                self.written_sectors.fetch_add(sectors, Ordering::Relaxed)
            }
            _ => 0,
        };
        match op {
            ReqOp::Write | ReqOp::Discard | ReqOp::WriteZeroes => {
                self.write(rq, lower.as_ref(), al.as_ref(), stage)
            }
            ReqOp::Read => self.read(rq, lower.as_ref()),
            ReqOp::Flush => {
                if let Some((s, _)) = self.replicating_session() {
                    let _ = s.close_epoch();
                }
                match lower.as_ref() {
                    Some(l) => l.submit(rq),
                    // Diskless: the peer flushes at the barrier just sent.
                    None => rq.end(BlkStatus::OK),
                }
            }
            _ => match lower.as_ref() {
                Some(l) => l.submit(rq),
                None => rq.end(BlkStatus::IOERR),
            },
        }
        // Our reference goes before `users` does, so a detach waiting for `users == 0` holds
        // the last one and closes the backing device itself, never a `queue_rq` (which may run
        // inside another `submit_bio` and must not wait for its own bios).
        if let Some(lower) = lower {
            drop(lower);
            let mut st = self.st.lock();
            st.users -= 1;
            if st.users == 0 {
                self.idle.notify_all();
            }
        }
    }
}

/// "neither local nor remote data" lines logged per device at most (the C module rate-limits).
const NO_DATA_LOG_MAX: u32 = 20;

impl DeviceIo {
    pub(super) fn state(&self) -> State {
        self.st.lock().state
    }

    /// The session to replicate writes over, if the peer's disk follows ours
    /// (`drbd_should_do_remote`).
    pub(super) fn replicating_session(&self) -> Option<(Arc<Session>, u16)> {
        let st = self.state();
        let follows = st.pdsk == DiskState::UpToDate
            || (st.pdsk.raw() >= DiskState::Inconsistent.raw()
                && st.conn.raw() >= ConnState::WfBitMapT.raw()
                && st.conn.raw() < ConnState::Ahead.raw());
        if !follows || st.conn.raw() < ConnState::Connected.raw() {
            return None;
        }
        let (conn, vnr) = self.peer.lock().clone()?;
        let s = conn.session()?;
        Some((s, vnr))
    }

    /// A write (or discard): to the local disk, and to the peer when it follows; otherwise
    /// its blocks are out of sync. Without a local disk only the peer gets it.
    ///
    /// A local write first needs its extents in the activity log; if that takes a transaction,
    /// the request waits there and comes back through [`DeviceIo::dispatch`].
    pub(super) fn write(
        &self,
        rq: IoRequest,
        lower: Option<&Arc<LowerDev>>,
        al: Option<&Arc<ActivityLog>>,
        stage: AlStage,
    ) {
        let mut started = None;
        let (rq, al_ref) = match (lower, stage, al) {
            (_, AlStage::Started(id, r), _) => {
                started = Some(id);
                (rq, r)
            }
            (None, _, _) => (rq, None),
            (Some(_), AlStage::Ready(r), _) => (rq, r),
            (Some(_), AlStage::Begin | AlStage::Restart, Some(al)) => match al.begin(rq) {
                Begin::Go(rq, r) => (rq, r),
                Begin::Queued => return,
            },
            (Some(_), AlStage::Begin | AlStage::Restart, None) => (rq, None),
        };
        // A local write the activity log does not cover is marked out of sync before it
        // starts: the bit reaches the disk with the bitmap, so a crash cannot hide it.
        if lower.is_some() && al_ref.is_none() {
            self.oos_set(rq.sector(), rq.bytes());
        }
        let session = self.replicating_session();
        let (s, vnr) = match (session, lower) {
            (Some(x), _) if rq.op() != ReqOp::WriteZeroes || lower.is_none() => x,
            (_, lower) => {
                // Not replicated (any more): no conflict to avoid.
                if let Some(id) = started {
                    self.end_write(id);
                }
                let Some(lower) = lower else {
                    return rq.end(BlkStatus::IOERR);
                };
                // Out of sync before the write starts, while its extents are active: the bit
                // is on disk (with the bitmap block written when the extent leaves the log)
                // or its extent is in the log, so the reference is not needed any longer.
                self.oos_set(rq.sector(), rq.bytes());
                drop(al_ref);
                return lower.submit(rq);
            }
        };
        // No two overlapping writes are in flight at once (`complete_conflicting_writes`):
        // one that overlaps a write still in flight, ours or the peer's, waits for it, parked
        // (the hardware context goes on), and comes back through the work item.
        let (ws_id, rq, al_ref) = match started {
            Some(id) => (id, rq, al_ref),
            None => match self.writes.begin_local(rq, al_ref) {
                writes::Begin::Go(id, rq, al) => (id, rq, al),
                writes::Begin::Parked => return,
            },
        };
        let bytes = rq.bytes();
        self.enter_app_write();
        // On failure the `Req` was dropped inside `Req::new`: that ended the request with an
        // error, left the resync interlock (`app_write_done`) and the writes in flight.
        let Ok(req) = Req::new(rq, s.conn.clone(), vnr, true, al_ref, ws_id) else {
            return;
        };
        match lower {
            Some(lower) => lower.submit_request(req.clone()),
            // No local write to wait for.
            None => self.writes.set_local_done(ws_id),
        }
        if s.send_write(vnr, &req, s.protocol).is_err() {
            if lower.is_some() {
                self.oos_set(req.sector, req.bytes);
            } else {
                req.fail();
            }
        } else {
            self.send_sectors.fetch_add(u64::from(bytes) >> 9, Ordering::Relaxed);
        }
    }

    /// Whether a read of `bytes` at `sector` may be served by the local disk
    /// (`drbd_may_do_local_read`): UpToDate data, or Inconsistent data whose blocks there are
    /// not out of sync.
    pub(super) fn may_read_locally(&self, sector: u64, bytes: u32) -> bool {
        let st = self.state();
        if st.disk == DiskState::UpToDate {
            return true;
        }
        if st.disk != DiskState::Inconsistent {
            return false;
        }
        let Some((a, b)) = oos::touched_bits(sector, bytes) else {
            return true;
        };
        let bm = self.bm.lock();
        oos::next_set(&bm.words, bm.bits, a).is_none_or(|n| n > b)
    }

    /// A read: from the local disk when its data is good there, else from an UpToDate peer
    /// (`P_DATA_REQUEST`), else an I/O error, as the C module does.
    pub(super) fn read(&self, rq: IoRequest, lower: Option<&Arc<LowerDev>>) {
        if let Some(l) = lower {
            if self.may_read_locally(rq.sector(), rq.bytes()) {
                return l.submit(rq);
            }
        }
        let peer = {
            let st = self.state();
            if st.conn.raw() >= ConnState::Connected.raw() && st.pdsk == DiskState::UpToDate {
                self.peer
                    .lock()
                    .clone()
                    .and_then(|(c, vnr)| c.session().map(|s| (s, vnr)))
            } else {
                None
            }
        };
        match (peer, lower) {
            (Some((s, vnr)), _) => {
                let Ok(req) = Req::new(rq, s.conn.clone(), vnr, false, None, 0) else {
                    return;
                };
                if s.send_read(vnr, &req).is_err() {
                    req.fail();
                }
            }
            // "IO ERROR: neither local nor remote data".
            _ => rq.end(BlkStatus::IOERR),
        }
    }

    /// Counts an application write in the resync interlock; while a resync runs it first
    /// waits for the resync reads (SyncSource) or requests (SyncTarget) in flight, so the two
    /// never pass each other on the wire or on a disk.
    pub(super) fn enter_app_write(&self) {
        let mut waiting = false;
        loop {
            self.app_inflight.fetch_add(1, Ordering::SeqCst);
            let busy = match self.state().conn {
                ConnState::SyncSource | ConnState::PausedSyncS => {
                    self.rs_reads.load(Ordering::SeqCst) != 0
                }
                ConnState::SyncTarget | ConnState::PausedSyncT => {
                    self.rs_outstanding.load(Ordering::SeqCst) != 0
                }
                // Online verify: blocks being compared (`crate::sync::verify`).
                ConnState::VerifyS | ConnState::VerifyT => {
                    self.rs_outstanding.load(Ordering::SeqCst) != 0
                }
                _ => false,
            };
            if !busy {
                break;
            }
            self.app_inflight.fetch_sub(1, Ordering::SeqCst);
            if !waiting {
                waiting = true;
                self.app_waiting.fetch_add(1, Ordering::SeqCst);
            }
            crate::sys::thread::sleep_ms(1);
        }
        if waiting {
            self.app_waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Marks the blocks `bytes` at `sector` touches out of sync.
    pub(crate) fn oos_set(&self, sector: u64, bytes: u32) {
        if let Some((a, b)) = oos::touched_bits(sector, bytes) {
            let mut bm = self.bm.lock();
            let n = bm.bits;
            oos::change_bits(&mut bm.words, n, a, b, true);
        }
    }

    /// Marks the blocks `bytes` at `sector` fully covers in sync.
    pub(crate) fn oos_clear(&self, sector: u64, bytes: u32) {
        let capacity = self.st.lock().size_sectors;
        if let Some((a, b)) = oos::covered_bits_in(sector, bytes, capacity) {
            let mut bm = self.bm.lock();
            let n = bm.bits;
            oos::change_bits(&mut bm.words, n, a, b, false);
        }
    }

    /// Bits set.
    pub(crate) fn oos_weight(&self) -> u64 {
        let bm = self.bm.lock();
        oos::weight(&bm.words, bm.bits)
    }

    /// Local write `id` left the writes in flight; parked writes it held may go now.
    pub(super) fn end_write(&self, id: u64) {
        if self.writes.end(id) {
            self.kick_writes();
        }
    }

    /// Has the work item start the writes that are ready. May be called in interrupt
    /// context.
    pub(super) fn kick_writes(&self) {
        let me = self.me.lock().clone();
        if let Some(me) = me {
            // Already queued: the queued run takes these too.
            let _ = crate::sys::workqueue::io_queue().enqueue(me);
        }
    }
}
