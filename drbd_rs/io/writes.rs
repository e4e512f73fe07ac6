// SPDX-License-Identifier: GPL-2.0

//! The writes in flight on one device, for write-conflict detection: a lock around
//! [`core::conflict::WriteSet`](crate::drbd_core::conflict::WriteSet), the local writes parked
//! behind overlapping ones, and the requests ready to be started again.
//!
//! The rules are in `core::conflict`; this file only keeps the set consistent under a lock that
//! bio completions (interrupt context) may take, hands out entry ids, and holds the blk-mq
//! requests that wait. It knows nothing of sockets or the device: whoever makes a parked write
//! ready ([`InFlight::end`], [`InFlight::restart`]) is told so and schedules the device's work
//! item, which starts them in process context ([`InFlight::take_ready`]).
//!
//! Who uses it:
//! - the device's write path registers a write while it is replicated
//!   ([`InFlight::begin_local`]); the request removes it when it completes
//!   ([`InFlight::end`]) or hands its blk-mq request back for a restart after `P_RETRY_WRITE`
//!   ([`InFlight::restart`]);
//! - with two Primaries the receiver registers peer writes and waits for the verdict
//!   ([`InFlight::insert_peer`], [`InFlight::judge_peer`]); their completion removes them after
//!   the ack was sent ([`InFlight::end_peer`]).

use kernel::{
    prelude::*,
    sync::{new_condvar, new_spinlock_irq, CondVar, SpinLockIrq},
};

use crate::io::actlog::AlRef;
use crate::drbd_core::conflict::{Alert, Entry, Full, Start, Verdict, WriteSet};
use crate::sys::disk::{IoRequest, QUEUE_DEPTH};

/// Local writes the set can hold: every request of the tag set, parked or in flight.
const LOCAL_SLOTS: usize = QUEUE_DEPTH as usize;
/// Peer writes the set holds at most (two Primaries); the receiver waits for a free slot.
pub(crate) const PEER_SLOTS: usize = 128;

/// A local write waiting for an overlapping write to complete.
struct Parked {
    id: u64,
    rq: IoRequest,
    al: Option<AlRef>,
}

/// A request to start (again) from the device's work item.
pub(crate) enum Ready {
    /// A parked write may go: it is in the set as in flight under `id`, with its
    /// activity-log reference.
    Parked(u64, IoRequest, Option<AlRef>),
    /// A postponed write (`P_RETRY_WRITE`) whose conflict was resolved: it goes through the
    /// whole write path again, as a new write.
    Restart(IoRequest),
}

/// How [`InFlight::begin_local`] went.
pub(crate) enum Begin {
    /// Registered as in flight under the id: submit and send.
    Go(u64, IoRequest, Option<AlRef>),
    /// Parked: it comes back through [`InFlight::take_ready`].
    Parked,
}

struct Inner {
    set: WriteSet<KVec<Entry>>,
    next_id: u64,
    /// Parked requests, in arrival order. Capacity for every request of the tag set, so
    /// pushing never allocates (it happens under the interrupt-safe lock).
    parked: KVec<Parked>,
    /// Requests to start from the work item (same capacity).
    ready: KVec<Ready>,
}

impl Inner {
    fn new_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Moves every parked write that may go now to `ready`; returns whether there was one.
    fn wake(&mut self) -> bool {
        let mut any = false;
        while let Some(id) = self.set.next_ready() {
            let Some(i) = self.parked.iter().position(|p| p.id == id) else {
                // A parked entry without a request cannot happen (both are added together);
                // drop the entry rather than block its range for ever.
                self.set.remove(id);
                continue;
            };
            let Ok(p) = self.parked.remove(i) else { break };
            match self.ready.push_within_capacity(Ready::Parked(p.id, p.rq, p.al)) {
                Ok(()) => any = true,
                // More requests than the tag set has: cannot happen.
                Err(_) => {}
            }
        }
        any
    }
}

/// The writes in flight on one device, and the local writes waiting for them.
///
/// # Invariants
///
/// Every [`Kind::Parked`](crate::drbd_core::conflict::Kind::Parked) entry of the set has its
/// request in `parked`, and nothing else is there.
#[pin_data]
pub(crate) struct InFlight {
    #[pin]
    inner: SpinLockIrq<Inner>,
    /// Notified whenever an entry goes or changes (the receiver waits for verdicts with it).
    #[pin]
    changed: CondVar,
}

