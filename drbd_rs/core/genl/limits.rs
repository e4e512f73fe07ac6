// SPDX-License-Identifier: GPL-2.0

//! Ranges and defaults of DRBD's settings (`drbd_limits.h`), in the unit the setting travels in
//! (see [`Scale`](super::Scale)). Policy defaults are the enum numbers.

#![allow(missing_docs)]

pub const MINOR_COUNT_MIN: i64 = 1;
pub const MINOR_COUNT_MAX: i64 = 255;
pub const MINOR_COUNT_DEF: i64 = 32;
pub const VOLUME_MAX: i64 = 65534;
pub const DIALOG_REFRESH_MIN: i64 = 0;
pub const DIALOG_REFRESH_MAX: i64 = 600;
pub const PORT_MIN: i64 = 1;
pub const PORT_MAX: i64 = 0xffff;

pub const WFC_TIMEOUT_MIN: i64 = 0;
pub const WFC_TIMEOUT_MAX: i64 = 300_000;
pub const WFC_TIMEOUT_DEF: i64 = 0;
pub const DEGR_WFC_TIMEOUT_MIN: i64 = 0;
pub const DEGR_WFC_TIMEOUT_MAX: i64 = 300_000;
pub const DEGR_WFC_TIMEOUT_DEF: i64 = 0;
pub const OUTDATED_WFC_TIMEOUT_MIN: i64 = 0;
pub const OUTDATED_WFC_TIMEOUT_MAX: i64 = 300_000;
pub const OUTDATED_WFC_TIMEOUT_DEF: i64 = 0;

/// Unit: 0.1 s.
pub const TIMEOUT_MIN: i64 = 1;
pub const TIMEOUT_MAX: i64 = 600;
pub const TIMEOUT_DEF: i64 = 60;
/// Unit: 0.1 s; 0 disables.
pub const DISK_TIMEOUT_MIN: i64 = 0;
pub const DISK_TIMEOUT_MAX: i64 = 6000;
pub const DISK_TIMEOUT_DEF: i64 = 0;
/// Unit: s.
pub const CONNECT_INT_MIN: i64 = 1;
pub const CONNECT_INT_MAX: i64 = 120;
pub const CONNECT_INT_DEF: i64 = 10;
/// Unit: s.
pub const PING_INT_MIN: i64 = 1;
pub const PING_INT_MAX: i64 = 120;
pub const PING_INT_DEF: i64 = 10;
/// Unit: 0.1 s.
pub const PING_TIMEO_MIN: i64 = 1;
pub const PING_TIMEO_MAX: i64 = 300;
pub const PING_TIMEO_DEF: i64 = 5;
pub const MAX_EPOCH_SIZE_MIN: i64 = 1;
pub const MAX_EPOCH_SIZE_MAX: i64 = 20000;
pub const MAX_EPOCH_SIZE_DEF: i64 = 2048;
/// Unit: bytes; 0 means auto-tuning.
pub const SNDBUF_SIZE_MIN: i64 = 0;
pub const SNDBUF_SIZE_MAX: i64 = 10 << 20;
pub const SNDBUF_SIZE_DEF: i64 = 0;
pub const RCVBUF_SIZE_MIN: i64 = 0;
pub const RCVBUF_SIZE_MAX: i64 = 10 << 20;
pub const RCVBUF_SIZE_DEF: i64 = 0;
pub const MAX_BUFFERS_MIN: i64 = 32;
pub const MAX_BUFFERS_MAX: i64 = 131_072;
pub const MAX_BUFFERS_DEF: i64 = 2048;
pub const UNPLUG_WATERMARK_MIN: i64 = 1;
pub const UNPLUG_WATERMARK_MAX: i64 = 131_072;
pub const UNPLUG_WATERMARK_DEF: i64 = MAX_BUFFERS_DEF / 16;
pub const KO_COUNT_MIN: i64 = 0;
pub const KO_COUNT_MAX: i64 = 200;
pub const KO_COUNT_DEF: i64 = 7;

/// Unit: KiB/s.
pub const RESYNC_RATE_MIN: i64 = 1;
pub const RESYNC_RATE_MAX: i64 = 4 << 20;
pub const RESYNC_RATE_DEF: i64 = 250;
pub const AL_EXTENTS_MIN: i64 = 67;
pub const AL_EXTENTS_MAX: i64 = 0xfffe;
pub const AL_EXTENTS_DEF: i64 = 1237;
pub const MINOR_NUMBER_MIN: i64 = -1;
pub const MINOR_NUMBER_MAX: i64 = (1 << 20) - 1;
pub const MINOR_NUMBER_DEF: i64 = -1;

