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
//! 1. [`wire::decode_header`](super::wire::decode_header) gives the command and the payload
//!    length.
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

mod alg_name;
mod auth;
mod bitmap;
mod checks;
mod command_table;
mod connection_params;
mod constants;
mod cursor;
mod device_params;
mod error;
mod features;
mod io;
mod packet;
mod state;

pub use alg_name::*;
pub use auth::*;
pub use bitmap::*;
pub use checks::*;
pub use command_table::*;
pub use connection_params::*;
pub use constants::*;
pub use device_params::*;
pub use error::*;
pub use features::*;
pub use io::*;
pub use packet::*;
pub use state::*;
