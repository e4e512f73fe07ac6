//! The configuration commands: the request drbdsetup builds from the parsed command line (the
//! context nest, then the command's struct nest with options and positional arguments), its
//! exchange with the kernel, and the result's message and exit code; `down`, `del-minor` and
//! `del-resource` also remove the registry links of what they took down.

use drbd_core::genl::{
    self, Cmd, DrbdGenlMsgHdr, FieldType, NlaWriter, StateRv, TopAttr, DRBD_GENL_F_SET_DEFAULTS,
    DRBD_MD_INDEX_FLEX_EXT, DRBD_MD_INDEX_FLEX_INT, NLA_F_NESTED,
};

use crate::addr::{Endpoint, LibcResolver};
use crate::app_state::{
    m_strtoll, warn_excess, App, Exit, ERR_RES_NOT_KNOWN, NO_ERROR, OTHER_ERROR,
};
use crate::attrs::CfgContext;
use crate::exchange::{generic_get, recv_reply, Reply, MSG_SIZE};
use crate::getopt::{Found, Parsed};
use crate::nl::{self, DrbdRequest};
use crate::sys;
use crate::table::{
    Arg, CmdDef, Field, GetSpec, Kind, OptTarget, CTX_CONNECTION, CTX_MINOR, CTX_RESOURCE,
};
use crate::usage::{command_usage, UsageType};

/// Puts an address attribute (`nla_put_address`); exits on a bad address.
fn put_address(w: &mut NlaWriter<'_>, ty: u16, text: &str) -> Result<(), Exit> {
    let ep = Endpoint::parse_with(text, &LibcResolver, &mut |m| eprint!("{m}")).map_err(|e| {
        eprint!("{}", e.message);
        Exit(e.exit_code)
    })?;
    let _ = w.put(ty, &ep.to_sockaddr());
    Ok(())
}

/// `field->put`: false when the argument is not acceptable for the field.
fn put_field(w: &mut NlaWriter<'_>, f: &Field, value: Option<&str>) -> Result<bool, Exit> {
    let yesno = |v: Option<&str>| match v {
        None | Some("yes") => Some(1u8),
        Some("no") => Some(0u8),
        Some(_) => None,
    };
    match f.kind {
        Kind::Boolean => match yesno(value) {
            Some(b) => {
                let _ = w.put_u8(f.nla_type, b);
                Ok(true)
            }
            None => Ok(false),
        },
        Kind::Flag => match yesno(value) {
            Some(b) => {
                if b != 0 {
                    let _ = w.put_u8(f.nla_type, b);
                }
                Ok(true)
            }
            None => Ok(false),
        },
        Kind::Enum => {
            let e = f
                .def
                .and_then(|d| d.values)
                .expect("enum fields have values");
            match value.and_then(|v| e.value_of(v)) {
                Some(n) => {
                    let _ = w.put_u32(f.nla_type, n);
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        Kind::Str => {
            let v = value.unwrap_or("");
            let _ = w.put_str_bytes(f.nla_type, v.as_bytes());
            Ok(true)
        }
        Kind::Address => {
            put_address(w, f.nla_type, value.unwrap_or(""))?;
            Ok(true)
        }
        Kind::Numeric => {
            let l = m_strtoll(value.unwrap_or(""), f.scale())?;
            match f.def.map(|d| d.ty) {
                Some(FieldType::U64) => {
                    let _ = w.put_u64(f.nla_type, l);
                }
                _ => {
                    let _ = w.put_u32(f.nla_type, l as u32);
                }
            }
            Ok(true)
        }
    }
}

/// `unregister_minor` / `unregister_resource`: removes the registry link.
pub fn unregister(path: &str) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("unlink: {}", sys::errtext(&e));
        }
    }
}

