//! The out-of-sync bitmap: marking rounds outwards, clearing inwards, weight, and resync
//! planning, against a plain `Vec<bool>` model.

use drbd_core::oos::*;
use proptest::prelude::*;

#[test]
fn touched_and_covered_round_as_drbd_does() {
    assert_eq!(touched_bits(0, 4096), Some((0, 0)));
    assert_eq!(touched_bits(7, 512), Some((0, 0)));
    assert_eq!(touched_bits(7, 1024), Some((0, 1)));
    assert_eq!(touched_bits(0, 0), None);
    assert_eq!(covered_bits(0, 4096), Some((0, 0)));
    assert_eq!(covered_bits(1, 4096), None);
    assert_eq!(covered_bits(1, 8192), Some((1, 1)));
    assert_eq!(covered_bits(8, 3 * 4096), Some((1, 3)));
}

#[test]
fn change_bits_stays_inside_the_device() {
    let mut w = vec![0u64; 2];
    assert_eq!(change_bits(&mut w, 70, 60, 200, true), 10);
    assert_eq!(weight(&w, 70), 10);
    assert_eq!(w[1] >> 6, 0, "no bit past nbits");
    assert_eq!(change_bits(&mut w, 70, 60, 200, true), 0);
    assert_eq!(change_bits(&mut w, 70, 0, 63, false), 4);
    assert_eq!(weight(&w, 70), 6);
    assert_eq!(change_bits(&mut w, 70, 70, 80, true), 0);
}

#[test]
fn plan_cuts_at_max_and_device_end() {
    let mut w = vec![0u64; 1];
    change_bits(&mut w, 10, 2, 9, true);
    // 10 bits, capacity 75 sectors: the last block is partial (75 - 72 = 3 sectors).
    let (r, next) = plan_request(&w, 10, 75, 0, 16384).unwrap();
    assert_eq!(r, ResyncRequest { sector: 16, bytes: 16384 });
    assert_eq!(next, 6);
    let (r, next) = plan_request(&w, 10, 75, next, 1 << 20).unwrap();
    assert_eq!(r, ResyncRequest { sector: 48, bytes: (75 - 48) * 512 });
    assert_eq!(next, 10);
    assert_eq!(plan_request(&w, 10, 75, next, 1 << 20), None);
}

proptest! {
    #[test]
    fn matches_a_bool_model(nbits in 1u64..300, ops in prop::collection::vec((0u64..320, 0u64..80, any::<bool>()), 0..40)) {
        let mut w = vec![0u64; words_for_bits(nbits) as usize];
        let mut model = vec![false; nbits as usize];
        for (first, len, set) in ops {
            let last = first + len;
            let mut expect = 0;
            for b in first..=last {
                if b < nbits && model[b as usize] != set {
                    model[b as usize] = set;
                    expect += 1;
                }
            }
            prop_assert_eq!(change_bits(&mut w, nbits, first, last, set), expect);
        }
        let n = model.iter().filter(|b| **b).count() as u64;
        prop_assert_eq!(weight(&w, nbits), n);
        // Planning visits exactly the set bits, in order, in runs.
        let cap = nbits * BM_SECT_PER_BIT;
        let mut from = 0;
        let mut seen = vec![false; nbits as usize];
        while let Some((r, next)) = plan_request(&w, nbits, cap, from, 32768) {
            prop_assert!(next > from);
            prop_assert!(r.bytes as u64 <= 32768);
            for s in (r.sector..r.sector + r.bytes as u64 / 512).step_by(8) {
                let b = (s / 8) as usize;
                prop_assert!(model[b]);
                seen[b] = true;
            }
            from = next;
        }
        prop_assert_eq!(seen, model);
    }
}

#[test]
fn clearing_up_to_the_device_end_clears_the_partial_last_bit() {
    // 75 sectors: bits 0..=9, the last one covers sectors 72..75 only.
    assert_eq!(covered_bits_in(72, 3 * 512, 75), Some((9, 9)));
    assert_eq!(covered_bits_in(64, 11 * 512, 75), Some((8, 9)));
    assert_eq!(covered_bits_in(0, 8 * 512, 75), Some((0, 0)));
    assert_eq!(covered_bits_in(73, 2 * 512, 75), None);
}
