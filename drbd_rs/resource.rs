// SPDX-License-Identifier: GPL-2.0

//! The object model of DRBD 8.4: resources by name, each with its options, one (for now
//! unconfigured) connection, and volumes; each volume is a device with a minor that is unique
//! module-wide.
//!
//! Everything lives in one registry behind one mutex ([`REGISTRY`]). Netlink requests run one
//! at a time (the family has no parallel ops), so the registry only changes under a request;
//! `/proc/drbd` and future kernel-side users read it under the same lock. Long operations on a
//! device (attach, role changes) take an `Arc` of it out of the registry and drop the lock.
//!
//! Configuration structs (`res_opts`, `disk_conf`, later `net_conf`) are kept generically as
//! [`Conf`]: a value per field of the ABI table in `core::genl`, so parsing, defaults and
//! encoding follow the table and cannot drift from it.

use kernel::prelude::*;
use kernel::sync::Arc;

pub(crate) use crate::device::Device;
pub(crate) use crate::conf::Conf;
use crate::drbd_core::genl::ConnState;
use crate::drbd_core::meta;

/// One volume of a resource: its number and its device.
pub(crate) struct Volume {
    /// Volume number within the resource.
    pub(crate) vnr: u32,
    /// The device (`/dev/drbd<minor>`).
    pub(crate) device: Arc<Device>,
    /// The `disk_conf` it was attached with (and changed by `disk-options`), while attached.
    pub(crate) disk_conf: Option<Conf>,
}

/// A resource: a name, options, a connection (not configurable yet) and volumes.
pub(crate) struct Resource {
    /// Identifies the resource across dump rounds (names can be reused after deletion).
    pub(crate) id: u64,
    /// The name, without NUL (at most 128 bytes, as the C module accepts).
    pub(crate) name: KVec<u8>,
    /// `res_opts`.
    pub(crate) res_opts: Conf,
    /// Volumes, ordered by volume number.
    pub(crate) volumes: KVec<Volume>,
    /// The connection, while configured (`connect` .. `disconnect`), with its `net_conf`.
    pub(crate) conn: Option<(Arc<crate::connection::Connection>, Conf)>,
}

impl Resource {
    /// The volume numbered `vnr`.
    pub(crate) fn volume(&self, vnr: u32) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.vnr == vnr)
    }

    /// The first volume numbered `vnr` or higher (`idr_get_next`).
    pub(crate) fn volume_from(&self, vnr: u32) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.vnr >= vnr)
    }
}

/// All resources, in creation order (the C module's `drbd_resources` list).
pub(crate) struct Registry {
    /// The resources.
    pub(crate) resources: KVec<Resource>,
    next_id: u64,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in module init (`init_registry`) before anything else uses it.
    pub(crate) unsafe(uninit) static REGISTRY: Mutex<Registry> = Registry {
        resources: KVec::new(),
        next_id: 1,
    };
}

/// Initializes [`REGISTRY`]; called once from module init before the netlink family and
/// `/proc/drbd` exist.
pub(crate) fn init_registry() {
    // SAFETY: Called exactly once, from module init, before any other use of the lock.
    unsafe { REGISTRY.init() };
}

/// Where a minor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MinorPos {
    /// Index of the resource in [`Registry::resources`].
    pub(crate) res: usize,
    /// Index of the volume in that resource's `volumes`.
    pub(crate) vol: usize,
}

impl Registry {
    /// The resource called `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<usize> {
        self.resources
            .iter()
            .position(|r| r.name.as_slice() == name)
    }

    /// The resource with id `id`.
    pub(crate) fn find_id(&self, id: u64) -> Option<usize> {
        self.resources.iter().position(|r| r.id == id)
    }

    /// Where minor `minor` lives.
    pub(crate) fn find_minor(&self, minor: u32) -> Option<MinorPos> {
        for (ri, r) in self.resources.iter().enumerate() {
            for (vi, v) in r.volumes.iter().enumerate() {
                if v.device.minor() == minor {
                    return Some(MinorPos { res: ri, vol: vi });
                }
            }
        }
        None
    }

    /// Every minor, ascending, with where it lives (the C module's `drbd_devices` idr order).
    pub(crate) fn minors(&self) -> Result<KVec<(u32, MinorPos)>> {
        let mut all = KVec::new();
        for (ri, r) in self.resources.iter().enumerate() {
            for (vi, v) in r.volumes.iter().enumerate() {
                all.push(
                    (v.device.minor(), MinorPos { res: ri, vol: vi }),
                    GFP_KERNEL,
                )?;
            }
        }
        all.sort_unstable_by_key(|(m, _)| *m);
        Ok(all)
    }

    /// Adds a resource called `name` with options `res_opts`; returns its index.
    pub(crate) fn add(&mut self, name: &[u8], res_opts: Conf) -> Result<usize> {
        let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        n.extend_from_slice(name, GFP_KERNEL)?;
        let id = self.next_id;
        self.next_id += 1;
        self.resources.push(
            Resource {
                id,
                name: n,
                res_opts,
                volumes: KVec::new(),
                conn: None,
            },
            GFP_KERNEL,
        )?;
        Ok(self.resources.len() - 1)
    }

    /// Adds volume `vnr` with `device` to resource `res`, keeping volumes ordered.
    pub(crate) fn add_volume(&mut self, res: usize, vnr: u32, device: Arc<Device>) -> Result {
        let r = self.resources.get_mut(res).ok_or(EINVAL)?;
        let at = r
            .volumes
            .iter()
            .position(|v| v.vnr > vnr)
            .unwrap_or(r.volumes.len());
        r.volumes.reserve(1, GFP_KERNEL)?;
        r.volumes
            .insert_within_capacity(
                at,
                Volume {
                    vnr,
                    device,
                    disk_conf: None,
                },
            )
            .map_err(|_| ENOMEM)
    }

    /// Removes the volume at `pos` and returns its device.
    pub(crate) fn remove_volume(&mut self, pos: MinorPos) -> Option<Arc<Device>> {
        let r = self.resources.get_mut(pos.res)?;
        if pos.vol >= r.volumes.len() {
            return None;
        }
        r.volumes.remove(pos.vol).ok().map(|v| v.device)
    }

    /// Removes resource `res` (which must have no volumes left).
    pub(crate) fn remove(&mut self, res: usize) -> Option<Resource> {
        if res >= self.resources.len() {
            return None;
        }
        self.resources.remove(res).ok()
    }
}

