// SPDX-License-Identifier: GPL-2.0

//! Dumps (`status`, `show`, `events2 --now`): one object per round over the registry, the
//! position kept in `cb->args` as resource ids and volume numbers.

use super::*;
use super::{attrs::*, views::*};

/// `cb->args` index holding "the first round has run".
pub(super) const ARG_STARTED: usize = 5;
/// A resource position past the last resource (the C list head).
pub(super) const POS_END: c_long = -1;

/// The resource name of the first `drbd_cfg_context` of a dump request (`nla_find` +
/// `nla_find_nested`): `None` without context, `Some(None)` with a context without name.
pub(super) fn dump_filter<'a>(dump: &Dump<'a>) -> Option<Option<&'a [u8]>> {
    let attrs = dump.payload().get(abi::DRBD_GENLMSGHDR_SIZE..)?;
    let ctx = first(attrs, TopAttr::CfgContext as u16)?;
    Some(first(ctx.payload, 2).map(|n| c_str_bytes(n.payload)))
}

/// Puts one dump message of the request's own command.
pub(super) fn dump_put(dump: &mut Dump<'_>, minor: u32, ret: i32, attrs: &[u8]) -> Result {
    let (portid, seq, cmd) = (dump.portid(), dump.seq(), dump.cmd());
    dump.put(
        portid,
        seq,
        g::NLM_F_MULTI,
        cmd,
        &drbd_hdr(minor, ret),
        attrs,
    )
}

/// `DRBD_ADM_GET_STATUS` dump (`get_one_status`): one message per volume, or one per
/// resource without volumes; all resources, or the one named in the context.
pub(super) fn dump_status(dump: &mut Dump<'_>) -> Result {
    if dump.args()[ARG_STARTED] == 0 {
        dump.args()[ARG_STARTED] = 1;
        if let Some(filter) = dump_filter(dump) {
            let Some(name) = filter else {
                return Err(EINVAL);
            };
            if name.is_empty() {
                return Err(ENODEV);
            }
            let id = {
                let reg = REGISTRY.lock();
                reg.find(name).map(|i| reg.resources[i].id).ok_or(ENODEV)?
            };
            dump.args()[0] = id as c_long;
            dump.args()[2] = id as c_long;
        }
    } else if dump.args()[2] != 0 && dump.args()[2] != dump.args()[0] {
        return Ok(());
    }
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let pos = dump.args()[0];
    let mut ri = match pos {
        0 => {
            if reg.resources.is_empty() {
                return Ok(());
            }
            0
        }
        POS_END => return Ok(()),
        id => match reg.find_id(id as u64) {
            Some(i) => i,
            None => return Ok(()),
        },
    };
    let single = dump.args()[2] != 0;
    let mut volume = dump.args()[1] as u32;
    loop {
        let r = &reg.resources[ri];
        let next = reg
            .resources
            .get(ri + 1)
            .map_or(POS_END, |n| n.id as c_long);
        match r.volume_from(volume) {
            Some(v) => {
                a.put(|w| put_status_info(w, r, v, None))?;
                dump_put(dump, v.device.minor(), NO_ERROR, a.bytes())?;
                dump.args()[0] = r.id as c_long;
                dump.args()[1] = (v.vnr as c_long) + 1;
                return Ok(());
            }
            None if volume != 0 => {
                if next == POS_END || single {
                    dump.args()[0] = next;
                    dump.args()[1] = 0;
                    return Ok(());
                }
                volume = 0;
                ri += 1;
            }
            None => {
                // A resource without volumes: its context (and network options, once it has
                // them) only.
                a.put(|w| put_ctx(w, &r.name, None))?;
                dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes())?;
                dump.args()[0] = next;
                dump.args()[1] = 0;
                return Ok(());
            }
        }
    }
}

/// `DRBD_ADM_GET_RESOURCES`: one message per resource.
pub(super) fn dump_resources(dump: &mut Dump<'_>) -> Result {
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let last = dump.args()[0];
    let idx = if last == 0 {
        0
    } else {
        match reg.find_id(last as u64) {
            Some(i) => i + 1,
            None => return Ok(()),
        }
    };
    let Some(r) = reg.resources.get(idx) else {
        return Ok(());
    };
    a.put(|w| {
        put_ctx(w, &r.name, None)?;
        put_conf(w, &r.res_opts, false)?;
        put_resource_info(w, r)?;
        put_resource_statistics(w)
    })?;
    dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes())?;
    dump.args()[0] = r.id as c_long;
    Ok(())
}

