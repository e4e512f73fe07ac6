// SPDX-License-Identifier: GPL-2.0

//! Generic-netlink command numbers ([`Cmd`]) and the top-level attributes that carry one DRBD
//! configuration struct each ([`TopAttr`]).

use super::fields::StructDef;
use super::struct_tables::{
    CFG_CONTEXT, CFG_REPLY, CONNECTION_INFO, CONNECTION_STATISTICS, DETACH_PARMS, DEVICE_INFO,
    DEVICE_STATISTICS, DISCONNECT_PARMS, DISK_CONF, HELPER_INFO, NET_CONF, NEW_C_UUID_PARMS,
    NOTIFICATION_HEADER, PEER_DEVICE_INFO, PEER_DEVICE_STATISTICS, RESIZE_PARMS, RESOURCE_INFO,
    RESOURCE_STATISTICS, RES_OPTS, SET_ROLE_PARMS, START_OV_PARMS, STATE_INFO, TIMEOUT_PARMS,
};

abi_enum! {
    /// Generic-netlink command numbers (`genlmsghdr.cmd`). Requests and notifications share one
    /// number space; numbers 3, 4 and 39 are unused. `name` is the `DRBD_ADM_*` name of the
    /// current uapi header; DRBD's original header called the notifications `DRBD_EVENT`,
    /// `DRBD_RESOURCE_STATE`, ..., `DRBD_HELPER`, `DRBD_INITIAL_STATE_DONE`.
    pub enum Cmd: u8 {
        /// Notification: 8.4 state broadcast (`drbdsetup events`); `CfgContext`, `StateInfo`.
        Event = 1 => "DRBD_ADM_EVENT",
        /// Status of one minor (doit) or of all (dumpit); no admin right needed.
        GetStatus = 2 => "DRBD_ADM_GET_STATUS",
        /// `drbdsetup new-minor`: minor in the header, resource and volume in `CfgContext`.
        NewMinor = 5 => "DRBD_ADM_NEW_MINOR",
        /// `drbdsetup del-minor`.
        DelMinor = 6 => "DRBD_ADM_DEL_MINOR",
        /// `drbdsetup new-resource`; may carry `ResourceOpts`.
        NewResource = 7 => "DRBD_ADM_NEW_RESOURCE",
        /// `drbdsetup del-resource`.
        DelResource = 8 => "DRBD_ADM_DEL_RESOURCE",
        /// `drbdsetup resource-options`.
        ResourceOpts = 9 => "DRBD_ADM_RESOURCE_OPTS",
        /// `drbdsetup connect`: addresses in `CfgContext`, options in `NetConf`.
        Connect = 10 => "DRBD_ADM_CONNECT",
        /// `drbdsetup disconnect`.
        Disconnect = 11 => "DRBD_ADM_DISCONNECT",
        /// `drbdsetup attach`.
        Attach = 12 => "DRBD_ADM_ATTACH",
        /// `drbdsetup resize`.
        Resize = 13 => "DRBD_ADM_RESIZE",
        /// `drbdsetup primary`.
        Primary = 14 => "DRBD_ADM_PRIMARY",
        /// `drbdsetup secondary`.
        Secondary = 15 => "DRBD_ADM_SECONDARY",
        /// `drbdsetup new-current-uuid`.
        NewCUuid = 16 => "DRBD_ADM_NEW_C_UUID",
        /// `drbdsetup verify`.
        StartOv = 17 => "DRBD_ADM_START_OV",
        /// `drbdsetup detach`.
        Detach = 18 => "DRBD_ADM_DETACH",
        /// `drbdsetup invalidate`.
        Invalidate = 19 => "DRBD_ADM_INVALIDATE",
        /// `drbdsetup invalidate-remote`.
        InvalPeer = 20 => "DRBD_ADM_INVAL_PEER",
        /// `drbdsetup pause-sync`.
        PauseSync = 21 => "DRBD_ADM_PAUSE_SYNC",
        /// `drbdsetup resume-sync`.
        ResumeSync = 22 => "DRBD_ADM_RESUME_SYNC",
        /// `drbdsetup suspend-io`.
        SuspendIo = 23 => "DRBD_ADM_SUSPEND_IO",
        /// `drbdsetup resume-io`.
        ResumeIo = 24 => "DRBD_ADM_RESUME_IO",
        /// `drbdsetup outdate`.
        Outdate = 25 => "DRBD_ADM_OUTDATE",
        /// Which wait-for-connection timeout applies; reply carries `TimeoutParms`.
        GetTimeoutType = 26 => "DRBD_ADM_GET_TIMEOUT_TYPE",
        /// `drbdsetup down`.
        Down = 27 => "DRBD_ADM_DOWN",
        /// `drbdsetup disk-options` (carries `DiskConf`).
        ChgDiskOpts = 28 => "DRBD_ADM_CHG_DISK_OPTS",
        /// `drbdsetup net-options` (carries `NetConf`).
        ChgNetOpts = 29 => "DRBD_ADM_CHG_NET_OPTS",
        /// Dump of resources (`drbdsetup status`).
        GetResources = 30 => "DRBD_ADM_GET_RESOURCES",
        /// Dump of devices.
        GetDevices = 31 => "DRBD_ADM_GET_DEVICES",
        /// Dump of connections.
        GetConnections = 32 => "DRBD_ADM_GET_CONNECTIONS",
        /// Dump of peer devices.
        GetPeerDevices = 33 => "DRBD_ADM_GET_PEER_DEVICES",
        /// Notification (`events2`): resource state.
        ResourceState = 34 => "DRBD_ADM_RESOURCE_STATE",
        /// Notification (`events2`): device state.
        DeviceState = 35 => "DRBD_ADM_DEVICE_STATE",
        /// Notification (`events2`): connection state.
        ConnectionState = 36 => "DRBD_ADM_CONNECTION_STATE",
        /// Notification (`events2`): peer-device state.
        PeerDeviceState = 37 => "DRBD_ADM_PEER_DEVICE_STATE",
        /// Dump of the initial `events2` state.
        GetInitialState = 38 => "DRBD_ADM_GET_INITIAL_STATE",
        /// Notification (`events2`): a user-mode helper is called / returned.
        Helper = 40 => "DRBD_ADM_HELPER",
        /// Notification (`events2`): end of the initial state dump.
        InitialStateDone = 41 => "DRBD_ADM_INITIAL_STATE_DONE",
    }
}

