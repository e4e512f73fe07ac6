// SPDX-License-Identifier: GPL-2.0

//! Plain `P_BITMAP` words: the little-endian layout of one word and encoding and merging a packet's
//! worth of them ([`encode_plain_words`], [`merge_plain_words`]).

use super::bitmap_access::{bm_words, BitSink, BitSource};
use super::low_mask;

/// A bitmap word as the 8 bytes a `P_BITMAP` carries (little-endian: the C module copies its
/// little-endian in-memory words, `drbd_bm_get_lel`).
pub fn plain_word_to_wire(word: u64) -> [u8; 8] {
    word.to_le_bytes()
}

/// The bitmap word in 8 bytes of a `P_BITMAP`.
pub fn plain_word_from_wire(bytes: [u8; 8]) -> u64 {
    u64::from_le_bytes(bytes)
}

/// Writes words `first_word ..` of `src` into `out` in the `P_BITMAP` layout, as many as fit
/// and exist; returns the number of words written.
pub fn encode_plain_words(src: &impl BitSource, first_word: u64, out: &mut [u8]) -> u64 {
    let total = bm_words(src.bit_count());
    let mut n = 0u64;
    for chunk in out.chunks_exact_mut(8) {
        let index = first_word.saturating_add(n);
        if index >= total {
            break;
        }
        chunk.copy_from_slice(&plain_word_to_wire(src.word(index)));
        n += 1;
    }
    n
}

/// ORs the words of a `P_BITMAP` payload into `sink` from word `first_word` on
/// (`drbd_bm_merge_lel`), clearing surplus bits of the bitmap's last word; words at or beyond
/// `bm_words(bm_bits)` and a trailing partial word are ignored. Returns the words merged.
pub fn merge_plain_words(
    payload: &[u8],
    first_word: u64,
    bm_bits: u64,
    sink: &mut (impl BitSink + ?Sized),
) -> u64 {
    let total = bm_words(bm_bits);
    let mut n = 0u64;
    for chunk in payload.chunks_exact(8) {
        let index = first_word.saturating_add(n);
        if index >= total {
            break;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        let mut word = plain_word_from_wire(b);
        let first_bit = index * 64;
        if bm_bits - first_bit < 64 {
            word &= low_mask(u32::try_from(bm_bits - first_bit).unwrap_or(64));
        }
        sink.or_word(index, word);
        n += 1;
    }
    n
}
