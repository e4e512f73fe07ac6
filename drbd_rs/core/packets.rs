// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 packet payloads: the structs that follow the packet header ([`super::wire`]), their
//! big-endian codec, and the size and range checks the C receiver applies before it acts on one.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test`, property tests and a fuzzer exercise it. Every decoder
//! takes bytes from a peer that may be hostile, so it checks lengths before it reads and never
//! panics; arithmetic on peer numbers is checked.
//!
//! # How a receiver uses this module
//!
//! 1. [`wire::decode_header`] gives the command and the payload length.
//! 2. [`check_header`] (or [`expected_payload`] + [`PayloadRule::check`]) rejects a command that
//!    does not belong on this socket and a length the C receiver would refuse, *before* the body
//!    is read: the fixed sub-header size (`pkt_size` in the C tables), whether more may follow,
//!    and an upper bound.
//! 3. The sub-header (`PayloadRule::fixed` bytes) or, for the variable packets, the whole payload
//!    goes to the struct's `decode`, which applies the per-packet checks that do not need device
//!    state (block size alignment and bounds, string lengths, sizes per protocol version).
//! 4. What follows a sub-header (data, digest) is measured by [`split_body`]; checks that need a
//!    device (its capacity) are separate methods, e.g. [`BlockRequest::check_capacity`].
//!
//! [`decode_packet`] does steps 2-4 at once for a payload already in memory (the simulator, the
//! fuzzer); the kernel receiver, which reads a socket, uses the steps one by one.
//!
//! # Where drbd-rs is stricter than the C receiver
//!
//! A mainline sender never produces what is refused here, so interoperability is unaffected, but
//! a hostile or broken peer is stopped earlier: unknown wire protocol or after-split-brain values
//! in `P_PROTOCOL`; extra bytes after `p_protocol` below protocol 87 (the C receiver leaves them
//! in the stream); short `P_SYNC_PARAM` packets (the C receiver reads past the packet); data
//! replies that are unaligned or above `DRBD_MAX_BIO_SIZE`; digests longer than the kernel's
//! largest hash; trims of size zero; `P_DATA` carrying the discard or zero-out flags; sector
//! ranges whose end overflows 64 bits.

use core::fmt;

use super::genl::{AfterSb, DrbdState, WireProtocol};
use super::wire::{self, Command, PacketHeader};

// ------------------------------------------------------------------------------------------------
// Constants of the protocol.

/// Longest algorithm name field, including its NUL (`SHARED_SECRET_MAX`).
pub const SHARED_SECRET_MAX: usize = 64;
/// Longest algorithm name the receiver keeps: it forces a NUL into the last byte of the field.
pub const ALG_NAME_MAX: usize = SHARED_SECRET_MAX - 1;
/// Largest data block of one request (`DRBD_MAX_BIO_SIZE`, 1 MiB), for every protocol version.
pub const DRBD_MAX_BIO_SIZE: u32 = 1 << 20;
/// Largest bio a protocol 95..=99 peer accepts (`DRBD_MAX_BIO_SIZE_P95`).
pub const DRBD_MAX_BIO_SIZE_P95: u32 = 1 << 17;
/// Largest bio a peer below protocol 95 accepts: a `p_header80` packet must hold it.
pub const DRBD_MAX_SIZE_H80_PACKET: u32 = 1 << 15;
/// Largest trim / zero-out of one request (`DRBD_MAX_BATCH_BIO_SIZE`: half of the 64 activity
/// log updates of one transaction, times the 4 MiB extent = 128 MiB).
pub const DRBD_MAX_BATCH_BIO_SIZE: u32 = 64 / 2 * (1 << 22);
/// Bitmap packets must fit one 4 KiB buffer, header included (`DRBD_SOCKET_BUFFER_SIZE`).
pub const DRBD_SOCKET_BUFFER_SIZE: usize = 4096;
/// Size of the random challenge each side sends in the cram-hmac handshake (`CHALLENGE_LEN`).
pub const CHALLENGE_LEN: usize = 64;
/// Largest digest of any kernel hash (`HASH_MAX_DIGESTSIZE`); bounds integrity digests,
/// checksum-based resync digests and the auth response.
pub const MAX_DIGEST_SIZE: usize = 64;
/// Sector size: every block size and offset on the wire is a multiple of it.
pub const SECTOR_SIZE: u32 = 512;

/// `DRBD_FF_TRIM`: the peer understands `P_TRIM`.
pub const FF_TRIM: u32 = 1;
/// `DRBD_FF_THIN_RESYNC`: `P_RS_THIN_REQ` / `P_RS_DEALLOCATED` may be used.
pub const FF_THIN_RESYNC: u32 = 2;
/// `DRBD_FF_WSAME`: write-same support, and `p_sizes` carries the 24-byte `o_qlim` tail.
pub const FF_WSAME: u32 = 4;
/// `DRBD_FF_WZEROES`: `P_ZEROES` distinguishes zero-out from discard.
pub const FF_WZEROES: u32 = 8;
/// The feature flags the mainline 8.4 module advertises (`PRO_FEATURES`).
pub const PRO_FEATURES: u32 = FF_TRIM | FF_THIN_RESYNC | FF_WSAME | FF_WZEROES;

/// `DP_HARDBARRIER` (no longer used).
pub const DP_HARDBARRIER: u32 = 1;
/// `DP_RW_SYNC`: the write was `REQ_SYNC`.
pub const DP_RW_SYNC: u32 = 2;
/// `DP_MAY_SET_IN_SYNC`: sent during resync; the receiver may clear the bits on completion.
pub const DP_MAY_SET_IN_SYNC: u32 = 4;
/// `DP_UNPLUG` (no longer used).
pub const DP_UNPLUG: u32 = 8;
/// `DP_FUA`: the write was `REQ_FUA`.
pub const DP_FUA: u32 = 16;
/// `DP_FLUSH`: the write was `REQ_PREFLUSH` (a zero-length `P_DATA` is a pure flush).
pub const DP_FLUSH: u32 = 32;
/// `DP_DISCARD`: a discard (with `P_TRIM`, or with `P_ZEROES` when unmapping is allowed).
pub const DP_DISCARD: u32 = 64;
/// `DP_SEND_RECEIVE_ACK`: protocol B write, acknowledge receipt (protocol 100 and later).
pub const DP_SEND_RECEIVE_ACK: u32 = 128;
/// `DP_SEND_WRITE_ACK`: protocol C write, acknowledge completion (protocol 100 and later).
pub const DP_SEND_WRITE_ACK: u32 = 256;
/// `DP_WSAME`: a write-same request.
pub const DP_WSAME: u32 = 512;
/// `DP_ZEROES`: a zero-out (`P_ZEROES`).
pub const DP_ZEROES: u32 = 1024;

/// `CF_DISCARD_MY_DATA` in `p_protocol.conn_flags`.
pub const CF_DISCARD_MY_DATA: u32 = 1;
/// `CF_DRY_RUN` in `p_protocol.conn_flags` (connect --dry-run, protocol 92 and later).
pub const CF_DRY_RUN: u32 = 2;

/// `p_uuids` flag: the sender was configured with `--discard-my-data`.
pub const UUID_FLAG_DISCARD_MY_DATA: u64 = 1;
/// `p_uuids` flag: the sender was a primary that crashed.
pub const UUID_FLAG_CRASHED_PRIMARY: u64 = 2;
/// `p_uuids` flag: the sender's disk is about to be Inconsistent (the real disk state behind a
/// `Negotiating` in the following `P_STATE`).
pub const UUID_FLAG_INCONSISTENT: u64 = 4;
/// `p_uuids` flag: skip the initial full sync (`new-current-uuid --clear-bitmap`).
pub const UUID_FLAG_SKIP_INITIAL_SYNC: u64 = 8;

/// `DDSF_FORCED` in `p_sizes.dds_flags`: resize --assume-peer-has-space.
pub const DDSF_FORCED: u16 = 1;
/// `DDSF_NO_RESYNC` in `p_sizes.dds_flags`: do not resync the new space.
pub const DDSF_NO_RESYNC: u16 = 2;

/// `block_id` of resync requests and of acks that refer to no request (`ID_SYNCER`).
pub const ID_SYNCER: u64 = u64::MAX;
/// `block_id` of a `P_OV_RESULT` for a block found in sync (`ID_IN_SYNC`).
pub const ID_IN_SYNC: u64 = 4711;
/// `block_id` of a `P_OV_RESULT` for a block found out of sync (`ID_OUT_OF_SYNC`).
pub const ID_OUT_OF_SYNC: u64 = 4712;

/// The only bitmap encoding in use (`RLE_VLI_Bits`), low nibble of `p_compressed_bm.encoding`.
pub const RLE_VLI_BITS: u8 = 2;

/// First protocol version whose `p_protocol` carries the integrity algorithm name.
pub const PROTO_INTEGRITY_ALG: u32 = 87;
/// The one protocol version whose `P_SYNC_PARAM` carries a variable-length verify-alg.
pub const PROTO_VERIFY_ALG: u32 = 88;
/// First protocol version with fixed verify-alg and csums-alg fields (`P_SYNC_PARAM89`).
pub const PROTO_CSUMS_ALG: u32 = 89;
/// First protocol version with the resync controller fields (`p_rs_param_95`).
pub const PROTO_RS_CONTROLLER: u32 = 95;

// ------------------------------------------------------------------------------------------------
// Errors.

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
    /// A digest length of zero or above [`MAX_DIGEST_SIZE`].
    BadDigestLength(u32),
    /// An algorithm name field of the wrong size (the C receiver's "verify-alg of wrong size").
    BadAlgLength(usize),
    /// Encoding: an algorithm name longer than [`ALG_NAME_MAX`] or containing a NUL.
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

fn cmd_name(command: u16) -> &'static str {
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

