//! The pure logic of the drbd-rs kernel module, compiled for userspace.
//!
//! These are the module's own files (`drbd_rs/core/`), included by path, so `cargo test`,
//! property tests and fuzzers exercise exactly the code the kernel runs. Those files use only
//! `core`; this crate adds nothing but the build glue.
#![no_std]

#[path = "../../../drbd_rs/core/al.rs"]
pub mod al;
#[path = "../../../drbd_rs/core/bitmap_codec.rs"]
pub mod bitmap_codec;
#[path = "../../../drbd_rs/core/conflict.rs"]
pub mod conflict;
#[path = "../../../drbd_rs/core/fencing.rs"]
pub mod fencing;
#[path = "../../../drbd_rs/core/genl.rs"]
pub mod genl;
#[path = "../../../drbd_rs/core/meta.rs"]
pub mod meta;
#[path = "../../../drbd_rs/core/oos.rs"]
pub mod oos;
#[path = "../../../drbd_rs/core/ov.rs"]
pub mod ov;
#[path = "../../../drbd_rs/core/packets.rs"]
pub mod packets;
#[path = "../../../drbd_rs/core/resync_ctl.rs"]
pub mod resync_ctl;
#[path = "../../../drbd_rs/core/state.rs"]
pub mod state;
#[path = "../../../drbd_rs/core/uuid.rs"]
pub mod uuid;
#[path = "../../../drbd_rs/core/wire.rs"]
pub mod wire;
