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

// ------------------------------------------------------------------------------------------------
// Attribute validation: the C module's policies, applied with the kernel's strict rules
// ------------------------------------------------------------------------------------------------

/// The attribute policies of the C family (`drbd_nl_gen.c`) and `__nla_validate_parse` with
/// `NL_VALIDATE_STRICT`, over raw attribute bytes.
pub(crate) mod policy {
    use crate::drbd_core::genl::{
        nla_align, Cmd, FieldType, StructDef, TopAttr, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK,
    };
    use kernel::prelude::*;

    /// An `nla_policy` entry of the family.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Pol {
        /// No entry (`NLA_UNSPEC`): refused under strict validation.
        Unspec,
        /// `NLA_U8` (DRBD's flags).
        U8,
        /// `NLA_U16`.
        U16,
        /// `NLA_U32` (also DRBD's signed fields).
        U32,
        /// `NLA_U64`.
        U64,
        /// `NLA_NUL_STRING` with `.len` (the C buffer size).
        NulString(usize),
        /// `NLA_POLICY_MAX_LEN`.
        BinaryMax(usize),
        /// `NLA_POLICY_NESTED` of a struct.
        Nested(&'static StructDef),
    }

    /// The policy of field `id` of `def`.
    pub(crate) fn field_pol(def: &StructDef, id: u16) -> Pol {
        match def.field(id) {
            None => Pol::Unspec,
            Some(f) => match f.ty {
                FieldType::U8 | FieldType::Flag => Pol::U8,
                FieldType::U16 => Pol::U16,
                FieldType::U32 | FieldType::I32 => Pol::U32,
                FieldType::U64 => Pol::U64,
                // The generated policy's `.len` is the C buffer size, one more than the
                // longest string the ABI table allows.
                FieldType::String { max_len } => Pol::NulString(usize::from(max_len) + 1),
                FieldType::Binary { max_len } => Pol::BinaryMax(usize::from(max_len)),
            },
        }
    }

    /// The top-level policy of a request: its `maxattr` and the structs it may carry.
    pub(crate) fn request_policy(cmd: Cmd) -> (u16, &'static [TopAttr]) {
        use TopAttr::*;
        const CTX: &[TopAttr] = &[CfgContext];
        match cmd {
            Cmd::NewResource | Cmd::ResourceOpts => (4, &[CfgContext, ResourceOpts]),
            Cmd::Connect | Cmd::ChgNetOpts => (5, &[CfgContext, NetConf]),
            Cmd::Disconnect => (12, &[CfgContext, DisconnectParms]),
            Cmd::Attach | Cmd::ChgDiskOpts => (3, &[CfgContext, DiskConf]),
            Cmd::Resize => (7, &[CfgContext, ResizeParms]),
            Cmd::Primary | Cmd::Secondary => (6, &[CfgContext, SetRoleParms]),
            Cmd::NewCUuid => (10, &[CfgContext, NewCUuidParms]),
            // The C policy of verify has no context.
            Cmd::StartOv => (9, &[StartOvParms]),
            Cmd::Detach => (13, &[CfgContext, DetachParms]),
            Cmd::GetResources => (19, &[CfgContext, ResourceInfo, ResourceStatistics]),
            Cmd::GetDevices => (20, &[CfgContext, DeviceInfo, DeviceStatistics]),
            Cmd::GetConnections => (21, &[CfgContext, ConnectionInfo, ConnectionStatistics]),
            Cmd::GetPeerDevices => (22, &[CfgContext, PeerDeviceInfo, PeerDeviceStatistics]),
            _ => (2, CTX),
        }
    }

    /// Validates the attributes of a `cmd` request as the genl core does with the C
    /// family's policy: `EINVAL` or `ERANGE`, like the kernel.
    pub(crate) fn validate(cmd: Cmd, attrs: &[u8]) -> Result {
        let (max, allowed) = request_policy(cmd);
        validate_stream(
            attrs,
            max,
            &|ty| match allowed.iter().find(|t| **t as u16 == ty) {
                Some(t) => Pol::Nested(t.struct_def()),
                None => Pol::Unspec,
            },
        )
    }

    /// `__nla_validate_parse` with `NL_VALIDATE_STRICT` over `buf`.
    pub(crate) fn validate_stream(buf: &[u8], maxtype: u16, pol: &dyn Fn(u16) -> Pol) -> Result {
        let mut pos = 0usize;
        let mut rem = buf.len() as isize;
        while rem >= NLA_HDRLEN as isize {
            let len = usize::from(u16::from_ne_bytes([buf[pos], buf[pos + 1]]));
            if len < NLA_HDRLEN || len as isize > rem {
                break;
            }
            let raw = u16::from_ne_bytes([buf[pos + 2], buf[pos + 3]]);
            let ty = raw & NLA_TYPE_MASK;
            if ty == 0 || ty > maxtype {
                // "Unknown attribute type"
                return Err(EINVAL);
            }
            validate_nla(raw, &buf[pos + NLA_HDRLEN..pos + len], pol(ty))?;
            let adv = nla_align(len);
            pos += adv;
            rem -= adv as isize;
        }
        if rem > 0 {
            // "bytes leftover after parsing attributes"
            return Err(EINVAL);
        }
        Ok(())
    }

    /// `validate_nla` for one attribute of raw type `raw` and policy `pol`.
    fn validate_nla(raw: u16, payload: &[u8], pol: Pol) -> Result {
        let attrlen = payload.len();
        let exact = match pol {
            Pol::U8 => Some(1),
            Pol::U16 => Some(2),
            Pol::U32 => Some(4),
            Pol::U64 => Some(8),
            _ => None,
        };
        if exact.is_some_and(|n| attrlen != n) {
            // "invalid attribute length"
            return Err(EINVAL);
        }
        let nested = raw & NLA_F_NESTED != 0;
        match pol {
            Pol::Nested(_) if !nested => return Err(EINVAL),
            Pol::Nested(_) | Pol::Unspec => {}
            _ if nested => return Err(EINVAL),
            _ => {}
        }
        match pol {
            Pol::Unspec => Err(EINVAL),
            Pol::NulString(len) => {
                let minlen = attrlen.min(len + 1);
                if minlen == 0 || !payload[..minlen].contains(&0) {
                    return Err(EINVAL);
                }
                let mut l = attrlen;
                if payload[l - 1] == 0 {
                    l -= 1;
                }
                if l > len {
                    return Err(ERANGE);
                }
                Ok(())
            }
            Pol::BinaryMax(max) => {
                if attrlen > max {
                    // "binary attribute size out of range"
                    Err(ERANGE)
                } else {
                    Ok(())
                }
            }
            Pol::Nested(def) => {
                if attrlen == 0 {
                    return Ok(());
                }
                if attrlen < NLA_HDRLEN {
                    return Err(ERANGE);
                }
                validate_stream(payload, def.max_id(), &|ty| field_pol(def, ty))
            }
            _ => Ok(()),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Attribute helpers
// ------------------------------------------------------------------------------------------------

/// One attribute with its raw bytes (header included, padding excluded).
struct RawNla<'a> {
    raw: &'a [u8],
    nla: abi::Nla<'a>,
}

/// The last attribute of type `ty` in `buf` (the one `nla_parse` keeps), with its raw bytes.
/// `buf` must have passed validation.
fn last_raw(buf: &[u8], ty: u16) -> Option<RawNla<'_>> {
    let mut it = NlaIter::new(buf);
    let mut found = None;
    loop {
        let off = it.offset();
        match it.next() {
            Some(Ok(nla)) => {
                if nla.ty == ty {
                    let len = abi::NLA_HDRLEN + nla.payload.len();
                    found = Some(RawNla {
                        raw: &buf[off..off + len],
                        nla,
                    });
                }
            }
            _ => return found,
        }
    }
}

/// The first attribute of type `ty` in `buf` (`nla_find`).
fn first(buf: &[u8], ty: u16) -> Option<abi::Nla<'_>> {
    NlaIter::new(buf).map_while(|a| a.ok()).find(|a| a.ty == ty)
}

/// The bytes of a C string attribute up to its first NUL.
fn c_str_bytes(p: &[u8]) -> &[u8] {
    match p.iter().position(|&b| b == 0) {
        Some(n) => &p[..n],
        None => p,
    }
}

/// Applies the fields of the last struct attribute `tla` in `attrs` to `conf`; returns whether
/// the attribute was present and whether a required field was missing (`-ENOMSG`).
fn apply_struct(attrs: &[u8], tla: TopAttr, conf: &mut Conf) -> (bool, bool) {
    let Some(t) = last_raw(attrs, tla as u16) else {
        return (false, true);
    };
    let def = tla.struct_def();
    let payload = t.nla.payload;
    let mut missing = false;
    for f in def.fields {
        match last_raw(payload, f.id) {
            Some(a) => conf.apply(f, a.nla.payload),
            None => missing |= f.required,
        }
    }
    (true, missing)
}

