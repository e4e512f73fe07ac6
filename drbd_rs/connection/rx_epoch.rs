// SPDX-License-Identifier: GPL-2.0

//! The receive side's epoch bookkeeping of a session: the peer writes of the current epoch
//! in flight, their pages and their sector ranges (held in [`super::Session::rx`]).

use kernel::prelude::*;

/// Peer writes of the current receive epoch.
#[derive(Default)]
pub(crate) struct RxEpoch {
    /// Submitted and not yet completed (acked).
    pub(crate) inflight: u32,
    /// Pages held by writes and reads in flight (bounded by `max-buffers`).
    pub(crate) pages: u32,
    /// Reads the peer asked for (`P_DATA_REQUEST`, `P_RS_DATA_REQUEST`) submitted and not yet
    /// answered: the session's cleanup waits for them as for the writes.
    pub(crate) reads: u32,
    /// Writes received in this epoch (`P_BARRIER_ACK`'s `set_size`).
    pub(crate) writes: u32,
    /// Sectors (volume, first, end) of peer writes (data and resync) in flight: a new one
    /// overlapping them waits, so the disk sees them in the order the peer sent them, and a
    /// resync read waits for them (`overlapping_resync_write` and the resync interlock).
    pub(crate) ranges: KVec<(u16, u64, u64)>,
}

impl RxEpoch {
    /// Whether a peer write in flight overlaps `sectors` at `sector` of volume `vnr`.
    pub(crate) fn overlaps(&self, vnr: u16, sector: u64, sectors: u64) -> bool {
        let end = sector.saturating_add(sectors);
        self.ranges
            .iter()
            .any(|&(v, a, b)| v == vnr && a < end && sector < b)
    }

    /// Removes the range of a completed peer write.
    pub(crate) fn remove_range(&mut self, vnr: u16, sector: u64) {
        if let Some(i) = self.ranges.iter().position(|&(v, a, _)| v == vnr && a == sector) {
            let _ = self.ranges.remove(i);
        }
    }
}
