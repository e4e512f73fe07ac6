// SPDX-License-Identifier: GPL-2.0

//! `/proc/drbd` (or `/proc/drbd_rs` side by side with the C module), in the C module's format
//! (`drbd_proc.c`): the version line drbdadm reads to pick its 8.4 helpers, the build tag, and
//! per minor its connection state, roles, disk states, flags and counters.
//!
//! ```text
//! version: 8.4.11 (api:1/proto:86-101)
//! srcversion: 5C8785C12FB036A6AE13D9C
//!  0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----
//!     ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
//!  1: cs:Unconfigured
//! ```
//!
//! A minor that is Secondary, StandAlone and Diskless shows as `cs:Unconfigured`; a gap in the
//! minor numbers shows as an empty line.

use core::fmt::{self, Write};

use kernel::prelude::*;
use kernel::seq_file::SeqFile;

use crate::drbd_core::genl::{ConnState, DiskState, Role};
use crate::drbd_core::state::State;
use crate::drbd_core::wire;
use crate::resource::{DeviceStats, REGISTRY};
use crate::sys::procfs::{ProcEntry, ProcShow};

/// `write_ordering_chars[WO_BDEV_FLUSH]`: the only write ordering drbd-rs uses so far.
const WRITE_ORDERING: char = 'f';

/// What `/proc/drbd` shows of one minor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcDevice {
    /// The minor.
    pub(crate) minor: u32,
    /// Its state.
    pub(crate) state: State,
    /// Its counters.
    pub(crate) stats: DeviceStats,
    /// The connection's `wire_protocol` (1 = A ... 3 = C), if it has a network configuration.
    pub(crate) protocol: Option<u32>,
    /// Epochs in flight on the connection (1 when idle).
    pub(crate) epochs: u32,
}

/// The first two lines: version and build tag (`srcversion: ` and the module's source version
/// left-aligned in 24 columns, as `drbd_buildtag` prints it).
pub(crate) fn write_header(out: &mut impl Write, srcversion: &str) -> fmt::Result {
    writeln!(
        out,
        "version: {} (api:{}/proto:{}-{})",
        crate::REL_VERSION,
        crate::GENL_API_VERSION,
        wire::PRO_VERSION_MIN,
        wire::PRO_VERSION_MAX
    )?;
    writeln!(out, "srcversion: {:<24}", srcversion)
}

/// The lines of one minor (`drbd_seq_show`'s loop body), with the resync progress bar while
/// resyncing.
pub(crate) fn write_device(out: &mut impl Write, d: &ProcDevice) -> fmt::Result {
    let s = &d.state;
    if s.conn == ConnState::StandAlone && s.disk == DiskState::Diskless && s.role == Role::Secondary
    {
        return writeln!(out, "{:2}: cs:Unconfigured", d.minor);
    }
    let wp = match d.protocol {
        Some(p @ 1..=3) => (b'A' + (p as u8 - 1)) as char,
        _ => ' ',
    };
    let st = &d.stats;
    let flag = |b: bool, c: char| if b { c } else { '-' };
    writeln!(
        out,
        "{:2}: cs:{} ro:{}/{} ds:{}/{} {} {}{}{}{}{}{}",
        d.minor,
        s.conn.name(),
        s.role.name(),
        s.peer.name(),
        s.disk.name(),
        s.pdsk.name(),
        wp,
        if s.susp || s.susp_nod || s.susp_fen {
            's'
        } else {
            'r'
        },
        flag(s.aftr_isp, 'a'),
        flag(s.peer_isp, 'p'),
        flag(s.user_isp, 'u'),
        st.congestion as char,
        flag(st.al_suspended, 's'),
    )?;
    let oos_kb = st.ldev.map_or(0, |l| l.bits_oos) << 2;
    writeln!(
        out,
        "    ns:{} nr:{} dw:{} dr:{} al:{} bm:{} lo:{} pe:{} ua:{} ap:{} ep:{} wo:{} oos:{}",
        (st.send_cnt / 2) as u32,
        (st.recv_cnt / 2) as u32,
        (st.writ_cnt / 2) as u32,
        (st.read_cnt / 2) as u32,
        st.al_writ_cnt as u32,
        st.bm_writ_cnt as u32,
        st.local_cnt as i32,
        (st.ap_pending_cnt + st.rs_pending_cnt) as i32,
        st.unacked_cnt as i32,
        st.ap_bio_cnt as i32,
        d.epochs,
        WRITE_ORDERING,
        oos_kb
    )?;
    if st.rs_total > 0 {
        // `drbd_syncer_progress`: a 20-character bar and the per-mille done.
        let left = st
            .ov_left
            .unwrap_or_else(|| st.ldev.map_or(0, |l| l.bits_oos))
            .min(st.rs_total);
        let done = st.rs_total - left;
        let res = (done * 1000 / st.rs_total) as u32;
        let x = (res / 50) as usize;
        out.write_str("\t[")?;
        for _ in 1..x {
            out.write_char('=')?;
        }
        out.write_char('>')?;
        for _ in 0..20usize.saturating_sub(x.max(1)) {
            out.write_char('.')?;
        }
        writeln!(
            out,
            "] {}{:3}.{}% ({}/{})K",
            if st.ov_left.is_some() { "verified:" } else { "sync'ed:" },
            res / 10,
            res % 10,
            left << 2,
            st.rs_total << 2
        )?;
    }
    Ok(())
}

/// The whole file for `devices`, which must be ordered by minor.
pub(crate) fn write_all(
    out: &mut impl Write,
    srcversion: &str,
    devices: &[ProcDevice],
) -> fmt::Result {
    write_header(out, srcversion)?;
    let mut prev: i64 = -1;
    for d in devices {
        if prev != i64::from(d.minor) - 1 {
            out.write_char('\n')?;
        }
        prev = i64::from(d.minor);
        write_device(out, d)?;
    }
    Ok(())
}

/// Adapts a `seq_file` to `fmt::Write`.
struct SeqWriter<'a>(&'a SeqFile);

impl Write for SeqWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        kernel::seq_print!(self.0, "{}", s);
        Ok(())
    }
}

/// The `/proc` file.
pub(crate) struct DrbdProc;

impl ProcShow for DrbdProc {
    fn show(m: &SeqFile) {
        let mut devices = KVec::new();
        {
            let reg = REGISTRY.lock();
            let Ok(minors) = reg.minors() else {
                return;
            };
            for (minor, pos) in minors.iter() {
                let r = &reg.resources[pos.res];
                let dev = &r.volumes[pos.vol].device;
                let d = ProcDevice {
                    minor: *minor,
                    state: dev.state(),
                    stats: crate::resource::device_stats(dev),
                    protocol: r.conn.as_ref().map(|(c, _)| c.settings.lock().protocol),
                    epochs: 1,
                };
                if devices.push(d, GFP_KERNEL).is_err() {
                    return;
                }
            }
        }
        let srcversion = crate::sys::procfs::module_srcversion(
            &<crate::DrbdRs as kernel::ModuleMetadata>::THIS_MODULE,
        );
        let _ = write_all(&mut SeqWriter(m), srcversion, &devices);
    }
}

/// Creates `/proc/drbd` (or `/proc/drbd_rs` side by side with the C module).
pub(crate) fn create(side_by_side: bool) -> Result<ProcEntry<DrbdProc>> {
    ProcEntry::create(if side_by_side { c"drbd_rs" } else { c"drbd" })
}
