//! Decoding of the attributes of a `drbd` message into drbdsetup's view: the top-level table
//! (`global_attrs`), the configuration context, and the status structs, each filled like the C
//! `<struct>_from_attrs` would fill a pre-initialised struct.

use drbd_core::genl::{
    self, DrbdGenlMsgHdr, FieldValue, NlaIter, ParseMode, StructDef, TopAttr, DRBD_NLA_MAX,
};

use crate::nl::Msg;

/// The top-level attributes of one message, by number (`global_attrs`); the last of a type wins.
#[derive(Clone, Debug, Default)]
pub struct Tla<'a> {
    pub attrs: Vec<Option<&'a [u8]>>,
}

impl<'a> Tla<'a> {
    /// `drbd_tla_parse`: fails on a malformed stream or a top-level attribute too short to be a
    /// nest.
    pub fn parse(buf: &'a [u8]) -> Result<Tla<'a>, ()> {
        let mut attrs = vec![None; usize::from(DRBD_NLA_MAX) + 1];
        for a in NlaIter::new(buf) {
            let a = a.map_err(|_| ())?;
            if a.ty == 0 || a.ty > DRBD_NLA_MAX {
                continue;
            }
            if !a.payload.is_empty() && a.payload.len() < 4 {
                return Err(());
            }
            attrs[usize::from(a.ty)] = Some(a.payload);
        }
        Ok(Tla { attrs })
    }

    pub fn get(&self, t: TopAttr) -> Option<&'a [u8]> {
        self.attrs.get(t as usize).copied().flatten()
    }
}

/// One message handed to an output routine (`struct genl_info`).
pub struct Info<'a> {
    pub msg: &'a Msg,
    pub hdr: DrbdGenlMsgHdr,
    pub tla: Tla<'a>,
}

/// The fields present in one struct's nest, after the kernel-side policy check
/// (`drbd_nla_parse_nested`); `None` if the nest is absent or does not validate.
pub fn struct_fields<'a>(
    tla: &Tla<'a>,
    sdef: &'static StructDef,
) -> Option<Vec<(u16, FieldValue<'a>)>> {
    let payload = tla.get(sdef.tla)?;
    let mut out = Vec::new();
    sdef.parse(payload, ParseMode::Create, |f, v| out.push((f.id, v)))
        .ok()?;
    Some(out)
}

/// The raw payload of field `id` in a nest (mandatory/nested flag bits ignored); last one wins.
pub fn raw_field(nest: &[u8], id: u16) -> Option<&[u8]> {
    genl::find_last(nest, id).ok().flatten().map(|a| a.payload)
}

fn unsigned(v: &FieldValue<'_>) -> Option<u64> {
    match v {
        FieldValue::Unsigned(u) => Some(*u),
        FieldValue::Signed(s) => Some(*s as u64),
        FieldValue::Flag(b) => Some(u64::from(*b)),
        _ => None,
    }
}

fn bytes_to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `struct drbd_cfg_context` as drbdsetup initialises it (`ctx_volume = -1U`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfgContext {
    pub volume: u32,
    pub resource_name: String,
    pub my_addr: Vec<u8>,
    pub peer_addr: Vec<u8>,
}

impl Default for CfgContext {
    fn default() -> Self {
        CfgContext {
            volume: u32::MAX,
            resource_name: String::new(),
            my_addr: Vec::new(),
            peer_addr: Vec::new(),
        }
    }
}

impl CfgContext {
    /// `drbd_cfg_context_from_attrs`; `None` when the message has no valid context.
    pub fn from_tla(tla: &Tla<'_>) -> Option<CfgContext> {
        let mut c = CfgContext::default();
        for (id, v) in struct_fields(tla, &genl::CFG_CONTEXT)? {
            match (id, v) {
                (1, v) => c.volume = unsigned(&v).unwrap_or(0) as u32,
                (2, FieldValue::Str(s)) => c.resource_name = bytes_to_string(s),
                (3, FieldValue::Bin(b)) => c.my_addr = b.to_vec(),
                (4, FieldValue::Bin(b)) => c.peer_addr = b.to_vec(),
                _ => {}
            }
        }
        Some(c)
    }

    /// `endpoints_equal`.
    pub fn endpoints_equal(&self, o: &CfgContext) -> bool {
        self.my_addr == o.my_addr && self.peer_addr == o.peer_addr
    }
}

/// Fills `slots` (field id → value) from a nest if it is present and valid; returns whether it
/// was (the C `*_from_attrs` returning 0).
fn fill(tla: &Tla<'_>, sdef: &'static StructDef, mut set: impl FnMut(u16, u64)) -> bool {
    match struct_fields(tla, sdef) {
        Some(fields) => {
            for (id, v) in fields {
                if let Some(u) = unsigned(&v) {
                    set(id, u);
                }
            }
            true
        }
        None => false,
    }
}

/// `struct resource_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceInfo {
    pub role: u32,
    pub susp: u8,
    pub susp_nod: u8,
    pub susp_fen: u8,
}

impl ResourceInfo {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::RESOURCE_INFO, |id, v| match id {
            1 => self.role = v as u32,
            2 => self.susp = v as u8,
            3 => self.susp_nod = v as u8,
            4 => self.susp_fen = v as u8,
            _ => {}
        })
    }
}

