// SPDX-License-Identifier: GPL-2.0

//! The generic-netlink control plane: the `drbd` family (version 1, group `events`) with the
//! commands and dumps of the C DRBD 8.4 module, answering exactly as it does.
//!
//! Flow of a request, as in `drbd_nl.c` of Linux 7.3:
//!
//! 1. The genl core checks the header length, the command and `GENL_ADMIN_PERM` (every
//!    configuration command; not the status queries and dumps).
//! 2. [`policy::validate`] checks the attributes against the C module's per-command policies
//!    with the kernel's strict rules (`NL_VALIDATE_STRICT`): unknown or misplaced attributes,
//!    wrong lengths, missing `NLA_F_NESTED` on a struct, strings without NUL are refused with
//!    `-EINVAL` (or `-ERANGE` for over-long values), before anything else happens.
//! 3. [`AdmCtx::prepare`] is `drbd_adm_prepare`: it reads `drbd_cfg_context`, copies it into
//!    the reply, finds the minor, resource and connection the request names and refuses
//!    inconsistent combinations with DRBD's return codes and info texts.
//! 4. The command's handler does the work and sets `drbd_genlmsghdr.ret_code`: a `RetCode`, or
//!    for state changes a `StateRv`.
//!
//! Dumps (`status`, `show`, `events2 --now`) iterate over the registry one object per round,
//! keeping their position in `cb->args` as resource ids and volume numbers.
//!
//! Broadcasts to the `events` group (`events2`) announce resources and devices created and
//! destroyed and, through [`notify_state_change`], state changes.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::ffi::c_long;

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::drbd_core::genl::{
    self as abi, Cmd, ConnState, DrbdGenlMsgHdr, NlaError, NlaIter, NlaWriter, RetCode, Role,
    StateRv, TopAttr, NLA_F_NESTED, NOTIFY_CONTINUES,
};
use crate::drbd_core::state::DrbdRet;
use crate::drbd_core::state::{AdminChange, State};
use crate::device::AdminRequest;
use crate::resource::{
    device_stats, Conf, Device, DeviceStats, MinorPos, Registry, Resource, Volume, REGISTRY,
};
use crate::connection::{Connection, NetSettings};
use crate::sys::genl::{self as g, DoRequest, Dump, Message, OpSpec, Registration};
use crate::sys::net::SockAddr;

/// `VOLUME_UNSPECIFIED`: a request that names no volume.
const VOLUME_UNSPECIFIED: u32 = u32::MAX;
/// Largest minor number (`MINORMASK`).
const MINORMASK: u32 = (1 << 20) - 1;
/// Largest volume number (`DRBD_VOLUME_MAX`).
const DRBD_VOLUME_MAX: u32 = 65534;
/// `NO_ERROR`.
const NO_ERROR: i32 = RetCode::NoError as i32;
/// `MINOR_NONE` as the C module writes it (`-1U`).
const MINOR_NONE: u32 = abi::MINOR_NONE;
/// Room for a reply's attributes: a fresh message minus the family header.
const ATTR_SPACE: usize = g::MSG_SIZE - abi::DRBD_GENLMSGHDR_SIZE - 64;
/// `WO_BDEV_FLUSH`: the write ordering of a new resource (`res_stat_write_ordering`).
const WO_BDEV_FLUSH: u32 = 2;
/// `BM_BLOCK_SHIFT - 9`: bitmap bits to sectors.
const BM_BIT_TO_SECT_SHIFT: u32 = 3;

// ------------------------------------------------------------------------------------------------
// The family
// ------------------------------------------------------------------------------------------------

