// SPDX-License-Identifier: GPL-2.0

//! The protocol engines of a session, above the objects: the data socket's receiver and its
//! packet handlers, the peer's writes, reads and discards applied to the local disk, and the
//! meta socket's ack receiver. The receiver hands connections its [`receiver::SESSION_ENGINE`].

// Parts of the ack receiver's API are exercised by KUnit only.
#[allow(dead_code)]
pub(crate) mod ack;
pub(crate) mod peer_io;
pub(crate) mod receiver;
