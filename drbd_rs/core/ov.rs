// SPDX-License-Identifier: GPL-2.0

//! Arithmetic of online verify and checksum-based resync (DRBD 8.4's `set_ov_position`,
//! `make_ov_request`'s request size, `drbd_ov_out_of_sync_found` and the checksum ratio of
//! `drbd_resync_finished`). Pure code (only `core`), so `cargo test` checks it.

/// Sectors per bitmap block (4 KiB).
pub const SECT_PER_BIT: u64 = 8;

/// Where a VerifyS run starts and how many blocks it covers (`set_ov_position`): the start is
/// the requested sector rounded down to a block; a start beyond the last block verifies the
/// last block only. Returns (start sector, blocks). A device without blocks has nothing to do.
pub fn start_position(start_sector: u64, bm_bits: u64) -> (u64, u64) {
    if bm_bits == 0 {
        return (0, 0);
    }
    let bit = start_sector / SECT_PER_BIT;
    if bit >= bm_bits {
        ((bm_bits - 1) * SECT_PER_BIT, 1)
    } else {
        (bit * SECT_PER_BIT, bm_bits - bit)
    }
}

/// Bytes of the verify request at `sector` on a device of `capacity` sectors (4 KiB, less at
/// an oddly sized end), or `None` at or beyond the end.
pub fn request_size(sector: u64, capacity: u64) -> Option<u32> {
    if sector >= capacity {
        return None;
    }
    let left = capacity - sector;
    Some(if left < SECT_PER_BIT { (left << 9) as u32 } else { 4096 })
}

/// The run of out-of-sync sectors a verify found last (`ov_last_oos_start/size`), printed when
/// a block in sync (or the end) follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OosRun {
    /// First sector of the run.
    pub start: u64,
    /// Sectors in the run (0: none).
    pub size: u64,
}

impl OosRun {
    /// A block of `bytes` at `sector` differs: extend the run if it continues it, else start
    /// a new one (the old one is lost, as in the C module, which prints runs only when an
    /// equal block follows).
    pub fn found(&mut self, sector: u64, bytes: u32) {
        if self.start.wrapping_add(self.size) == sector {
            self.size += u64::from(bytes >> 9);
        } else {
            self.start = sector;
            self.size = u64::from(bytes >> 9);
        }
    }

    /// The run to print, if any, and forget it (`ov_out_of_sync_print`).
    pub fn take(&mut self) -> Option<(u64, u64)> {
        let r = (self.size != 0).then_some((self.start, self.size));
        self.size = 0;
        r
    }
}

/// The percentage of `same` equal blocks out of `total` (`drbd_resync_finished`, which avoids
/// overflow the same way).
pub fn csums_ratio(same: u64, total: u64) -> u64 {
    if total == 0 {
        0
    } else if total < 100_000 {
        same * 100 / total
    } else {
        same / (total / 100)
    }
}
