//! The output of `drbdsetup events2`: one line per notification (`exists`, `create`, `change`,
//! `destroy`, `call`, `response`) about a resource, device, connection, peer device or helper,
//! keyed as DRBD 9 names objects; a change prints only the items that changed since the last
//! line about the same object.

use drbd_core::genl::{self, disk_str, role_str};

use crate::app_state::{App, Known};
use crate::attrs::{
    self, CfgContext, ConnectionInfo, ConnectionStatistics, DeviceInfo, DeviceStatistics, Info,
    PeerDeviceInfo, PeerDeviceStatistics, ResourceInfo, ResourceStatistics,
};
use crate::out::Out;
use crate::status_items::{
    conn_str9, print_connection_statistics, print_device_statistics, print_peer_device_statistics,
    print_resource_statistics, repl_str9, resync_susp_str, susp_str, Printer,
};
use crate::table::GetSpec;

/// `event_key`.
pub fn event_key(name: &str, minor: u32, ctx: &CfgContext) -> String {
    let mut k = format!("{name} name:{}", ctx.resource_name);
    if matches!(name, "connection" | "peer-device" | "helper") {
        k.push_str(" peer-node-id:0");
    }
    if !ctx.peer_addr.is_empty() {
        k.push_str(" conn-name:peer");
    }
    if ctx.volume != u32::MAX {
        k.push_str(&format!(" volume:{}", ctx.volume));
    }
    if minor != u32::MAX {
        k.push_str(&format!(" minor:{minor}"));
    }
    k
}

