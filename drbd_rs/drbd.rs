// SPDX-License-Identifier: GPL-2.0

//! drbd-rs: a replicated block device, wire- and tool-compatible with DRBD 8.4.
//!
//! This is the crate root of the `drbd_rs` kernel module. The pure protocol and meta-data logic
//! lives in `core/` (shared with the userspace `drbd-core` crate); the KUnit suites live in the
//! top-level `kunit/` directory and are compiled in only when the module is built with
//! `DRBD_RS_KUNIT=y` (the test build), so a production module never runs tests at load time.

use kernel::prelude::*;

// Public so that the pure core's `pub` items (public for the userspace crate that shares these
// files) count as reachable; parts are not called by the driver yet, the KUnit build tests them.
// Variants named after DRBD's own constants (P_DATA -> `Data`) are documented by their enum, not
// one by one.
#[allow(missing_docs)]
#[path = "core/mod.rs"]
pub mod drbd_core;

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/wire.rs"]
mod kunit_wire;

use drbd_core::wire;

/// The DRBD release this module is compatible with; drbdadm reads it from `/proc/drbd` to pick
/// its 8.4 helpers.
pub(crate) const REL_VERSION: &str = "8.4.11";
/// Generic netlink API version of the `drbd` family.
pub(crate) const GENL_API_VERSION: u32 = 1;

module! {
    type: DrbdRs,
    name: "drbd_rs",
    authors: ["drbd-rs developers"],
    description: "drbd-rs: replicated block device compatible with DRBD 8.4",
    license: "GPL v2",
}

struct DrbdRs;

impl kernel::Module for DrbdRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!(
            "initialized. Version: {} (api:{}/proto:{}-{})\n",
            REL_VERSION,
            GENL_API_VERSION,
            wire::PRO_VERSION_MIN,
            wire::PRO_VERSION_MAX
        );
        Ok(DrbdRs)
    }
}

impl Drop for DrbdRs {
    fn drop(&mut self) {
        pr_info!("module cleanup done.\n");
    }
}