/// Builds a configuration request from the parsed command line. Returns the request, or the
/// result code drbdsetup ends with (messages already printed).
pub fn build_config_request(
    app: &mut App,
    cm: &CmdDef,
    parsed: &Parsed,
    targets: &[OptTarget],
) -> Result<Result<DrbdRequest, i32>, Exit> {
    let mut buf = vec![0u8; MSG_SIZE];
    let mut w = NlaWriter::new(&mut buf);
    let mut hdr = DrbdGenlMsgHdr {
        minor: u32::MAX,
        flags: 0,
    };
    if app.context & (CTX_RESOURCE | CTX_CONNECTION) != 0 {
        let n = w.nest_start(TopAttr::CfgContext as u16 | NLA_F_NESTED).ok();
        if app.context & CTX_RESOURCE != 0 {
            let f = genl::CFG_CONTEXT.field(2).expect("ctx_resource_name");
            let _ = w.put_str_bytes(f.nla_type(), app.objname.as_bytes());
        }
        if app.context & CTX_CONNECTION != 0 {
            let my = genl::CFG_CONTEXT.field(3).expect("ctx_my_addr").nla_type();
            let peer = genl::CFG_CONTEXT
                .field(4)
                .expect("ctx_peer_addr")
                .nla_type();
            put_address(&mut w, my, app.local_addr.as_deref().unwrap_or(""))?;
            put_address(&mut w, peer, app.peer_addr.as_deref().unwrap_or(""))?;
        }
        if let Some(n) = n {
            let _ = w.nest_end(n);
        }
    } else if app.context & CTX_MINOR != 0 {
        hdr.minor = app.minor;
    }

    let fields = cm.fields();
    let mut nest = None;
    for Found { index, val, arg } in &parsed.opts {
        let target = match index {
            Some(i) => targets[*i],
            None if *val == '(' as i32 => OptTarget::SetDefaults,
            None => return Ok(Err(OTHER_ERROR)),
        };
        match target {
            OptTarget::Field(i) => {
                let f = &fields[i];
                if nest.is_none() {
                    nest = w
                        .nest_start(cm.tla.expect("options imply a payload") as u16 | NLA_F_NESTED)
                        .ok();
                }
                if !put_field(&mut w, f, arg.as_deref())? {
                    eprintln!(
                        "Option --{}: invalid argument '{}'",
                        f.name,
                        arg.as_deref().unwrap_or("(null)")
                    );
                    return Ok(Err(OTHER_ERROR));
                }
            }
            OptTarget::SetDefaults => hdr.flags |= DRBD_GENL_F_SET_DEFAULTS,
            OptTarget::Plain(_) => return Ok(Err(OTHER_ERROR)),
        }
    }

    let mut ops = parsed.operands.iter();
    for (name, kind) in cm.args {
        let Some(arg) = ops.next() else {
            eprintln!("Missing argument '{name}'");
            let p = app.progname.clone();
            command_usage(&mut app.out, &p, cm, UsageType::Full);
            return Ok(Err(OTHER_ERROR));
        };
        if nest.is_none() {
            nest = w
                .nest_start(cm.tla.expect("arguments imply a payload") as u16 | NLA_F_NESTED)
                .ok();
        }
        match kind {
            Arg::BlockDev(id) => {
                if let Err(msg) = sys::check_block_dev(arg) {
                    eprint!("{msg}");
                    return Ok(Err(OTHER_ERROR));
                }
                let f = genl::DISK_CONF.field(*id).expect("device field");
                let _ = w.put_str_bytes(f.nla_type(), arg.as_bytes());
            }
            Arg::MdIdx => {
                let idx = match arg.as_str() {
                    "internal" => DRBD_MD_INDEX_FLEX_INT,
                    "flexible" => DRBD_MD_INDEX_FLEX_EXT,
                    a => m_strtoll(a, '1')? as i32,
                };
                let f = genl::DISK_CONF.field(3).expect("meta_dev_idx");
                let _ = w.put_u32(f.nla_type(), idx as u32);
            }
            Arg::ResourceName => {
                let f = genl::CFG_CONTEXT.field(2).expect("ctx_resource_name");
                let _ = w.put_str_bytes(f.nla_type(), arg.as_bytes());
            }
            Arg::Volume => {
                let v = m_strtoll(arg, '1')? as u32;
                let f = genl::CFG_CONTEXT.field(1).expect("ctx_volume");
                let _ = w.put_u32(f.nla_type(), v);
            }
            Arg::Minor => {
                let m = sys::minor_of_dev(arg);
                if m == u32::MAX {
                    eprintln!("Cannot determine minor device number of device '{arg}'");
                    return Ok(Err(OTHER_ERROR));
                }
                hdr.minor = m;
            }
        }
    }
    app.minor = hdr.minor;
    let excess: Vec<String> = ops.cloned().collect();
    if !excess.is_empty() {
        warn_excess(app, &excess);
        return Ok(Err(OTHER_ERROR));
    }
    if let Some(n) = nest {
        let _ = w.nest_end(n);
    }
    let len = w.len();
    let cmd = cm
        .cmd
        .expect("configuration commands have a netlink command");
    Ok(Ok(DrbdRequest {
        cmd,
        hdr,
        attrs: buf[..len].to_vec(),
    }))
}