/// What the control plane reads from a device besides its state: sizes, counters and, while
/// attached, the meta-data view. Units as in the C module's `struct drbd_device`: sector counts
/// for I/O (`send_cnt`, ...), plain counts for the rest.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DeviceStats {
    /// `get_capacity(vdisk)`, in sectors.
    pub(crate) capacity: u64,
    /// Exposed data UUID (`ed_uuid`).
    pub(crate) ed_uuid: u64,
    /// Sectors sent to / received from the peer, read from / written to the local disk.
    pub(crate) send_cnt: u64,
    /// See `send_cnt`.
    pub(crate) recv_cnt: u64,
    /// See `send_cnt`.
    pub(crate) read_cnt: u64,
    /// See `send_cnt`.
    pub(crate) writ_cnt: u64,
    /// Activity-log and bitmap meta-data writes.
    pub(crate) al_writ_cnt: u64,
    /// See `al_writ_cnt`.
    pub(crate) bm_writ_cnt: u64,
    /// Application bios in flight (`ap_bio_cnt`).
    pub(crate) ap_bio_cnt: u32,
    /// Requests waiting for the peer (`ap_pending_cnt`), resync requests (`rs_pending_cnt`).
    pub(crate) ap_pending_cnt: u32,
    /// See `ap_pending_cnt`.
    pub(crate) rs_pending_cnt: u32,
    /// Peer requests not yet acknowledged (`unacked_cnt`).
    pub(crate) unacked_cnt: u32,
    /// Local backing-device requests in flight (`local_cnt`).
    pub(crate) local_cnt: u32,
    /// New application I/O is blocked (`!may_inc_ap_bio`).
    pub(crate) upper_blocked: bool,
    /// Activity-log updates suspended (`AL_SUSPENDED`).
    pub(crate) al_suspended: bool,
    /// `/proc/drbd`'s congestion letter, `b'-'` when not congested.
    pub(crate) congestion: u8,
    /// Resync totals while resyncing, in bitmap bits.
    pub(crate) rs_total: u64,
    /// See `rs_total`.
    pub(crate) rs_failed: u64,
    /// Blocks a running online verify has left (`ov_left`), while verifying.
    pub(crate) ov_left: Option<u64>,
    /// Meta-data view while attached.
    pub(crate) ldev: Option<LdevStats>,
}

/// The meta-data view of an attached device.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LdevStats {
    /// Current, bitmap and two history UUIDs (`md.uuid[UI_CURRENT..=UI_HISTORY_END]`).
    pub(crate) uuids: [u64; 4],
    /// Meta-data flags (`MDF_*`).
    pub(crate) md_flags: u32,
    /// Bits of the bitmap, and bits set (out of sync).
    pub(crate) bits_total: u64,
    /// See `bits_total`.
    pub(crate) bits_oos: u64,
}

/// The statistics of `dev` as the control plane reports them: state, size, local and network
/// I/O counters, UUIDs and meta-data flags, bitmap weight, resync progress, and the activity
/// log's transaction and bitmap-block write counts (the bitmap's size is derived from the
/// device size, as `drbd_bm_bits` would give it).
pub(crate) fn device_stats(dev: &Device) -> DeviceStats {
    let s = dev.status();
    let ldev = match (s.uuids, s.md_flags) {
        (Some(uuids), Some(md_flags)) => Some(LdevStats {
            uuids,
            md_flags,
            bits_total: meta::bitmap_bits(s.size_sectors),
            bits_oos: dev.oos_weight(),
        }),
        _ => None,
    };
    let (send_cnt, recv_cnt) = dev.net_sectors();
    let (al_writ_cnt, bm_writ_cnt) = dev.al_counters();
    let (rs_total, rs_failed) = if matches!(
        s.state.conn,
        ConnState::SyncSource | ConnState::SyncTarget | ConnState::PausedSyncS | ConnState::PausedSyncT
    ) {
        let (total, _left, failed) = dev.rs_progress();
        (total, failed)
    } else if matches!(s.state.conn, ConnState::VerifyS | ConnState::VerifyT) {
        (dev.ov.progress().0, 0)
    } else {
        (0, 0)
    };
    let ov_left = matches!(s.state.conn, ConnState::VerifyS | ConnState::VerifyT)
        .then(|| dev.ov.progress().1);
    DeviceStats {
        capacity: s.size_sectors,
        ed_uuid: s.ed_uuid,
        read_cnt: s.read_sectors,
        writ_cnt: s.written_sectors,
        send_cnt,
        recv_cnt,
        rs_total,
        rs_failed,
        ov_left,
        congestion: b'-',
        ldev,
        al_writ_cnt,
        bm_writ_cnt,
        ..DeviceStats::default()
    }
}
