//! The query commands: `generic_get_cmd` reads the options of `role`, `show`, `events2`,
//! `wait-connect` and the other `*_scmd` commands, picks the wait timeout and runs the query with
//! the command's output routine; `status_cmd` collects resources, devices, connections and peer
//! devices with four dumps and prints them per resource.

use drbd_core::genl::{self, Cmd, DrbdGenlMsgHdr};

use crate::app_state::{m_strtoll, warn_excess, App, Exit, ERR_MINOR_INVALID, NO_ERROR};
use crate::attrs::{
    self, CfgContext, ConnectionInfo, ConnectionStatistics, DeviceInfo, DeviceStatistics, Info,
    PeerDeviceInfo, PeerDeviceStatistics, ResourceInfo, ResourceStatistics, Tla,
};
use crate::exchange::{generic_get, recv_reply, Reply};
use crate::getopt::Parsed;
use crate::nl::{self, DrbdRequest};
use crate::out::{ColorMode, Colors};
use crate::status::{print_resource, Connection, Device, Opts, PeerDevice, Resource};
use crate::table::{CmdDef, GetSpec, Scmd};

/// `generic_get_cmd`: option handling of the query commands, then the query.
pub fn generic_get_cmd(
    app: &mut App,
    cm: &CmdDef,
    show: Scmd,
    parsed: &Parsed,
) -> Result<i32, Exit> {
    let mut wfc: i64 = genl::limits::WFC_TIMEOUT_DEF;
    let mut degr: i64 = genl::limits::DEGR_WFC_TIMEOUT_DEF;
    let mut outdated: i64 = genl::limits::OUTDATED_WFC_TIMEOUT_DEF;
    use genl::limits as l;
    for o in &parsed.opts {
        let arg = o.arg.as_deref();
        match char::from_u32(o.val as u32).unwrap_or('?') {
            't' => {
                wfc = m_strtoll(arg.unwrap_or(""), '1')? as i32 as i64;
                if !(l::WFC_TIMEOUT_MIN..=l::WFC_TIMEOUT_MAX).contains(&wfc) {
                    eprintln!(
                        "wfc_timeout => {wfc} out of range [{}..{}]",
                        l::WFC_TIMEOUT_MIN,
                        l::WFC_TIMEOUT_MAX
                    );
                    return Ok(20);
                }
            }
            'd' => {
                degr = m_strtoll(arg.unwrap_or(""), '1')? as i32 as i64;
                if !(l::DEGR_WFC_TIMEOUT_MIN..=l::DEGR_WFC_TIMEOUT_MAX).contains(&degr) {
                    eprintln!(
                        "degr_wfc_timeout => {degr} out of range [{}..{}]",
                        l::DEGR_WFC_TIMEOUT_MIN,
                        l::DEGR_WFC_TIMEOUT_MAX
                    );
                    return Ok(20);
                }
            }
            'o' => {
                outdated = m_strtoll(arg.unwrap_or(""), '1')? as i32 as i64;
                if !(l::OUTDATED_WFC_TIMEOUT_MIN..=l::OUTDATED_WFC_TIMEOUT_MAX).contains(&outdated)
                {
                    eprintln!(
                        "outdated_wfc_timeout => {outdated} out of range [{}..{}]",
                        l::OUTDATED_WFC_TIMEOUT_MIN,
                        l::OUTDATED_WFC_TIMEOUT_MAX
                    );
                    return Ok(20);
                }
            }
            'n' => app.opt_now = true,
            's' => {
                app.opt_verbose = true;
                app.opt_statistics = true;
            }
            'w' => {
                if arg.is_none() || arg == Some("yes") {
                    app.wait_after_sb = true;
                }
            }
            'D' => app.show_defaults = true,
            'T' => app.opt_timestamps = true,
            // `-(` passes main's getopt (its option string is "("), not the command's own.
            c => {
                eprintln!("{}: invalid option -- '{c}'", cm.name);
                return Ok(20);
            }
        }
    }
    if !parsed.operands.is_empty() {
        warn_excess(app, &parsed.operands);
        return Ok(20);
    }
    let mut timeout_ms = -1;
    if cm.wait_for_connect_timeouts {
        match choose_timeout(app, wfc as i32, degr as i32, outdated as i32) {
            Ok(t) => {
                if t != 0 {
                    timeout_ms = t * 1000;
                }
            }
            Err(code) => return Ok(code),
        }
    } else if !cm.continuous_poll {
        timeout_ms = 120_000;
    }
    let spec = GetSpec {
        cmd: cm.cmd.expect("query commands have a netlink command"),
        missing_ok: cm.missing_ok,
        warn_on_missing: cm.warn_on_missing,
        continuous_poll: cm.continuous_poll,
    };
    let name = cm.name;
    generic_get(app, spec, timeout_ms, &mut |app, info| {
        crate::scmd::dispatch(app, show, name, spec, info)
    })
}