/// `print_notifications` (`drbdsetup events2`).
pub fn print_notifications(app: &mut App, spec: GetSpec, info: Option<&Info<'_>>) -> i32 {
    const ACTIONS: [&str; 6] = ["exists", "create", "change", "destroy", "call", "response"];
    let Some(info) = info else {
        app.show.keep_tv = false;
        return 0;
    };
    let dh = info.hdr;
    let ret = dh.ret_code();
    if ret == genl::RetCode::MinorInvalid as i32 && spec.missing_ok {
        return 0;
    }
    if ret != genl::RetCode::NoError as i32 {
        return ret;
    }
    let Some(nh_type) = attrs::notification_type(&info.tla) else {
        return 0;
    };
    let cmd = info.msg.genl_cmd();
    let done = cmd == genl::Cmd::InitialStateDone as u8;
    let finish = |app: &mut App| {
        app.out.flush();
        if app.opt_now && done {
            -1
        } else {
            0
        }
    };
    let action = nh_type & !genl::NOTIFY_CONTINUES;
    if action as usize >= ACTIONS.len() {
        return finish(app);
    }
    if app.opt_now && action != 0 {
        return 0;
    }
    let mut ctx = CfgContext::default();
    let object = match cmd {
        34 => Some("resource"),
        35 => Some("device"),
        36 => Some("connection"),
        37 => Some("peer-device"),
        40 => Some("helper"),
        _ => None,
    };
    if !done {
        match CfgContext::from_tla(&info.tla) {
            Some(c) => ctx = c,
            None => return 0,
        }
        if object.is_none() {
            return finish(app);
        }
    }
    if action != 0 {
        let seq = info.msg.seq;
        if let Some(last) = app.show.last_seq {
            let skipped = seq.wrapping_sub(last.wrapping_add(1)) as i32;
            if skipped != 0 {
                app.out.print(&format!("- skipped {skipped}\n"));
            }
        }
        app.show.last_seq = Some(seq);
    }
    if app.opt_timestamps {
        if !app.show.keep_tv {
            app.show.tv = crate::sys::timestamp_now();
        }
        app.show.keep_tv = nh_type & genl::NOTIFY_CONTINUES != 0;
        let tv = app.show.tv.clone();
        app.out.print(&tv);
    }
    let key = (!done).then(|| event_key(object.unwrap_or(""), dh.minor, &ctx));
    app.out.print(&format!(
        "{} {}",
        ACTIONS[action as usize],
        key.as_deref().unwrap_or("-")
    ));
    let key = key.unwrap_or_default();
    let destroy = action == 3;
    let (verbose, statistics) = (app.opt_verbose, app.opt_statistics);
    let tla = &info.tla;
    let mut line = String::new();
    {
        let mut o = Out::new(80);
        let mut p = Printer {
            out: &mut o,
            wrap: false,
        };
        match cmd {
            34 if !destroy => 'c: {
                let mut i = ResourceInfo::default();
                if !i.fill(tla) {
                    break 'c;
                }
                let mut s = ResourceStatistics::default();
                let have = s.fill(tla);
                let old = app.show.known.insert(key.clone(), Known::Resource(i, s));
                let old = match old {
                    Some(Known::Resource(oi, os)) => Some((oi, os)),
                    _ => None,
                };
                if let (Some((_, os)), false) = (&old, have) {
                    s = *os;
                }
                if old.is_none_or(|(oi, _)| oi.role != i.role) {
                    p.p(0, &format!(" role:{}", role_str(i.role)));
                }
                if old.is_none_or(|(oi, _)| {
                    oi.susp != i.susp || oi.susp_nod != i.susp_nod || oi.susp_fen != i.susp_fen
                }) {
                    p.p(0, &format!(" suspended:{}", susp_str(&i)));
                }
                if statistics && have {
                    print_resource_statistics(&mut p, 0, old.as_ref().map(|(_, s)| s), &s);
                }
            }
            35 if !destroy => 'c: {
                let mut i = DeviceInfo::default();
                if !i.fill(tla) {
                    break 'c;
                }
                let mut s = DeviceStatistics::default();
                let have = s.fill(tla);
                let old = match app.show.known.insert(key.clone(), Known::Device(i, s)) {
                    Some(Known::Device(oi, os)) => Some((oi, os)),
                    _ => None,
                };
                if let (Some((_, os)), false) = (&old, have) {
                    s = *os;
                }
                if old.is_none_or(|(oi, _)| oi.disk_state != i.disk_state) {
                    p.p(0, &format!(" disk:{}", disk_str(i.disk_state)));
                }
                if statistics && have {
                    print_device_statistics(
                        &mut p,
                        0,
                        old.as_ref().map(|(_, s)| s),
                        &s,
                        verbose,
                        statistics,
                    );
                }
            }
            36 if !destroy => 'c: {
                let mut i = ConnectionInfo::default();
                if !i.fill(tla) {
                    break 'c;
                }
                let mut s = ConnectionStatistics::default();
                let have = s.fill(tla);
                let old = match app.show.known.insert(key.clone(), Known::Connection(i, s)) {
                    Some(Known::Connection(oi, os)) => Some((oi, os)),
                    _ => None,
                };
                if let (Some((_, os)), false) = (&old, have) {
                    s = *os;
                }
                if old.is_none_or(|(oi, _)| oi.connection_state != i.connection_state) {
                    p.p(0, &format!(" connection:{}", conn_str9(i.connection_state)));
                }
                if old.is_none_or(|(oi, _)| oi.role != i.role) {
                    p.p(0, &format!(" role:{}", role_str(i.role)));
                }
                if statistics && have {
                    print_connection_statistics(&mut p, 0, old.as_ref().map(|(_, s)| s), &s);
                }
            }
            37 if !destroy => 'c: {
                let mut i = PeerDeviceInfo::default();
                if !i.fill(tla) {
                    break 'c;
                }
                let mut s = PeerDeviceStatistics::default();
                let have = s.fill(tla);
                let old = match app.show.known.insert(key.clone(), Known::PeerDevice(i, s)) {
                    Some(Known::PeerDevice(oi, os)) => Some((oi, os)),
                    _ => None,
                };
                if let (Some((_, os)), false) = (&old, have) {
                    s = *os;
                }
                if old.is_none_or(|(oi, _)| oi.repl_state != i.repl_state) {
                    p.p(0, &format!(" replication:{}", repl_str9(i.repl_state)));
                }
                if old.is_none_or(|(oi, _)| oi.disk_state != i.disk_state) {
                    p.p(0, &format!(" peer-disk:{}", disk_str(i.disk_state)));
                }
                if old.is_none_or(|(oi, _)| {
                    oi.resync_susp_user != i.resync_susp_user
                        || oi.resync_susp_peer != i.resync_susp_peer
                        || oi.resync_susp_dependency != i.resync_susp_dependency
                }) {
                    p.p(0, &format!(" resync-suspended:{}", resync_susp_str(&i)));
                }
                if statistics && have {
                    print_peer_device_statistics(&mut p, 0, &s, verbose);
                }
            }
            34..=37 => {
                app.show.known.remove(&key);
            }
            40 => {
                if let Some((name, status)) = attrs::helper_info(tla) {
                    p.p(0, &format!(" helper:{name}"));
                    if action == 5 {
                        p.p(0, &format!(" status:{status}"));
                    }
                }
            }
            _ => {}
        }
        line.push_str(&o.text());
    }
    app.out.print(&line);
    app.out.print("\n");
    finish(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys() {
        let mut c = CfgContext {
            volume: u32::MAX,
            resource_name: "r0".into(),
            ..Default::default()
        };
        assert_eq!(event_key("resource", u32::MAX, &c), "resource name:r0");
        c.volume = 0;
        assert_eq!(
            event_key("device", 3, &c),
            "device name:r0 volume:0 minor:3"
        );
        c.peer_addr = vec![2, 0];
        assert_eq!(
            event_key("peer-device", 3, &c),
            "peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 minor:3"
        );
    }
}
