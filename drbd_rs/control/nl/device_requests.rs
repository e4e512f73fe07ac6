// SPDX-License-Identifier: GPL-2.0

//! Device requests: `suspend-io`/`resume-io`, `verify`, `primary`/`secondary` (with fencing),
//! the resync requests, `attach`, `detach`, `disk-options`, `new-current-uuid`, and the
//! status queries.

use super::*;
use super::{attrs::*, views::*, events::*, context::*};

/// `suspend-io` / `resume-io` (`drbd_adm_suspend_io`, `drbd_adm_resume_io`): suspension is
/// a resource's, so every volume of the minor's resource holds (or restarts) its new I/O.
/// Already so is not an error (`SS_NOTHING_TO_DO`).
pub(super) fn suspend_io(found: Found, suspend: bool) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let devices = {
        let reg = REGISTRY.lock();
        let mut v = KVec::new();
        for vol in reg.resources[pos.res].volumes.iter() {
            v.push(vol.device.clone(), GFP_KERNEL)?;
        }
        v
    };
    for d in devices.iter() {
        d.suspend_io(suspend);
    }
    if !suspend {
        // `drbd_adm_resume_io`: without a connection the writes that waited for fencing
        // complete (`tl_clear`); they are marked out of sync.
        let conn = REGISTRY.lock().resources[pos.res].conn.as_ref().map(|(c, _)| c.clone());
        if let Some(c) = conn {
            if c.session().is_none() {
                c.release_fence_held();
            }
        }
    }
    Ok(NO_ERROR)
}

/// `verify` (`drbd_adm_start_ov`): start sector (default: where the last run stopped) and
/// stop sector from `start_ov_parms`.
pub(super) fn start_ov(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let u64_field = |id: u16| {
        struct_field(ctx.attrs, TopAttr::StartOvParms, id)
            .and_then(|p| p.get(..8))
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    let (start, stop) = (u64_field(1), u64_field(2));
    Ok(crate::sync::verify::start_ov(&dev, start, stop))
}

/// The device a per-minor request addresses.
pub(super) fn device_of(found: Found) -> Option<Arc<Device>> {
    let pos = found.device?;
    let reg = REGISTRY.lock();
    Some(reg.resources[pos.res].volumes[pos.vol].device.clone())
}

pub(super) fn set_role(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let force = struct_flag(ctx.attrs, TopAttr::SetRoleParms, 1);
    let role = if ctx.cmd == Cmd::Primary {
        Role::Primary
    } else {
        Role::Secondary
    };
    let os = dev.state();
    // A promotion the fencing policy stands in the way of (no peer whose disk is known
    // Outdated, or data only Consistent) asks the fence-peer handler first, holding no lock
    // (`drbd_set_role` calling `conn_try_outdate_peer`).
    let peer_outdated = if role == Role::Primary && dev.promotion_needs_fencing(force) {
        try_outdate_peer(found)
    } else {
        true
    };
    let rv = ret_of(dev.set_role_fenced(role, force && role == Role::Primary, peer_outdated));
    let ns = dev.state();
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(rv)
}

/// `conn_try_outdate_peer` for the resource of `found`: through its connection if it has one
/// (which knows whether the peer came back meanwhile), else for its volumes without a peer.
pub(super) fn try_outdate_peer(found: Found) -> bool {
    let Some(res) = found.device.map(|p| p.res).or(found.resource) else {
        return false;
    };
    let (conn, name, devices) = {
        let reg = REGISTRY.lock();
        let r = &reg.resources[res];
        let mut name = KVec::new();
        let mut devices = KVec::new();
        if name.extend_from_slice(&r.name, GFP_KERNEL).is_err() {
            return false;
        }
        for v in r.volumes.iter() {
            if devices.push((v.vnr as u16, v.device.clone()), GFP_KERNEL).is_err() {
                return false;
            }
        }
        (r.conn.as_ref().map(|(c, _)| c.clone()), name, devices)
    };
    match conn {
        Some(c) => c.try_outdate_peer(),
        None => crate::connection::fence::outdate_peer(&name, None, &devices, &|| true),
    }
}

/// `invalidate`, `invalidate-remote`, `pause-sync`, `resume-sync`, `outdate`
/// (`drbd_nl_invalidate_doit` and friends). The device logs and announces its state changes.
pub(super) fn resync_admin(found: Found, req: AdminRequest) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    Ok(dev.admin_change(req, crate::sync::resync::begin_full_sync).code())
}

