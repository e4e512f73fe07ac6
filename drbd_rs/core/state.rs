// SPDX-License-Identifier: GPL-2.0

//! The state rules of a DRBD 8.4 device: which combinations of role, connection state and disk
//! states are allowed (`drbd_state.c`: `is_valid_state`, `is_valid_soft_transition`,
//! `is_valid_transition`, `sanitize_state`), what a role change or a detach does
//! (`drbd_set_role`, `adm_detach` in `drbd_nl.c`), how the meta-data flags and generation UUIDs
//! follow the state, and the sizes a device gets on attach.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test` checks the rules against the C module's behaviour. The
//! driver keeps the state and does the I/O; it asks these functions what the next state is and
//! reports the answer (a [`StateRv`] or a [`RetCode`]) to drbdsetup unchanged, so the numbers
//! and texts users see are DRBD's.
//!
//! Disk states are ordered as in DRBD (`Diskless < Attaching < Failed < Negotiating <
//! Inconsistent < Outdated < DUnknown < Consistent < UpToDate`); the rules compare their numbers,
//! exactly as the C code compares the enum.

use super::genl::{ConnState, DiskState, Fencing, OnNoData, RetCode, Role, StateRv};
use super::meta::{
    MDF_AL_CLEAN, MDF_CONNECTED_IND, MDF_CONSISTENT, MDF_CRASHED_PRIMARY, MDF_PEER_OUT_DATED,
    MDF_PRIMARY_IND, MDF_WAS_UP_TO_DATE, UI_BITMAP, UI_CURRENT, UI_SIZE,
};

// ---------------------------------------------------------------------------------------------
// Limits of the request path
// ---------------------------------------------------------------------------------------------

/// Largest bio DRBD 8.4 accepts or sends (`DRBD_MAX_BIO_SIZE`, 1 MiB).
pub const DRBD_MAX_BIO_SIZE: u32 = 1 << 20;
/// A bio size every peer accepts (`DRBD_MAX_BIO_SIZE_SAFE`, 4 KiB): the limit while nothing is
/// known about the peer.
pub const DRBD_MAX_BIO_SIZE_SAFE: u32 = 1 << 12;

// ---------------------------------------------------------------------------------------------
// The state word
// ---------------------------------------------------------------------------------------------

/// The fields of `union drbd_state` the rules use, typed. [`super::genl::DrbdState`] is the
/// raw ABI form sent to drbdsetup; [`State::to_abi`] converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Local role.
    pub role: Role,
    /// Peer role ([`Role::Unknown`] while not connected).
    pub peer: Role,
    /// Connection state.
    pub conn: ConnState,
    /// Local disk state.
    pub disk: DiskState,
    /// Peer disk state ([`DiskState::DUnknown`] while not connected, unless known outdated).
    pub pdsk: DiskState,
    /// I/O suspended by the user.
    pub susp: bool,
    /// I/O suspended because no data is accessible (`on-no-data-accessible suspend-io`).
    pub susp_nod: bool,
    /// I/O suspended while the fence-peer handler runs.
    pub susp_fen: bool,
    /// Resync paused by a resync-after dependency.
    pub aftr_isp: bool,
    /// Resync paused by the peer.
    pub peer_isp: bool,
    /// Resync paused by the user.
    pub user_isp: bool,
}

impl State {
    /// A device right after `new-minor`: Secondary, StandAlone, Diskless.
    pub const UNCONFIGURED: State = State {
        role: Role::Secondary,
        peer: Role::Unknown,
        conn: ConnState::StandAlone,
        disk: DiskState::Diskless,
        pdsk: DiskState::DUnknown,
        susp: false,
        susp_nod: false,
        susp_fen: false,
        aftr_isp: false,
        peer_isp: false,
        user_isp: false,
    };

    /// The ABI form (`union drbd_state`) for netlink replies and events.
    pub fn to_abi(&self) -> super::genl::DrbdState {
        super::genl::DrbdState {
            role: self.role.raw(),
            peer: self.peer.raw(),
            conn: self.conn.raw(),
            disk: self.disk.raw(),
            pdsk: self.pdsk.raw(),
            susp: self.susp,
            aftr_isp: self.aftr_isp,
            peer_isp: self.peer_isp,
            user_isp: self.user_isp,
            susp_nod: self.susp_nod,
            susp_fen: self.susp_fen,
        }
    }
}

// Comparisons in the C enum's order.
fn d(s: DiskState) -> u8 {
    s.raw()
}

fn c(s: ConnState) -> u8 {
    s.raw()
}

fn is_sync_source_like(conn: ConnState) -> bool {
    matches!(
        conn,
        ConnState::Connected
            | ConnState::WfBitMapS
            | ConnState::SyncSource
            | ConnState::PausedSyncS
    )
}

