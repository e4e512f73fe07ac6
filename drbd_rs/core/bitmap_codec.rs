// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 bitmap exchange: the `P_COMPRESSED_BITMAP` run-length + variable-length-integer
//! code, the plain `P_BITMAP` word layout, and the packet-by-packet flow that decides between
//! them (`fill_bitmap_rle_bits`, `send_bitmap_rle_or_plain`, `receive_bitmap_plain`,
//! `recv_bm_rle_bits` in the C module).
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where property tests and fuzzers exercise it. Decoders take bytes from a
//! peer that may be hostile: they check everything, never panic, and only ever touch bits below
//! the bitmap's bit count.
//!
//! # Bitmap bits
//!
//! Bit `n` of the bitmap is bit `n % 64` of 64-bit word `n / 64`. On the wire a plain
//! `P_BITMAP` carries whole words as little-endian u64 (the C module's "lel" layout, the same as
//! its in-memory and on-disk bitmap), so bit `n` is bit `n % 8` of byte `n / 8` of the word
//! stream. The bitmap has `bm_bits` bits and `bm_words = ceil(bm_bits / 64)` words; bits of the
//! last word at or above `bm_bits` (surplus bits) are always clear.
//!
//! # The compressed code
//!
//! `p_compressed_bm` is one encoding byte followed by the code. The encoding byte holds the
//! code type in bits 0-3 (only `RLE_VLI_Bits` = 2 exists), the number of padding bits at the end
//! of the last code byte in bits 4-6, and in bit 7 whether the first run is of set bits. The code
//! is a little-endian bit stream (least significant bit of each byte first) of run lengths,
//! alternating between clear and set runs, each a variable-length integer ([`vli_encode`]).
//! Runs are never empty, so 0 has no code. Each packet starts afresh at the receiver's current
//! bit offset, which both sides track in a [`XferCtx`].
//!
//! A chunk is sent compressed only if its code is not longer than the bits it covers;
//! otherwise the sender falls back to plain words, starting at the 64-bit word that holds the
//! chunk's first bit. Both sides compute how many plain words a packet holds from the socket
//! buffer size and header size, and the receiver insists on exactly that size.

use core::fmt;

// `DRBD_SOCKET_BUFFER_SIZE` (a bitmap packet, header included, never exceeds it) and
// `RLE_VLI_Bits` (the only compressed-bitmap code) are defined with the packet layouts.
pub use super::packets::{DRBD_SOCKET_BUFFER_SIZE, RLE_VLI_BITS};

/// Encoding byte: code type (`dcbp_get_code`).
pub const DCBP_CODE_MASK: u8 = 0x0f;
/// Encoding byte: shift of the pad-bit count (`dcbp_get_pad_bits`).
pub const DCBP_PAD_SHIFT: u32 = 4;
/// Encoding byte: pad-bit count, after shifting.
pub const DCBP_PAD_MASK: u8 = 0x07;
/// Encoding byte: the first run is of set bits (`dcbp_get_start`).
pub const DCBP_START: u8 = 0x80;

/// The largest run length the code can express (`2^56 + 0x400202130`).
pub const VLI_MAX: u64 = 0x0100_0004_0020_2130;

/// Protocol version from which the C module may send `P_COMPRESSED_BITMAP` (and requires the
/// `use-rle` net option).
pub const RLE_MIN_PROTOCOL: u32 = 90;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a value has no variable-length code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VliError {
    /// Zero: runs are never empty, so the code has no word for 0.
    Zero,
    /// Larger than [`VLI_MAX`].
    TooLarge(u64),
}

