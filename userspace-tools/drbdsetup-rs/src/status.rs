//! The output of `drbdsetup status`: a resource with its devices, connections and peer devices
//! in DRBD 9's status format, as drbdsetup-84 prints it. The four dumps that collect them are
//! `status_cmd`'s, in `query_cmds`.

use drbd_core::genl::{disk_str, role_str};

use crate::attrs::{
    CfgContext, ConnectionInfo, ConnectionStatistics, DeviceInfo, DeviceStatistics, PeerDeviceInfo,
    PeerDeviceStatistics, ResourceInfo, ResourceStatistics,
};
use crate::out::{Colors, Out};
use crate::status_items::{
    conn_str9, print_connection_statistics, print_device_statistics, print_peer_device_statistics,
    print_resource_statistics, repl_str9, resync_susp_str, susp_str, Printer,
};

/// One resource of the `DRBD_ADM_GET_RESOURCES` dump.
#[derive(Clone, Debug)]
pub struct Resource {
    pub name: String,
    pub info: ResourceInfo,
    pub stats: ResourceStatistics,
}

/// One device (`DRBD_ADM_GET_DEVICES`).
#[derive(Clone, Debug)]
pub struct Device {
    pub minor: u32,
    pub ctx: CfgContext,
    pub info: DeviceInfo,
    pub stats: DeviceStatistics,
}

/// One connection (`DRBD_ADM_GET_CONNECTIONS`).
#[derive(Clone, Debug)]
pub struct Connection {
    pub ctx: CfgContext,
    pub info: ConnectionInfo,
    pub stats: ConnectionStatistics,
}

/// One peer device (`DRBD_ADM_GET_PEER_DEVICES`), with the device of the same volume.
#[derive(Clone, Debug)]
pub struct PeerDevice {
    pub ctx: CfgContext,
    pub info: PeerDeviceInfo,
    pub stats: PeerDeviceStatistics,
    pub device: Option<usize>,
}

/// What the status output depends on besides the objects.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub verbose: bool,
    pub statistics: bool,
    pub colors: Colors,
}

/// The status of one resource: the resource line, its devices, its connections.
pub fn print_resource(
    out: &mut Out,
    o: Opts,
    r: &Resource,
    devices: &[Device],
    connections: &[Connection],
    peer_devices: &[PeerDevice],
) {
    resource_status(out, o, r);
    let single = devices.len() == 1;
    for d in devices {
        device_status(out, o, d, single);
    }
    for c in connections {
        connection_status(out, o, c, peer_devices, devices, single);
    }
    out.wrap(0, "\n");
}

fn resource_status(out: &mut Out, o: Opts, r: &Resource) {
    let role = r.info.role;
    out.wrap_arg(0, &r.name);
    let (c0, c1) = o.colors.role(role, true);
    out.wrap(4, &format!(" role:{c0}{}{c1}", role_str(role)));
    if o.verbose || r.info.susp != 0 || r.info.susp_nod != 0 || r.info.susp_fen != 0 {
        out.wrap(4, &format!(" suspended:{}", susp_str(&r.info)));
    }
    if o.statistics && o.verbose {
        out.wrap(4, "\n");
        print_resource_statistics(&mut Printer { out, wrap: true }, 4, None, &r.stats);
    }
    out.wrap(0, "\n");
}

fn device_status(out: &mut Out, o: Opts, d: &Device, single: bool) {
    let ds = d.info.disk_state;
    let mut indent = 2;
    if o.verbose || !(single && d.ctx.volume == 0) {
        out.wrap(indent, &format!("volume:{}", d.ctx.volume));
        indent = 6;
        if o.verbose {
            out.wrap(indent, &format!(" minor:{}", d.minor));
        }
    }
    let (c0, c1) = o.colors.disk_state(ds, true);
    out.wrap(indent, &format!(" disk:{c0}{}{c1}", disk_str(ds)));
    let indent = 6;
    if d.stats.size != u64::MAX {
        if o.statistics {
            out.wrap(indent, "\n");
        }
        print_device_statistics(
            &mut Printer { out, wrap: true },
            indent,
            None,
            &d.stats,
            o.verbose,
            o.statistics,
        );
    }
    out.wrap(indent, "\n");
}