/// What the rules need to know besides the two state words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEnv {
    /// Someone has the device open (`device->open_cnt`): it cannot become Secondary.
    pub open: bool,
    /// The disk's `fencing` policy; [`Fencing::DontCare`] while diskless.
    pub fencing: Fencing,
    /// The resource's `on-no-data-accessible` policy.
    pub on_no_data: OnNoData,
    /// The network configuration, if there is one.
    pub net: Option<NetEnv>,
    /// A state change was sent to the peer and its answer is outstanding (`STATE_SENT`).
    pub state_sent: bool,
}

impl StateEnv {
    /// A device without network configuration, not open, default disk and resource options.
    pub const STANDALONE: StateEnv = StateEnv {
        open: false,
        fencing: Fencing::DontCare,
        on_no_data: OnNoData::IoError,
        net: None,
        state_sent: false,
    };
}

/// The parts of the network configuration and connection the rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetEnv {
    /// `allow-two-primaries`.
    pub two_primaries: bool,
    /// Another volume of this connection has a Primary peer (`conn_highest_peer`).
    pub peer_primary_elsewhere: bool,
    /// A `verify-alg` is configured.
    pub verify_alg: bool,
    /// Agreed protocol version (0 before the handshake).
    pub agreed_pro_version: u32,
}

// ---------------------------------------------------------------------------------------------
// The C rules
// ---------------------------------------------------------------------------------------------

/// `is_valid_state`: whether state `ns` may exist at all. Answers [`StateRv::Success`] or the
/// first rule it breaks, in the C module's order.
pub fn is_valid_state(ns: &State, env: &StateEnv) -> StateRv {
    let primary = ns.role == Role::Primary;
    if let Some(net) = env.net {
        if !net.two_primaries && primary {
            if ns.peer == Role::Primary {
                return StateRv::TwoPrimaries;
            } else if net.peer_primary_elsewhere {
                return StateRv::OVolPeerPri;
            }
        }
    }
    let connected = c(ns.conn) >= c(ConnState::Connected);
    let beyond_connected = c(ns.conn) > c(ConnState::Connected);
    if ns.role == Role::Secondary && env.open {
        StateRv::DeviceInUse
    } else if primary && !connected && d(ns.disk) < d(DiskState::UpToDate) {
        StateRv::NoUpToDateDisk
    } else if env.fencing != Fencing::DontCare
        && primary
        && !connected
        && d(ns.pdsk) >= d(DiskState::DUnknown)
    {
        StateRv::PrimaryNop
    } else if primary
        && d(ns.disk) <= d(DiskState::Inconsistent)
        && d(ns.pdsk) <= d(DiskState::Inconsistent)
    {
        StateRv::NoUpToDateDisk
    } else if beyond_connected && d(ns.disk) < d(DiskState::Inconsistent) {
        StateRv::NoLocalDisk
    } else if beyond_connected && d(ns.pdsk) < d(DiskState::Inconsistent) {
        StateRv::NoRemoteDisk
    } else if beyond_connected
        && d(ns.disk) < d(DiskState::UpToDate)
        && d(ns.pdsk) < d(DiskState::UpToDate)
    {
        StateRv::NoUpToDateDisk
    } else if is_sync_source_like(ns.conn) && ns.disk == DiskState::Outdated {
        StateRv::ConnectedOutdates
    } else if env.net.is_some_and(|n| !n.verify_alg)
        && matches!(ns.conn, ConnState::VerifyS | ConnState::VerifyT)
    {
        StateRv::NoVerifyAlg
    } else if matches!(ns.conn, ConnState::VerifyS | ConnState::VerifyT)
        && env.net.map_or(0, |n| n.agreed_pro_version) < 88
    {
        StateRv::NotSupported
    } else if primary && d(ns.disk) < d(DiskState::UpToDate) && d(ns.pdsk) < d(DiskState::UpToDate)
    {
        StateRv::NoUpToDateDisk
    } else if matches!(ns.conn, ConnState::StartingSyncS | ConnState::StartingSyncT)
        && ns.pdsk == DiskState::DUnknown
    {
        StateRv::NeedConnection
    } else if connected && ns.pdsk == DiskState::DUnknown {
        StateRv::ConnectedOutdates
    } else {
        StateRv::Success
    }
}