/// `_generic_config_cmd`: returns the raw result code (ret code, state result, or
/// OTHER_ERROR) and an error description.
fn config_request(
    app: &mut App,
    cm: &CmdDef,
    parsed: &Parsed,
    targets: &[OptTarget],
) -> Result<(i32, Option<String>), Exit> {
    let req = match build_config_request(app, cm, parsed, targets)? {
        Ok(r) => r,
        Err(rv) => return Ok((rv, None)),
    };
    let fam = app.family_id();
    let sock = app.sock();
    let seq = sock.next_seq();
    let bytes = nl::encode_request(req, fam, seq, sock.pid, false);
    if sock.send(&bytes).is_err() {
        return Ok((OTHER_ERROR, Some("error sending config command".into())));
    }
    loop {
        match recv_reply(app.sock(), Some(seq), 120_000) {
            Reply::Msg(m) => {
                let dh = m.drbd_hdr();
                let mut rv = dh.ret_code();
                if rv == ERR_RES_NOT_KNOWN {
                    if cm.warn_on_missing && sys::isatty(2) {
                        eprintln!("Resource unknown");
                    }
                    if cm.missing_ok {
                        rv = NO_ERROR;
                    }
                }
                app.last_reply = Some(m.drbd_attrs().to_vec());
                return Ok((rv, None));
            }
            Reply::Ack => continue,
            Reply::Err(desc) => {
                return Ok((
                    OTHER_ERROR,
                    Some(desc.unwrap_or_else(|| "error receiving config reply".into())),
                ))
            }
        }
    }
}

pub fn generic_config_cmd(
    app: &mut App,
    cm: &CmdDef,
    parsed: &Parsed,
    targets: &[OptTarget],
) -> Result<i32, Exit> {
    let (rv, desc) = config_request(app, cm, parsed, targets)?;
    Ok(app.print_config_error(rv, desc.as_deref()))
}

/// `down_cmd`.
pub fn down_cmd(
    app: &mut App,
    cm: &CmdDef,
    parsed: &Parsed,
    targets: &[OptTarget],
) -> Result<i32, Exit> {
    if !parsed.operands.is_empty() {
        warn_excess(app, &parsed.operands);
        return Ok(OTHER_ERROR);
    }
    let minors = enumerate_minors(app)?;
    let (rv, _) = config_request(app, cm, parsed, targets)?;
    let success = (rv >= StateRv::Success as i32 && rv < genl::ERR_CODE_BASE) || rv == NO_ERROR;
    if success {
        for m in minors {
            unregister(&format!("/var/run/drbd/drbd-minor-{}.conf", m as i32));
        }
        unregister(&format!("/var/run/drbd/drbd-resource-{}.conf", app.objname));
        Ok(0)
    } else {
        Ok(app.print_config_error(rv, None))
    }
}