/// `DRBD_ADM_GET_DEVICES`: one message per device, by minor, or by volume of the named
/// resource. An unknown name is answered with an `ERR_RES_NOT_KNOWN` message in every round,
/// as the C module does.
pub(super) fn dump_devices(dump: &mut Dump<'_>) -> Result {
    if dump.args()[0] == 0 && dump.args()[1] == 0 {
        if let Some(Some(name)) = dump_filter(dump) {
            let id = {
                let reg = REGISTRY.lock();
                reg.find(name).map(|i| reg.resources[i].id)
            };
            match id {
                Some(id) => dump.args()[0] = id as c_long,
                None => return dump_put(dump, MINOR_NONE, RetCode::ResNotKnown as i32, &[]),
            }
        }
    }
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let from = dump.args()[1] as u32;
    let (r, v) = if dump.args()[0] != 0 {
        let Some(ri) = reg.find_id(dump.args()[0] as u64) else {
            return Ok(());
        };
        let r = &reg.resources[ri];
        let Some(v) = r.volume_from(from) else {
            return Ok(());
        };
        dump.args()[1] = (v.vnr as c_long) + 1;
        (r, v)
    } else {
        let minors = reg.minors()?;
        let Some((m, pos)) = minors.iter().find(|(m, _)| *m >= from).copied() else {
            return Ok(());
        };
        dump.args()[1] = (m as c_long) + 1;
        let r = &reg.resources[pos.res];
        (r, &r.volumes[pos.vol])
    };
    let st = v.device.state();
    let s = device_stats(&v.device);
    a.put(|w| {
        put_ctx(w, &r.name, Some(v.vnr))?;
        if let Some(dc) = &v.disk_conf {
            put_conf(w, dc, false)?;
        }
        put_device_info(w, &st)?;
        put_device_statistics(w, &s)
    })?;
    dump_put(dump, v.device.minor(), NO_ERROR, a.bytes())
}

/// An unknown resource name in a dump's context is answered with an `ERR_RES_NOT_KNOWN`
/// message in every round, as the C module does. Returns true if it was.
pub(super) fn dump_unknown_filter(dump: &mut Dump<'_>) -> Result<bool> {
    if let Some(Some(name)) = dump_filter(dump) {
        let known = REGISTRY.lock().find(name).is_some();
        if !known {
            dump_put(dump, MINOR_NONE, RetCode::ResNotKnown as i32, &[])?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// `DRBD_ADM_GET_CONNECTIONS` (`drbd_nl_get_connections_dumpit`): one message per resource
/// whose connection has a network configuration: its context with both addresses, its
/// `net_conf` (without the shared secret for callers without `CAP_SYS_ADMIN`), connection
/// info and statistics. `args[0]`: index of the next resource to look at.
pub(super) fn dump_connections(dump: &mut Dump<'_>) -> Result {
    if dump_unknown_filter(dump)? {
        return Ok(());
    }
    let filter = match dump_filter(dump) {
        Some(Some(n)) => Some(n),
        _ => None,
    };
    let sensitive_ok = g::current_capable(bindings::CAP_SYS_ADMIN);
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let start = dump.args()[0] as usize;
    for (i, r) in reg.resources.iter().enumerate().skip(start) {
        if filter.is_some_and(|n| r.name.as_slice() != n) {
            continue;
        }
        let Some((c, conf)) = r.conn.as_ref() else {
            continue;
        };
        a.put(|w| {
            put_ctx_conn(w, &r.name, None, Some(c))?;
            put_conf(w, conf, !sensitive_ok)?;
            put_connection_info(w, r)?;
            put_connection_statistics(w)
        })?;
        dump.args()[0] = (i + 1) as c_long;
        return dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes());
    }
    dump.args()[0] = reg.resources.len() as c_long;
    Ok(())
}

/// `DRBD_ADM_GET_PEER_DEVICES`: one message per volume of a connection with a network
/// configuration, by minor: context with addresses, peer device info and statistics.
/// `args[1]`: the next minor to look at.
pub(super) fn dump_peer_devices(dump: &mut Dump<'_>) -> Result {
    if dump_unknown_filter(dump)? {
        return Ok(());
    }
    let filter = match dump_filter(dump) {
        Some(Some(n)) => Some(n),
        _ => None,
    };
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let minors = reg.minors()?;
    let from = dump.args()[1] as u32;
    for (m, pos) in minors.iter().filter(|(m, _)| *m >= from) {
        let r = &reg.resources[pos.res];
        if filter.is_some_and(|n| r.name.as_slice() != n) {
            continue;
        }
        let Some((c, _)) = r.conn.as_ref() else {
            continue;
        };
        let v = &r.volumes[pos.vol];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx_conn(w, &r.name, Some(v.vnr), Some(c))?;
            put_peer_device_info(w, &st)?;
            put_peer_device_statistics(w, &s)
        })?;
        dump.args()[1] = (*m as c_long) + 1;
        return dump_put(dump, *m, NO_ERROR, a.bytes());
    }
    dump.args()[1] = c_long::MAX;
    Ok(())
}

