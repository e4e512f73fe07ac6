// SPDX-License-Identifier: GPL-2.0

//! User-mode helpers (DRBD 8.4's `drbd_khelper`): on events such as a split brain or the start
//! and end of a resync the module runs the `usermode_helper` program (by default
//! `/sbin/drbdadm`, which runs the handler configured for the resource) as
//!
//! ```text
//! <usermode_helper> <command> minor-<N>
//! ```
//!
//! with the environment `HOME=/`, `TERM=linux`, `PATH=/sbin:/usr/sbin:/bin:/usr/bin`,
//! `DRBD_PEER_AF=ipv4|ipv6` and `DRBD_PEER_ADDRESS=<peer address>` (the last two empty when no
//! peer address is configured), and logs the call and its exit code in the C module's words.
//!
//! [`run`] waits for the helper, as the C module does (`UMH_WAIT_PROC`), from the thread the
//! C module waits on: the receiver for the split-brain helpers and `before-resync-*`, whose
//! answer matters; the ack receiver, which keeps the connection alive, never runs one.
//! [`spawn`] runs a helper whose answer nobody needs (`after-resync-target`,
//! `pri-on-incon-degr`) from a work item, so neither the resync's request thread nor I/O
//! completions nor a caller holding the configuration lock wait for it.
//!
//! The connection's helpers (`fence-peer`, `unfence-peer`: `conn_khelper`) get the resource
//! name instead of `minor-<N>` ([`Target::Resource`]). Every call and every answer is also
//! announced to `events2` listeners (`call helper ...`, `response helper ... status:<wait
//! status>`) through the notifier the control plane registers with [`set_notifier`], so this
//! file does not depend on it.

use core::{ffi::CStr, fmt::Write};

use kernel::{
    prelude::*,
    sync::Arc,
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

use crate::drbd_core::uuid;
use crate::sys::{
    hook::Hook,
    net::SockAddr,
    umh::{self, HelperPath},
    FmtBuf,
};

/// A helper command: the handler name passed as the first argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    /// From the sync handshake ([`uuid::Helper`]).
    Handshake(uuid::Helper),
    /// `before-resync-target`: this node is about to become SyncTarget.
    BeforeResyncTarget,
    /// `before-resync-source`: this node is about to become SyncSource.
    BeforeResyncSource,
    /// `after-resync-target`: this node finished a resync as SyncTarget.
    AfterResyncTarget,
    /// `pri-on-incon-degr`: a Primary lost access to UpToDate data.
    PriOnInconDegr,
    /// `local-io-error`: the backing device failed (`on-io-error call-local-io-error`).
    LocalIoError,
    /// `fence-peer`: a Primary without its peer asks the cluster manager to outdate or shoot
    /// the peer (a connection helper).
    FencePeer,
    /// `unfence-peer`: a SyncSource brought its peer up to date again (a connection helper).
    UnfencePeer,
}

impl Cmd {
    /// The command as the C module passes it.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            Cmd::Handshake(uuid::Helper::InitialSplitBrain) => c"initial-split-brain",
            Cmd::Handshake(uuid::Helper::SplitBrain) => c"split-brain",
            Cmd::Handshake(uuid::Helper::PriLost) => c"pri-lost",
            Cmd::Handshake(uuid::Helper::PriLostAfterSb) => c"pri-lost-after-sb",
            Cmd::BeforeResyncTarget => c"before-resync-target",
            Cmd::BeforeResyncSource => c"before-resync-source",
            Cmd::AfterResyncTarget => c"after-resync-target",
            Cmd::PriOnInconDegr => c"pri-on-incon-degr",
            Cmd::LocalIoError => c"local-io-error",
            Cmd::FencePeer => c"fence-peer",
            Cmd::UnfencePeer => c"unfence-peer",
        }
    }

    /// The name as text.
    pub(crate) fn name_str(self) -> &'static str {
        self.name().to_str().unwrap_or("")
    }
}

/// Fills `buf` with `args` and a NUL (cut to fit) and returns the C string.
fn c_string<'a>(buf: &'a mut [u8], args: core::fmt::Arguments<'_>) -> &'a CStr {
    let last = buf.len().saturating_sub(1);
    let len = {
        let mut w = FmtBuf::new(&mut buf[..last]);
        let _ = w.write_fmt(args);
        w.as_str().len()
    };
    buf[len] = 0;
    CStr::from_bytes_until_nul(&buf[..=len]).unwrap_or(c"")
}