// ------------------------------------------------------------------------------------------------
// Byte cursors. Lengths are checked by the callers first, the cursors check again so that no
// path can index out of bounds.

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], PacketError> {
        let have = self.buf.len();
        let end = self.pos.checked_add(n).ok_or(PacketError::Truncated {
            need: usize::MAX,
            have,
        })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(PacketError::Truncated { need: end, have })?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PacketError> {
        let have = self.buf.len();
        self.bytes(N)?
            .try_into()
            .map_err(|_| PacketError::Truncated { need: N, have })
    }

    fn u8(&mut self) -> Result<u8, PacketError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, PacketError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, PacketError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, PacketError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, PacketError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }
}

/// Reader over a payload that must be exactly `size` bytes.
fn exact(payload: &[u8], size: usize) -> Result<Reader<'_>, PacketError> {
    if payload.len() != size {
        return Err(PacketError::WrongSize {
            expected: size,
            got: payload.len(),
        });
    }
    Ok(Reader::new(payload))
}

struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Refuses up front when `out` cannot take `need` bytes, so the puts below cannot fail.
    fn new(out: &'a mut [u8], need: usize) -> Result<Self, PacketError> {
        if out.len() < need {
            return Err(PacketError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        Ok(Writer { out, pos: 0 })
    }

    fn put(&mut self, b: &[u8]) {
        let end = self.pos.saturating_add(b.len());
        if let Some(d) = self.out.get_mut(self.pos..end) {
            d.copy_from_slice(b);
        }
        self.pos = end;
    }

    fn zeros(&mut self, n: usize) {
        let end = self.pos.saturating_add(n);
        if let Some(d) = self.out.get_mut(self.pos..end) {
            d.fill(0);
        }
        self.pos = end;
    }

    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }

    fn done(self) -> usize {
        self.pos
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn len_usize(len: u32) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

// ------------------------------------------------------------------------------------------------
// Shared checks.

/// Checks a request's block size as `receive_DataRequest` does: nonzero, a multiple of 512, at
/// most `max`.
pub fn check_block_size(size: u32, max: u32) -> Result<(), PacketError> {
    if size == 0 || !size.is_multiple_of(SECTOR_SIZE) || size > max {
        return Err(PacketError::BadBlockSize { size, max });
    }
    Ok(())
}

/// Checks that `size` bytes from `sector` lie on a device of `capacity` sectors (the C
/// receiver's `sector + (size >> 9) > capacity` test). An end beyond 2^64 sectors is refused
/// too; C's unsigned sum would wrap and let it pass.
pub fn check_capacity(sector: u64, size: u32, capacity: u64) -> Result<(), PacketError> {
    match sector.checked_add(u64::from(size >> 9)) {
        Some(end) if end <= capacity => Ok(()),
        _ => Err(PacketError::BeyondCapacity {
            sector,
            size,
            capacity,
        }),
    }
}

/// The largest bio size a sender may announce in `p_sizes.max_bio_size` to a peer of the
/// agreed protocol (`drbd_send_sizes`): its own limit, capped at 1 MiB, and further at 32 KiB
/// below protocol 95 and 128 KiB below protocol 100.
pub fn sender_max_bio_size(local_max: u32, agreed_protocol: u32) -> u32 {
    let m = local_max.min(DRBD_MAX_BIO_SIZE);
    if agreed_protocol <= 94 {
        m.min(DRBD_MAX_SIZE_H80_PACKET)
    } else if agreed_protocol < 100 {
        m.min(DRBD_MAX_BIO_SIZE_P95)
    } else {
        m
    }
}

// ------------------------------------------------------------------------------------------------
// Algorithm names.

/// A crypto algorithm name as it travels in `p_protocol` and `p_rs_param_*`: at most
/// [`ALG_NAME_MAX`] bytes, no NUL. Kept as bytes: the peer's name is only ever compared with ours
/// or handed to the crypto API, and need not be UTF-8.
#[derive(Clone, Copy)]
pub struct AlgName {
    buf: [u8; ALG_NAME_MAX],
    len: u8,
}

impl AlgName {
    /// The empty name: no algorithm configured.
    pub const EMPTY: AlgName = AlgName {
        buf: [0; ALG_NAME_MAX],
        len: 0,
    };

    /// A name for sending. Refuses names the receiver would cut short or misread.
    pub fn new(name: &[u8]) -> Result<Self, PacketError> {
        if name.len() > ALG_NAME_MAX || name.contains(&0) {
            return Err(PacketError::BadAlgName);
        }
        Ok(Self::parse(name, ALG_NAME_MAX))
    }

    /// Reads a name the way the C receiver does: it keeps at most `limit` bytes of the field
    /// (it overwrites the byte after them with a NUL) and the string ends at the first NUL. A
    /// missing terminator is therefore not an error, the name is cut instead.
    fn parse(field: &[u8], limit: usize) -> Self {
        let field = field
            .get(..field.len().min(limit).min(ALG_NAME_MAX))
            .unwrap_or(&[]);
        let n = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let mut name = AlgName::EMPTY;
        if let (Some(dst), Some(src)) = (name.buf.get_mut(..n), field.get(..n)) {
            dst.copy_from_slice(src);
            name.len = u8::try_from(n).unwrap_or(0);
        }
        name
    }

    /// The name's bytes, without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    /// Whether no algorithm is named.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Length in bytes, without NUL.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Writes the name into a fixed field of [`SHARED_SECRET_MAX`] bytes, NUL padded.
    fn put_field(&self, w: &mut Writer<'_>) {
        w.put(self.as_bytes());
        w.zeros(SHARED_SECRET_MAX - self.len());
    }

    /// Writes the name and its NUL (the variable-length fields: `strlen + 1` bytes).
    fn put_string(&self, w: &mut Writer<'_>) {
        w.put(self.as_bytes());
        w.u8(0);
    }
}

impl Default for AlgName {
    fn default() -> Self {
        AlgName::EMPTY
    }
}

impl PartialEq for AlgName {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AlgName {}

impl fmt::Debug for AlgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "AlgName({s:?})"),
            None => write!(f, "AlgName({:?})", self.as_bytes()),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The per-command table.

/// Which socket, or handshake step, a command arrives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The data socket's receiver (`drbd_cmd_handler`).
    Data,
    /// The meta socket's ack receiver (`ack_receiver_tbl`); its packets have exact sizes.
    Meta,
    /// Both tables list it (`P_DELAY_PROBE`).
    Both,
    /// Read by the connection handshake, outside both tables: the first packet of each socket,
    /// the features exchange and the cram-hmac challenge/response.
    Handshake,
}

impl Channel {
    /// Whether a packet of a command whose rule says `self` may arrive where `on` listens.
    pub fn accepts_on(self, on: Channel) -> bool {
        match (self, on) {
            (Channel::Both, Channel::Data | Channel::Meta | Channel::Both) => true,
            (Channel::Data | Channel::Meta, Channel::Both) => true,
            (a, b) => a == b,
        }
    }
}

/// How long a command's payload may be, known from the header alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadRule {
    /// The sub-header the receiver reads before anything else (`pkt_size`, plus `o_qlim` for
    /// `P_SIZES` when [`FF_WSAME`] is agreed). A shorter payload is refused.
    pub fixed: usize,
    /// Whether bytes may follow the sub-header (`expect_payload`). If not, the size is exact.
    pub may_have_data: bool,
    /// The longest payload any valid packet of this command has for the agreed protocol: the
    /// C tables do not bound it, but each receive function does (or should).
    pub max: usize,
    /// Where the command is received.
    pub channel: Channel,
}

impl PayloadRule {
    const fn exact(size: usize, channel: Channel) -> Self {
        PayloadRule {
            fixed: size,
            may_have_data: false,
            max: size,
            channel,
        }
    }

    const fn var(fixed: usize, max: usize, channel: Channel) -> Self {
        PayloadRule {
            fixed,
            may_have_data: true,
            max,
            channel,
        }
    }

    /// Checks a payload length from a header of `command`, as `drbdd` and the ack receiver do
    /// before reading the body, plus the upper bound of [`PayloadRule::max`].
    pub fn check(&self, command: u16, length: u32) -> Result<(), PacketError> {
        let len = len_usize(length);
        if len > self.fixed && !self.may_have_data {
            return Err(PacketError::NoPayloadExpected { command, length });
        }
        if len < self.fixed {
            return Err(PacketError::PayloadTooShort {
                command,
                expected: self.fixed,
                received: length,
            });
        }
        if len > self.max {
            return Err(PacketError::PayloadTooLong {
                command,
                max: self.max,
                received: length,
            });
        }
        Ok(())
    }
}

/// Largest payload of a `P_SYNC_PARAM`/`P_SYNC_PARAM89` for the agreed protocol (`exp_max_sz`).
pub const fn sync_param_max_size(agreed_protocol: u32) -> usize {
    if agreed_protocol < PROTO_VERIFY_ALG {
        SyncParam::SIZE_BASE
    } else if agreed_protocol == PROTO_VERIFY_ALG {
        SyncParam::SIZE_BASE + SHARED_SECRET_MAX
    } else if agreed_protocol < PROTO_RS_CONTROLLER {
        SyncParam::SIZE_89
    } else {
        SyncParam::SIZE_95
    }
}

/// Largest bitmap packet payload: one 4 KiB buffer less the header in force.
pub const fn bitmap_max_size(agreed_protocol: u32) -> usize {
    DRBD_SOCKET_BUFFER_SIZE - wire::header_size(agreed_protocol)
}