/// `is_valid_conn_transition`: whether the connection may go from `oc` to `nc`.
/// [`StateRv::NothingToDo`] (a success) when it does not change.
pub fn is_valid_conn_transition(oc: ConnState, nc: ConnState) -> StateRv {
    use ConnState::*;
    if oc == nc {
        return StateRv::NothingToDo;
    }
    if oc == StandAlone && nc == Disconnecting {
        return StateRv::AlreadyStandalone;
    }
    if oc == StandAlone && nc != Unconnected {
        return StateRv::NeedConnection;
    }
    if c(oc) < c(WfReportParams) && c(nc) >= c(Connected) {
        return StateRv::NeedConnection;
    }
    if c(oc) >= c(Timeout) && c(oc) <= c(TearDown) && nc != Unconnected && nc != Disconnecting {
        return StateRv::InTransientState;
    }
    if oc == Disconnecting && nc != StandAlone {
        return StateRv::InTransientState;
    }
    StateRv::Success
}

/// `is_valid_transition`: transitions that are impossible whatever the environment.
pub fn is_valid_transition(os: &State, ns: &State) -> StateRv {
    let rv = is_valid_conn_transition(os.conn, ns.conn);
    if ns.disk == DiskState::Failed && os.disk == DiskState::Diskless {
        return StateRv::IsDiskless;
    }
    rv
}

/// `is_valid_soft_transition`: transitions refused now that may be allowed later or by force.
/// Like the C function, later rules override earlier ones.
pub fn is_valid_soft_transition(os: &State, ns: &State, env: &StateEnv) -> StateRv {
    use ConnState::*;
    let mut rv = StateRv::Success;
    let starting_sync = |s: ConnState| matches!(s, StartingSyncS | StartingSyncT);
    let verify = |s: ConnState| matches!(s, VerifyS | VerifyT);

    if starting_sync(ns.conn) && c(os.conn) > c(Connected) {
        rv = StateRv::ResyncRunning;
    }
    if ns.conn == Disconnecting && os.conn == StandAlone {
        rv = StateRv::AlreadyStandalone;
    }
    if d(ns.disk) > d(DiskState::Attaching) && os.disk == DiskState::Diskless {
        rv = StateRv::IsDiskless;
    }
    if ns.conn == WfConnection && c(os.conn) < c(Unconnected) {
        rv = StateRv::NoNetConfig;
    }
    if ns.disk == DiskState::Outdated
        && d(os.disk) < d(DiskState::Outdated)
        && os.disk != DiskState::Attaching
    {
        rv = StateRv::LowerThanOutdated;
    }
    if ns.conn == Disconnecting && os.conn == Unconnected {
        rv = StateRv::InTransientState;
    }
    if env.state_sent
        && !((ns.conn == WfReportParams && os.conn == WfConnection)
            || (c(ns.conn) >= c(Connected) && os.conn == WfReportParams))
    {
        rv = StateRv::InTransientState;
    }
    if os.role != Role::Primary
        && ns.role == Role::Primary
        && ns.pdsk == DiskState::UpToDate
        && ns.disk != DiskState::UpToDate
        && ns.disk != DiskState::Diskless
        && (c(ns.conn) <= c(WfSyncUuid) || ns.conn != os.conn)
    {
        rv = StateRv::InTransientState;
    }
    if verify(ns.conn) && c(os.conn) < c(Connected) {
        rv = StateRv::NeedConnection;
    }
    if verify(ns.conn) && ns.conn != os.conn && c(os.conn) > c(Connected) {
        rv = StateRv::ResyncRunning;
    }
    if starting_sync(ns.conn) && c(os.conn) < c(Connected) {
        rv = StateRv::NeedConnection;
    }
    if matches!(ns.conn, SyncTarget | SyncSource) && c(os.conn) < c(WfReportParams) {
        rv = StateRv::NeedConnection;
    }
    if ns.conn == Disconnecting
        && ns.pdsk == DiskState::Outdated
        && c(os.conn) < c(Connected)
        && d(os.pdsk) > d(DiskState::Outdated)
    {
        rv = StateRv::OutdateWoConn;
    }
    rv
}

