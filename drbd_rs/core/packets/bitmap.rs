// SPDX-License-Identifier: GPL-2.0

//! Bitmap exchange: the size rules of a plain `P_BITMAP` and the first byte of a
//! `P_COMPRESSED_BITMAP` ([`CompressedBitmapHeader`]); the RLE/VLI code itself is
//! [`bitmap_codec`](super::super::bitmap_codec)'s.

use super::command_table::bitmap_max_size;
use super::constants::RLE_VLI_BITS;
use super::cursor::{Reader, Writer};
use super::error::PacketError;

/// Checks a plain `P_BITMAP` payload: whole 64-bit little-endian words (`unsigned long` of a
/// 64-bit sender), within one 4 KiB buffer. Returns the number of words. The receiver also
/// requires exactly [`plain_bitmap_expected_len`] bytes.
pub fn plain_bitmap_words(payload_len: usize, agreed_protocol: u32) -> Result<usize, PacketError> {
    let max = bitmap_max_size(agreed_protocol);
    if payload_len > max {
        return Err(PacketError::TooLong {
            max,
            got: payload_len,
        });
    }
    if !payload_len.is_multiple_of(8) {
        return Err(PacketError::BitmapNotWords(payload_len));
    }
    Ok(payload_len / 8)
}

/// The exact size of the next plain `P_BITMAP` when `remaining_words` words of the bitmap have
/// not been received (`receive_bitmap_plain`): as many words as fit one buffer, 0 at the end.
pub fn plain_bitmap_expected_len(remaining_words: usize, agreed_protocol: u32) -> usize {
    (bitmap_max_size(agreed_protocol) / 8).min(remaining_words) * 8
}

/// The first byte of `p_compressed_bm` (`P_COMPRESSED_BITMAP`): low nibble the encoding (only
/// [`RLE_VLI_BITS`]), bits 4..=6 the number of padding bits at the end of the bit stream, bit 7
/// whether the first run is of set bits. The RLE/VLI code follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressedBitmapHeader {
    /// Encoding, low nibble.
    pub code: u8,
    /// Trailing padding bits of the last code byte, 0..=7.
    pub pad_bits: u8,
    /// The first run length counts set bits.
    pub start_set: bool,
}

impl CompressedBitmapHeader {
    /// Size of the header byte.
    pub const SIZE: usize = 1;

    /// An RLE_VLI_Bits header.
    pub fn new(start_set: bool, pad_bits: u8) -> Self {
        CompressedBitmapHeader {
            code: RLE_VLI_BITS,
            pad_bits: pad_bits & 7,
            start_set,
        }
    }

    /// The encoding byte.
    pub fn encoding(&self) -> u8 {
        (self.code & 0x0f) | ((self.pad_bits & 7) << 4) | if self.start_set { 0x80 } else { 0 }
    }

    /// Encodes the header byte; returns 1. The code bytes follow.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u8(self.encoding());
        Ok(w.done())
    }

    /// Decodes the header of a whole `P_COMPRESSED_BITMAP` payload (`receive_bitmap`): more than
    /// the header byte, at most one 4 KiB buffer with its packet header, RLE_VLI_Bits encoding.
    /// The code bytes are `&payload[1..]`.
    pub fn decode(payload: &[u8], agreed_protocol: u32) -> Result<Self, PacketError> {
        let max = bitmap_max_size(agreed_protocol);
        if payload.len() > max {
            return Err(PacketError::TooLong {
                max,
                got: payload.len(),
            });
        }
        if payload.len() <= Self::SIZE {
            return Err(PacketError::TooShort {
                min: Self::SIZE + 1,
                got: payload.len(),
            });
        }
        let e = Reader::new(payload).u8()?;
        let h = CompressedBitmapHeader {
            code: e & 0x0f,
            pad_bits: (e >> 4) & 7,
            start_set: e & 0x80 != 0,
        };
        if h.code != RLE_VLI_BITS {
            return Err(PacketError::UnknownBitmapEncoding(e));
        }
        Ok(h)
    }
}
