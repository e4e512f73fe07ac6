// SPDX-License-Identifier: GPL-2.0

//! Roles, connection and disk states, the packed `union drbd_state` ([`DrbdState`]), and the enums
//! of state broadcasts and notifications (timeout type, broadcast reason, notification type).

abi_enum! {
    /// Node role (`enum drbd_role`); `name` is DRBD's text (`drbd_role_str`).
    pub enum Role: u8 {
        /// Unknown (peer role while not connected).
        Unknown = 0 => "Unknown",
        /// Primary.
        Primary = 1 => "Primary",
        /// Secondary.
        Secondary = 2 => "Secondary",
    }
}

abi_enum! {
    /// Connection state (`enum drbd_conns`); `name` is DRBD's text (`drbd_conn_str`). Values
    /// below `WfReportParams` mean there is no socket.
    pub enum ConnState: u8 {
        /// No network configuration.
        StandAlone = 0 => "StandAlone",
        /// On the way to StandAlone.
        Disconnecting = 1 => "Disconnecting",
        /// Network configured, connector not yet running.
        Unconnected = 2 => "Unconnected",
        /// Disconnect reason: timeout.
        Timeout = 3 => "Timeout",
        /// Disconnect reason: broken pipe.
        BrokenPipe = 4 => "BrokenPipe",
        /// Disconnect reason: network failure.
        NetworkFailure = 5 => "NetworkFailure",
        /// Disconnect reason: protocol error.
        ProtocolError = 6 => "ProtocolError",
        /// Disconnect reason: peer tore down.
        TearDown = 7 => "TearDown",
        /// Waiting for the peer.
        WfConnection = 8 => "WFConnection",
        /// Socket up, exchanging parameters.
        WfReportParams = 9 => "WFReportParams",
        /// Connected.
        Connected = 10 => "Connected",
        /// Full sync requested, we become source.
        StartingSyncS = 11 => "StartingSyncS",
        /// Full sync requested, we become target.
        StartingSyncT = 12 => "StartingSyncT",
        /// Sending the bitmap.
        WfBitMapS = 13 => "WFBitMapS",
        /// Receiving the bitmap.
        WfBitMapT = 14 => "WFBitMapT",
        /// Waiting for the sync UUID.
        WfSyncUuid = 15 => "WFSyncUUID",
        /// Resync source.
        SyncSource = 16 => "SyncSource",
        /// Resync target.
        SyncTarget = 17 => "SyncTarget",
        /// Online-verify source.
        VerifyS = 18 => "VerifyS",
        /// Online-verify target.
        VerifyT = 19 => "VerifyT",
        /// Paused resync source.
        PausedSyncS = 20 => "PausedSyncS",
        /// Paused resync target.
        PausedSyncT = 21 => "PausedSyncT",
        /// Congested: ahead of the peer.
        Ahead = 22 => "Ahead",
        /// Peer is ahead.
        Behind = 23 => "Behind",
    }
}

abi_enum! {
    /// Disk state (`enum drbd_disk_state`); `name` is DRBD's text (`drbd_disk_str`).
    pub enum DiskState: u8 {
        /// No disk.
        Diskless = 0 => "Diskless",
        /// Reading meta data.
        Attaching = 1 => "Attaching",
        /// Failed, will become Diskless.
        Failed = 2 => "Failed",
        /// Late attach, talking to the peer.
        Negotiating = 3 => "Negotiating",
        /// Inconsistent.
        Inconsistent = 4 => "Inconsistent",
        /// Outdated.
        Outdated = 5 => "Outdated",
        /// Peer disk state unknown.
        DUnknown = 6 => "DUnknown",
        /// Consistent (maybe outdated).
        Consistent = 7 => "Consistent",
        /// Up to date.
        UpToDate = 8 => "UpToDate",
    }
}

/// `drbd_role_str`: the role's name, or `"TOO_LARGE"` for a number DRBD does not define.
pub fn role_str(raw: u32) -> &'static str {
    u8::try_from(raw)
        .ok()
        .and_then(Role::from_raw)
        .map_or("TOO_LARGE", Role::name)
}

/// `drbd_conn_str`: the connection state's name, or `"TOO_LARGE"`.
pub fn conn_str(raw: u32) -> &'static str {
    u8::try_from(raw)
        .ok()
        .and_then(ConnState::from_raw)
        .map_or("TOO_LARGE", ConnState::name)
}

/// `drbd_disk_str`: the disk state's name, or `"TOO_LARGE"`.
pub fn disk_str(raw: u32) -> &'static str {
    u8::try_from(raw)
        .ok()
        .and_then(DiskState::from_raw)
        .map_or("TOO_LARGE", DiskState::name)
}

