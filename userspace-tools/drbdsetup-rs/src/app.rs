//! drbdsetup-84's main program: the help texts, the connection to the `drbd` family, the
//! command line, the minor's lock, and the command's action (a configuration request, a query,
//! `status`), whose result is the exit code.

use drbd_core::genl;

use crate::app_state::{App, Exit};
use crate::cmdline::parse_command_line;
use crate::config_cmds::{down_cmd, generic_config_cmd, unregister};
use crate::nl::GenlSock;
use crate::query_cmds::{generic_get_cmd, status_cmd};
use crate::sys;
use crate::table::{find_cmd, Action, CTX_MINOR};
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
        Action::Status => status_cmd(app, cm, &parsed),
    };
    if let Some(fd) = lock {
        // SAFETY: closing the lock descriptor we opened.
        unsafe { libc::close(fd) };
    }
    rv
}