/// `struct resource_statistics` (memset to all ones before filling, as drbdsetup does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceStatistics {
    pub write_ordering: u32,
}

impl Default for ResourceStatistics {
    fn default() -> Self {
        ResourceStatistics {
            write_ordering: u32::MAX,
        }
    }
}

impl ResourceStatistics {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::RESOURCE_STATISTICS, |id, v| {
            if id == 1 {
                self.write_ordering = v as u32
            }
        })
    }
}

/// `struct device_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub disk_state: u32,
}

impl DeviceInfo {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::DEVICE_INFO, |id, v| {
            if id == 1 {
                self.disk_state = v as u32
            }
        })
    }
}

/// `struct device_statistics`; flag fields are C `char`s, -1 when never filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceStatistics {
    pub size: u64,
    pub read: u64,
    pub write: u64,
    pub al_writes: u64,
    pub bm_writes: u64,
    pub upper_pending: u32,
    pub lower_pending: u32,
    pub upper_blocked: i8,
    pub lower_blocked: i8,
    pub al_suspended: i8,
}

impl Default for DeviceStatistics {
    fn default() -> Self {
        DeviceStatistics {
            size: u64::MAX,
            read: u64::MAX,
            write: u64::MAX,
            al_writes: u64::MAX,
            bm_writes: u64::MAX,
            upper_pending: u32::MAX,
            lower_pending: u32::MAX,
            upper_blocked: -1,
            lower_blocked: -1,
            al_suspended: -1,
        }
    }
}

impl DeviceStatistics {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::DEVICE_STATISTICS, |id, v| match id {
            1 => self.size = v,
            2 => self.read = v,
            3 => self.write = v,
            4 => self.al_writes = v,
            5 => self.bm_writes = v,
            6 => self.upper_pending = v as u32,
            7 => self.lower_pending = v as u32,
            8 => self.upper_blocked = v as i8,
            9 => self.lower_blocked = v as i8,
            10 => self.al_suspended = v as i8,
            _ => {}
        })
    }
}

/// `struct connection_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connection_state: u32,
    pub role: u32,
}

impl ConnectionInfo {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::CONNECTION_INFO, |id, v| match id {
            1 => self.connection_state = v as u32,
            2 => self.role = v as u32,
            _ => {}
        })
    }
}

/// `struct connection_statistics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionStatistics {
    pub congested: i8,
}

impl Default for ConnectionStatistics {
    fn default() -> Self {
        ConnectionStatistics { congested: -1 }
    }
}

impl ConnectionStatistics {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::CONNECTION_STATISTICS, |id, v| {
            if id == 1 {
                self.congested = v as i8
            }
        })
    }
}

/// `struct peer_device_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerDeviceInfo {
    pub repl_state: u32,
    pub disk_state: u32,
    pub resync_susp_user: u32,
    pub resync_susp_peer: u32,
    pub resync_susp_dependency: u32,
}

impl PeerDeviceInfo {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::PEER_DEVICE_INFO, |id, v| match id {
            1 => self.repl_state = v as u32,
            2 => self.disk_state = v as u32,
            3 => self.resync_susp_user = v as u32,
            4 => self.resync_susp_peer = v as u32,
            5 => self.resync_susp_dependency = v as u32,
            _ => {}
        })
    }
}

/// `struct peer_device_statistics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerDeviceStatistics {
    pub received: u64,
    pub sent: u64,
    pub pending: u32,
    pub unacked: u32,
    pub out_of_sync: u64,
}

impl Default for PeerDeviceStatistics {
    fn default() -> Self {
        PeerDeviceStatistics {
            received: u64::MAX,
            sent: u64::MAX,
            pending: u32::MAX,
            unacked: u32::MAX,
            out_of_sync: u64::MAX,
        }
    }
}

impl PeerDeviceStatistics {
    pub fn fill(&mut self, tla: &Tla<'_>) -> bool {
        fill(tla, &genl::PEER_DEVICE_STATISTICS, |id, v| match id {
            1 => self.received = v,
            2 => self.sent = v,
            3 => self.pending = v as u32,
            4 => self.unacked = v as u32,
            5 => self.out_of_sync = v,
            _ => {}
        })
    }
}

/// `struct state_info` (the fields drbdsetup reads).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateInfo {
    pub sib_reason: u32,
    pub current_state: u32,
    pub prev_state: u32,
    pub new_state: u32,
    pub ed_uuid: Option<u64>,
    pub uuids: Option<Vec<u64>>,
    pub disk_flags: Option<u32>,
    pub bits_oos: u64,
    pub bits_rs_total: Option<u64>,
    pub bits_rs_failed: u64,
    pub helper: String,
    pub helper_exit_code: u32,
}