/// `enumerate_minors`: the minors of the resource (or all), from a status dump.
fn enumerate_minors(app: &mut App) -> Result<Vec<u32>, Exit> {
    let spec = GetSpec {
        cmd: Cmd::GetStatus,
        missing_ok: true,
        warn_on_missing: false,
        continuous_poll: false,
    };
    let mut minors = Vec::new();
    let err = generic_get(app, spec, 120_000, &mut |_app, info| {
        if let Some(i) = info {
            let c = CfgContext::from_tla(&i.tla).unwrap_or_default();
            if c.volume != u32::MAX {
                minors.push(i.hdr.minor);
            }
        }
        0
    })?;
    minors.reverse();
    Ok(if err != 0 { Vec::new() } else { minors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_state::tests::test_app;
    use crate::cmdline::parse_command_line;
    use crate::table::find_cmd;

    /// The request drbdsetup builds for a command line (without sending it).
    fn request(args: &[&str]) -> DrbdRequest {
        let mut app = test_app();
        let cm = find_cmd(args[0]).unwrap();
        let rest: Vec<String> = args[1..].iter().map(|s| s.to_string()).collect();
        let (parsed, targets) = parse_command_line(&mut app, cm, &rest).ok().unwrap();
        match build_config_request(&mut app, cm, &parsed, &targets)
            .ok()
            .unwrap()
        {
            Ok(r) => r,
            Err(rv) => panic!("{args:?}: refused with {rv}"),
        }
    }

    /// An attribute: nla_len, nla_type, payload, padding.
    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    const M: u16 = 1 << 14; // DRBD_GENLA_F_MANDATORY
    const N: u16 = 1 << 15; // NLA_F_NESTED

    fn sockaddr_in(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut v = 2u16.to_ne_bytes().to_vec();
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 8]);
        v
    }

    // The expected attribute streams follow drbd-utils' `_generic_config_cmd`: the context nest
    // (resource name, then the two addresses), then the command's struct nest with the options in
    // command-line order and the positional arguments after them; mandatory fields carry bit 14,
    // nests bit 15.

    #[test]
    fn primary_force() {
        let r = request(&["primary", "0", "--force"]);
        assert_eq!(r.cmd, Cmd::Primary);
        assert_eq!(r.hdr, DrbdGenlMsgHdr { minor: 0, flags: 0 });
        assert_eq!(r.attrs, nla(6 | N, &nla(1 | M, &[1])));
        // --force=no sends an empty nest; --overwrite-data-of-peer is the old spelling.
        assert_eq!(
            request(&["primary", "0", "--force=no"]).attrs,
            nla(6 | N, &[])
        );
        assert_eq!(
            request(&["primary", "/dev/drbd3", "--overwrite-data-of-peer"])
                .hdr
                .minor,
            3
        );
        let s = request(&["secondary", "5"]);
        assert_eq!((s.cmd, s.hdr.minor, s.attrs.len()), (Cmd::Secondary, 5, 0));
    }

    #[test]
    fn disk_options_with_units_and_defaults_flag() {
        let r = request(&[
            "disk-options",
            "3",
            "--resync-rate=10M",
            "--on-io-error=pass_on",
            "--set-defaults",
            "--disk-barrier",
            "--resync-after=-1",
            "--c-fill-target=1M",
        ]);
        assert_eq!(r.cmd, Cmd::ChgDiskOpts);
        assert_eq!(r.hdr, DrbdGenlMsgHdr { minor: 3, flags: 1 });
        let mut inner = nla(8 | M, &10240u32.to_ne_bytes());
        inner.extend(nla(6 | M, &0u32.to_ne_bytes()));
        inner.extend(nla(16 | M, &[1]));
        inner.extend(nla(9 | M, &u32::MAX.to_ne_bytes()));
        inner.extend(nla(13 | M, &2048u32.to_ne_bytes()));
        assert_eq!(r.attrs, nla(3 | N, &inner));
    }

    #[test]
    fn attach_arguments_follow_options() {
        // Block devices are checked by opening them, so only the index conversions are covered
        // here; the scenario covers real devices.
        let mut app = test_app();
        let cm = find_cmd("attach").unwrap();
        let args: Vec<String> = ["0", "/nonexistent", "/nonexistent", "internal"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (parsed, targets) = parse_command_line(&mut app, cm, &args).ok().unwrap();
        assert_eq!(app.minor, 0);
        assert_eq!(parsed.operands.len(), 3);
        assert_eq!(
            build_config_request(&mut app, cm, &parsed, &targets)
                .ok()
                .unwrap(),
            Err(OTHER_ERROR)
        );
    }

    #[test]
    fn connect_context_and_net_conf() {
        let r = request(&[
            "connect",
            "r0",
            "ipv4:127.0.0.1:7789",
            "127.0.0.1:7790",
            "--protocol=c",
            "--shared-secret=s3",
            "--discard-my-data=no",
            "--dry-run",
        ]);
        assert_eq!(r.cmd, Cmd::Connect);
        assert_eq!(
            r.hdr,
            DrbdGenlMsgHdr {
                minor: u32::MAX,
                flags: 0
            }
        );
        let mut ctx = nla(2 | M, b"r0\0");
        ctx.extend(nla(3 | M, &sockaddr_in(7789, [127, 0, 0, 1])));
        ctx.extend(nla(4 | M, &sockaddr_in(7790, [127, 0, 0, 1])));
        let mut net = nla(6 | M, &3u32.to_ne_bytes());
        net.extend(nla(1 | M, b"s3\0"));
        net.extend(nla(28 | M, &[1]));
        let mut want = nla(2 | N, &ctx);
        want.extend(nla(5 | N, &net));
        assert_eq!(r.attrs, want);
    }

    #[test]
    fn new_minor_and_resource_commands() {
        let r = request(&["new-minor", "r0", "7", "1"]);
        assert_eq!(r.hdr, DrbdGenlMsgHdr { minor: 7, flags: 0 });
        let mut ctx = nla(2 | M, b"r0\0");
        ctx.extend(nla(1 | M, &1u32.to_ne_bytes()));
        assert_eq!(r.attrs, nla(2 | N, &ctx));
        let r = request(&["new-resource", "r1", "--on-no-data-accessible=suspend-io"]);
        let mut want = nla(2 | N, &nla(2 | M, b"r1\0"));
        want.extend(nla(4 | N, &nla(2 | M, &1u32.to_ne_bytes())));
        assert_eq!(r.attrs, want);
        let r = request(&["disconnect", "10.0.0.1", "10.0.0.2:1", "--force"]);
        let mut ctx = nla(3 | M, &sockaddr_in(7788, [10, 0, 0, 1]));
        ctx.extend(nla(4 | M, &sockaddr_in(1, [10, 0, 0, 2])));
        let mut want = nla(2 | N, &ctx);
        want.extend(nla(12 | N, &nla(1 | M, &[1])));
        assert_eq!(r.attrs, want);
        let r = request(&["down", "r0"]);
        assert_eq!(r.attrs, nla(2 | N, &nla(2 | M, b"r0\0")));
    }

    #[test]
    fn refusals_before_sending() {
        let mut app = test_app();
        let cm = find_cmd("connect").unwrap();
        let args: Vec<String> = ["r0", "1.2.3.4", "1.2.3.5", "--protocol=D"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (parsed, targets) = parse_command_line(&mut app, cm, &args).ok().unwrap();
        assert_eq!(
            build_config_request(&mut app, cm, &parsed, &targets)
                .ok()
                .unwrap(),
            Err(OTHER_ERROR)
        );
        let cm = find_cmd("new-minor").unwrap();
        let args: Vec<String> = ["r0", "1", "0", "extra"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut app = test_app();
        let (parsed, targets) = parse_command_line(&mut app, cm, &args).ok().unwrap();
        assert_eq!(
            build_config_request(&mut app, cm, &parsed, &targets)
                .ok()
                .unwrap(),
            Err(OTHER_ERROR)
        );
        assert_eq!(
            app.out.text(),
            "\n",
            "the excess-arguments line ends on stdout"
        );
    }
}