/// Writes the address as the kernel's `%pI4` / `%pI6` print it: `192.0.2.1`, or eight groups
/// of four hex digits for IPv6 (not compressed).
fn write_ip(w: &mut impl Write, peer: &SockAddr) -> core::fmt::Result {
    let ip = peer.ip();
    if !peer.is_v6() {
        return write!(w, "{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
    }
    for (i, g) in ip.chunks_exact(2).enumerate() {
        if i > 0 {
            w.write_str(":")?;
        }
        write!(w, "{:02x}{:02x}", g[0], g[1])?;
    }
    Ok(())
}

/// `DRBD_PEER_AF=...` and `DRBD_PEER_ADDRESS=...` for `peer` (`setup_khelper_env`), built in
/// the two buffers (the C module's sizes); both empty without a peer address.
pub(crate) fn peer_env<'a>(
    peer: Option<&SockAddr>,
    af_buf: &'a mut [u8; 20],
    addr_buf: &'a mut [u8; 60],
) -> (&'a CStr, &'a CStr) {
    let Some(p) = peer else {
        return (c"", c"");
    };
    let af = c_string(
        af_buf,
        format_args!("DRBD_PEER_AF={}", if p.is_v6() { "ipv6" } else { "ipv4" }),
    );
    let last = addr_buf.len() - 1;
    let len = {
        let mut w = FmtBuf::new(&mut addr_buf[..last]);
        let _ = w.write_str("DRBD_PEER_ADDRESS=");
        let _ = write_ip(&mut w, p);
        w.as_str().len()
    };
    addr_buf[len] = 0;
    (af, CStr::from_bytes_until_nul(&addr_buf[..=len]).unwrap_or(c""))
}

/// Whom a helper is run for: a device (`drbd_khelper`: `minor-<N>`) or a resource's
/// connection (`conn_khelper`: the resource name).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    /// The device with this minor.
    Minor(u32),
    /// The resource with this name.
    Resource(&'a [u8]),
}

/// A helper call or answer, for `events2` (`notify_helper`).
pub(crate) struct Notice<'a> {
    /// Whom it was run for.
    pub(crate) target: Target<'a>,
    /// The command.
    pub(crate) cmd: Cmd,
    /// `None` for the call, the wait status for the answer.
    pub(crate) status: Option<i32>,
}

/// The control plane's listener for helper calls and answers (`events2`), registered at
/// module init.
static NOTIFIER: Hook<fn(&Notice<'_>)> = Hook::new();

/// Registers `f` to be told of every helper call and answer (the control plane's events).
pub(crate) fn set_notifier(f: Option<&'static fn(&Notice<'_>)>) {
    NOTIFIER.set(f);
}

fn notify(n: &Notice<'_>) {
    if let Some(f) = NOTIFIER.get() {
        f(n);
    }
}

/// Runs the helper `cmd` for minor `minor` and waits for it (`drbd_khelper`). `peer` is the
/// connection's peer address, if a connection is configured. Returns the wait status as the C
/// function does: the exit code in bits 8..15, and 0 when the helper could not be run at all.
///
/// Sleeps for as long as the helper runs: call it only from a thread the C module blocks
/// there too, holding no lock.
pub(crate) fn run(minor: u32, peer: Option<&SockAddr>, cmd: Cmd) -> i32 {
    run_for(Target::Minor(minor), peer, cmd)
}

/// Runs the connection helper `cmd` of resource `name` and waits for it (`conn_khelper`):
/// `<helper> <cmd> <name>`, logged with the resource's prefix. As [`run`] otherwise.
pub(crate) fn run_for_resource(name: &[u8], peer: Option<&SockAddr>, cmd: Cmd) -> i32 {
    run_for(Target::Resource(name), peer, cmd)
}

