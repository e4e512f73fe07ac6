//! Request/reply exchanges with the kernel, as drbd-utils' libgenl and drbdsetup do them:
//! [`recv_reply`] waits for the one reply of a request, [`generic_get`] sends a query (a dump
//! when no minor is addressed) and hands every reply message, and for `events`/`wait-*` every
//! broadcast, to an output routine.

use drbd_core::genl::{self, DrbdGenlMsgHdr, NlaWriter, TopAttr, NLA_F_NESTED};

use crate::app_state::{App, Exit, ERR_MINOR_INVALID, NO_ERROR, OTHER_ERROR};
use crate::attrs::{self, CfgContext, Info, Tla};
use crate::nl::{self, DrbdRequest, GenlSock, Msg, RecvError};
use crate::sys;
use crate::table::{GetSpec, CTX_MINOR, CTX_RESOURCE};

/// `DEFAULT_MSG_SIZE` of libgenl.
pub const MSG_SIZE: usize = 8192;
// Nests are sent with NLA_F_NESTED, as drbd-utils 9.x does: the in-tree DRBD of current kernels
// validates requests strictly and refuses a nest without it (EINVAL).

/// `genl_recv_msgs` followed by `verify_header`, for requests that expect one reply.
pub enum Reply {
    Msg(Msg),
    /// A positive acknowledgement (`NLMSG_ERROR` with error 0): keep waiting.
    Ack,
    /// Anything else, with `genl_recv_msgs`'s description if it gave one.
    Err(Option<String>),
}

pub fn recv_reply(sock: &mut GenlSock, seq: Option<u32>, timeout: i32) -> Reply {
    let data = match sock.recv(timeout) {
        Ok(d) => d,
        Err(RecvError::TimedOut) => return Reply::Err(Some("timed out waiting for reply".into())),
        Err(RecvError::Failed(e)) => {
            return Reply::Err(Some(if e.raw_os_error() == Some(libc::ENOBUFS) {
                "packets droped, socket receive buffer overrun".into()
            } else {
                "failed to receive netlink reply".into()
            }))
        }
    };
    let (mut msgs, ok) = nl::split_datagram(&data);
    if !ok || msgs.is_empty() {
        return Reply::Err(Some("truncated message in netlink reply".into()));
    }
    let m = msgs.remove(0);
    if let Some(s) = seq {
        if m.seq != s {
            return Reply::Err(Some("sequence mismatch in netlink reply".into()));
        }
    }
    match m.ty {
        nl::NLMSG_NOOP | nl::NLMSG_OVERRUN => {
            Reply::Err(Some("unexpected message type in reply".into()))
        }
        nl::NLMSG_DONE => Reply::Err(None),
        nl::NLMSG_ERROR => {
            let e = -m.error_code();
            if e == 0 {
                Reply::Ack
            } else {
                Reply::Err(Some(sys::strerror(e)))
            }
        }
        _ => Reply::Msg(m),
    }
}

