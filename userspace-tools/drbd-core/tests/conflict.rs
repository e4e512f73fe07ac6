//! The write-conflict rules (`core::conflict`): sequence-number arithmetic, local
//! serialisation, the resolver's and the other node's verdicts on peer writes, restarts.

use drbd_core::conflict::{
    seq_greater, seq_max, Entry, Full, Kind, PeerSeq, Start, Verdict, WriteSet,
};
use proptest::prelude::*;

fn set(n: usize) -> WriteSet<Vec<Entry>> {
    WriteSet::new(vec![Entry::FREE; n])
}

#[test]
fn seq_wraps_at_32_bits() {
    assert!(seq_greater(1, 0));
    assert!(!seq_greater(0, 0));
    assert!(!seq_greater(0, 1));
    assert!(seq_greater(0, u32::MAX));
    assert!(seq_greater(5, u32::MAX - 5));
    assert!(!seq_greater(u32::MAX - 5, 5));
    assert_eq!(seq_max(u32::MAX, 2), 2);
    assert_eq!(seq_max(7, 3), 7);
}

#[test]
fn peer_seq_waits_for_every_lower_number() {
    let mut p = PeerSeq::new();
    // A first data packet numbered 1 needs nothing before it.
    assert!(p.may_process(1));
    assert_eq!(p.newest(), 1);
    // Numbered 3: the ack numbered 2 has not been processed.
    assert!(!p.may_process(3));
    assert_eq!(p.newest(), 1);
    assert!(p.update(2));
    assert!(p.may_process(3));
    // Acks that overtook data (older numbers) change nothing.
    assert!(!p.update(2));
    assert_eq!(p.newest(), 3);
    // An ack overtaking by far is fine: later data may go.
    assert!(p.update(10));
    assert!(p.may_process(5));
    assert_eq!(p.newest(), 10);
    assert!(p.may_process(11));
}

#[test]
fn peer_seq_across_the_wrap() {
    let mut p = PeerSeq::new();
    p.update(u32::MAX - 1);
    assert!(p.may_process(u32::MAX));
    assert!(p.may_process(0));
    assert!(!p.may_process(2));
    p.update(1);
    assert!(p.may_process(2));
}

#[test]
fn overlapping_local_writes_are_serialised_in_order() {
    let mut s = set(8);
    assert_eq!(s.begin_local(1, 0, 4096), Ok(Start::Go));
    // Disjoint: goes.
    assert_eq!(s.begin_local(2, 8, 4096), Ok(Start::Go));
    // Overlaps 1 (sector 4 is inside 0..8): parked.
    assert_eq!(s.begin_local(3, 4, 1024), Ok(Start::Parked));
    // Overlaps only parked 3: parked behind it, not ahead.
    assert_eq!(s.begin_local(4, 5, 512), Ok(Start::Parked));
    // Disjoint from everything: goes, parked writes notwithstanding.
    assert_eq!(s.begin_local(5, 100, 512), Ok(Start::Go));
    assert_eq!(s.next_ready(), None);
    s.remove(1);
    assert_eq!(s.next_ready(), Some(3));
    // 4 still waits for 3, now in flight.
    assert_eq!(s.next_ready(), None);
    s.remove(3);
    assert_eq!(s.next_ready(), Some(4));
    assert_eq!(s.get(4).map(|e| e.kind), Some(Kind::Local));
}

#[test]
fn adjacent_ranges_do_not_conflict() {
    let mut s = set(4);
    assert_eq!(s.begin_local(1, 0, 4096), Ok(Start::Go));
    assert_eq!(s.begin_local(2, 8, 512), Ok(Start::Go));
    assert_eq!(s.begin_local(3, 7, 512), Ok(Start::Parked));
}

#[test]
fn a_full_set_says_so() {
    let mut s = set(1);
    assert_eq!(s.begin_local(1, 0, 512), Ok(Start::Go));
    assert_eq!(s.begin_local(2, 8, 512), Err(Full));
    assert_eq!(s.insert_peer(3, 8, 512), Err(Full));
}