/// `DRBD_ADM_GET_INITIAL_STATE` (`events2 --now`): for each resource its own, its connection's,
/// its devices' and its peer devices' state as `NOTIFY_EXISTS` notifications (the last of a
/// resource without `NOTIFY_CONTINUES`), then `INITIAL_STATE_DONE`. Unlike the other dumps
/// these go with port 0 and without `NLM_F_MULTI`, like broadcasts.
pub(super) fn dump_initial_state(dump: &mut Dump<'_>) -> Result {
    // args[0]: id of the resource being listed (0: the first), args[1]: index of the next
    // notification within it, args[ARG_STARTED]: 2 once the end was sent.
    if dump.args()[ARG_STARTED] == 2 {
        return Ok(());
    }
    let seq = dump.seq();
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let ri = match dump.args()[0] {
        0 => 0,
        id => reg.find_id(id as u64).unwrap_or(reg.resources.len()),
    };
    let Some(r) = reg.resources.get(ri) else {
        dump.args()[ARG_STARTED] = 2;
        a.put(|w| put_notification_header(w, abi::NotifyType::Exists as u32))?;
        return dump.put(
            0,
            seq,
            0,
            Cmd::InitialStateDone as u8,
            &drbd_hdr(MINOR_NONE, NO_ERROR),
            a.bytes(),
        );
    };
    let nvol = r.volumes.len();
    let total = 2 + 2 * nvol;
    let n = dump.args()[1] as usize;
    let exists = abi::NotifyType::Exists as u32;
    let t = if n + 1 < total {
        exists | NOTIFY_CONTINUES
    } else {
        exists
    };
    let (cmd, minor) = if n == 0 {
        a.put(|w| {
            put_ctx(w, &r.name, None)?;
            put_notification_header(w, t)?;
            put_resource_info(w, r)?;
            put_resource_statistics(w)
        })?;
        (Cmd::ResourceState, MINOR_NONE)
    } else if n == 1 {
        a.put(|w| {
            put_ctx(w, &r.name, None)?;
            put_notification_header(w, t)?;
            put_connection_info(w, r)?;
            put_connection_statistics(w)
        })?;
        (Cmd::ConnectionState, MINOR_NONE)
    } else if n < 2 + nvol {
        let v = &r.volumes[n - 2];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx(w, &r.name, Some(v.vnr))?;
            put_notification_header(w, t)?;
            put_device_info(w, &st)?;
            put_device_statistics(w, &s)
        })?;
        (Cmd::DeviceState, v.device.minor())
    } else {
        let v = &r.volumes[n - 2 - nvol];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx(w, &r.name, Some(v.vnr))?;
            put_notification_header(w, t)?;
            put_peer_device_info(w, &st)?;
            put_peer_device_statistics(w, &s)
        })?;
        (Cmd::PeerDeviceState, MINOR_NONE)
    };
    dump.put(0, seq, 0, cmd as u8, &drbd_hdr(minor, NO_ERROR), a.bytes())?;
    if n + 1 < total {
        dump.args()[0] = r.id as c_long;
        dump.args()[1] = (n + 1) as c_long;
    } else {
        dump.args()[0] = reg
            .resources
            .get(ri + 1)
            .map_or(POS_END, |n| n.id as c_long);
        dump.args()[1] = 0;
    }
    a.clear();
    Ok(())
}
