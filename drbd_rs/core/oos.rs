// SPDX-License-Identifier: GPL-2.0

//! The out-of-sync bitmap in memory: one bit per 4 KiB block of the device (`BM_BLOCK_SIZE`),
//! set while the block may differ between the two nodes, and the resync planning over it.
//!
//! Pure code on `&[u64]` / `&mut [u64]` word slices (the driver owns the storage, a `kvmalloc`
//! area). Bit `n` is bit `n % 64` of little-endian word `n / 64`, as the C module keeps it and
//! as `P_BITMAP` carries it, so the words can be sent as they are.
//!
//! Marking out of sync rounds outwards (a partly written block is out of sync); marking in
//! sync rounds inwards (only fully covered blocks are known equal), as the C module's
//! `drbd_set_out_of_sync` / `drbd_set_in_sync` do.

/// Bytes per bit (`BM_BLOCK_SIZE`).
pub const BM_BLOCK_SIZE: u64 = 4096;
/// Sectors per bit.
pub const BM_SECT_PER_BIT: u64 = BM_BLOCK_SIZE >> 9;

/// Bits needed for a device of `sectors` sectors (a partial last block has a bit).
pub const fn bits_for_sectors(sectors: u64) -> u64 {
    sectors.div_ceil(BM_SECT_PER_BIT)
}

/// 64-bit words needed for `bits` bits.
pub const fn words_for_bits(bits: u64) -> u64 {
    bits.div_ceil(64)
}

/// The bits a write of `bytes` at `sector` touches, as an inclusive range, or `None` for an
/// empty write.
pub fn touched_bits(sector: u64, bytes: u32) -> Option<(u64, u64)> {
    if bytes == 0 {
        return None;
    }
    let end = sector.checked_add(u64::from(bytes).div_ceil(512))? - 1;
    Some((sector / BM_SECT_PER_BIT, end / BM_SECT_PER_BIT))
}

/// The bits fully covered by `bytes` at `sector`, as an inclusive range, or `None` if no block
/// is fully covered.
pub fn covered_bits(sector: u64, bytes: u32) -> Option<(u64, u64)> {
    let end = sector.checked_add(u64::from(bytes) >> 9)?; // exclusive
    let first = sector.div_ceil(BM_SECT_PER_BIT);
    let last_excl = end / BM_SECT_PER_BIT;
    if last_excl <= first {
        return None;
    }
    Some((first, last_excl - 1))
}

/// Like [`covered_bits`], but a range that reaches the device's end (`capacity` sectors) also
/// covers the partial last block (`drbd_set_in_sync` rounds the last bit up there), so a
/// resync of a device whose size is not a multiple of 4 KiB can clear every bit.
pub fn covered_bits_in(sector: u64, bytes: u32, capacity: u64) -> Option<(u64, u64)> {
    let end = sector.checked_add(u64::from(bytes) >> 9)?;
    if capacity > 0 && end >= capacity && sector < capacity {
        let first = sector.div_ceil(BM_SECT_PER_BIT);
        let last = (capacity - 1) / BM_SECT_PER_BIT;
        return (first <= last).then_some((first, last));
    }
    covered_bits(sector, bytes)
}

/// Whether bit `bit` is set; bits beyond the slice read as clear.
pub fn test_bit(words: &[u64], bit: u64) -> bool {
    let Ok(w) = usize::try_from(bit / 64) else {
        return false;
    };
    words.get(w).is_some_and(|&x| x & (1u64 << (bit % 64)) != 0)
}

/// Sets (`set = true`) or clears bits `first..=last`, limited to the first `nbits` bits (bits
/// beyond the device are never touched). Returns how many bits changed.
pub fn change_bits(words: &mut [u64], nbits: u64, first: u64, last: u64, set: bool) -> u64 {
    if nbits == 0 || first >= nbits {
        return 0;
    }
    let last = last.min(nbits - 1);
    let mut changed = 0u64;
    let mut bit = first;
    while bit <= last {
        let Ok(wi) = usize::try_from(bit / 64) else {
            break;
        };
        let Some(word) = words.get_mut(wi) else {
            break;
        };
        let lo = bit % 64;
        let hi = if last / 64 == bit / 64 { last % 64 } else { 63 };
        let mask = if hi - lo == 63 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo + 1)) - 1) << lo
        };
        let old = *word;
        *word = if set { old | mask } else { old & !mask };
        changed += u64::from((old ^ *word).count_ones());
        bit = (bit / 64 + 1) * 64;
    }
    changed
}

/// Number of set bits among the first `nbits`.
pub fn weight(words: &[u64], nbits: u64) -> u64 {
    let mut n = 0u64;
    for (i, &w) in words.iter().enumerate() {
        let base = i as u64 * 64;
        if base >= nbits {
            break;
        }
        let w = if nbits - base < 64 {
            w & ((1u64 << (nbits - base)) - 1)
        } else {
            w
        };
        n += u64::from(w.count_ones());
    }
    n
}

/// The first set bit at or after `from` among the first `nbits`, if any.
pub fn next_set(words: &[u64], nbits: u64, from: u64) -> Option<u64> {
    let mut bit = from;
    while bit < nbits {
        let wi = usize::try_from(bit / 64).ok()?;
        let w = *words.get(wi)? >> (bit % 64);
        if w != 0 {
            let found = bit + u64::from(w.trailing_zeros());
            return (found < nbits).then_some(found);
        }
        bit = (bit / 64 + 1) * 64;
    }
    None
}

/// One resync request: `bytes` at `sector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResyncRequest {
    /// First sector (block aligned).
    pub sector: u64,
    /// Bytes (a multiple of 512; a whole number of blocks except at the device's end).
    pub bytes: u32,
}

/// Plans the next resync request at or after bit `from`: the run of set bits starting at the
/// first set bit, at most `max_bytes` long (a multiple of [`BM_BLOCK_SIZE`], at least one
/// block), cut at the device's end (`capacity` sectors). Returns the request and the bit after
/// it, or `None` when no bit is set from `from` on.
pub fn plan_request(
    words: &[u64],
    nbits: u64,
    capacity: u64,
    from: u64,
    max_bytes: u32,
) -> Option<(ResyncRequest, u64)> {
    let first = next_set(words, nbits, from)?;
    let max_bits = (u64::from(max_bytes) / BM_BLOCK_SIZE).max(1);
    let mut end = first + 1;
    while end < nbits && end - first < max_bits && test_bit(words, end) {
        end += 1;
    }
    let sector = first * BM_SECT_PER_BIT;
    let end_sector = (end * BM_SECT_PER_BIT).min(capacity);
    if end_sector <= sector {
        return None;
    }
    let bytes = u32::try_from((end_sector - sector) * 512).ok()?;
    Some((ResyncRequest { sector, bytes }, end))
}
