// SPDX-License-Identifier: GPL-2.0

//! Resynchronisation and online verify: the bitmap exchange, resync requests and their
//! answers (with or without checksums), and `drbdsetup verify`. Called by the receivers in
//! `net/` and by the control plane; they call down only (objects, `io`, `sys`, `core`).

pub(crate) mod digest;
pub(crate) mod resync;
pub(crate) mod verify;
