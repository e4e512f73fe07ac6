// SPDX-License-Identifier: GPL-2.0

//! Broadcasts to the `events` group (`events2`, the 8.4 `EVENT`): objects created and
//! destroyed, state changes, helper calls; and the listeners the lower layers report to.

use super::*;
use super::{attrs::*, views::*};

/// `notify_genl_seq`: sequence numbers of `events2` broadcasts (the C counter starts at 2).
pub(super) static NOTIFY_SEQ: AtomicU32 = AtomicU32::new(2);
/// `drbd_genl_seq`: sequence numbers of 8.4 `EVENT` broadcasts.
pub(super) static EVENT_SEQ: AtomicU32 = AtomicU32::new(2);

/// Sends `attrs` as a `cmd` message about `minor` to the `events` group; failures are logged,
/// as the C module does, and otherwise ignored.
pub(super) fn multicast(cmd: Cmd, minor: u32, attrs: &[u8], seq_counter: &AtomicU32) {
    let seq = seq_counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let fam = FAMILY.lock();
    let Some(reg) = fam.as_ref() else {
        return;
    };
    let r = Message::new(
        reg.family(),
        0,
        seq,
        0,
        cmd as u8,
        &drbd_hdr(minor, NO_ERROR),
        bindings::GFP_KERNEL,
    )
    .and_then(|mut m| {
        m.append(attrs)?;
        m.multicast(0, bindings::GFP_NOWAIT)
    });
    if let Err(e) = r {
        pr_err!(
            "Error {} while broadcasting event. Event seq:{}\n",
            e.to_errno(),
            seq
        );
    }
}

/// Sends one events2 notification as the C module builds them: the object's context, the
/// notification header, the object's info (left out when it is destroyed) and its statistics.
pub(super) fn notify(
    cmd: Cmd,
    minor: u32,
    (name, volume, conn): (&[u8], Option<u32>, Option<&Connection>),
    nh_type: u32,
    info: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>,
    statistics: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>,
) -> Result {
    let mut a = Attrs::new()?;
    a.put(|w| {
        put_ctx_conn(w, name, volume, conn)?;
        put_notification_header(w, nh_type)?;
        if nh_type & !NOTIFY_CONTINUES != abi::NotifyType::Destroy as u32 {
            info(w)?;
        }
        statistics(w)
    })?;
    multicast(cmd, minor, a.bytes(), &NOTIFY_SEQ);
    Ok(())
}

/// `notify_resource_state` for resource `r`.
pub(super) fn notify_resource(r: &Resource, nh_type: u32) -> Result {
    notify(
        Cmd::ResourceState,
        MINOR_NONE,
        (&r.name, None, None),
        nh_type,
        |w| put_resource_info(w, r),
        put_resource_statistics,
    )
}

/// `notify_device_state` for volume `vnr` of `r`.
pub(super) fn notify_device(r: &Resource, vnr: u32, dev: &Device, nh_type: u32) -> Result {
    let st = dev.state();
    let s = device_stats(dev);
    notify(
        Cmd::DeviceState,
        dev.minor(),
        (&r.name, Some(vnr), None),
        nh_type,
        |w| put_device_info(w, &st),
        |w| put_device_statistics(w, &s),
    )
}

/// `notify_connection_state` for the connection of `r`.
pub(super) fn notify_connection(r: &Resource, nh_type: u32) -> Result {
    notify(
        Cmd::ConnectionState,
        MINOR_NONE,
        (&r.name, None, r.conn.as_ref().map(|(c, _)| &**c)),
        nh_type,
        |w| put_connection_info(w, r),
        put_connection_statistics,
    )
}

/// `notify_peer_device_state` for volume `vnr` of `r`.
pub(super) fn notify_peer_device(r: &Resource, vnr: u32, dev: &Device, nh_type: u32) -> Result {
    let st = dev.state();
    let s = device_stats(dev);
    notify(
        Cmd::PeerDeviceState,
        MINOR_NONE,
        (&r.name, Some(vnr), r.conn.as_ref().map(|(c, _)| &**c)),
        nh_type,
        |w| put_peer_device_info(w, &st),
        |w| put_peer_device_statistics(w, &s),
    )
}