/// Why encoding, decoding or a bitmap transfer step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// A [`BitWriter`] has no room for `bits` more bits.
    BufferFull {
        /// Bits that did not fit.
        bits: u32,
    },
    /// More than 64 bits asked for in one go.
    TooWide {
        /// Bits asked for.
        bits: u32,
    },
    /// The bitmap changed under the encoder: a run of length 0 at `at` (the C module logs
    /// "unexpected zero runlength while encoding bitmap" and fails the transfer).
    ZeroRun {
        /// Bit offset.
        at: u64,
    },
    /// A run longer than [`VLI_MAX`] (impossible for any real bitmap).
    RunTooLong {
        /// Run length.
        len: u64,
    },
    /// The encoder was asked to start at or beyond the end of the bitmap.
    NothingToEncode,
    /// A compressed packet with no code byte ("ReportCBitmap packet too small").
    PacketTooSmall {
        /// Payload length.
        len: usize,
    },
    /// A compressed packet bigger than a socket buffer allows ("ReportCBitmap packet too
    /// large").
    PacketTooLarge {
        /// Payload length.
        len: usize,
        /// Largest allowed.
        max: usize,
    },
    /// An encoding byte whose code type is not `RLE_VLI_Bits` ("receive_bitmap_c: unknown
    /// encoding %u").
    UnknownEncoding(u8),
    /// A pad-bit count above 7, or one that leaves no code bit.
    BadPadBits {
        /// The count.
        pad_bits: u8,
    },
    /// Padding bits that are not zero. The C receiver does not look at them, but the C sender
    /// always zeroes its buffer first, so only a broken or hostile peer sends them.
    NonZeroPadding {
        /// The last code byte.
        byte: u8,
    },
    /// The code ends in the middle of a code word ("bitmap decoding error").
    TruncatedCode {
        /// Bit position in the code where the word starts.
        at_bit: u64,
        /// Bits the word needs.
        need: u32,
        /// Bits left.
        have: u32,
    },
    /// A run reaches beyond the end of the bitmap ("bitmap overflow ... while decoding bm RLE
    /// packet"). The C receiver only checks set runs; a clear run past the end is refused here
    /// too, as no correct sender produces one.
    RunPastEnd {
        /// First bit of the run.
        start: u64,
        /// Run length.
        len: u64,
        /// Bits in the bitmap.
        bm_bits: u64,
    },
    /// Decoding was asked to start beyond the end of the bitmap.
    StartPastEnd {
        /// Start bit.
        start: u64,
        /// Bits in the bitmap.
        bm_bits: u64,
    },
    /// The bitmap storage holds fewer bits than the bit count claims.
    BitmapTooSmall {
        /// Claimed bit count.
        bm_bits: u64,
        /// Bits the storage holds.
        capacity: u64,
    },
    /// A sender step got a bitmap of another size than the transfer was set up for.
    BitCountMismatch {
        /// The transfer's `bm_bits`.
        expected: u64,
        /// The bitmap's bit count.
        got: u64,
    },
    /// A plain packet whose size is not what the receiver expects ("want (%u) != size (%u)").
    PlainSizeMismatch {
        /// Expected payload size.
        want: usize,
        /// Received payload size.
        got: usize,
    },
    /// A header size that leaves no room in a socket buffer.
    BadHeaderSize(usize),
    /// The output buffer is smaller than a packet may be.
    OutputTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Small helpers (no truncating casts)
// ---------------------------------------------------------------------------------------------

fn u64_of(x: usize) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

fn usize_of(x: u64) -> Option<usize> {
    usize::try_from(x).ok()
}

fn low_byte(x: u64) -> u8 {
    x.to_le_bytes()[0]
}

/// Mask of the low `bits` bits (`bits` ≤ 64).
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// C's conversion of an `unsigned long` result to `unsigned int` (statistics only).
fn trunc32(x: u64) -> u32 {
    u32::try_from(x & 0xffff_ffff).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Variable-length integers
// ---------------------------------------------------------------------------------------------

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

/// The code word for `value` (1 ..= [`VLI_MAX`]).
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

// ---------------------------------------------------------------------------------------------
// Bit streams
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Bitmap access
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Encoding byte
// ---------------------------------------------------------------------------------------------

/// The encoding byte of `p_compressed_bm`, split into its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dcbp {
    /// Code type (bits 0-3); only [`RLE_VLI_BITS`] is defined.
    pub code: u8,
    /// Padding bits at the end of the code (bits 4-6).
    pub pad_bits: u8,
    /// The first run is of set bits (bit 7).
    pub first_set: bool,
}

impl Dcbp {
    /// Splits an encoding byte. Every byte splits; the code type is checked by the decoder.
    pub fn parse(byte: u8) -> Dcbp {
        Dcbp {
            code: byte & DCBP_CODE_MASK,
            pad_bits: (byte >> DCBP_PAD_SHIFT) & DCBP_PAD_MASK,
            first_set: byte & DCBP_START != 0,
        }
    }