/// `choose_timeout`: which of the wait timeouts applies, asked from the kernel.
fn choose_timeout(app: &mut App, wfc: i32, mut degr: i32, mut outdated: i32) -> Result<i32, i32> {
    if 0 < wfc && (wfc < degr || degr == 0) {
        degr = wfc;
        eprint!("degr-wfc-timeout has to be shorter than wfc-timeout\ndegr-wfc-timeout implicitly set to wfc-timeout ({degr}s)\n");
    }
    if 0 < degr && (degr < outdated || outdated == 0) {
        outdated = wfc;
        eprint!("outdated-wfc-timeout has to be shorter than degr-wfc-timeout\noutdated-wfc-timeout implicitly set to degr-wfc-timeout ({degr}s)\n");
    }
    let fam = app.family_id();
    let minor = app.minor;
    let sock = app.sock();
    let seq = sock.next_seq();
    let req = DrbdRequest {
        cmd: Cmd::GetTimeoutType,
        hdr: DrbdGenlMsgHdr { minor, flags: 0 },
        attrs: Vec::new(),
    };
    let bytes = nl::encode_request(req, fam, seq, sock.pid, false);
    let desc: String = if sock.send(&bytes).is_err() {
        "error sending config command".into()
    } else {
        match recv_reply(sock, Some(seq), 120_000) {
            Reply::Msg(m) => {
                let rr = m.drbd_hdr().ret_code();
                if rr == ERR_MINOR_INVALID {
                    "minor not available".into()
                } else if rr != NO_ERROR {
                    "error receiving netlink reply".into()
                } else {
                    match Tla::parse(m.drbd_attrs())
                        .ok()
                        .and_then(|t| attrs::timeout_type(&t))
                    {
                        Some(t) => {
                            return Ok(match t {
                                1 => degr,
                                2 => outdated,
                                _ => wfc,
                            })
                        }
                        None => {
                            "reply did not validate - do you need to upgrade your userland tools?"
                                .into()
                        }
                    }
                }
            }
            Reply::Ack | Reply::Err(None) => "error receiving netlink reply".into(),
            Reply::Err(Some(d)) => d,
        }
    };
    eprintln!("error determining which timeout to use: {desc}");
    Err(20)
}

