// SPDX-License-Identifier: GPL-2.0

//! Write-conflict detection for two Primaries (DRBD 8.4's `handle_write_conflicts`,
//! `complete_conflicting_writes`, `restart_conflicting_writes` and the peer sequence numbers of
//! `drbd_receiver.c`), without I/O and without locks.
//!
//! # Why
//!
//! With two Primaries both nodes write, and two overlapping writes issued at about the same
//! time on different nodes could land in different orders on the two disks. DRBD prevents that
//! with one rule per connection: exactly one node *resolves conflicts* (the one whose accepted
//! socket became the meta socket, `RESOLVE_CONFLICTS`). A peer write that the resolver finds
//! overlapping one of its own writes still in flight is not written there; the resolver answers
//!
//! - `P_SUPERSEDED` if its own write covers the peer's entirely: the peer's write counts as done
//!   (overwritten) on both nodes, and the peer, which waits for this verdict before it writes
//!   the resolver's write, ends with the resolver's data too;
//! - `P_RETRY_WRITE` otherwise: the peer postpones its write, writes the resolver's first, and
//!   after acknowledging it sends its own write again, which now comes after it on both disks.
//!
//! The other node never decides: it waits until the resolver's verdict on its own overlapping
//! write arrived (and the write is done locally), then writes the resolver's write; if its own
//! was postponed it restarts it once that peer write is acknowledged.
//!
//! Local writes are serialised against every overlapping write in flight, local or peer
//! ([`WriteSet::begin_local`]): a new local write waits (is *parked*) until the earlier ones
//! completed, so no two overlapping writes of one node are ever on the wire or at a disk at the
//! same time. This also holds with one Primary: two overlapping `O_DIRECT` writes in flight
//! could otherwise reach the two disks in different orders.
//!
//! # Sequence numbers
//!
//! Data (`P_DATA`, `P_TRIM`, `P_ZEROES`) and acks travel on two sockets, read by two threads.
//! Every such packet carries a number from one per-device counter of its sender. If the peer
//! acknowledged our write L (ack numbered k) and then issued its own overlapping write P
//! (numbered above k), the resolver must have processed the ack before it judges P, or it would
//! take the already ordered L for a concurrent one. [`PeerSeq`] is that rule: the resolver
//! judges a peer write numbered s only once it has seen every number below s.
//!
//! # One deliberate difference from the C module
//!
//! The C resolver treats its write L as concurrent until L completed locally, even when the
//! peer already acknowledged L (and so wrote L before issuing P). Superseding P then leaves the
//! disks different (the resolver has L, the peer L then P), and retrying it leaves P postponed
//! with nothing to restart it. Here a local write the peer has acknowledged is ordered before
//! the peer's write: the resolver waits for its local completion and then writes the peer's
//! write normally ([`Verdict::Wait`], then [`Verdict::Submit`]). Nothing of this shows on the
//! wire.

/// `seq_greater`: whether `a` comes after `b` in the 32-bit wrapping sequence.
pub const fn seq_greater(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The later of `a` and `b` in the wrapping sequence.
pub const fn seq_max(a: u32, b: u32) -> u32 {
    if seq_greater(a, b) {
        a
    } else {
        b
    }
}

/// The newest sequence number of the peer that the resolver has processed (`peer_seq`).
/// Starts at 0 on every connection, as the peer's counter does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerSeq {
    newest: u32,
}

impl PeerSeq {
    /// A new connection's: nothing seen yet.
    pub const fn new() -> PeerSeq {
        PeerSeq { newest: 0 }
    }

    /// The newest number seen.
    pub const fn newest(&self) -> u32 {
        self.newest
    }

    /// An ack numbered `seq` was processed (`update_peer_seq`). Returns whether the newest
    /// number grew (waiters should look again).
    pub fn update(&mut self, seq: u32) -> bool {
        let n = seq_max(self.newest, seq);
        let grew = n != self.newest;
        self.newest = n;
        grew
    }

    /// Whether a peer write numbered `seq` may be judged now (`wait_for_and_update_peer_seq`):
    /// every lower number has been processed. If so, it counts as processed.
    pub fn may_process(&mut self, seq: u32) -> bool {
        if seq_greater(seq.wrapping_sub(1), self.newest) {
            return false;
        }
        self.newest = seq_max(self.newest, seq);
        true
    }
}