/// `sanitize_state`: the implications the module applies to every requested state before
/// judging it. Not covered: a lost connection during `Negotiating`, which needs the device's
/// exposed-data UUID; the caller handles that case.
pub fn sanitize_state(os: &State, ns: &State, env: &StateEnv) -> State {
    use ConnState::*;
    use DiskState::*;
    let mut ns = *ns;

    if c(ns.conn) < c(Connected) {
        ns.peer_isp = false;
        ns.peer = Role::Unknown;
        if d(ns.pdsk) > d(DUnknown) || d(ns.pdsk) < d(Inconsistent) {
            ns.pdsk = DUnknown;
        }
    }
    if ns.conn == StandAlone && ns.disk == Diskless && ns.role == Role::Secondary {
        ns.aftr_isp = false;
    }
    if c(ns.conn) > c(Connected) && (d(ns.disk) <= d(Failed) || d(ns.pdsk) <= d(Failed)) {
        ns.conn = Connected;
    }
    if c(ns.conn) >= c(Connected) && c(ns.conn) < c(Ahead) {
        if matches!(ns.disk, Consistent | Outdated) {
            ns.disk = UpToDate;
        }
        if matches!(ns.pdsk, Consistent | Outdated) {
            ns.pdsk = UpToDate;
        }
    }

    let (disk_min, disk_max, pdsk_min, pdsk_max) = match ns.conn {
        WfBitMapT | PausedSyncT | StartingSyncT | WfSyncUuid | Behind => {
            (Inconsistent, Outdated, UpToDate, UpToDate)
        }
        VerifyS | VerifyT => (UpToDate, UpToDate, UpToDate, UpToDate),
        Connected => (Diskless, UpToDate, Diskless, UpToDate),
        WfBitMapS | PausedSyncS | StartingSyncS | Ahead => {
            (UpToDate, UpToDate, Inconsistent, Consistent)
        }
        SyncTarget => (Inconsistent, Inconsistent, UpToDate, UpToDate),
        SyncSource => (UpToDate, UpToDate, Inconsistent, Inconsistent),
        StandAlone | Disconnecting | Unconnected | Timeout | BrokenPipe | NetworkFailure
        | ProtocolError | TearDown | WfConnection | WfReportParams => {
            (Diskless, UpToDate, Diskless, DUnknown)
        }
    };
    if d(ns.disk) > d(disk_max) {
        ns.disk = disk_max;
    }
    if d(ns.disk) < d(disk_min) {
        ns.disk = disk_min;
    }
    if d(ns.pdsk) > d(pdsk_max) {
        ns.pdsk = pdsk_max;
    }
    if d(ns.pdsk) < d(pdsk_min) {
        ns.pdsk = pdsk_min;
    }

    let peer_lost =
        |s: &State| s.role == Role::Primary && c(s.conn) < c(Connected) && d(s.pdsk) > d(Outdated);
    if env.fencing == Fencing::Stonith && peer_lost(&ns) && !peer_lost(os) {
        ns.susp_fen = true;
    }
    let no_data =
        |s: &State| s.role == Role::Primary && d(s.disk) < d(UpToDate) && d(s.pdsk) < d(UpToDate);
    if env.on_no_data == OnNoData::SuspendIo && no_data(&ns) && !no_data(os) {
        ns.susp_nod = true;
    }

    apply_isp(&mut ns);
    ns
}

/// The part of `sanitize_state` about the resync pause bits: no peer pause without a
/// connection, and a resync runs (SyncSource/SyncTarget) exactly when none of `aftr_isp`,
/// `peer_isp`, `user_isp` is set, else it is paused (PausedSyncS/PausedSyncT). The driver
/// applies it to every state change, also those the peer causes (`P_STATE` carries its
/// `user_isp`/`aftr_isp`, which become our `peer_isp`).
pub fn apply_isp(ns: &mut State) {
    use ConnState::*;
    if c(ns.conn) < c(Connected) {
        ns.peer_isp = false;
    }
    if ns.aftr_isp || ns.peer_isp || ns.user_isp {
        if ns.conn == SyncSource {
            ns.conn = PausedSyncS;
        }
        if ns.conn == SyncTarget {
            ns.conn = PausedSyncT;
        }
    } else {
        if ns.conn == PausedSyncS {
            ns.conn = SyncSource;
        }
        if ns.conn == PausedSyncT {
            ns.conn = SyncTarget;
        }
    }
}

/// The connection state a peer's `P_STATE_CHG_REQ` asks of us (`convert_state`): the peer's
/// view mirrored, StartingSyncS for its StartingSyncT and the other way round; other states
/// as they are.
pub fn mirror_conn(peer_wants: ConnState) -> ConnState {
    match peer_wants {
        ConnState::StartingSyncS => ConnState::StartingSyncT,
        ConnState::StartingSyncT => ConnState::StartingSyncS,
        c => c,
    }
}

/// A size in KiB as the C module prints it (`ppsize`): scaled by 1024 (rounded) while it has
/// five digits or more, with its unit letter: `(32, 'M')` for 32728 KiB, "32 MB".
pub fn ppsize(kb: u64) -> (u64, char) {
    const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];
    let (mut size, mut base) = (kb, 0);
    while size >= 10000 && base < UNITS.len() - 1 {
        size = (size >> 10) + u64::from(size & (1 << 9) != 0);
        base += 1;
    }
    (size, UNITS[base])
}

