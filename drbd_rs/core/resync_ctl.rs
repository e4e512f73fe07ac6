// SPDX-License-Identifier: GPL-2.0

//! How much a SyncTarget asks for (DRBD 8.4's `drbd_rs_number_requests` and the dynamic
//! resync controller `drbd_rs_controller`): every 100 ms step the target decides how many
//! 4 KiB blocks to request.
//!
//! With `c-plan-ahead` 0 the rate is fixed at `resync-rate`. Otherwise a controller keeps
//! `c-fill-target` sectors in flight (or, with a fill target of 0, as much as arrives in
//! `c-delay-target`), spreading each correction over the next `c-plan-ahead` steps, and never
//! asks for more than `c-max-rate`. In both modes no more than half of `max-buffers` may be in
//! flight, so the SyncSource never stalls for lack of buffers.
//!
//! Pure code (only `core`), so `cargo test` checks it against the C arithmetic.

/// Length of one step (`SLEEP_TIME`, `HZ / 10`), ms.
pub const STEP_MS: u32 = 100;
/// Largest `c-plan-ahead` (0.1 s units), the longest plan.
pub const PLAN_AHEAD_MAX: usize = 300;
/// Sectors per bitmap block (4 KiB).
const SECT_PER_BLOCK: i64 = 8;

/// The resync settings of `disk_conf` (as `P_SYNC_PARAM` carries them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `resync-rate`, KiB/s (fixed mode).
    pub resync_rate: u32,
    /// `c-plan-ahead`, 0.1 s (0: fixed mode).
    pub c_plan_ahead: u32,
    /// `c-delay-target`, 0.1 s.
    pub c_delay_target: u32,
    /// `c-fill-target`, sectors.
    pub c_fill_target: u32,
    /// `c-max-rate`, KiB/s.
    pub c_max_rate: u32,
}

/// The controller's plan (`struct fifo_buffer` `rs_plan_s` and its running total).
#[derive(Clone, Debug)]
pub struct Controller {
    plan: [i64; PLAN_AHEAD_MAX],
    steps: usize,
    head: usize,
    total: i64,
    /// Sectors requested and not yet answered (`rs_in_flight`).
    in_flight: i64,
}

impl Controller {
    /// A controller for `settings` at the start of a resync.
    pub fn new(settings: &Settings) -> Controller {
        Controller {
            plan: [0; PLAN_AHEAD_MAX],
            steps: (settings.c_plan_ahead as usize).min(PLAN_AHEAD_MAX),
            head: 0,
            total: 0,
            in_flight: 0,
        }
    }

    /// Sectors requested and not yet answered.
    pub fn in_flight(&self) -> i64 {
        self.in_flight
    }

    /// Records `sectors` just requested.
    pub fn requested(&mut self, sectors: u32) {
        self.in_flight += i64::from(sectors);
    }

    /// `drbd_rs_controller`: sectors to request in this step, given `sect_in` sectors answered
    /// since the last one.
    fn controller(&mut self, s: &Settings, sect_in: i64) -> i64 {
        let steps = self.steps as i64;
        let want = if self.in_flight + sect_in == 0 {
            // The start of a resync: ask for twice the resync rate's worth, over the plan.
            (i64::from(s.resync_rate) * 2 * i64::from(STEP_MS) / 1000) * steps
        } else if s.c_fill_target != 0 {
            i64::from(s.c_fill_target)
        } else {
            sect_in * i64::from(s.c_delay_target) * 1000 / (i64::from(STEP_MS) * 10)
        };
        let correction = want - self.in_flight - self.total;
        // Plan ahead: spread the correction over every step of the plan.
        let cps = correction / steps;
        for v in self.plan[..self.steps].iter_mut() {
            *v += cps;
        }
        self.total += cps * steps;
        // What this step does: the oldest planned value, replaced by 0 at the far end.
        let curr_corr = self.plan[self.head];
        self.plan[self.head] = 0;
        self.head = (self.head + 1) % self.steps;
        self.total -= curr_corr;
        let req_sect = (sect_in + curr_corr).max(0);
        let max_sect = i64::from(s.c_max_rate) * 2 * i64::from(STEP_MS) / 1000;
        req_sect.min(max_sect)
    }

    /// `drbd_rs_number_requests`: 4 KiB blocks to request in this step, given `sect_in`
    /// sectors answered since the last one and the `max-buffers` setting.
    pub fn step(&mut self, s: &Settings, sect_in: u32, max_buffers: u32) -> u32 {
        let sect_in = i64::from(sect_in);
        self.in_flight = (self.in_flight - sect_in).max(0);
        let mut number = if self.steps > 0 {
            self.controller(s, sect_in) / SECT_PER_BLOCK
        } else {
            i64::from(STEP_MS) * i64::from(s.resync_rate) / (4 * 1000)
        };
        let mxb = i64::from(max_buffers / 2);
        if mxb - self.in_flight / SECT_PER_BLOCK < number {
            number = mxb - self.in_flight / SECT_PER_BLOCK;
        }
        number.clamp(0, i64::from(u32::MAX)) as u32
    }
}