/// `notify_helper`: tells `events2` listeners that a usermode helper is called or answered
/// (`call helper ...` / `response helper ... status:<wait status>`). A device's helper carries
/// its volume and minor, a connection's (`fence-peer`) only the resource and the connection's
/// addresses. Registered with [`crate::helper::set_notifier`]; the helpers run holding no
/// lock, so this may take the registry's.
pub(super) fn notify_helper(n: &crate::helper::Notice<'_>) {
    use crate::helper::Target;
    let reg = REGISTRY.lock();
    let (res, vol) = match n.target {
        Target::Minor(m) => match reg.find_minor(m) {
            Some(pos) => (pos.res, Some(pos.vol)),
            None => return,
        },
        Target::Resource(name) => match reg.find(name) {
            Some(res) => (res, None),
            None => return,
        },
    };
    let r = &reg.resources[res];
    let volume = vol.map(|v| &r.volumes[v]);
    let nh_type = if n.status.is_some() {
        abi::NotifyType::Response as u32
    } else {
        abi::NotifyType::Call as u32
    };
    let name = n.cmd.name().to_bytes_with_nul();
    let name = &name[..name.len().min(32)];
    let Ok(mut a) = Attrs::new() else { return };
    let built = a.put(|w| {
        put_ctx_conn(
            w,
            &r.name,
            volume.map(|v| v.vnr),
            r.conn.as_ref().map(|(c, _)| &**c),
        )?;
        put_notification_header(w, nh_type)?;
        put_struct(
            w,
            TopAttr::Helper,
            true,
            &[(1, Val::Bin(name)), (2, Val::U32(n.status.unwrap_or(0) as u32))],
        )
    });
    let minor = volume.map_or(MINOR_NONE, |v| v.device.minor());
    drop(reg);
    if built.is_ok() {
        multicast(Cmd::Helper, minor, a.bytes(), &NOTIFY_SEQ);
    }
}

/// Broadcasts a state change of the device with minor `minor`, from `os` to `ns` (its
/// current state): the `events2` change notifications of `broadcast_state_change` (resource
/// role or suspension, connection state or peer role, disk state, peer-device state; the last
/// one without `NOTIFY_CONTINUES`), then the 8.4 `EVENT` broadcast of `drbd_bcast_event`.
///
/// The request handlers call this after each device operation that changed the state. The
/// device layer should call it for every intermediate state (`Attaching`, `Failed`, ...) the
/// way the C module's `__drbd_set_state` does, from a context that does not hold the registry
/// lock; the handlers then only report what is left.
pub(crate) fn notify_state_change(minor: u32, os: State, ns: State) {
    let reg = REGISTRY.lock();
    let Some(pos) = reg.find_minor(minor) else {
        return;
    };
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    let new_role = resource_role(r);
    let old_role = if os.role == ns.role {
        new_role
    } else if r
        .volumes
        .iter()
        .any(|o| o.vnr != v.vnr && o.device.state().role == Role::Primary)
    {
        Role::Primary
    } else {
        os.role
    };
    let mut kinds: KVec<u8> = KVec::new();
    let mut add = |k: u8| {
        let _ = kinds.push(k, GFP_KERNEL);
    };
    if old_role != new_role
        || os.susp != ns.susp
        || os.susp_nod != ns.susp_nod
        || os.susp_fen != ns.susp_fen
    {
        add(0);
    }
    if connection_level(os.conn) != connection_level(ns.conn) || os.peer != ns.peer {
        add(1);
    }
    if os.disk != ns.disk {
        add(2);
    }
    let repl = |s: &State| (s.conn as u8).max(ConnState::WfReportParams as u8);
    if os.pdsk != ns.pdsk
        || repl(&os) != repl(&ns)
        || os.user_isp != ns.user_isp
        || os.peer_isp != ns.peer_isp
        || os.aftr_isp != ns.aftr_isp
    {
        add(3);
    }
    let change = abi::NotifyType::Change as u32;
    let n = kinds.len();
    for (i, k) in kinds.iter().enumerate() {
        let t = if i + 1 < n {
            change | NOTIFY_CONTINUES
        } else {
            change
        };
        let _ = match k {
            0 => notify_resource(r, t),
            1 => notify_connection(r, t),
            2 => notify_device(r, v.vnr, &v.device, t),
            _ => notify_peer_device(r, v.vnr, &v.device, t),
        };
    }
    // The 8.4 broadcast (`drbdsetup events`).
    if let Ok(mut a) = Attrs::new() {
        if a.put(|w| put_status_info(w, r, v, Some((abi::SibReason::StateChange as u32, os, ns))))
            .is_ok()
        {
            multicast(Cmd::Event, minor, a.bytes(), &EVENT_SEQ);
        }
    }
}
