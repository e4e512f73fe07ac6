// SPDX-License-Identifier: GPL-2.0

//! Constants of the protocol: size limits, feature and packet flags, UUID flags, block ids and the
//! protocol versions that changed a packet.

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
