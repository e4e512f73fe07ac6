// SPDX-License-Identifier: GPL-2.0

//! Connection requests: `connect` (with the net options checked as the C module does),
//! `net-options`, `disconnect`, and the bookkeeping of a connection's configuration.

use super::*;
use super::{attrs::*, events::*, context::*};

/// Stops and removes the connection of resource `idx` (without the registry lock held while
/// the threads stop: they report state changes, which takes it).
pub(super) fn stop_connection(idx: usize) {
    // The connection stays registered while it stops, so the state changes it reports carry
    // its addresses (as the C module's do); then it is destroyed.
    let conn = {
        let reg = REGISTRY.lock();
        reg.resources.get(idx).and_then(|r| r.conn.as_ref().map(|(c, _)| c.clone()))
    };
    if let Some(c) = conn {
        c.stop();
        destroy_connection(&c);
    }
}

/// Announces the end of connection `c` to `events2` listeners (`destroy peer-device` for each
/// volume, then `destroy connection`, as `adm_del_connection`/`conn_disconnect` do) and forgets
/// it with its network configuration.
pub(super) fn destroy_connection(c: &Connection) {
    let old = {
        let mut reg = REGISTRY.lock();
        let Some(r) = reg
            .resources
            .iter_mut()
            .find(|r| r.conn.as_ref().is_some_and(|(x, _)| core::ptr::eq(&**x, c)))
        else {
            return;
        };
        let destroy = abi::NotifyType::Destroy as u32;
        for v in r.volumes.iter() {
            let _ = notify_peer_device(r, v.vnr, &v.device, destroy | NOTIFY_CONTINUES);
        }
        let _ = notify_connection(r, destroy);
        r.conn.take()
    };
    drop(old);
}

/// Announces a new connection of resource `r` (`create connection`, then `create peer-device`
/// for each volume; `adm_connect`), once `r.conn` is set.
pub(super) fn announce_connection(r: &Resource) {
    let create = abi::NotifyType::Create as u32;
    let n = r.volumes.len();
    let _ = notify_connection(r, if n > 0 { create | NOTIFY_CONTINUES } else { create });
    for (i, v) in r.volumes.iter().enumerate() {
        let t = if i + 1 < n { create | NOTIFY_CONTINUES } else { create };
        let _ = notify_peer_device(r, v.vnr, &v.device, t);
    }
}

/// `connect`: validates the net options and addresses, then starts the connection.
pub(super) fn connect(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let (my, peer) = ctx.addrs();
    let (Some(my), Some(peer)) = (my, peer) else {
        ctx.info("connection endpoint(s) missing");
        return Ok(RetCode::InvalidRequest as i32);
    };
    let (Ok(my), Ok(peer)) = (SockAddr::from_raw(my), SockAddr::from_raw(peer)) else {
        ctx.info("invalid address");
        return Ok(RetCode::InvalidRequest as i32);
    };
    let mut conf = Conf::with_defaults(&abi::NET_CONF);
    let (_, missing) = apply_struct(ctx.attrs, TopAttr::NetConf, &mut conf);
    if missing {
        ctx.info("required attribute missing");
        return Ok(RetCode::MandatoryTag as i32);
    }
    let settings = match NetSettings::from_conf(&conf) {
        Ok(s) => s,
        Err(_) => return Ok(RetCode::Nomem as i32),
    };
    if !(1..=3).contains(&settings.protocol) {
        return Ok(RetCode::InvalidRequest as i32);
    }
    let ret = {
        let reg = REGISTRY.lock();
        let vols = reg.resources[idx].volumes.iter().map(|v| (v.device.state(), v.device.fencing()));
        check_net_options(None, &conf, vols)
    };
    if ret != NO_ERROR {
        return Ok(ret);
    }
    let ret = check_algs(&conf);
    if ret != NO_ERROR {
        return Ok(ret);
    }
    if !conf.str(3).is_empty() {
        ctx.info("data-integrity-alg is not supported by drbd-rs");
        return Ok(RetCode::IntegrityAlg as i32);
    }
    let (name, devices) = {
        let reg = REGISTRY.lock();
        let r = &reg.resources[idx];
        if r.conn.is_some() {
            return Ok(RetCode::NetConfigured as i32);
        }
        for (i, o) in reg.resources.iter().enumerate() {
            if let (true, Some((c, _))) = (i != idx, o.conn.as_ref()) {
                if c.my_addr == my {
                    return Ok(RetCode::LocalAddr as i32);
                }
                if c.peer_addr == peer {
                    return Ok(RetCode::PeerAddr as i32);
                }
            }
        }
        let mut devs = KVec::new();
        for v in r.volumes.iter() {
            devs.push((v.vnr as u16, v.device.clone()), GFP_KERNEL)?;
        }
        for (_, d) in devs.iter() {
            d.reset_net_counters();
        }
        let mut name = KVec::new();
        name.extend_from_slice(&r.name, GFP_KERNEL)?;
        (name, devs)
    };
    // Registered (and announced) before it starts, so that its first state change already
    // carries its addresses.
    let mut conf = Some(conf);
    let register = |c: &Arc<Connection>| -> bool {
        let mut reg = REGISTRY.lock();
        let Some(r) = reg.resources.get_mut(idx) else {
            return false;
        };
        let Some(conf) = conf.take() else {
            return false;
        };
        r.conn = Some((c.clone(), conf));
        announce_connection(r);
        true
    };
    match Connection::start(&name, my, peer, settings, devices, &crate::net::receiver::SESSION_ENGINE, register) {
        Ok(_) => Ok(NO_ERROR),
        Err(e) if e == ENOENT => Ok(RetCode::ResNotKnown as i32),
        Err(_) => {
            // Not started: forget it if it was registered.
            let mut reg = REGISTRY.lock();
            if let Some(r) = reg.resources.get_mut(idx) {
                r.conn = None;
            }
            Ok(RetCode::Nomem as i32)
        }
    }
}

