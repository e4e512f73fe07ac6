// SPDX-License-Identifier: GPL-2.0

//! The activity log's logic (DRBD 8.4's `drbd_actlog.c` and `lru_cache.c`, and what
//! `drbdmeta apply-al` does with the on-disk ring), without I/O.
//!
//! The activity log bounds what a crashed Primary must resync. The device is cut into 4 MiB
//! extents; a write may only start once every extent it touches is *active*, and the set of
//! active extents (at most `al-extents` of them, one per slot) is on disk before it is used:
//! bringing in an extent costs a 4 KiB transaction in the AL ring of the meta-data. An extent
//! leaves the set only when no write into it is in flight, and only after the bitmap blocks
//! that cover it were written out. So after a crash every block that might differ from the
//! peer is either marked in the on-disk bitmap or lies in an extent of the replayed set, and
//! marking those extents out of sync ([`Replay`]) is enough for the resync to repair it.
//!
//! The encoding of a transaction block is [`crate::meta::AlTransactionData`] (in the kernel,
//! `super::meta`); this file decides what goes into it.

use super::meta::{
    AlTransaction, AlTransactionData, AlUpdate, AL_CONTEXT_PER_TRANSACTION, AL_EXTENT_SHIFT,
    AL_TR_UPDATE, AL_UPDATES_PER_TRANSACTION, BM_BLOCK_SHIFT, LC_FREE,
};

/// Sectors per AL extent (4 MiB).
pub const AL_EXTENT_SECTORS: u64 = 1 << (AL_EXTENT_SHIFT - 9);
/// Bitmap bits per AL extent (1024: one per 4 KiB block).
pub const BITS_PER_AL_EXTENT: u64 = 1 << (AL_EXTENT_SHIFT - BM_BLOCK_SHIFT);
/// Slots a transaction can name: slot numbers are 16 bits on disk.
pub const MAX_SLOTS: usize = 1 << 16;

/// The AL extents a request of `bytes` at `sector` touches, first and last (inclusive); `None`
/// for an empty request or one whose extent numbers do not fit the on-disk 32 bits.
pub fn extents_of(sector: u64, bytes: u32) -> Option<(u32, u32)> {
    if bytes == 0 {
        return None;
    }
    let last_sector = sector.checked_add((u64::from(bytes) - 1) >> 9)?;
    let first = sector / AL_EXTENT_SECTORS;
    let last = last_sector / AL_EXTENT_SECTORS;
    // LC_FREE marks an empty slot; no real extent may use it.
    if last >= u64::from(LC_FREE) {
        return None;
    }
    Some((first as u32, last as u32))
}

/// The bitmap bits (first, end exclusive) of `extent`, clipped to a bitmap of `bits` bits.
pub fn extent_bits(extent: u32, bits: u64) -> (u64, u64) {
    let a = u64::from(extent) * BITS_PER_AL_EXTENT;
    (a.min(bits), (a + BITS_PER_AL_EXTENT).min(bits))
}

/// One slot of the active set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlSlot {
    /// The extent in the slot, or [`LC_FREE`].
    pub extent: u32,
    /// Writes in flight into the extent; the slot cannot be reused while not zero.
    pub refs: u32,
    /// When the extent was last used (a counter), for least-recently-used eviction.
    pub used: u64,
}

impl AlSlot {
    /// An empty slot.
    pub const FREE: AlSlot = AlSlot {
        extent: LC_FREE,
        refs: 0,
        used: 0,
    };
}

/// Why the extents of a request cannot be brought in now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlPlanError {
    /// Every slot that could be reused holds an extent with writes in flight; try again once
    /// one of them completed.
    NoFreeSlot,
    /// The request touches more extents than one transaction can bring in, or than there are
    /// slots: it can never start. (Requests are far smaller than that; this is a guard.)
    TooLarge,
}

/// The changes one transaction makes: slot `updates[i].slot` gets `updates[i].extent`, and
/// `evicted[i]` is the extent it held before ([`LC_FREE`] for an empty slot), whose bitmap
/// blocks must be written out before the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlPlan {
    /// The updates, the first `len` entries valid.
    pub updates: [AlUpdate; AL_UPDATES_PER_TRANSACTION],
    /// The extents the updated slots held.
    pub evicted: [u32; AL_UPDATES_PER_TRANSACTION],
    /// Valid entries.
    pub len: usize,
}

impl AlPlan {
    /// The valid updates.
    pub fn updates(&self) -> &[AlUpdate] {
        &self.updates[..self.len]
    }

    /// The extents that leave the active set (not counting empty slots).
    pub fn evicted(&self) -> impl Iterator<Item = u32> + '_ {
        self.evicted[..self.len]
            .iter()
            .copied()
            .filter(|&e| e != LC_FREE)
    }
}

