// SPDX-License-Identifier: GPL-2.0

//! Pure logic of drbd-rs: code that uses only `core`, so the same files build into the kernel
//! module and into the userspace `drbd-core` crate for `cargo test`, property tests and fuzzing.

pub mod al;
pub mod bitmap_codec;
pub mod conflict;
pub mod fencing;
pub mod genl;
pub mod meta;
pub mod oos;
pub mod ov;
pub mod packets;
pub mod resync_ctl;
pub mod state;
pub mod uuid;
pub mod wire;