/// `_check_net_options`: the combinations of net options the C module refuses, given the
/// connection's current options and agreed protocol version (`net-options`; `None` for
/// `connect`) and the states and `fencing` policies of its volumes.
pub(super) fn check_net_options(
    old: Option<(&Conf, Option<u32>)>,
    new: &Conf,
    volumes: impl Iterator<Item = (State, abi::Fencing)>,
) -> i32 {
    const PROTOCOL: u16 = 6;
    const ON_CONGESTION: u16 = 21;
    const TWO_PRIMARIES: u16 = 24;
    const DISCARD_MY_DATA: u16 = 25;
    const INTEGRITY_ALG: u16 = 3;
    if let Some((old, Some(apv))) = old {
        // A peer before protocol 100 knows no P_PROTOCOL_UPDATE.
        if apv < 100
            && (new.num(PROTOCOL) != old.num(PROTOCOL)
                || new.num(TWO_PRIMARIES) != old.num(TWO_PRIMARIES)
                || new.str(INTEGRITY_ALG) != old.str(INTEGRITY_ALG))
        {
            return RetCode::NeedApv100 as i32;
        }
    }
    let two_primaries = new.num(TWO_PRIMARIES) != 0;
    let (mut primary, mut peer_primary, mut stonith) = (false, false, false);
    for (st, fencing) in volumes {
        // Diskless volumes have no policy (`dont-care`).
        stonith |= fencing == abi::Fencing::Stonith;
        primary |= st.role == abi::Role::Primary;
        peer_primary |= st.peer == abi::Role::Primary;
        if st.role == abi::Role::Primary && new.num(DISCARD_MY_DATA) != 0 {
            return RetCode::DiscardImpossible as i32;
        }
    }
    if !two_primaries && primary && peer_primary {
        return RetCode::NeedAllowTwoPri as i32;
    }
    if two_primaries && new.num(PROTOCOL) != 3 {
        return RetCode::NotProtoC as i32;
    }
    // STONITH needs to know the peer has every acknowledged write: not with protocol A.
    if stonith && new.num(PROTOCOL) == 1 {
        return RetCode::StonithAndProtA as i32;
    }
    // `on-congestion` other than `block` (0) is for protocol A only.
    if new.num(ON_CONGESTION) != 0 && new.num(PROTOCOL) != 1 {
        return RetCode::CongNotProtoA as i32;
    }
    NO_ERROR
}

/// `alloc_crypto`: every algorithm named in a `net_conf` must exist in the kernel (csums,
/// verify, data-integrity, then `hmac(<cram-hmac-alg>)`), else `ERR_*_ALG`.
pub(super) fn check_algs(conf: &Conf) -> i32 {
    let exists = |prefix: &[u8], name: &[u8], suffix: &[u8]| -> bool {
        let mut buf = [0u8; 80];
        let n = prefix.len() + name.len() + suffix.len();
        if n + 1 > buf.len() {
            return false;
        }
        buf[..prefix.len()].copy_from_slice(prefix);
        buf[prefix.len()..prefix.len() + name.len()].copy_from_slice(name);
        buf[prefix.len() + name.len()..n].copy_from_slice(suffix);
        match CStr::from_bytes_with_nul(&buf[..=n]) {
            Ok(c) => crate::sys::crypto::Shash::new(c).is_ok(),
            Err(_) => false,
        }
    };
    for (id, err) in [
        (5u16, RetCode::CsumsAlg),
        (4, RetCode::VerifyAlg),
        (3, RetCode::IntegrityAlg),
    ] {
        let name = conf.str(id);
        if !name.is_empty() && !exists(b"", name, b"") {
            return err as i32;
        }
    }
    let cram = conf.str(2);
    if !cram.is_empty() && !exists(b"hmac(", cram, b")") {
        return RetCode::AuthAlg as i32;
    }
    NO_ERROR
}

