// SPDX-License-Identifier: GPL-2.0

//! The activity log and the on-disk bitmap of one attachment (DRBD 8.4's `drbd_actlog.c` and
//! the I/O half of `drbd_bitmap.c`). Safe Rust; the decisions are in `core::al`.
//!
//! A local write may start only while every 4 MiB extent it touches is in the activity log
//! on disk. [`ActivityLog::begin`] is the fast path that `queue_rq` takes: if the extents are
//! active it takes a reference on them ([`AlRef`]) and the write goes on. Otherwise the request
//! waits in [`ActivityLog`]'s queue, and the work item brings its extents in: it writes out the
//! bitmap blocks of the extents it evicts, then the 4 KiB transaction into the ring, both
//! through to stable storage, and only then lets the request continue. (`queue_rq` may run in
//! the submitter's `submit_bio`, where waiting for our own meta-data bios would deadlock; the
//! work item runs in process context.)
//!
//! The references live as long as the block might be on this disk and not on the peer's: the
//! request holds one until it completes, the transfer log one per block until the peer's
//! barrier ack (protocols A and B complete requests earlier). An extent with references is
//! never evicted, so after a crash the on-disk bitmap plus the extents the ring names cover
//! every block that may differ: [`replay`] marks those extents out of sync at attach, which is
//! what `drbdmeta apply-al` does for the C module.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::{new_mutex, new_spinlock, new_spinlock_irq, Arc, Mutex, SpinLock, SpinLockIrq},
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

use crate::drbd_core::{
    al::{self, ActiveSet, AlPlanError, AlSlot, Replay},
    meta::{AlTransaction, Layout, AL_CONTEXT_PER_TRANSACTION, LC_FREE, MD_BLOCK_SIZE},
};
use crate::sys::{
    bdev::{BdevFile, MdBlock},
    disk::{BlkStatus, IoRequest, QUEUE_DEPTH},
};

/// Bitmap bits in one 4 KiB on-disk bitmap block.
pub(crate) const BITS_PER_BM_BLOCK: u64 = (MD_BLOCK_SIZE as u64) * 8;
/// 64-bit words in one bitmap block.
pub(crate) const WORDS_PER_BM_BLOCK: usize = MD_BLOCK_SIZE / 8;
/// Sectors per 4 KiB block.
const BLOCK_SECTORS: u64 = (MD_BLOCK_SIZE as u64) >> 9;

/// What the activity log needs of its device: the in-memory bitmap, and the way back into the
/// write path for a request whose extents are now active.
pub(crate) trait AlHost: Send + Sync {
    /// Copies bitmap block `index` (bits `index * 32768 ..`) in its on-disk form
    /// (little-endian 64-bit words, zero beyond the device) into `out`.
    fn bitmap_block(&self, index: u64, out: &mut [u8; MD_BLOCK_SIZE]);
    /// Continues a write that waited for the activity log; `r` covers its extents (`None`:
    /// the activity log could not take it, and the write must mark its blocks out of sync).
    fn continue_write(&self, rq: IoRequest, r: Option<AlRef>);
    /// A meta-data write failed.
    fn md_io_error(&self);
}

struct AlState {
    set: ActiveSet<KVVec<AlSlot>>,
    /// Requests waiting for their extents, oldest first (at most the tag set's depth).
    pending: KVec<IoRequest>,
    /// The work item found no slot without writes in flight: the next reference dropped to
    /// zero must queue it again.
    waiting_for_slot: bool,
    /// Detached: no more transactions; waiting requests go on without the activity log.
    closed: bool,
    /// Transactions written, and the times a write waited for one (for the log at detach).
    transactions: u64,
}

/// Buffers of the work item's meta-data I/O.
struct AlBufs {
    block: MdBlock,
    context: KVVec<u32>,
}