impl StateInfo {
    /// `state_info_from_attrs`; `None` if absent, invalid, or without `current_state`.
    pub fn from_tla(tla: &Tla<'_>) -> Option<StateInfo> {
        let mut s = StateInfo::default();
        for (id, v) in struct_fields(tla, &genl::STATE_INFO)? {
            match (id, v) {
                (7, FieldValue::Bin(b)) => {
                    s.uuids = Some(
                        b.chunks_exact(8)
                            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                            .collect(),
                    )
                }
                (13, FieldValue::Str(h)) => s.helper = bytes_to_string(h),
                (id, v) => {
                    let u = unsigned(&v).unwrap_or(0);
                    match id {
                        1 => s.sib_reason = u as u32,
                        2 => s.current_state = u as u32,
                        4 => s.ed_uuid = Some(u),
                        5 => s.prev_state = u as u32,
                        6 => s.new_state = u as u32,
                        8 => s.disk_flags = Some(u as u32),
                        10 => s.bits_oos = u,
                        11 => s.bits_rs_total = Some(u),
                        12 => s.bits_rs_failed = u,
                        14 => s.helper_exit_code = u as u32,
                        _ => {}
                    }
                }
            }
        }
        Some(s)
    }

    /// `current_state` as role/cstate/dstate read it: from the nest even when other fields are
    /// missing, 0 without one.
    pub fn current_state_only(tla: &Tla<'_>) -> u32 {
        tla.get(TopAttr::StateInfo)
            .and_then(|n| raw_field(n, 2))
            .and_then(|b| b.get(..4))
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// `struct drbd_notification_header`.
pub fn notification_type(tla: &Tla<'_>) -> Option<u32> {
    let f = struct_fields(tla, &genl::NOTIFICATION_HEADER)?;
    let mut t = u32::MAX;
    for (id, v) in f {
        if id == 1 {
            t = unsigned(&v).unwrap_or(0) as u32;
        }
    }
    Some(t)
}

/// `struct drbd_helper_info`.
pub fn helper_info(tla: &Tla<'_>) -> Option<(String, u32)> {
    let f = struct_fields(tla, &genl::HELPER_INFO)?;
    let mut name = String::new();
    let mut status = 0;
    for (id, v) in f {
        match (id, v) {
            (1, FieldValue::Str(s)) => name = bytes_to_string(s),
            (2, v) => status = unsigned(&v).unwrap_or(0) as u32,
            _ => {}
        }
    }
    Some((name, status))
}

/// The `info_text` strings of a `DRBD_NLA_CFG_REPLY`.
pub fn info_texts(tla: &Tla<'_>) -> Option<Vec<String>> {
    let nest = tla.get(TopAttr::CfgReply)?;
    let mut out = Vec::new();
    for a in NlaIter::new(nest) {
        let Ok(a) = a else { break };
        if a.ty == 1 {
            let s = a.payload.split(|&b| b == 0).next().unwrap_or(&[]);
            out.push(bytes_to_string(s));
        }
    }
    Some(out)
}

/// `struct timeout_parms`.
pub fn timeout_type(tla: &Tla<'_>) -> Option<u32> {
    let f = struct_fields(tla, &genl::TIMEOUT_PARMS)?;
    f.into_iter()
        .find(|(id, _)| *id == 1)
        .and_then(|(_, v)| unsigned(&v))
        .map(|v| v as u32)
}

/// A disk_conf's backing device, meta device and index (for `show`, `check-resize`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskPaths {
    pub backing_dev: String,
    pub meta_dev: String,
    pub meta_dev_idx: i32,
}

impl DiskPaths {
    pub fn from_tla(tla: &Tla<'_>) -> Option<DiskPaths> {
        let mut d = DiskPaths::default();
        for (id, v) in struct_fields(tla, &genl::DISK_CONF)? {
            match (id, v) {
                (1, FieldValue::Str(s)) => d.backing_dev = bytes_to_string(s),
                (2, FieldValue::Str(s)) => d.meta_dev = bytes_to_string(s),
                (3, FieldValue::Signed(i)) => d.meta_dev_idx = i as i32,
                _ => {}
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbd_core::genl::NlaWriter;

    #[test]
    fn decodes_context_and_stats() {
        let mut buf = [0u8; 256];
        let mut w = NlaWriter::new(&mut buf);
        let n = w.nest_start(TopAttr::CfgContext as u16).unwrap();
        w.put_u32(1, 0).unwrap();
        w.put_string(2, "r0").unwrap();
        w.nest_end(n).unwrap();
        let n = w.nest_start(TopAttr::DeviceStatistics as u16).unwrap();
        w.put_u64(1, 131_000).unwrap();
        w.put_u8(10, 0).unwrap();
        w.nest_end(n).unwrap();
        let len = w.len();
        let tla = Tla::parse(&buf[..len]).unwrap();
        let c = CfgContext::from_tla(&tla).unwrap();
        assert_eq!(c.volume, 0);
        assert_eq!(c.resource_name, "r0");
        let mut s = DeviceStatistics::default();
        assert!(s.fill(&tla));
        assert_eq!(s.size, 131_000);
        assert_eq!(s.al_suspended, 0);
        assert_eq!(s.read, u64::MAX);
        let mut i = DeviceInfo::default();
        assert!(!i.fill(&tla));
        assert!(StateInfo::from_tla(&tla).is_none());
        assert_eq!(StateInfo::current_state_only(&tla), 0);
    }
}
