//! The activity log's logic: extents of requests, the active set with its references and LRU
//! eviction, the transactions it writes, and the replay of the ring after a crash.

use drbd_core::al::*;
use drbd_core::meta::{AlTransaction, AL_CONTEXT_PER_TRANSACTION, LC_FREE, MD_BLOCK_SIZE};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

#[test]
fn extents_of_requests() {
    assert_eq!(extents_of(0, 4096), Some((0, 0)));
    assert_eq!(extents_of(8191, 512), Some((0, 0)));
    assert_eq!(extents_of(8191, 1024), Some((0, 1)));
    assert_eq!(extents_of(8192, 1 << 20), Some((1, 1)));
    assert_eq!(extents_of(8192 * 5 - 8, 8192 * 512), Some((4, 5)));
    assert_eq!(extents_of(100, 0), None);
    assert_eq!(extents_of(u64::MAX - 1, 4096), None);
    assert_eq!(extent_bits(2, 10_000), (2048, 3072));
    assert_eq!(extent_bits(9, 10_000), (9216, 10_000));
    assert_eq!(extent_bits(20, 10_000), (10_000, 10_000));
}

fn set(n: usize) -> ActiveSet<Vec<AlSlot>> {
    ActiveSet::new(vec![AlSlot::FREE; n], 7)
}

#[test]
fn fast_path_needs_every_extent_active() {
    let mut al = set(4);
    assert!(!al.try_get(3, 4));
    let p = al.plan(3, 4).unwrap();
    assert_eq!(p.len, 2);
    assert_eq!(p.evicted().count(), 0);
    al.commit(&p);
    assert_eq!(al.tr_number(), 8);
    assert!(al.try_get(3, 4));
    assert!(al.try_get(4, 4));
    assert_eq!(al.refs(), 3);
    assert!(!al.try_get(4, 5));
    assert_eq!(al.refs(), 3, "a failed try_get takes nothing");
    al.put(3, 4);
    al.put(4, 4);
    assert_eq!(al.refs(), 0);
}

#[test]
fn eviction_is_lru_and_never_touches_busy_extents() {
    let mut al = set(3);
    for e in [10, 11, 12] {
        let p = al.plan(e, e).unwrap();
        al.commit(&p);
        assert!(al.try_get(e, e));
    }
    // All busy: no slot.
    assert_eq!(al.plan(13, 13), Err(AlPlanError::NoFreeSlot));
    al.put(11, 11);
    al.put(10, 10);
    // 10 was used before 11: it goes first.
    let p = al.plan(13, 13).unwrap();
    assert_eq!(p.evicted().collect::<Vec<_>>(), vec![10]);
    al.commit(&p);
    assert!(!al.contains(10));
    assert!(al.contains(13));
    // Touching 11 makes 13 the least recently used.
    assert!(al.try_get(11, 11));
    al.put(11, 11);
    let p = al.plan(14, 14).unwrap();
    assert_eq!(p.evicted().collect::<Vec<_>>(), vec![13]);
    // Two extents, one slot free of writes: not enough.
    al.put(12, 12);
    let p = al.plan(20, 21).unwrap();
    assert_eq!(p.len, 2);
    assert_eq!(al.plan(20, 25), Err(AlPlanError::TooLarge));
}

#[test]
fn transactions_decode_and_cycle_the_context() {
    let n = 1237;
    let mut al = set(n);
    let mut ctx = vec![0u32; AL_CONTEXT_PER_TRANSACTION];
    let mut block = [0u8; MD_BLOCK_SIZE];
    let p = al.plan(5, 5).unwrap();
    let t = al.transaction(&p, &mut ctx);
    t.encode(&mut block).unwrap();
    let d = AlTransaction::decode(&block).unwrap();
    assert_eq!(d.header().tr_number, 7);
    assert_eq!(d.header().context_size as usize, n);
    assert_eq!(d.header().context_start_slot_nr, 0);
    assert_eq!(d.updates().collect::<Vec<_>>().len(), 1);
    assert_eq!(d.context_entries().next(), Some(5), "the context shows the slot after the update");
    al.commit(&p);
    let p = al.plan(6, 6).unwrap();
    let t = al.transaction(&p, &mut ctx);
    assert_eq!(t.context_start_slot_nr as usize, AL_CONTEXT_PER_TRANSACTION);
    assert_eq!(t.context.len(), n - AL_CONTEXT_PER_TRANSACTION);
    al.commit(&p);
    let p = al.plan(7, 7).unwrap();
    assert_eq!(al.transaction(&p, &mut ctx).context_start_slot_nr, 0);
}

