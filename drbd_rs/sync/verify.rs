// SPDX-License-Identifier: GPL-2.0

//! Online verify and checksum-based resync (DRBD 8.4's `verify-alg` and `csums-alg`).
//!
//! Online verify (`drbdsetup verify`): the node asked becomes VerifyS after the peer agreed
//! (a cluster-wide state change to `C_VERIFY_S`, which the peer sees as VerifyT). VerifyS asks
//! for one 4 KiB block at a time (`P_OV_REQUEST`, paced like a resync by the controller of
//! `core::resync_ctl`); VerifyT reads the block and answers its digest (`P_OV_REPLY`); VerifyS
//! reads its own block, compares and marks a differing block out of sync on its side and, with
//! `P_OV_RESULT` (`ID_OUT_OF_SYNC`), on the peer's. Nothing is resynced by the verify itself:
//! the next connect resyncs what it found. Both sides log runs of differing blocks ("Out of
//! sync: start=..., size=... (sectors)") and the summary, as the C module does.
//!
//! Checksum-based resync: a SyncTarget with `csums-alg` reads its own block and sends its
//! digest (`P_CSUM_RS_REQUEST`); the SyncSource answers `P_RS_IS_IN_SYNC` if its block has the
//! same digest, else the data (`P_RS_DATA_REPLY`). Both count equal blocks and log the ratio.
//!
//! Everything the peer sends is checked first: sector ranges against the device, digest sizes
//! against the algorithm's, and results only count while a verify runs.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    prelude::*,
    sync::Arc,
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

use crate::connection::{conn_err, Failure, Session, Sock};
use crate::device::Device;
use crate::drbd_core::{
    genl::{ConnState, DiskState, DrbdState, StateRv},
    packets::{
        self, BlockRequest, Packet, ID_IN_SYNC, ID_OUT_OF_SYNC, ID_SYNCER,
        MAX_DIGEST_SIZE,
    },
    resync_ctl,
    wire::Command,
};
use super::digest::{digest_buf, read_local, verify_tfm};
use crate::request::GFP_NOIO_FLAGS;
use crate::sys::{
    self,
    bdev::{LocalIo, OwnsBuf},
    disk::BlkStatus,
    pages::PageBuf,
    thread::{self, KThread},
};

/// Bitmap block: 4 KiB, 8 sectors.
const BM_BLOCK_SIZE: u32 = 4096;
const BM_SECT_PER_BIT: u64 = 8;

/// `verify_can_do_stop_sector`: peers of protocol 97 and later (but not 100) know that a
/// verify may stop early.
fn can_do_stop_sector(s: &Session) -> bool {
    s.agreed >= 97 && s.agreed != 100
}

/// `drbd_ov_out_of_sync_found`: extends the current run or starts a new one, and marks the
/// blocks out of sync.
fn oos_found(d: &Device, sector: u64, size: u32) {
    let ov = &d.ov;
    let start = ov.last_oos_start.load(Ordering::Relaxed);
    let len = ov.last_oos_size.load(Ordering::Relaxed);
    if start.wrapping_add(len) == sector {
        ov.last_oos_size.store(len + u64::from(size >> 9), Ordering::Relaxed);
    } else {
        ov.last_oos_start.store(sector, Ordering::Relaxed);
        ov.last_oos_size.store(u64::from(size >> 9), Ordering::Relaxed);
    }
    d.oos_set(sector, size);
}

// ------------------------------------------------------------------------------------------------
// Digests.

