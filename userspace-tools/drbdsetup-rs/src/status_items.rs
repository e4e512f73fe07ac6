//! The items of DRBD 9's status lines that both `status` and `events2` print: DRBD 9's names for
//! 8.4's connection states, the suspension lists, and the statistics of resources, devices,
//! connections and peer devices, written through `wrap_printf` (status) or plainly (events2).

use drbd_core::genl::conn_str;

use crate::attrs::{
    ConnectionStatistics, DeviceStatistics, PeerDeviceInfo, PeerDeviceStatistics, ResourceInfo,
    ResourceStatistics,
};
use crate::out::Out;

/// `susp_str`.
pub fn susp_str(i: &ResourceInfo) -> String {
    let mut parts = Vec::new();
    if i.susp != 0 {
        parts.push("user");
    }
    if i.susp_nod != 0 {
        parts.push("no-data");
    }
    if i.susp_fen != 0 {
        parts.push("fencing");
    }
    if parts.is_empty() {
        "no".into()
    } else {
        parts.join(",")
    }
}

/// `resync_susp_str`.
pub fn resync_susp_str(i: &PeerDeviceInfo) -> String {
    let mut parts = Vec::new();
    if i.resync_susp_user != 0 {
        parts.push("user");
    }
    if i.resync_susp_peer != 0 {
        parts.push("peer");
    }
    if i.resync_susp_dependency != 0 {
        parts.push("dependency");
    }
    if parts.is_empty() {
        "no".into()
    } else {
        parts.join(",")
    }
}

/// `drbd_repl_str9`: DRBD 9's names for the 8.4 states that have one.
pub fn repl_str9(c: u32) -> &'static str {
    match c {
        9 => "Off",
        10 => "Established",
        _ => conn_str(c),
    }
}

/// `drbd_conn_str9`.
pub fn conn_str9(c: u32) -> &'static str {
    match c {
        8 => "Connecting",
        9 => "Connected",
        _ => conn_str(c),
    }
}

/// Where statistics are printed: through `wrap_printf` (status) or plain (`events2`).
pub struct Printer<'a> {
    pub out: &'a mut Out,
    pub wrap: bool,
}

impl Printer<'_> {
    pub fn p(&mut self, indent: i32, s: &str) {
        if self.wrap {
            self.out.wrap(indent, s);
        } else {
            self.out.print(s);
        }
    }
}

/// `print_resource_statistics`.
pub fn print_resource_statistics(
    p: &mut Printer<'_>,
    indent: i32,
    old: Option<&ResourceStatistics>,
    new: &ResourceStatistics,
) {
    let wo = new.write_ordering;
    let names = ["none", "drain", "flush", "barrier"];
    if old.is_none_or(|o| o.write_ordering != wo) && (wo as usize) < names.len() {
        p.p(indent, &format!(" write-ordering:{}", names[wo as usize]));
    }
}

/// `print_device_statistics`.
pub fn print_device_statistics(
    p: &mut Printer<'_>,
    indent: i32,
    old: Option<&DeviceStatistics>,
    new: &DeviceStatistics,
    verbose: bool,
    statistics: bool,
) {
    if statistics {
        if verbose {
            p.p(indent, &format!(" size:{}", new.size / 2));
        }
        p.p(indent, &format!(" read:{}", new.read / 2));
        p.p(indent, &format!(" written:{}", new.write / 2));
        if verbose {
            p.p(indent, &format!(" al-writes:{}", new.al_writes));
            p.p(indent, &format!(" bm-writes:{}", new.bm_writes));
            p.p(indent, &format!(" upper-pending:{}", new.upper_pending));
            p.p(indent, &format!(" lower-pending:{}", new.lower_pending));
            if old.is_none_or(|o| o.al_suspended != new.al_suspended) {
                p.p(
                    indent,
                    &format!(
                        " al-suspended:{}",
                        if new.al_suspended != 0 { "yes" } else { "no" }
                    ),
                );
            }
        }
    }
    let changed = old.is_none_or(|o| {
        o.upper_blocked != new.upper_blocked || o.lower_blocked != new.lower_blocked
    });
    if changed
        && new.size != u64::MAX
        && (verbose || new.upper_blocked != 0 || new.lower_blocked != 0)
    {
        let mut parts = Vec::new();
        if new.upper_blocked != 0 {
            parts.push("upper");
        }
        if new.lower_blocked != 0 {
            parts.push("lower");
        }
        let s = if parts.is_empty() {
            "no".to_string()
        } else {
            parts.join(",")
        };
        p.p(indent, &format!(" blocked:{s}"));
    }
}

/// `print_connection_statistics`.
pub fn print_connection_statistics(
    p: &mut Printer<'_>,
    indent: i32,
    old: Option<&ConnectionStatistics>,
    new: &ConnectionStatistics,
) {
    if old.is_none_or(|o| o.congested != new.congested) {
        p.p(
            indent,
            &format!(
                " congested:{}",
                if new.congested != 0 { "yes" } else { "no" }
            ),
        );
    }
}

/// `print_peer_device_statistics`.
pub fn print_peer_device_statistics(
    p: &mut Printer<'_>,
    indent: i32,
    new: &PeerDeviceStatistics,
    verbose: bool,
) {
    p.p(indent, &format!(" received:{}", new.received / 2));
    p.p(indent, &format!(" sent:{}", new.sent / 2));
    if verbose || new.out_of_sync != 0 {
        p.p(indent, &format!(" out-of-sync:{}", new.out_of_sync / 2));
    }
    if verbose {
        p.p(indent, &format!(" pending:{}", new.pending));
        p.p(indent, &format!(" unacked:{}", new.unacked));
    }
}