impl InFlight {
    /// An empty registry with room for every request of the tag set and [`PEER_SLOTS`] peer
    /// writes.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let mut slots = KVec::with_capacity(LOCAL_SLOTS + PEER_SLOTS, GFP_KERNEL)?;
        slots.resize(LOCAL_SLOTS + PEER_SLOTS, Entry::FREE, GFP_KERNEL)?;
        let parked = KVec::with_capacity(LOCAL_SLOTS, GFP_KERNEL)?;
        let ready = KVec::with_capacity(LOCAL_SLOTS, GFP_KERNEL)?;
        Ok(pin_init!(InFlight {
            inner <- new_spinlock_irq!(Inner {
                set: WriteSet::new(slots),
                next_id: 0,
                parked,
                ready,
            }),
            changed <- new_condvar!(),
        }))
    }

    /// A local write of `rq`'s range starts while it is replicated: registered and returned
    /// to go, or parked until every overlapping write before it completed.
    pub(crate) fn begin_local(&self, rq: IoRequest, al: Option<AlRef>) -> Begin {
        let (sector, bytes) = (rq.sector(), rq.bytes());
        let mut g = self.inner.lock();
        let id = g.new_id();
        // Every request of the tag set fits, so `Full` cannot happen; if it did, the write
        // would go unserialised rather than wait for nothing.
        match g.set.begin_local(id, sector, bytes) {
            Ok(Start::Go) | Err(Full) => Begin::Go(id, rq, al),
            Ok(Start::Parked) => match g.parked.push_within_capacity(Parked { id, rq, al }) {
                Ok(()) => Begin::Parked,
                Err(e) => {
                    g.set.remove(id);
                    let p = e.0;
                    Begin::Go(0, p.rq, p.al)
                }
            },
        }
    }

    /// Local write `id` completed (or never started): its entry goes. Returns whether parked
    /// writes became ready (the caller schedules the work item).
    pub(crate) fn end(&self, id: u64) -> bool {
        let woke = {
            let mut g = self.inner.lock();
            g.set.remove(id);
            g.wake()
        };
        self.changed.notify_all();
        woke
    }

    /// Postponed local write `id` goes through the write path again: its entry goes and
    /// `rq` waits for the work item. Returns `Err(rq)` if there is no room (cannot happen:
    /// every request of the tag set fits).
    pub(crate) fn restart(&self, id: u64, rq: IoRequest) -> Result<(), IoRequest> {
        let r = {
            let mut g = self.inner.lock();
            g.set.remove(id);
            let r = g.ready.push_within_capacity(Ready::Restart(rq)).map_err(|e| match e.0 {
                Ready::Restart(rq) | Ready::Parked(_, rq, _) => rq,
            });
            g.wake();
            r
        };
        self.changed.notify_all();
        r
    }

    /// The next request for the work item to start.
    pub(crate) fn take_ready(&self) -> Option<Ready> {
        let mut g = self.inner.lock();
        if g.ready.is_empty() {
            None
        } else {
            g.ready.remove(0).ok()
        }
    }

    /// Local write `id` is done on our disk.
    pub(crate) fn set_local_done(&self, id: u64) {
        self.inner.lock().set.set_local_done(id);
        self.changed.notify_all();
    }

    /// The peer acknowledged local write `id` (`P_WRITE_ACK`).
    pub(crate) fn set_net_acked(&self, id: u64) {
        self.inner.lock().set.set_net_acked(id);
        self.changed.notify_all();
    }

    /// The resolver answered `P_RETRY_WRITE` for local write `id`.
    pub(crate) fn set_postponed(&self, id: u64) {
        self.inner.lock().set.set_postponed(id);
        self.changed.notify_all();
    }

    /// A peer write of `bytes` at `sector` enters the set; `None` if every peer slot is taken
    /// (wait for one with [`InFlight::wait_changed`]).
    pub(crate) fn insert_peer(&self, sector: u64, bytes: u32) -> Option<u64> {
        let mut g = self.inner.lock();
        if g.set.count(crate::drbd_core::conflict::Kind::Peer) >= PEER_SLOTS {
            return None;
        }
        let id = g.new_id();
        g.set.insert_peer(id, sector, bytes).ok()?;
        Some(id)
    }

    /// Judges peer write `id` (`core::conflict::WriteSet::judge_peer`). On
    /// [`Verdict::Supersede`] and [`Verdict::Retry`] its entry is gone (and parked writes it
    /// held may be ready: the returned flag).
    pub(crate) fn judge_peer(&self, id: u64, resolver: bool) -> (Verdict, Option<Alert>, bool) {
        let (v, a, woke) = {
            let mut g = self.inner.lock();
            let (v, a) = g.set.judge_peer(id, resolver);
            let woke = matches!(v, Verdict::Supersede | Verdict::Retry) && g.wake();
            (v, a, woke)
        };
        (v, a, woke)
    }

    /// Waits up to `ms` milliseconds for a change of the set.
    pub(crate) fn wait_changed(&self, ms: u32) {
        let mut g = self.inner.lock();
        let _ = self
            .changed
            .wait_interruptible_timeout(&mut g, kernel::time::msecs_to_jiffies(ms));
    }

    /// Peer write `id` was acknowledged (or will never be): its entry goes. If it had to
    /// restart postponed writes (`EE_RESTART_REQUESTS`), `restart` is called with each one's
    /// id. Returns whether parked writes became ready.
    /// Called in process context.
    pub(crate) fn end_peer(&self, id: u64, mut restart: impl FnMut(u64)) -> bool {
        // Local writes in flight do not overlap each other, but many can overlap one large
        // peer write: room for all of them, allocated before the interrupt-safe lock.
        let mut ids: KVec<u64> = KVec::with_capacity(LOCAL_SLOTS, GFP_KERNEL).unwrap_or_default();
        let woke = {
            let mut g = self.inner.lock();
            if let Some(e) = g.set.remove(id) {
                if e.restart {
                    g.set.restartable(e.sector, e.bytes, |r| {
                        let _ = ids.push_within_capacity(r);
                    });
                }
            }
            g.wake()
        };
        self.changed.notify_all();
        // Outside the lock: restarting takes the request out of the transfer log, and its
        // end comes back here.
        for &r in ids.iter() {
            restart(r);
        }
        woke
    }

    /// The session ended: peer writes that will not be acknowledged leave the set. Returns
    /// whether parked writes became ready.
    pub(crate) fn drop_peer_entries(&self) -> bool {
        let woke = {
            let mut g = self.inner.lock();
            g.set.drop_peer_entries();
            g.wake()
        };
        self.changed.notify_all();
        woke
    }
}