/// The set of active extents, in slots provided by the caller (`al-extents` of them), with the
/// transaction numbering and the context window that each transaction writes.
///
/// # Invariants
/// Every extent other than [`LC_FREE`] is in at most one slot; a slot with `refs > 0` holds an
/// extent.
pub struct ActiveSet<S> {
    slots: S,
    clock: u64,
    /// Number of the next transaction to write.
    tr_number: u32,
    /// First slot of the next transaction's context window.
    cycle: usize,
}

impl<S: core::ops::DerefMut<Target = [AlSlot]>> ActiveSet<S> {
    /// An active set over `slots` (which are emptied), whose first transaction is numbered
    /// `tr_number`. Slots beyond [`MAX_SLOTS`] are never used.
    pub fn new(mut slots: S, tr_number: u32) -> Self {
        slots.fill(AlSlot::FREE);
        ActiveSet {
            slots,
            clock: 0,
            tr_number,
            cycle: 0,
        }
    }

    fn nr(&self) -> usize {
        self.slots.len().min(MAX_SLOTS)
    }

    fn find(&self, extent: u32) -> Option<usize> {
        self.slots[..self.nr()].iter().position(|s| s.extent == extent)
    }

    /// Whether `extent` is active.
    pub fn contains(&self, extent: u32) -> bool {
        extent != LC_FREE && self.find(extent).is_some()
    }

    /// Active extents.
    pub fn active(&self) -> usize {
        self.slots[..self.nr()]
            .iter()
            .filter(|s| s.extent != LC_FREE)
            .count()
    }

    /// Writes in flight, summed over all extents (each write counts once per extent).
    pub fn refs(&self) -> u64 {
        self.slots[..self.nr()].iter().map(|s| u64::from(s.refs)).sum()
    }

    /// Number of slots in use by the set.
    pub fn len(&self) -> usize {
        self.nr()
    }

    /// Whether the set has no slots.
    pub fn is_empty(&self) -> bool {
        self.nr() == 0
    }

    /// Slot `i`, if it exists.
    pub fn slot(&self, i: usize) -> Option<AlSlot> {
        self.slots[..self.nr()].get(i).copied()
    }

    /// Takes a reference on every extent of `first..=last` if all of them are active (the fast
    /// path of a write: no transaction needed), and marks them recently used. Changes nothing
    /// and returns false otherwise.
    pub fn try_get(&mut self, first: u32, last: u32) -> bool {
        if first > last {
            return true;
        }
        if !(first..=last).all(|e| self.contains(e)) {
            return false;
        }
        self.clock += 1;
        let now = self.clock;
        for e in first..=last {
            if let Some(i) = self.find(e) {
                self.slots[i].refs += 1;
                self.slots[i].used = now;
            }
        }
        true
    }

    /// Drops the references [`ActiveSet::try_get`] took on `first..=last`.
    pub fn put(&mut self, first: u32, last: u32) {
        for e in first..=last {
            if let Some(i) = self.find(e) {
                self.slots[i].refs = self.slots[i].refs.saturating_sub(1);
            }
        }
    }

    /// Plans the transaction that makes `first..=last` active: each missing extent goes into an
    /// empty slot or, failing that, replaces the least recently used extent without writes in
    /// flight (never one of `first..=last`). Changes nothing; [`ActiveSet::commit`] applies it
    /// once the transaction is on disk. An empty plan means all are active already.
    pub fn plan(&self, first: u32, last: u32) -> Result<AlPlan, AlPlanError> {
        let mut plan = AlPlan {
            updates: [AlUpdate {
                slot: 0,
                extent: LC_FREE,
            }; AL_UPDATES_PER_TRANSACTION],
            evicted: [LC_FREE; AL_UPDATES_PER_TRANSACTION],
            len: 0,
        };
        if first > last {
            return Ok(plan);
        }
        let wanted = u64::from(last - first) + 1;
        if wanted > AL_UPDATES_PER_TRANSACTION as u64 || wanted > self.nr() as u64 {
            return Err(AlPlanError::TooLarge);
        }
        for e in first..=last {
            if self.contains(e) {
                continue;
            }
            let taken = |i: usize| plan.updates[..plan.len].iter().any(|u| u.slot as usize == i);
            let free = (0..self.nr()).find(|&i| self.slots[i].extent == LC_FREE && !taken(i));
            let slot = match free {
                Some(i) => i,
                None => (0..self.nr())
                    .filter(|&i| {
                        let s = &self.slots[i];
                        s.refs == 0 && !(first..=last).contains(&s.extent) && !taken(i)
                    })
                    .min_by_key(|&i| self.slots[i].used)
                    .ok_or(AlPlanError::NoFreeSlot)?,
            };
            plan.updates[plan.len] = AlUpdate {
                slot: slot as u16,
                extent: e,
            };
            plan.evicted[plan.len] = self.slots[slot].extent;
            plan.len += 1;
        }
        Ok(plan)
    }