/// The activity log of one attachment.
///
/// # Invariants
/// Every extent `set` holds was in a transaction on disk before it entered `set` (a request
/// only runs with an [`AlRef`] on active extents); an extent leaves `set` only with no
/// references and after its bitmap blocks were written.
#[pin_data]
pub(crate) struct ActivityLog {
    minor: u32,
    layout: Layout,
    #[pin]
    state: SpinLockIrq<AlState>,
    /// The meta-data device and the device, until [`ActivityLog::close`].
    #[pin]
    md: SpinLock<Option<(Arc<BdevFile>, Arc<dyn AlHost>)>>,
    /// Only the work item (and attach/detach, which exclude it) uses these.
    #[pin]
    bufs: SpinLock<Option<AlBufs>>,
    /// Serialises bitmap block writes, so an older copy of a block never lands after a newer.
    #[pin]
    bm_io: Mutex<()>,
    /// Bitmap blocks written (`bm_writ_cnt`).
    bm_writes: AtomicU64,
    #[pin]
    work: Work<ActivityLog>,
}

impl_has_work! {
    impl HasWork<Self> for ActivityLog { self.work }
}

/// A reference on the AL extents `first..=last`: they stay active (and so on disk) while it
/// lives.
pub(crate) struct AlRef {
    al: Arc<ActivityLog>,
    first: u32,
    last: u32,
}

impl AlRef {
    /// Another reference on the same extents (they are active: this one holds them).
    pub(crate) fn dup(&self) -> Option<AlRef> {
        let mut st = self.al.state.lock();
        if st.set.try_get(self.first, self.last) {
            Some(AlRef {
                al: self.al.clone(),
                first: self.first,
                last: self.last,
            })
        } else {
            None
        }
    }
}

impl Drop for AlRef {
    fn drop(&mut self) {
        let kick = {
            let mut st = self.al.state.lock();
            st.set.put(self.first, self.last);
            core::mem::take(&mut st.waiting_for_slot)
        };
        if kick {
            let _ = crate::sys::workqueue::io_queue().enqueue(self.al.clone());
        }
    }
}

/// What [`ActivityLog::begin`] did with a write.
pub(crate) enum Begin {
    /// Its extents are active: go on, holding the reference.
    Go(IoRequest, Option<AlRef>),
    /// It waits for a transaction; the work item continues it.
    Queued,
}