    /// The encoding byte (out-of-range fields are masked, as they cannot occur here).
    pub fn to_byte(self) -> u8 {
        (self.code & DCBP_CODE_MASK)
            | ((self.pad_bits & DCBP_PAD_MASK) << DCBP_PAD_SHIFT)
            | if self.first_set { DCBP_START } else { 0 }
    }
}

// ---------------------------------------------------------------------------------------------
// RLE encoder and decoder
// ---------------------------------------------------------------------------------------------

/// One encoded chunk (the code part of a `P_COMPRESSED_BITMAP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedChunk {
    /// Code bytes written to the output.
    pub len: usize,
    /// Bitmap bits the code covers, from the start bit.
    pub bits_covered: u64,
    /// Padding bits at the end of the last code byte.
    pub pad_bits: u8,
    /// The first run is of set bits.
    pub first_toggle: bool,
}

impl EncodedChunk {
    /// The encoding byte to send before the code.
    pub fn encoding(&self) -> u8 {
        Dcbp {
            code: RLE_VLI_BITS,
            pad_bits: self.pad_bits,
            first_set: self.first_toggle,
        }
        .to_byte()
    }

    /// Whether the C module would send this chunk compressed: only if some code was produced
    /// and it is not longer, in bits, than the bitmap bits it covers (`fill_bitmap_rle_bits`'s
    /// "incompressible with this method" test). Otherwise it sends plain words instead.
    pub fn pays_off(&self) -> bool {
        self.len > 0 && self.bits_covered >= u64_of(self.len).saturating_mul(8)
    }
}

/// Run-length encodes `src` from `start_bit` into `out` (`fill_bitmap_rle_bits`), as many runs
/// as fit in `out.len()` bytes, so a packet never exceeds the size the caller allows. A run that
/// does not fit ends the chunk; the next chunk starts where this one's last run ended.
///
/// The decision whether the chunk pays off is [`EncodedChunk::pays_off`]; [`XferCtx::send_next`]
/// makes it as the C module does.
pub fn encode_rle(
    src: &impl BitSource,
    start_bit: u64,
    out: &mut [u8],
) -> Result<EncodedChunk, CodecError> {
    let bm_bits = src.bit_count();
    if start_bit >= bm_bits {
        return Err(CodecError::NothingToEncode);
    }
    let mut w = BitWriter::new(out);
    let mut offset = start_bit;
    // Polarity of the run being measured: the first run is the clear run at `start_bit`
    // unless that bit is set, in which case the empty clear run is skipped and the encoding
    // byte says the first run is set.
    let mut in_set_run = false;
    let mut first_toggle = false;
    let mut first = true;
    while offset < bm_bits {
        let next = src.find_next(offset, !in_set_run).clamp(offset, bm_bits);
        let rl = next - offset;
        if first {
            first = false;
            if rl == 0 {
                first_toggle = true;
                in_set_run = true;
                continue;
            }
        }
        if rl == 0 {
            return Err(CodecError::ZeroRun { at: offset });
        }
        let code = match vli_encode(rl) {
            Ok(c) => c,
            Err(_) => return Err(CodecError::RunTooLong { len: rl }),
        };
        if w.put(code.code, code.bits).is_err() {
            break;
        }
        in_set_run = !in_set_run;
        offset = next;
    }
    Ok(EncodedChunk {
        len: w.bytes(),
        bits_covered: offset - start_bit,
        pad_bits: w.pad_bits(),
        first_toggle,
    })
}

/// Decodes one chunk of RLE code into runs, calling `set(first, end)` for every set run, and
/// returns the bit offset after the last run. Everything is checked before `set` is first
/// called, so on error nothing was set; `set` only ever sees `start_bit <= first < end <=
/// bm_bits`.
pub fn decode_rle_runs(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bm_bits: u64,
    start_bit: u64,
    mut set: impl FnMut(u64, u64),
) -> Result<u64, CodecError> {
    let end = walk_runs(
        code,
        first_toggle,
        pad_bits,
        bm_bits,
        start_bit,
        &mut |_, _| {},
    )?;
    walk_runs(code, first_toggle, pad_bits, bm_bits, start_bit, &mut set)?;
    Ok(end)
}