fn peer_device_status(out: &mut Out, o: Opts, p: &PeerDevice, devices: &[Device], single: bool) {
    let mut indent = 4;
    if o.verbose || !(single && p.ctx.volume == 0) {
        out.wrap(indent, &format!("volume:{}", p.ctx.volume as i32));
        indent = 8;
    }
    let repl = p.info.repl_state;
    if o.verbose || repl > 9 {
        let (c0, c1) = o.colors.repl_state(repl);
        out.wrap(indent, &format!(" replication:{c0}{}{c1}", repl_str9(repl)));
        indent = 8;
    }
    if o.verbose || o.statistics || repl != 9 || p.info.disk_state != 6 {
        let ds = p.info.disk_state;
        let (c0, c1) = o.colors.disk_state(ds, false);
        out.wrap(indent, &format!(" peer-disk:{c0}{}{c1}", disk_str(ds)));
        indent = 8;
        if (16..=21).contains(&repl) {
            let size = p
                .device
                .and_then(|i| devices.get(i))
                .map_or(0.0, |d| d.stats.size as f64);
            let done = 100.0 * (1.0 - p.stats.out_of_sync as f64 / size);
            out.wrap(indent, &format!(" done:{}", c_fixed2(done)));
        }
        if o.verbose
            || p.info.resync_susp_user != 0
            || p.info.resync_susp_peer != 0
            || p.info.resync_susp_dependency != 0
        {
            out.wrap(
                indent,
                &format!(" resync-suspended:{}", resync_susp_str(&p.info)),
            );
        }
        if o.statistics && p.stats.received != u64::MAX {
            out.wrap(indent, "\n");
            print_peer_device_statistics(
                &mut Printer { out, wrap: true },
                indent,
                &p.stats,
                o.verbose,
            );
        }
    }
    out.wrap(0, "\n");
}

/// printf's `%.2f`, including its spellings of infinities and NaN.
fn c_fixed2(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.into()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.into()
    } else {
        format!("{v:.2}")
    }
}

