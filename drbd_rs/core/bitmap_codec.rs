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

mod bitmap_access;
mod plain;
mod rle;
mod transfer;
mod vli;

pub use bitmap_access::*;
pub use plain::*;
pub use rle::*;
pub use transfer::*;
pub use vli::*;