impl Cmd {
    /// Whether this number is a kernel-to-userspace notification, not a request.
    pub fn is_notification(self) -> bool {
        matches!(
            self,
            Cmd::Event
                | Cmd::ResourceState
                | Cmd::DeviceState
                | Cmd::ConnectionState
                | Cmd::PeerDeviceState
                | Cmd::Helper
                | Cmd::InitialStateDone
        )
    }

    /// Whether the request handles a single (non-dump) message.
    pub fn has_doit(self) -> bool {
        match self {
            Cmd::GetStatus => true,
            _ => !self.is_notification() && !self.has_dumpit(),
        }
    }

    /// Whether the request supports `NLM_F_DUMP`.
    pub fn has_dumpit(self) -> bool {
        matches!(
            self,
            Cmd::GetStatus
                | Cmd::GetResources
                | Cmd::GetDevices
                | Cmd::GetConnections
                | Cmd::GetPeerDevices
                | Cmd::GetInitialState
        )
    }

    /// Whether the request needs `CAP_NET_ADMIN` (`GENL_ADMIN_PERM`): every configuration
    /// request does; the status queries and dumps do not, since their content is broadcast
    /// anyway.
    pub fn needs_admin(self) -> bool {
        !self.is_notification() && !self.has_dumpit()
    }

    /// The struct a request carries besides [`TopAttr::CfgContext`], if any.
    pub fn request_tla(self) -> Option<TopAttr> {
        Some(match self {
            Cmd::NewResource | Cmd::ResourceOpts => TopAttr::ResourceOpts,
            Cmd::Connect | Cmd::ChgNetOpts => TopAttr::NetConf,
            Cmd::Disconnect => TopAttr::DisconnectParms,
            // The original header names a non-existent DRBD_NLA_DISK_OPTS for CHG_DISK_OPTS;
            // both the kernel and drbdsetup use DRBD_NLA_DISK_CONF.
            Cmd::Attach | Cmd::ChgDiskOpts => TopAttr::DiskConf,
            Cmd::Resize => TopAttr::ResizeParms,
            Cmd::Primary | Cmd::Secondary => TopAttr::SetRoleParms,
            Cmd::NewCUuid => TopAttr::NewCUuidParms,
            Cmd::StartOv => TopAttr::StartOvParms,
            Cmd::Detach => TopAttr::DetachParms,
            _ => return None,
        })
    }
}

