// SPDX-License-Identifier: GPL-2.0

//! Object views: the info and statistics structs that `status`, `events2` and the get
//! requests report for resources, devices, connections and peer devices.

use super::*;
use super::{attrs::*};

/// `conn_highest_role`: Primary if any volume is, else Secondary.
pub(super) fn resource_role(r: &Resource) -> Role {
    if r.volumes
        .iter()
        .any(|v| v.device.state().role == Role::Primary)
    {
        Role::Primary
    } else {
        Role::Secondary
    }
}

/// `conn_highest_peer`: the peer's role as the connection knows it.
pub(super) fn resource_peer_role(r: &Resource) -> Role {
    let mut role = Role::Unknown;
    for v in r.volumes.iter() {
        match v.device.state().peer {
            Role::Primary => return Role::Primary,
            Role::Secondary => role = Role::Secondary,
            Role::Unknown => {}
        }
    }
    role
}

/// The resource-wide suspension flags (`resource->susp*`), as the devices report them.
pub(super) fn resource_susp(r: &Resource) -> (bool, bool, bool) {
    match r.volumes.first() {
        Some(v) => {
            let s = v.device.state();
            (s.susp, s.susp_nod, s.susp_fen)
        }
        None => (false, false, false),
    }
}

/// The connection state of the resource's (only) connection (`connection->cstate`). The
/// resync states (StartingSync*, WFBitMap*, SyncSource, PausedSyncT, ...) belong to a volume;
/// its connection stays Connected meanwhile.
pub(super) fn resource_cstate(r: &Resource) -> ConnState {
    match r.volumes.first() {
        Some(v) => connection_level(v.device.state().conn),
        None => ConnState::StandAlone,
    }
}

/// A volume's connection state as its connection sees it: at most Connected.
pub(super) fn connection_level(c: ConnState) -> ConnState {
    if c as u8 > ConnState::Connected as u8 {
        ConnState::Connected
    } else {
        c
    }
}

pub(super) fn put_resource_info(w: &mut NlaWriter<'_>, r: &Resource) -> Result<(), NlaError> {
    let (susp, nod, fen) = resource_susp(r);
    put_struct(
        w,
        TopAttr::ResourceInfo,
        true,
        &[
            (1, Val::U32(resource_role(r) as u32)),
            (2, Val::U8(susp)),
            (3, Val::U8(nod)),
            (4, Val::U8(fen)),
        ],
    )
}

pub(super) fn put_resource_statistics(w: &mut NlaWriter<'_>) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ResourceStatistics,
        true,
        &[(1, Val::U32(WO_BDEV_FLUSH))],
    )
}

/// `device_to_statistics` + `device_statistics_to_skb`.
pub(super) fn put_device_statistics(w: &mut NlaWriter<'_>, s: &DeviceStats) -> Result<(), NlaError> {
    let mut hist = [0u8; 32];
    let (cur, flags, hist_len) = match &s.ldev {
        Some(l) => {
            hist[0..8].copy_from_slice(&l.uuids[2].to_ne_bytes());
            hist[8..16].copy_from_slice(&l.uuids[3].to_ne_bytes());
            // `history_uuids_len = HISTORY_UUIDS`: 32 bytes, the two history UUIDs and zeros.
            (l.uuids[0], l.md_flags, 32)
        }
        None => (0, 0, 0),
    };
    put_struct(
        w,
        TopAttr::DeviceStatistics,
        true,
        &[
            (1, Val::U64(s.capacity)),
            (2, Val::U64(s.read_cnt)),
            (3, Val::U64(s.writ_cnt)),
            (4, Val::U64(s.al_writ_cnt)),
            (5, Val::U64(s.bm_writ_cnt)),
            (6, Val::U32(s.ap_bio_cnt)),
            (7, Val::U32(s.local_cnt)),
            (8, Val::U8(s.upper_blocked)),
            (9, Val::U8(false)),
            (10, Val::U8(s.al_suspended)),
            (11, Val::U64(s.ed_uuid)),
            (12, Val::U64(cur)),
            (13, Val::U32(flags)),
            (14, Val::Bin(&hist[..hist_len])),
        ],
    )
}

pub(super) fn put_device_info(w: &mut NlaWriter<'_>, st: &State) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::DeviceInfo,
        true,
        &[(1, Val::U32(st.disk as u32))],
    )
}

pub(super) fn put_connection_info(w: &mut NlaWriter<'_>, r: &Resource) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ConnectionInfo,
        true,
        &[
            (1, Val::U32(resource_cstate(r) as u32)),
            (2, Val::U32(resource_peer_role(r) as u32)),
        ],
    )
}

pub(super) fn put_connection_statistics(w: &mut NlaWriter<'_>) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ConnectionStatistics,
        true,
        &[(1, Val::U8(false))],
    )
}

/// `peer_device_to_info` as the state-change snapshot has it.
pub(super) fn put_peer_device_info(w: &mut NlaWriter<'_>, st: &State) -> Result<(), NlaError> {
    let repl = (st.conn as u32).max(ConnState::WfReportParams as u32);
    put_struct(
        w,
        TopAttr::PeerDeviceInfo,
        true,
        &[
            (1, Val::U32(repl)),
            (2, Val::U32(st.pdsk as u32)),
            (3, Val::U32(u32::from(st.user_isp))),
            (4, Val::U32(u32::from(st.peer_isp))),
            (5, Val::U32(u32::from(st.aftr_isp))),
        ],
    )
}