/// `set_ov_position` and the rest of `after_state_ch` for Connected -> VerifyS/VerifyT.
fn begin(d: &Device, side: ConnState) {
    let ov = &d.ov;
    let bits = d.bm_bits();
    let mut total = bits;
    ov.position.store(0, Ordering::Relaxed);
    if side == ConnState::VerifyT {
        // The first request tells where the peer starts.
        ov.start_sector.store(u64::MAX, Ordering::Relaxed);
    } else {
        let (start, blocks) =
            crate::drbd_core::ov::start_position(ov.start_sector.load(Ordering::Relaxed), bits);
        ov.start_sector.store(start, Ordering::Relaxed);
        total = blocks;
        ov.position.store(ov.start_sector.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    ov.total.store(total, Ordering::Relaxed);
    ov.left.store(total, Ordering::Relaxed);
    ov.start_ms.store(sys::jiffies_ms(), Ordering::Relaxed);
    ov.last_oos_start.store(0, Ordering::Relaxed);
    ov.last_oos_size.store(0, Ordering::Relaxed);
    ov.sect_in.store(0, Ordering::Relaxed);
    ov.active.store(true, Ordering::Release);
}

/// `drbdsetup verify`: `drbd_adm_start_ov`. Returns the `SS_*` code.
pub(crate) fn start_ov(d: &Arc<Device>, start: Option<u64>, stop: Option<u64>) -> i32 {
    let st = d.state();
    let refuse = |rv: StateRv| {
        pr_err!("drbd{}: State change failed: {}\n", d.minor(), crate::drbd_core::state::DrbdRet::State(rv).text());
        rv.raw()
    };
    let Some((s, vnr)) = d.peer_session() else {
        return refuse(StateRv::NeedConnection);
    };
    if st.conn == ConnState::VerifyS {
        // A verify runs already: the new stop sector counts (it may shorten or extend the
        // run), the start sector is ignored.
        d.ov.stop_sector.store(stop.unwrap_or(u64::MAX), Ordering::Relaxed);
        return StateRv::NothingToDo.raw();
    }
    if st.conn != ConnState::Connected {
        return refuse(if st.conn.raw() < ConnState::Connected.raw() {
            StateRv::NeedConnection
        } else {
            StateRv::ResyncRunning
        });
    }
    if s.conn.settings.lock().verify_alg.is_empty() {
        return refuse(StateRv::NoVerifyAlg);
    }
    if s.agreed < 88 {
        return refuse(StateRv::NotSupported);
    }
    if let Some(start) = start {
        d.ov.start_sector.store(start & !(BM_SECT_PER_BIT - 1), Ordering::Relaxed);
    }
    d.ov.stop_sector.store(stop.unwrap_or(u64::MAX), Ordering::Relaxed);
    let mask = DrbdState { conn: 0x1f, ..Default::default() };
    let val = DrbdState { conn: ConnState::VerifyS.raw(), ..Default::default() };
    let rv = s.request_state(vnr, mask, val);
    if rv < StateRv::Success.raw() {
        return refuse(StateRv::from_raw(rv).unwrap_or(StateRv::CwFailedByPeer));
    }
    let mut started = false;
    d.change_conn_state(|st| {
        if st.conn == ConnState::Connected {
            st.conn = ConnState::VerifyS;
            started = true;
        }
    });
    if !started {
        return refuse(StateRv::NeedConnection);
    }
    begin(d, ConnState::VerifyS);
    pr_info!(
        "drbd{}: Starting Online Verify from sector {}\n",
        d.minor(),
        d.ov.position.load(Ordering::Relaxed)
    );
    let (s2, d2) = (s.clone(), d.clone());
    match KThread::spawn(c"drbd_rs_verify", move || ticker(s2, vnr, d2)) {
        Ok(t) => d.set_rs_ticker(Some(t)),
        Err(_) => {
            conn_err!(s.conn, "cannot start the verify thread\n");
            s.fail(Failure::NetworkFailure);
        }
    }
    StateRv::Success.raw()
}

/// The peer asks for a connection state (`P_STATE_CHG_REQ` with the `conn` mask): a verify
/// run, which we join as VerifyT. Returns the `SS_*` answer.
pub(crate) fn peer_requests_conn(s: &Session, d: &Device, want: u8) -> i32 {
    if want != ConnState::VerifyS.raw() {
        return StateRv::NotSupported.raw();
    }
    let conn = d.state().conn;
    if conn.raw() < ConnState::Connected.raw() {
        return StateRv::NeedConnection.raw();
    }
    if conn != ConnState::Connected {
        return StateRv::ResyncRunning.raw();
    }
    if s.conn.settings.lock().verify_alg.is_empty() {
        return StateRv::NoVerifyAlg.raw();
    }
    let mut ok = false;
    d.change_conn_state(|st| {
        if st.conn == ConnState::Connected {
            st.conn = ConnState::VerifyT;
            ok = true;
        }
    });
    if !ok {
        return StateRv::ResyncRunning.raw();
    }
    begin(d, ConnState::VerifyT);
    StateRv::Success.raw()
}

/// `drbd_resync_finished` for a verify run: back to Connected, with the summary.
fn finished(s: &Session, vnr: u16, d: &Device) {
    let ov = &d.ov;
    if !ov.active.swap(false, Ordering::AcqRel) {
        return;
    }
    ov.print_oos(d.minor());
    let st = d.state();
    if st.conn != ConnState::VerifyS && st.conn != ConnState::VerifyT {
        return;
    }
    let dt = ((sys::jiffies_ms().saturating_sub(ov.start_ms.load(Ordering::Relaxed))) / 1000).max(1);
    let left = ov.left.load(Ordering::Relaxed);
    let db = ov.total.load(Ordering::Relaxed).saturating_sub(left);
    pr_info!(
        "drbd{}: Online verify done (total {} sec; paused 0 sec; {} K/sec)\n",
        d.minor(),
        dt,
        (db / dt) * 4
    );
    let n_oos = d.oos_weight();
    if n_oos != 0 {
        pr_alert!("drbd{}: Online verify found {} 4k block out of sync!\n", d.minor(), n_oos);
        pr_info!("drbd{}: helper command: drbdadm out-of-sync (not run)\n", d.minor());
    }
    let (os, ns) = d.change_conn_state(|st| {
        if st.conn == ConnState::VerifyS || st.conn == ConnState::VerifyT {
            st.conn = ConnState::Connected;
        }
    });
    ended(d);
    if os.conn == ConnState::VerifyS && ns.conn == ConnState::Connected && can_do_stop_sector(s) {
        let _ = crate::device::announce::send_state(s, vnr, d);
    }
}

/// What `after_state_ch` does when a verify run ends (done, stopped or aborted): the blocks it
/// found out of sync go to the on-disk bitmap, and where it got to is remembered for the next
/// `verify` to resume there.
fn ended(d: &Device) {
    d.verify_io_reset();
    d.bm_write_all();
    let ov = &d.ov;
    let left = ov.left.load(Ordering::Relaxed);
    let bits = d.bm_bits();
    let pos = bits.saturating_sub(left) * BM_SECT_PER_BIT;
    ov.start_sector.store(pos, Ordering::Relaxed);
    if left != 0 {
        pr_info!("drbd{}: Online Verify reached sector {}\n", d.minor(), pos);
    } else {
        ov.start_sector.store(0, Ordering::Relaxed);
    }
}

/// The session ended during a verify run.
pub(crate) fn abort(d: &Device) {
    if d.ov.active.swap(false, Ordering::AcqRel) {
        d.ov.print_oos(d.minor());
        ended(d);
    }
}

/// `P_STATE` from the peer while we are VerifyT: the peer went back to Connected (it reached
/// its stop sector). Returns true if that ended our run.
pub(crate) fn peer_state(s: &Session, vnr: u16, d: &Device, peer_conn: ConnState, peer_disk: DiskState) -> bool {
    let st = d.state();
    if st.conn == ConnState::VerifyT
        && st.disk == DiskState::UpToDate
        && peer_conn == ConnState::Connected
        && peer_disk == DiskState::UpToDate
    {
        finished(s, vnr, d);
        return true;
    }
    false
}

// ------------------------------------------------------------------------------------------------
// Online verify: the requests.

/// VerifyS's request thread (`make_ov_request` every 100 ms).
fn ticker(s: Arc<Session>, vnr: u16, d: Arc<Device>) {
    let sp = d.sync_param();
    let settings = resync_ctl::Settings {
        resync_rate: sp.resync_rate,
        c_plan_ahead: sp.c_plan_ahead,
        c_delay_target: sp.c_delay_target,
        c_fill_target: sp.c_fill_target,
        c_max_rate: sp.c_max_rate,
    };
    let mut ctl = resync_ctl::Controller::new(&settings);
    let max_buffers = s.conn.settings.lock().max_buffers;
    let stop_ok = can_do_stop_sector(&s);
    let mut requesting = true;
    while !s.is_failed() && !thread::should_stop() && d.state().conn == ConnState::VerifyS {
        let mut number = ctl.step(&settings, d.ov.sect_in.swap(0, Ordering::AcqRel), max_buffers);
        // The interlock: no block is compared while application writes are in flight or
        // waiting, and none start while blocks are being compared (`drbd_rs_begin_io`).
        if d.app_writes_busy() {
            number = 0;
        }
        if requesting {
            let capacity = d.size_sectors();
            let mut sector = d.ov.position.load(Ordering::Relaxed);
            let stop = d.ov.stop_sector.load(Ordering::Relaxed);
            for i in 0..number {
                let Some(size) = crate::drbd_core::ov::request_size(sector, capacity) else {
                    requesting = false;
                    break;
                };
                if i > 0 && stop_ok && sector >= stop {
                    requesting = false;
                    break;
                }
                d.verify_io_begin();
                let r = s.send(Sock::Data, vnr, &Packet::BlockRequest {
                    command: Command::OvRequest,
                    request: BlockRequest { sector, block_id: ID_SYNCER, blksize: size },
                    digest: &[],
                });
                if r.is_err() {
                    return;
                }
                ctl.requested(size >> 9);
                sector += BM_SECT_PER_BIT;
            }
            d.ov.position.store(sector, Ordering::Relaxed);
        }
        if !thread::sleep_ms(resync_ctl::STEP_MS) {
            return;
        }
    }
}

/// `P_OV_REQUEST` (we are VerifyT): answer the digest of our block (`w_e_end_ov_req`).
pub(crate) fn receive_ov_request(s: &Arc<Session>, vnr: u16, d: &Device, r: &BlockRequest) -> Result<(), Failure> {
    if d.state().disk != DiskState::UpToDate || !d.has_disk() {
        conn_err!(s.conn, "Can not satisfy peer's read request, no local data.\n");
        return s
            .send_ack(vnr, Command::NegRsDReply, r.sector, r.block_id, r.blksize)
            .map_err(Failure::of_error);
    }
    let ov = &d.ov;
    if d.state().conn == ConnState::VerifyT
        && s.agreed >= 90
        && ov.start_sector.load(Ordering::Relaxed) == u64::MAX
    {
        let bits = d.bm_bits();
        let left = bits.saturating_sub(r.sector / BM_SECT_PER_BIT);
        ov.start_sector.store(r.sector, Ordering::Relaxed);
        ov.position.store(r.sector, Ordering::Relaxed);
        ov.left.store(left, Ordering::Relaxed);
        ov.total.store(left, Ordering::Relaxed);
        pr_info!("drbd{}: Online Verify start sector: {}\n", d.minor(), r.sector);
    }
    let Some(tfm) = verify_tfm(s) else {
        conn_err!(s.conn, "OVRequest without a verify-alg\n");
        return Err(Failure::ProtocolError);
    };
    if d.state().conn == ConnState::VerifyT && d.ov.active.load(Ordering::Acquire) {
        // The interlock: new application writes wait until the result for this block is back,
        // and the read waits for those in flight (they reach the peer's disk too).
        d.verify_io_begin();
        while d.app_writes_in_flight() && !s.is_failed() && d.state().conn == ConnState::VerifyT {
            thread::sleep_ms(1);
        }
    }
    let n = tfm.digest_size();
    if n == 0 || n > MAX_DIGEST_SIZE {
        return Err(Failure::ProtocolError);
    }
    // Not held while the read is in flight: its completion takes it.
    drop(tfm);
    let Some(lower) = d.lower() else {
        // No disk to read: an all-zero digest, as for a failed read.
        return send_ov_reply(s, vnr, r.sector, r.blksize, &[0u8; MAX_DIGEST_SIZE][..n]);
    };
    // Many blocks in flight, as the C module's `w_e_end_ov_req`: the read is submitted here
    // and answered from its completion. It waits for peer writes in flight to those blocks
    // (it must not overtake them) and counts against max-buffers and the reads the session's
    // cleanup waits for, like a peer's `P_DATA_REQUEST`.
    let npages = s.begin_peer_read(vnr, r.sector, r.blksize);
    match PageBuf::alloc(r.blksize as usize).and_then(|buf| OvRead::new(s.clone(), vnr, buf, r.sector)) {
        Ok(read) => {
            lower.read_buf(r.sector, read);
            Ok(())
        }
        Err(_) => {
            s.end_peer_read(npages);
            Err(Failure::NetworkFailure)
        }
    }
}

/// `P_OV_REPLY` with the digest of `bytes` at `sector`.
fn send_ov_reply(s: &Session, vnr: u16, sector: u64, bytes: u32, digest: &[u8]) -> Result<(), Failure> {
    s.send(Sock::Data, vnr, &Packet::BlockRequest {
        command: Command::OvReply,
        request: BlockRequest { sector, block_id: ID_SYNCER, blksize: bytes },
        digest,
    })
    .map_err(Failure::of_error)
}

/// A block VerifyT reads for the peer's `P_OV_REQUEST`: its completion (on the I/O queue)
/// hashes it and answers `P_OV_REPLY`.
#[pin_data]
struct OvRead {
    session: Arc<Session>,
    vnr: u16,
    buf: PageBuf,
    sector: u64,
    failed: AtomicBool,
    #[pin]
    work: Work<OvRead>,
}

impl_has_work! {
    impl HasWork<Self> for OvRead { self.work }
}

impl OvRead {
    fn new(session: Arc<Session>, vnr: u16, buf: PageBuf, sector: u64) -> Result<Arc<OvRead>> {
        Arc::pin_init(
            pin_init!(OvRead {
                session,
                vnr,
                buf,
                sector,
                failed: AtomicBool::new(false),
                work <- new_work!("OvRead::work"),
            }),
            GFP_NOIO_FLAGS,
        )
    }
}

impl LocalIo for OvRead {
    fn local_io_done(this: Arc<Self>, status: BlkStatus) {
        if status != BlkStatus::OK {
            this.failed.store(true, Ordering::Relaxed);
        }
        // Hashed and sent from process context.
        let _ = sys::workqueue::io_queue().enqueue(this);
    }
}

impl OwnsBuf for OvRead {
    fn buf(&self) -> &PageBuf {
        &self.buf
    }
}

impl WorkItem for OvRead {
    type Pointer = Arc<OvRead>;

    fn run(this: Arc<OvRead>) {
        let s = &this.session;
        let bytes = this.buf.len() as u32;
        let mut digest = [0u8; MAX_DIGEST_SIZE];
        // The verify-alg may only change by a `net-options` meanwhile: then the peer's
        // comparison fails, as it would with the C module.
        let n = match verify_tfm(s) {
            Some(mut tfm) => {
                let n = tfm.digest_size().min(MAX_DIGEST_SIZE);
                // A failed read answers an all-zero digest, as the C module does.
                if this.failed.load(Ordering::Relaxed) || digest_buf(&mut tfm, &this.buf, &mut digest).is_err() {
                    digest[..n].fill(0);
                }
                n
            }
            None => 0,
        };
        if !this.failed.load(Ordering::Relaxed) {
            if let Some(d) = s.conn.device(this.vnr) {
                d.count_io(bytes, 0);
            }
        }
        if n == 0 {
            conn_err!(s.conn, "OVRequest without a verify-alg\n");
            s.fail(Failure::ProtocolError);
        } else {
            // A send that fails has failed the session.
            let _ = send_ov_reply(s, this.vnr, this.sector, bytes, &digest[..n]);
        }
        // Last: the session's cleanup waits for this count.
        s.end_peer_read(this.buf.len().div_ceil(kernel::page::PAGE_SIZE) as u32);
    }
}

/// `P_OV_REPLY` (we are VerifyS): compare with our block, tell the peer (`w_e_end_ov_reply`).
pub(crate) fn receive_ov_reply(
    s: &Session,
    vnr: u16,
    d: &Device,
    r: &BlockRequest,
    peer_digest: &[u8],
) -> Result<(), Failure> {
    if d.state().conn != ConnState::VerifyS || !d.ov.active.load(Ordering::Acquire) {
        // A late reply after the run ended: nothing to compare for.
        return Ok(());
    }
    d.ov.sect_in.fetch_add(r.blksize >> 9, Ordering::AcqRel);
    let mut eq = false;
    if d.state().disk == DiskState::UpToDate && d.has_disk() {
        let Some(mut tfm) = verify_tfm(s) else {
            conn_err!(s.conn, "OVReply without a verify-alg\n");
            return Err(Failure::ProtocolError);
        };
        if peer_digest.len() != tfm.digest_size() {
            conn_err!(
                s.conn,
                "OVReply: digest of {} bytes, verify-alg has {}\n",
                peer_digest.len(),
                tfm.digest_size()
            );
            return Err(Failure::ProtocolError);
        }
        if let Some(buf) = read_local(s, vnr, d, r.sector, r.blksize)? {
            let mut digest = [0u8; MAX_DIGEST_SIZE];
            if let Ok(n) = digest_buf(&mut tfm, &buf, &mut digest) {
                eq = digest[..n] == *peer_digest;
            }
        }
    } else {
        // No good local data: the C module reports the block in sync.
        eq = true;
    }
    if eq {
        d.ov.print_oos(d.minor());
    } else {
        oos_found(d, r.sector, r.blksize);
    }
    d.verify_io_end();
    s.send_ack(vnr, Command::OvResult, r.sector, if eq { ID_IN_SYNC } else { ID_OUT_OF_SYNC }, r.blksize)
        .map_err(Failure::of_error)?;
    let left = d.ov.one_done();
    let stop = d.ov.stop_sector.load(Ordering::Relaxed);
    let stop_reached = can_do_stop_sector(s) && r.sector + u64::from(r.blksize >> 9) >= stop;
    if left == 0 || stop_reached {
        finished(s, vnr, d);
    }
    Ok(())
}

/// `P_OV_RESULT` (we are VerifyT): `got_OVResult`.
pub(crate) fn got_ov_result(s: &Session, vnr: u16, d: &Device, sector: u64, size: u32, block_id: u64) -> Result<(), Failure> {
    if packets::check_capacity(sector, size, d.size_sectors()).is_err() || size == 0 {
        conn_err!(s.conn, "OVResult beyond end of device: sector {} size {}\n", sector, size);
        return Err(Failure::ProtocolError);
    }
    if d.state().conn != ConnState::VerifyT || !d.ov.active.load(Ordering::Acquire) {
        return Ok(());
    }
    d.verify_io_end();
    if block_id == ID_OUT_OF_SYNC {
        oos_found(d, sector, size);
    } else {
        d.ov.print_oos(d.minor());
    }
    if d.ov.one_done() == 0 {
        finished(s, vnr, d);
    }
    Ok(())
}

/// `P_NEG_RS_DREPLY` while verifying: the peer could not read the block.
pub(crate) fn got_neg_reply(s: &Session, vnr: u16, d: &Device) -> bool {
    let conn = d.state().conn;
    if conn != ConnState::VerifyS && conn != ConnState::VerifyT {
        return false;
    }
    d.verify_io_end();
    if conn == ConnState::VerifyS && d.ov.active.load(Ordering::Acquire) {
        d.ov.sect_in.fetch_add(BM_BLOCK_SIZE >> 9, Ordering::AcqRel);
        if d.ov.one_done() == 0 {
            finished(s, vnr, d);
        }
    }
    true
}

// ------------------------------------------------------------------------------------------------
// Checksum-based resync.