pub(super) fn detach(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let force = struct_flag(ctx.attrs, TopAttr::DetachParms, 1);
    let os = dev.state();
    let rv = match dev.detach(force) {
        // `adm_detach` answers a forced detach with `SS_SUCCESS` whatever it found (also on a
        // diskless device, where the plain detach is `SS_NOTHING_TO_DO`).
        Ok(_) if force => StateRv::Success.raw(),
        r => ret_of(r),
    };
    let ns = dev.state();
    if ns.disk == abi::DiskState::Diskless {
        set_disk_conf(dev.minor(), None);
    }
    if ns.disk != os.disk {
        dev.tell_peer_state();
    }
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(rv)
}

/// A detach finished outside a request (forced detach, I/O error): the disk configuration is
/// gone, and listeners learn the state change `os` -> `ns`.
pub(super) fn disk_detached(minor: u32, os: State, ns: State) {
    set_disk_conf(minor, None);
    if os != ns {
        notify_state_change(minor, os, ns);
    }
}

/// Records the `disk_conf` of the device with minor `minor` (`None`: detached).
pub(super) fn set_disk_conf(minor: u32, conf: Option<Conf>) {
    if let Some(c) = conf.as_ref() {
        announce_sync_param(minor, c);
    }
    let mut reg = REGISTRY.lock();
    if let Some(pos) = reg.find_minor(minor) {
        reg.resources[pos.res].volumes[pos.vol].disk_conf = conf;
    }
}

pub(super) fn attach(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    if dev.state().disk != abi::DiskState::Diskless {
        return Ok(RetCode::DiskConfigured as i32);
    }
    let mut conf = Conf::with_defaults(&abi::DISK_CONF);
    let (present, missing) = apply_struct(ctx.attrs, TopAttr::DiskConf, &mut conf);
    if !present || missing {
        ctx.info("required attribute missing");
        return Ok(RetCode::MandatoryTag as i32);
    }
    if conf.num(11) > abi::limits::C_PLAN_AHEAD_MAX as u64 {
        conf.set_num(11, abi::limits::C_PLAN_AHEAD_MAX as u64);
    }
    if (conf.num(3) as i64) < i64::from(abi::DRBD_MD_INDEX_FLEX_INT) {
        return Ok(RetCode::MdIdxInvalid as i32);
    }
    // `drbd_adm_attach`: resource-and-stonith is refused on a protocol A connection.
    if fencing_of(&conf) == abi::Fencing::Stonith {
        let proto_a = found.resource.or(found.device.map(|p| p.res)).is_some_and(|res| {
            let reg = REGISTRY.lock();
            reg.resources[res].conn.as_ref().is_some_and(|(_, nc)| nc.num(6) == 1)
        });
        if proto_a {
            return Ok(RetCode::StonithAndProtA as i32);
        }
    }
    let mut lower = [0u8; 129];
    let mut meta = [0u8; 129];
    let (l, m) = (conf.str(1), conf.str(2));
    lower[..l.len()].copy_from_slice(l);
    meta[..m.len()].copy_from_slice(m);
    let lower = CStr::from_bytes_with_nul(&lower[..=l.len()]).map_err(|_| EINVAL)?;
    let meta = CStr::from_bytes_with_nul(&meta[..=m.len()]).map_err(|_| EINVAL)?;
    let on_io_error =
        abi::OnIoError::from_raw(conf.num(6) as u32).unwrap_or(abi::OnIoError::Detach);
    let os = dev.state();
    dev.set_al_extents(conf.num(10) as u32);
    let r = dev.attach(lower, meta, conf.num(3) as u32 as i32, on_io_error);
    let ns = dev.state();
    if r.is_ok() {
        dev.set_fencing(fencing_of(&conf));
        set_disk_conf(dev.minor(), Some(conf));
    }
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(match r {
        Ok(()) => NO_ERROR,
        Err(e) => e.code(),
    })
}

/// The `fencing` policy of a `disk_conf`.
pub(super) fn fencing_of(conf: &Conf) -> abi::Fencing {
    const FENCING: u16 = 7;
    abi::Fencing::from_raw(conf.num(FENCING) as u32).unwrap_or(abi::Fencing::DontCare)
}

