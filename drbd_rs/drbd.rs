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

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/device.rs"]
mod kunit_device;

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/bio.rs"]
mod kunit_bio;

// Layers, lowest first (see README.md in this directory): `sys` and `drbd_core`; `io`; the
// objects (`conf`, `helper`, `connection`, `device`, `request`, `resource`); the engines
// (`sync`, `net`); the `control` plane.
mod conf;
mod connection;
mod control;
mod device;
mod helper;
mod io;
mod net;
mod request;
mod resource;
mod sync;
mod sys;

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/nl.rs"]
mod kunit_nl;

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/net.rs"]
mod kunit_net;

#[cfg(drbd_rs_kunit)]
#[path = "../kunit/helper.rs"]
mod kunit_helper;

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
    params: {
        side_by_side: bool {
            default: false,
            description: "Load next to the C drbd: genl family drbd_rs, dynamic block major, /proc/drbd_rs",
        },
    },
}

/// Name prefix of the block devices: `/dev/drbdN` as a drop-in, `/dev/drbd_rsN` side by side
/// with the C drbd, whose `/dev/drbdN` would otherwise collide with ours.
pub(crate) fn disk_name_prefix() -> &'static str {
    if module_parameters::side_by_side.value() {
        "drbd_rs"
    } else {
        "drbd"
    }
}

struct DrbdRs {
    /// Block major 147, so `/dev/drbdN` can be created; unregistered at unload.
    _major: sys::disk::BlockMajor,
    /// `/proc/drbd`.
    _proc: sys::procfs::ProcEntry<control::proc_drbd::DrbdProc>,
}

impl kernel::Module for DrbdRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let side_by_side = module_parameters::side_by_side.value();
        resource::init_registry();
        sys::workqueue::init_queues()?;
        // Side by side with the C drbd (which owns major 147): a dynamic major.
        let major = if side_by_side {
            sys::disk::BlockMajor::register(0, c"drbd_rs")
        } else {
            sys::disk::BlockMajor::register(sys::disk::DRBD_MAJOR, c"drbd")
        };
        let major = major.inspect_err(|_| sys::workqueue::destroy_queues())?;
        control::nl::register(module, side_by_side).inspect_err(|_| sys::workqueue::destroy_queues())?;
        let proc = match control::proc_drbd::create(side_by_side) {
            Ok(p) => p,
            Err(e) => {
                // Requests may already have created resources and disks: drop them too.
                control::nl::unregister();
                control::nl::teardown();
                sys::workqueue::destroy_queues();
                return Err(e);
            }
        };
        pr_info!(
            "initialized. Version: {} (api:{}/proto:{}-{})\n",
            REL_VERSION,
            GENL_API_VERSION,
            wire::PRO_VERSION_MIN,
            wire::PRO_VERSION_MAX
        );
        Ok(DrbdRs {
            _major: major,
            _proc: proc,
        })
    }
}

impl Drop for DrbdRs {
    fn drop(&mut self) {
        // No more requests, then no more objects; `/proc/drbd` and the major go after this.
        control::nl::unregister();
        control::nl::teardown();
        // Work still queued (I/O completions, helpers) runs to its end first.
        sys::workqueue::destroy_queues();
        pr_info!("module cleanup done.\n");
    }
}
