// SPDX-License-Identifier: GPL-2.0

//! The control plane: the `drbd` generic netlink family (admin requests, get/dump, `events2`
//! broadcasts) and `/proc/drbd`. It sits on top: it creates resources, devices and
//! connections, and registers itself for the lower layers' reports (`device::events`,
//! `connection::events`, `helper`'s notifier).

pub(crate) mod nl;
pub(crate) mod proc_drbd;