/// `disk-options`: changes the settings of an attached disk.
pub(super) fn chg_disk_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let mut reg = REGISTRY.lock();
    let Some(old) = reg.resources[pos.res].volumes[pos.vol].disk_conf.clone() else {
        return Ok(RetCode::NoDisk as i32);
    };
    let mut conf = old;
    if ctx.hdr.set_defaults() {
        conf.set_defaults();
    }
    apply_struct(ctx.attrs, TopAttr::DiskConf, &mut conf);
    // `has_invariant`: the fields only `attach` may set.
    for id in 1..=5u16 {
        if struct_field(ctx.attrs, TopAttr::DiskConf, id).is_some() {
            ctx.info("cannot change invariant setting");
            return Ok(RetCode::MandatoryTag as i32);
        }
    }
    if conf.num(8) < 1 {
        conf.set_num(8, 1);
    }
    if conf.num(11) > abi::limits::C_PLAN_AHEAD_MAX as u64 {
        conf.set_num(11, abi::limits::C_PLAN_AHEAD_MAX as u64);
    }
    let ret = resync_after_valid(&reg, ctx.hdr.minor, conf.num(9) as u32 as i32);
    if ret != NO_ERROR {
        return Ok(ret);
    }
    let dev = &reg.resources[pos.res].volumes[pos.vol].device;
    dev.set_sync_param(sync_param_of(&conf));
    if let Some(p) = abi::OnIoError::from_raw(conf.num(6) as u32) {
        dev.set_on_io_error(p);
    }
    dev.set_fencing(fencing_of(&conf));
    reg.resources[pos.res].volumes[pos.vol].disk_conf = Some(conf);
    Ok(NO_ERROR)
}

/// The resync settings of a `disk_conf`, as `P_SYNC_PARAM` carries them.
pub(super) fn sync_param_of(c: &Conf) -> crate::drbd_core::packets::SyncParam {
    crate::drbd_core::packets::SyncParam {
        resync_rate: c.num(8) as u32,
        c_plan_ahead: c.num(11) as u32,
        c_delay_target: c.num(12) as u32,
        c_fill_target: c.num(13) as u32,
        c_max_rate: c.num(14) as u32,
        ..Default::default()
    }
}

/// Gives the device of `minor` the resync settings of `c`.
pub(super) fn announce_sync_param(minor: u32, c: &Conf) {
    if let Some(d) = device_by_minor(minor) {
        d.set_sync_param(sync_param_of(c));
    }
}

/// The device with minor `minor`.
pub(crate) fn device_by_minor(minor: u32) -> Option<Arc<Device>> {
    let reg = REGISTRY.lock();
    let pos = reg.find_minor(minor)?;
    Some(reg.resources[pos.res].volumes[pos.vol].device.clone())
}

/// `drbd_resync_after_valid`: `resync-after` may name any minor but must not close a cycle.
pub(super) fn resync_after_valid(reg: &Registry, minor: u32, o_minor: i32) -> i32 {
    if o_minor == -1 {
        return NO_ERROR;
    }
    if o_minor < -1 || o_minor as u32 > MINORMASK {
        return RetCode::ResyncAfter as i32;
    }
    let mut next = o_minor;
    // Each step follows an attached device's setting; a chain longer than the number of
    // minors must have a cycle that does not include `minor`, which the C module would follow
    // forever; stop there.
    for _ in 0..=reg.resources.iter().map(|r| r.volumes.len()).sum::<usize>() {
        if next as u32 == minor {
            return RetCode::ResyncAfterCycle as i32;
        }
        let Some(p) = reg.find_minor(next as u32) else {
            return NO_ERROR;
        };
        let Some(c) = &reg.resources[p.res].volumes[p.vol].disk_conf else {
            return NO_ERROR;
        };
        next = c.num(9) as u32 as i32;
        if next == -1 {
            return NO_ERROR;
        }
    }
    NO_ERROR
}

/// `new-current-uuid`: needs an attached disk.
pub(super) fn new_c_uuid(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    if dev.status().uuids.is_none() {
        return Ok(RetCode::NoDisk as i32);
    }
    let clear_bm = struct_flag(ctx.attrs, TopAttr::NewCUuidParms, 1);
    Ok(match dev.new_current_uuid(clear_bm) {
        Ok(()) => NO_ERROR,
        Err(e) => e.code(),
    })
}

pub(super) fn get_status(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let reg = REGISTRY.lock();
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    // Appended to the prepared reply (which holds the request's context, if it had one).
    ctx.reply.put(|w| put_status_info(w, r, v, None))?;
    Ok(NO_ERROR)
}

pub(super) fn get_timeout_type(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let t = if dev.state().pdsk == abi::DiskState::Outdated {
        abi::TimeoutType::PeerOutdated
    } else {
        abi::TimeoutType::Default
    };
    ctx.reply
        .put(|w| put_struct(w, TopAttr::TimeoutParms, true, &[(1, Val::U32(t as u32))]))?;
    Ok(NO_ERROR)
}