/// `generic_get`: sends a query (a dump when no minor is addressed), feeds every reply message
/// to `show`, and returns the exit code. `show` returns non-zero to stop (negative: success).
pub fn generic_get(
    app: &mut App,
    spec: GetSpec,
    timeout_arg: i32,
    show: &mut dyn FnMut(&mut App, Option<&Info<'_>>) -> i32,
) -> Result<i32, Exit> {
    let mut desc: Option<String> = None;
    let mut rv = NO_ERROR;
    let mut err = 0;
    'out: {
        if spec.continuous_poll {
            app.sock().join_ctrl_notify();
            if !app.sock().join_group(genl::MCAST_GROUP_EVENTS) {
                desc = Some("unable to join drbd events multicast group".into());
                rv = OTHER_ERROR;
                break 'out;
            }
        }
        let dump = app.minor == u32::MAX;
        let mut attrs = Vec::new();
        if dump && app.objname != "all" {
            let mut buf = vec![0u8; MSG_SIZE];
            let mut w = NlaWriter::new(&mut buf);
            if let Ok(n) = w.nest_start(TopAttr::CfgContext as u16 | NLA_F_NESTED) {
                let f = genl::CFG_CONTEXT.field(2).expect("ctx_resource_name");
                let _ = w.put_str_bytes(f.nla_type(), app.objname.as_bytes());
                let _ = w.nest_end(n);
            }
            let len = w.len();
            attrs = buf[..len].to_vec();
        }
        let fam = app.family_id();
        let minor = app.minor;
        let sock = app.sock();
        let seq = sock.next_seq();
        let req = DrbdRequest {
            cmd: spec.cmd,
            hdr: DrbdGenlMsgHdr { minor, flags: 0 },
            attrs,
        };
        let bytes = nl::encode_request(req, fam, seq, sock.pid, dump);
        if sock.send(&bytes).is_err() {
            desc = Some("error sending config command".into());
            rv = OTHER_ERROR;
            break 'out;
        }
        loop {
            let fd = {
                use std::os::fd::AsRawFd;
                app.sock().sock.as_raw_fd()
            };
            let start = std::time::Instant::now();
            let mut pfds = [
                libc::pollfd {
                    fd: 1,
                    events: libc::POLLHUP,
                    revents: 0,
                },
                libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            app.out.flush();
            // SAFETY: two valid pollfds.
            let ret = unsafe { libc::poll(pfds.as_mut_ptr(), 2, timeout_arg) };
            if ret == 0 {
                err = 5;
                break 'out;
            }
            if pfds[0].revents == libc::POLLERR || pfds[0].revents == libc::POLLHUP {
                break 'out;
            }
            let data = match app.sock().recv(-1) {
                Ok(d) => d,
                Err(RecvError::TimedOut) => {
                    err = 5;
                    break 'out;
                }
                Err(RecvError::Failed(_)) => {
                    err = 20;
                    break 'out;
                }
            };
            let (msgs, ok) = nl::split_datagram(&data);
            if !ok || msgs.is_empty() {
                continue;
            }
            match msgs[0].ty {
                nl::NLMSG_NOOP | nl::NLMSG_OVERRUN => continue,
                nl::NLMSG_DONE => {
                    if spec.continuous_poll {
                        continue;
                    }
                    err = show(app, None);
                    if err != 0 {
                        break 'out;
                    }
                    err = -msgs[0].error_code();
                    if err != 0 && (err != libc::ENODEV || !spec.missing_ok) {
                        eprintln!("received netlink error reply: {}", sys::strerror(err));
                        err = 20;
                    }
                    break 'out;
                }
                nl::NLMSG_ERROR => {
                    let e = -msgs[0].error_code();
                    if e == 0 {
                        continue;
                    }
                    let d = desc.clone().unwrap_or_else(|| sys::strerror(e));
                    eprintln!("received netlink error reply: {d}");
                    err = 20;
                    break 'out;
                }
                _ => {}
            }
            if timeout_arg != -1 && start.elapsed().as_millis() as i64 >= i64::from(timeout_arg) {
                err = 5;
                break 'out;
            }
            for m in &msgs {
                if m.ty < nl::NLMSG_MIN_TYPE {
                    continue;
                }
                if m.ty == nl::GENL_ID_CTRL {
                    if m.genl_cmd() == nl::CTRL_CMD_DELMCAST_GRP {
                        let body = m.payload.get(4..).unwrap_or(&[]);
                        let id = attrs::raw_field(body, nl::CTRL_ATTR_FAMILY_ID)
                            .and_then(|b| b.get(..2))
                            .map(|b| u16::from_ne_bytes([b[0], b[1]]));
                        if id == Some(fam) {
                            break 'out;
                        }
                    }
                    continue;
                }
                if m.ty != fam {
                    continue;
                }
                let Ok(tla) = Tla::parse(m.drbd_attrs()) else {
                    desc = Some(
                        "reply did not validate - do you need to upgrade your userland tools?"
                            .into(),
                    );
                    rv = OTHER_ERROR;
                    break 'out;
                };
                let hdr = m.drbd_hdr();
                if spec.continuous_poll {
                    if let Some(ctx) = CfgContext::from_tla(&tla) {
                        match app.context {
                            CTX_MINOR if app.minor != hdr.minor => {
                                continue;
                            }
                            CTX_RESOURCE if app.objname != ctx.resource_name => {
                                continue;
                            }
                            _ => {}
                        }
                    }
                }
                rv = hdr.ret_code();
                if rv == ERR_MINOR_INVALID {
                    if spec.warn_on_missing {
                        eprint!("Minor invalid");
                    }
                    if spec.missing_ok {
                        rv = NO_ERROR;
                    }
                }
                app.last_reply = Some(m.drbd_attrs().to_vec());
                if rv != NO_ERROR {
                    break 'out;
                }
                let info = Info { msg: m, hdr, tla };
                err = show(app, Some(&info));
                if err != 0 {
                    if err < 0 {
                        err = 0;
                    }
                    break 'out;
                }
            }
            if !spec.continuous_poll && !dump {
                err = show(app, None);
                break 'out;
            }
        }
    }
    if err == 0 {
        err = app.print_config_error(rv, desc.as_deref());
    }
    Ok(err)
}