/// Runs one of the status dumps for `resource` (or all); the dump's messages go to `f`.
fn list(
    app: &mut App,
    cmd: Cmd,
    missing_ok: bool,
    resource: Option<&str>,
    f: &mut dyn FnMut(&Info<'_>),
) -> Result<bool, Exit> {
    let old_obj = std::mem::replace(&mut app.objname, resource.unwrap_or("all").to_string());
    let old_minor = std::mem::replace(&mut app.minor, u32::MAX);
    let spec = GetSpec {
        cmd,
        missing_ok,
        warn_on_missing: false,
        continuous_poll: false,
    };
    let r = generic_get(app, spec, 120_000, &mut |_, info| {
        if let Some(i) = info {
            f(i);
        }
        0
    });
    app.objname = old_obj;
    app.minor = old_minor;
    Ok(r? == 0)
}

/// `status_cmd`.
pub fn status_cmd(app: &mut App, cm: &CmdDef, parsed: &Parsed) -> Result<i32, Exit> {
    for o in &parsed.opts {
        match char::from_u32(o.val as u32).unwrap_or('?') {
            'v' => app.opt_verbose = true,
            's' => app.opt_statistics = true,
            'c' => {
                app.color = match o.arg.as_deref() {
                    None | Some("always") => ColorMode::Always,
                    Some("never") => ColorMode::Never,
                    Some("auto") => ColorMode::Auto,
                    Some(_) => return Err(app.usage_exit(Some("unknown --color argument"))),
                }
            }
            // `-(` passes main's getopt (its option string is "("), not the command's own.
            c => {
                eprintln!("{}: invalid option -- '{c}'", cm.name);
                return Ok(20);
            }
        }
    }

    let mut resources = Vec::new();
    let ok = list(app, Cmd::GetResources, false, None, &mut |i| {
        let c = CfgContext::from_tla(&i.tla).unwrap_or_default();
        let mut r = Resource {
            name: c.resource_name,
            info: ResourceInfo::default(),
            stats: ResourceStatistics::default(),
        };
        r.info.fill(&i.tla);
        r.stats.fill(&i.tla);
        resources.push(r);
    })?;
    if !ok {
        resources.clear();
    }
    resources.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));

    let opts = Opts {
        verbose: app.opt_verbose,
        statistics: app.opt_statistics,
        colors: Colors::new(app.color),
    };
    let mut found = false;
    for r in &resources {
        if app.objname != "all" && app.objname != r.name {
            continue;
        }
        let mut devices = Vec::new();
        let ok = list(app, Cmd::GetDevices, false, Some(&r.name), &mut |i| {
            let ctx = CfgContext::from_tla(&i.tla).unwrap_or_default();
            if ctx.volume != u32::MAX {
                let mut d = Device {
                    minor: i.hdr.minor,
                    ctx,
                    info: DeviceInfo::default(),
                    stats: DeviceStatistics::default(),
                };
                d.info.fill(&i.tla);
                d.stats.fill(&i.tla);
                devices.push(d);
            }
        })?;
        if !ok {
            devices.clear();
        }
        let mut connections = Vec::new();
        let ok = list(app, Cmd::GetConnections, true, Some(&r.name), &mut |i| {
            let mut c = Connection {
                ctx: CfgContext::from_tla(&i.tla).unwrap_or_default(),
                info: ConnectionInfo::default(),
                stats: ConnectionStatistics::default(),
            };
            c.info.fill(&i.tla);
            c.stats.fill(&i.tla);
            connections.push(c);
        })?;
        if !ok {
            connections.clear();
        }
        let mut peer_devices = Vec::new();
        if !devices.is_empty() && !connections.is_empty() {
            let ok = list(app, Cmd::GetPeerDevices, false, Some(&r.name), &mut |i| {
                let mut p = PeerDevice {
                    ctx: CfgContext::from_tla(&i.tla).unwrap_or_default(),
                    info: PeerDeviceInfo::default(),
                    stats: PeerDeviceStatistics::default(),
                    device: None,
                };
                p.info.fill(&i.tla);
                p.stats.fill(&i.tla);
                peer_devices.push(p);
            })?;
            if !ok {
                peer_devices.clear();
            }
        }
        for p in peer_devices.iter_mut() {
            p.device = devices.iter().position(|d| d.ctx.volume == p.ctx.volume);
        }
        print_resource(&mut app.out, opts, r, &devices, &connections, &peer_devices);
        found = true;
    }
    if !found && app.objname != "all" {
        eprintln!("{}: No such resource", app.objname);
        return Ok(10);
    }
    Ok(0)
}