fn walk_runs(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bm_bits: u64,
    start_bit: u64,
    set: &mut impl FnMut(u64, u64),
) -> Result<u64, CodecError> {
    if code.is_empty() {
        return Err(CodecError::PacketTooSmall { len: 0 });
    }
    if start_bit > bm_bits {
        return Err(CodecError::StartPastEnd {
            start: start_bit,
            bm_bits,
        });
    }
    let mut r = BitReader::new(code, pad_bits)?;
    if r.remaining() == 0 {
        return Err(CodecError::BadPadBits { pad_bits });
    }
    if pad_bits > 0 {
        let last = code.last().copied().unwrap_or(0);
        let used = 8 - u32::from(pad_bits);
        if u64::from(last) >> used != 0 {
            return Err(CodecError::NonZeroPadding { byte: last });
        }
    }
    let mut s = start_bit;
    let mut toggle = first_toggle;
    while r.remaining() > 0 {
        let (look, have) = r.peek();
        let (rl, bits) = vli_decode(look);
        if bits > have {
            return Err(CodecError::TruncatedCode {
                at_bit: r.position(),
                need: bits,
                have,
            });
        }
        r.advance(bits);
        let e = match s.checked_add(rl) {
            Some(e) if e <= bm_bits => e,
            _ => {
                return Err(CodecError::RunPastEnd {
                    start: s,
                    len: rl,
                    bm_bits,
                })
            }
        };
        if toggle {
            set(s, e);
        }
        s = e;
        toggle = !toggle;
    }
    Ok(s)
}

/// Decodes one chunk of RLE code (the bytes after the encoding byte) into `bitmap`, a bitmap
/// of `bm_bits` bits, starting at `start_bit`; set runs are ORed in. Returns the bits covered.
/// Hostile input is refused (see [`CodecError`]) without touching `bitmap`, and no bit at or
/// above `bm_bits` is ever written.
pub fn decode_rle(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bitmap: &mut [u64],
    bm_bits: u64,
    start_bit: u64,
) -> Result<u64, CodecError> {
    let capacity = bitmap.capacity_bits();
    if bm_bits > capacity {
        return Err(CodecError::BitmapTooSmall { bm_bits, capacity });
    }
    let end = decode_rle_runs(code, first_toggle, pad_bits, bm_bits, start_bit, |a, b| {
        bitmap.set_range(a, b)
    })?;
    Ok(end - start_bit)
}

// ---------------------------------------------------------------------------------------------
// Plain P_BITMAP words
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The transfer, packet by packet
// ---------------------------------------------------------------------------------------------

/// Which packet a sender step produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapPacket {
    /// `P_COMPRESSED_BITMAP` with this payload length (encoding byte included).
    Compressed {
        /// Payload bytes.
        len: usize,
    },
    /// `P_BITMAP` with this payload length (0 for the empty packet that ends a transfer whose
    /// last data went plain).
    Plain {
        /// Payload bytes.
        len: usize,
    },
}

/// Whether the transfer goes on after a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// More packets follow.
    More,
    /// That was the last packet.
    Done,
}

/// State of one bitmap transfer in one direction (`struct bm_xfer_ctx`). Sender and receiver
/// each keep one and advance it identically, so the receiver knows where each packet starts
/// and how big a plain packet must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XferCtx {
    /// Bits in the bitmap.
    pub bm_bits: u64,
    /// 64-bit words in the bitmap.
    pub bm_words: u64,
    /// Next bit to transfer.
    pub bit_offset: u64,
    /// Next word to transfer (a plain packet starts here).
    pub word_offset: u64,
    /// Packets sent or received, `[compressed, plain]` (C: `unsigned`).
    pub packets: [u32; 2],
    /// Bytes, headers included, `[compressed, plain]` (C: `unsigned`, wrapping).
    pub bytes: [u32; 2],
    buffer_size: usize,
}

impl XferCtx {
    /// A transfer of a bitmap with `bm_bits` bits through `DRBD_SOCKET_BUFFER_SIZE` buffers.
    pub fn new(bm_bits: u64) -> XferCtx {
        XferCtx::with_buffer_size(bm_bits, DRBD_SOCKET_BUFFER_SIZE)
    }

    /// Like [`XferCtx::new`] with another socket buffer size. Only for simulations and tests
    /// that want many packets from a small bitmap: a C peer always uses
    /// `DRBD_SOCKET_BUFFER_SIZE`, and both sides must use the same size.
    pub fn with_buffer_size(bm_bits: u64, buffer_size: usize) -> XferCtx {
        XferCtx {
            bm_bits,
            bm_words: bm_words(bm_bits),
            bit_offset: 0,
            word_offset: 0,
            packets: [0; 2],
            bytes: [0; 2],
            buffer_size,
        }
    }