abi_enum! {
    /// Top-level attribute numbers (`DRBD_NLA_*`); each is a nest standing for one C struct.
    /// 14 is unused in 8.4 (DRBD 9's `device_conf`). `name` is the C name.
    pub enum TopAttr: u16 {
        /// `drbd_cfg_reply`: informational text in a reply.
        CfgReply = 1 => "DRBD_NLA_CFG_REPLY",
        /// `drbd_cfg_context`: which resource / volume / connection a message is about.
        CfgContext = 2 => "DRBD_NLA_CFG_CONTEXT",
        /// `disk_conf`: attach and disk options.
        DiskConf = 3 => "DRBD_NLA_DISK_CONF",
        /// `res_opts`: resource options.
        ResourceOpts = 4 => "DRBD_NLA_RESOURCE_OPTS",
        /// `net_conf`: connection options.
        NetConf = 5 => "DRBD_NLA_NET_CONF",
        /// `set_role_parms`.
        SetRoleParms = 6 => "DRBD_NLA_SET_ROLE_PARMS",
        /// `resize_parms`.
        ResizeParms = 7 => "DRBD_NLA_RESIZE_PARMS",
        /// `state_info`: 8.4 status / broadcast payload.
        StateInfo = 8 => "DRBD_NLA_STATE_INFO",
        /// `start_ov_parms`.
        StartOvParms = 9 => "DRBD_NLA_START_OV_PARMS",
        /// `new_c_uuid_parms`.
        NewCUuidParms = 10 => "DRBD_NLA_NEW_C_UUID_PARMS",
        /// `timeout_parms`.
        TimeoutParms = 11 => "DRBD_NLA_TIMEOUT_PARMS",
        /// `disconnect_parms`.
        DisconnectParms = 12 => "DRBD_NLA_DISCONNECT_PARMS",
        /// `detach_parms`.
        DetachParms = 13 => "DRBD_NLA_DETACH_PARMS",
        /// `resource_info`.
        ResourceInfo = 15 => "DRBD_NLA_RESOURCE_INFO",
        /// `device_info`.
        DeviceInfo = 16 => "DRBD_NLA_DEVICE_INFO",
        /// `connection_info`.
        ConnectionInfo = 17 => "DRBD_NLA_CONNECTION_INFO",
        /// `peer_device_info`.
        PeerDeviceInfo = 18 => "DRBD_NLA_PEER_DEVICE_INFO",
        /// `resource_statistics`.
        ResourceStatistics = 19 => "DRBD_NLA_RESOURCE_STATISTICS",
        /// `device_statistics`.
        DeviceStatistics = 20 => "DRBD_NLA_DEVICE_STATISTICS",
        /// `connection_statistics`.
        ConnectionStatistics = 21 => "DRBD_NLA_CONNECTION_STATISTICS",
        /// `peer_device_statistics`.
        PeerDeviceStatistics = 22 => "DRBD_NLA_PEER_DEVICE_STATISTICS",
        /// `drbd_notification_header`.
        NotificationHeader = 23 => "DRBD_NLA_NOTIFICATION_HEADER",
        /// `drbd_helper_info`.
        Helper = 24 => "DRBD_NLA_HELPER",
    }
}

/// Highest top-level attribute number (`DRBD_NLA_MAX`); the family's `maxattr`.
pub const DRBD_NLA_MAX: u16 = 24;

impl TopAttr {
    /// The field table of the struct this attribute carries.
    pub fn struct_def(self) -> &'static StructDef {
        match self {
            TopAttr::CfgReply => &CFG_REPLY,
            TopAttr::CfgContext => &CFG_CONTEXT,
            TopAttr::DiskConf => &DISK_CONF,
            TopAttr::ResourceOpts => &RES_OPTS,
            TopAttr::NetConf => &NET_CONF,
            TopAttr::SetRoleParms => &SET_ROLE_PARMS,
            TopAttr::ResizeParms => &RESIZE_PARMS,
            TopAttr::StateInfo => &STATE_INFO,
            TopAttr::StartOvParms => &START_OV_PARMS,
            TopAttr::NewCUuidParms => &NEW_C_UUID_PARMS,
            TopAttr::TimeoutParms => &TIMEOUT_PARMS,
            TopAttr::DisconnectParms => &DISCONNECT_PARMS,
            TopAttr::DetachParms => &DETACH_PARMS,
            TopAttr::ResourceInfo => &RESOURCE_INFO,
            TopAttr::DeviceInfo => &DEVICE_INFO,
            TopAttr::ConnectionInfo => &CONNECTION_INFO,
            TopAttr::PeerDeviceInfo => &PEER_DEVICE_INFO,
            TopAttr::ResourceStatistics => &RESOURCE_STATISTICS,
            TopAttr::DeviceStatistics => &DEVICE_STATISTICS,
            TopAttr::ConnectionStatistics => &CONNECTION_STATISTICS,
            TopAttr::PeerDeviceStatistics => &PEER_DEVICE_STATISTICS,
            TopAttr::NotificationHeader => &NOTIFICATION_HEADER,
            TopAttr::Helper => &HELPER_INFO,
        }
    }
}