    /// Takes the slots `plan` reuses out of use while its transaction is being written: the
    /// extents leaving the set stop being active at once, so no new write can start in an
    /// extent whose bitmap blocks are being written out. [`ActiveSet::commit`] follows.
    pub fn begin(&mut self, plan: &AlPlan) {
        for u in plan.updates() {
            if let Some(s) = self.slots.get_mut(u.slot as usize) {
                *s = AlSlot::FREE;
            }
        }
    }

    /// Applies a planned transaction (after it was written) and advances the numbering and the
    /// context window.
    pub fn commit(&mut self, plan: &AlPlan) {
        for u in plan.updates() {
            if let Some(s) = self.slots.get_mut(u.slot as usize) {
                *s = AlSlot {
                    extent: u.extent,
                    refs: 0,
                    used: self.clock,
                };
            }
        }
        self.tr_number = self.tr_number.wrapping_add(1);
        self.cycle += AL_CONTEXT_PER_TRANSACTION;
        if self.cycle >= self.nr() {
            self.cycle = 0;
        }
    }

    /// Empties the active set (after the bitmap was written out in full).
    pub fn clear(&mut self) {
        let n = self.nr();
        self.slots[..n].fill(AlSlot::FREE);
    }

    /// The number the next transaction gets.
    pub fn tr_number(&self) -> u32 {
        self.tr_number
    }

    /// The transaction that records `plan`: its updates, and the context window of the slots
    /// from the current cycle position as they will be after `plan`, written into `context`
    /// (which must hold [`AL_CONTEXT_PER_TRANSACTION`] entries).
    pub fn transaction<'a>(
        &self,
        plan: &'a AlPlan,
        context: &'a mut [u32],
    ) -> AlTransactionData<'a> {
        let start = self.cycle.min(self.nr());
        let n = (self.nr() - start)
            .min(AL_CONTEXT_PER_TRANSACTION)
            .min(context.len());
        for (i, c) in context[..n].iter_mut().enumerate() {
            let slot = start + i;
            *c = plan
                .updates()
                .iter()
                .find(|u| u.slot as usize == slot)
                .map_or(self.slots[slot].extent, |u| u.extent);
        }
        AlTransactionData {
            tr_number: self.tr_number,
            transaction_type: AL_TR_UPDATE,
            context_size: self.nr() as u16,
            context_start_slot_nr: start as u16,
            updates: plan.updates(),
            context: &context[..n],
        }
    }
}

/// Rebuilds the active set from the valid transactions of the on-disk ring, as
/// `drbdmeta apply-al` does: oldest to newest, each transaction's context window and then its
/// updates overwrite the slots they name. Slots no transaction mentions stay empty; slots only
/// old transactions mention keep what those said, which can only add extents (more resync,
/// never less).
///
/// # Invariants
/// `slots` holds [`MAX_SLOTS`] entries or fewer; entries are extents or [`LC_FREE`].
pub struct Replay<S> {
    slots: S,
}

impl<S: core::ops::DerefMut<Target = [u32]>> Replay<S> {
    /// A replay into `slots` (emptied; [`MAX_SLOTS`] entries cover every slot number).
    pub fn new(mut slots: S) -> Self {
        slots.fill(LC_FREE);
        Replay { slots }
    }

    /// Applies one transaction; call in increasing [`crate::meta::AlHeader::tr_number`] order.
    pub fn apply(&mut self, t: &AlTransaction<'_>) {
        let h = t.header();
        for (i, e) in t.context_entries().enumerate() {
            if let Some(s) = self.slots.get_mut(h.context_start_slot_nr as usize + i) {
                *s = e;
            }
        }
        for u in t.updates() {
            if let Some(s) = self.slots.get_mut(u.slot as usize) {
                *s = u.extent;
            }
        }
    }

    /// The extents of the rebuilt set (each once, in slot order of first appearance).
    pub fn extents(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|&(i, &e)| e != LC_FREE && !self.slots[..i].contains(&e))
            .map(|(_, &e)| e)
    }
}

/// The order to replay ring entries in: `tr[i]` is the transaction number of ring block `i`
/// (`None` if the block is not a valid transaction). Fills `order` with block indices, oldest
/// first, and returns how many. Transaction numbers count up from wherever the writer started,
/// so the order is by number relative to the newest: the block after the newest in wrapping
/// arithmetic is the oldest.
pub fn replay_order(tr: &[Option<u32>], order: &mut [usize]) -> usize {
    let Some(newest) = tr.iter().flatten().copied().reduce(|a, b| {
        if (b.wrapping_sub(a) as i32) > 0 {
            b
        } else {
            a
        }
    }) else {
        return 0;
    };
    let mut n = 0;
    for (i, t) in tr.iter().enumerate() {
        if t.is_some() && n < order.len() {
            order[n] = i;
            n += 1;
        }
    }
    // Age = how far behind the newest; oldest (largest age) first. Insertion sort: the ring is
    // small and this runs once per attach.
    let age = |i: usize| newest.wrapping_sub(tr[i].unwrap_or(newest));
    for k in 1..n {
        let mut j = k;
        while j > 0 && age(order[j - 1]) < age(order[j]) {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    n
}
