//! The argument handling of drbdsetup's `main` after the command name: the command's options
//! (getopt over the long options of its table entry) and the object it addresses (minor,
//! resource, `all`, connection endpoints), which are recorded in [`App`].

use crate::app_state::{App, Exit};
use crate::getopt::{getopt_long, Parsed};
use crate::sys;
use crate::table::{
    CmdDef, OptTarget, CTX_ALL, CTX_CONNECTION, CTX_MINOR, CTX_RESOURCE,
    CTX_RESOURCE_AND_CONNECTION,
};
use crate::usage::{command_usage, UsageType};

/// The argument handling of drbdsetup's `main`: options (errors end in the general usage), then
/// the object the command addresses (minor, resource, `all`, connection endpoints). Returns the
/// options and the remaining operands.
pub fn parse_command_line(
    app: &mut App,
    cm: &CmdDef,
    args: &[String],
) -> Result<(Parsed, Vec<OptTarget>), Exit> {
    // getopt sees argv[0] = the command name; that is what its messages are prefixed with.
    let (longopts, targets) = cm.long_options();
    let parsed = match getopt_long(cm.name, args, "(", &longopts) {
        Ok(p) => p,
        Err(msg) => {
            eprint!("{msg}");
            return Err(app.usage_exit(None));
        }
    };
    let mut operands = parsed.operands.clone();

    app.context = 0;
    if cm.ctx_key & (CTX_MINOR | CTX_RESOURCE | CTX_ALL | CTX_RESOURCE_AND_CONNECTION) != 0 {
        if operands.is_empty()
            && cm.ctx_key & (CTX_RESOURCE_AND_CONNECTION | CTX_CONNECTION) == 0
            && cm.ctx_key & CTX_ALL != 0
        {
            app.context |= CTX_ALL;
            app.objname = "all".into();
        } else {
            if operands.is_empty() {
                eprintln!("Missing first argument");
                let p = app.progname.clone();
                command_usage(&mut app.out, &p, cm, UsageType::Full);
                return Err(Exit(20));
            }
            let obj = operands.remove(0);
            ensure_sanity_of_res_name(&obj)?;
            app.objname = obj.clone();
            if obj == "all" {
                if cm.ctx_key & CTX_ALL == 0 {
                    return Err(app.usage_exit(Some("command does not accept argument 'all'")));
                }
                app.context = CTX_ALL;
            } else if cm.ctx_key & CTX_MINOR != 0 {
                app.minor = sys::minor_of_dev(&obj);
                if app.minor != u32::MAX {
                    app.context = CTX_MINOR;
                } else if cm.ctx_key & (CTX_RESOURCE | CTX_RESOURCE_AND_CONNECTION) == 0 {
                    eprintln!("Cannot determine minor device number of device '{obj}'");
                    return Err(Exit(20));
                }
            }
            if app.context == 0 {
                app.context = CTX_RESOURCE;
            }
        }
    }
    if cm.ctx_key & (CTX_CONNECTION | CTX_RESOURCE_AND_CONNECTION) != 0 {
        if operands.len() < 2 {
            eprintln!("Missing connection endpoint argument");
            let p = app.progname.clone();
            command_usage(&mut app.out, &p, cm, UsageType::Full);
            return Err(Exit(20));
        }
        app.local_addr = Some(operands.remove(0));
        app.peer_addr = Some(operands.remove(0));
        app.context |= CTX_CONNECTION;
    }
    if app.objname.is_empty() {
        app.objname = "??".into();
    }
    Ok((
        Parsed {
            opts: parsed.opts,
            operands,
        },
        targets,
    ))
}

/// `ensure_sanity_of_res_name`.
fn ensure_sanity_of_res_name(name: &str) -> Result<(), Exit> {
    if name.is_empty() {
        eprintln!("Resource name is empty.");
        return Err(Exit(1));
    }
    if name.bytes().any(|b| b < b' ' || b == 0x7f) {
        eprintln!("Resource name is invalid - please don't use control characters.");
        return Err(Exit(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_state::tests::test_app;
    use crate::table::find_cmd;

    #[test]
    fn context_errors() {
        let run = |args: &[&str]| {
            let mut app = test_app();
            let cm = find_cmd(args[0]).unwrap();
            let rest: Vec<String> = args[1..].iter().map(|s| s.to_string()).collect();
            let r = parse_command_line(&mut app, cm, &rest).err().map(|e| e.0);
            (r, app.out.text())
        };
        assert_eq!(run(&["primary"]).0, Some(20));
        assert!(run(&["primary"])
            .1
            .starts_with("USAGE:\n drbdsetup primary {minor}"));
        assert_eq!(run(&["primary", "r0"]).0, Some(20));
        assert_eq!(run(&["primary", ""]).0, Some(1));
        let (code, out) = run(&["primary", "all"]);
        assert_eq!(code, Some(20));
        assert!(out.ends_with("\ncommand does not accept argument 'all'\n"));
        assert_eq!(run(&["disconnect", "1.2.3.4"]).0, Some(20));
        assert_eq!(run(&["attach", "0", "--bogus"]).0, Some(20));
        assert_eq!(run(&["status"]).0, None);
        assert_eq!(run(&["status", "-v"]).0, Some(20));
    }
}
