// SPDX-License-Identifier: GPL-2.0

//! The context of a request (`drbd_adm_prepare`: [`AdmCtx`]), what it found ([`Found`]),
//! and what each command needs; every handler works on these.

use super::*;
use super::{attrs::*};

/// The `ret_code` of a device operation: its state-change result or its error.
pub(super) fn ret_of(r: core::result::Result<StateRv, DrbdRet>) -> i32 {
    match r {
        Ok(rv) => rv.raw(),
        Err(e) => e.code(),
    }
}

/// What `drbd_adm_prepare` requires of a command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Nothing,
    Minor,
    Resource,
    Connection,
}

pub(super) fn need(cmd: Cmd) -> Need {
    match cmd {
        Cmd::NewResource => Need::Nothing,
        Cmd::NewMinor | Cmd::DelResource | Cmd::ResourceOpts | Cmd::Connect | Cmd::Down => {
            Need::Resource
        }
        Cmd::ChgNetOpts | Cmd::Disconnect => Need::Connection,
        _ => Need::Minor,
    }
}

/// `struct drbd_config_context`: what a request addresses, and its reply under construction.
pub(super) struct AdmCtx<'a> {
    pub(super) cmd: Cmd,
    pub(super) hdr: DrbdGenlMsgHdr,
    pub(super) nlmsg_flags: u16,
    pub(super) attrs: &'a [u8],
    pub(super) volume: u32,
    pub(super) resource_name: Option<&'a [u8]>,
    pub(super) reply: Attrs,
}

/// The outcome of a handler: a `ret_code` and the reply attributes, or an errno instead of any
/// reply.
pub(super) type HandlerResult = Result<i32>;

impl<'a> AdmCtx<'a> {
    /// `drbd_adm_prepare` up to (not including) the registry lookups: reads the context and
    /// copies it into the reply.
    pub(super) fn new(cmd: Cmd, payload: &'a [u8], nlmsg_flags: u16) -> Result<Self> {
        let hdr = DrbdGenlMsgHdr::decode(payload).map_err(|_| EINVAL)?;
        let attrs = &payload[abi::DRBD_GENLMSGHDR_SIZE..];
        let mut ctx = AdmCtx {
            cmd,
            hdr,
            nlmsg_flags,
            attrs,
            volume: VOLUME_UNSPECIFIED,
            resource_name: None,
            reply: Attrs::new()?,
        };
        if let Some(c) = last_raw(attrs, TopAttr::CfgContext as u16) {
            ctx.reply.put_raw(c.raw)?;
            if let Some(v) = last_raw(c.nla.payload, 1) {
                ctx.volume = v.nla.get_u32().unwrap_or(VOLUME_UNSPECIFIED);
            }
            if let Some(n) = last_raw(c.nla.payload, 2) {
                ctx.resource_name = Some(c_str_bytes(n.nla.payload));
            }
        }
        Ok(ctx)
    }

    /// The context's local and peer addresses (`ctx_my_addr`, `ctx_peer_addr`).
    pub(super) fn addrs(&self) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
        let Some(c) = last_raw(self.attrs, TopAttr::CfgContext as u16) else {
            return (None, None);
        };
        (
            last_raw(c.nla.payload, 3).map(|a| a.nla.payload),
            last_raw(c.nla.payload, 4).map(|a| a.nla.payload),
        )
    }

    /// The resource whose connection has the context's addresses (`conn_get_by_addrs`).
    pub(super) fn conn_by_addrs(&self, reg: &Registry) -> Option<usize> {
        let (my, peer) = self.addrs();
        let my = SockAddr::from_raw(my?).ok()?;
        let peer = SockAddr::from_raw(peer?).ok()?;
        reg.resources.iter().position(|r| {
            r.conn
                .as_ref()
                .is_some_and(|(c, _)| c.my_addr == my && c.peer_addr == peer)
        })
    }

    pub(super) fn info(&mut self, text: &str) {
        // A fresh reply has room for any of DRBD's texts; like the C module, ignore failure.
        let _ = self.reply.put(|w| put_info(w, text));
    }

    /// The registry part of `drbd_adm_prepare`: finds the minor and the resource and checks
    /// that the request is consistent. `Ok(None)` is success with the objects found.
    pub(super) fn lookup(&mut self, reg: &Registry) -> core::result::Result<Found, i32> {
        let device = reg.find_minor(self.hdr.minor);
        let mut resource = self.resource_name.and_then(|n| reg.find(n));
        let need = need(self.cmd);
        if device.is_none() && need == Need::Minor {
            self.info("unknown minor");
            return Err(RetCode::MinorInvalid as i32);
        }
        if resource.is_none() && need == Need::Resource {
            self.info("unknown resource");
            return Err(if self.resource_name.is_some() {
                RetCode::ResNotKnown as i32
            } else {
                RetCode::InvalidRequest as i32
            });
        }
        if need == Need::Connection {
            if resource.is_some() {
                self.info("no resource name expected");
                return Err(RetCode::InvalidRequest as i32);
            }
            if device.is_some() {
                self.info("no minor number expected");
                return Err(RetCode::InvalidRequest as i32);
            }
            match self.conn_by_addrs(reg) {
                Some(r) => {
                    return Ok(Found {
                        device: None,
                        resource: Some(r),
                    })
                }
                None => {
                    self.info("unknown connection");
                    return Err(RetCode::InvalidRequest as i32);
                }
            }
        }
        if let (Some(d), Some(r)) = (device, resource) {
            if d.res != r {
                pr_warn!(
                    "request: minor={}, resource={}; but that minor belongs to resource {}\n",
                    self.hdr.minor,
                    name_str(&reg.resources[r].name),
                    name_str(&reg.resources[d.res].name)
                );
                self.info("minor exists in different resource");
                return Err(RetCode::InvalidRequest as i32);
            }
        }
        if let Some(d) = device {
            let vnr = reg.resources[d.res].volumes[d.vol].vnr;
            if self.volume != VOLUME_UNSPECIFIED && self.volume != vnr {
                pr_warn!(
                    "request: minor={}, volume={}; but that minor is volume {} in {}\n",
                    self.hdr.minor,
                    self.volume,
                    vnr,
                    name_str(&reg.resources[d.res].name)
                );
                self.info("minor exists as different volume");
                return Err(RetCode::InvalidRequest as i32);
            }
        }
        if resource.is_none() {
            resource = device.map(|d| d.res);
        }
        Ok(Found { device, resource })
    }
}

/// The objects a request addresses (indices into the registry, valid while it is locked).
#[derive(Clone, Copy)]
pub(super) struct Found {
    pub(super) device: Option<MinorPos>,
    pub(super) resource: Option<usize>,
}

/// A resource name (bytes) for kernel messages.
pub(super) fn name_str(name: &[u8]) -> &str {
    core::str::from_utf8(name).unwrap_or("<non-UTF-8 name>")
}