impl ActivityLog {
    /// The activity log of a new attachment with `nr_slots` slots (`al-extents`), whose next
    /// transaction is numbered `tr_number`, writing to `md` laid out as `layout`.
    pub(crate) fn new(
        minor: u32,
        layout: Layout,
        md: Arc<BdevFile>,
        host: Arc<dyn AlHost>,
        nr_slots: usize,
        tr_number: u32,
    ) -> Result<Arc<ActivityLog>> {
        let mut slots = KVVec::with_capacity(nr_slots, GFP_KERNEL)?;
        slots.resize(nr_slots, AlSlot::FREE, GFP_KERNEL)?;
        let pending = KVec::with_capacity(QUEUE_DEPTH as usize, GFP_KERNEL)?;
        let mut context = KVVec::with_capacity(AL_CONTEXT_PER_TRANSACTION, GFP_KERNEL)?;
        context.resize(AL_CONTEXT_PER_TRANSACTION, 0, GFP_KERNEL)?;
        let bufs = AlBufs {
            block: MdBlock::new()?,
            context,
        };
        Arc::pin_init(
            pin_init!(ActivityLog {
                minor,
                layout,
                state <- new_spinlock_irq!(AlState {
                    set: ActiveSet::new(slots, tr_number),
                    pending,
                    waiting_for_slot: false,
                    closed: false,
                    transactions: 0,
                }),
                md <- new_spinlock!(Some((md, host))),
                bufs <- new_spinlock!(Some(bufs)),
                bm_io <- new_mutex!(()),
                bm_writes: AtomicU64::new(0),
                work <- new_work!("ActivityLog::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// Lets a write of `rq`'s range begin: at once if its extents are active, else after the
    /// work item wrote a transaction.
    pub(crate) fn begin(self: &Arc<Self>, rq: IoRequest) -> Begin {
        let Some((first, last)) = al::extents_of(rq.sector(), rq.bytes()) else {
            return Begin::Go(rq, None);
        };
        let mut st = self.state.lock();
        if st.closed {
            return Begin::Go(rq, None);
        }
        // Behind waiting requests nothing overtakes (a later write could be to the same
        // blocks); with none waiting, active extents go straight on.
        if st.pending.is_empty() && st.set.try_get(first, last) {
            return Begin::Go(
                rq,
                Some(AlRef {
                    al: self.clone(),
                    first,
                    last,
                }),
            );
        }
        match st.pending.push_within_capacity(rq) {
            Ok(()) => {
                drop(st);
                let _ = crate::sys::workqueue::io_queue().enqueue(self.clone());
                Begin::Queued
            }
            // More requests than the tag set has: cannot happen; go on unprotected (the
            // caller marks the blocks out of sync).
            Err(e) => Begin::Go(e.0, None),
        }
    }

    /// Ends the activity log's use of the meta-data device (detach, after the I/O drained).
    /// Requests still waiting go on without it.
    pub(crate) fn close(&self) -> u64 {
        let (pending, n) = {
            let mut st = self.state.lock();
            st.closed = true;
            st.set.clear();
            (core::mem::take(&mut st.pending), st.transactions)
        };
        // Under `bm_io`: a bitmap write or transaction in progress finishes first, and none
        // starts afterwards (they look the device up under the same lock).
        let md = {
            let _io = self.bm_io.lock();
            self.md.lock().take()
        };
        if let Some((_, host)) = md {
            for rq in pending.into_iter() {
                host.continue_write(rq, None);
            }
        } else {
            for rq in pending.into_iter() {
                rq.end(BlkStatus::IOERR);
            }
        }
        self.bufs.lock().take();
        n
    }

    /// Calls `f` for every active extent that writes still reference (the transfer log keeps
    /// references until the peer's barrier ack).
    pub(crate) fn referenced_extents(&self, mut f: impl FnMut(u32)) {
        // `f` runs without the (interrupt-safe) state lock, which must not be held while
        // taking the bitmap's lock.
        let n = self.state.lock().set.len();
        for i in 0..n {
            let slot = self.state.lock().set.slot(i);
            if let Some(s) = slot.filter(|s| s.refs > 0 && s.extent != LC_FREE) {
                f(s.extent);
            }
        }
    }

    /// Activity-log transactions and bitmap blocks written so far (`al:` and `bm:` of
    /// /proc/drbd).
    pub(crate) fn counters(&self) -> (u64, u64) {
        let tr = self.state.lock().transactions;
        (tr, self.bm_writes.load(Ordering::Relaxed))
    }

    fn md(&self) -> Option<(Arc<BdevFile>, Arc<dyn AlHost>)> {
        self.md.lock().clone()
    }

    /// Writes the bitmap blocks that hold bits `first..end` (through to stable storage if
    /// `durable`).
    fn write_bitmap_blocks(
        &self,
        md: &BdevFile,
        host: &dyn AlHost,
        buf: &mut MdBlock,
        first_block: u64,
        last_block: u64,
        durable: bool,
    ) -> Result {
        let blocks = self.layout.bm_sectors() / BLOCK_SECTORS;
        if blocks == 0 || first_block >= blocks {
            return Ok(());
        }
        let end = last_block.min(blocks - 1);
        let mut r = Ok(());
        for b in first_block..=end {
            host.bitmap_block(b, buf);
            let sector = self.layout.bm_sector() + b * BLOCK_SECTORS;
            let last = b == end;
            self.bm_writes.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = md.write_block(sector, buf, durable && last) {
                r = Err(e);
            }
        }
        r
    }

    /// Writes the whole in-memory bitmap of `bits` bits to the meta-data (after a bitmap
    /// exchange, at the end of a resync, at detach); through to stable storage.
    pub(crate) fn write_bitmap(&self, bits: u64) -> Result {
        let mut buf = MdBlock::new()?;
        let last = bits.div_ceil(BITS_PER_BM_BLOCK).max(1) - 1;
        let _io = self.bm_io.lock();
        let Some((md, host)) = self.md() else {
            return Ok(());
        };
        let r = self.write_bitmap_blocks(&md, &*host, &mut buf, 0, last, true);
        if r.is_err() {
            pr_err!("drbd{}: writing the bitmap failed\n", self.minor);
            host.md_io_error();
        }
        r
    }

    /// The work item's job: bring in the extents of the waiting requests, oldest first.
    fn run_pending(this: &Arc<Self>) {
        loop {
            let plan = {
                let mut st = this.state.lock();
                if st.closed {
                    return;
                }
                let Some(rq) = st.pending.first() else {
                    return;
                };
                let Some((first, last)) = al::extents_of(rq.sector(), rq.bytes()) else {
                    let rq = st.pending.remove(0).ok();
                    drop(st);
                    if let (Some(rq), Some((_, host))) = (rq, this.md()) {
                        host.continue_write(rq, None);
                    }
                    continue;
                };
                if st.set.try_get(first, last) {
                    let rq = st.pending.remove(0).ok();
                    drop(st);
                    let r = AlRef {
                        al: this.clone(),
                        first,
                        last,
                    };
                    match (rq, this.md()) {
                        (Some(rq), Some((_, host))) => host.continue_write(rq, Some(r)),
                        (Some(rq), None) => rq.end(BlkStatus::IOERR),
                        _ => {}
                    }
                    continue;
                }
                match st.set.plan(first, last) {
                    Ok(plan) => {
                        st.set.begin(&plan);
                        plan
                    }
                    Err(AlPlanError::NoFreeSlot) => {
                        // Every slot has writes in flight; the next one to finish queues
                        // this work again.
                        st.waiting_for_slot = true;
                        return;
                    }
                    Err(AlPlanError::TooLarge) => {
                        let rq = st.pending.remove(0).ok();
                        drop(st);
                        if let (Some(rq), Some((_, host))) = (rq, this.md()) {
                            host.continue_write(rq, None);
                        }
                        continue;
                    }
                }
            };
            if this.write_transaction(&plan) {
                let mut st = this.state.lock();
                st.set.commit(&plan);
                st.transactions += 1;
            } else {
                // Not on disk: the extents do not enter the log (the evicted ones left it in
                // memory only, which is safe: the ring on disk still names them). The request
                // goes on unprotected, its blocks marked out of sync, and the failed
                // meta-data write detaches the disk.
                let rq = this.state.lock().pending.remove(0).ok();
                if let (Some(rq), Some((_, host))) = (rq, this.md()) {
                    host.continue_write(rq, None);
                }
            }
        }
    }

    /// Writes out the bitmap blocks of the extents `plan` evicts, then (only if they are on
    /// disk) the transaction. Returns whether both reached the meta-data.
    fn write_transaction(&self, plan: &al::AlPlan) -> bool {
        let _io = self.bm_io.lock();
        let Some((md, host)) = self.md() else {
            return false;
        };
        let Some(mut bufs) = self.bufs.lock().take() else {
            return false;
        };
        let mut failed = false;
        for e in plan.evicted() {
            let b = u64::from(e) * al::BITS_PER_AL_EXTENT / BITS_PER_BM_BLOCK;
            if self
                .write_bitmap_blocks(&md, &*host, &mut bufs.block, b, b, false)
                .is_err()
            {
                failed = true;
            }
        }
        if failed {
            pr_err!(
                "drbd{}: writing the bitmap of an evicted extent failed; activity log transaction not written\n",
                self.minor
            );
            host.md_io_error();
            *self.bufs.lock() = Some(bufs);
            return false;
        }
        let tr = {
            let st = self.state.lock();
            let t = st.set.transaction(plan, &mut bufs.context);
            let nr = t.tr_number;
            // The block buffer is ours; `encode` only fails for oversized plans, which `plan`
            // never makes.
            if t.encode(&mut bufs.block).is_err() {
                failed = true;
            }
            nr
        };
        let sector = self.layout.al_transaction_sector(tr);
        if md.write_block(sector, &bufs.block, true).is_err() {
            failed = true;
        }
        if failed {
            pr_err!(
                "drbd{}: activity log transaction {} failed to reach the meta-data\n",
                self.minor,
                tr
            );
            host.md_io_error();
        }
        *self.bufs.lock() = Some(bufs);
        !failed
    }
}

impl WorkItem for ActivityLog {
    type Pointer = Arc<ActivityLog>;

    fn run(this: Arc<ActivityLog>) {
        ActivityLog::run_pending(&this);
    }
}

/// What [`replay`] found in the ring.
pub(crate) struct ReplayResult {
    /// Number for the next transaction (after the newest valid one).
    pub(crate) next_tr: u32,
    /// Valid transactions found.
    pub(crate) transactions: usize,
}

/// Reads the AL ring of `md` (laid out as `layout`). With `apply`, rebuilds the active set as
/// `drbdmeta apply-al` does and calls `mark(extent)` for each extent in it. Either way finds
/// the number the next transaction must get, so a later replay orders ours after the old ones.
pub(crate) fn replay(
    md: &BdevFile,
    layout: &Layout,
    apply: bool,
    mut mark: impl FnMut(u32),
) -> Result<ReplayResult> {
    // The ring has al_size_4k blocks (8 by default; a striped AL may have many more).
    let ring = layout.al.size_4k() as usize;
    let mut tr: KVVec<Option<u32>> = KVVec::with_capacity(ring, GFP_KERNEL)?;
    let mut buf = MdBlock::new()?;
    for i in 0..ring {
        let sector = layout.al_transaction_sector(i as u32);
        let t = match md.read_block(sector, &mut buf) {
            Ok(()) => AlTransaction::decode(&buf[..])
                .ok()
                .map(|t| t.header().tr_number),
            // A torn block is no transaction, but an unreadable one may be the newest: a
            // replay cannot go on without it.
            Err(e) if apply => return Err(e),
            Err(_) => None,
        };
        tr.push(t, GFP_KERNEL)?;
    }
    let mut order: KVVec<usize> = KVVec::with_capacity(ring, GFP_KERNEL)?;
    order.resize(ring, 0, GFP_KERNEL)?;
    let n = al::replay_order(&tr, &mut order);
    let next_tr = order[..n]
        .last()
        .and_then(|&i| tr[i])
        .map_or(0, |t| t.wrapping_add(1));
    if apply && n > 0 {
        let mut slots: KVVec<u32> = KVVec::with_capacity(al::MAX_SLOTS, GFP_KERNEL)?;
        slots.resize(al::MAX_SLOTS, 0, GFP_KERNEL)?;
        let mut r = Replay::new(slots);
        for &i in &order[..n] {
            md.read_block(layout.al_transaction_sector(i as u32), &mut buf)?;
            if let Ok(t) = AlTransaction::decode(&buf[..]) {
                r.apply(&t);
            }
        }
        for e in r.extents() {
            mark(e);
        }
    }
    Ok(ReplayResult {
        next_tr,
        transactions: n,
    })
}

/// Reads the on-disk bitmap blocks covering `bits` bits of `md` into `load(index, block)`.
pub(crate) fn read_bitmap(
    md: &BdevFile,
    layout: &Layout,
    bits: u64,
    mut load: impl FnMut(u64, &[u8; MD_BLOCK_SIZE]),
) -> Result {
    let blocks = (layout.bm_sectors() / BLOCK_SECTORS).min(bits.div_ceil(BITS_PER_BM_BLOCK));
    let mut buf = MdBlock::new()?;
    for b in 0..blocks {
        md.read_block(layout.bm_sector() + b * BLOCK_SECTORS, &mut buf)?;
        load(b, &buf);
    }
    Ok(())
}