fn connection_status(
    out: &mut Out,
    o: Opts,
    c: &Connection,
    peer_devices: &[PeerDevice],
    devices: &[Device],
    single: bool,
) {
    out.wrap_arg(2, "peer");
    let cs = c.info.connection_state;
    if o.verbose || cs < 9 {
        let (c0, c1) = o.colors.cstate(cs);
        out.wrap(6, &format!(" connection:{c0}{}{c1}", conn_str9(cs)));
    }
    if o.verbose || cs == 9 {
        let (c0, c1) = o.colors.role(c.info.role, false);
        out.wrap(6, &format!(" role:{c0}{}{c1}", role_str(c.info.role)));
    }
    if o.verbose || c.stats.congested > 0 {
        print_connection_statistics(&mut Printer { out, wrap: true }, 6, None, &c.stats);
    }
    out.wrap(0, "\n");
    if o.verbose || o.statistics || cs == 9 {
        for p in peer_devices {
            if c.ctx.endpoints_equal(&p.ctx) {
                peer_device_status(out, o, p, devices, single);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Resource, Vec<Device>, Vec<Connection>, Vec<PeerDevice>) {
        let ctx = |v: u32| CfgContext {
            volume: v,
            resource_name: "r0".into(),
            my_addr: vec![2, 0, 0x1e, 0x6d, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            peer_addr: vec![2, 0, 0x1e, 0x6e, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let r = Resource {
            name: "r0".into(),
            info: ResourceInfo {
                role: 1,
                ..Default::default()
            },
            stats: ResourceStatistics { write_ordering: 2 },
        };
        let d = Device {
            minor: 0,
            ctx: CfgContext {
                my_addr: vec![],
                peer_addr: vec![],
                ..ctx(0)
            },
            info: DeviceInfo { disk_state: 8 },
            stats: DeviceStatistics {
                size: 130_992,
                read: 65_536,
                write: 163_760,
                al_writes: 8,
                bm_writes: 0,
                upper_pending: 0,
                lower_pending: 0,
                upper_blocked: 0,
                lower_blocked: 0,
                al_suspended: 0,
            },
        };
        let c = Connection {
            ctx: ctx(u32::MAX),
            info: ConnectionInfo {
                connection_state: 10,
                role: 2,
            },
            stats: ConnectionStatistics { congested: 0 },
        };
        let p = PeerDevice {
            ctx: ctx(0),
            info: PeerDeviceInfo {
                repl_state: 10,
                disk_state: 8,
                ..Default::default()
            },
            stats: PeerDeviceStatistics {
                received: 163_760,
                sent: 0,
                pending: 0,
                unacked: 0,
                out_of_sync: 0,
            },
            device: Some(0),
        };
        (r, vec![d], vec![c], vec![p])
    }

    fn render_width(verbose: bool, statistics: bool, color: bool, width: i32) -> String {
        let (r, d, c, p) = sample();
        let mut out = Out::new(width);
        let o = Opts {
            verbose,
            statistics,
            colors: Colors { enabled: color },
        };
        print_resource(&mut out, o, &r, &d, &c, &p);
        out.text()
    }

    fn render(verbose: bool, statistics: bool, color: bool) -> String {
        render_width(verbose, statistics, color, 80)
    }

    /// Debian's drbdsetup-84 against the C DRBD 8.4.11, `status r0 --verbose --statistics
    /// --color=never`, written to an 80-column console (replicate-two-guests, node0).
    #[test]
    fn verbose_statistics_matches_drbdsetup_84() {
        let (mut r, mut d, mut c, mut p) = sample();
        d[0].stats.read = 163_760;
        d[0].stats.write = 32_768;
        d[0].stats.al_writes = 12;
        p[0].stats.received = 0;
        p[0].stats.sent = 163_760;
        let want = "r0 role:Primary suspended:no\n    write-ordering:flush\n  volume:0 minor:0 disk:UpToDate\n      size:65496 read:81880 written:16384 al-writes:12 bm-writes:0\n      upper-pending:0 lower-pending:0 al-suspended:no blocked:no\n  peer connection:Connected role:Secondary congested:no\n    volume:0 replication:Established peer-disk:UpToDate resync-suspended:no\n        received:0 sent:81880 out-of-sync:0 pending:0 unacked:0\n\n";
        let mut out = Out::new(80);
        let o = Opts {
            verbose: true,
            statistics: true,
            colors: Colors { enabled: false },
        };
        r.info.susp = 0;
        c[0].stats.congested = 0;
        print_resource(&mut out, o, &r, &d, &c, &p);
        assert_eq!(out.text(), want);
    }

    /// The same command's output on a terminal narrower than 75 columns (wrap_printf wraps at
    /// the terminal's width).
    #[test]
    fn verbose_statistics_on_a_narrow_terminal() {
        let want = "r0 role:Primary suspended:no\n    write-ordering:flush\n  volume:0 minor:0 disk:UpToDate\n      size:65496 read:32768 written:81880 al-writes:8 bm-writes:0\n      upper-pending:0 lower-pending:0 al-suspended:no blocked:no\n  peer connection:Connected role:Secondary congested:no\n    volume:0 replication:Established peer-disk:UpToDate\n        resync-suspended:no\n        received:81880 sent:0 out-of-sync:0 pending:0 unacked:0\n\n";
        assert_eq!(render_width(true, true, false, 72), want);
    }

    #[test]
    fn plain_status() {
        // Connected (8.4's C_CONNECTED) prints neither connection state nor peer devices.
        assert_eq!(
            render(false, false, false),
            "r0 role:Primary\n  disk:UpToDate\n  peer\n\n"
        );
        let (r, d, mut c, mut p) = sample();
        c[0].info.connection_state = 8;
        p[0].info.repl_state = 8;
        p[0].info.disk_state = 6;
        let mut out = Out::new(80);
        let o = Opts {
            verbose: false,
            statistics: false,
            colors: Colors { enabled: false },
        };
        print_resource(&mut out, o, &r, &d, &c, &p);
        assert_eq!(
            out.text(),
            "r0 role:Primary\n  disk:UpToDate\n  peer connection:Connecting\n\n"
        );
    }

    #[test]
    fn coloured_status() {
        let s = render(false, false, true);
        assert!(
            s.starts_with("r0 role:\x1b[1;36mPrimary\x1b[0m\n  disk:\x1b[1;32mUpToDate\x1b[0m\n"),
            "{s:?}"
        );
    }

    #[test]
    fn printf_float_spellings() {
        assert_eq!(c_fixed2(99.996), "100.00");
        assert_eq!(c_fixed2(12.345_6), "12.35");
        assert_eq!(c_fixed2(f64::NEG_INFINITY), "-inf");
    }
}