/// What an entry of the [`WriteSet`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An unused slot.
    Free,
    /// A local write waiting for overlapping writes before it (not sent, not submitted).
    Parked,
    /// A local write in flight: submitted and sent, not completed yet.
    Local,
    /// A write of the peer's, from its arrival until its ack was sent.
    Peer,
}

/// One write in the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// The driver's name for it, unique among the entries.
    pub id: u64,
    /// First sector.
    pub sector: u64,
    /// Size in bytes (a multiple of 512).
    pub bytes: u32,
    /// Arrival order among the entries (parked writes go in this order).
    pub order: u64,
    /// Local: the write on our disk completed.
    pub local_done: bool,
    /// Local: the peer acknowledged it (`P_WRITE_ACK`): the peer has it before anything it
    /// issues later.
    pub net_acked: bool,
    /// Local: the resolver answered `P_RETRY_WRITE`; it is sent again once restarted.
    pub postponed: bool,
    /// Peer: once it is acknowledged, postponed local writes it overlaps are restarted
    /// (`EE_RESTART_REQUESTS`).
    pub restart: bool,
}

impl Entry {
    /// An unused slot.
    pub const FREE: Entry = Entry {
        kind: Kind::Free,
        id: 0,
        sector: 0,
        bytes: 0,
        order: 0,
        local_done: false,
        net_acked: false,
        postponed: false,
        restart: false,
    };

    /// Sector after the last.
    pub const fn end(&self) -> u64 {
        self.sector.saturating_add((self.bytes as u64).div_ceil(512))
    }

    /// Whether it overlaps `bytes` at `sector`.
    pub const fn overlaps(&self, sector: u64, bytes: u32) -> bool {
        let end = sector.saturating_add((bytes as u64).div_ceil(512));
        self.sector < end && sector < self.end()
    }

    /// Whether it covers all of `bytes` at `sector`.
    pub const fn contains(&self, sector: u64, bytes: u32) -> bool {
        let end = sector.saturating_add((bytes as u64).div_ceil(512));
        self.sector <= sector && end <= self.end()
    }
}

/// The set has no free slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// What happens to a local write now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Nothing overlapping is in flight: it is in the set as [`Kind::Local`]; submit and send.
    Go,
    /// It waits as [`Kind::Parked`] until [`WriteSet::next_ready`] names it.
    Parked,
}

/// The judgement on a peer write ([`WriteSet::judge_peer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it (it stays in the set until its ack was sent; then [`WriteSet::remove`] and, if
    /// its entry has `restart`, [`WriteSet::restartable`]).
    Submit,
    /// Something overlapping must finish first (a verdict on our own write, its local
    /// completion, or another peer write): judge again when the set changes.
    Wait,
    /// Resolver: our write covers it: answer `P_SUPERSEDED`, do not write it. Its entry is gone.
    Supersede,
    /// Resolver: it overlaps our write only in part: answer `P_RETRY_WRITE`, do not write it.
    /// Its entry is gone.
    Retry,
}

/// A conflict worth the C module's log line ("Concurrent writes detected: local=%llus +%u,
/// remote=%llus +%u[, assuming %s came first]"): logged when the two ranges differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Our write: first sector and bytes.
    pub local_sector: u64,
    /// See `local_sector`.
    pub local_bytes: u32,
    /// The resolver's choice: `Some(true)` "local came first" (superseded), `Some(false)`
    /// "remote" (retry); `None` on the node that does not resolve.
    pub assumed_local_first: Option<bool>,
}

/// The writes in flight on one device: local writes from their start until they complete,
/// parked local writes, and (with two Primaries) peer writes until their ack was sent.
///
/// `S` holds the slots (a fixed-size array, or a kernel vector filled with [`Entry::FREE`]).
///
/// # Invariants
///
/// No two non-free entries have the same `id`. Every entry's `order` is below `next_order`.
/// No two [`Kind::Local`] entries overlap, and no [`Kind::Local`] entry overlaps a
/// [`Kind::Peer`] entry that was in the set before it (a local write starts only when nothing
/// overlapping is in flight).
pub struct WriteSet<S> {
    slots: S,
    next_order: u64,
    used: usize,
}