/// `union drbd_state`, as carried in `state_info.current_state`, `prev_state` and `new_state`.
///
/// The C header declares the bit-fields in opposite orders for little- and big-endian
/// bit-field ABIs, so the value-level layout is the same everywhere: `role` in bits 0-1, `peer`
/// 2-3, `conn` 4-8, `disk` 9-12, `pdsk` 13-16, then one bit each for `susp` (17), `aftr_isp`,
/// `peer_isp`, `user_isp`, `susp_nod`, `susp_fen` (22); bits 23-31 are unused. Fields are kept
/// raw because a word from a newer peer may hold numbers [`Role`] etc. do not define.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrbdState {
    /// Local role, see [`Role`] (2 bits).
    pub role: u8,
    /// Peer role, see [`Role`] (2 bits).
    pub peer: u8,
    /// Connection state, see [`ConnState`] (5 bits).
    pub conn: u8,
    /// Local disk state, see [`DiskState`] (4 bits).
    pub disk: u8,
    /// Peer disk state, see [`DiskState`] (4 bits).
    pub pdsk: u8,
    /// I/O suspended by the user.
    pub susp: bool,
    /// Resync paused by a resync-after dependency.
    pub aftr_isp: bool,
    /// Resync paused by the peer.
    pub peer_isp: bool,
    /// Resync paused by the user.
    pub user_isp: bool,
    /// I/O suspended because no data is accessible.
    pub susp_nod: bool,
    /// I/O suspended while the fence-peer handler runs.
    pub susp_fen: bool,
}

impl DrbdState {
    /// Splits the 32-bit word.
    pub fn from_u32(v: u32) -> Self {
        let bits = |shift: u32, width: u32| ((v >> shift) & ((1 << width) - 1)) as u8;
        let bit = |shift: u32| (v >> shift) & 1 != 0;
        DrbdState {
            role: bits(0, 2),
            peer: bits(2, 2),
            conn: bits(4, 5),
            disk: bits(9, 4),
            pdsk: bits(13, 4),
            susp: bit(17),
            aftr_isp: bit(18),
            peer_isp: bit(19),
            user_isp: bit(20),
            susp_nod: bit(21),
            susp_fen: bit(22),
        }
    }

    /// Packs the fields; values too wide for their bit-field are cut to it, as C would.
    pub fn to_u32(&self) -> u32 {
        let f = |v: u8, shift: u32, width: u32| (u32::from(v) & ((1 << width) - 1)) << shift;
        let b = |v: bool, shift: u32| u32::from(v) << shift;
        f(self.role, 0, 2)
            | f(self.peer, 2, 2)
            | f(self.conn, 4, 5)
            | f(self.disk, 9, 4)
            | f(self.pdsk, 13, 4)
            | b(self.susp, 17)
            | b(self.aftr_isp, 18)
            | b(self.peer_isp, 19)
            | b(self.user_isp, 20)
            | b(self.susp_nod, 21)
            | b(self.susp_fen, 22)
    }
}

abi_enum! {
    /// `timeout_parms.timeout_type` (`enum drbd_timeout_flag`): which wait-for-connection
    /// timeout drbdadm should use.
    pub enum TimeoutType: u32 {
        /// `wfc-timeout`.
        Default = 0 => "UT_DEFAULT",
        /// `degr-wfc-timeout`.
        Degraded = 1 => "UT_DEGRADED",
        /// `outdated-wfc-timeout`.
        PeerOutdated = 2 => "UT_PEER_OUTDATED",
    }
}

abi_enum! {
    /// `state_info.sib_reason` (`enum drbd_state_info_bcast_reason`).
    pub enum SibReason: u32 {
        /// Reply to a status request.
        GetStatusReply = 1 => "SIB_GET_STATUS_REPLY",
        /// State change.
        StateChange = 2 => "SIB_STATE_CHANGE",
        /// Before calling a helper.
        HelperPre = 3 => "SIB_HELPER_PRE",
        /// After a helper returned.
        HelperPost = 4 => "SIB_HELPER_POST",
        /// Resync progress.
        SyncProgress = 5 => "SIB_SYNC_PROGRESS",
    }
}

abi_enum! {
    /// `drbd_notification_header.nh_type` without flags (`enum drbd_notification_type`);
    /// `name` is how `drbdsetup events2` prints it.
    pub enum NotifyType: u32 {
        /// Part of the initial state dump.
        Exists = 0 => "exists",
        /// Object created.
        Create = 1 => "create",
        /// Object changed.
        Change = 2 => "change",
        /// Object destroyed.
        Destroy = 3 => "destroy",
        /// Helper called.
        Call = 4 => "call",
        /// Helper returned.
        Response = 5 => "response",
    }
}

/// `nh_type` flag: more notifications of the same event follow.
pub const NOTIFY_CONTINUES: u32 = 0x8000;
