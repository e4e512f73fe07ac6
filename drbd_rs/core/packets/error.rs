// SPDX-License-Identifier: GPL-2.0

//! Why a payload was rejected, or could not be encoded ([`PacketError`]).

use super::super::wire::Command;
use super::constants::SHARED_SECRET_MAX;
use core::fmt;

/// Why a payload was rejected, or could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Encoding: `out` holds `have` bytes, the payload needs `need`.
    BufferTooSmall { need: usize, have: usize },
    /// Fewer bytes (`have`) than the fields being read (`need`).
    Truncated { need: usize, have: usize },
    /// A fixed-size payload of the wrong size.
    WrongSize { expected: usize, got: usize },
    /// Fewer bytes than the packet's minimum.
    TooShort { min: usize, got: usize },
    /// More bytes than the receiver accepts for this packet.
    TooLong { max: usize, got: usize },
    /// The command is unknown, or not one this socket (or handshake step) receives
    /// ("Unexpected data packet", "Unexpected meta packet").
    UnexpectedCommand { command: u16 },
    /// A packet without a body came with one ("No payload expected").
    NoPayloadExpected { command: u16, length: u32 },
    /// Shorter than the command's sub-header ("unexpected packet size").
    PayloadTooShort {
        command: u16,
        expected: usize,
        received: u32,
    },
    /// Longer than any valid packet of this command.
    PayloadTooLong {
        command: u16,
        max: usize,
        received: u32,
    },
    /// A block size that is zero, not a multiple of 512, or above `max`.
    BadBlockSize { size: u32, max: u32 },
    /// `sector + size` reaches beyond the device (or beyond 2^64 sectors).
    BeyondCapacity {
        sector: u64,
        size: u32,
        capacity: u64,
    },
    /// The body is shorter than the integrity digest that must precede the data.
    ShorterThanDigest { body: u32, digest: u32 },
    /// A digest length of zero or above [`MAX_DIGEST_SIZE`](super::MAX_DIGEST_SIZE).
    BadDigestLength(u32),
    /// An algorithm name field of the wrong size (the C receiver's "verify-alg of wrong size").
    BadAlgLength(usize),
    /// Encoding: an algorithm name longer than [`ALG_NAME_MAX`](super::ALG_NAME_MAX) or containing
    /// a NUL.
    BadAlgName,
    /// A `p_protocol.protocol` that is not A, B or C.
    BadWireProtocol(u32),
    /// A `p_protocol.after_sb_*` that names no after-split-brain policy.
    BadAfterSb(u32),
    /// A compressed bitmap whose encoding is not RLE_VLI_Bits (the whole encoding byte).
    UnknownBitmapEncoding(u8),
    /// A plain bitmap chunk that is not a whole number of 64-bit words.
    BitmapNotWords(usize),
    /// A `P_DATA` whose flags ask for a discard or zero-out, which travel as `P_TRIM`/`P_ZEROES`.
    DataWithDiscardFlags(u32),
    /// Encoding: no header format of the agreed protocol describes this volume and length
    /// (a payload above 64 KiB before protocol 95, a volume other than 0 before protocol 100).
    NoHeaderFormat {
        agreed_protocol: u32,
        volume: u16,
        length: u32,
    },
}

pub(super) fn cmd_name(command: u16) -> &'static str {
    Command::from_u16(command).map_or("Unknown", Command::name)
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PacketError::BufferTooSmall { need, have } => {
                write!(f, "output buffer too small: need {need}, have {have}")
            }
            PacketError::Truncated { need, have } => {
                write!(f, "packet truncated: need {need} bytes, have {have}")
            }
            PacketError::WrongSize { expected, got } => {
                write!(f, "wrong packet size: expected {expected}, received {got}")
            }
            PacketError::TooShort { min, got } => {
                write!(f, "packet too small: expected >= {min}, received {got}")
            }
            PacketError::TooLong { max, got } => {
                write!(f, "packet too long: received {got}, expected <= {max} bytes")
            }
            PacketError::UnexpectedCommand { command } => {
                write!(f, "Unexpected packet {} (0x{command:04x})", cmd_name(command))
            }
            PacketError::NoPayloadExpected { command, length } => {
                write!(f, "No payload expected {} l:{length}", cmd_name(command))
            }
            PacketError::PayloadTooShort { command, expected, received } => write!(
                f,
                "{}: unexpected packet size, expected:{expected} received:{received}",
                cmd_name(command)
            ),
            PacketError::PayloadTooLong { command, max, received } => write!(
                f,
                "{}: packet too long, expected <= {max} received:{received}",
                cmd_name(command)
            ),
            PacketError::BadBlockSize { size, max } => {
                write!(f, "bad block size {size} (must be 512..={max}, a multiple of 512)")
            }
            PacketError::BeyondCapacity { sector, size, capacity } => write!(
                f,
                "request from peer beyond end of local disk: capacity: {capacity}s < sector: {sector}s + size: {size}"
            ),
            PacketError::ShorterThanDigest { body, digest } => {
                write!(f, "Invalid data size {body}, shorter than the {digest} byte digest")
            }
            PacketError::BadDigestLength(len) => write!(f, "bad digest length {len}"),
            PacketError::BadAlgLength(len) => write!(
                f,
                "verify-alg of wrong size, peer wants {len}, accepting only up to {SHARED_SECRET_MAX} byte"
            ),
            PacketError::BadAlgName => write!(f, "algorithm name too long or contains NUL"),
            PacketError::BadWireProtocol(p) => write!(f, "invalid wire protocol {p}"),
            PacketError::BadAfterSb(v) => write!(f, "invalid after-sb policy {v}"),
            PacketError::UnknownBitmapEncoding(e) => {
                write!(f, "receive_bitmap_c: unknown encoding {e}")
            }
            PacketError::BitmapNotWords(len) => {
                write!(f, "bitmap packet of {len} bytes is not a whole number of words")
            }
            PacketError::DataWithDiscardFlags(flags) => {
                write!(f, "Data packet with discard/zeroes flags 0x{flags:x}")
            }
            PacketError::NoHeaderFormat { agreed_protocol, volume, length } => write!(
                f,
                "no header of protocol {agreed_protocol} carries volume {volume}, length {length}"
            ),
        }
    }
}