/// The payload rule of `cmd` on a connection with the agreed protocol version and feature flags
/// (the features matter for `P_SIZES`), or `None` for a command the 8.4 receiver has no handler
/// for (`P_BECOME_SYNC_*`, `P_WSAME`).
///
/// Mirrors the C tables `drbd_cmd_handler[]` (data socket: `fixed` = `pkt_size`,
/// `may_have_data` = `expect_payload`) and `ack_receiver_tbl[]` (meta socket: exact sizes), and
/// the handshake's own checks (features: exactly 72 bytes; challenge: 64..=128 bytes).
pub fn expected_payload(
    cmd: Command,
    agreed_protocol: u32,
    agreed_features: u32,
) -> Option<PayloadRule> {
    use Channel::{Both, Data, Handshake, Meta};
    let data_max = DataHeader::SIZE + MAX_DIGEST_SIZE + len_usize(DRBD_MAX_BIO_SIZE);
    let rule = match cmd {
        Command::Data | Command::DataReply | Command::RsDataReply => {
            PayloadRule::var(DataHeader::SIZE, data_max, Data)
        }
        Command::Barrier => PayloadRule::exact(Barrier::SIZE, Data),
        Command::Bitmap | Command::CompressedBitmap => {
            PayloadRule::var(0, bitmap_max_size(agreed_protocol), Data)
        }
        Command::UnplugRemote => PayloadRule::exact(0, Data),
        Command::DataRequest | Command::RsDataRequest | Command::OvRequest | Command::RsThinReq => {
            PayloadRule::exact(BlockRequest::SIZE, Data)
        }
        Command::OvReply | Command::CsumRsRequest => PayloadRule::var(
            BlockRequest::SIZE,
            BlockRequest::SIZE + MAX_DIGEST_SIZE,
            Data,
        ),
        Command::SyncParam | Command::SyncParam89 => {
            PayloadRule::var(0, sync_param_max_size(agreed_protocol), Data)
        }
        Command::Protocol | Command::ProtocolUpdate => {
            PayloadRule::var(Protocol::SIZE, Protocol::max_size(agreed_protocol), Data)
        }
        Command::Uuids => PayloadRule::exact(Uuids::SIZE, Data),
        Command::Sizes => {
            let size = if agreed_features & FF_WSAME != 0 {
                Sizes::SIZE_WITH_QLIM
            } else {
                Sizes::SIZE
            };
            PayloadRule::exact(size, Data)
        }
        Command::State => PayloadRule::exact(State::SIZE, Data),
        Command::StateChgReq | Command::ConnStChgReq => PayloadRule::exact(ReqState::SIZE, Data),
        Command::SyncUuid => PayloadRule::exact(RsUuid::SIZE, Data),
        Command::DelayProbe => PayloadRule::exact(DelayProbe::SIZE, Both),
        Command::OutOfSync | Command::RsDeallocated => PayloadRule::exact(BlockDesc::SIZE, Data),
        Command::Trim | Command::Zeroes => PayloadRule::exact(Trim::SIZE, Data),

        Command::Ping | Command::PingAck => PayloadRule::exact(0, Meta),
        Command::RecvAck
        | Command::WriteAck
        | Command::RsWriteAck
        | Command::Superseded
        | Command::NegAck
        | Command::NegDReply
        | Command::NegRsDReply
        | Command::OvResult
        | Command::RsIsInSync
        | Command::RsCancel
        | Command::RetryWrite => PayloadRule::exact(BlockAck::SIZE, Meta),
        Command::BarrierAck => PayloadRule::exact(BarrierAck::SIZE, Meta),
        Command::StateChgReply | Command::ConnStChgReply => {
            PayloadRule::exact(ReqStateReply::SIZE, Meta)
        }

        Command::ConnectionFeatures => PayloadRule::exact(ConnectionFeatures::SIZE, Handshake),
        Command::AuthChallenge => {
            PayloadRule::var(AuthChallenge::MIN, AuthChallenge::MAX, Handshake)
        }
        Command::AuthResponse => PayloadRule::var(0, AuthResponse::MAX, Handshake),
        Command::InitialData | Command::InitialMeta => PayloadRule::exact(0, Handshake),

        Command::BecomeSyncTarget | Command::BecomeSyncSource | Command::Wsame => return None,
    };
    Some(rule)
}

/// Checks a decoded header for a receiver listening `on` a channel: the command must be known
/// and handled there, and its length must satisfy [`expected_payload`]. Returns the command and
/// its rule, so the caller knows how many sub-header bytes to read next.
pub fn check_header(
    on: Channel,
    header: &PacketHeader,
    agreed_protocol: u32,
    agreed_features: u32,
) -> Result<(Command, PayloadRule), PacketError> {
    let unexpected = PacketError::UnexpectedCommand {
        command: header.command,
    };
    let cmd = Command::from_u16(header.command).ok_or(unexpected)?;
    let rule = expected_payload(cmd, agreed_protocol, agreed_features).ok_or(unexpected)?;
    if !rule.channel.accepts_on(on) {
        return Err(unexpected);
    }
    rule.check(header.command, header.length)?;
    Ok((cmd, rule))
}

/// How the bytes after a sub-header divide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodySplit {
    /// Digest bytes first: the integrity digest of `P_DATA`-like packets, or the whole body of
    /// `P_OV_REPLY` / `P_CSUM_RS_REQUEST`.
    pub digest: u32,
    /// Data bytes after the digest.
    pub data: u32,
}

/// Divides the `body` bytes that follow `cmd`'s sub-header into digest and data, applying the
/// receiver's checks (`read_in_block`, `recv_dless_read`, `receive_DataRequest`).
///
/// `digest_size` is the size of the peer's data-integrity digest (0 without `data-integrity-alg`);
/// it precedes the data of `P_DATA`, `P_DATA_REPLY` and `P_RS_DATA_REPLY`. The data must be a
/// multiple of 512 bytes and at most [`DRBD_MAX_BIO_SIZE`]; zero bytes is valid (an empty flush).
/// `P_OV_REPLY` and `P_CSUM_RS_REQUEST` carry a digest of 1..=[`MAX_DIGEST_SIZE`] bytes. Every
/// other command has no body (trims and zero-outs carry their size in `p_trim`, no digest).
pub fn split_body(cmd: Command, body: u32, digest_size: u32) -> Result<BodySplit, PacketError> {
    match cmd {
        Command::Data | Command::DataReply | Command::RsDataReply => {
            if len_usize(digest_size) > MAX_DIGEST_SIZE {
                return Err(PacketError::BadDigestLength(digest_size));
            }
            let data = body
                .checked_sub(digest_size)
                .ok_or(PacketError::ShorterThanDigest {
                    body,
                    digest: digest_size,
                })?;
            if !data.is_multiple_of(SECTOR_SIZE) || data > DRBD_MAX_BIO_SIZE {
                return Err(PacketError::BadBlockSize {
                    size: data,
                    max: DRBD_MAX_BIO_SIZE,
                });
            }
            Ok(BodySplit {
                digest: digest_size,
                data,
            })
        }
        Command::OvReply | Command::CsumRsRequest => {
            if body == 0 || len_usize(body) > MAX_DIGEST_SIZE {
                return Err(PacketError::BadDigestLength(body));
            }
            Ok(BodySplit {
                digest: body,
                data: 0,
            })
        }
        _ if body == 0 => Ok(BodySplit { digest: 0, data: 0 }),
        _ => Err(PacketError::NoPayloadExpected {
            command: cmd as u16,
            length: body,
        }),
    }
}

// ------------------------------------------------------------------------------------------------
// The features handshake.

/// `p_connection_features`: the first packet on the data socket, sent with an 8-byte header
/// before any version is agreed. 72 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFeatures {
    /// Lowest protocol version the sender speaks.
    pub protocol_min: u32,
    /// `DRBD_FF_*` flags the sender supports.
    pub feature_flags: u32,
    /// Highest protocol version the sender speaks; 0 means "same as `protocol_min`" (very old
    /// senders).
    pub protocol_max: u32,
    /// Padding, zero when sent, ignored when received; kept so decoding loses nothing.
    pub pad: u32,
    /// Reserved for future use, same rules as `pad`.
    pub reserved: [u64; 7],
}

impl ConnectionFeatures {
    /// Payload size.
    pub const SIZE: usize = 72;

    /// The packet advertising a version range and feature flags.
    pub fn new(protocol_min: u32, protocol_max: u32, feature_flags: u32) -> Self {
        ConnectionFeatures {
            protocol_min,
            feature_flags,
            protocol_max,
            pad: 0,
            reserved: [0; 7],
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.protocol_min);
        w.u32(self.feature_flags);
        w.u32(self.protocol_max);
        w.u32(self.pad);
        for r in self.reserved {
            w.u64(r);
        }
        Ok(w.done())
    }

    /// Decodes a payload, which must be exactly 72 bytes (`drbd_do_features`). The version is
    /// not yet agreed when this packet arrives; the argument exists for uniformity.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let mut p = ConnectionFeatures {
            protocol_min: r.u32()?,
            feature_flags: r.u32()?,
            protocol_max: r.u32()?,
            pad: r.u32()?,
            reserved: [0; 7],
        };
        for slot in p.reserved.iter_mut() {
            *slot = r.u64()?;
        }
        Ok(p)
    }
}

/// What the two sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The protocol version both use from now on.
    pub protocol: u32,
    /// The `DRBD_FF_*` flags both support.
    pub features: u32,
}

impl Agreed {
    /// The second log line of a successful handshake ("Feature flags enabled on protocol level:
    /// ..."); `Display` of `Agreed` itself gives the first.
    pub fn features_line(&self) -> FeaturesLine {
        FeaturesLine(self.features)
    }
}

impl fmt::Display for Agreed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Handshake successful: Agreed network protocol version {}",
            self.protocol
        )
    }
}

/// Displays the C module's feature log line for a set of agreed feature flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeaturesLine(pub u32);