impl<S: core::ops::DerefMut<Target = [Entry]>> WriteSet<S> {
    /// A set over `slots`; every slot must be [`Entry::FREE`].
    pub fn new(slots: S) -> WriteSet<S> {
        WriteSet {
            slots,
            next_order: 0,
            used: 0,
        }
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Entries of kind `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.slots.iter().filter(|e| e.kind == kind).count()
    }

    /// The entries in use, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter(|e| e.kind != Kind::Free)
    }

    /// The entry named `id`.
    pub fn get(&self, id: u64) -> Option<&Entry> {
        self.slots.iter().find(|e| e.kind != Kind::Free && e.id == id)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.slots
            .iter_mut()
            .find(|e| e.kind != Kind::Free && e.id == id)
    }

    fn insert(&mut self, kind: Kind, id: u64, sector: u64, bytes: u32) -> Result<(), Full> {
        let order = self.next_order;
        let slot = self
            .slots
            .iter_mut()
            .find(|e| e.kind == Kind::Free)
            .ok_or(Full)?;
        *slot = Entry {
            kind,
            id,
            sector,
            bytes,
            order,
            ..Entry::FREE
        };
        self.next_order += 1;
        self.used += 1;
        Ok(())
    }

    /// Whether a local write of `bytes` at `sector`, arriving in `order`, must wait: something
    /// overlapping is in flight (local or peer), or parked before it.
    fn local_blocked(&self, sector: u64, bytes: u32, order: u64) -> bool {
        self.slots.iter().any(|e| match e.kind {
            Kind::Free => false,
            Kind::Local | Kind::Peer => e.overlaps(sector, bytes),
            Kind::Parked => e.order < order && e.overlaps(sector, bytes),
        })
    }

    /// A local write `id` of `bytes` at `sector` wants to start (`complete_conflicting_writes`
    /// as a continuation): it goes now, or parks. `Full` if there is no slot (the caller sized
    /// the set for every request it can have in flight, so that is a bug, not a wait).
    pub fn begin_local(&mut self, id: u64, sector: u64, bytes: u32) -> Result<Start, Full> {
        let blocked = self.local_blocked(sector, bytes, self.next_order);
        let kind = if blocked { Kind::Parked } else { Kind::Local };
        self.insert(kind, id, sector, bytes)?;
        Ok(if blocked { Start::Parked } else { Start::Go })
    }

    /// The oldest parked write that may go now: it becomes [`Kind::Local`] and its id is
    /// returned. Call until `None` after every change that can unblock one (a removal).
    pub fn next_ready(&mut self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        for e in self.slots.iter() {
            if e.kind == Kind::Parked
                && !self.local_blocked(e.sector, e.bytes, e.order)
                && best.is_none_or(|(o, _)| e.order < o)
            {
                best = Some((e.order, e.id));
            }
        }
        let (_, id) = best?;
        if let Some(e) = self.get_mut(id) {
            e.kind = Kind::Local;
        }
        Some(id)
    }

    /// Removes entry `id` (a local write completed or is restarted, a peer write's ack was
    /// sent, or it was superseded/retried); returns it.
    pub fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.get_mut(id)?;
        let old = *e;
        *e = Entry::FREE;
        self.used -= 1;
        Some(old)
    }

    /// Local write `id` completed on our disk.
    pub fn set_local_done(&mut self, id: u64) {
        if let Some(e) = self.get_mut(id) {
            e.local_done = true;
        }
    }

    /// The peer acknowledged local write `id` (`P_WRITE_ACK`).
    pub fn set_net_acked(&mut self, id: u64) {
        if let Some(e) = self.get_mut(id) {
            e.net_acked = true;
        }
    }

    /// The resolver answered `P_RETRY_WRITE` for local write `id`.
    pub fn set_postponed(&mut self, id: u64) {
        if let Some(e) = self.get_mut(id) {
            e.postponed = true;
        }
    }

    /// A peer write `id` of `bytes` at `sector` arrived (two Primaries): it enters the set
    /// first, so no new overlapping local write starts while it is judged. `Full`: wait for a
    /// free slot.
    pub fn insert_peer(&mut self, id: u64, sector: u64, bytes: u32) -> Result<(), Full> {
        self.insert(Kind::Peer, id, sector, bytes)
    }

    /// Judges peer write `id` (in the set since [`WriteSet::insert_peer`]); `resolver`: this
    /// node holds `RESOLVE_CONFLICTS`. On [`Verdict::Supersede`] and [`Verdict::Retry`] its
    /// entry is removed. The [`Alert`] names the first overlapping local write whose range
    /// differs from the peer write's, for the log.
    pub fn judge_peer(&mut self, id: u64, resolver: bool) -> (Verdict, Option<Alert>) {
        let Some(p) = self.get(id).copied() else {
            // Not in the set: nothing to order it against.
            return (Verdict::Submit, None);
        };
        let mut alert = None;
        let mut restart = false;
        // The first blocking reason decides; scanning in arrival order makes the answer (and
        // the alert) the same whatever slot an entry sits in.
        let mut verdict = Verdict::Submit;
        let mut by_order: Option<Entry> = None;
        loop {
            // The next overlapping entry after `by_order` in arrival order.
            let after = by_order.map(|e| e.order);
            let next = self
                .slots
                .iter()
                .filter(|e| {
                    e.kind != Kind::Free
                        && e.id != id
                        && e.overlaps(p.sector, p.bytes)
                        && after.is_none_or(|o| e.order > o)
                })
                .min_by_key(|e| e.order)
                .copied();
            let Some(e) = next else { break };
            by_order = Some(e);
            let equal = e.sector == p.sector && e.bytes == p.bytes;
            match e.kind {
                Kind::Free | Kind::Parked => continue,
                Kind::Peer => {
                    // The peer serialises its own overlapping writes; an earlier one of ours
                    // still in flight goes first.
                    verdict = Verdict::Wait;
                    break;
                }
                Kind::Local => {}
            }
            if resolver {
                if e.net_acked {
                    // The peer had our write before it issued this one: ours is first on both
                    // disks once it is done here.
                    if !e.local_done {
                        verdict = Verdict::Wait;
                        break;
                    }
                    continue;
                }
                let superseded = e.contains(p.sector, p.bytes);
                if !equal {
                    alert = Some(Alert {
                        local_sector: e.sector,
                        local_bytes: e.bytes,
                        assumed_local_first: Some(superseded),
                    });
                }
                verdict = if superseded {
                    Verdict::Supersede
                } else {
                    Verdict::Retry
                };
                break;
            }
            if !equal && alert.is_none() {
                alert = Some(Alert {
                    local_sector: e.sector,
                    local_bytes: e.bytes,
                    assumed_local_first: None,
                });
            }
            if e.postponed && e.local_done {
                // Ours goes again after this one: restart it once this one is acknowledged.
                restart = true;
                continue;
            }
            // Wait for the resolver's verdict on ours and for ours to be done here.
            verdict = Verdict::Wait;
            break;
        }
        match verdict {
            Verdict::Supersede | Verdict::Retry => {
                self.remove(id);
            }
            Verdict::Submit => {
                if let Some(me) = self.get_mut(id) {
                    me.restart |= restart;
                }
            }
            Verdict::Wait => {}
        }
        (verdict, alert)
    }

    /// The postponed local writes overlapping `bytes` at `sector` that are done locally and
    /// may be sent again now (`restart_conflicting_writes`, after the peer write there was
    /// acknowledged): calls `f` with each id, oldest first. The entries stay until the driver
    /// removes them when it restarts each write.
    pub fn restartable(&self, sector: u64, bytes: u32, mut f: impl FnMut(u64)) {
        let mut after: Option<u64> = None;
        loop {
            let next = self
                .slots
                .iter()
                .filter(|e| {
                    e.kind == Kind::Local
                        && e.postponed
                        && e.local_done
                        && e.overlaps(sector, bytes)
                        && after.is_none_or(|o| e.order > o)
                })
                .min_by_key(|e| e.order)
                .copied();
            let Some(e) = next else { break };
            after = Some(e.order);
            f(e.id);
        }
    }

    /// Every postponed local write, oldest first (the connection is gone: they complete
    /// locally, `fail_postponed_requests`/`tl_clear`).
    pub fn postponed(&self, mut f: impl FnMut(u64)) {
        let mut after: Option<u64> = None;
        loop {
            let next = self
                .slots
                .iter()
                .filter(|e| e.kind == Kind::Local && e.postponed && after.is_none_or(|o| e.order > o))
                .min_by_key(|e| e.order)
                .copied();
            let Some(e) = next else { break };
            after = Some(e.order);
            f(e.id);
        }
    }

    /// Removes every peer entry (the session that sent them ended; their acks will not be
    /// sent). Returns how many there were.
    pub fn drop_peer_entries(&mut self) -> usize {
        let mut n = 0;
        for e in self.slots.iter_mut() {
            if e.kind == Kind::Peer {
                *e = Entry::FREE;
                n += 1;
            }
        }
        self.used -= n;
        n
    }
}