/// The commands, as the C family registers them (`drbd_nl_gen.c`).
fn op_specs() -> Result<KVec<OpSpec>> {
    let mut v = KVec::new();
    for &c in Cmd::ALL {
        if c.is_notification() {
            continue;
        }
        v.push(
            OpSpec {
                cmd: c as u8,
                doit: c.has_doit(),
                dumpit: c.has_dumpit(),
                admin: c.needs_admin(),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(v)
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in `register` (from module init) before any use.
    unsafe(uninit) static FAMILY: Mutex<Option<Registration>> = None;
}

/// The family's name: DRBD's own, or `drbd_rs` when loaded side by side with the C module.
pub(crate) fn family_name(side_by_side: bool) -> &'static CStr {
    if side_by_side {
        c"drbd_rs"
    } else {
        c"drbd"
    }
}

/// Registers the family (module init). The registry must be initialized.
pub(crate) fn register(module: &'static ThisModule, side_by_side: bool) -> Result {
    // SAFETY: Called once, from module init, before anything else uses `FAMILY`.
    unsafe { FAMILY.init() };
    let ops = op_specs()?;
    // Register first, then publish: a request that arrives in between simply broadcasts
    // nothing. (Holding `FAMILY` across `genl_register_family` could deadlock with a request
    // that holds the genl mutex and wants `FAMILY`.)
    let reg = Registration::register::<DrbdNl>(
        module,
        family_name(side_by_side),
        abi::FAMILY_VERSION,
        abi::DRBD_GENLMSGHDR_SIZE as u32,
        42,
        &ops,
        c"events",
    )?;
    *FAMILY.lock() = Some(reg);
    crate::helper::set_notifier(Some(&HELPER_EVENTS));
    crate::device::events::set_events(Some(&DEVICE_EVENTS));
    crate::connection::events::set_events(Some(&CONNECTION_EVENTS));
    Ok(())
}

/// Unregisters the family (module exit). When this returns no request or dump runs any more.
pub(crate) fn unregister() {
    crate::helper::set_notifier(None);
    crate::device::events::set_events(None);
    crate::connection::events::set_events(None);
    let reg = FAMILY.lock().take();
    drop(reg);
}

/// The family's handlers.
struct DrbdNl;

impl g::Handler for DrbdNl {
    fn doit(req: &DoRequest<'_>) -> Result {
        doit(req)
    }

    fn dump_start(dump: &mut Dump<'_>) -> Result {
        let cmd = Cmd::from_raw(dump.cmd()).ok_or(EOPNOTSUPP)?;
        let attrs = dump
            .payload()
            .get(abi::DRBD_GENLMSGHDR_SIZE..)
            .ok_or(EINVAL)?;
        policy::validate(cmd, attrs)
    }

    fn dumpit(dump: &mut Dump<'_>) -> Result {
        match Cmd::from_raw(dump.cmd()) {
            Some(Cmd::GetStatus) => dump_status(dump),
            Some(Cmd::GetResources) => dump_resources(dump),
            Some(Cmd::GetDevices) => dump_devices(dump),
            Some(Cmd::GetConnections) => dump_connections(dump),
            Some(Cmd::GetPeerDevices) => dump_peer_devices(dump),
            Some(Cmd::GetInitialState) => dump_initial_state(dump),
            _ => Err(EOPNOTSUPP),
        }
    }
}

// The family's parts, each using only those listed before it (the handlers use the request
// context, the broadcasts and the object views; all use the attribute helpers).
pub(crate) mod policy;
mod attrs;
mod views;
mod events;
mod context;
mod resource_requests;
mod net_requests;
mod device_requests;
mod dump;
use attrs::*;
use events::*;
use context::*;
use resource_requests::*;
use net_requests::*;
use device_requests::*;
use dump::*;

/// The control plane's listener for usermode helper calls and answers.
static HELPER_EVENTS: fn(&crate::helper::Notice<'_>) = notify_helper;

/// The control plane's listener for the device layer's reports.
static DEVICE_EVENTS: crate::device::events::DeviceEvents = crate::device::events::DeviceEvents {
    state_changed: notify_state_change,
    disk_detached,
    device_of_minor: device_by_minor,
};

/// The control plane's listener for the connections' reports.
static CONNECTION_EVENTS: crate::connection::events::ConnectionEvents =
    crate::connection::events::ConnectionEvents {
        gave_up: forget_connection,
        peer_protocol: adopt_peer_protocol,
    };

fn doit(req: &DoRequest<'_>) -> Result {
    let cmd = Cmd::from_raw(req.cmd()).ok_or(EOPNOTSUPP)?;
    let payload = req.payload();
    let attrs = payload.get(abi::DRBD_GENLMSGHDR_SIZE..).ok_or(EINVAL)?;
    policy::validate(cmd, attrs)?;
    // "genl_rcv_msg only checks for CAP_NET_ADMIN on GENL_ADMIN_PERM"
    if cmd != Cmd::GetStatus && !g::current_capable(bindings::CAP_NET_ADMIN) {
        return Err(EPERM);
    }
    let mut ctx = AdmCtx::new(cmd, payload, req.nlmsg_flags())?;
    let ret = handle(&mut ctx)?;
    let mut msg = req.new_reply(cmd as u8, &drbd_hdr(ctx.hdr.minor, ret))?;
    msg.append(ctx.reply.bytes())?;
    if req.reply(msg).is_err() {
        pr_err!("error sending genl reply\n");
    }
    Ok(())
}

/// Runs the command: the `ret_code`, or an errno that replaces the reply.
fn handle(ctx: &mut AdmCtx<'_>) -> HandlerResult {
    // The lookup happens under the registry lock; handlers that block on a device take an
    // `Arc` of it and drop the lock (netlink requests are serialized by the genl mutex).
    let found = {
        let reg = REGISTRY.lock();
        match ctx.lookup(&reg) {
            Ok(f) => f,
            Err(ret) => return Ok(ret),
        }
    };
    match ctx.cmd {
        Cmd::NewResource => new_resource(ctx, found),
        Cmd::DelResource => del_resource(ctx, found),
        Cmd::ResourceOpts => resource_opts(ctx, found),
        Cmd::NewMinor => new_minor(ctx, found),
        Cmd::DelMinor => del_minor(ctx, found),
        Cmd::Down => down(ctx, found),
        Cmd::Primary | Cmd::Secondary => set_role(ctx, found),
        Cmd::Detach => detach(ctx, found),
        Cmd::Attach => attach(ctx, found),
        Cmd::ChgDiskOpts => chg_disk_opts(ctx, found),
        Cmd::NewCUuid => new_c_uuid(ctx, found),
        Cmd::GetStatus => get_status(ctx, found),
        Cmd::GetTimeoutType => get_timeout_type(ctx, found),
        Cmd::Connect => connect(ctx, found),
        Cmd::Disconnect => disconnect(ctx, found),
        Cmd::ChgNetOpts => chg_net_opts(ctx, found),
        Cmd::Invalidate => resync_admin(found, AdminRequest::Invalidate),
        Cmd::InvalPeer => resync_admin(found, AdminRequest::InvalidateRemote),
        Cmd::PauseSync => resync_admin(found, AdminRequest::Change(AdminChange::PauseSync)),
        Cmd::ResumeSync => resync_admin(found, AdminRequest::Change(AdminChange::ResumeSync)),
        Cmd::Outdate => resync_admin(found, AdminRequest::Change(AdminChange::Outdate)),
        Cmd::StartOv => start_ov(ctx, found),
        Cmd::SuspendIo => suspend_io(found, true),
        Cmd::ResumeIo => suspend_io(found, false),
        _ => Ok(RetCode::PacketNr as i32),
    }
}

/// Removes every resource and device (module exit, after the family is gone), as the C
/// module's cleanup does for whatever `down` left.
pub(crate) fn teardown() {
    let mut reg = REGISTRY.lock();
    while let Some(r) = reg.resources.pop() {
        drop(r);
    }
}