/// Forgets the network configuration of the resource whose connection is `c` (its receiver
/// gave up: incompatible peer settings, as the C module's "Discarding network
/// configuration").
pub(super) fn forget_connection(c: &Connection) {
    destroy_connection(c);
}

/// The peer changed its `allow-two-primaries` or `after-sb-*` policies (`P_PROTOCOL_UPDATE`):
/// the net options `show` reports follow, as on the C module.
pub(super) fn adopt_peer_protocol(c: &Connection, two_primaries: bool, after_sb: [u32; 3]) {
    let mut reg = REGISTRY.lock();
    let conf = reg
        .resources
        .iter_mut()
        .find_map(|r| r.conn.as_mut().filter(|(x, _)| core::ptr::eq(&**x, c)).map(|(_, conf)| conf));
    if let Some(conf) = conf {
        conf.set_num(24, u64::from(two_primaries));
        for (i, v) in after_sb.iter().enumerate() {
            conf.set_num(17 + i as u16, u64::from(*v));
        }
    }
}

/// `disconnect` (with or without `--force`): the connection stops and forgets its settings.
pub(super) fn disconnect(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::InvalidRequest as i32);
    };
    stop_connection(idx);
    Ok(NO_ERROR)
}

/// `net-options`: changes the settings that may change while connected.
pub(super) fn chg_net_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::InvalidRequest as i32);
    };
    let mut reg = REGISTRY.lock();
    let Some((conn, conf)) = reg.resources[idx].conn.as_mut() else {
        return Ok(RetCode::InvalidRequest as i32);
    };
    let mut new = conf.clone();
    if ctx.hdr.set_defaults() {
        new.set_defaults();
    }
    apply_struct(ctx.attrs, TopAttr::NetConf, &mut new);
    if new.num(6) != conf.num(6) {
        ctx.info("cannot change protocol while connected");
        return Ok(RetCode::InvalidRequest as i32);
    }
    let ret = check_algs(&new);
    if ret != NO_ERROR {
        return Ok(ret);
    }
    let Ok(settings) = NetSettings::from_conf(&new) else {
        return Ok(RetCode::Nomem as i32);
    };
    let agreed = conn.session().map(|s| s.agreed);
    let ret = check_net_options(
        Some((conf, agreed)),
        &new,
        conn.devices.iter().map(|(_, d)| (d.state(), d.fencing())),
    );
    if ret != NO_ERROR {
        return Ok(ret);
    }
    // `drbd_adm_net_opts`: the digests cannot change under a running verify or resync.
    let (verify_running, resync_running) = conn.devices.iter().fold((false, false), |(v, r), (_, d)| {
        let c = d.state().conn;
        (
            v || c == ConnState::VerifyS || c == ConnState::VerifyT,
            r || matches!(
                c,
                ConnState::SyncSource | ConnState::SyncTarget | ConnState::PausedSyncS | ConnState::PausedSyncT
            ),
        )
    });
    let (algs_changed, verify_changed, csums_changed) = {
        let old = conn.settings.lock();
        let v = old.verify_alg.as_slice() != settings.verify_alg.as_slice();
        let c = old.csums_alg.as_slice() != settings.csums_alg.as_slice();
        (v || c, v, c)
    };
    if resync_running && csums_changed {
        return Ok(RetCode::CsumsResyncRunning as i32);
    }
    if verify_running && verify_changed {
        return Ok(RetCode::VerifyRunning as i32);
    }
    let proto = settings.protocol_packet();
    *conn.settings.lock() = settings;
    *conf = new;
    let conn = conn.clone();
    drop(reg);
    // The peer takes our allow-two-primaries and after-sb policies (`P_PROTOCOL_UPDATE`,
    // protocol 100 and later).
    if let Some(s) = conn.session().filter(|s| s.agreed >= 100 && !s.is_failed()) {
        let _ = s.send(
            crate::connection::Sock::Data,
            0,
            &crate::drbd_core::packets::Packet::Protocol(
                crate::drbd_core::wire::Command::ProtocolUpdate,
                proto,
            ),
        );
    }
    if algs_changed {
        crate::sync::digest::send_sync_params(&conn);
    }
    Ok(NO_ERROR)
}
