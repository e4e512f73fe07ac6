//! The SyncTarget's request controller against the C module's arithmetic.

use drbd_core::resync_ctl::*;
use proptest::prelude::*;

const DEFAULTS: Settings = Settings {
    resync_rate: 250,
    c_plan_ahead: 20,
    c_delay_target: 10,
    c_fill_target: 100,
    c_max_rate: 102_400,
};

#[test]
fn fixed_rate_is_resync_rate_per_step() {
    let s = Settings { c_plan_ahead: 0, ..DEFAULTS };
    let mut c = Controller::new(&s);
    // 250 KiB/s = 25 KiB per 100 ms = 6 blocks of 4 KiB (C: rate / 40, truncated).
    assert_eq!(c.step(&s, 0, 2048), 6);
    let s = Settings { c_plan_ahead: 0, resync_rate: 4000, ..DEFAULTS };
    assert_eq!(c.step(&s, 0, 2048), 100);
}

#[test]
fn dynamic_start_plans_twice_the_rate_over_the_plan() {
    let mut c = Controller::new(&DEFAULTS);
    // want = 250 * 2 / 10 * 20 = 1000 sectors, spread over 20 steps: 50 sectors now.
    assert_eq!(c.step(&DEFAULTS, 0, 2048), 50 / 8);
}

#[test]
fn dynamic_keeps_the_fill_target_in_flight() {
    let mut c = Controller::new(&DEFAULTS);
    let mut sect_in = 0;
    let mut in_flight: u32 = 0;
    // A peer that answers each step's requests in the next step: what is requested per step
    // settles near the fill target (less the part below a whole 4 KiB block, as in C).
    for i in 0..200 {
        let n = c.step(&DEFAULTS, sect_in, 2048);
        sect_in = in_flight;
        in_flight = n * 8;
        c.requested(n * 8);
        if i >= 150 {
            assert!((32..=128).contains(&in_flight), "step {i}: in flight {in_flight}");
        }
    }
}

#[test]
fn max_buffers_bounds_what_is_in_flight() {
    let s = Settings { c_plan_ahead: 0, resync_rate: 1_000_000, ..DEFAULTS };
    let mut c = Controller::new(&s);
    let n = c.step(&s, 0, 64);
    assert_eq!(n, 32);
    c.requested(n * 8);
    assert_eq!(c.step(&s, 0, 64), 0, "nothing answered, half of max-buffers in flight");
    assert_eq!(c.step(&s, 64, 64), 8);
}

proptest! {
    #[test]
    fn never_above_c_max_rate(max_rate in 1u32..200_000, plan in 1u32..300, fill in 0u32..10_000,
                              answers in prop::collection::vec(0u32..20_000, 1..100)) {
        let s = Settings { c_max_rate: max_rate, c_plan_ahead: plan, c_fill_target: fill, ..DEFAULTS };
        let mut c = Controller::new(&s);
        for a in answers {
            let n = c.step(&s, a, 1_000_000);
            // c-max-rate KiB/s for 100 ms, in 4 KiB blocks.
            prop_assert!(u64::from(n) * 8 <= u64::from(max_rate) / 5);
            c.requested(n * 8);
        }
    }
}