#[test]
fn replay_order_is_oldest_first_even_across_wrap() {
    let mut order = [0usize; 8];
    let tr = [Some(9), Some(10), None, Some(7), Some(8), None, None, None];
    let n = replay_order(&tr, &mut order);
    assert_eq!(&order[..n], &[3, 4, 0, 1]);
    let tr = [Some(u32::MAX), Some(0), Some(1), Some(u32::MAX - 1)];
    let n = replay_order(&tr, &mut order);
    assert_eq!(&order[..n], &[3, 0, 1, 2]);
    assert_eq!(replay_order(&[None, None], &mut order), 0);
}

/// Writes a random sequence of transactions into a ring as the driver would, keeping the set
/// of extents that were active (or had writes) at any point after the oldest transaction
/// still in the ring; the replay must cover every extent that is active at the end.
fn run_ring(n_slots: usize, ring: usize, accesses: &[u32]) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let mut al = set(n_slots);
    let mut ctx = vec![0u32; AL_CONTEXT_PER_TRANSACTION];
    let mut blocks: HashMap<usize, Vec<u8>> = HashMap::new();
    for &e in accesses {
        if al.try_get(e, e) {
            al.put(e, e);
            continue;
        }
        let p = al.plan(e, e).unwrap();
        let mut block = [0u8; MD_BLOCK_SIZE];
        let pos = al.tr_number() as usize % ring;
        al.transaction(&p, &mut ctx).encode(&mut block).unwrap();
        blocks.insert(pos, block.to_vec());
        al.commit(&p);
    }
    let active: BTreeSet<u32> = (0..=64).filter(|&e| al.contains(e)).collect();
    let tr: Vec<Option<u32>> = (0..ring)
        .map(|i| {
            blocks
                .get(&i)
                .and_then(|b| AlTransaction::decode(b).ok())
                .map(|t| t.header().tr_number)
        })
        .collect();
    let mut order = vec![0; ring];
    let k = replay_order(&tr, &mut order);
    let mut r = Replay::new(vec![0u32; MAX_SLOTS]);
    for &i in &order[..k] {
        r.apply(&AlTransaction::decode(&blocks[&i]).unwrap());
    }
    (active, r.extents().collect())
}

#[test]
fn replay_of_a_full_ring_rebuilds_the_set() {
    let accesses: Vec<u32> = (0..200).map(|i| (i * 7) % 23).collect();
    let (active, replayed) = run_ring(67, 8, &accesses);
    assert!(active.is_subset(&replayed), "{active:?} not in {replayed:?}");
    // Only extents ever used can come back.
    assert!(replayed.iter().all(|e| *e < 23));
}

#[test]
fn replay_ignores_torn_blocks() {
    let al = set(67);
    let mut ctx = vec![0u32; AL_CONTEXT_PER_TRANSACTION];
    let p = al.plan(3, 3).unwrap();
    let mut block = [0u8; MD_BLOCK_SIZE];
    al.transaction(&p, &mut ctx).encode(&mut block).unwrap();
    block[2000] ^= 1;
    assert!(AlTransaction::decode(&block).is_err());
    let r = Replay::new(vec![0u32; 16]);
    assert_eq!(r.extents().count(), 0);
    assert_eq!(LC_FREE, u32::MAX);
}

proptest! {
    /// Whatever the access pattern and sizes, every extent active when the writer stops is
    /// in the replayed set (the crash-safety property of the activity log).
    #[test]
    fn replay_covers_the_active_set(
        n_slots in 3usize..80,
        ring in 1usize..10,
        accesses in proptest::collection::vec(0u32..60, 1..300),
    ) {
        // A ring smaller than the transactions a full context takes cannot rebuild the set
        // (drbdmeta has the same limit): the on-disk AL is always at least 32 KiB = 8 blocks
        // and holds al-extents <= 8 * 919 slots.
        let need = n_slots.div_ceil(AL_CONTEXT_PER_TRANSACTION) + 1;
        prop_assume!(ring >= need);
        let (active, replayed) = run_ring(n_slots, ring, &accesses);
        prop_assert!(active.is_subset(&replayed), "{:?} not in {:?}", active, replayed);
    }

    #[test]
    fn plans_never_evict_busy_or_requested_extents(
        busy in proptest::collection::vec(0u32..20, 0..6),
        first in 0u32..25, span in 0u32..2,
    ) {
        let mut al = set(6);
        for e in 0..6 {
            let p = al.plan(e, e).unwrap();
            al.commit(&p);
        }
        for &b in &busy {
            al.try_get(b, b);
        }
        let last = first + span;
        if let Ok(p) = al.plan(first, last) {
            for e in p.evicted() {
                prop_assert!(!busy.contains(&e), "evicted busy extent {}", e);
                prop_assert!(!(first..=last).contains(&e));
            }
            al.commit(&p);
            prop_assert!(al.try_get(first, last));
        }
    }
}