impl fmt::Display for FeaturesLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ff = self.0;
        let pick = |flag: u32, text: &'static str| if ff & flag != 0 { text } else { "" };
        // The C text's last conditional prints " none" only when no flag at all is set, and
        // only in the WRITE_ZEROES position; reproduced as is.
        let last = if ff & FF_WZEROES != 0 {
            " WRITE_ZEROES"
        } else if ff != 0 {
            ""
        } else {
            " none"
        };
        write!(
            f,
            "Feature flags enabled on protocol level: 0x{ff:x}{}{}{}{last}.",
            pick(FF_TRIM, " TRIM"),
            pick(FF_THIN_RESYNC, " THIN_RESYNC"),
            pick(FF_WSAME, " WRITE_SAME"),
        )
    }
}

/// Why the features handshake failed. `Display` gives the C module's log text; all three make
/// the C module give up on the peer (go StandAlone) rather than retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiationError {
    /// The first packet was not `P_CONNECTION_FEATURES`.
    UnexpectedPacket { command: u16 },
    /// `P_CONNECTION_FEATURES` with a payload other than 72 bytes.
    WrongLength { received: u32 },
    /// The version ranges do not overlap.
    Incompatible {
        our_min: u32,
        our_max: u32,
        peer_min: u32,
        peer_max: u32,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NegotiationError::UnexpectedPacket { command } => write!(
                f,
                "expected ConnectionFeatures packet, received: {} (0x{command:04x})",
                cmd_name(command)
            ),
            NegotiationError::WrongLength { received } => write!(
                f,
                "expected ConnectionFeatures length: {}, received: {received}",
                ConnectionFeatures::SIZE
            ),
            NegotiationError::Incompatible { our_min, our_max, peer_min, peer_max } => write!(
                f,
                "incompatible DRBD dialects: I support {our_min}-{our_max}, peer supports {peer_min}-{peer_max}"
            ),
        }
    }
}

/// Our side of the features handshake (`drbd_do_features`): the version range and feature
/// flags we advertise, and the rules to agree with a peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureNegotiation {
    /// Lowest version we speak.
    pub protocol_min: u32,
    /// Highest version we speak.
    pub protocol_max: u32,
    /// `DRBD_FF_*` flags we support.
    pub features: u32,
}

impl FeatureNegotiation {
    /// What the mainline 8.4 module advertises: protocols 86..=101, every 8.4 feature flag.
    pub const DRBD_84: FeatureNegotiation = FeatureNegotiation {
        protocol_min: wire::PRO_VERSION_MIN,
        protocol_max: wire::PRO_VERSION_MAX,
        features: PRO_FEATURES,
    };

    /// The packet we send (`drbd_send_features`).
    pub fn packet(&self) -> ConnectionFeatures {
        ConnectionFeatures::new(self.protocol_min, self.protocol_max, self.features)
    }

    /// Checks the header of the peer's first packet on the data socket.
    pub fn check_header(&self, header: &PacketHeader) -> Result<(), NegotiationError> {
        if header.command != Command::ConnectionFeatures as u16 {
            return Err(NegotiationError::UnexpectedPacket {
                command: header.command,
            });
        }
        if len_usize(header.length) != ConnectionFeatures::SIZE {
            return Err(NegotiationError::WrongLength {
                received: header.length,
            });
        }
        Ok(())
    }

    /// Agrees with the peer's `p_connection_features`: a peer maximum of 0 stands for its
    /// minimum; the ranges must overlap; the agreed version is the smaller of the two maxima and
    /// the agreed features are the flags both support. (The C module computes the minimum as a
    /// signed int, so a peer maximum of 2^31 or more yields a negative version there; the
    /// unsigned minimum here yields our maximum.)
    pub fn negotiate(&self, peer: &ConnectionFeatures) -> Result<Agreed, NegotiationError> {
        let peer_min = peer.protocol_min;
        let peer_max = if peer.protocol_max == 0 {
            peer_min
        } else {
            peer.protocol_max
        };
        if self.protocol_max < peer_min || self.protocol_min > peer_max {
            return Err(NegotiationError::Incompatible {
                our_min: self.protocol_min,
                our_max: self.protocol_max,
                peer_min,
                peer_max,
            });
        }
        Ok(Agreed {
            protocol: self.protocol_max.min(peer_max),
            features: self.features & peer.feature_flags,
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Connection parameters.

/// `p_protocol` (`P_PROTOCOL`, `P_PROTOCOL_UPDATE`): the connection's replication settings, which
/// must match the receiver's, plus (protocol 87 and later) the data-integrity algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protocol {
    /// Replication protocol, `DRBD_PROT_A/B/C` (1..=3).
    pub wire_protocol: u32,
    /// After-split-brain policy with no primary (`enum drbd_after_sb_p`).
    pub after_sb_0p: u32,
    /// ... with one primary.
    pub after_sb_1p: u32,
    /// ... with two primaries.
    pub after_sb_2p: u32,
    /// `CF_DISCARD_MY_DATA`, `CF_DRY_RUN`.
    pub conn_flags: u32,
    /// allow-two-primaries (0 or 1; compared as a number).
    pub two_primaries: u32,
    /// data-integrity-alg; empty if none, always empty below protocol 87.
    pub integrity_alg: AlgName,
}

impl Protocol {
    /// Size of the fixed part.
    pub const SIZE: usize = 24;

    /// Largest payload for the agreed protocol: the fixed part, plus up to 64 bytes of
    /// algorithm name from protocol 87 on.
    pub const fn max_size(agreed_protocol: u32) -> usize {
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            Self::SIZE + SHARED_SECRET_MAX
        } else {
            Self::SIZE
        }
    }

    /// Encoded size for the agreed protocol (the name is sent with its NUL, as C's
    /// `strlen + 1`).
    pub fn encoded_len(&self, agreed_protocol: u32) -> usize {
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            Self::SIZE + self.integrity_alg.len() + 1
        } else {
            Self::SIZE
        }
    }

    /// Encodes the payload for the agreed protocol; returns its size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len(agreed_protocol))?;
        w.u32(self.wire_protocol);
        w.u32(self.after_sb_0p);
        w.u32(self.after_sb_1p);
        w.u32(self.after_sb_2p);
        w.u32(self.conn_flags);
        w.u32(self.two_primaries);
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            self.integrity_alg.put_string(&mut w);
        }
        Ok(w.done())
    }

    /// Decodes a whole payload (`receive_protocol`): 24 bytes, then from protocol 87 on at most
    /// 64 bytes of integrity algorithm name (cut at the first NUL or after 63 bytes, as C does);
    /// below 87 nothing may follow. The wire protocol must be A, B or C and the after-sb values
    /// must name policies.
    pub fn decode(payload: &[u8], agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = Reader::new(payload);
        let mut p = Protocol {
            wire_protocol: r.u32()?,
            after_sb_0p: r.u32()?,
            after_sb_1p: r.u32()?,
            after_sb_2p: r.u32()?,
            conn_flags: r.u32()?,
            two_primaries: r.u32()?,
            integrity_alg: AlgName::EMPTY,
        };
        let rest = r.rest();
        let max = Self::max_size(agreed_protocol);
        if payload.len() > max {
            return Err(PacketError::TooLong {
                max,
                got: payload.len(),
            });
        }
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            p.integrity_alg = AlgName::parse(rest, ALG_NAME_MAX);
        }
        if WireProtocol::from_raw(p.wire_protocol).is_none() {
            return Err(PacketError::BadWireProtocol(p.wire_protocol));
        }
        for v in [p.after_sb_0p, p.after_sb_1p, p.after_sb_2p] {
            if AfterSb::from_raw(v).is_none() {
                return Err(PacketError::BadAfterSb(v));
            }
        }
        Ok(p)
    }
}

/// `p_rs_param` / `p_rs_param_89` / `p_rs_param_95` (`P_SYNC_PARAM`, `P_SYNC_PARAM89`): resync
/// settings. Which fields travel depends on the agreed protocol: the rate always; verify-alg
/// from 88 (variable length in 88, a 64-byte field from 89); csums-alg from 89; the resync
/// controller settings from 95. Fields a version does not carry decode as zero / empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncParam {
    /// resync-rate, KiB/s.
    pub resync_rate: u32,
    /// verify-alg (online verify digest).
    pub verify_alg: AlgName,
    /// csums-alg (checksum-based resync digest).
    pub csums_alg: AlgName,
    /// c-plan-ahead, 0.1 s.
    pub c_plan_ahead: u32,
    /// c-delay-target, 0.1 s.
    pub c_delay_target: u32,
    /// c-fill-target, sectors.
    pub c_fill_target: u32,
    /// c-max-rate, KiB/s.
    pub c_max_rate: u32,
}

impl SyncParam {
    /// `p_rs_param`: the rate alone.
    pub const SIZE_BASE: usize = 4;
    /// `p_rs_param_89`: rate and two 64-byte name fields.
    pub const SIZE_89: usize = 4 + 2 * SHARED_SECRET_MAX;
    /// `p_rs_param_95`: plus four controller settings.
    pub const SIZE_95: usize = Self::SIZE_89 + 16;

    /// The command the sender uses for the agreed protocol (`P_SYNC_PARAM89` from 89 on).
    pub fn command(agreed_protocol: u32) -> Command {
        if agreed_protocol >= PROTO_CSUMS_ALG {
            Command::SyncParam89
        } else {
            Command::SyncParam
        }
    }

    /// Encoded size for the agreed protocol (`send_sync_param`).
    pub fn encoded_len(&self, agreed_protocol: u32) -> usize {
        if agreed_protocol < PROTO_VERIFY_ALG {
            Self::SIZE_BASE
        } else if agreed_protocol == PROTO_VERIFY_ALG {
            Self::SIZE_BASE + self.verify_alg.len() + 1
        } else if agreed_protocol < PROTO_RS_CONTROLLER {
            Self::SIZE_89
        } else {
            Self::SIZE_95
        }
    }