/// What an admin request that changes the state asks for, and how the C module answers it
/// when the state does not change (`drbd_nl.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminChange {
    /// `pause-sync`: `user_isp` set.
    PauseSync,
    /// `resume-sync`: `user_isp` cleared.
    ResumeSync,
    /// `outdate`: the disk Outdated.
    Outdate,
    /// `invalidate` on a StandAlone Secondary: the disk Inconsistent.
    InvalidateLocal,
    /// `invalidate` otherwise: a full sync as SyncTarget.
    InvalidateSync,
    /// `invalidate-remote` on a StandAlone Primary: the peer disk Inconsistent.
    InvalidatePeerLocal,
    /// `invalidate-remote` otherwise: a full sync as SyncSource.
    InvalidatePeerSync,
}

impl AdminChange {
    /// The state `os` with the requested change applied (before `sanitize_state`).
    pub fn request(self, os: &State) -> State {
        let mut ns = *os;
        match self {
            AdminChange::PauseSync => ns.user_isp = true,
            AdminChange::ResumeSync => ns.user_isp = false,
            AdminChange::Outdate => ns.disk = DiskState::Outdated,
            AdminChange::InvalidateLocal => ns.disk = DiskState::Inconsistent,
            AdminChange::InvalidateSync => ns.conn = ConnState::StartingSyncT,
            AdminChange::InvalidatePeerLocal => ns.pdsk = DiskState::Inconsistent,
            AdminChange::InvalidatePeerSync => ns.conn = ConnState::StartingSyncS,
        }
        ns
    }

    /// `invalidate` (`local_only` false) or `invalidate-remote` (true) on a device in state
    /// `os`: the StandAlone Secondary (Primary for `invalidate-remote`) only changes its disk
    /// state and bitmap; any other asks for a full sync.
    pub fn invalidate(os: &State, remote: bool) -> AdminChange {
        let standalone = os.conn == ConnState::StandAlone;
        match remote {
            false if standalone && os.role == Role::Secondary => AdminChange::InvalidateLocal,
            false => AdminChange::InvalidateSync,
            true if standalone && os.role == Role::Primary => AdminChange::InvalidatePeerLocal,
            true => AdminChange::InvalidatePeerSync,
        }
    }

    /// Whether the change must be agreed with the peer first (`cl_wide_st_chg`): starting a
    /// full sync while connected.
    pub fn cluster_wide(self, os: &State) -> bool {
        matches!(self, AdminChange::InvalidateSync | AdminChange::InvalidatePeerSync)
            && c(os.conn) >= c(ConnState::Connected)
    }

    /// The reply to a request whose state change answered `rv` in state `st` (after it):
    /// `pause-sync` that changes nothing is `ERR_PAUSE_IS_SET`; `resume-sync` that changes
    /// nothing is `ERR_PIC_AFTER_DEP` or `ERR_PIC_PEER_DEP` if the resync stays paused for
    /// another reason, else `ERR_PAUSE_IS_CLEAR`; every other result is passed on. Pause and
    /// resume answer `NO_ERROR` when they change something (the C handlers keep the
    /// `ret_code` they started with).
    pub fn reply(self, rv: StateRv, st: &State) -> DrbdRet {
        let nothing = rv == StateRv::NothingToDo;
        match self {
            AdminChange::PauseSync if nothing => DrbdRet::Ret(RetCode::PauseIsSet),
            AdminChange::ResumeSync if nothing => {
                let paused = matches!(st.conn, ConnState::PausedSyncS | ConnState::PausedSyncT);
                DrbdRet::Ret(if paused && st.aftr_isp {
                    RetCode::PicAfterDep
                } else if paused && st.peer_isp {
                    RetCode::PicPeerDep
                } else {
                    RetCode::PauseIsClear
                })
            }
            AdminChange::PauseSync | AdminChange::ResumeSync => DrbdRet::Ret(RetCode::NoError),
            _ => DrbdRet::State(rv),
        }
    }
}

/// How hard a state change is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeFlags {
    /// Judged by all rules (`CS_VERBOSE` and friends).
    Normal,
    /// Only impossible transitions are refused (`CS_HARD`): forced detach, failures.
    Hard,
}

/// `_drbd_set_state` for a local change: sanitizes `ns`, then judges it. Returns the state to
/// enter, or [`StateRv::NothingToDo`] as an error-free `Err` when nothing changes, or the rule
/// that refuses it. A state that is invalid may still be entered from an old state that broke
/// the same rule (the C module's "if the old state was illegal as well, let this happen").
pub fn change_state(
    os: &State,
    ns: &State,
    env: &StateEnv,
    flags: ChangeFlags,
) -> Result<State, StateRv> {
    let ns = sanitize_state(os, ns, env);
    if ns == *os {
        return Err(StateRv::NothingToDo);
    }
    let mut rv = is_valid_transition(os, &ns);
    if rv.raw() < StateRv::Success.raw() {
        return Err(rv);
    }
    if flags == ChangeFlags::Normal {
        rv = is_valid_state(&ns, env);
        if rv.raw() < StateRv::Success.raw() {
            if is_valid_state(os, env) == rv {
                rv = is_valid_soft_transition(os, &ns, env);
            }
        } else {
            rv = is_valid_soft_transition(os, &ns, env);
        }
    }
    if rv.raw() < StateRv::Success.raw() {
        Err(rv)
    } else {
        Ok(ns)
    }
}

