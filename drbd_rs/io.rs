// SPDX-License-Identifier: GPL-2.0

//! Local-disk bookkeeping below the object layer: the on-disk activity log and the set of
//! writes in flight (conflict detection). They use only `sys` and `core`.

pub(crate) mod actlog;
pub(crate) mod writes;