    /// Encodes the payload for the agreed protocol; returns its size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len(agreed_protocol))?;
        w.u32(self.resync_rate);
        if agreed_protocol == PROTO_VERIFY_ALG {
            self.verify_alg.put_string(&mut w);
        } else if agreed_protocol >= PROTO_CSUMS_ALG {
            self.verify_alg.put_field(&mut w);
            self.csums_alg.put_field(&mut w);
            if agreed_protocol >= PROTO_RS_CONTROLLER {
                w.u32(self.c_plan_ahead);
                w.u32(self.c_delay_target);
                w.u32(self.c_fill_target);
                w.u32(self.c_max_rate);
            }
        }
        Ok(w.done())
    }

    /// Decodes a whole payload (`receive_SyncParam`). Sizes: exactly 4 bytes below protocol 88;
    /// 4 plus 1..=64 bytes of verify-alg in 88 (its last byte is forced to NUL); exactly 132
    /// bytes in 89..=94; exactly 148 from 95 on. Names are cut at the first NUL or after 63
    /// bytes, as the C receiver does.
    pub fn decode(payload: &[u8], agreed_protocol: u32) -> Result<Self, PacketError> {
        let max = sync_param_max_size(agreed_protocol);
        if payload.len() > max {
            return Err(PacketError::TooLong {
                max,
                got: payload.len(),
            });
        }
        let mut r = Reader::new(payload);
        let mut p = SyncParam {
            resync_rate: r.u32()?,
            ..SyncParam::default()
        };
        if agreed_protocol < PROTO_VERIFY_ALG {
            // Exactly the rate: the length checks above leave nothing else.
        } else if agreed_protocol == PROTO_VERIFY_ALG {
            let name = r.rest();
            if name.is_empty() || name.len() > SHARED_SECRET_MAX {
                return Err(PacketError::BadAlgLength(name.len()));
            }
            p.verify_alg = AlgName::parse(name, name.len() - 1);
        } else {
            if payload.len() != max {
                return Err(PacketError::WrongSize {
                    expected: max,
                    got: payload.len(),
                });
            }
            p.verify_alg = AlgName::parse(r.bytes(SHARED_SECRET_MAX)?, ALG_NAME_MAX);
            p.csums_alg = AlgName::parse(r.bytes(SHARED_SECRET_MAX)?, ALG_NAME_MAX);
            if agreed_protocol >= PROTO_RS_CONTROLLER {
                p.c_plan_ahead = r.u32()?;
                p.c_delay_target = r.u32()?;
                p.c_fill_target = r.u32()?;
                p.c_max_rate = r.u32()?;
            }
        }
        Ok(p)
    }

    /// This value as a receiver of the agreed protocol would see it: fields the version does
    /// not carry cleared.
    pub fn as_sent(&self, agreed_protocol: u32) -> Self {
        let mut p = *self;
        if agreed_protocol < PROTO_VERIFY_ALG {
            p.verify_alg = AlgName::EMPTY;
        }
        if agreed_protocol < PROTO_CSUMS_ALG {
            p.csums_alg = AlgName::EMPTY;
        }
        if agreed_protocol < PROTO_RS_CONTROLLER {
            p.c_plan_ahead = 0;
            p.c_delay_target = 0;
            p.c_fill_target = 0;
            p.c_max_rate = 0;
        }
        p
    }
}

// ------------------------------------------------------------------------------------------------
// Device parameters.

/// `p_uuids` (`P_UUIDS`): the generation identifiers, the bitmap weight and handshake flags.
/// 48 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uuids {
    /// `UI_CURRENT`.
    pub current: u64,
    /// `UI_BITMAP`.
    pub bitmap: u64,
    /// `UI_HISTORY_START`, `UI_HISTORY_END`.
    pub history: [u64; 2],
    /// `UI_SIZE`: number of bits set in the sender's bitmap.
    pub bits_set: u64,
    /// `UI_FLAGS`: `UUID_FLAG_*`.
    pub flags: u64,
}

impl Uuids {
    /// Payload size.
    pub const SIZE: usize = 48;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        for v in [
            self.current,
            self.bitmap,
            self.history[0],
            self.history[1],
            self.bits_set,
            self.flags,
        ] {
            w.u64(v);
        }
        Ok(w.done())
    }

    /// Decodes an exactly 48-byte payload. Any values are accepted: the UUID comparison decides.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(Uuids {
            current: r.u64()?,
            bitmap: r.u64()?,
            history: [r.u64()?, r.u64()?],
            bits_set: r.u64()?,
            flags: r.u64()?,
        })
    }

    /// The sender was configured to discard its data on split brain.
    pub fn discard_my_data(&self) -> bool {
        self.flags & UUID_FLAG_DISCARD_MY_DATA != 0
    }

    /// The sender was a crashed primary.
    pub fn crashed_primary(&self) -> bool {
        self.flags & UUID_FLAG_CRASHED_PRIMARY != 0
    }

    /// The sender's disk is Inconsistent behind its `Negotiating` state.
    pub fn inconsistent(&self) -> bool {
        self.flags & UUID_FLAG_INCONSISTENT != 0
    }

    /// The sender asks to skip the initial sync.
    pub fn skip_initial_sync(&self) -> bool {
        self.flags & UUID_FLAG_SKIP_INITIAL_SYNC != 0
    }
}

/// `o_qlim`: the sender's queue limits, appended to `p_sizes` when [`FF_WSAME`] is agreed.
/// 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueLimits {
    /// Physical block size, bytes.
    pub physical_block_size: u32,
    /// Logical block size, bytes.
    pub logical_block_size: u32,
    /// Alignment offset, bytes.
    pub alignment_offset: u32,
    /// Minimum I/O size, bytes.
    pub io_min: u32,
    /// Optimal I/O size, bytes.
    pub io_opt: u32,
    /// The backing device can discard.
    pub discard_enabled: bool,
    /// Discarded blocks read back as zeroes.
    pub discard_zeroes_data: bool,
    /// The backing device can write-same.
    pub write_same_capable: bool,
}

impl QueueLimits {
    /// Size of the tail.
    pub const SIZE: usize = 24;

    fn put(&self, w: &mut Writer<'_>) {
        w.u32(self.physical_block_size);
        w.u32(self.logical_block_size);
        w.u32(self.alignment_offset);
        w.u32(self.io_min);
        w.u32(self.io_opt);
        w.u8(u8::from(self.discard_enabled));
        w.u8(u8::from(self.discard_zeroes_data));
        w.u8(u8::from(self.write_same_capable));
        w.u8(0);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, PacketError> {
        let q = QueueLimits {
            physical_block_size: r.u32()?,
            logical_block_size: r.u32()?,
            alignment_offset: r.u32()?,
            io_min: r.u32()?,
            io_opt: r.u32()?,
            discard_enabled: r.u8()? != 0,
            discard_zeroes_data: r.u8()? != 0,
            write_same_capable: r.u8()? != 0,
        };
        r.u8()?;
        Ok(q)
    }
}

/// `p_sizes` (`P_SIZES`): the sender's disk sizes (sectors) and request limits. 32 bytes, or 56
/// with the queue limits tail when [`FF_WSAME`] is agreed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Backing device size, sectors (0 if diskless).
    pub d_size: u64,
    /// User-requested size, sectors (0 = no limit).
    pub u_size: u64,
    /// Current exported size, sectors (0 asks the peer to reply with its sizes).
    pub c_size: u64,
    /// Largest bio the sender accepts (see [`sender_max_bio_size`]); not checked on receipt,
    /// the receiver takes the minimum with its own limits.
    pub max_bio_size: u32,
    /// Unused by DRBD.
    pub queue_order_type: u16,
    /// `DDSF_*`.
    pub dds_flags: u16,
    /// The `o_qlim` tail, present exactly when [`FF_WSAME`] is agreed.
    pub qlim: Option<QueueLimits>,
}

impl Sizes {
    /// Size without the queue limits.
    pub const SIZE: usize = 32;
    /// Size with the queue limits.
    pub const SIZE_WITH_QLIM: usize = Self::SIZE + QueueLimits::SIZE;

    /// Encoded size: 56 with queue limits, else 32.
    pub fn encoded_len(&self) -> usize {
        if self.qlim.is_some() {
            Self::SIZE_WITH_QLIM
        } else {
            Self::SIZE
        }
    }

    /// Encodes the payload; returns its size. Set `qlim` exactly when [`FF_WSAME`] is agreed.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len())?;
        w.u64(self.d_size);
        w.u64(self.u_size);
        w.u64(self.c_size);
        w.u32(self.max_bio_size);
        w.u16(self.queue_order_type);
        w.u16(self.dds_flags);
        if let Some(q) = &self.qlim {
            q.put(&mut w);
        }
        Ok(w.done())
    }

    /// Decodes a payload of 32 or 56 bytes; the length says whether the queue limits are
    /// present. Use [`Sizes::decode_with_features`] to insist on the size the agreed features
    /// imply (as [`expected_payload`] already does for a receiver).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let with_qlim = match payload.len() {
            Self::SIZE => false,
            Self::SIZE_WITH_QLIM => true,
            got => {
                return Err(PacketError::WrongSize {
                    expected: Self::SIZE,
                    got,
                })
            }
        };
        let mut r = Reader::new(payload);
        Ok(Sizes {
            d_size: r.u64()?,
            u_size: r.u64()?,
            c_size: r.u64()?,
            max_bio_size: r.u32()?,
            queue_order_type: r.u16()?,
            dds_flags: r.u16()?,
            qlim: if with_qlim {
                Some(QueueLimits::get(&mut r)?)
            } else {
                None
            },
        })
    }

    /// Decodes a payload whose size must match the agreed features: 56 bytes with
    /// [`FF_WSAME`], 32 without.
    pub fn decode_with_features(
        payload: &[u8],
        agreed_protocol: u32,
        agreed_features: u32,
    ) -> Result<Self, PacketError> {
        let expected = if agreed_features & FF_WSAME != 0 {
            Self::SIZE_WITH_QLIM
        } else {
            Self::SIZE
        };
        if payload.len() != expected {
            return Err(PacketError::WrongSize {
                expected,
                got: payload.len(),
            });
        }
        Self::decode(payload, agreed_protocol)
    }
}