/// Unit: sectors.
pub const DISK_SIZE_MIN: i64 = 0;
pub const DISK_SIZE_MAX: i64 = 2 << 40;
pub const DISK_SIZE_DEF: i64 = 0;

pub const ON_IO_ERROR_DEF: i64 = 2; // EP_DETACH
pub const FENCING_DEF: i64 = 0; // FP_DONT_CARE
pub const AFTER_SB_0P_DEF: i64 = 0; // ASB_DISCONNECT
pub const AFTER_SB_1P_DEF: i64 = 0;
pub const AFTER_SB_2P_DEF: i64 = 0;
pub const RR_CONFLICT_DEF: i64 = 0;
pub const ON_NO_DATA_DEF: i64 = 0; // OND_IO_ERROR
pub const ON_CONGESTION_DEF: i64 = 0; // OC_BLOCK
pub const READ_BALANCING_DEF: i64 = 0; // RB_PREFER_LOCAL

pub const MAX_BIO_BVECS_MIN: i64 = 0;
pub const MAX_BIO_BVECS_MAX: i64 = 128;
pub const MAX_BIO_BVECS_DEF: i64 = 0;
/// Unit: 0.1 s.
pub const C_PLAN_AHEAD_MIN: i64 = 0;
pub const C_PLAN_AHEAD_MAX: i64 = 300;
pub const C_PLAN_AHEAD_DEF: i64 = 20;
/// Unit: 0.1 s.
pub const C_DELAY_TARGET_MIN: i64 = 1;
pub const C_DELAY_TARGET_MAX: i64 = 100;
pub const C_DELAY_TARGET_DEF: i64 = 10;
/// Unit: sectors.
pub const C_FILL_TARGET_MIN: i64 = 0;
pub const C_FILL_TARGET_MAX: i64 = 1 << 20;
pub const C_FILL_TARGET_DEF: i64 = 100;
/// Unit: KiB/s.
pub const C_MAX_RATE_MIN: i64 = 250;
pub const C_MAX_RATE_MAX: i64 = 4 << 20;
pub const C_MAX_RATE_DEF: i64 = 102_400;
/// Unit: KiB/s.
pub const C_MIN_RATE_MIN: i64 = 0;
pub const C_MIN_RATE_MAX: i64 = 4 << 20;
pub const C_MIN_RATE_DEF: i64 = 250;
/// Unit: sectors.
pub const CONG_FILL_MIN: i64 = 0;
pub const CONG_FILL_MAX: i64 = 10 << 21;
pub const CONG_FILL_DEF: i64 = 0;
pub const CONG_EXTENTS_MIN: i64 = AL_EXTENTS_MIN;
pub const CONG_EXTENTS_MAX: i64 = AL_EXTENTS_MAX;
pub const CONG_EXTENTS_DEF: i64 = AL_EXTENTS_DEF;

pub const PROTOCOL_DEF: i64 = 3; // DRBD_PROT_C

pub const DISK_BARRIER_DEF: i64 = 0;
pub const DISK_FLUSHES_DEF: i64 = 1;
pub const DISK_DRAIN_DEF: i64 = 1;
pub const MD_FLUSHES_DEF: i64 = 1;
pub const TCP_CORK_DEF: i64 = 1;
pub const AL_UPDATES_DEF: i64 = 1;
pub const DISCARD_ZEROES_IF_ALIGNED_DEF: i64 = 1;
pub const DISABLE_WRITE_SAME_DEF: i64 = 0;
pub const ALLOW_TWO_PRIMARIES_DEF: i64 = 0;
pub const ALWAYS_ASBP_DEF: i64 = 0;
pub const USE_RLE_DEF: i64 = 1;
pub const CSUMS_AFTER_CRASH_ONLY_DEF: i64 = 0;

pub const AL_STRIPES_MIN: i64 = 1;
pub const AL_STRIPES_MAX: i64 = 1024;
pub const AL_STRIPES_DEF: i64 = 1;
/// Unit: KiB.
pub const AL_STRIPE_SIZE_MIN: i64 = 4;
pub const AL_STRIPE_SIZE_MAX: i64 = 16_777_216;
pub const AL_STRIPE_SIZE_DEF: i64 = 32;

/// Unit: 0.1 s (same as ping-timeout).
pub const SOCKET_CHECK_TIMEO_MIN: i64 = 0;
pub const SOCKET_CHECK_TIMEO_MAX: i64 = PING_TIMEO_MAX;
pub const SOCKET_CHECK_TIMEO_DEF: i64 = 0;
/// Unit: bytes.
pub const RS_DISCARD_GRANULARITY_MIN: i64 = 0;
pub const RS_DISCARD_GRANULARITY_MAX: i64 = 1 << 20;
pub const RS_DISCARD_GRANULARITY_DEF: i64 = 0;