// ---------------------------------------------------------------------------------------------
// Role changes and detach
// ---------------------------------------------------------------------------------------------

/// A role change the rules allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleChange {
    /// The state to enter.
    pub state: State,
    /// `--force` was needed: the local data was declared UpToDate ("Forced to consider local
    /// data as UpToDate!"), which also starts a new data generation.
    pub forced: bool,
}

/// `drbd_set_role` without the network parts: the state a request to become `new_role` leads
/// to. `try_outdate_peer` stands for `conn_try_outdate_peer` (fencing): it is asked when the
/// local disk is only Consistent, and answers whether the peer could be outdated, which lets
/// the disk count as UpToDate. Without network configuration and with `fencing dont-care`, the
/// C module answers yes.
///
/// `Ok(None)` means nothing to do (already in that role): the C module replies
/// [`StateRv::NothingToDo`].
pub fn set_role(
    os: &State,
    new_role: Role,
    force: bool,
    env: &StateEnv,
    try_outdate_peer: &mut dyn FnMut() -> bool,
) -> Result<Option<RoleChange>, StateRv> {
    if new_role == Role::Unknown {
        return Err(StateRv::UnknownError);
    }
    let mut val = *os;
    val.role = new_role;
    let mut forced = false;
    let mut pdsk_masked = false;
    let mut rv = StateRv::UnknownError;
    // The C loop: at most four attempts, each retry with a changed request.
    for _ in 0..4 {
        match change_state(os, &val, env, ChangeFlags::Normal) {
            Ok(ns) => {
                return Ok(Some(RoleChange { state: ns, forced }));
            }
            Err(StateRv::NothingToDo) => return Ok(None),
            Err(e) => rv = e,
        }
        if rv == StateRv::NoUpToDateDisk
            && force
            && d(os.disk) < d(DiskState::UpToDate)
            && d(os.disk) >= d(DiskState::Inconsistent)
        {
            val.disk = DiskState::UpToDate;
            forced = true;
            continue;
        }
        if rv == StateRv::NoUpToDateDisk && os.disk == DiskState::Consistent && !pdsk_masked {
            if try_outdate_peer() {
                val.disk = DiskState::UpToDate;
            }
            continue;
        }
        if rv == StateRv::PrimaryNop && !pdsk_masked {
            if !try_outdate_peer() && force {
                // "Forced into split brain situation!"
                pdsk_masked = true;
                val.pdsk = DiskState::Outdated;
            }
            continue;
        }
        break;
    }
    Err(rv)
}