// ------------------------------------------------------------------------------------------------
// State.

/// `p_state` (`P_STATE`): the sender's `union drbd_state`. 4 bytes. The fields are kept raw (a
/// peer may send numbers our enums lack); bits 23..=31 are unused and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// The state word, unpacked.
    pub state: DrbdState,
}

impl State {
    /// Payload size.
    pub const SIZE: usize = 4;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.state.to_u32());
        Ok(w.done())
    }

    /// Decodes an exactly 4-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(State {
            state: DrbdState::from_u32(r.u32()?),
        })
    }
}

/// `p_req_state` (`P_STATE_CHG_REQ`, and `P_CONN_ST_CHG_REQ` from protocol 100 on): a state
/// change the peer asks us to make, as mask and value in the sender's point of view. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReqState {
    /// Which fields change (all bits of a field set).
    pub mask: DrbdState,
    /// Their new values.
    pub val: DrbdState,
}

impl ReqState {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// The command for a connection-wide request (`conn_send_state_req`).
    pub fn conn_command(agreed_protocol: u32) -> Command {
        if agreed_protocol < 100 {
            Command::StateChgReq
        } else {
            Command::ConnStChgReq
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.mask.to_u32());
        w.u32(self.val.to_u32());
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(ReqState {
            mask: DrbdState::from_u32(r.u32()?),
            val: DrbdState::from_u32(r.u32()?),
        })
    }
}

/// `p_req_state_reply` (`P_STATE_CHG_REPLY`, `P_CONN_ST_CHG_REPLY`): the peer's
/// `enum drbd_state_rv` for our request. 4 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReqStateReply {
    /// `SS_*`; positive is success.
    pub retcode: i32,
}

impl ReqStateReply {
    /// Payload size.
    pub const SIZE: usize = 4;

    /// The command for a connection-wide reply (`conn_send_sr_reply`).
    pub fn conn_command(agreed_protocol: u32) -> Command {
        if agreed_protocol < 100 {
            Command::StateChgReply
        } else {
            Command::ConnStChgReply
        }
    }

    /// Whether the peer made the change (`retcode >= SS_SUCCESS`).
    pub fn succeeded(&self) -> bool {
        self.retcode >= 1
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.i32(self.retcode);
        Ok(w.done())
    }

    /// Decodes an exactly 4-byte payload. Any code is accepted (unknown ones are failures).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(ReqStateReply { retcode: r.i32()? })
    }
}

// ------------------------------------------------------------------------------------------------
// I/O.

/// `p_data`: sub-header of `P_DATA`, `P_DATA_REPLY`, `P_RS_DATA_REPLY`. 24 bytes, followed by
/// the integrity digest (if configured) and the data ([`split_body`]).
///
/// `block_id` is the sender's request handle, which the receiver echoes; C puts a pointer there
/// in its own byte order. It is read and written big-endian here so its bytes round-trip
/// unchanged and the special `ID_*` values (sent big-endian) compare correctly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataHeader {
    /// First sector.
    pub sector: u64,
    /// Opaque request handle to echo in the ack.
    pub block_id: u64,
    /// Sequence number for conflict detection with two primaries.
    pub seq_num: u32,
    /// `DP_*`.
    pub dp_flags: u32,
}

impl DataHeader {
    /// Sub-header size.
    pub const SIZE: usize = 24;

    fn put(&self, w: &mut Writer<'_>) {
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.seq_num);
        w.u32(self.dp_flags);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, PacketError> {
        Ok(DataHeader {
            sector: r.u64()?,
            block_id: r.u64()?,
            seq_num: r.u32()?,
            dp_flags: r.u32()?,
        })
    }

    /// Encodes the sub-header; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        self.put(&mut w);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte sub-header. Measure what follows with [`split_body`].
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::get(&mut exact(payload, Self::SIZE)?)
    }

    /// Checks the flags of a `P_DATA`: a discard or zero-out travels as `P_TRIM` / `P_ZEROES`,
    /// never with a data payload.
    pub fn check_data_flags(&self) -> Result<(), PacketError> {
        if self.dp_flags & (DP_DISCARD | DP_ZEROES) != 0 {
            return Err(PacketError::DataWithDiscardFlags(self.dp_flags));
        }
        Ok(())
    }

    /// Checks that `data_len` bytes at `sector` lie on a device of `capacity` sectors.
    pub fn check_capacity(&self, data_len: u32, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.sector, data_len, capacity)
    }
}

/// `p_trim` (`P_TRIM`, `P_ZEROES`): a `p_data` plus the size of the range to discard or zero.
/// 28 bytes, nothing follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trim {
    /// The request header.
    pub data: DataHeader,
    /// Bytes to discard / zero out.
    pub size: u32,
}

impl Trim {
    /// Payload size.
    pub const SIZE: usize = 28;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        self.data.put(&mut w);
        w.u32(self.size);
        Ok(w.done())
    }

    /// Decodes an exactly 28-byte payload (`read_in_block`): the size must be a multiple of 512
    /// and at most [`DRBD_MAX_BATCH_BIO_SIZE`]; zero is refused too (C only asserts it).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let t = Trim {
            data: DataHeader::get(&mut r)?,
            size: r.u32()?,
        };
        check_block_size(t.size, DRBD_MAX_BATCH_BIO_SIZE)?;
        Ok(t)
    }

    /// Checks that the range lies on a device of `capacity` sectors.
    pub fn check_capacity(&self, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.data.sector, self.size, capacity)
    }
}

/// `p_block_req` (`P_DATA_REQUEST`, `P_RS_DATA_REQUEST`, `P_OV_REQUEST`, `P_OV_REPLY`,
/// `P_CSUM_RS_REQUEST`, `P_RS_THIN_REQ`): a request for a block. 24 bytes (the last 4 padding,
/// which C senders do not always clear, so it is ignored); `P_OV_REPLY` and
/// `P_CSUM_RS_REQUEST` append a digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockRequest {
    /// First sector.
    pub sector: u64,
    /// Opaque handle to echo (see [`DataHeader`]).
    pub block_id: u64,
    /// Bytes requested.
    pub blksize: u32,
}

impl BlockRequest {
    /// Sub-header size.
    pub const SIZE: usize = 24;

    /// Encodes the sub-header; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.blksize);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte sub-header (`receive_DataRequest`): the size must be nonzero,
    /// a multiple of 512 and at most [`DRBD_MAX_BIO_SIZE`].
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let b = BlockRequest {
            sector: r.u64()?,
            block_id: r.u64()?,
            blksize: r.u32()?,
        };
        check_block_size(b.blksize, DRBD_MAX_BIO_SIZE)?;
        Ok(b)
    }

    /// Checks that the block lies on a device of `capacity` sectors.
    pub fn check_capacity(&self, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.sector, self.blksize, capacity)
    }
}

/// `p_block_ack` (`P_RECV_ACK`, `P_WRITE_ACK`, `P_RS_WRITE_ACK`, `P_SUPERSEDED`, `P_NEG_ACK`,
/// `P_NEG_DREPLY`, `P_NEG_RS_DREPLY`, `P_OV_RESULT`, `P_RS_IS_IN_SYNC`, `P_RS_CANCEL`,
/// `P_RETRY_WRITE`; meta socket): the answer to a request. 24 bytes.
///
/// The C ack receiver does not check `blksize` (the bitmap update it feeds ignores implausible
/// sizes); [`BlockAck::plausible`] offers that test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockAck {
    /// First sector.
    pub sector: u64,
    /// Our handle, echoed, or an `ID_*` value.
    pub block_id: u64,
    /// Bytes acknowledged.
    pub blksize: u32,
    /// The peer's sequence number.
    pub seq_num: u32,
}

impl BlockAck {
    /// Payload size.
    pub const SIZE: usize = 24;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.blksize);
        w.u32(self.seq_num);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BlockAck {
            sector: r.u64()?,
            block_id: r.u64()?,
            blksize: r.u32()?,
            seq_num: r.u32()?,
        })
    }

    /// Whether `blksize` is a size the bitmap code acts on (`plausible_request_size`): nonzero,
    /// a multiple of 512, at most [`DRBD_MAX_BATCH_BIO_SIZE`].
    pub fn plausible(&self) -> bool {
        check_block_size(self.blksize, DRBD_MAX_BATCH_BIO_SIZE).is_ok()
    }
}

/// `p_block_desc` (`P_OUT_OF_SYNC`, `P_RS_DEALLOCATED`): a range. 16 bytes (the last 4
/// padding, not always cleared by C senders, ignored).
///
/// Not range-checked on decode: a zero-length `P_OUT_OF_SYNC` is an empty flush that C ignores
/// silently, and implausible sizes are ignored with a log line, not a disconnect. See
/// [`BlockDesc::out_of_sync_range`] and [`BlockDesc::check_deallocated`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockDesc {
    /// First sector.
    pub sector: u64,
    /// Bytes.
    pub blksize: u32,
}