#[test]
fn resolver_supersedes_a_contained_peer_write() {
    let mut s = set(4);
    s.begin_local(1, 0, 8192).unwrap();
    s.insert_peer(100, 8, 4096).unwrap();
    let (v, a) = s.judge_peer(100, true);
    assert_eq!(v, Verdict::Supersede);
    let a = a.expect("ranges differ: alert");
    assert_eq!((a.local_sector, a.local_bytes, a.assumed_local_first), (0, 8192, Some(true)));
    // The peer write is not in the set any more.
    assert!(s.get(100).is_none());
}

#[test]
fn resolver_supersedes_an_equal_peer_write_silently() {
    let mut s = set(4);
    s.begin_local(1, 16, 4096).unwrap();
    s.insert_peer(100, 16, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true), (Verdict::Supersede, None));
}

#[test]
fn resolver_retries_a_partly_overlapping_peer_write() {
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    s.insert_peer(100, 4, 4096).unwrap();
    let (v, a) = s.judge_peer(100, true);
    assert_eq!(v, Verdict::Retry);
    assert_eq!(a.unwrap().assumed_local_first, Some(false));
    assert!(s.get(100).is_none());
}

#[test]
fn resolver_orders_a_write_the_peer_acknowledged_first() {
    // The peer wrote and acked our L before it issued P: L comes first on both disks.
    let mut s = set(4);
    s.begin_local(1, 0, 8192).unwrap();
    s.set_net_acked(1);
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true).0, Verdict::Wait);
    s.set_local_done(1);
    assert_eq!(s.judge_peer(100, true).0, Verdict::Submit);
    assert_eq!(s.get(100).map(|e| e.kind), Some(Kind::Peer));
}

#[test]
fn resolver_with_no_overlap_submits() {
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    s.insert_peer(100, 8, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true), (Verdict::Submit, None));
}

#[test]
fn parked_local_writes_do_not_block_peer_writes_and_wait_for_them() {
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    assert_eq!(s.begin_local(2, 0, 4096), Ok(Start::Parked));
    s.remove(1);
    // Before the parked one is woken a peer write to the same range arrives: it goes first
    // (the parked one was never sent) and the parked one then waits for it.
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true).0, Verdict::Submit);
    assert_eq!(s.next_ready(), None);
    s.remove(100);
    assert_eq!(s.next_ready(), Some(2));
}

#[test]
fn a_peer_write_blocks_new_overlapping_local_writes_while_it_is_judged() {
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    s.set_net_acked(1);
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true).0, Verdict::Wait);
    assert_eq!(s.begin_local(2, 0, 512), Ok(Start::Parked));
}

#[test]
fn other_node_waits_for_the_verdict_on_its_own_write() {
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    s.insert_peer(100, 0, 8192).unwrap();
    let (v, a) = s.judge_peer(100, false);
    assert_eq!(v, Verdict::Wait);
    assert_eq!(a.unwrap().assumed_local_first, None);
    // Postponed, but still being written here: wait.
    s.set_postponed(1);
    assert_eq!(s.judge_peer(100, false).0, Verdict::Wait);
    // Postponed and done here: the peer write goes, and restarts ours after its ack.
    s.set_local_done(1);
    assert_eq!(s.judge_peer(100, false).0, Verdict::Submit);
    assert!(s.get(100).unwrap().restart);
    let mut r = vec![];
    s.restartable(0, 8192, |id| r.push(id));
    assert_eq!(r, vec![1]);
}

#[test]
fn other_node_writes_the_peer_write_once_its_own_was_superseded_and_is_done() {
    // Superseded writes complete (and leave the set) once they are done locally.
    let mut s = set(4);
    s.begin_local(1, 0, 4096).unwrap();
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(100, false).0, Verdict::Wait);
    s.remove(1);
    assert_eq!(s.judge_peer(100, false).0, Verdict::Submit);
    assert!(!s.get(100).unwrap().restart);
}

#[test]
fn an_earlier_peer_write_goes_first() {
    let mut s = set(4);
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(100, true).0, Verdict::Submit);
    s.insert_peer(101, 0, 4096).unwrap();
    assert_eq!(s.judge_peer(101, true).0, Verdict::Wait);
    assert_eq!(s.judge_peer(101, false).0, Verdict::Wait);
    s.remove(100);
    assert_eq!(s.judge_peer(101, true).0, Verdict::Submit);
}