/// `MDF_PEER_*` flags of `peer_device_to_statistics`.
pub(super) fn peer_dev_flags(md_flags: u32) -> u32 {
    use crate::drbd_core::meta::{
        MDF_CONNECTED_IND, MDF_CONSISTENT, MDF_FULL_SYNC, MDF_WAS_UP_TO_DATE,
    };
    let mut f = 0;
    if md_flags & MDF_CONNECTED_IND != 0 {
        f |= 1;
    }
    if md_flags & MDF_CONSISTENT != 0 && md_flags & MDF_WAS_UP_TO_DATE == 0 {
        f |= 2;
    }
    if md_flags & MDF_FULL_SYNC != 0 {
        f |= 8;
    }
    f
}

pub(super) fn put_peer_device_statistics(w: &mut NlaWriter<'_>, s: &DeviceStats) -> Result<(), NlaError> {
    let (oos, bm_uuid, flags) = match &s.ldev {
        Some(l) => (
            l.bits_oos << BM_BIT_TO_SECT_SHIFT,
            l.uuids[1],
            peer_dev_flags(l.md_flags),
        ),
        None => (0, 0, 0),
    };
    put_struct(
        w,
        TopAttr::PeerDeviceStatistics,
        true,
        &[
            (1, Val::U64(s.recv_cnt)),
            (2, Val::U64(s.send_cnt)),
            (3, Val::U32(s.ap_pending_cnt + s.rs_pending_cnt)),
            (4, Val::U32(s.unacked_cnt)),
            (5, Val::U64(oos)),
            (6, Val::U64(s.rs_failed << BM_BIT_TO_SECT_SHIFT)),
            (7, Val::U64(bm_uuid)),
            (9, Val::U32(flags)),
        ],
    )
}

pub(super) fn put_notification_header(w: &mut NlaWriter<'_>, nh_type: u32) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::NotificationHeader,
        true,
        &[(1, Val::U32(nh_type))],
    )
}

/// `nla_put_status_info` (without a broadcast reason): what `GET_STATUS` answers per device.
pub(super) fn put_status_info(
    w: &mut NlaWriter<'_>,
    r: &Resource,
    v: &Volume,
    sib: Option<(u32, State, State)>,
) -> Result<(), NlaError> {
    let dev = &v.device;
    let st = dev.state();
    let s = device_stats(dev);
    // As `nla_put_status_info`: the context with the connection's addresses, the resource,
    // disk and net options (`drbdsetup show` of 8.4 prints them from here).
    let conn = r.conn.as_ref();
    put_ctx_conn(w, &r.name, Some(v.vnr), conn.map(|(c, _)| &**c))?;
    put_conf(w, &r.res_opts, true)?;
    if let Some(dc) = &v.disk_conf {
        put_conf(w, dc, true)?;
    }
    if let Some((_, nc)) = conn {
        let exclude_sensitive = sib.is_some() || !g::current_capable(bindings::CAP_SYS_ADMIN);
        put_conf(w, nc, exclude_sensitive)?;
    }
    let n = w.nest_start(TopAttr::StateInfo as u16)?;
    let res = (|| {
        let reason = sib.map_or(abi::SibReason::GetStatusReply as u32, |s| s.0);
        w.put_u32(1, reason)?;
        w.put_u32(2, st.to_abi().to_u32())?;
        w.put_u64(4, s.ed_uuid)?;
        w.put_u64(3, s.capacity)?;
        w.put_u64(15, s.send_cnt)?;
        w.put_u64(16, s.recv_cnt)?;
        w.put_u64(17, s.read_cnt)?;
        w.put_u64(18, s.writ_cnt)?;
        w.put_u64(19, s.al_writ_cnt)?;
        w.put_u64(20, s.bm_writ_cnt)?;
        w.put_u32(21, s.ap_bio_cnt)?;
        w.put_u32(22, s.ap_pending_cnt)?;
        w.put_u32(23, s.rs_pending_cnt)?;
        if let Some(l) = &s.ldev {
            let mut u = [0u8; 32];
            for (i, x) in l.uuids.iter().enumerate() {
                u[i * 8..i * 8 + 8].copy_from_slice(&x.to_ne_bytes());
            }
            w.put(7, &u)?;
            w.put_u32(8, l.md_flags)?;
            w.put_u64(9, l.bits_total)?;
            w.put_u64(10, l.bits_oos)?;
            if (ConnState::SyncSource as u8..=ConnState::PausedSyncT as u8)
                .contains(&(st.conn as u8))
            {
                w.put_u64(11, s.rs_total)?;
                w.put_u64(12, s.rs_failed)?;
            }
        }
        if let Some((reason, os, ns)) = sib {
            if reason == abi::SibReason::StateChange as u32 {
                w.put_u32(5, os.to_abi().to_u32())?;
                w.put_u32(6, ns.to_abi().to_u32())?;
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}
