// SPDX-License-Identifier: GPL-2.0

//! Resource and minor requests: `new-resource`, `resource-options`, `new-minor`, `del-minor`,
//! `del-resource`, `down`.

use super::*;
use super::{attrs::*, views::*, events::*, context::*, net_requests::*};

/// `drbd_check_resource_name`.
pub(super) fn check_resource_name(ctx: &mut AdmCtx<'_>) -> core::result::Result<(), i32> {
    match ctx.resource_name {
        None | Some([]) => {
            ctx.info("resource name missing");
            Err(RetCode::MandatoryTag as i32)
        }
        Some(n) if n.contains(&b'/') => {
            ctx.info("invalid resource name");
            Err(RetCode::InvalidRequest as i32)
        }
        Some(_) => Ok(()),
    }
}

pub(super) fn new_resource(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let mut opts = Conf::with_defaults(&abi::RES_OPTS);
    apply_struct(ctx.attrs, TopAttr::ResourceOpts, &mut opts);
    if let Err(ret) = check_resource_name(ctx) {
        return Ok(ret);
    }
    if found.resource.is_some() {
        if ctx.nlmsg_flags & g::NLM_F_EXCL != 0 {
            ctx.info("resource exists");
            return Ok(RetCode::InvalidRequest as i32);
        }
        return Ok(NO_ERROR);
    }
    // `conn_create` fails (reported as out of memory) when the cpu mask does not parse.
    if g::cpu_mask_check(opts.str(1)).is_err() {
        return Ok(RetCode::Nomem as i32);
    }
    let name = ctx.resource_name.unwrap_or_default();
    let mut reg = REGISTRY.lock();
    let Ok(idx) = reg.add(name, opts) else {
        return Ok(RetCode::Nomem as i32);
    };
    let _ = notify_resource(&reg.resources[idx], abi::NotifyType::Create as u32);
    Ok(NO_ERROR)
}

/// `adm_del_resource` on the resource at `idx`.
pub(super) fn del_resource_locked(reg: &mut Registry, idx: usize) -> i32 {
    let r = &reg.resources[idx];
    if resource_cstate(r) as u8 > ConnState::StandAlone as u8 || r.conn.is_some() {
        return RetCode::NetConfigured as i32;
    }
    if !r.volumes.is_empty() {
        return RetCode::ResInUse as i32;
    }
    let _ = notify_resource(r, abi::NotifyType::Destroy as u32);
    reg.remove(idx);
    NO_ERROR
}

pub(super) fn del_resource(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let mut reg = REGISTRY.lock();
    Ok(del_resource_locked(&mut reg, idx))
}

pub(super) fn resource_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let mut reg = REGISTRY.lock();
    let mut opts = reg.resources[idx].res_opts.clone();
    if ctx.hdr.set_defaults() {
        opts.set_defaults();
    }
    apply_struct(ctx.attrs, TopAttr::ResourceOpts, &mut opts);
    // `set_resource_options`
    match g::cpu_mask_check(opts.str(1)) {
        Ok(()) => {
            reg.resources[idx].res_opts = opts;
            Ok(NO_ERROR)
        }
        Err(e) if e == ENOMEM => Ok(RetCode::Nomem as i32),
        Err(e) => {
            pr_warn!("bitmap_parse() failed with {}\n", e.to_errno());
            Ok(RetCode::InvalidRequest as i32)
        }
    }
}

pub(super) fn new_minor(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let minor = ctx.hdr.minor;
    if minor > MINORMASK {
        ctx.info("requested minor out of range");
        return Ok(RetCode::InvalidRequest as i32);
    }
    if ctx.volume > DRBD_VOLUME_MAX {
        ctx.info("requested volume id out of range");
        return Ok(RetCode::InvalidRequest as i32);
    }
    if found.device.is_some() {
        // `drbd_adm_prepare` made sure it is this resource's and this volume.
        if ctx.nlmsg_flags & g::NLM_F_EXCL != 0 {
            return Ok(RetCode::MinorOrVolumeExists as i32);
        }
        return Ok(NO_ERROR);
    }
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    {
        let reg = REGISTRY.lock();
        if reg.find_minor(minor).is_some() || reg.resources[idx].volume(ctx.volume).is_some() {
            return Ok(RetCode::MinorOrVolumeExists as i32);
        }
    }
    // Creating the gendisk may sleep: outside the registry lock.
    let Ok(device) = Device::new(minor) else {
        return Ok(RetCode::Nomem as i32);
    };
    let mut reg = REGISTRY.lock();
    if reg.add_volume(idx, ctx.volume, device.clone()).is_err() {
        return Ok(RetCode::Nomem as i32);
    }
    let _ = notify_device(
        &reg.resources[idx],
        ctx.volume,
        &device,
        abi::NotifyType::Create as u32,
    );
    Ok(NO_ERROR)
}

/// `adm_del_minor` on the volume at `pos`.
pub(super) fn del_minor_locked(reg: &mut Registry, pos: MinorPos) -> i32 {
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    let st = v.device.state();
    if st.disk != abi::DiskState::Diskless
        || st.role != Role::Secondary
        || st.conn != ConnState::StandAlone
        || r.conn.is_some()
    {
        return RetCode::MinorConfigured as i32;
    }
    let _ = notify_device(r, v.vnr, &v.device, abi::NotifyType::Destroy as u32);
    reg.remove_volume(pos);
    NO_ERROR
}

pub(super) fn del_minor(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let mut reg = REGISTRY.lock();
    Ok(del_minor_locked(&mut reg, pos))
}

/// The devices of resource `idx`, so they can be worked on without the registry lock.
pub(super) fn devices_of(idx: usize) -> Result<KVec<Arc<Device>>> {
    let reg = REGISTRY.lock();
    let mut v = KVec::new();
    if let Some(r) = reg.resources.get(idx) {
        for vol in r.volumes.iter() {
            v.push(vol.device.clone(), GFP_KERNEL)?;
        }
    }
    Ok(v)
}

pub(super) fn down(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let devices = devices_of(idx)?;
    // demote
    for d in devices.iter() {
        let os = d.state();
        let rv = ret_of(d.set_role(Role::Secondary, false));
        if rv < StateRv::Success as i32 {
            ctx.info("failed to demote");
            return Ok(rv);
        }
        let ns = d.state();
        if os != ns {
            notify_state_change(d.minor(), os, ns);
        }
    }
    // disconnect
    stop_connection(idx);
    // detach
    for d in devices.iter() {
        let os = d.state();
        let rv = ret_of(d.detach(false));
        if rv < StateRv::Success as i32 || rv > NO_ERROR {
            ctx.info("failed to detach");
            return Ok(rv);
        }
        let ns = d.state();
        if os != ns {
            notify_state_change(d.minor(), os, ns);
        }
    }
    // delete volumes, then the resource
    let mut reg = REGISTRY.lock();
    let id = reg.resources[idx].id;
    loop {
        let Some(idx) = reg.find_id(id) else {
            return Ok(RetCode::ResNotKnown as i32);
        };
        if reg.resources[idx].volumes.is_empty() {
            return Ok(del_resource_locked(&mut reg, idx));
        }
        let ret = del_minor_locked(&mut reg, MinorPos { res: idx, vol: 0 });
        if ret != NO_ERROR {
            ctx.info("failed to delete volume");
            return Ok(ret);
        }
    }
}
