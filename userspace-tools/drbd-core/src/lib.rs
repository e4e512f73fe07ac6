//! The pure logic of the drbd-rs kernel module, compiled for userspace.
//!
//! These are the module's own files (`drbd_rs/core/`), included by path, so `cargo test`,
//! property tests and fuzzers exercise exactly the code the kernel runs. Those files use only
//! `core`; this crate adds nothing but the build glue.
//!
//! The whole tree is included through its `mod.rs`, as the kernel module includes it, so a
//! module that is split into a folder (`genl.rs` and `genl/`) resolves its children the same way
//! in both builds; its modules are re-exported at the crate root (`drbd_core::genl`, ...).
#![no_std]

#[path = "../../../drbd_rs/core/mod.rs"]
mod core_files;

pub use core_files::*;