/// The value of one field of a struct attribute (the last one, as `nla_parse` keeps).
fn struct_field<'a>(attrs: &'a [u8], tla: TopAttr, id: u16) -> Option<&'a [u8]> {
    let t = last_raw(attrs, tla as u16)?;
    last_raw(t.nla.payload, id).map(|a| a.nla.payload)
}

/// A flag field (`NLA_U8`) of a struct attribute; absent means 0.
fn struct_flag(attrs: &[u8], tla: TopAttr, id: u16) -> bool {
    struct_field(attrs, tla, id).is_some_and(|p| p.first().is_some_and(|&b| b != 0))
}

/// Maps a full buffer to `EMSGSIZE`, like a failed `nla_put`.
fn nla_err(_: NlaError) -> Error {
    EMSGSIZE
}

/// A field value for [`put_struct`].
#[derive(Clone, Copy)]
enum Val<'a> {
    U8(bool),
    U32(u32),
    U64(u64),
    Bin(&'a [u8]),
}

/// A struct attribute `tla` with `fields` in the given order; `NLA_F_NESTED` as
/// `nla_nest_start` sets it (every struct but the context, the reply text and `state_info`).
fn put_struct(
    w: &mut NlaWriter<'_>,
    tla: TopAttr,
    nested_flag: bool,
    fields: &[(u16, Val<'_>)],
) -> Result<(), NlaError> {
    let ty = tla as u16 | if nested_flag { NLA_F_NESTED } else { 0 };
    let n = w.nest_start(ty)?;
    for &(id, v) in fields {
        let r = match v {
            Val::U8(b) => w.put_u8(id, u8::from(b)),
            Val::U32(x) => w.put_u32(id, x),
            Val::U64(x) => w.put_u64(id, x),
            Val::Bin(b) => w.put(id, b),
        };
        if let Err(e) = r {
            w.nest_cancel(n);
            return Err(e);
        }
    }
    w.nest_end(n)
}

/// `drbd_msg_put_info`: the reply's `drbd_cfg_reply{info_text}`.
fn put_info(w: &mut NlaWriter<'_>, text: &str) -> Result<(), NlaError> {
    if text.is_empty() {
        return Ok(());
    }
    let n = w.nest_start(TopAttr::CfgReply as u16)?;
    if let Err(e) = w.put_string(1, text) {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// `nla_put_drbd_cfg_context`: volume (for device objects), name, and the connection's
/// addresses once it has them.
fn put_ctx(w: &mut NlaWriter<'_>, name: &[u8], volume: Option<u32>) -> Result<(), NlaError> {
    put_ctx_conn(w, name, volume, None)
}

/// `nla_put_drbd_cfg_context` with the connection's addresses, if it has a network
/// configuration.
fn put_ctx_conn(
    w: &mut NlaWriter<'_>,
    name: &[u8],
    volume: Option<u32>,
    conn: Option<&Connection>,
) -> Result<(), NlaError> {
    let n = w.nest_start(TopAttr::CfgContext as u16)?;
    let r = (|| {
        if let Some(v) = volume {
            w.put_u32(1, v)?;
        }
        w.put_str_bytes(2, name)?;
        if let Some(c) = conn {
            w.put(3, c.my_addr.as_raw())?;
            w.put(4, c.peer_addr.as_raw())?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// `<struct>_to_skb` of a configuration struct: every field, in table order.
fn put_conf(w: &mut NlaWriter<'_>, conf: &Conf, exclude_sensitive: bool) -> Result<(), NlaError> {
    let def = conf.def();
    let n = w.nest_start(def.tla as u16 | NLA_F_NESTED)?;
    let r = (|| {
        for f in def.fields {
            match f.ty {
                abi::FieldType::U8 | abi::FieldType::Flag => {
                    w.put_u8(f.id, conf.num(f.id) as u8)?
                }
                abi::FieldType::U16 => w.put_u16(f.id, conf.num(f.id) as u16)?,
                abi::FieldType::U32 | abi::FieldType::I32 => {
                    w.put_u32(f.id, conf.num(f.id) as u32)?
                }
                abi::FieldType::U64 => w.put_u64(f.id, conf.num(f.id))?,
                abi::FieldType::String { .. } => {
                    if f.sensitive && exclude_sensitive {
                        w.put_str_bytes(f.id, b"")?
                    } else {
                        w.put_str_bytes(f.id, conf.str(f.id))?
                    }
                }
                abi::FieldType::Binary { .. } => w.put(f.id, &[])?,
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// Attribute bytes being collected for one message.
struct Attrs {
    buf: KVec<u8>,
    len: usize,
}

impl Attrs {
    fn new() -> Result<Self> {
        Ok(Attrs {
            buf: KVec::from_elem(0u8, ATTR_SPACE, GFP_KERNEL)?,
            len: 0,
        })
    }

    /// Runs `f` on a writer appending to the collected bytes; on error nothing is kept.
    fn put(&mut self, f: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>) -> Result {
        let mut w = NlaWriter::new(&mut self.buf[self.len..]);
        f(&mut w).map_err(nla_err)?;
        self.len += w.len();
        Ok(())
    }

    /// Appends raw, already encoded attribute bytes, padded to 4 (`nla_put_nohdr`).
    fn put_raw(&mut self, raw: &[u8]) -> Result {
        let padded = abi::nla_align(raw.len());
        if self.len + padded > self.buf.len() {
            return Err(EMSGSIZE);
        }
        self.buf[self.len..self.len + raw.len()].copy_from_slice(raw);
        self.buf[self.len + raw.len()..self.len + padded].fill(0);
        self.len += padded;
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

fn drbd_hdr(minor: u32, ret: i32) -> [u8; abi::DRBD_GENLMSGHDR_SIZE] {
    let mut h = [0u8; abi::DRBD_GENLMSGHDR_SIZE];
    // The array is exactly the header's size.
    let _ = DrbdGenlMsgHdr::reply(minor, ret).encode(&mut h);
    h
}

// ------------------------------------------------------------------------------------------------
// Object views
// ------------------------------------------------------------------------------------------------

/// `conn_highest_role`: Primary if any volume is, else Secondary.
fn resource_role(r: &Resource) -> Role {
    if r.volumes
        .iter()
        .any(|v| v.device.state().role == Role::Primary)
    {
        Role::Primary
    } else {
        Role::Secondary
    }
}

/// `conn_highest_peer`: the peer's role as the connection knows it.
fn resource_peer_role(r: &Resource) -> Role {
    let mut role = Role::Unknown;
    for v in r.volumes.iter() {
        match v.device.state().peer {
            Role::Primary => return Role::Primary,
            Role::Secondary => role = Role::Secondary,
            Role::Unknown => {}
        }
    }
    role
}

/// The resource-wide suspension flags (`resource->susp*`), as the devices report them.
fn resource_susp(r: &Resource) -> (bool, bool, bool) {
    match r.volumes.first() {
        Some(v) => {
            let s = v.device.state();
            (s.susp, s.susp_nod, s.susp_fen)
        }
        None => (false, false, false),
    }
}

/// The connection state of the resource's (only) connection (`connection->cstate`). The
/// resync states (StartingSync*, WFBitMap*, SyncSource, PausedSyncT, ...) belong to a volume;
/// its connection stays Connected meanwhile.
fn resource_cstate(r: &Resource) -> ConnState {
    match r.volumes.first() {
        Some(v) => connection_level(v.device.state().conn),
        None => ConnState::StandAlone,
    }
}

/// A volume's connection state as its connection sees it: at most Connected.
fn connection_level(c: ConnState) -> ConnState {
    if c as u8 > ConnState::Connected as u8 {
        ConnState::Connected
    } else {
        c
    }
}

fn put_resource_info(w: &mut NlaWriter<'_>, r: &Resource) -> Result<(), NlaError> {
    let (susp, nod, fen) = resource_susp(r);
    put_struct(
        w,
        TopAttr::ResourceInfo,
        true,
        &[
            (1, Val::U32(resource_role(r) as u32)),
            (2, Val::U8(susp)),
            (3, Val::U8(nod)),
            (4, Val::U8(fen)),
        ],
    )
}

fn put_resource_statistics(w: &mut NlaWriter<'_>) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ResourceStatistics,
        true,
        &[(1, Val::U32(WO_BDEV_FLUSH))],
    )
}

/// `device_to_statistics` + `device_statistics_to_skb`.
fn put_device_statistics(w: &mut NlaWriter<'_>, s: &DeviceStats) -> Result<(), NlaError> {
    let mut hist = [0u8; 32];
    let (cur, flags, hist_len) = match &s.ldev {
        Some(l) => {
            hist[0..8].copy_from_slice(&l.uuids[2].to_ne_bytes());
            hist[8..16].copy_from_slice(&l.uuids[3].to_ne_bytes());
            // `history_uuids_len = HISTORY_UUIDS`: 32 bytes, the two history UUIDs and zeros.
            (l.uuids[0], l.md_flags, 32)
        }
        None => (0, 0, 0),
    };
    put_struct(
        w,
        TopAttr::DeviceStatistics,
        true,
        &[
            (1, Val::U64(s.capacity)),
            (2, Val::U64(s.read_cnt)),
            (3, Val::U64(s.writ_cnt)),
            (4, Val::U64(s.al_writ_cnt)),
            (5, Val::U64(s.bm_writ_cnt)),
            (6, Val::U32(s.ap_bio_cnt)),
            (7, Val::U32(s.local_cnt)),
            (8, Val::U8(s.upper_blocked)),
            (9, Val::U8(false)),
            (10, Val::U8(s.al_suspended)),
            (11, Val::U64(s.ed_uuid)),
            (12, Val::U64(cur)),
            (13, Val::U32(flags)),
            (14, Val::Bin(&hist[..hist_len])),
        ],
    )
}

fn put_device_info(w: &mut NlaWriter<'_>, st: &State) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::DeviceInfo,
        true,
        &[(1, Val::U32(st.disk as u32))],
    )
}

fn put_connection_info(w: &mut NlaWriter<'_>, r: &Resource) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ConnectionInfo,
        true,
        &[
            (1, Val::U32(resource_cstate(r) as u32)),
            (2, Val::U32(resource_peer_role(r) as u32)),
        ],
    )
}

fn put_connection_statistics(w: &mut NlaWriter<'_>) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::ConnectionStatistics,
        true,
        &[(1, Val::U8(false))],
    )
}

/// `peer_device_to_info` as the state-change snapshot has it.
fn put_peer_device_info(w: &mut NlaWriter<'_>, st: &State) -> Result<(), NlaError> {
    let repl = (st.conn as u32).max(ConnState::WfReportParams as u32);
    put_struct(
        w,
        TopAttr::PeerDeviceInfo,
        true,
        &[
            (1, Val::U32(repl)),
            (2, Val::U32(st.pdsk as u32)),
            (3, Val::U32(u32::from(st.user_isp))),
            (4, Val::U32(u32::from(st.peer_isp))),
            (5, Val::U32(u32::from(st.aftr_isp))),
        ],
    )
}

/// `MDF_PEER_*` flags of `peer_device_to_statistics`.
fn peer_dev_flags(md_flags: u32) -> u32 {
    use crate::drbd_core::meta::{
        MDF_CONNECTED_IND, MDF_CONSISTENT, MDF_FULL_SYNC, MDF_WAS_UP_TO_DATE,
    };
    let mut f = 0;
    if md_flags & MDF_CONNECTED_IND != 0 {
        f |= 1;
    }
    if md_flags & MDF_CONSISTENT != 0 && md_flags & MDF_WAS_UP_TO_DATE == 0 {
        f |= 2;
    }
    if md_flags & MDF_FULL_SYNC != 0 {
        f |= 8;
    }
    f
}

fn put_peer_device_statistics(w: &mut NlaWriter<'_>, s: &DeviceStats) -> Result<(), NlaError> {
    let (oos, bm_uuid, flags) = match &s.ldev {
        Some(l) => (
            l.bits_oos << BM_BIT_TO_SECT_SHIFT,
            l.uuids[1],
            peer_dev_flags(l.md_flags),
        ),
        None => (0, 0, 0),
    };
    put_struct(
        w,
        TopAttr::PeerDeviceStatistics,
        true,
        &[
            (1, Val::U64(s.recv_cnt)),
            (2, Val::U64(s.send_cnt)),
            (3, Val::U32(s.ap_pending_cnt + s.rs_pending_cnt)),
            (4, Val::U32(s.unacked_cnt)),
            (5, Val::U64(oos)),
            (6, Val::U64(s.rs_failed << BM_BIT_TO_SECT_SHIFT)),
            (7, Val::U64(bm_uuid)),
            (9, Val::U32(flags)),
        ],
    )
}

fn put_notification_header(w: &mut NlaWriter<'_>, nh_type: u32) -> Result<(), NlaError> {
    put_struct(
        w,
        TopAttr::NotificationHeader,
        true,
        &[(1, Val::U32(nh_type))],
    )
}

/// `nla_put_status_info` (without a broadcast reason): what `GET_STATUS` answers per device.
fn put_status_info(
    w: &mut NlaWriter<'_>,
    r: &Resource,
    v: &Volume,
    sib: Option<(u32, State, State)>,
) -> Result<(), NlaError> {
    let dev = &v.device;
    let st = dev.state();
    let s = device_stats(dev);
    // As `nla_put_status_info`: the context with the connection's addresses, the resource,
    // disk and net options (`drbdsetup show` of 8.4 prints them from here).
    let conn = r.conn.as_ref();
    put_ctx_conn(w, &r.name, Some(v.vnr), conn.map(|(c, _)| &**c))?;
    put_conf(w, &r.res_opts, true)?;
    if let Some(dc) = &v.disk_conf {
        put_conf(w, dc, true)?;
    }
    if let Some((_, nc)) = conn {
        let exclude_sensitive = sib.is_some() || !g::current_capable(bindings::CAP_SYS_ADMIN);
        put_conf(w, nc, exclude_sensitive)?;
    }
    let n = w.nest_start(TopAttr::StateInfo as u16)?;
    let res = (|| {
        let reason = sib.map_or(abi::SibReason::GetStatusReply as u32, |s| s.0);
        w.put_u32(1, reason)?;
        w.put_u32(2, st.to_abi().to_u32())?;
        w.put_u64(4, s.ed_uuid)?;
        w.put_u64(3, s.capacity)?;
        w.put_u64(15, s.send_cnt)?;
        w.put_u64(16, s.recv_cnt)?;
        w.put_u64(17, s.read_cnt)?;
        w.put_u64(18, s.writ_cnt)?;
        w.put_u64(19, s.al_writ_cnt)?;
        w.put_u64(20, s.bm_writ_cnt)?;
        w.put_u32(21, s.ap_bio_cnt)?;
        w.put_u32(22, s.ap_pending_cnt)?;
        w.put_u32(23, s.rs_pending_cnt)?;
        if let Some(l) = &s.ldev {
            let mut u = [0u8; 32];
            for (i, x) in l.uuids.iter().enumerate() {
                u[i * 8..i * 8 + 8].copy_from_slice(&x.to_ne_bytes());
            }
            w.put(7, &u)?;
            w.put_u32(8, l.md_flags)?;
            w.put_u64(9, l.bits_total)?;
            w.put_u64(10, l.bits_oos)?;
            if (ConnState::SyncSource as u8..=ConnState::PausedSyncT as u8)
                .contains(&(st.conn as u8))
            {
                w.put_u64(11, s.rs_total)?;
                w.put_u64(12, s.rs_failed)?;
            }
        }
        if let Some((reason, os, ns)) = sib {
            if reason == abi::SibReason::StateChange as u32 {
                w.put_u32(5, os.to_abi().to_u32())?;
                w.put_u32(6, ns.to_abi().to_u32())?;
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

// ------------------------------------------------------------------------------------------------
// Broadcasts
// ------------------------------------------------------------------------------------------------

/// `notify_genl_seq`: sequence numbers of `events2` broadcasts (the C counter starts at 2).
static NOTIFY_SEQ: AtomicU32 = AtomicU32::new(2);
/// `drbd_genl_seq`: sequence numbers of 8.4 `EVENT` broadcasts.
static EVENT_SEQ: AtomicU32 = AtomicU32::new(2);

/// Sends `attrs` as a `cmd` message about `minor` to the `events` group; failures are logged,
/// as the C module does, and otherwise ignored.
fn multicast(cmd: Cmd, minor: u32, attrs: &[u8], seq_counter: &AtomicU32) {
    let seq = seq_counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let fam = FAMILY.lock();
    let Some(reg) = fam.as_ref() else {
        return;
    };
    let r = Message::new(
        reg.family(),
        0,
        seq,
        0,
        cmd as u8,
        &drbd_hdr(minor, NO_ERROR),
        bindings::GFP_KERNEL,
    )
    .and_then(|mut m| {
        m.append(attrs)?;
        m.multicast(0, bindings::GFP_NOWAIT)
    });
    if let Err(e) = r {
        pr_err!(
            "Error {} while broadcasting event. Event seq:{}\n",
            e.to_errno(),
            seq
        );
    }
}

/// Sends one events2 notification as the C module builds them: the object's context, the
/// notification header, the object's info (left out when it is destroyed) and its statistics.
fn notify(
    cmd: Cmd,
    minor: u32,
    (name, volume, conn): (&[u8], Option<u32>, Option<&Connection>),
    nh_type: u32,
    info: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>,
    statistics: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>,
) -> Result {
    let mut a = Attrs::new()?;
    a.put(|w| {
        put_ctx_conn(w, name, volume, conn)?;
        put_notification_header(w, nh_type)?;
        if nh_type & !NOTIFY_CONTINUES != abi::NotifyType::Destroy as u32 {
            info(w)?;
        }
        statistics(w)
    })?;
    multicast(cmd, minor, a.bytes(), &NOTIFY_SEQ);
    Ok(())
}

/// `notify_resource_state` for resource `r`.
fn notify_resource(r: &Resource, nh_type: u32) -> Result {
    notify(
        Cmd::ResourceState,
        MINOR_NONE,
        (&r.name, None, None),
        nh_type,
        |w| put_resource_info(w, r),
        put_resource_statistics,
    )
}

/// `notify_device_state` for volume `vnr` of `r`.
fn notify_device(r: &Resource, vnr: u32, dev: &Device, nh_type: u32) -> Result {
    let st = dev.state();
    let s = device_stats(dev);
    notify(
        Cmd::DeviceState,
        dev.minor(),
        (&r.name, Some(vnr), None),
        nh_type,
        |w| put_device_info(w, &st),
        |w| put_device_statistics(w, &s),
    )
}

/// `notify_connection_state` for the connection of `r`.
fn notify_connection(r: &Resource, nh_type: u32) -> Result {
    notify(
        Cmd::ConnectionState,
        MINOR_NONE,
        (&r.name, None, r.conn.as_ref().map(|(c, _)| &**c)),
        nh_type,
        |w| put_connection_info(w, r),
        put_connection_statistics,
    )
}

/// `notify_peer_device_state` for volume `vnr` of `r`.
fn notify_peer_device(r: &Resource, vnr: u32, dev: &Device, nh_type: u32) -> Result {
    let st = dev.state();
    let s = device_stats(dev);
    notify(
        Cmd::PeerDeviceState,
        MINOR_NONE,
        (&r.name, Some(vnr), r.conn.as_ref().map(|(c, _)| &**c)),
        nh_type,
        |w| put_peer_device_info(w, &st),
        |w| put_peer_device_statistics(w, &s),
    )
}

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

/// `notify_helper`: tells `events2` listeners that a usermode helper is called or answered
/// (`call helper ...` / `response helper ... status:<wait status>`). A device's helper carries
/// its volume and minor, a connection's (`fence-peer`) only the resource and the connection's
/// addresses. Registered with [`crate::helper::set_notifier`]; the helpers run holding no
/// lock, so this may take the registry's.
fn notify_helper(n: &crate::helper::Notice<'_>) {
    use crate::helper::Target;
    let reg = REGISTRY.lock();
    let (res, vol) = match n.target {
        Target::Minor(m) => match reg.find_minor(m) {
            Some(pos) => (pos.res, Some(pos.vol)),
            None => return,
        },
        Target::Resource(name) => match reg.find(name) {
            Some(res) => (res, None),
            None => return,
        },
    };
    let r = &reg.resources[res];
    let volume = vol.map(|v| &r.volumes[v]);
    let nh_type = if n.status.is_some() {
        abi::NotifyType::Response as u32
    } else {
        abi::NotifyType::Call as u32
    };
    let name = n.cmd.name().to_bytes_with_nul();
    let name = &name[..name.len().min(32)];
    let Ok(mut a) = Attrs::new() else { return };
    let built = a.put(|w| {
        put_ctx_conn(
            w,
            &r.name,
            volume.map(|v| v.vnr),
            r.conn.as_ref().map(|(c, _)| &**c),
        )?;
        put_notification_header(w, nh_type)?;
        put_struct(
            w,
            TopAttr::Helper,
            true,
            &[(1, Val::Bin(name)), (2, Val::U32(n.status.unwrap_or(0) as u32))],
        )
    });
    let minor = volume.map_or(MINOR_NONE, |v| v.device.minor());
    drop(reg);
    if built.is_ok() {
        multicast(Cmd::Helper, minor, a.bytes(), &NOTIFY_SEQ);
    }
}

/// Broadcasts a state change of the device with minor `minor`, from `os` to `ns` (its
/// current state): the `events2` change notifications of `broadcast_state_change` (resource
/// role or suspension, connection state or peer role, disk state, peer-device state; the last
/// one without `NOTIFY_CONTINUES`), then the 8.4 `EVENT` broadcast of `drbd_bcast_event`.
///
/// The request handlers call this after each device operation that changed the state. The
/// device layer should call it for every intermediate state (`Attaching`, `Failed`, ...) the
/// way the C module's `__drbd_set_state` does, from a context that does not hold the registry
/// lock; the handlers then only report what is left.
pub(crate) fn notify_state_change(minor: u32, os: State, ns: State) {
    let reg = REGISTRY.lock();
    let Some(pos) = reg.find_minor(minor) else {
        return;
    };
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    let new_role = resource_role(r);
    let old_role = if os.role == ns.role {
        new_role
    } else if r
        .volumes
        .iter()
        .any(|o| o.vnr != v.vnr && o.device.state().role == Role::Primary)
    {
        Role::Primary
    } else {
        os.role
    };
    let mut kinds: KVec<u8> = KVec::new();
    let mut add = |k: u8| {
        let _ = kinds.push(k, GFP_KERNEL);
    };
    if old_role != new_role
        || os.susp != ns.susp
        || os.susp_nod != ns.susp_nod
        || os.susp_fen != ns.susp_fen
    {
        add(0);
    }
    if connection_level(os.conn) != connection_level(ns.conn) || os.peer != ns.peer {
        add(1);
    }
    if os.disk != ns.disk {
        add(2);
    }
    let repl = |s: &State| (s.conn as u8).max(ConnState::WfReportParams as u8);
    if os.pdsk != ns.pdsk
        || repl(&os) != repl(&ns)
        || os.user_isp != ns.user_isp
        || os.peer_isp != ns.peer_isp
        || os.aftr_isp != ns.aftr_isp
    {
        add(3);
    }
    let change = abi::NotifyType::Change as u32;
    let n = kinds.len();
    for (i, k) in kinds.iter().enumerate() {
        let t = if i + 1 < n {
            change | NOTIFY_CONTINUES
        } else {
            change
        };
        let _ = match k {
            0 => notify_resource(r, t),
            1 => notify_connection(r, t),
            2 => notify_device(r, v.vnr, &v.device, t),
            _ => notify_peer_device(r, v.vnr, &v.device, t),
        };
    }
    // The 8.4 broadcast (`drbdsetup events`).
    if let Ok(mut a) = Attrs::new() {
        if a.put(|w| put_status_info(w, r, v, Some((abi::SibReason::StateChange as u32, os, ns))))
            .is_ok()
        {
            multicast(Cmd::Event, minor, a.bytes(), &EVENT_SEQ);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------------

/// The `ret_code` of a device operation: its state-change result or its error.
fn ret_of(r: core::result::Result<StateRv, DrbdRet>) -> i32 {
    match r {
        Ok(rv) => rv.raw(),
        Err(e) => e.code(),
    }
}

/// What `drbd_adm_prepare` requires of a command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Minor,
    Resource,
    Connection,
}

fn need(cmd: Cmd) -> Need {
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
struct AdmCtx<'a> {
    cmd: Cmd,
    hdr: DrbdGenlMsgHdr,
    nlmsg_flags: u16,
    attrs: &'a [u8],
    volume: u32,
    resource_name: Option<&'a [u8]>,
    reply: Attrs,
}

/// The outcome of a handler: a `ret_code` and the reply attributes, or an errno instead of any
/// reply.
type HandlerResult = Result<i32>;

impl<'a> AdmCtx<'a> {
    /// `drbd_adm_prepare` up to (not including) the registry lookups: reads the context and
    /// copies it into the reply.
    fn new(cmd: Cmd, payload: &'a [u8], nlmsg_flags: u16) -> Result<Self> {
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
    fn addrs(&self) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
        let Some(c) = last_raw(self.attrs, TopAttr::CfgContext as u16) else {
            return (None, None);
        };
        (
            last_raw(c.nla.payload, 3).map(|a| a.nla.payload),
            last_raw(c.nla.payload, 4).map(|a| a.nla.payload),
        )
    }

    /// The resource whose connection has the context's addresses (`conn_get_by_addrs`).
    fn conn_by_addrs(&self, reg: &Registry) -> Option<usize> {
        let (my, peer) = self.addrs();
        let my = SockAddr::from_raw(my?).ok()?;
        let peer = SockAddr::from_raw(peer?).ok()?;
        reg.resources.iter().position(|r| {
            r.conn
                .as_ref()
                .is_some_and(|(c, _)| c.my_addr == my && c.peer_addr == peer)
        })
    }

    fn info(&mut self, text: &str) {
        // A fresh reply has room for any of DRBD's texts; like the C module, ignore failure.
        let _ = self.reply.put(|w| put_info(w, text));
    }

    /// The registry part of `drbd_adm_prepare`: finds the minor and the resource and checks
    /// that the request is consistent. `Ok(None)` is success with the objects found.
    fn lookup(&mut self, reg: &Registry) -> core::result::Result<Found, i32> {
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
struct Found {
    device: Option<MinorPos>,
    resource: Option<usize>,
}

/// A resource name (bytes) for kernel messages.
fn name_str(name: &[u8]) -> &str {
    core::str::from_utf8(name).unwrap_or("<non-UTF-8 name>")
}

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

/// `drbd_check_resource_name`.
fn check_resource_name(ctx: &mut AdmCtx<'_>) -> core::result::Result<(), i32> {
    match ctx.resource_name {
        None | Some([]) => {
            ctx.info("resource name missing");
            Err(RetCode::MandatoryTag as i32)
        }
        Some(n) if n.contains(&b'/') => {
            ctx.info("invalid resource name");
            Err(RetCode::InvalidRequest as i32)
        }
        Some(_) => Ok(()),
    }
}

fn new_resource(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let mut opts = Conf::with_defaults(&abi::RES_OPTS);
    apply_struct(ctx.attrs, TopAttr::ResourceOpts, &mut opts);
    if let Err(ret) = check_resource_name(ctx) {
        return Ok(ret);
    }
    if found.resource.is_some() {
        if ctx.nlmsg_flags & g::NLM_F_EXCL != 0 {
            ctx.info("resource exists");
            return Ok(RetCode::InvalidRequest as i32);
        }
        return Ok(NO_ERROR);
    }
    // `conn_create` fails (reported as out of memory) when the cpu mask does not parse.
    if g::cpu_mask_check(opts.str(1)).is_err() {
        return Ok(RetCode::Nomem as i32);
    }
    let name = ctx.resource_name.unwrap_or_default();
    let mut reg = REGISTRY.lock();
    let Ok(idx) = reg.add(name, opts) else {
        return Ok(RetCode::Nomem as i32);
    };
    let _ = notify_resource(&reg.resources[idx], abi::NotifyType::Create as u32);
    Ok(NO_ERROR)
}

/// `adm_del_resource` on the resource at `idx`.
fn del_resource_locked(reg: &mut Registry, idx: usize) -> i32 {
    let r = &reg.resources[idx];
    if resource_cstate(r) as u8 > ConnState::StandAlone as u8 || r.conn.is_some() {
        return RetCode::NetConfigured as i32;
    }
    if !r.volumes.is_empty() {
        return RetCode::ResInUse as i32;
    }
    let _ = notify_resource(r, abi::NotifyType::Destroy as u32);
    reg.remove(idx);
    NO_ERROR
}

fn del_resource(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let mut reg = REGISTRY.lock();
    Ok(del_resource_locked(&mut reg, idx))
}

fn resource_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let mut reg = REGISTRY.lock();
    let mut opts = reg.resources[idx].res_opts.clone();
    if ctx.hdr.set_defaults() {
        opts.set_defaults();
    }
    apply_struct(ctx.attrs, TopAttr::ResourceOpts, &mut opts);
    // `set_resource_options`
    match g::cpu_mask_check(opts.str(1)) {
        Ok(()) => {
            reg.resources[idx].res_opts = opts;
            Ok(NO_ERROR)
        }
        Err(e) if e == ENOMEM => Ok(RetCode::Nomem as i32),
        Err(e) => {
            pr_warn!("bitmap_parse() failed with {}\n", e.to_errno());
            Ok(RetCode::InvalidRequest as i32)
        }
    }
}

fn new_minor(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let minor = ctx.hdr.minor;
    if minor > MINORMASK {
        ctx.info("requested minor out of range");
        return Ok(RetCode::InvalidRequest as i32);
    }
    if ctx.volume > DRBD_VOLUME_MAX {
        ctx.info("requested volume id out of range");
        return Ok(RetCode::InvalidRequest as i32);
    }
    if found.device.is_some() {
        // `drbd_adm_prepare` made sure it is this resource's and this volume.
        if ctx.nlmsg_flags & g::NLM_F_EXCL != 0 {
            return Ok(RetCode::MinorOrVolumeExists as i32);
        }
        return Ok(NO_ERROR);
    }
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    {
        let reg = REGISTRY.lock();
        if reg.find_minor(minor).is_some() || reg.resources[idx].volume(ctx.volume).is_some() {
            return Ok(RetCode::MinorOrVolumeExists as i32);
        }
    }
    // Creating the gendisk may sleep: outside the registry lock.
    let Ok(device) = Device::new(minor) else {
        return Ok(RetCode::Nomem as i32);
    };
    let mut reg = REGISTRY.lock();
    if reg.add_volume(idx, ctx.volume, device.clone()).is_err() {
        return Ok(RetCode::Nomem as i32);
    }
    let _ = notify_device(
        &reg.resources[idx],
        ctx.volume,
        &device,
        abi::NotifyType::Create as u32,
    );
    Ok(NO_ERROR)
}

/// `adm_del_minor` on the volume at `pos`.
fn del_minor_locked(reg: &mut Registry, pos: MinorPos) -> i32 {
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    let st = v.device.state();
    if st.disk != abi::DiskState::Diskless
        || st.role != Role::Secondary
        || st.conn != ConnState::StandAlone
        || r.conn.is_some()
    {
        return RetCode::MinorConfigured as i32;
    }
    let _ = notify_device(r, v.vnr, &v.device, abi::NotifyType::Destroy as u32);
    reg.remove_volume(pos);
    NO_ERROR
}

fn del_minor(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let mut reg = REGISTRY.lock();
    Ok(del_minor_locked(&mut reg, pos))
}

/// The devices of resource `idx`, so they can be worked on without the registry lock.
fn devices_of(idx: usize) -> Result<KVec<Arc<Device>>> {
    let reg = REGISTRY.lock();
    let mut v = KVec::new();
    if let Some(r) = reg.resources.get(idx) {
        for vol in r.volumes.iter() {
            v.push(vol.device.clone(), GFP_KERNEL)?;
        }
    }
    Ok(v)
}

fn down(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::ResNotKnown as i32);
    };
    let devices = devices_of(idx)?;
    // demote
    for d in devices.iter() {
        let os = d.state();
        let rv = ret_of(d.set_role(Role::Secondary, false));
        if rv < StateRv::Success as i32 {
            ctx.info("failed to demote");
            return Ok(rv);
        }
        let ns = d.state();
        if os != ns {
            notify_state_change(d.minor(), os, ns);
        }
    }
    // disconnect
    stop_connection(idx);
    // detach
    for d in devices.iter() {
        let os = d.state();
        let rv = ret_of(d.detach(false));
        if rv < StateRv::Success as i32 || rv > NO_ERROR {
            ctx.info("failed to detach");
            return Ok(rv);
        }
        let ns = d.state();
        if os != ns {
            notify_state_change(d.minor(), os, ns);
        }
    }
    // delete volumes, then the resource
    let mut reg = REGISTRY.lock();
    let id = reg.resources[idx].id;
    loop {
        let Some(idx) = reg.find_id(id) else {
            return Ok(RetCode::ResNotKnown as i32);
        };
        if reg.resources[idx].volumes.is_empty() {
            return Ok(del_resource_locked(&mut reg, idx));
        }
        let ret = del_minor_locked(&mut reg, MinorPos { res: idx, vol: 0 });
        if ret != NO_ERROR {
            ctx.info("failed to delete volume");
            return Ok(ret);
        }
    }
}

/// Stops and removes the connection of resource `idx` (without the registry lock held while
/// the threads stop: they report state changes, which takes it).
fn stop_connection(idx: usize) {
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
fn destroy_connection(c: &Connection) {
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
fn announce_connection(r: &Resource) {
    let create = abi::NotifyType::Create as u32;
    let n = r.volumes.len();
    let _ = notify_connection(r, if n > 0 { create | NOTIFY_CONTINUES } else { create });
    for (i, v) in r.volumes.iter().enumerate() {
        let t = if i + 1 < n { create | NOTIFY_CONTINUES } else { create };
        let _ = notify_peer_device(r, v.vnr, &v.device, t);
    }
}

/// `connect`: validates the net options and addresses, then starts the connection.
fn connect(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
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
fn check_net_options(
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
fn check_algs(conf: &Conf) -> i32 {
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
fn forget_connection(c: &Connection) {
    destroy_connection(c);
}

/// The peer changed its `allow-two-primaries` or `after-sb-*` policies (`P_PROTOCOL_UPDATE`):
/// the net options `show` reports follow, as on the C module.
fn adopt_peer_protocol(c: &Connection, two_primaries: bool, after_sb: [u32; 3]) {
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
fn disconnect(_ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(idx) = found.resource else {
        return Ok(RetCode::InvalidRequest as i32);
    };
    stop_connection(idx);
    Ok(NO_ERROR)
}

/// `net-options`: changes the settings that may change while connected.
fn chg_net_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
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

/// `suspend-io` / `resume-io` (`drbd_adm_suspend_io`, `drbd_adm_resume_io`): suspension is
/// a resource's, so every volume of the minor's resource holds (or restarts) its new I/O.
/// Already so is not an error (`SS_NOTHING_TO_DO`).
fn suspend_io(found: Found, suspend: bool) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let devices = {
        let reg = REGISTRY.lock();
        let mut v = KVec::new();
        for vol in reg.resources[pos.res].volumes.iter() {
            v.push(vol.device.clone(), GFP_KERNEL)?;
        }
        v
    };
    for d in devices.iter() {
        d.suspend_io(suspend);
    }
    if !suspend {
        // `drbd_adm_resume_io`: without a connection the writes that waited for fencing
        // complete (`tl_clear`); they are marked out of sync.
        let conn = REGISTRY.lock().resources[pos.res].conn.as_ref().map(|(c, _)| c.clone());
        if let Some(c) = conn {
            if c.session().is_none() {
                c.release_fence_held();
            }
        }
    }
    Ok(NO_ERROR)
}

/// `verify` (`drbd_adm_start_ov`): start sector (default: where the last run stopped) and
/// stop sector from `start_ov_parms`.
fn start_ov(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let u64_field = |id: u16| {
        struct_field(ctx.attrs, TopAttr::StartOvParms, id)
            .and_then(|p| p.get(..8))
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    let (start, stop) = (u64_field(1), u64_field(2));
    Ok(crate::sync::verify::start_ov(&dev, start, stop))
}

/// The device a per-minor request addresses.
fn device_of(found: Found) -> Option<Arc<Device>> {
    let pos = found.device?;
    let reg = REGISTRY.lock();
    Some(reg.resources[pos.res].volumes[pos.vol].device.clone())
}

fn set_role(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let force = struct_flag(ctx.attrs, TopAttr::SetRoleParms, 1);
    let role = if ctx.cmd == Cmd::Primary {
        Role::Primary
    } else {
        Role::Secondary
    };
    let os = dev.state();
    // A promotion the fencing policy stands in the way of (no peer whose disk is known
    // Outdated, or data only Consistent) asks the fence-peer handler first, holding no lock
    // (`drbd_set_role` calling `conn_try_outdate_peer`).
    let peer_outdated = if role == Role::Primary && dev.promotion_needs_fencing(force) {
        try_outdate_peer(found)
    } else {
        true
    };
    let rv = ret_of(dev.set_role_fenced(role, force && role == Role::Primary, peer_outdated));
    let ns = dev.state();
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(rv)
}

/// `conn_try_outdate_peer` for the resource of `found`: through its connection if it has one
/// (which knows whether the peer came back meanwhile), else for its volumes without a peer.
fn try_outdate_peer(found: Found) -> bool {
    let Some(res) = found.device.map(|p| p.res).or(found.resource) else {
        return false;
    };
    let (conn, name, devices) = {
        let reg = REGISTRY.lock();
        let r = &reg.resources[res];
        let mut name = KVec::new();
        let mut devices = KVec::new();
        if name.extend_from_slice(&r.name, GFP_KERNEL).is_err() {
            return false;
        }
        for v in r.volumes.iter() {
            if devices.push((v.vnr as u16, v.device.clone()), GFP_KERNEL).is_err() {
                return false;
            }
        }
        (r.conn.as_ref().map(|(c, _)| c.clone()), name, devices)
    };
    match conn {
        Some(c) => c.try_outdate_peer(),
        None => crate::connection::fence::outdate_peer(&name, None, &devices, &|| true),
    }
}

/// `invalidate`, `invalidate-remote`, `pause-sync`, `resume-sync`, `outdate`
/// (`drbd_nl_invalidate_doit` and friends). The device logs and announces its state changes.
fn resync_admin(found: Found, req: AdminRequest) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    Ok(dev.admin_change(req, crate::sync::resync::begin_full_sync).code())
}

fn detach(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let force = struct_flag(ctx.attrs, TopAttr::DetachParms, 1);
    let os = dev.state();
    let rv = match dev.detach(force) {
        // `adm_detach` answers a forced detach with `SS_SUCCESS` whatever it found (also on a
        // diskless device, where the plain detach is `SS_NOTHING_TO_DO`).
        Ok(_) if force => StateRv::Success.raw(),
        r => ret_of(r),
    };
    let ns = dev.state();
    if ns.disk == abi::DiskState::Diskless {
        set_disk_conf(dev.minor(), None);
    }
    if ns.disk != os.disk {
        dev.tell_peer_state();
    }
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(rv)
}

/// A detach finished outside a request (forced detach, I/O error): the disk configuration is
/// gone, and listeners learn the state change `os` -> `ns`.
fn disk_detached(minor: u32, os: State, ns: State) {
    set_disk_conf(minor, None);
    if os != ns {
        notify_state_change(minor, os, ns);
    }
}

/// Records the `disk_conf` of the device with minor `minor` (`None`: detached).
fn set_disk_conf(minor: u32, conf: Option<Conf>) {
    if let Some(c) = conf.as_ref() {
        announce_sync_param(minor, c);
    }
    let mut reg = REGISTRY.lock();
    if let Some(pos) = reg.find_minor(minor) {
        reg.resources[pos.res].volumes[pos.vol].disk_conf = conf;
    }
}

fn attach(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    if dev.state().disk != abi::DiskState::Diskless {
        return Ok(RetCode::DiskConfigured as i32);
    }
    let mut conf = Conf::with_defaults(&abi::DISK_CONF);
    let (present, missing) = apply_struct(ctx.attrs, TopAttr::DiskConf, &mut conf);
    if !present || missing {
        ctx.info("required attribute missing");
        return Ok(RetCode::MandatoryTag as i32);
    }
    if conf.num(11) > abi::limits::C_PLAN_AHEAD_MAX as u64 {
        conf.set_num(11, abi::limits::C_PLAN_AHEAD_MAX as u64);
    }
    if (conf.num(3) as i64) < i64::from(abi::DRBD_MD_INDEX_FLEX_INT) {
        return Ok(RetCode::MdIdxInvalid as i32);
    }
    // `drbd_adm_attach`: resource-and-stonith is refused on a protocol A connection.
    if fencing_of(&conf) == abi::Fencing::Stonith {
        let proto_a = found.resource.or(found.device.map(|p| p.res)).is_some_and(|res| {
            let reg = REGISTRY.lock();
            reg.resources[res].conn.as_ref().is_some_and(|(_, nc)| nc.num(6) == 1)
        });
        if proto_a {
            return Ok(RetCode::StonithAndProtA as i32);
        }
    }
    let mut lower = [0u8; 129];
    let mut meta = [0u8; 129];
    let (l, m) = (conf.str(1), conf.str(2));
    lower[..l.len()].copy_from_slice(l);
    meta[..m.len()].copy_from_slice(m);
    let lower = CStr::from_bytes_with_nul(&lower[..=l.len()]).map_err(|_| EINVAL)?;
    let meta = CStr::from_bytes_with_nul(&meta[..=m.len()]).map_err(|_| EINVAL)?;
    let on_io_error =
        abi::OnIoError::from_raw(conf.num(6) as u32).unwrap_or(abi::OnIoError::Detach);
    let os = dev.state();
    dev.set_al_extents(conf.num(10) as u32);
    let r = dev.attach(lower, meta, conf.num(3) as u32 as i32, on_io_error);
    let ns = dev.state();
    if r.is_ok() {
        dev.set_fencing(fencing_of(&conf));
        set_disk_conf(dev.minor(), Some(conf));
    }
    if os != ns {
        notify_state_change(dev.minor(), os, ns);
    }
    Ok(match r {
        Ok(()) => NO_ERROR,
        Err(e) => e.code(),
    })
}

/// The `fencing` policy of a `disk_conf`.
fn fencing_of(conf: &Conf) -> abi::Fencing {
    const FENCING: u16 = 7;
    abi::Fencing::from_raw(conf.num(FENCING) as u32).unwrap_or(abi::Fencing::DontCare)
}

/// `disk-options`: changes the settings of an attached disk.
fn chg_disk_opts(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let mut reg = REGISTRY.lock();
    let Some(old) = reg.resources[pos.res].volumes[pos.vol].disk_conf.clone() else {
        return Ok(RetCode::NoDisk as i32);
    };
    let mut conf = old;
    if ctx.hdr.set_defaults() {
        conf.set_defaults();
    }
    apply_struct(ctx.attrs, TopAttr::DiskConf, &mut conf);
    // `has_invariant`: the fields only `attach` may set.
    for id in 1..=5u16 {
        if struct_field(ctx.attrs, TopAttr::DiskConf, id).is_some() {
            ctx.info("cannot change invariant setting");
            return Ok(RetCode::MandatoryTag as i32);
        }
    }
    if conf.num(8) < 1 {
        conf.set_num(8, 1);
    }
    if conf.num(11) > abi::limits::C_PLAN_AHEAD_MAX as u64 {
        conf.set_num(11, abi::limits::C_PLAN_AHEAD_MAX as u64);
    }
    let ret = resync_after_valid(&reg, ctx.hdr.minor, conf.num(9) as u32 as i32);
    if ret != NO_ERROR {
        return Ok(ret);
    }
    let dev = &reg.resources[pos.res].volumes[pos.vol].device;
    dev.set_sync_param(sync_param_of(&conf));
    if let Some(p) = abi::OnIoError::from_raw(conf.num(6) as u32) {
        dev.set_on_io_error(p);
    }
    dev.set_fencing(fencing_of(&conf));
    reg.resources[pos.res].volumes[pos.vol].disk_conf = Some(conf);
    Ok(NO_ERROR)
}

/// The resync settings of a `disk_conf`, as `P_SYNC_PARAM` carries them.
fn sync_param_of(c: &Conf) -> crate::drbd_core::packets::SyncParam {
    crate::drbd_core::packets::SyncParam {
        resync_rate: c.num(8) as u32,
        c_plan_ahead: c.num(11) as u32,
        c_delay_target: c.num(12) as u32,
        c_fill_target: c.num(13) as u32,
        c_max_rate: c.num(14) as u32,
        ..Default::default()
    }
}

/// Gives the device of `minor` the resync settings of `c`.
fn announce_sync_param(minor: u32, c: &Conf) {
    if let Some(d) = device_by_minor(minor) {
        d.set_sync_param(sync_param_of(c));
    }
}

/// The device with minor `minor`.
pub(crate) fn device_by_minor(minor: u32) -> Option<Arc<Device>> {
    let reg = REGISTRY.lock();
    let pos = reg.find_minor(minor)?;
    Some(reg.resources[pos.res].volumes[pos.vol].device.clone())
}

/// `drbd_resync_after_valid`: `resync-after` may name any minor but must not close a cycle.
fn resync_after_valid(reg: &Registry, minor: u32, o_minor: i32) -> i32 {
    if o_minor == -1 {
        return NO_ERROR;
    }
    if o_minor < -1 || o_minor as u32 > MINORMASK {
        return RetCode::ResyncAfter as i32;
    }
    let mut next = o_minor;
    // Each step follows an attached device's setting; a chain longer than the number of
    // minors must have a cycle that does not include `minor`, which the C module would follow
    // forever; stop there.
    for _ in 0..=reg.resources.iter().map(|r| r.volumes.len()).sum::<usize>() {
        if next as u32 == minor {
            return RetCode::ResyncAfterCycle as i32;
        }
        let Some(p) = reg.find_minor(next as u32) else {
            return NO_ERROR;
        };
        let Some(c) = &reg.resources[p.res].volumes[p.vol].disk_conf else {
            return NO_ERROR;
        };
        next = c.num(9) as u32 as i32;
        if next == -1 {
            return NO_ERROR;
        }
    }
    NO_ERROR
}

/// `new-current-uuid`: needs an attached disk.
fn new_c_uuid(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    if dev.status().uuids.is_none() {
        return Ok(RetCode::NoDisk as i32);
    }
    let clear_bm = struct_flag(ctx.attrs, TopAttr::NewCUuidParms, 1);
    Ok(match dev.new_current_uuid(clear_bm) {
        Ok(()) => NO_ERROR,
        Err(e) => e.code(),
    })
}

fn get_status(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(pos) = found.device else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let reg = REGISTRY.lock();
    let r = &reg.resources[pos.res];
    let v = &r.volumes[pos.vol];
    // Appended to the prepared reply (which holds the request's context, if it had one).
    ctx.reply.put(|w| put_status_info(w, r, v, None))?;
    Ok(NO_ERROR)
}

fn get_timeout_type(ctx: &mut AdmCtx<'_>, found: Found) -> HandlerResult {
    let Some(dev) = device_of(found) else {
        return Ok(RetCode::MinorInvalid as i32);
    };
    let t = if dev.state().pdsk == abi::DiskState::Outdated {
        abi::TimeoutType::PeerOutdated
    } else {
        abi::TimeoutType::Default
    };
    ctx.reply
        .put(|w| put_struct(w, TopAttr::TimeoutParms, true, &[(1, Val::U32(t as u32))]))?;
    Ok(NO_ERROR)
}

// ------------------------------------------------------------------------------------------------
// Dumps
// ------------------------------------------------------------------------------------------------

/// `cb->args` index holding "the first round has run".
const ARG_STARTED: usize = 5;
/// A resource position past the last resource (the C list head).
const POS_END: c_long = -1;

/// The resource name of the first `drbd_cfg_context` of a dump request (`nla_find` +
/// `nla_find_nested`): `None` without context, `Some(None)` with a context without name.
fn dump_filter<'a>(dump: &Dump<'a>) -> Option<Option<&'a [u8]>> {
    let attrs = dump.payload().get(abi::DRBD_GENLMSGHDR_SIZE..)?;
    let ctx = first(attrs, TopAttr::CfgContext as u16)?;
    Some(first(ctx.payload, 2).map(|n| c_str_bytes(n.payload)))
}

/// Puts one dump message of the request's own command.
fn dump_put(dump: &mut Dump<'_>, minor: u32, ret: i32, attrs: &[u8]) -> Result {
    let (portid, seq, cmd) = (dump.portid(), dump.seq(), dump.cmd());
    dump.put(
        portid,
        seq,
        g::NLM_F_MULTI,
        cmd,
        &drbd_hdr(minor, ret),
        attrs,
    )
}

/// `DRBD_ADM_GET_STATUS` dump (`get_one_status`): one message per volume, or one per
/// resource without volumes; all resources, or the one named in the context.
fn dump_status(dump: &mut Dump<'_>) -> Result {
    if dump.args()[ARG_STARTED] == 0 {
        dump.args()[ARG_STARTED] = 1;
        if let Some(filter) = dump_filter(dump) {
            let Some(name) = filter else {
                return Err(EINVAL);
            };
            if name.is_empty() {
                return Err(ENODEV);
            }
            let id = {
                let reg = REGISTRY.lock();
                reg.find(name).map(|i| reg.resources[i].id).ok_or(ENODEV)?
            };
            dump.args()[0] = id as c_long;
            dump.args()[2] = id as c_long;
        }
    } else if dump.args()[2] != 0 && dump.args()[2] != dump.args()[0] {
        return Ok(());
    }
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let pos = dump.args()[0];
    let mut ri = match pos {
        0 => {
            if reg.resources.is_empty() {
                return Ok(());
            }
            0
        }
        POS_END => return Ok(()),
        id => match reg.find_id(id as u64) {
            Some(i) => i,
            None => return Ok(()),
        },
    };
    let single = dump.args()[2] != 0;
    let mut volume = dump.args()[1] as u32;
    loop {
        let r = &reg.resources[ri];
        let next = reg
            .resources
            .get(ri + 1)
            .map_or(POS_END, |n| n.id as c_long);
        match r.volume_from(volume) {
            Some(v) => {
                a.put(|w| put_status_info(w, r, v, None))?;
                dump_put(dump, v.device.minor(), NO_ERROR, a.bytes())?;
                dump.args()[0] = r.id as c_long;
                dump.args()[1] = (v.vnr as c_long) + 1;
                return Ok(());
            }
            None if volume != 0 => {
                if next == POS_END || single {
                    dump.args()[0] = next;
                    dump.args()[1] = 0;
                    return Ok(());
                }
                volume = 0;
                ri += 1;
            }
            None => {
                // A resource without volumes: its context (and network options, once it has
                // them) only.
                a.put(|w| put_ctx(w, &r.name, None))?;
                dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes())?;
                dump.args()[0] = next;
                dump.args()[1] = 0;
                return Ok(());
            }
        }
    }
}

/// `DRBD_ADM_GET_RESOURCES`: one message per resource.
fn dump_resources(dump: &mut Dump<'_>) -> Result {
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let last = dump.args()[0];
    let idx = if last == 0 {
        0
    } else {
        match reg.find_id(last as u64) {
            Some(i) => i + 1,
            None => return Ok(()),
        }
    };
    let Some(r) = reg.resources.get(idx) else {
        return Ok(());
    };
    a.put(|w| {
        put_ctx(w, &r.name, None)?;
        put_conf(w, &r.res_opts, false)?;
        put_resource_info(w, r)?;
        put_resource_statistics(w)
    })?;
    dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes())?;
    dump.args()[0] = r.id as c_long;
    Ok(())
}

/// `DRBD_ADM_GET_DEVICES`: one message per device, by minor, or by volume of the named
/// resource. An unknown name is answered with an `ERR_RES_NOT_KNOWN` message in every round,
/// as the C module does.
fn dump_devices(dump: &mut Dump<'_>) -> Result {
    if dump.args()[0] == 0 && dump.args()[1] == 0 {
        if let Some(Some(name)) = dump_filter(dump) {
            let id = {
                let reg = REGISTRY.lock();
                reg.find(name).map(|i| reg.resources[i].id)
            };
            match id {
                Some(id) => dump.args()[0] = id as c_long,
                None => return dump_put(dump, MINOR_NONE, RetCode::ResNotKnown as i32, &[]),
            }
        }
    }
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let from = dump.args()[1] as u32;
    let (r, v) = if dump.args()[0] != 0 {
        let Some(ri) = reg.find_id(dump.args()[0] as u64) else {
            return Ok(());
        };
        let r = &reg.resources[ri];
        let Some(v) = r.volume_from(from) else {
            return Ok(());
        };
        dump.args()[1] = (v.vnr as c_long) + 1;
        (r, v)
    } else {
        let minors = reg.minors()?;
        let Some((m, pos)) = minors.iter().find(|(m, _)| *m >= from).copied() else {
            return Ok(());
        };
        dump.args()[1] = (m as c_long) + 1;
        let r = &reg.resources[pos.res];
        (r, &r.volumes[pos.vol])
    };
    let st = v.device.state();
    let s = device_stats(&v.device);
    a.put(|w| {
        put_ctx(w, &r.name, Some(v.vnr))?;
        if let Some(dc) = &v.disk_conf {
            put_conf(w, dc, false)?;
        }
        put_device_info(w, &st)?;
        put_device_statistics(w, &s)
    })?;
    dump_put(dump, v.device.minor(), NO_ERROR, a.bytes())
}

/// An unknown resource name in a dump's context is answered with an `ERR_RES_NOT_KNOWN`
/// message in every round, as the C module does. Returns true if it was.
fn dump_unknown_filter(dump: &mut Dump<'_>) -> Result<bool> {
    if let Some(Some(name)) = dump_filter(dump) {
        let known = REGISTRY.lock().find(name).is_some();
        if !known {
            dump_put(dump, MINOR_NONE, RetCode::ResNotKnown as i32, &[])?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// `DRBD_ADM_GET_CONNECTIONS` (`drbd_nl_get_connections_dumpit`): one message per resource
/// whose connection has a network configuration: its context with both addresses, its
/// `net_conf` (without the shared secret for callers without `CAP_SYS_ADMIN`), connection
/// info and statistics. `args[0]`: index of the next resource to look at.
fn dump_connections(dump: &mut Dump<'_>) -> Result {
    if dump_unknown_filter(dump)? {
        return Ok(());
    }
    let filter = match dump_filter(dump) {
        Some(Some(n)) => Some(n),
        _ => None,
    };
    let sensitive_ok = g::current_capable(bindings::CAP_SYS_ADMIN);
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let start = dump.args()[0] as usize;
    for (i, r) in reg.resources.iter().enumerate().skip(start) {
        if filter.is_some_and(|n| r.name.as_slice() != n) {
            continue;
        }
        let Some((c, conf)) = r.conn.as_ref() else {
            continue;
        };
        a.put(|w| {
            put_ctx_conn(w, &r.name, None, Some(c))?;
            put_conf(w, conf, !sensitive_ok)?;
            put_connection_info(w, r)?;
            put_connection_statistics(w)
        })?;
        dump.args()[0] = (i + 1) as c_long;
        return dump_put(dump, MINOR_NONE, NO_ERROR, a.bytes());
    }
    dump.args()[0] = reg.resources.len() as c_long;
    Ok(())
}

/// `DRBD_ADM_GET_PEER_DEVICES`: one message per volume of a connection with a network
/// configuration, by minor: context with addresses, peer device info and statistics.
/// `args[1]`: the next minor to look at.
fn dump_peer_devices(dump: &mut Dump<'_>) -> Result {
    if dump_unknown_filter(dump)? {
        return Ok(());
    }
    let filter = match dump_filter(dump) {
        Some(Some(n)) => Some(n),
        _ => None,
    };
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let minors = reg.minors()?;
    let from = dump.args()[1] as u32;
    for (m, pos) in minors.iter().filter(|(m, _)| *m >= from) {
        let r = &reg.resources[pos.res];
        if filter.is_some_and(|n| r.name.as_slice() != n) {
            continue;
        }
        let Some((c, _)) = r.conn.as_ref() else {
            continue;
        };
        let v = &r.volumes[pos.vol];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx_conn(w, &r.name, Some(v.vnr), Some(c))?;
            put_peer_device_info(w, &st)?;
            put_peer_device_statistics(w, &s)
        })?;
        dump.args()[1] = (*m as c_long) + 1;
        return dump_put(dump, *m, NO_ERROR, a.bytes());
    }
    dump.args()[1] = c_long::MAX;
    Ok(())
}

/// `DRBD_ADM_GET_INITIAL_STATE` (`events2 --now`): for each resource its own, its connection's,
/// its devices' and its peer devices' state as `NOTIFY_EXISTS` notifications (the last of a
/// resource without `NOTIFY_CONTINUES`), then `INITIAL_STATE_DONE`. Unlike the other dumps
/// these go with port 0 and without `NLM_F_MULTI`, like broadcasts.
fn dump_initial_state(dump: &mut Dump<'_>) -> Result {
    // args[0]: id of the resource being listed (0: the first), args[1]: index of the next
    // notification within it, args[ARG_STARTED]: 2 once the end was sent.
    if dump.args()[ARG_STARTED] == 2 {
        return Ok(());
    }
    let seq = dump.seq();
    let mut a = Attrs::new()?;
    let reg = REGISTRY.lock();
    let ri = match dump.args()[0] {
        0 => 0,
        id => reg.find_id(id as u64).unwrap_or(reg.resources.len()),
    };
    let Some(r) = reg.resources.get(ri) else {
        dump.args()[ARG_STARTED] = 2;
        a.put(|w| put_notification_header(w, abi::NotifyType::Exists as u32))?;
        return dump.put(
            0,
            seq,
            0,
            Cmd::InitialStateDone as u8,
            &drbd_hdr(MINOR_NONE, NO_ERROR),
            a.bytes(),
        );
    };
    let nvol = r.volumes.len();
    let total = 2 + 2 * nvol;
    let n = dump.args()[1] as usize;
    let exists = abi::NotifyType::Exists as u32;
    let t = if n + 1 < total {
        exists | NOTIFY_CONTINUES
    } else {
        exists
    };
    let (cmd, minor) = if n == 0 {
        a.put(|w| {
            put_ctx(w, &r.name, None)?;
            put_notification_header(w, t)?;
            put_resource_info(w, r)?;
            put_resource_statistics(w)
        })?;
        (Cmd::ResourceState, MINOR_NONE)
    } else if n == 1 {
        a.put(|w| {
            put_ctx(w, &r.name, None)?;
            put_notification_header(w, t)?;
            put_connection_info(w, r)?;
            put_connection_statistics(w)
        })?;
        (Cmd::ConnectionState, MINOR_NONE)
    } else if n < 2 + nvol {
        let v = &r.volumes[n - 2];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx(w, &r.name, Some(v.vnr))?;
            put_notification_header(w, t)?;
            put_device_info(w, &st)?;
            put_device_statistics(w, &s)
        })?;
        (Cmd::DeviceState, v.device.minor())
    } else {
        let v = &r.volumes[n - 2 - nvol];
        let st = v.device.state();
        let s = device_stats(&v.device);
        a.put(|w| {
            put_ctx(w, &r.name, Some(v.vnr))?;
            put_notification_header(w, t)?;
            put_peer_device_info(w, &st)?;
            put_peer_device_statistics(w, &s)
        })?;
        (Cmd::PeerDeviceState, MINOR_NONE)
    };
    dump.put(0, seq, 0, cmd as u8, &drbd_hdr(minor, NO_ERROR), a.bytes())?;
    if n + 1 < total {
        dump.args()[0] = r.id as c_long;
        dump.args()[1] = (n + 1) as c_long;
    } else {
        dump.args()[0] = reg
            .resources
            .get(ri + 1)
            .map_or(POS_END, |n| n.id as c_long);
        dump.args()[1] = 0;
    }
    a.clear();
    Ok(())
}

/// Removes every resource and device (module exit, after the family is gone), as the C
/// module's cleanup does for whatever `down` left.
pub(crate) fn teardown() {
    let mut reg = REGISTRY.lock();
    while let Some(r) = reg.resources.pop() {
        drop(r);
    }
}
