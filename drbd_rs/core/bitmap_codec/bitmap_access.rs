// SPDX-License-Identifier: GPL-2.0

//! Bitmap access: what the encoder and the plain sender read from ([`BitSource`]) and what the
//! decoders write to ([`BitSink`]), implemented over 64-bit words ([`WordBitmap`]).

use super::{low_mask, u64_of, usize_of, CodecError};

/// A bitmap the encoder and the plain sender read from. The driver implements it over its
/// paged bitmap; [`WordBitmap`] implements it over a word slice.
pub trait BitSource {
    /// Bits in the bitmap (`bm_bits`).
    fn bit_count(&self) -> u64;

    /// The first bit at or after `from` whose value is `set`, or [`BitSource::bit_count`] if
    /// there is none (`_drbd_bm_find_next` / `_drbd_bm_find_next_zero`).
    fn find_next(&self, from: u64, set: bool) -> u64;

    /// 64-bit word `index` (bit `n` of the bitmap is bit `n % 64` of word `n / 64`), with
    /// surplus bits clear; 0 beyond the end.
    fn word(&self, index: u64) -> u64;
}

/// A bitmap the decoders write to. Writes only ever set bits (the C module merges a received
/// bitmap into its own with OR).
pub trait BitSink {
    /// Bits the storage can hold; a transfer refuses to start if it is below `bm_bits`.
    fn capacity_bits(&self) -> u64;

    /// Sets bits `first .. end`. Called only with `first < end <= bm_bits`.
    fn set_range(&mut self, first: u64, end: u64);

    /// ORs `word` into 64-bit word `index`. Called only for words below `bm_words`, with
    /// surplus bits of the last word already cleared.
    fn or_word(&mut self, index: u64, word: u64);
}

impl BitSink for [u64] {
    fn capacity_bits(&self) -> u64 {
        u64_of(self.len()).saturating_mul(64)
    }

    fn set_range(&mut self, first: u64, end: u64) {
        let mut i = first;
        while i < end {
            let off = i % 64;
            let n = (64 - off).min(end - i);
            let mask = low_mask(u32::try_from(n).unwrap_or(64)) << off;
            if let Some(w) = usize_of(i / 64).and_then(|wi| self.get_mut(wi)) {
                *w |= mask;
            }
            i += n;
        }
    }

    fn or_word(&mut self, index: u64, word: u64) {
        if let Some(w) = usize_of(index).and_then(|i| self.get_mut(i)) {
            *w |= word;
        }
    }
}

/// A word slice with a bit count, as a [`BitSource`].
#[derive(Clone, Copy, Debug)]
pub struct WordBitmap<'a> {
    words: &'a [u64],
    bits: u64,
}

impl<'a> WordBitmap<'a> {
    /// `bits` bits stored in `words`; `BitmapTooSmall` if they do not fit. Surplus bits set in
    /// the last word are ignored.
    pub fn new(words: &'a [u64], bits: u64) -> Result<WordBitmap<'a>, CodecError> {
        let capacity = u64_of(words.len()).saturating_mul(64);
        if bits > capacity {
            return Err(CodecError::BitmapTooSmall {
                bm_bits: bits,
                capacity,
            });
        }
        Ok(WordBitmap { words, bits })
    }

    fn raw_word(&self, index: u64) -> u64 {
        usize_of(index)
            .and_then(|i| self.words.get(i))
            .copied()
            .unwrap_or(0)
    }
}

impl BitSource for WordBitmap<'_> {
    fn bit_count(&self) -> u64 {
        self.bits
    }

    fn find_next(&self, from: u64, set: bool) -> u64 {
        if from >= self.bits {
            return self.bits;
        }
        let flip = if set { 0 } else { u64::MAX };
        let mut wi = from / 64;
        let mut w = (self.raw_word(wi) ^ flip) & (u64::MAX << (from % 64));
        loop {
            if w != 0 {
                let at = wi * 64 + u64::from(w.trailing_zeros());
                return at.min(self.bits);
            }
            wi += 1;
            if wi.saturating_mul(64) >= self.bits {
                return self.bits;
            }
            w = self.raw_word(wi) ^ flip;
        }
    }

    fn word(&self, index: u64) -> u64 {
        let w = self.raw_word(index);
        let first = index.saturating_mul(64);
        if first >= self.bits {
            0
        } else if self.bits - first < 64 {
            w & low_mask(u32::try_from(self.bits - first).unwrap_or(64))
        } else {
            w
        }
    }
}

/// Number of 64-bit words of a bitmap of `bm_bits` bits (`drbd_bm_words`: rounded up to 64
/// bits even on 32-bit hosts, so both sides agree).
pub fn bm_words(bm_bits: u64) -> u64 {
    bm_bits.div_ceil(64)
}