impl BlockDesc {
    /// Payload size.
    pub const SIZE: usize = 16;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u32(self.blksize);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 16-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BlockDesc {
            sector: r.u64()?,
            blksize: r.u32()?,
        })
    }

    /// For `P_OUT_OF_SYNC` (`__drbd_change_sync`): `Ok(false)` for a zero-length range (ignore
    /// silently), `Ok(true)` for a range to mark, an error for an implausible size or a start
    /// beyond the device (which C logs and ignores). C clips an end beyond the device.
    pub fn out_of_sync_range(&self, capacity: u64) -> Result<bool, PacketError> {
        if self.blksize == 0 {
            return Ok(false);
        }
        check_block_size(self.blksize, DRBD_MAX_BATCH_BIO_SIZE)?;
        if self.sector >= capacity {
            return Err(PacketError::BeyondCapacity {
                sector: self.sector,
                size: self.blksize,
                capacity,
            });
        }
        Ok(true)
    }

    /// For `P_RS_DEALLOCATED`, the answer to one resync request: nonzero, aligned, at most
    /// [`DRBD_MAX_BIO_SIZE`], on the device. (C discards whatever range it is given.)
    pub fn check_deallocated(&self, capacity: u64) -> Result<(), PacketError> {
        check_block_size(self.blksize, DRBD_MAX_BIO_SIZE)?;
        check_capacity(self.sector, self.blksize, capacity)
    }
}

/// `p_barrier` (`P_BARRIER`): closes an epoch. 8 bytes.
///
/// `barrier` is an opaque handle the receiver echoes in `P_BARRIER_ACK`; C sends its epoch
/// number in its own byte order. Read and written big-endian here, so the bytes round-trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Barrier {
    /// The epoch handle.
    pub barrier: u32,
}

impl Barrier {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.barrier);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload; the padding is ignored.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(Barrier { barrier: r.u32()? })
    }
}

/// `p_barrier_ack` (`P_BARRIER_ACK`, meta socket): an epoch is on disk. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BarrierAck {
    /// The handle from `P_BARRIER`, echoed (see [`Barrier`]).
    pub barrier: u32,
    /// Number of writes in the epoch; must match the sender's count.
    pub set_size: u32,
}

impl BarrierAck {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.barrier);
        w.u32(self.set_size);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BarrierAck {
            barrier: r.u32()?,
            set_size: r.u32()?,
        })
    }
}

/// `p_rs_uuid` (`P_SYNC_UUID`): the sync source's new bitmap UUID. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsUuid {
    /// The UUID.
    pub uuid: u64,
}

impl RsUuid {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.uuid);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(RsUuid { uuid: r.u64()? })
    }
}

/// `p_delay_probe93` (`P_DELAY_PROBE`, either socket): obsolete; received and skipped. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DelayProbe {
    /// Matches the probes sent on the two sockets.
    pub seq_num: u32,
    /// Microseconds since the reference point.
    pub offset: u32,
}

impl DelayProbe {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.seq_num);
        w.u32(self.offset);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(DelayProbe {
            seq_num: r.u32()?,
            offset: r.u32()?,
        })
    }
}

/// A packet without payload: `P_PING`, `P_PING_ACK`, `P_UNPLUG_REMOTE`, and the first packets
/// `P_INITIAL_DATA` / `P_INITIAL_META`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Empty;

/// `P_PING`.
pub type Ping = Empty;
/// `P_PING_ACK`.
pub type PingAck = Empty;
/// `P_INITIAL_DATA`.
pub type InitialData = Empty;
/// `P_INITIAL_META`.
pub type InitialMeta = Empty;

impl Empty {
    /// Payload size.
    pub const SIZE: usize = 0;

    /// Encodes nothing; returns 0.
    pub fn encode(&self, _out: &mut [u8]) -> Result<usize, PacketError> {
        Ok(0)
    }

    /// Accepts only an empty payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        exact(payload, 0)?;
        Ok(Empty)
    }
}

// ------------------------------------------------------------------------------------------------
// Authentication.

/// `P_AUTH_CHALLENGE` payload: raw random bytes. We send [`CHALLENGE_LEN`] bytes; the C receiver
/// accepts 64..=128 ("AuthChallenge payload too small" / "too big").
#[derive(Clone, Copy)]
pub struct AuthChallenge {
    buf: [u8; AuthChallenge::MAX],
    len: u8,
}

impl AuthChallenge {
    /// Smallest accepted challenge.
    pub const MIN: usize = CHALLENGE_LEN;
    /// Largest accepted challenge.
    pub const MAX: usize = 2 * CHALLENGE_LEN;

    /// A challenge of 64..=128 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() < Self::MIN {
            return Err(PacketError::TooShort {
                min: Self::MIN,
                got: bytes.len(),
            });
        }
        if bytes.len() > Self::MAX {
            return Err(PacketError::TooLong {
                max: Self::MAX,
                got: bytes.len(),
            });
        }
        let mut c = AuthChallenge {
            buf: [0; Self::MAX],
            len: 0,
        };
        if let Some(d) = c.buf.get_mut(..bytes.len()) {
            d.copy_from_slice(bytes);
            c.len = u8::try_from(bytes.len()).unwrap_or(0);
        }
        Ok(c)
    }

    /// The challenge bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether the peer sent our own challenge back ("Peer presented the same challenge!"),
    /// which would let it answer with our own response.
    pub fn is_reflection_of(&self, ours: &[u8]) -> bool {
        match (
            self.as_bytes().get(..CHALLENGE_LEN),
            ours.get(..CHALLENGE_LEN),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.as_bytes().len())?;
        w.put(self.as_bytes());
        Ok(w.done())
    }

    /// Decodes a payload of 64..=128 bytes.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::new(payload)
    }
}

impl PartialEq for AuthChallenge {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AuthChallenge {}

impl fmt::Debug for AuthChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthChallenge({} bytes)", self.as_bytes().len())
    }
}

/// `P_AUTH_RESPONSE` payload: the HMAC of the peer's challenge. Its size is the digest size of
/// the configured cram-hmac-alg, at most [`MAX_DIGEST_SIZE`]; the receiver insists on exactly
/// that size ([`AuthResponse::decode_expecting`]).
#[derive(Clone, Copy)]
pub struct AuthResponse {
    buf: [u8; AuthResponse::MAX],
    len: u8,
}

impl AuthResponse {
    /// Largest response.
    pub const MAX: usize = MAX_DIGEST_SIZE;

    /// A response of 1..=64 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.is_empty() || bytes.len() > Self::MAX {
            return Err(PacketError::BadDigestLength(len_u32(bytes.len())));
        }
        let mut c = AuthResponse {
            buf: [0; Self::MAX],
            len: 0,
        };
        if let Some(d) = c.buf.get_mut(..bytes.len()) {
            d.copy_from_slice(bytes);
            c.len = u8::try_from(bytes.len()).unwrap_or(0);
        }
        Ok(c)
    }

    /// The response bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.as_bytes().len())?;
        w.put(self.as_bytes());
        Ok(w.done())
    }

    /// Decodes a payload of 1..=64 bytes.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::new(payload)
    }

    /// Decodes a payload that must be exactly `digest_size` bytes ("expected AuthResponse
    /// payload of wrong size").
    pub fn decode_expecting(payload: &[u8], digest_size: usize) -> Result<Self, PacketError> {
        if payload.len() != digest_size {
            return Err(PacketError::WrongSize {
                expected: digest_size,
                got: payload.len(),
            });
        }
        Self::new(payload)
    }
}

impl PartialEq for AuthResponse {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AuthResponse {}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthResponse({} bytes)", self.as_bytes().len())
    }
}

// ------------------------------------------------------------------------------------------------
// Bitmap exchange.

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

// ------------------------------------------------------------------------------------------------
// Whole packets.

