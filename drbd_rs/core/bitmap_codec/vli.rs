// SPDX-License-Identifier: GPL-2.0

//! The variable-length integers of the compressed code (`drbd_vli.h`, [`vli_encode`],
//! [`vli_decode`]) and the little-endian bit streams they are written to and read from
//! ([`BitWriter`], [`BitReader`]).

use super::{low_byte, low_mask, u64_of, usize_of, CodecError, VliError};

/// One level of the prefix code (`drbd_vli.h`): a prefix of `prefix_bits` bits with value
/// `prefix` (read least significant bit first), followed by `data_bits` bits holding the value
/// minus the level's base. Levels are tried shortest first; each level's base is one more than
/// the largest value of the level before.
struct VliLevel {
    prefix_bits: u32,
    prefix: u64,
    data_bits: u32,
}

/// The documented code table, with prefixes written in stream order (first bit leftmost):
///
/// ```text
/// prefix    data bits   largest value
/// 0         1           0x2
/// 10        1           0x4
/// 110       2           0x8
/// 1110      3           0x10
/// 11110     5           0x30
/// 111110    8           0x130
/// 11111100  13          0x2130
/// 11111110  21          0x202130
/// 11111101  34          0x400202130
/// 11111111  56          0x100000400202130
/// ```
///
/// The data bit counts follow the Fibonacci sequence except the last (56, to fill 64 bits); the
/// shortest code, 2 bits, covers runs of 1 and 2.
const VLI_LEVELS: [VliLevel; 10] = [
    VliLevel {
        prefix_bits: 1,
        prefix: 0b0,
        data_bits: 1,
    },
    VliLevel {
        prefix_bits: 2,
        prefix: 0b01,
        data_bits: 1,
    },
    VliLevel {
        prefix_bits: 3,
        prefix: 0b011,
        data_bits: 2,
    },
    VliLevel {
        prefix_bits: 4,
        prefix: 0b0111,
        data_bits: 3,
    },
    VliLevel {
        prefix_bits: 5,
        prefix: 0b0_1111,
        data_bits: 5,
    },
    VliLevel {
        prefix_bits: 6,
        prefix: 0b01_1111,
        data_bits: 8,
    },
    VliLevel {
        prefix_bits: 8,
        prefix: 0b0011_1111,
        data_bits: 13,
    },
    VliLevel {
        prefix_bits: 8,
        prefix: 0b0111_1111,
        data_bits: 21,
    },
    VliLevel {
        prefix_bits: 8,
        prefix: 0b1011_1111,
        data_bits: 34,
    },
    VliLevel {
        prefix_bits: 8,
        prefix: 0b1111_1111,
        data_bits: 56,
    },
];

/// Smallest value of each level.
const VLI_BASES: [u64; 10] = vli_bases();

const fn vli_bases() -> [u64; 10] {
    let mut bases = [0u64; 10];
    let mut base = 1u64;
    let mut i = 0;
    while i < VLI_LEVELS.len() {
        bases[i] = base;
        base += 1u64 << VLI_LEVELS[i].data_bits;
        i += 1;
    }
    bases
}

/// A code word: its bits (first bit of the stream in bit 0) and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VliCode {
    /// The code, least significant bit first on the wire.
    pub code: u64,
    /// Its length in bits (2 ..= 64).
    pub bits: u32,
}

/// The code word for `value` (1 ..= [`VLI_MAX`](super::VLI_MAX)).
pub fn vli_encode(value: u64) -> Result<VliCode, VliError> {
    if value == 0 {
        return Err(VliError::Zero);
    }
    for (level, &base) in VLI_LEVELS.iter().zip(VLI_BASES.iter()) {
        let offset = value - base;
        if offset <= low_mask(level.data_bits) {
            return Ok(VliCode {
                code: (offset << level.prefix_bits) | level.prefix,
                bits: level.prefix_bits + level.data_bits,
            });
        }
    }
    Err(VliError::TooLarge(value))
}

/// Decodes the code word at the start (least significant bits) of `lookahead`, returning the
/// value and the word's length. Every bit pattern starts with some valid prefix, so this cannot
/// fail; whether the word's bits were all really there is for the caller to check against the
/// returned length (bits beyond the end of the stream read as 0).
pub fn vli_decode(lookahead: u64) -> (u64, u32) {
    for (level, &base) in VLI_LEVELS.iter().zip(VLI_BASES.iter()) {
        if lookahead & low_mask(level.prefix_bits) == level.prefix {
            let data = (lookahead >> level.prefix_bits) & low_mask(level.data_bits);
            return (data + base, level.prefix_bits + level.data_bits);
        }
    }
    // The last level's prefix is all ones, and every shorter all-ones pattern is a prefix of
    // it, so the loop always returns; this line only satisfies the type checker.
    (0, 64)
}

