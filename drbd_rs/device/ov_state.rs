// SPDX-License-Identifier: GPL-2.0

//! A device's online-verify and checksum-resync progress (`Device::ov`), kept with the device
//! so status readers see it; the verify and resync engines (`sync/`) drive it.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// Verify and checksum-resync bookkeeping of one device (the C module's `ov_*` and
/// `rs_same_csum` fields). Atomics only: the receiver, the ack receiver, the request thread
/// and status readers each touch their own fields.
pub(crate) struct OvState {
    /// A verify runs (set at its start, cleared by the one that finishes or aborts it).
    pub(crate) active: AtomicBool,
    /// Where the next verify starts (`ov_start_sector`; `u64::MAX` on VerifyT until the first
    /// request tells), and where it stops (`ov_stop_sector`).
    pub(crate) start_sector: AtomicU64,
    pub(crate) stop_sector: AtomicU64,
    /// VerifyS: the next sector to ask for.
    pub(crate) position: AtomicU64,
    /// Blocks to verify in all, and blocks not verified yet (`rs_total`, `ov_left`).
    pub(crate) total: AtomicU64,
    pub(crate) left: AtomicU64,
    pub(crate) start_ms: AtomicU64,
    /// The run of out-of-sync sectors found last (`ov_last_oos_start`, `ov_last_oos_size`).
    pub(crate) last_oos_start: AtomicU64,
    pub(crate) last_oos_size: AtomicU64,
    /// Sectors answered since the request thread last looked (`rs_sect_in`).
    pub(crate) sect_in: AtomicU32,
    /// Checksum resync: this resync uses checksums (`use_csums`), and blocks found equal
    /// (`rs_same_csum`).
    pub(crate) use_csums: AtomicBool,
    pub(crate) same_csum: AtomicU64,
}

impl OvState {
    /// Nothing running.
    pub(crate) const fn new() -> OvState {
        OvState {
            active: AtomicBool::new(false),
            start_sector: AtomicU64::new(0),
            stop_sector: AtomicU64::new(u64::MAX),
            position: AtomicU64::new(0),
            total: AtomicU64::new(0),
            left: AtomicU64::new(0),
            start_ms: AtomicU64::new(0),
            last_oos_start: AtomicU64::new(0),
            last_oos_size: AtomicU64::new(0),
            sect_in: AtomicU32::new(0),
            use_csums: AtomicBool::new(false),
            same_csum: AtomicU64::new(0),
        }
    }

    /// Verify progress for `/proc/drbd` and status: (blocks in all, blocks left).
    pub(crate) fn progress(&self) -> (u64, u64) {
        (self.total.load(Ordering::Relaxed), self.left.load(Ordering::Relaxed))
    }

    /// `drbd_resync_finished`'s checksum line, if this resync used checksums.
    pub(crate) fn log_csums(&self, minor: u32, total: u64) {
        if !self.use_csums.load(Ordering::Relaxed) || total == 0 {
            return;
        }
        let same = self.same_csum.load(Ordering::Relaxed).min(total);
        let ratio = crate::drbd_core::ov::csums_ratio(same, total);
        pr_info!(
            "drbd{}: {} % had equal checksums, eliminated: {}K; transferred {}K total {}K\n",
            minor,
            ratio,
            same * 4,
            (total - same) * 4,
            total * 4
        );
    }

    /// `ov_out_of_sync_print`.
    pub(crate) fn print_oos(&self, minor: u32) {
        let size = self.last_oos_size.swap(0, Ordering::Relaxed);
        if size != 0 {
            pr_err!(
                "drbd{}: Out of sync: start={}, size={} (sectors)\n",
                minor,
                self.last_oos_start.load(Ordering::Relaxed),
                size
            );
        }
    }

    /// One verified block fewer; returns the blocks left.
    pub(crate) fn one_done(&self) -> u64 {
        let prev = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_sub(1)))
            .unwrap_or(0);
        prev.saturating_sub(1)
    }
}
