// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 generation UUIDs: how two nodes that meet decide whether and in which direction to
//! resync, and how the UUIDs move when data generations start and resyncs begin and end.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test` checks every rule against the C module. The driver
//! keeps the UUIDs (under its uuid lock) and does the I/O; it calls these functions, applies the
//! returned UUIDs, and prints the log lines and runs the user-mode helpers that arrive, in the C
//! module's order, through an [`EventSink`]. Random numbers for new UUIDs are passed in, so every
//! transition is reproducible in tests.
//!
//! # The four UUIDs
//!
//! A node keeps `current` (the generation of its data), `bitmap` (the generation its bitmap is
//! relative to: set while the peer misses writes, 0 otherwise) and two `history` slots (older
//! generations: 8.4 has exactly two, `UI_HISTORY_START` and `UI_HISTORY_END`). Bit 0 of a UUID
//! is not part of the identity: it is the role bit, set in `current` while the node is Primary,
//! and so, because a new generation moves `current` into `bitmap`, bit 0 of `bitmap` tells
//! whether the node was Primary when its peer went away. The after-split-brain policies
//! "discard younger/older primary" read exactly that bit. Comparisons therefore mask bit 0.
//!
//! Fresh meta-data has `current ==` [`UUID_JUST_CREATED`](super::meta::UUID_JUST_CREATED) (4): a
//! value that no random generation has, meaning "no data generation yet". It is a value, not a
//! flag bit.
//!
//! # The handshake
//!
//! On connect each node sends `P_UUIDS` (its four UUIDs, its count of bits set in the bitmap and
//! `UUID_FLAG_*` flags). [`compare`] is `drbd_uuid_compare`: it returns a [`Verdict`] and the
//! number of the rule that decided, numbered exactly like the C code's `*rule_nr` (10 .. 100) so
//! logs read the same ("uuid_compare()=%d by rule %d"). [`handshake`] is `drbd_sync_handshake`:
//! it applies disk states, the after-split-brain policies, discard-my-data and rr-conflict to
//! the verdict and yields the next connection state or the reason the connection is dropped.

/// Bit 0 of a UUID: the role bit (set in the current UUID while Primary), masked out whenever
/// UUIDs are compared.
pub const UUID_PRIMARY_BIT: u64 = 1;

/// What the sync source adds to its bitmap UUID to make the sync UUID it sends to the target
/// (`UUID_NEW_BM_OFFSET`). Because the offset is fixed, a node can recognise from protocol 96 on
/// that the peer's bitmap UUID is "its history UUID plus the offset", i.e. that a resync had
/// started but the sync UUID never arrived (rules 51 and 71).
pub const UUID_NEW_BM_OFFSET: u64 = 0x0001_0000_0000_0000;

// The `P_UUIDS` flag bits (weights 1, 2, 4, 8: discard-my-data, crashed primary, disk will be
// Inconsistent, skip initial sync) and `DRBD_FF_WSAME` are defined with the packet layouts. The
// C module uses `DRBD_FF_WSAME` also as the marker of a peer new enough to resolve "equal
// current UUIDs, no bitmap UUID, but a Primary is present" (rule 41).
pub use super::packets::{
    FF_WSAME as DRBD_FF_WSAME, UUID_FLAG_CRASHED_PRIMARY, UUID_FLAG_DISCARD_MY_DATA,
    UUID_FLAG_INCONSISTENT, UUID_FLAG_SKIP_INITIAL_SYNC,
};

/// Highest protocol version of the mainline 8.4.11 module; rule 41 asks for it by number.
const PRO_VERSION_MAX: u32 = 101;

/// Mask that drops the role bit.
const ID: u64 = !UUID_PRIMARY_BIT;

/// Capacity of a [`Log`]; one [`handshake`] produces at most about 15 events.
pub const LOG_CAPACITY: usize = 24;

mod events;
mod peer;
mod sets;
mod split_brain;
mod sync_handshake;
mod uuid_compare;

pub use events::*;
pub use peer::*;
pub use sets::*;
pub use split_brain::*;
pub use sync_handshake::*;
pub use uuid_compare::*;
