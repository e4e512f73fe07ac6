//! drbdsetup-84's main program: argument handling, configuration requests, queries, and how
//! their results become messages and exit codes.

use drbd_core::genl::{self, Cmd, DrbdGenlMsgHdr};

use crate::app_state::{m_strtoll, warn_excess, App, Exit, ERR_MINOR_INVALID, NO_ERROR};
use crate::attrs::{self, Tla};
use crate::cmdline::parse_command_line;
use crate::config_cmds::{down_cmd, generic_config_cmd, unregister};
use crate::exchange::{generic_get, recv_reply, Reply};
use crate::getopt::Parsed;
use crate::nl::{self, DrbdRequest, GenlSock};
use crate::sys;
use crate::table::{find_cmd, Action, CmdDef, GetSpec, Scmd, CTX_MINOR};
use crate::usage::{command_usage, UsageType};

/// The process's entry: returns the exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let progname = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "drbdsetup".into());
    let mut app = App::new(&progname);
    let code = match main_inner(&mut app, argv) {
        Ok(c) => c,
        Err(Exit(c)) => c,
    };
    app.out.flush();
    code
}

fn main_inner(app: &mut App, mut argv: Vec<String>) -> Result<i32, Exit> {
    if argv.len() > 2 && (argv[2] == "--help" || argv[2] == "-h") {
        argv.swap(1, 2);
    }
    if argv.len() > 1 && ["help", "xml-help", "--help", "-h"].contains(&argv[1].as_str()) {
        let ut = if argv[1] == "xml-help" {
            UsageType::Xml
        } else {
            UsageType::Full
        };
        if argv.len() > 2 {
            match find_cmd(&argv[2]) {
                Some(cm) => {
                    let p = app.progname.clone();
                    command_usage(&mut app.out, &p, cm, ut);
                    return Ok(0);
                }
                None => return Err(app.usage_exit(Some("unknown command"))),
            }
        }
        return Err(app.usage_exit(None));
    }
    if argv.len() >= 3 && find_cmd(&argv[1]).is_none() && find_cmd(&argv[2]).is_some() {
        argv.swap(1, 2);
    }
    if argv.len() < 2 {
        return Err(app.usage_exit(None));
    }
    let Some(cm) = find_cmd(&argv[1]) else {
        return Err(app.usage_exit(Some("invalid command")));
    };
    if !sys::modprobe_drbd() {
        return Ok(20);
    }
    match GenlSock::connect(genl::FAMILY_NAME) {
        Some(s) => {
            if s.family.version != genl::FAMILY_VERSION
                || s.family.hdrsize as usize != genl::DRBD_GENLMSGHDR_SIZE
            {
                eprint!(
                    "API mismatch!\n\tAPI version drbdsetup: {} kernel: {}\n\theader size drbdsetup: {} kernel: {}\n",
                    genl::FAMILY_VERSION,
                    s.family.version,
                    genl::DRBD_GENLMSGHDR_SIZE,
                    s.family.hdrsize
                );
                return Ok(20);
            }
            app.sock = Some(s);
        }
        None => {
            eprintln!("Could not connect to 'drbd' generic netlink family");
            return Ok(20);
        }
    }

    let (parsed, targets) = parse_command_line(app, cm, &argv[2..])?;

    let lock = if app.context & CTX_MINOR != 0 && !cm.lockless {
        match sys::lock_drbd(app.minor) {
            Ok(fd) => Some(fd),
            Err(msg) => {
                eprint!("{msg}");
                return Err(Exit(20));
            }
        }
    } else {
        None
    };
    let rv = match cm.action {
        Action::Config => generic_config_cmd(app, cm, &parsed, &targets),
        Action::Down => down_cmd(app, cm, &parsed, &targets),
        Action::DelMinor => {
            let rv = generic_config_cmd(app, cm, &parsed, &targets)?;
            if rv == 0 {
                unregister(&format!(
                    "/var/run/drbd/drbd-minor-{}.conf",
                    app.minor as i32
                ));
            }
            Ok(rv)
        }
        Action::DelResource => {
            let rv = generic_config_cmd(app, cm, &parsed, &targets)?;
            if rv == 0 {
                unregister(&format!("/var/run/drbd/drbd-resource-{}.conf", app.objname));
            }
            Ok(rv)
        }
        Action::Get(show) => generic_get_cmd(app, cm, show, &parsed),
        Action::Status => crate::status::status_cmd(app, cm, &parsed),
    };
    if let Some(fd) = lock {
        // SAFETY: closing the lock descriptor we opened.
        unsafe { libc::close(fd) };
    }
    rv
}

/// `generic_get_cmd`: option handling of the query commands, then the query.
fn generic_get_cmd(app: &mut App, cm: &CmdDef, show: Scmd, parsed: &Parsed) -> Result<i32, Exit> {
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