    /// Payload bytes a packet may have after a header of `header_size` bytes.
    pub fn data_size(&self, header_size: usize) -> Result<usize, CodecError> {
        match self.buffer_size.checked_sub(header_size) {
            Some(d) if d >= 2 => Ok(d),
            _ => Err(CodecError::BadHeaderSize(header_size)),
        }
    }

    /// Words a plain packet carries at the current position: a buffer full, or what is left.
    pub fn plain_words(&self, header_size: usize) -> Result<u64, CodecError> {
        let per_packet = u64_of(self.data_size(header_size)? / 8);
        Ok(per_packet.min(self.bm_words.saturating_sub(self.word_offset)))
    }

    fn count(&mut self, plain: bool, header_size: usize, len: usize) {
        let i = usize::from(plain);
        self.packets[i] = self.packets[i].wrapping_add(1);
        let b = trunc32(u64_of(header_size).saturating_add(u64_of(len)));
        self.bytes[i] = self.bytes[i].wrapping_add(b);
    }

    fn sync_word_offset(&mut self) {
        self.word_offset = self.bit_offset / 64;
    }

    /// The next packet of a transfer (`send_bitmap_rle_or_plain`): writes its payload into
    /// `out` (at least the data size for `header_size`) and says which packet it is and whether
    /// more follow. `use_rle` is the `use-rle` net option and an agreed protocol of at least
    /// [`RLE_MIN_PROTOCOL`]. A chunk is sent compressed if it pays off, else the words from the
    /// one holding the current bit go plain; a transfer whose last data went plain ends with an
    /// empty `P_BITMAP`, as the C receiver expects.
    pub fn send_next(
        &mut self,
        src: &impl BitSource,
        use_rle: bool,
        header_size: usize,
        out: &mut [u8],
    ) -> Result<(BitmapPacket, Step), CodecError> {
        let data_size = self.data_size(header_size)?;
        let have = out.len();
        let out = out.get_mut(..data_size).ok_or(CodecError::OutputTooSmall {
            need: data_size,
            have,
        })?;
        if src.bit_count() != self.bm_bits {
            return Err(CodecError::BitCountMismatch {
                expected: self.bm_bits,
                got: src.bit_count(),
            });
        }

        if use_rle && self.bit_offset < self.bm_bits {
            let (enc, code) = out.split_at_mut(1);
            match encode_rle(src, self.bit_offset, code) {
                Ok(chunk) if chunk.pays_off() => {
                    if let Some(b) = enc.first_mut() {
                        *b = chunk.encoding();
                    }
                    self.bit_offset += chunk.bits_covered;
                    self.sync_word_offset();
                    let len = 1 + chunk.len;
                    self.count(false, header_size, len);
                    let step = if self.bit_offset >= self.bm_bits {
                        Step::Done
                    } else {
                        Step::More
                    };
                    return Ok((BitmapPacket::Compressed { len }, step));
                }
                Ok(_) | Err(CodecError::RunTooLong { .. }) => {
                    // Incompressible: go plain from the word holding the current bit.
                    self.sync_word_offset();
                    self.bit_offset = self.word_offset * 64;
                }
                Err(e) => return Err(e),
            }
        }

        let num_words = self.plain_words(header_size)?;
        let written = encode_plain_words(src, self.word_offset, out);
        let num_words = num_words.min(written);
        let len = usize_of(num_words * 8).unwrap_or(0);
        self.word_offset += num_words;
        self.bit_offset = self.word_offset.saturating_mul(64).min(self.bm_bits);
        self.count(true, header_size, len);
        let step = if len == 0 { Step::Done } else { Step::More };
        Ok((BitmapPacket::Plain { len }, step))
    }

    fn check_sink(&self, sink: &(impl BitSink + ?Sized)) -> Result<(), CodecError> {
        let capacity = sink.capacity_bits();
        if self.bm_bits > capacity {
            return Err(CodecError::BitmapTooSmall {
                bm_bits: self.bm_bits,
                capacity,
            });
        }
        Ok(())
    }