#[test]
fn restartable_names_only_postponed_writes_done_here() {
    let mut s = set(8);
    s.begin_local(1, 0, 4096).unwrap();
    s.begin_local(2, 8, 4096).unwrap();
    s.begin_local(3, 16, 4096).unwrap();
    s.set_postponed(1);
    s.set_local_done(1);
    s.set_postponed(2); // not done locally
    s.set_local_done(3); // not postponed
    let mut r = vec![];
    s.restartable(0, 12288, |id| r.push(id));
    assert_eq!(r, vec![1]);
    let mut p = vec![];
    s.postponed(|id| p.push(id));
    assert_eq!(p, vec![1, 2]);
}

#[test]
fn drop_peer_entries_unblocks_local_writes() {
    let mut s = set(4);
    s.insert_peer(100, 0, 4096).unwrap();
    assert_eq!(s.begin_local(1, 0, 4096), Ok(Start::Parked));
    assert_eq!(s.drop_peer_entries(), 1);
    assert_eq!(s.next_ready(), Some(1));
    assert_eq!(s.len(), 1);
}

/// A random operation on a set, for the property test.
#[derive(Clone, Debug)]
enum Op {
    Local { sector: u64, sectors: u32 },
    Peer { sector: u64, sectors: u32, resolver: bool },
    Remove(usize),
    Done(usize),
    Acked(usize),
    Postpone(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..64, 1u32..16).prop_map(|(sector, sectors)| Op::Local { sector, sectors }),
        (0u64..64, 1u32..16, any::<bool>())
            .prop_map(|(sector, sectors, resolver)| Op::Peer { sector, sectors, resolver }),
        (0usize..16).prop_map(Op::Remove),
        (0usize..16).prop_map(Op::Done),
        (0usize..16).prop_map(Op::Acked),
        (0usize..16).prop_map(Op::Postpone),
    ]
}

proptest! {
    /// Whatever happens, no two local writes in flight overlap, a woken parked write never
    /// overlaps anything in flight, and the count of used slots is right.
    #[test]
    fn local_writes_in_flight_never_overlap(ops in proptest::collection::vec(op(), 1..200)) {
        let mut s = set(16);
        let mut next_id = 1u64;
        for o in ops {
            let ids: Vec<u64> = s.entries().map(|e| e.id).collect();
            let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
            match o {
                Op::Local { sector, sectors } => {
                    let _ = s.begin_local(next_id, sector, sectors * 512);
                    next_id += 1;
                }
                Op::Peer { sector, sectors, resolver } => {
                    if s.insert_peer(next_id, sector, sectors * 512).is_ok() {
                        let (v, _) = s.judge_peer(next_id, resolver);
                        if v == Verdict::Wait {
                            // A waiting peer write is dropped again (its session ended).
                            s.remove(next_id);
                        }
                    }
                    next_id += 1;
                }
                Op::Remove(i) => { if let Some(id) = pick(i) { s.remove(id); } }
                Op::Done(i) => { if let Some(id) = pick(i) { s.set_local_done(id); } }
                Op::Acked(i) => { if let Some(id) = pick(i) { s.set_net_acked(id); } }
                Op::Postpone(i) => { if let Some(id) = pick(i) { s.set_postponed(id); } }
            }
            while let Some(id) = s.next_ready() {
                let e = *s.get(id).unwrap();
                for o in s.entries() {
                    if o.id != id && matches!(o.kind, Kind::Local | Kind::Peer) {
                        prop_assert!(!o.overlaps(e.sector, e.bytes), "woken {:?} overlaps {:?}", e, o);
                    }
                }
            }
            let locals: Vec<Entry> = s.entries().filter(|e| e.kind == Kind::Local).copied().collect();
            for (i, a) in locals.iter().enumerate() {
                for b in &locals[i + 1..] {
                    prop_assert!(!a.overlaps(b.sector, b.bytes), "{:?} and {:?} in flight", a, b);
                }
            }
            prop_assert_eq!(s.len(), s.entries().count());
        }
    }
}