/// A decoded payload of any command; borrowed parts point into the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `P_CONNECTION_FEATURES`.
    Features(ConnectionFeatures),
    /// `P_AUTH_CHALLENGE`.
    AuthChallenge(AuthChallenge),
    /// `P_AUTH_RESPONSE`.
    AuthResponse(AuthResponse),
    /// `P_PING`, `P_PING_ACK`, `P_UNPLUG_REMOTE`, `P_INITIAL_DATA`, `P_INITIAL_META`.
    Empty(Command),
    /// `P_PROTOCOL`, `P_PROTOCOL_UPDATE`.
    Protocol(Command, Protocol),
    /// `P_SYNC_PARAM`, `P_SYNC_PARAM89`.
    SyncParam(Command, SyncParam),
    /// `P_UUIDS`.
    Uuids(Uuids),
    /// `P_SIZES`.
    Sizes(Sizes),
    /// `P_STATE`.
    State(State),
    /// `P_STATE_CHG_REQ`, `P_CONN_ST_CHG_REQ`.
    ReqState(Command, ReqState),
    /// `P_STATE_CHG_REPLY`, `P_CONN_ST_CHG_REPLY`.
    ReqStateReply(Command, ReqStateReply),
    /// `P_SYNC_UUID`.
    RsUuid(RsUuid),
    /// `P_DATA`, `P_DATA_REPLY`, `P_RS_DATA_REPLY`.
    Data {
        command: Command,
        header: DataHeader,
        digest: &'a [u8],
        data: &'a [u8],
    },
    /// `P_TRIM`, `P_ZEROES`.
    Trim(Command, Trim),
    /// `P_DATA_REQUEST`, `P_RS_DATA_REQUEST`, `P_OV_REQUEST`, `P_RS_THIN_REQ` (no digest),
    /// `P_OV_REPLY`, `P_CSUM_RS_REQUEST` (with digest).
    BlockRequest {
        command: Command,
        request: BlockRequest,
        digest: &'a [u8],
    },
    /// The acks of the meta socket.
    BlockAck(Command, BlockAck),
    /// `P_OUT_OF_SYNC`, `P_RS_DEALLOCATED`.
    BlockDesc(Command, BlockDesc),
    /// `P_BARRIER`.
    Barrier(Barrier),
    /// `P_BARRIER_ACK`.
    BarrierAck(BarrierAck),
    /// `P_DELAY_PROBE`.
    DelayProbe(DelayProbe),
    /// `P_BITMAP`: little-endian 64-bit words.
    Bitmap(&'a [u8]),
    /// `P_COMPRESSED_BITMAP`: header and code bytes.
    CompressedBitmap(CompressedBitmapHeader, &'a [u8]),
}

/// Decodes a whole payload of `cmd` held in memory: checks the length against
/// [`expected_payload`], decodes the sub-header with the struct's decoder, and divides any body
/// with [`split_body`] (`digest_size`: the peer's integrity digest size, 0 if none). Checks
/// needing a device (capacity) are left to the caller.
pub fn decode_packet(
    cmd: Command,
    payload: &[u8],
    agreed_protocol: u32,
    agreed_features: u32,
    digest_size: u32,
) -> Result<Packet<'_>, PacketError> {
    let command = cmd as u16;
    let rule = expected_payload(cmd, agreed_protocol, agreed_features)
        .ok_or(PacketError::UnexpectedCommand { command })?;
    let length = u32::try_from(payload.len()).map_err(|_| PacketError::TooLong {
        max: rule.max,
        got: payload.len(),
    })?;
    rule.check(command, length)?;
    let sub = payload.get(..rule.fixed).unwrap_or(&[]);
    let body = payload.get(rule.fixed..).unwrap_or(&[]);
    let ap = agreed_protocol;
    let p = match cmd {
        Command::ConnectionFeatures => Packet::Features(ConnectionFeatures::decode(payload, ap)?),
        Command::AuthChallenge => Packet::AuthChallenge(AuthChallenge::decode(payload, ap)?),
        Command::AuthResponse => Packet::AuthResponse(AuthResponse::decode(payload, ap)?),
        Command::Ping
        | Command::PingAck
        | Command::UnplugRemote
        | Command::InitialData
        | Command::InitialMeta => {
            Empty::decode(payload, ap)?;
            Packet::Empty(cmd)
        }
        Command::Protocol | Command::ProtocolUpdate => {
            Packet::Protocol(cmd, Protocol::decode(payload, ap)?)
        }
        Command::SyncParam | Command::SyncParam89 => {
            Packet::SyncParam(cmd, SyncParam::decode(payload, ap)?)
        }
        Command::Uuids => Packet::Uuids(Uuids::decode(payload, ap)?),
        Command::Sizes => Packet::Sizes(Sizes::decode_with_features(payload, ap, agreed_features)?),
        Command::State => Packet::State(State::decode(payload, ap)?),
        Command::StateChgReq | Command::ConnStChgReq => {
            Packet::ReqState(cmd, ReqState::decode(payload, ap)?)
        }
        Command::StateChgReply | Command::ConnStChgReply => {
            Packet::ReqStateReply(cmd, ReqStateReply::decode(payload, ap)?)
        }
        Command::SyncUuid => Packet::RsUuid(RsUuid::decode(payload, ap)?),
        Command::Data | Command::DataReply | Command::RsDataReply => {
            let header = DataHeader::decode(sub, ap)?;
            if cmd == Command::Data {
                header.check_data_flags()?;
            }
            let split = split_body(cmd, len_u32(body.len()), digest_size)?;
            let (digest, data) = body.split_at(len_usize(split.digest).min(body.len()));
            Packet::Data {
                command: cmd,
                header,
                digest,
                data,
            }
        }
        Command::Trim | Command::Zeroes => Packet::Trim(cmd, Trim::decode(payload, ap)?),
        Command::DataRequest
        | Command::RsDataRequest
        | Command::OvRequest
        | Command::RsThinReq
        | Command::OvReply
        | Command::CsumRsRequest => {
            let request = BlockRequest::decode(sub, ap)?;
            split_body(cmd, len_u32(body.len()), 0)?;
            Packet::BlockRequest {
                command: cmd,
                request,
                digest: body,
            }
        }
        Command::RecvAck
        | Command::WriteAck
        | Command::RsWriteAck
        | Command::Superseded
        | Command::NegAck
        | Command::NegDReply
        | Command::NegRsDReply
        | Command::OvResult
        | Command::RsIsInSync
        | Command::RsCancel
        | Command::RetryWrite => Packet::BlockAck(cmd, BlockAck::decode(payload, ap)?),
        Command::OutOfSync | Command::RsDeallocated => {
            Packet::BlockDesc(cmd, BlockDesc::decode(payload, ap)?)
        }
        Command::Barrier => Packet::Barrier(Barrier::decode(payload, ap)?),
        Command::BarrierAck => Packet::BarrierAck(BarrierAck::decode(payload, ap)?),
        Command::DelayProbe => Packet::DelayProbe(DelayProbe::decode(payload, ap)?),
        Command::Bitmap => {
            plain_bitmap_words(payload.len(), ap)?;
            Packet::Bitmap(payload)
        }
        Command::CompressedBitmap => {
            let h = CompressedBitmapHeader::decode(payload, ap)?;
            Packet::CompressedBitmap(h, payload.get(1..).unwrap_or(&[]))
        }
        Command::BecomeSyncTarget | Command::BecomeSyncSource | Command::Wsame => {
            return Err(PacketError::UnexpectedCommand { command })
        }
    };
    Ok(p)
}

/// Appends `parts` after the `n` bytes already written to `out`; returns the total size.
fn with_tail(out: &mut [u8], n: usize, parts: &[&[u8]]) -> Result<usize, PacketError> {
    let total = parts.iter().fold(n, |a, p| a.saturating_add(p.len()));
    let mut w = Writer::new(out, total)?;
    w.pos = n;
    for p in parts {
        w.put(p);
    }
    Ok(w.done())
}

impl Packet<'_> {
    /// The command this packet is sent with.
    pub fn command(&self) -> Command {
        match *self {
            Packet::Features(_) => Command::ConnectionFeatures,
            Packet::AuthChallenge(_) => Command::AuthChallenge,
            Packet::AuthResponse(_) => Command::AuthResponse,
            Packet::Uuids(_) => Command::Uuids,
            Packet::Sizes(_) => Command::Sizes,
            Packet::State(_) => Command::State,
            Packet::RsUuid(_) => Command::SyncUuid,
            Packet::Barrier(_) => Command::Barrier,
            Packet::BarrierAck(_) => Command::BarrierAck,
            Packet::DelayProbe(_) => Command::DelayProbe,
            Packet::Bitmap(_) => Command::Bitmap,
            Packet::CompressedBitmap(..) => Command::CompressedBitmap,
            Packet::Empty(c)
            | Packet::Protocol(c, _)
            | Packet::SyncParam(c, _)
            | Packet::ReqState(c, _)
            | Packet::ReqStateReply(c, _)
            | Packet::Trim(c, _)
            | Packet::BlockAck(c, _)
            | Packet::BlockDesc(c, _) => c,
            Packet::Data { command, .. } | Packet::BlockRequest { command, .. } => command,
        }
    }

    /// Encodes the whole payload (sub-header, digest, data) for the agreed protocol; returns its
    /// size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        match self {
            Packet::Features(p) => p.encode(out),
            Packet::AuthChallenge(p) => p.encode(out),
            Packet::AuthResponse(p) => p.encode(out),
            Packet::Empty(_) => Empty.encode(out),
            Packet::Protocol(_, p) => p.encode(out, agreed_protocol),
            Packet::SyncParam(_, p) => p.encode(out, agreed_protocol),
            Packet::Uuids(p) => p.encode(out),
            Packet::Sizes(p) => p.encode(out),
            Packet::State(p) => p.encode(out),
            Packet::ReqState(_, p) => p.encode(out),
            Packet::ReqStateReply(_, p) => p.encode(out),
            Packet::RsUuid(p) => p.encode(out),
            Packet::Trim(_, p) => p.encode(out),
            Packet::BlockAck(_, p) => p.encode(out),
            Packet::BlockDesc(_, p) => p.encode(out),
            Packet::Barrier(p) => p.encode(out),
            Packet::BarrierAck(p) => p.encode(out),
            Packet::DelayProbe(p) => p.encode(out),
            Packet::Data {
                header,
                digest,
                data,
                ..
            } => {
                let total = DataHeader::SIZE + digest.len() + data.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = header.encode(out)?;
                with_tail(out, n, &[digest, data])
            }
            Packet::BlockRequest {
                request, digest, ..
            } => {
                let total = BlockRequest::SIZE + digest.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = request.encode(out)?;
                with_tail(out, n, &[digest])
            }
            Packet::Bitmap(words) => with_tail(out, 0, &[words]),
            Packet::CompressedBitmap(h, code) => {
                let total = 1 + code.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = h.encode(out)?;
                with_tail(out, n, &[code])
            }
        }
    }
}

/// Encodes a whole packet into `out`: the header in the format the agreed protocol uses (see
/// [`wire::encode_header`]; 0 before the features handshake), for `volume`, then the payload.
/// Returns the total size. A payload that the header format in force cannot describe (above
/// 64 KiB before protocol 95, or a volume other than 0 before protocol 100) is refused.
pub fn encode_packet(
    out: &mut [u8],
    agreed_protocol: u32,
    volume: u16,
    packet: &Packet<'_>,
) -> Result<usize, PacketError> {
    let hs = wire::header_size(agreed_protocol);
    let have = out.len();
    let body = out
        .get_mut(hs..)
        .ok_or(PacketError::BufferTooSmall { need: hs, have })?;
    let n = packet.encode(body, agreed_protocol)?;
    let length = u32::try_from(n).map_err(|_| PacketError::TooLong {
        max: len_usize(u32::MAX),
        got: n,
    })?;
    let command = packet.command() as u16;
    let unencodable = PacketError::NoHeaderFormat {
        agreed_protocol,
        volume,
        length,
    };
    wire::encode_header(out, agreed_protocol, volume, command, length).ok_or(unencodable)?;
    Ok(hs + n)
}