fn run_for(target: Target<'_>, peer: Option<&SockAddr>, cmd: Cmd) -> i32 {
    let path = HelperPath::get();
    // The last argument: `minor-<N>` or the resource name (at most 128 bytes and the NUL).
    let mut arg_buf = [0u8; 130];
    let arg = match target {
        Target::Minor(minor) => c_string(&mut arg_buf, format_args!("minor-{}", minor)),
        Target::Resource(name) => c_string(
            &mut arg_buf,
            format_args!("{}", core::str::from_utf8(name).unwrap_or("?")),
        ),
    };
    let mut af_buf = [0u8; 20];
    let mut addr_buf = [0u8; 60];
    let (af, addr) = peer_env(peer, &mut af_buf, &mut addr_buf);
    let arg_str = arg.to_str().unwrap_or("");
    // The log prefix: `drbd<N>` for a device, `drbd <resource>` for a connection.
    let mut who_buf = [0u8; 140];
    let who = match target {
        Target::Minor(m) => c_string(&mut who_buf, format_args!("drbd{}", m)),
        Target::Resource(n) => c_string(
            &mut who_buf,
            format_args!("drbd {}", core::str::from_utf8(n).unwrap_or("?")),
        ),
    };
    let who = who.to_str().unwrap_or("drbd");
    pr_info!(
        "{}: helper command: {} {} {}\n",
        who,
        path.as_str(),
        cmd.name_str(),
        arg_str
    );
    notify(&Notice { target, cmd, status: None });
    let ret = umh::call(
        path.as_cstr(),
        &[path.as_cstr(), cmd.name(), arg],
        &[
            c"HOME=/",
            c"TERM=linux",
            c"PATH=/sbin:/usr/sbin:/bin:/usr/bin",
            af,
            addr,
        ],
    );
    let code = (ret >> 8) & 0xff;
    if ret != 0 {
        pr_warn!(
            "{}: helper command: {} {} {} exit code {} ({:#x})\n",
            who,
            path.as_str(),
            cmd.name_str(),
            arg_str,
            code,
            ret as u32
        );
    } else {
        pr_info!(
            "{}: helper command: {} {} {} exit code {} ({:#x})\n",
            who,
            path.as_str(),
            cmd.name_str(),
            arg_str,
            code,
            ret as u32
        );
    }
    notify(&Notice { target, cmd, status: Some(ret) });
    // "Ignore any ERRNOs we got."
    ret.max(0)
}

/// A helper run from the system workqueue for [`spawn`]: for the device with `minor`, or
/// for the resource named `resource` when that is not empty.
#[pin_data]
struct HelperWork {
    minor: u32,
    resource: KVec<u8>,
    peer: Option<SockAddr>,
    cmd: Cmd,
    #[pin]
    work: Work<HelperWork>,
}

impl_has_work! {
    impl HasWork<Self> for HelperWork { self.work }
}

impl WorkItem for HelperWork {
    type Pointer = Arc<HelperWork>;

    fn run(this: Arc<HelperWork>) {
        let target = if this.resource.is_empty() {
            Target::Minor(this.minor)
        } else {
            Target::Resource(&this.resource)
        };
        run_for(target, this.peer.as_ref(), this.cmd);
    }
}

/// Runs the helper `cmd` as [`run`] does, but from a work item: returns at once, and the
/// answer is only logged. May be called holding locks. Runs on the module's helper workqueue,
/// which module exit drains. If the work item cannot be allocated (or the module is going
/// away) the helper is not run, and that is logged.
pub(crate) fn spawn(minor: u32, peer: Option<SockAddr>, cmd: Cmd) {
    queue(minor, KVec::new(), peer, cmd);
}

/// [`spawn`] for a connection helper of resource `name` ([`run_for_resource`]).
pub(crate) fn spawn_for_resource(name: &[u8], peer: Option<SockAddr>, cmd: Cmd) {
    let mut resource = KVec::new();
    if resource.extend_from_slice(name, GFP_KERNEL).is_err() || resource.is_empty() {
        pr_err!(
            "drbd {}: helper command: {} {} not run\n",
            core::str::from_utf8(name).unwrap_or("?"),
            HelperPath::get().as_str(),
            cmd.name_str()
        );
        return;
    }
    queue(0, resource, peer, cmd);
}

fn queue(minor: u32, resource: KVec<u8>, peer: Option<SockAddr>, cmd: Cmd) {
    let w = Arc::pin_init(
        pin_init!(HelperWork {
            minor,
            resource,
            peer,
            cmd,
            work <- new_work!("HelperWork::work"),
        }),
        GFP_KERNEL,
    );
    let queued = match w {
        Ok(w) => crate::sys::workqueue::helper_queue().enqueue(w).is_ok(),
        Err(_) => false,
    };
    if !queued {
        pr_err!(
            "drbd{}: helper command: {} {} not run\n",
            minor,
            HelperPath::get().as_str(),
            cmd.name_str(),
        );
    }
}