/// Writes a little-endian bit stream into a byte buffer (`struct bitstream` for output).
pub struct BitWriter<'a> {
    buf: &'a mut [u8],
    bit: u64,
}

impl<'a> BitWriter<'a> {
    /// A writer at the start of `buf`, which it zeroes (the writer ORs bits in, and the
    /// padding after the last bit must read as zero).
    pub fn new(buf: &'a mut [u8]) -> BitWriter<'a> {
        buf.fill(0);
        BitWriter { buf, bit: 0 }
    }

    /// Appends the low `bits` bits of `val` (`bitstream_put_bits`). If they do not fit, the
    /// stream is left unchanged and `BufferFull` returned.
    pub fn put(&mut self, val: u64, bits: u32) -> Result<(), CodecError> {
        if bits > 64 {
            return Err(CodecError::TooWide { bits });
        }
        let capacity = u64_of(self.buf.len()).saturating_mul(8);
        match self.bit.checked_add(u64::from(bits)) {
            Some(end) if end <= capacity => {}
            _ => return Err(CodecError::BufferFull { bits }),
        }
        let mut v = val & low_mask(bits);
        let mut left = bits;
        while left > 0 {
            let off = u32::try_from(self.bit % 8).unwrap_or(0);
            let take = (8 - off).min(left);
            let chunk = (v & low_mask(take)) << off;
            if let Some(b) = usize_of(self.bit / 8).and_then(|i| self.buf.get_mut(i)) {
                *b |= low_byte(chunk);
            }
            v >>= take;
            left -= take;
            self.bit += u64::from(take);
        }
        Ok(())
    }

    /// Bits written so far.
    pub fn bits(&self) -> u64 {
        self.bit
    }

    /// Bytes the written bits occupy (the last one possibly partly).
    pub fn bytes(&self) -> usize {
        usize_of(self.bit.div_ceil(8)).unwrap_or(usize::MAX)
    }

    /// Unused bits at the end of the last byte (0 ..= 7).
    pub fn pad_bits(&self) -> u8 {
        u8::try_from((8 - self.bit % 8) % 8).unwrap_or(0)
    }
}

/// Reads a little-endian bit stream whose last `pad_bits` bits are padding.
pub struct BitReader<'a> {
    buf: &'a [u8],
    pos: u64,
    end: u64,
}

impl<'a> BitReader<'a> {
    /// A reader of `buf` without its last `pad_bits` bits; `BadPadBits` if `pad_bits` is above
    /// 7 or more than `buf` holds.
    pub fn new(buf: &'a [u8], pad_bits: u8) -> Result<BitReader<'a>, CodecError> {
        let total = u64_of(buf.len()).saturating_mul(8);
        if pad_bits > 7 || u64::from(pad_bits) > total {
            return Err(CodecError::BadPadBits { pad_bits });
        }
        Ok(BitReader {
            buf,
            pos: 0,
            end: total - u64::from(pad_bits),
        })
    }

    /// Bits not yet consumed.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// Bits consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Up to 64 bits from the current position, without consuming them, and how many of them
    /// are real: bits beyond the end (padding included) read as 0.
    pub fn peek(&self) -> (u64, u32) {
        let avail = u32::try_from(self.remaining().min(64)).unwrap_or(64);
        if avail == 0 {
            return (0, 0);
        }
        let first = usize_of(self.pos / 8).unwrap_or(usize::MAX);
        let off = u32::try_from(self.pos % 8).unwrap_or(0);
        let mut lo = [0u8; 8];
        for (i, b) in lo.iter_mut().enumerate() {
            if let Some(v) = first.checked_add(i).and_then(|j| self.buf.get(j)) {
                *b = *v;
            }
        }
        let mut v = u64::from_le_bytes(lo) >> off;
        if off > 0 {
            if let Some(hi) = first.checked_add(8).and_then(|j| self.buf.get(j)) {
                v |= u64::from(*hi) << (64 - off);
            }
        }
        (v & low_mask(avail), avail)
    }

    /// Consumes `bits` bits (at most [`BitReader::remaining`]).
    pub fn advance(&mut self, bits: u32) {
        self.pos = self.pos.saturating_add(u64::from(bits)).min(self.end);
    }

    /// Reads exactly `bits` (≤ 64) bits, or fails with `TruncatedCode` leaving the reader
    /// unchanged.
    pub fn get(&mut self, bits: u32) -> Result<u64, CodecError> {
        if bits > 64 {
            return Err(CodecError::TooWide { bits });
        }
        let (v, avail) = self.peek();
        if avail < bits {
            return Err(CodecError::TruncatedCode {
                at_bit: self.pos,
                need: bits,
                have: avail,
            });
        }
        self.advance(bits);
        Ok(v & low_mask(bits))
    }
}