    /// Receives a `P_BITMAP` payload (`receive_bitmap_plain`): it must hold exactly
    /// [`XferCtx::plain_words`] words; the empty packet ends the transfer.
    pub fn receive_plain(
        &mut self,
        payload: &[u8],
        header_size: usize,
        sink: &mut (impl BitSink + ?Sized),
    ) -> Result<Step, CodecError> {
        self.check_sink(sink)?;
        let num_words = self.plain_words(header_size)?;
        let want = usize_of(num_words * 8).unwrap_or(usize::MAX);
        if want != payload.len() {
            return Err(CodecError::PlainSizeMismatch {
                want,
                got: payload.len(),
            });
        }
        self.count(true, header_size, payload.len());
        if want == 0 {
            return Ok(Step::Done);
        }
        merge_plain_words(payload, self.word_offset, self.bm_bits, sink);
        self.word_offset += num_words;
        self.bit_offset = self.word_offset.saturating_mul(64).min(self.bm_bits);
        Ok(Step::More)
    }

    /// Receives a `P_COMPRESSED_BITMAP` payload (encoding byte and code; `receive_bitmap` and
    /// `decode_bitmap_c`). The transfer is done when the code reaches the end of the bitmap.
    pub fn receive_compressed(
        &mut self,
        payload: &[u8],
        header_size: usize,
        sink: &mut (impl BitSink + ?Sized),
    ) -> Result<Step, CodecError> {
        self.check_sink(sink)?;
        let max = self.data_size(header_size)?;
        if payload.len() > max {
            return Err(CodecError::PacketTooLarge {
                len: payload.len(),
                max,
            });
        }
        let (enc, code) = match payload.split_first() {
            Some((e, c)) if !c.is_empty() => (*e, c),
            _ => return Err(CodecError::PacketTooSmall { len: payload.len() }),
        };
        let dcbp = Dcbp::parse(enc);
        if dcbp.code != RLE_VLI_BITS {
            return Err(CodecError::UnknownEncoding(enc));
        }
        let end = decode_rle_runs(
            code,
            dcbp.first_set,
            dcbp.pad_bits,
            self.bm_bits,
            self.bit_offset,
            |a, b| sink.set_range(a, b),
        )?;
        self.count(false, header_size, payload.len());
        self.bit_offset = end;
        self.sync_word_offset();
        Ok(if end == self.bm_bits {
            Step::Done
        } else {
            Step::More
        })
    }

    /// The statistics line the C module prints after a transfer (`INFO_bm_xfer_stats`), or
    /// `None` where it prints nothing (nothing transferred, or no gain over plain).
    /// `direction` is "send" or "receive".
    pub fn stats(&self, direction: &'static str, header_size: usize) -> Option<XferStats> {
        let data_size = u64_of(self.buffer_size.checked_sub(header_size)?);
        if data_size == 0 {
            return None;
        }
        // Like the C code, this divides a word count by a byte count; it only estimates the
        // number of headers.
        let plain = trunc32(
            u64_of(header_size)
                .saturating_mul(self.bm_words.div_ceil(data_size) + 1)
                .saturating_add(self.bm_words.saturating_mul(8)),
        );
        let total = self.bytes[0].wrapping_add(self.bytes[1]);
        if total == 0 || total >= plain {
            return None;
        }
        let r = if total > u32::MAX / 1000 {
            total / (plain / 1000).max(1)
        } else {
            1000 * total / plain
        };
        Some(XferStats {
            direction,
            plain_bytes: self.bytes[1],
            plain_packets: self.packets[1],
            rle_bytes: self.bytes[0],
            rle_packets: self.packets[0],
            total,
            saved_permille: 1000 - r.min(1000),
        })
    }
}

/// `INFO_bm_xfer_stats`'s line; `Display` prints the C text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XferStats {
    /// "send" or "receive".
    pub direction: &'static str,
    /// Bytes in plain packets.
    pub plain_bytes: u32,
    /// Plain packets.
    pub plain_packets: u32,
    /// Bytes in compressed packets.
    pub rle_bytes: u32,
    /// Compressed packets.
    pub rle_packets: u32,
    /// All bytes.
    pub total: u32,
    /// Saving against an all-plain transfer, in tenths of a percent.
    pub saved_permille: u32,
}

impl fmt::Display for XferStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bitmap stats [Bytes(packets)]: plain {}({}), RLE {}({}), total {}; compression: {}.{}%",
            self.direction,
            self.plain_bytes,
            self.plain_packets,
            self.rle_bytes,
            self.rle_packets,
            self.total,
            self.saved_permille / 10,
            self.saved_permille % 10
        )
    }
}