/// `adm_detach`: the state a detach request leads to. The disk goes to `Failed` (the driver
/// then finishes the detach and enters `Diskless`). Without `force` the rules apply: a
/// StandAlone Primary cannot give up its only UpToDate data ([`StateRv::NoUpToDateDisk`]).
/// With `force` it is a hard change. Detaching a diskless device is
/// [`StateRv::NothingToDo`] (the C module maps `SS_IS_DISKLESS` to it), returned as `Ok(None)`.
pub fn detach(os: &State, force: bool, env: &StateEnv) -> Result<Option<State>, StateRv> {
    let mut val = *os;
    val.disk = DiskState::Failed;
    let flags = if force {
        ChangeFlags::Hard
    } else {
        ChangeFlags::Normal
    };
    match change_state(os, &val, env, flags) {
        Ok(ns) => Ok(Some(ns)),
        Err(StateRv::IsDiskless) | Err(StateRv::NothingToDo) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why a process may not open the device (`drbd_open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenRefusal {
    /// Opened for writing while not Primary: `-EROFS`.
    ReadOnly,
    /// Opened at all while not Primary: `-EMEDIUMTYPE`, unless the `allow_oos` module
    /// parameter allows read-only opens on a Secondary.
    WrongMediumType,
}

/// `drbd_open`: whether a process may open the device in role `role`.
pub fn may_open(role: Role, write: bool, allow_oos: bool) -> Result<(), OpenRefusal> {
    if role == Role::Primary {
        Ok(())
    } else if write {
        Err(OpenRefusal::ReadOnly)
    } else if !allow_oos {
        Err(OpenRefusal::WrongMediumType)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Meta-data flags and generation UUIDs
// ---------------------------------------------------------------------------------------------

/// The meta-data flags for state `ns` (end of `__drbd_set_state`): the state-derived flags
/// recomputed, [`MDF_AL_CLEAN`] cleared (the activity log is in use while attached), other flags
/// kept. `crashed_primary` is the device's `CRASHED_PRIMARY` bit. The C module only does this
/// while it holds a local disk (`disk >= Inconsistent`); otherwise the flags stay.
pub fn md_flags_for_state(flags: u32, ns: &State, crashed_primary: bool) -> u32 {
    if d(ns.disk) < d(DiskState::Inconsistent) {
        return flags;
    }
    let mut mdf = flags
        & !(MDF_CONSISTENT
            | MDF_PRIMARY_IND
            | MDF_CONNECTED_IND
            | MDF_WAS_UP_TO_DATE
            | MDF_PEER_OUT_DATED
            | MDF_CRASHED_PRIMARY
            | MDF_AL_CLEAN);
    if crashed_primary {
        mdf |= MDF_CRASHED_PRIMARY;
    }
    if ns.role == Role::Primary
        || (d(ns.pdsk) < d(DiskState::Inconsistent) && ns.peer == Role::Primary)
    {
        mdf |= MDF_PRIMARY_IND;
    }
    if c(ns.conn) > c(ConnState::WfReportParams) {
        mdf |= MDF_CONNECTED_IND;
    }
    if d(ns.disk) > d(DiskState::Inconsistent) {
        mdf |= MDF_CONSISTENT;
    }
    if d(ns.disk) > d(DiskState::Outdated) {
        mdf |= MDF_WAS_UP_TO_DATE;
    }
    if d(ns.pdsk) <= d(DiskState::Outdated) && d(ns.pdsk) >= d(DiskState::Inconsistent) {
        mdf |= MDF_PEER_OUT_DATED;
    }
    mdf
}

/// Whether a disk with meta-data flags `flags` comes from a Primary that crashed (attach):
/// it says so, or it was Primary and is attached by a node that is not Primary now.
pub fn crashed_primary_on_attach(flags: u32, role: Role) -> bool {
    flags & MDF_CRASHED_PRIMARY != 0 || (flags & MDF_PRIMARY_IND != 0 && role != Role::Primary)
}

/// The disk state (and what is known about the peer's) right after attaching a disk with
/// meta-data flags `flags` (`drbd_adm_attach`): Inconsistent unless consistent; Outdated
/// unless it was UpToDate; Consistent is promoted to UpToDate when the peer is known outdated
/// or fencing does not care. A connected device negotiates instead; that is the connection
/// code's business.
pub fn disk_state_on_attach(flags: u32, fencing: Fencing) -> (DiskState, Option<DiskState>) {
    let mut disk = if flags & MDF_CONSISTENT != 0 {
        if flags & MDF_WAS_UP_TO_DATE != 0 {
            DiskState::Consistent
        } else {
            DiskState::Outdated
        }
    } else {
        DiskState::Inconsistent
    };
    let pdsk = if flags & MDF_PEER_OUT_DATED != 0 {
        Some(DiskState::Outdated)
    } else {
        None
    };
    if disk == DiskState::Consistent
        && (pdsk == Some(DiskState::Outdated) || fencing == Fencing::DontCare)
    {
        disk = DiskState::UpToDate;
    }
    (disk, pdsk)
}

/// The current UUID with the role bit DRBD keeps in bit 0: set while Primary, so a peer can tell
/// that the data was in use, clear otherwise (`__drbd_uuid_set`).
pub fn current_uuid_for_role(uuid: u64, role: Role) -> u64 {
    if role == Role::Primary {
        uuid | 1
    } else {
        uuid & !1
    }
}

/// The UUIDs after a role change (`drbd_set_role`): becoming Secondary clears the role bit;
/// becoming Primary starts a new data generation (`drbd_uuid_new_current`: the current UUID
/// moves to the bitmap slot, `random` becomes the current one) when forced, or when no peer
/// knows our data (not connected, or the peer's disk failed) and no bitmap generation is open
/// yet; then sets the role bit. Returns the new UUIDs and whether a generation was started over
/// an existing bitmap UUID (the C module warns "bm UUID was already set").
pub fn uuids_after_role_change(
    uuids: &[u64; UI_SIZE],
    ns: &State,
    forced: bool,
    random: u64,
) -> ([u64; UI_SIZE], bool) {
    let mut u = *uuids;
    let mut overwrote_bitmap = false;
    if ns.role != Role::Primary {
        u[UI_CURRENT] &= !1;
        return (u, false);
    }
    let no_peer = c(ns.conn) < c(ConnState::Connected) || d(ns.pdsk) <= d(DiskState::Failed);
    if (no_peer && u[UI_BITMAP] == 0) || forced {
        overwrote_bitmap = u[UI_BITMAP] != 0;
        u[UI_BITMAP] = u[UI_CURRENT];
        u[UI_CURRENT] = random;
    }
    u[UI_CURRENT] |= 1;
    (u, overwrote_bitmap)
}

// ---------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------

/// `drbd_new_dev_size`: the size the device gets, in sectors, from what the local disk can hold
/// (`my_max`), the last agreed size from the meta-data (`la_size`), the peer's disk size
/// (`peer_size`, 0 if unknown) and the user's `--size` (`user_size`, 0 for none). Without a peer
/// a device keeps its last agreed size, so a standalone restart does not grow it behind the
/// peer's back. The second value is true if the user asked for more than is available
/// ("Requested disk size is too big"); the C module then logs an error and uses the computed
/// size.
pub fn new_dev_size(my_max: u64, la_size: u64, peer_size: u64, user_size: u64) -> (u64, bool) {
    let mut size = if peer_size != 0 && my_max != 0 {
        peer_size.min(my_max)
    } else if la_size != 0 {
        let mut s = la_size;
        if my_max != 0 && my_max < s {
            s = my_max;
        }
        if peer_size != 0 && peer_size < s {
            s = peer_size;
        }
        s
    } else if peer_size != 0 {
        peer_size
    } else {
        my_max
    };
    let mut too_big = false;
    if user_size != 0 {
        if user_size > size {
            too_big = true;
        } else {
            size = user_size;
        }
    }
    (size, too_big)
}

/// The size checks of `drbd_adm_attach` once the meta-data has been read: the disk must hold the
/// user's `--size` and the device's current size (a diskless Primary keeps its size), and a
/// consistent disk must not shrink below its last agreed size unless the user asked for exactly
/// that size. Returns the new device size in sectors.
pub fn attach_size(
    my_max: u64,
    la_size: u64,
    user_size: u64,
    current_capacity: u64,
    md_flags: u32,
) -> Result<u64, RetCode> {
    if my_max < user_size || my_max < current_capacity {
        return Err(RetCode::DiskTooSmall);
    }
    let (size, _) = new_dev_size(my_max, la_size, 0, user_size);
    if md_flags & MDF_CONSISTENT != 0 && size < la_size && size != user_size {
        return Err(RetCode::ImplicitShrink);
    }
    Ok(size)
}

/// The largest bio the device accepts (`drbd_reconsider_queue_parameters`), in bytes: at most
/// DRBD's 1 MiB, what the backing device takes (`local_max`, 0 while diskless: no local limit),
/// and what the peer takes. Before a handshake the peer limit is the one remembered in the
/// meta-data (`la_peer_max_bio_size`), at least [`DRBD_MAX_BIO_SIZE_SAFE`]; that is why a
/// never-connected device starts with 4 KiB bios, as the C module's does.
pub fn max_bio_size(local_max: u32, peer_max: u32) -> u32 {
    let local = if local_max == 0 {
        DRBD_MAX_BIO_SIZE
    } else {
        local_max
    };
    DRBD_MAX_BIO_SIZE
        .min(local)
        .min(peer_max.max(DRBD_MAX_BIO_SIZE_SAFE))
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// The outcome a configuration request reports in `drbd_genlmsghdr.ret_code`: a
/// `drbd_ret_code` or, for requests that change state, a `drbd_state_rv` (the C module puts
/// either into the same field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrbdRet {
    /// A configuration error (`ERR_*`), or [`RetCode::NoError`].
    Ret(RetCode),
    /// A state-change result (`SS_*`).
    State(StateRv),
}

impl DrbdRet {
    /// The number for `ret_code`.
    pub fn code(self) -> i32 {
        match self {
            DrbdRet::Ret(r) => r.raw(),
            DrbdRet::State(s) => s.raw(),
        }
    }

    /// What drbdsetup prints for it.
    pub fn text(self) -> &'static str {
        match self {
            DrbdRet::Ret(r) => r.text(),
            DrbdRet::State(s) => super::genl::set_st_err_str(s.raw()),
        }
    }

    /// Whether drbdsetup counts it as success.
    pub fn is_success(self) -> bool {
        match self {
            DrbdRet::Ret(r) => r == RetCode::NoError,
            DrbdRet::State(s) => s.raw() >= StateRv::Success.raw(),
        }
    }
}

impl From<RetCode> for DrbdRet {
    fn from(r: RetCode) -> Self {
        DrbdRet::Ret(r)
    }
}

impl From<StateRv> for DrbdRet {
    fn from(s: StateRv) -> Self {
        DrbdRet::State(s)
    }
}
