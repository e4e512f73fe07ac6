// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 generic-netlink ABI: family `drbd`, version 1, multicast group `events`.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, and `drbdsetup-rs` takes its option tables from here, so the kernel and the
//! tool cannot disagree about a number. Every decoder takes bytes from userspace (or, in the tool,
//! from a kernel that may be newer than we are), so it checks lengths and never panics.
//!
//! # Message layout
//!
//! `nlmsghdr | genlmsghdr | drbd_genlmsghdr | top-level attributes...`. Every top-level attribute
//! ([`TopAttr`]) is a nested attribute standing for one C struct (`disk_conf`, `net_conf`, ...);
//! inside it, each struct field is one attribute whose type is the field number of
//! [`FieldDef::id`]. Field numbers restart at 1 in every struct.
//!
//! # The mandatory bit
//!
//! Userspace (drbdsetup-84) sends a field attribute with type `id | DRBD_GENLA_F_MANDATORY`
//! (bit 14) when the field is marked mandatory in DRBD's header, and with plain `id` otherwise
//! ([`FieldDef::nla_type`]). A receiver clears the bit; if it was set and the number is larger
//! than the largest field number it knows for that struct, the whole request is refused
//! (`ERR_MANDATORY_TAG`): an old kernel must not silently ignore a setting the admin relies on.
//! Unknown attributes without the bit are ignored, which is how optional settings were added
//! later. The kernel sends fields to userspace with plain ids (no mandatory bit). Bit 14 is the
//! same bit netlink calls `NLA_F_NET_BYTEORDER`, which DRBD never uses for its meaning.
//!
//! Integers are in host byte order, as everywhere in netlink.

// ------------------------------------------------------------------------------------------------
// Family and header constants
// ------------------------------------------------------------------------------------------------

/// Generic-netlink family name (`DRBD_FAMILY_NAME`).
pub const FAMILY_NAME: &str = "drbd";
/// Family version (`GENL_MAGIC_VERSION`). drbdsetup-84 refuses a kernel whose family version or
/// family header size differs ("API mismatch!").
pub const FAMILY_VERSION: u32 = 1;
/// The only multicast group; state-change broadcasts and `events2` notifications go there.
pub const MCAST_GROUP_EVENTS: &str = "events";

/// Attribute-type bit that marks a nested field attribute as mandatory (see the module docs).
pub const DRBD_GENLA_F_MANDATORY: u16 = 1 << 14;
/// Netlink's "payload is a nested attribute stream" bit. drbd-utils 9.22's drbdsetup-84 sets it
/// on every struct nest it sends, and the in-tree C DRBD of Linux 7.3 validates strictly and
/// refuses a nest without it (EINVAL); kernels set it on the nests they send.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// Netlink's network-byte-order bit: the same bit as [`DRBD_GENLA_F_MANDATORY`].
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// Mask that strips both flag bits from an attribute type.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
/// Attributes start on 4-byte boundaries.
pub const NLA_ALIGNTO: usize = 4;
/// Size of `struct nlattr` (`nla_len: u16, nla_type: u16`).
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;

/// Rounds `len` up to the next attribute boundary (`NLA_ALIGN`).
pub const fn nla_align(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

/// Size of `struct drbd_genlmsghdr`, the family header after `genlmsghdr`. The family is
/// registered with `NLA_ALIGN` of this, which is the same 8.
pub const DRBD_GENLMSGHDR_SIZE: usize = 8;
/// `drbd_genlmsghdr.flags` bit: reset every option not given in this request to its default
/// (`drbdsetup ... --set-defaults`).
pub const DRBD_GENL_F_SET_DEFAULTS: u32 = 1;
/// `drbd_genlmsghdr.minor` of a request that addresses a resource or connection (named in
/// [`TopAttr::CfgContext`]) rather than a minor.
pub const MINOR_NONE: u32 = u32::MAX;

/// `SHARED_SECRET_MAX`: buffer size of the secret and algorithm-name strings in `net_conf`.
pub const SHARED_SECRET_MAX: usize = 64;
/// `DRBD_CPU_MASK_SIZE`: buffer size of `res_opts.cpu_mask`.
pub const DRBD_CPU_MASK_SIZE: usize = 32;
/// `UI_SIZE`: number of UUIDs in `state_info.uuids` (current, bitmap, two history).
pub const UI_SIZE: usize = 4;
/// `HISTORY_UUIDS`: number of UUIDs in `device_statistics.history_uuids`.
pub const HISTORY_UUIDS: usize = 32;

/// Meta-data index meaning "internal meta data" (drbdsetup's `internal` argument).
pub const DRBD_MD_INDEX_INTERNAL: i32 = -1;
/// Meta-data index meaning "flexible external meta data" (drbdsetup's `flexible` argument).
pub const DRBD_MD_INDEX_FLEX_EXT: i32 = -2;
/// Meta-data index meaning "flexible internal meta data"; what drbdsetup-84 sends for the
/// argument `internal`.
pub const DRBD_MD_INDEX_FLEX_INT: i32 = -3;

/// Why a header or attribute stream was rejected, or could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NlaError {
    /// A header needs `need` bytes at `offset`, but only `have` are there.
    Truncated {
        /// Where the header starts.
        offset: usize,
        /// Bytes the header needs.
        need: usize,
        /// Bytes available from `offset` on.
        have: usize,
    },
    /// The attribute at `offset` claims a length shorter than its own header or longer than the
    /// bytes left.
    BadLength {
        /// Where the attribute starts.
        offset: usize,
        /// Its `nla_len`.
        len: u16,
        /// Bytes available from `offset` on.
        have: usize,
    },
    /// 1 to 3 bytes after the last attribute: too short for another header. (The C kernel only
    /// logs "bytes leftover after parsing attributes"; callers may choose to ignore this.)
    Trailing {
        /// Where the leftover bytes start.
        offset: usize,
        /// How many there are.
        len: usize,
    },
    /// The output buffer has `have` bytes free but `need` are required.
    NoSpace {
        /// Bytes the write needs (including alignment padding).
        need: usize,
        /// Bytes free.
        have: usize,
    },
    /// An attribute (or a closed nest) would be longer than `nla_len` (16 bits) can describe.
    TooLarge {
        /// The length it would have.
        len: usize,
    },
    /// A string to be sent contains a NUL byte; the receiver would silently cut it there.
    InteriorNul,
    /// A [`Nest`] that does not belong to this writer's current contents.
    BadNest,
}

fn ne16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne64(b: &[u8]) -> u64 {
    u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn need(buf: &[u8], offset: usize, need: usize) -> Result<(), NlaError> {
    let have = buf.len().saturating_sub(offset);
    if have < need {
        Err(NlaError::Truncated { offset, need, have })
    } else {
        Ok(())
    }
}

/// `struct genlmsghdr`: the generic-netlink header in front of [`DrbdGenlMsgHdr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenlMsgHdr {
    /// Command number, see [`Cmd`].
    pub cmd: u8,
    /// Family version; [`FAMILY_VERSION`] (truncated to 8 bits, as the C header does).
    pub version: u8,
    /// Reserved, 0.
    pub reserved: u16,
}

impl GenlMsgHdr {
    /// A header for `cmd` with the family's version.
    pub fn new(cmd: Cmd) -> Self {
        GenlMsgHdr {
            cmd: cmd as u8,
            version: FAMILY_VERSION as u8,
            reserved: 0,
        }
    }

    /// Writes the header to the start of `out`; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NlaError> {
        if out.len() < GENL_HDRLEN {
            return Err(NlaError::NoSpace {
                need: GENL_HDRLEN,
                have: out.len(),
            });
        }
        out[0] = self.cmd;
        out[1] = self.version;
        out[2..4].copy_from_slice(&self.reserved.to_ne_bytes());
        Ok(GENL_HDRLEN)
    }

    /// Reads the header from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        need(buf, 0, GENL_HDRLEN)?;
        Ok(GenlMsgHdr {
            cmd: buf[0],
            version: buf[1],
            reserved: ne16(&buf[2..]),
        })
    }
}

/// `struct drbd_genlmsghdr`: `minor: u32`, then a union of `flags: u32` (requests) and
/// `ret_code: i32` (replies), both host endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrbdGenlMsgHdr {
    /// The minor a request operates on or a reply/broadcast is about; [`MINOR_NONE`] when the
    /// object is named in [`TopAttr::CfgContext`] instead.
    pub minor: u32,
    /// The raw union word: request flags ([`DRBD_GENL_F_SET_DEFAULTS`]) or, in a reply, the
    /// return code ([`RetCode`] or [`StateRv`] value) reinterpreted as `u32`.
    pub flags: u32,
}

impl DrbdGenlMsgHdr {
    /// A reply header carrying `ret_code`.
    pub fn reply(minor: u32, ret_code: i32) -> Self {
        DrbdGenlMsgHdr {
            minor,
            flags: ret_code as u32,
        }
    }

    /// The union read as `ret_code`.
    pub fn ret_code(&self) -> i32 {
        self.flags as i32
    }

    /// Whether a request asks to reset unspecified options to their defaults.
    pub fn set_defaults(&self) -> bool {
        self.flags & DRBD_GENL_F_SET_DEFAULTS != 0
    }

    /// Writes the header to the start of `out`; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NlaError> {
        if out.len() < DRBD_GENLMSGHDR_SIZE {
            return Err(NlaError::NoSpace {
                need: DRBD_GENLMSGHDR_SIZE,
                have: out.len(),
            });
        }
        out[0..4].copy_from_slice(&self.minor.to_ne_bytes());
        out[4..8].copy_from_slice(&self.flags.to_ne_bytes());
        Ok(DRBD_GENLMSGHDR_SIZE)
    }

    /// Reads the header from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        need(buf, 0, DRBD_GENLMSGHDR_SIZE)?;
        Ok(DrbdGenlMsgHdr {
            minor: ne32(buf),
            flags: ne32(&buf[4..]),
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Enums with fixed numbers
// ------------------------------------------------------------------------------------------------

/// Declares a C-like enum whose numbers are ABI, with `ALL`, `NAMES`, `from_raw`, `raw` and
/// `name`, so that conversions are table driven and cannot drift from the declaration.
macro_rules! abi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr => $text:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $var = $val, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            /// `(number, name)` for every value, in declaration order.
            pub const NAMES: &'static [($repr, &'static str)] = &[$(($val, $text),)*];

            /// The value numbered `raw`, or `None` if DRBD 8.4 defines no such value.
            pub fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $( v if v == $val => Some($name::$var), )*
                    _ => None,
                }
            }

            /// The number of this value.
            pub fn raw(self) -> $repr {
                self as $repr
            }

            /// The name DRBD uses for this value (see the type's documentation for which).
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$var => $text, )*
                }
            }
        }
    };
}

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

/// First value of `enum drbd_ret_code`; not a code itself.
pub const ERR_CODE_BASE: i32 = 100;
/// One past the last return code this ABI defines (`AFTER_LAST_ERR_CODE`).
pub const AFTER_LAST_ERR_CODE: i32 = 171;

abi_enum! {
    /// Return codes of configuration requests (`enum drbd_ret_code`), sent in
    /// `drbd_genlmsghdr.ret_code`. `name` is the C name; [`RetCode::text`] is what drbdsetup
    /// prints. Gaps (106, 109, 110, 113, 117, 128, 136) are codes of older releases.
    pub enum RetCode: i32 {
        /// Success.
        NoError = 101 => "NO_ERROR",
        /// Local address already in use.
        LocalAddr = 102 => "ERR_LOCAL_ADDR",
        /// Peer address already in use.
        PeerAddr = 103 => "ERR_PEER_ADDR",
        /// Cannot open the backing device.
        OpenDisk = 104 => "ERR_OPEN_DISK",
        /// Cannot open the meta-data device.
        OpenMdDisk = 105 => "ERR_OPEN_MD_DISK",
        /// Backing device is not a block device.
        DiskNotBdev = 107 => "ERR_DISK_NOT_BDEV",
        /// Meta-data device is not a block device.
        MdNotBdev = 108 => "ERR_MD_NOT_BDEV",
        /// Backing device smaller than the requested size.
        DiskTooSmall = 111 => "ERR_DISK_TOO_SMALL",
        /// Meta-data device too small.
        MdDiskTooSmall = 112 => "ERR_MD_DISK_TOO_SMALL",
        /// Backing device already claimed.
        BdclaimDisk = 114 => "ERR_BDCLAIM_DISK",
        /// Meta-data device already claimed.
        BdclaimMdDisk = 115 => "ERR_BDCLAIM_MD_DISK",
        /// Invalid meta-data index.
        MdIdxInvalid = 116 => "ERR_MD_IDX_INVALID",
        /// I/O error reading the meta data.
        IoMdDisk = 118 => "ERR_IO_MD_DISK",
        /// No valid meta-data signature.
        MdInvalid = 119 => "ERR_MD_INVALID",
        /// Unknown cram-hmac-alg.
        AuthAlg = 120 => "ERR_AUTH_ALG",
        /// cram-hmac-alg is not a digest.
        AuthAlgNd = 121 => "ERR_AUTH_ALG_ND",
        /// Out of memory.
        Nomem = 122 => "ERR_NOMEM",
        /// `--discard-my-data` while primary.
        DiscardImpossible = 123 => "ERR_DISCARD_IMPOSSIBLE",
        /// Already attached.
        DiskConfigured = 124 => "ERR_DISK_CONFIGURED",
        /// Already has a network configuration.
        NetConfigured = 125 => "ERR_NET_CONFIGURED",
        /// Unknown mandatory attribute, or any other invalid attribute.
        MandatoryTag = 126 => "ERR_MANDATORY_TAG",
        /// No such minor.
        MinorInvalid = 127 => "ERR_MINOR_INVALID",
        /// Interrupted by a signal.
        Intr = 129 => "ERR_INTR",
        /// Resize during resync.
        ResizeResync = 130 => "ERR_RESIZE_RESYNC",
        /// Resize needs a primary.
        NoPrimary = 131 => "ERR_NO_PRIMARY",
        /// Invalid resync-after minor.
        ResyncAfter = 132 => "ERR_RESYNC_AFTER",
        /// resync-after dependency cycle.
        ResyncAfterCycle = 133 => "ERR_RESYNC_AFTER_CYCLE",
        /// Sync already paused by the user.
        PauseIsSet = 134 => "ERR_PAUSE_IS_SET",
        /// Sync not paused by the user.
        PauseIsClear = 135 => "ERR_PAUSE_IS_CLEAR",
        /// Unknown request.
        PacketNr = 137 => "ERR_PACKET_NR",
        /// Not attached.
        NoDisk = 138 => "ERR_NO_DISK",
        /// Needs protocol C.
        NotProtoC = 139 => "ERR_NOT_PROTO_C",
        /// Out of memory for the bitmap.
        NomemBitmap = 140 => "ERR_NOMEM_BITMAP",
        /// Unknown data-integrity-alg.
        IntegrityAlg = 141 => "ERR_INTEGRITY_ALG",
        /// data-integrity-alg is not a digest.
        IntegrityAlgNd = 142 => "ERR_INTEGRITY_ALG_ND",
        /// Invalid cpu-mask.
        CpuMaskParse = 143 => "ERR_CPU_MASK_PARSE",
        /// Unknown csums-alg.
        CsumsAlg = 144 => "ERR_CSUMS_ALG",
        /// csums-alg is not a digest.
        CsumsAlgNd = 145 => "ERR_CSUMS_ALG_ND",
        /// Unknown verify-alg.
        VerifyAlg = 146 => "ERR_VERIFY_ALG",
        /// verify-alg is not a digest.
        VerifyAlgNd = 147 => "ERR_VERIFY_ALG_ND",
        /// csums-alg change during resync.
        CsumsResyncRunning = 148 => "ERR_CSUMS_RESYNC_RUNNING",
        /// verify-alg change during online verify.
        VerifyRunning = 149 => "ERR_VERIFY_RUNNING",
        /// Attach to data that is not the latest.
        DataNotCurrent = 150 => "ERR_DATA_NOT_CURRENT",
        /// Must be StandAlone.
        Connected = 151 => "ERR_CONNECTED",
        /// Permission denied.
        Perm = 152 => "ERR_PERM",
        /// Needs protocol version 93.
        NeedApv93 = 153 => "ERR_NEED_APV_93",
        /// resource-and-stonith with protocol A.
        StonithAndProtA = 154 => "ERR_STONITH_AND_PROT_A",
        /// pull-ahead without protocol A.
        CongNotProtoA = 155 => "ERR_CONG_NOT_PROTO_A",
        /// Pause caused by a resync-after dependency.
        PicAfterDep = 156 => "ERR_PIC_AFTER_DEP",
        /// Pause caused by the peer.
        PicPeerDep = 157 => "ERR_PIC_PEER_DEP",
        /// Unknown resource.
        ResNotKnown = 158 => "ERR_RES_NOT_KNOWN",
        /// Resource still has minors.
        ResInUse = 159 => "ERR_RES_IN_USE",
        /// Minor still configured.
        MinorConfigured = 160 => "ERR_MINOR_CONFIGURED",
        /// Minor or volume exists.
        MinorOrVolumeExists = 161 => "ERR_MINOR_OR_VOLUME_EXISTS",
        /// Invalid request.
        InvalidRequest = 162 => "ERR_INVALID_REQUEST",
        /// Needs protocol version 100.
        NeedApv100 = 163 => "ERR_NEED_APV_100",
        /// Cannot clear allow-two-primaries while both are primary.
        NeedAllowTwoPri = 164 => "ERR_NEED_ALLOW_TWO_PRI",
        /// Unclean meta data (apply-al needed).
        MdUnclean = 165 => "ERR_MD_UNCLEAN",
        /// Online meta-data layout change needs a connection.
        MdLayoutConnected = 166 => "ERR_MD_LAYOUT_CONNECTED",
        /// Activity-log area too big.
        MdLayoutTooBig = 167 => "ERR_MD_LAYOUT_TOO_BIG",
        /// Activity-log area too small.
        MdLayoutTooSmall = 168 => "ERR_MD_LAYOUT_TOO_SMALL",
        /// Activity log does not fit.
        MdLayoutNoFit = 169 => "ERR_MD_LAYOUT_NO_FIT",
        /// Implicit shrinking refused.
        ImplicitShrink = 170 => "ERR_IMPLICIT_SHRINK",
    }
}

/// drbdsetup-84's message for each code from 101 to 170, including codes older releases used.
/// Kept byte for byte (some end in `\n`, which drbdsetup prints before its own newline).
static RET_CODE_TEXTS: [&str; 70] = [
    "No further Information available.",
    "Local address(port) already in use.",
    "Remote address(port) already in use.",
    "Can not open backing device.",
    "Can not open meta device.",
    "Lower device already in use.",
    "Lower device is not a block device.",
    "Meta device is not a block device.",
    "Open of lower device failed.",
    "Open of meta device failed.",
    "Low.dev. smaller than requested DRBD-dev. size.",
    "Meta device too small.",
    "You have to use the disk command first.",
    "Lower device is already claimed. This usually means it is mounted.",
    "Meta device is already claimed. This usually means it is mounted.",
    "Lower device / meta device / index combination invalid.",
    "Currently we only support devices up to 3.998TB.\n\
     (up to 2TB in case you do not have CONFIG_LBD set)\n\
     Contact office@linbit.com, if you need more.",
    "IO error(s) occurred during initial access to meta-data.\n",
    "No valid meta-data signature found.\n\n\
     \t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n",
    "The 'cram-hmac-alg' you specified is not known in the kernel. \
     (Maybe you need to modprobe it, or modprobe hmac?)",
    "The 'cram-hmac-alg' you specified is not a digest.",
    "kmalloc() failed. Out of memory?",
    "--discard-my-data not allowed when primary.",
    "Device is attached to a disk (use detach first)",
    "Device has a net-config (use disconnect first)",
    "UnknownMandatoryTag",
    "Device minor not allocated",
    "Resulting device state would be invalid",
    "Interrupted by Signal",
    "Resize not allowed during resync.",
    "Need one Primary node to resize.",
    "The resync-after minor number is invalid",
    "This would cause a resync-after dependency cycle",
    "Sync-pause flag is already set",
    "Sync-pause flag is already cleared",
    "Disk state is lower than outdated",
    "Kernel does not know how to handle your request.\nMaybe API_VERSION mismatch?",
    "Device does not have a disk-config",
    "Protocol C required",
    "vmalloc() failed. Out of memory?",
    "The 'data-integrity-alg' you specified is not known in the kernel. \
     (Maybe you need to modprobe it, or modprobe hmac?)",
    "The 'data-integrity-alg' you specified is not a digest.",
    "Invalid cpu-mask.",
    "CSUMSAlgNotAvail",
    "CSUMSAlgNotDigest",
    "VERIFYAlgNotAvail",
    "VERIFYAlgNotDigest",
    "Can not change csums-alg while resync is in progress",
    "Can not change verify-alg while online verify runs",
    "Can only attach to the data we lost last (see kernel log).",
    "Need to be StandAlone",
    "Permission denied. CAP_SYS_ADMIN necessary",
    "Protocol version 93 required to use --assume-clean",
    "Fencing policy resource-and-stonith only with prot B or C allowed",
    "on-congestion policy pull-ahead only with prot A allowed",
    "Sync-pause flag is already cleared.\nNote: Resync pause caused by a local resync-after dependency.",
    "Sync-pause flag is already cleared.\nNote: Resync pause caused by the peer node.",
    "Unknown resource",
    "Resource still in use (delete all minors first)",
    "Minor still configured (down it first)",
    "Minor or volume exists already (delete it first)",
    "Invalid configuration request",
    "Prot version 100 required in order to change\nthese network options while connected",
    "Can not clear allow_two_primaries as long as\nthere a primaries on both sides",
    "Unclean meta-data found.\nYou need to 'drbdadm apply-al res'\n",
    "DRBD need to be connected for online MD layout change\n",
    "Resulting AL area too big\n",
    "Resulting AL are too small\n",
    "Resulting AL does not fit into available meta data space\n",
    "Implicit device shrinking not allowed. See kernel log.\n",
];

/// What drbdsetup-84 prints for an unknown code in the 101..=170 lookup.
pub const UNKNOWN_RET_CODE_TEXT: &str = "Unknown... maybe API_VERSION mismatch?";

/// drbdsetup-84's text for return code `code` (`error_to_string`), for every code from 101 to
/// 170, including codes of older releases that [`RetCode`] does not name. drbdsetup prints it
/// as `"{object}: Failure: ({code}) {text}\n"`.
pub fn ret_code_text(code: i32) -> Option<&'static str> {
    let idx = code.checked_sub(ERR_CODE_BASE + 1)?;
    RET_CODE_TEXTS.get(usize::try_from(idx).ok()?).copied()
}

impl RetCode {
    /// drbdsetup-84's message for this code.
    pub fn text(self) -> &'static str {
        ret_code_text(self as i32).unwrap_or(UNKNOWN_RET_CODE_TEXT)
    }
}

abi_enum! {
    /// Result of a state change (`enum drbd_state_rv`); configuration requests that change
    /// state reply with these in `ret_code`. Positive values are success. `name` is the C name;
    /// [`set_st_err_str`] gives drbdsetup's text.
    pub enum StateRv: i32 {
        /// Cluster-wide change not needed.
        CwNoNeed = 4 => "SS_CW_NO_NEED",
        /// Cluster-wide change succeeded.
        CwSuccess = 3 => "SS_CW_SUCCESS",
        /// Already in the requested state.
        NothingToDo = 2 => "SS_NOTHING_TO_DO",
        /// Success.
        Success = 1 => "SS_SUCCESS",
        /// Unknown error.
        UnknownError = 0 => "SS_UNKNOWN_ERROR",
        /// Two primaries not allowed.
        TwoPrimaries = -1 => "SS_TWO_PRIMARIES",
        /// Needs UpToDate data.
        NoUpToDateDisk = -2 => "SS_NO_UP_TO_DATE_DISK",
        /// No local disk.
        NoLocalDisk = -4 => "SS_NO_LOCAL_DISK",
        /// No remote disk.
        NoRemoteDisk = -5 => "SS_NO_REMOTE_DISK",
        /// Cannot outdate while connected.
        ConnectedOutdates = -6 => "SS_CONNECTED_OUTDATES",
        /// Cannot become primary, peer not outdated.
        PrimaryNop = -7 => "SS_PRIMARY_NOP",
        /// Resync already running.
        ResyncRunning = -8 => "SS_RESYNC_RUNNING",
        /// Already StandAlone.
        AlreadyStandalone = -9 => "SS_ALREADY_STANDALONE",
        /// Refused by the peer.
        CwFailedByPeer = -10 => "SS_CW_FAILED_BY_PEER",
        /// Operation needs a disk.
        IsDiskless = -11 => "SS_IS_DISKLESS",
        /// Device held open.
        DeviceInUse = -12 => "SS_DEVICE_IN_USE",
        /// No network configuration.
        NoNetConfig = -13 => "SS_NO_NET_CONFIG",
        /// Online verify needs verify-alg.
        NoVerifyAlg = -14 => "SS_NO_VERIFY_ALG",
        /// Needs a connection.
        NeedConnection = -15 => "SS_NEED_CONNECTION",
        /// Disk state lower than Outdated.
        LowerThanOutdated = -16 => "SS_LOWER_THAN_OUTDATED",
        /// Peer lacks protocol support.
        NotSupported = -17 => "SS_NOT_SUPPORTED",
        /// Transient state; retry.
        InTransientState = -18 => "SS_IN_TRANSIENT_STATE",
        /// Concurrent state change.
        ConcurrentStChg = -19 => "SS_CONCURRENT_ST_CHG",
        /// Another volume is primary on the peer.
        OVolPeerPri = -20 => "SS_O_VOL_PEER_PRI",
        /// Outdate needs a connection.
        OutdateWoConn = -21 => "SS_OUTDATE_WO_CONN",
    }
}

/// One below the most negative state-change result (`SS_AFTER_LAST_ERROR`).
pub const SS_AFTER_LAST_ERROR: i32 = -22;

/// DRBD's text for a failed state change (`drbd_set_st_err_str`), which drbdsetup prints as
/// `"{object}: State change failed: ({code}) {text}\n"`. Like the C function it answers
/// `"TOO_LARGE"` for non-negative codes and `"TOO_SMALL"` below -21. -3 has no entry in DRBD's
/// table; C would pass a NULL pointer to printf, which glibc prints as `"(null)"`.
pub fn set_st_err_str(code: i32) -> &'static str {
    match code {
        c if c <= SS_AFTER_LAST_ERROR => "TOO_SMALL",
        c if c > -1 => "TOO_LARGE",
        -1 => "Multiple primaries not allowed by config",
        -2 => "Need access to UpToDate data",
        -4 => "Can not resync without local disk",
        -5 => "Can not resync without remote disk",
        -6 => "Refusing to be Outdated while Connected",
        -7 => "Refusing to be Primary while peer is not outdated",
        -8 => "Can not start OV/resync since it is already active",
        -9 => "Can not disconnect a StandAlone device",
        -10 => "State change was refused by peer node",
        -11 => "Device is diskless, the requested operation requires a disk",
        -12 => "Device is held open by someone",
        -13 => "Have no net/connection configuration",
        -14 => "Need a verify algorithm to start online verify",
        -15 => "Need a connection to start verify or resync",
        -16 => "Disk state is lower than outdated",
        -17 => "Peer does not support protocol",
        -18 => "In transient state, retry after next state change",
        -19 => "Concurrent state changes detected and aborted",
        -20 => "Other vol primary on peer not allowed by config",
        -21 => "Need a connection for a graceful disconnect/outdate peer",
        _ => "(null)",
    }
}

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
    /// `on-io-error` policy (`enum drbd_io_error_p`); `name` is drbdsetup's spelling (note the
    /// underscore in `pass_on`).
    pub enum OnIoError: u32 {
        /// Report the error upwards.
        PassOn = 0 => "pass_on",
        /// Call the local-io-error handler.
        CallHelper = 1 => "call-local-io-error",
        /// Detach from the backing device.
        Detach = 2 => "detach",
    }
}

abi_enum! {
    /// `fencing` policy (`enum drbd_fencing_p`; -1 `FP_NOT_AVAIL` is not a policy). `name` is
    /// drbdsetup's spelling.
    pub enum Fencing: u32 {
        /// No fencing.
        DontCare = 0 => "dont-care",
        /// Fence the resource.
        Resource = 1 => "resource-only",
        /// Fence the resource and STONITH.
        Stonith = 2 => "resource-and-stonith",
    }
}

abi_enum! {
    /// After-split-brain and rr-conflict policies (`enum drbd_after_sb_p`). Which values are
    /// valid, and how drbdsetup spells them, depends on the option: see [`AFTER_SB_0P`],
    /// [`AFTER_SB_1P`], [`AFTER_SB_2P`] and [`RR_CONFLICT`]. `name` is the C name.
    pub enum AfterSb: u32 {
        /// Disconnect.
        Disconnect = 0 => "ASB_DISCONNECT",
        /// Discard the younger primary.
        DiscardYoungerPri = 1 => "ASB_DISCARD_YOUNGER_PRI",
        /// Discard the older primary.
        DiscardOlderPri = 2 => "ASB_DISCARD_OLDER_PRI",
        /// Discard the node without changes.
        DiscardZeroChg = 3 => "ASB_DISCARD_ZERO_CHG",
        /// Discard the node with fewer changes.
        DiscardLeastChg = 4 => "ASB_DISCARD_LEAST_CHG",
        /// Discard local data.
        DiscardLocal = 5 => "ASB_DISCARD_LOCAL",
        /// Discard remote data.
        DiscardRemote = 6 => "ASB_DISCARD_REMOTE",
        /// Follow the after-sb-0pri result if consistent.
        Consensus = 7 => "ASB_CONSENSUS",
        /// Discard the secondary.
        DiscardSecondary = 8 => "ASB_DISCARD_SECONDARY",
        /// Call the pri-lost(-after-sb) handler.
        CallHelper = 9 => "ASB_CALL_HELPER",
        /// Violently follow the after-sb-0pri result.
        Violently = 10 => "ASB_VIOLENTLY",
    }
}

abi_enum! {
    /// `on-no-data-accessible` policy (`enum drbd_on_no_data`); `name` is drbdsetup's spelling.
    pub enum OnNoData: u32 {
        /// Fail I/O.
        IoError = 0 => "io-error",
        /// Suspend I/O.
        SuspendIo = 1 => "suspend-io",
    }
}

abi_enum! {
    /// `on-congestion` policy (`enum drbd_on_congestion`); `name` is drbdsetup's spelling.
    pub enum OnCongestion: u32 {
        /// Block.
        Block = 0 => "block",
        /// Go Ahead.
        PullAhead = 1 => "pull-ahead",
        /// Disconnect.
        Disconnect = 2 => "disconnect",
    }
}

abi_enum! {
    /// `read-balancing` policy (`enum drbd_read_balancing`); `name` is drbdsetup's spelling.
    pub enum ReadBalancing: u32 {
        /// Prefer the local disk.
        PreferLocal = 0 => "prefer-local",
        /// Prefer the peer.
        PreferRemote = 1 => "prefer-remote",
        /// Alternate.
        RoundRobin = 2 => "round-robin",
        /// Fewer pending requests.
        LeastPending = 3 => "least-pending",
        /// Local unless congested.
        CongestedRemote = 4 => "when-congested-remote",
        /// Stripe by 32 KiB.
        Striping32K = 5 => "32K-striping",
        /// Stripe by 64 KiB.
        Striping64K = 6 => "64K-striping",
        /// Stripe by 128 KiB.
        Striping128K = 7 => "128K-striping",
        /// Stripe by 256 KiB.
        Striping256K = 8 => "256K-striping",
        /// Stripe by 512 KiB.
        Striping512K = 9 => "512K-striping",
        /// Stripe by 1 MiB.
        Striping1M = 10 => "1M-striping",
    }
}

abi_enum! {
    /// Replication protocol (`DRBD_PROT_*`, the `protocol` option); drbdsetup accepts the
    /// letters in either case.
    pub enum WireProtocol: u32 {
        /// Asynchronous.
        A = 1 => "A",
        /// Memory synchronous.
        B = 2 => "B",
        /// Synchronous.
        C = 3 => "C",
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

// ------------------------------------------------------------------------------------------------
// Option names of enumerated settings
// ------------------------------------------------------------------------------------------------

/// The names drbdsetup accepts and prints for an enumerated option, in the order its usage text
/// lists them (by number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// `(number, name)` pairs.
    pub values: &'static [(u32, &'static str)],
    /// Whether drbdsetup matches names without regard to ASCII case (only `protocol`).
    pub ignore_case: bool,
}

impl EnumDef {
    /// The name of `value`, or `None` if the option does not allow it.
    pub fn name_of(&self, value: u32) -> Option<&'static str> {
        self.values
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, n)| *n)
    }

    /// The number for `name`, or `None` if the option has no such value.
    pub fn value_of(&self, name: &str) -> Option<u32> {
        self.values
            .iter()
            .find(|(_, n)| {
                if self.ignore_case {
                    n.eq_ignore_ascii_case(name)
                } else {
                    *n == name
                }
            })
            .map(|(v, _)| *v)
    }
}

/// `on-io-error` values.
pub static ON_IO_ERROR: EnumDef = EnumDef {
    values: OnIoError::NAMES,
    ignore_case: false,
};
/// `fencing` values.
pub static FENCING: EnumDef = EnumDef {
    values: Fencing::NAMES,
    ignore_case: false,
};
/// `after-sb-0pri` values.
pub static AFTER_SB_0P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (1, "discard-younger-primary"),
        (2, "discard-older-primary"),
        (3, "discard-zero-changes"),
        (4, "discard-least-changes"),
        (5, "discard-local"),
        (6, "discard-remote"),
    ],
    ignore_case: false,
};
/// `after-sb-1pri` values.
pub static AFTER_SB_1P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (7, "consensus"),
        (8, "discard-secondary"),
        (9, "call-pri-lost-after-sb"),
        (10, "violently-as0p"),
    ],
    ignore_case: false,
};
/// `after-sb-2pri` values.
pub static AFTER_SB_2P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (9, "call-pri-lost-after-sb"),
        (10, "violently-as0p"),
    ],
    ignore_case: false,
};
/// `rr-conflict` values (note `call-pri-lost` and `violently`, unlike the after-sb options).
pub static RR_CONFLICT: EnumDef = EnumDef {
    values: &[(0, "disconnect"), (9, "call-pri-lost"), (10, "violently")],
    ignore_case: false,
};
/// `on-no-data-accessible` values.
pub static ON_NO_DATA: EnumDef = EnumDef {
    values: OnNoData::NAMES,
    ignore_case: false,
};
/// `on-congestion` values.
pub static ON_CONGESTION: EnumDef = EnumDef {
    values: OnCongestion::NAMES,
    ignore_case: false,
};
/// `read-balancing` values.
pub static READ_BALANCING: EnumDef = EnumDef {
    values: ReadBalancing::NAMES,
    ignore_case: false,
};
/// `protocol` values.
pub static WIRE_PROTOCOL: EnumDef = EnumDef {
    values: WireProtocol::NAMES,
    ignore_case: true,
};

// ------------------------------------------------------------------------------------------------
// Limits (drbd_limits.h)
// ------------------------------------------------------------------------------------------------

/// Ranges and defaults of DRBD's settings (`drbd_limits.h`), in the unit the setting travels in
/// (see [`Scale`]). Policy defaults are the enum numbers.
pub mod limits {
    #![allow(missing_docs)]

    pub const MINOR_COUNT_MIN: i64 = 1;
    pub const MINOR_COUNT_MAX: i64 = 255;
    pub const MINOR_COUNT_DEF: i64 = 32;
    pub const VOLUME_MAX: i64 = 65534;
    pub const DIALOG_REFRESH_MIN: i64 = 0;
    pub const DIALOG_REFRESH_MAX: i64 = 600;
    pub const PORT_MIN: i64 = 1;
    pub const PORT_MAX: i64 = 0xffff;

    pub const WFC_TIMEOUT_MIN: i64 = 0;
    pub const WFC_TIMEOUT_MAX: i64 = 300_000;
    pub const WFC_TIMEOUT_DEF: i64 = 0;
    pub const DEGR_WFC_TIMEOUT_MIN: i64 = 0;
    pub const DEGR_WFC_TIMEOUT_MAX: i64 = 300_000;
    pub const DEGR_WFC_TIMEOUT_DEF: i64 = 0;
    pub const OUTDATED_WFC_TIMEOUT_MIN: i64 = 0;
    pub const OUTDATED_WFC_TIMEOUT_MAX: i64 = 300_000;
    pub const OUTDATED_WFC_TIMEOUT_DEF: i64 = 0;

    /// Unit: 0.1 s.
    pub const TIMEOUT_MIN: i64 = 1;
    pub const TIMEOUT_MAX: i64 = 600;
    pub const TIMEOUT_DEF: i64 = 60;
    /// Unit: 0.1 s; 0 disables.
    pub const DISK_TIMEOUT_MIN: i64 = 0;
    pub const DISK_TIMEOUT_MAX: i64 = 6000;
    pub const DISK_TIMEOUT_DEF: i64 = 0;
    /// Unit: s.
    pub const CONNECT_INT_MIN: i64 = 1;
    pub const CONNECT_INT_MAX: i64 = 120;
    pub const CONNECT_INT_DEF: i64 = 10;
    /// Unit: s.
    pub const PING_INT_MIN: i64 = 1;
    pub const PING_INT_MAX: i64 = 120;
    pub const PING_INT_DEF: i64 = 10;
    /// Unit: 0.1 s.
    pub const PING_TIMEO_MIN: i64 = 1;
    pub const PING_TIMEO_MAX: i64 = 300;
    pub const PING_TIMEO_DEF: i64 = 5;
    pub const MAX_EPOCH_SIZE_MIN: i64 = 1;
    pub const MAX_EPOCH_SIZE_MAX: i64 = 20000;
    pub const MAX_EPOCH_SIZE_DEF: i64 = 2048;
    /// Unit: bytes; 0 means auto-tuning.
    pub const SNDBUF_SIZE_MIN: i64 = 0;
    pub const SNDBUF_SIZE_MAX: i64 = 10 << 20;
    pub const SNDBUF_SIZE_DEF: i64 = 0;
    pub const RCVBUF_SIZE_MIN: i64 = 0;
    pub const RCVBUF_SIZE_MAX: i64 = 10 << 20;
    pub const RCVBUF_SIZE_DEF: i64 = 0;
    pub const MAX_BUFFERS_MIN: i64 = 32;
    pub const MAX_BUFFERS_MAX: i64 = 131_072;
    pub const MAX_BUFFERS_DEF: i64 = 2048;
    pub const UNPLUG_WATERMARK_MIN: i64 = 1;
    pub const UNPLUG_WATERMARK_MAX: i64 = 131_072;
    pub const UNPLUG_WATERMARK_DEF: i64 = MAX_BUFFERS_DEF / 16;
    pub const KO_COUNT_MIN: i64 = 0;
    pub const KO_COUNT_MAX: i64 = 200;
    pub const KO_COUNT_DEF: i64 = 7;

    /// Unit: KiB/s.
    pub const RESYNC_RATE_MIN: i64 = 1;
    pub const RESYNC_RATE_MAX: i64 = 4 << 20;
    pub const RESYNC_RATE_DEF: i64 = 250;
    pub const AL_EXTENTS_MIN: i64 = 67;
    pub const AL_EXTENTS_MAX: i64 = 0xfffe;
    pub const AL_EXTENTS_DEF: i64 = 1237;
    pub const MINOR_NUMBER_MIN: i64 = -1;
    pub const MINOR_NUMBER_MAX: i64 = (1 << 20) - 1;
    pub const MINOR_NUMBER_DEF: i64 = -1;

    /// Unit: sectors.
    pub const DISK_SIZE_MIN: i64 = 0;
    pub const DISK_SIZE_MAX: i64 = 2 << 40;
    pub const DISK_SIZE_DEF: i64 = 0;

    pub const ON_IO_ERROR_DEF: i64 = 2; // EP_DETACH
    pub const FENCING_DEF: i64 = 0; // FP_DONT_CARE
    pub const AFTER_SB_0P_DEF: i64 = 0; // ASB_DISCONNECT
    pub const AFTER_SB_1P_DEF: i64 = 0;
    pub const AFTER_SB_2P_DEF: i64 = 0;
    pub const RR_CONFLICT_DEF: i64 = 0;
    pub const ON_NO_DATA_DEF: i64 = 0; // OND_IO_ERROR
    pub const ON_CONGESTION_DEF: i64 = 0; // OC_BLOCK
    pub const READ_BALANCING_DEF: i64 = 0; // RB_PREFER_LOCAL

    pub const MAX_BIO_BVECS_MIN: i64 = 0;
    pub const MAX_BIO_BVECS_MAX: i64 = 128;
    pub const MAX_BIO_BVECS_DEF: i64 = 0;
    /// Unit: 0.1 s.
    pub const C_PLAN_AHEAD_MIN: i64 = 0;
    pub const C_PLAN_AHEAD_MAX: i64 = 300;
    pub const C_PLAN_AHEAD_DEF: i64 = 20;
    /// Unit: 0.1 s.
    pub const C_DELAY_TARGET_MIN: i64 = 1;
    pub const C_DELAY_TARGET_MAX: i64 = 100;
    pub const C_DELAY_TARGET_DEF: i64 = 10;
    /// Unit: sectors.
    pub const C_FILL_TARGET_MIN: i64 = 0;
    pub const C_FILL_TARGET_MAX: i64 = 1 << 20;
    pub const C_FILL_TARGET_DEF: i64 = 100;
    /// Unit: KiB/s.
    pub const C_MAX_RATE_MIN: i64 = 250;
    pub const C_MAX_RATE_MAX: i64 = 4 << 20;
    pub const C_MAX_RATE_DEF: i64 = 102_400;
    /// Unit: KiB/s.
    pub const C_MIN_RATE_MIN: i64 = 0;
    pub const C_MIN_RATE_MAX: i64 = 4 << 20;
    pub const C_MIN_RATE_DEF: i64 = 250;
    /// Unit: sectors.
    pub const CONG_FILL_MIN: i64 = 0;
    pub const CONG_FILL_MAX: i64 = 10 << 21;
    pub const CONG_FILL_DEF: i64 = 0;
    pub const CONG_EXTENTS_MIN: i64 = AL_EXTENTS_MIN;
    pub const CONG_EXTENTS_MAX: i64 = AL_EXTENTS_MAX;
    pub const CONG_EXTENTS_DEF: i64 = AL_EXTENTS_DEF;

    pub const PROTOCOL_DEF: i64 = 3; // DRBD_PROT_C

    pub const DISK_BARRIER_DEF: i64 = 0;
    pub const DISK_FLUSHES_DEF: i64 = 1;
    pub const DISK_DRAIN_DEF: i64 = 1;
    pub const MD_FLUSHES_DEF: i64 = 1;
    pub const TCP_CORK_DEF: i64 = 1;
    pub const AL_UPDATES_DEF: i64 = 1;
    pub const DISCARD_ZEROES_IF_ALIGNED_DEF: i64 = 1;
    pub const DISABLE_WRITE_SAME_DEF: i64 = 0;
    pub const ALLOW_TWO_PRIMARIES_DEF: i64 = 0;
    pub const ALWAYS_ASBP_DEF: i64 = 0;
    pub const USE_RLE_DEF: i64 = 1;
    pub const CSUMS_AFTER_CRASH_ONLY_DEF: i64 = 0;

    pub const AL_STRIPES_MIN: i64 = 1;
    pub const AL_STRIPES_MAX: i64 = 1024;
    pub const AL_STRIPES_DEF: i64 = 1;
    /// Unit: KiB.
    pub const AL_STRIPE_SIZE_MIN: i64 = 4;
    pub const AL_STRIPE_SIZE_MAX: i64 = 16_777_216;
    pub const AL_STRIPE_SIZE_DEF: i64 = 32;

    /// Unit: 0.1 s (same as ping-timeout).
    pub const SOCKET_CHECK_TIMEO_MIN: i64 = 0;
    pub const SOCKET_CHECK_TIMEO_MAX: i64 = PING_TIMEO_MAX;
    pub const SOCKET_CHECK_TIMEO_DEF: i64 = 0;
    /// Unit: bytes.
    pub const RS_DISCARD_GRANULARITY_MIN: i64 = 0;
    pub const RS_DISCARD_GRANULARITY_MAX: i64 = 1 << 20;
    pub const RS_DISCARD_GRANULARITY_DEF: i64 = 0;
}

use limits as l;

// ------------------------------------------------------------------------------------------------
// Field tables
// ------------------------------------------------------------------------------------------------

/// How a field travels, which is also how it is validated on receipt (the kernel's policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `NLA_U8` number. (8.4 declares none; kept for completeness.)
    U8,
    /// `NLA_U16` number. (8.4 declares none; kept for completeness.)
    U16,
    /// `NLA_U32` unsigned number.
    U32,
    /// `NLA_U64` number.
    U64,
    /// `NLA_U32` on the wire, read as a signed 32-bit number (`__s32_field`).
    I32,
    /// DRBD's boolean (`__flg_field`): an `NLA_U8` holding 0 or 1, *not* a zero-length
    /// `NLA_FLAG`.
    Flag,
    /// NUL-terminated string of at most `max_len` bytes before the NUL (the C struct's buffer is
    /// `max_len + 1`). Sent with its NUL.
    String {
        /// Longest accepted string, NUL excluded; `u16::MAX` for "no limit" (`info_text`).
        max_len: u16,
    },
    /// Raw bytes (`NLA_BINARY`), at most `max_len` of them: socket addresses and UUID arrays.
    Binary {
        /// Longest accepted payload.
        max_len: u16,
    },
}

impl FieldType {
    /// Smallest payload the kernel accepts for this type (longer numbers are accepted and only
    /// their first bytes read, as `nla_get_*` does).
    pub fn min_len(self) -> usize {
        match self {
            FieldType::U8 | FieldType::Flag => 1,
            FieldType::U16 => 2,
            FieldType::U32 | FieldType::I32 => 4,
            FieldType::U64 => 8,
            FieldType::String { .. } => 1,
            FieldType::Binary { .. } => 0,
        }
    }
}

/// Unit multiplier drbdsetup applies to a number given with a suffix (`DRBD_*_SCALE`): the
/// value travels in this unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Plain number or bytes (`'1'`).
    One,
    /// KiB (`'k'`).
    Kilo,
    /// 512-byte sectors (`'s'`).
    Sectors,
}

impl Scale {
    /// The C scale character.
    pub fn as_char(self) -> char {
        match self {
            Scale::One => '1',
            Scale::Kilo => 'k',
            Scale::Sectors => 's',
        }
    }
}

/// How drbdsetup-84 exposes a field on its command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    /// Not settable by drbdsetup (kernel-to-user data, or set implicitly).
    None,
    /// `--name=value` (number, enum or string).
    Option,
    /// `--name[={yes|no}]`: a boolean with a default; drbdsetup sends 0 or 1 whenever given.
    Boolean,
    /// `--name`: drbdsetup sends 1 when given and nothing otherwise.
    Flag,
    /// A positional argument; [`FieldDef::name`] is the argument name drbdsetup's usage prints.
    Positional,
}

/// One field of a DRBD configuration struct, and how drbdsetup names and limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Attribute number inside the struct's nest (without [`DRBD_GENLA_F_MANDATORY`]).
    pub id: u16,
    /// The C struct member name, e.g. `"resync_rate"`.
    pub c_name: &'static str,
    /// drbdsetup's name for it: the option name (`"resync-rate"`, `"protocol"`), the positional
    /// argument name for [`Cli::Positional`], else the C name with `-` for `_`.
    pub name: &'static str,
    /// Command-line form in drbdsetup-84.
    pub cli: Cli,
    /// Wire type and validation policy.
    pub ty: FieldType,
    /// Userspace sets [`DRBD_GENLA_F_MANDATORY`] on this attribute.
    pub mandatory: bool,
    /// `DRBD_F_REQUIRED`: a request without it is invalid (except a change request when the
    /// field is also invariant).
    pub required: bool,
    /// `DRBD_F_INVARIANT`: set at creation only; a change request carrying it is refused.
    pub invariant: bool,
    /// `DRBD_F_SENSITIVE`: left out of replies to unprivileged requests and of broadcasts.
    pub sensitive: bool,
    /// Default from `drbd_limits.h`, if the field has one (for strings with a default, the
    /// default is the empty string and this is `None`).
    pub default: Option<i64>,
    /// Smallest valid value drbdsetup advertises.
    pub min: Option<i64>,
    /// Largest valid value drbdsetup advertises.
    pub max: Option<i64>,
    /// Unit the value travels in.
    pub scale: Scale,
    /// The unit drbdsetup's XML help names, if any (e.g. `"1/10 seconds"`).
    pub unit: Option<&'static str>,
    /// Names of enumerated values, for enum options.
    pub values: Option<&'static EnumDef>,
}

const fn fd(id: u16, c_name: &'static str, name: &'static str, ty: FieldType) -> FieldDef {
    FieldDef {
        id,
        c_name,
        name,
        cli: Cli::None,
        ty,
        mandatory: false,
        required: false,
        invariant: false,
        sensitive: false,
        default: None,
        min: None,
        max: None,
        scale: Scale::One,
        unit: None,
        values: None,
    }
}

// Builders for the tables below; private so the tables stay the only source of these values.
impl FieldDef {
    const fn m(self) -> Self {
        FieldDef {
            mandatory: true,
            ..self
        }
    }
    const fn req(self) -> Self {
        FieldDef {
            required: true,
            ..self
        }
    }
    const fn inv(self) -> Self {
        FieldDef {
            invariant: true,
            ..self
        }
    }
    const fn sens(self) -> Self {
        FieldDef {
            sensitive: true,
            ..self
        }
    }
    const fn def(self, v: i64) -> Self {
        FieldDef {
            default: Some(v),
            ..self
        }
    }
    const fn range(self, min: i64, max: i64) -> Self {
        FieldDef {
            min: Some(min),
            max: Some(max),
            ..self
        }
    }
    const fn num(self, min: i64, max: i64, def: i64) -> Self {
        self.range(min, max).def(def).cli(Cli::Option)
    }
    const fn scale(self, scale: Scale) -> Self {
        FieldDef { scale, ..self }
    }
    const fn unit(self, unit: &'static str) -> Self {
        FieldDef {
            unit: Some(unit),
            ..self
        }
    }
    const fn cli(self, cli: Cli) -> Self {
        FieldDef { cli, ..self }
    }
    const fn boolean(self, def: i64) -> Self {
        self.def(def).cli(Cli::Boolean)
    }
    const fn choice(self, values: &'static EnumDef, def: i64) -> Self {
        FieldDef {
            values: Some(values),
            ..self
        }
        .def(def)
        .cli(Cli::Option)
    }
}

const U32: FieldType = FieldType::U32;
const U64: FieldType = FieldType::U64;
const I32: FieldType = FieldType::I32;
const FLAG: FieldType = FieldType::Flag;
const fn string(buffer: usize) -> FieldType {
    // The C macros size the buffer; the kernel's policy allows one byte less (room for the NUL).
    FieldType::String {
        max_len: (buffer - 1) as u16,
    }
}
const fn binary(max_len: usize) -> FieldType {
    FieldType::Binary {
        max_len: max_len as u16,
    }
}

/// A DRBD configuration struct: the fields of one top-level attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructDef {
    /// The top-level attribute that carries it.
    pub tla: TopAttr,
    /// The C struct name, e.g. `"disk_conf"`.
    pub c_name: &'static str,
    /// Its fields, by field number. (C declares a few `disk_conf` fields out of number order;
    /// none of those is required or invariant, so the order of checks is the same.)
    pub fields: &'static [FieldDef],
}

/// `drbd_cfg_reply` (kernel to user).
pub static CFG_REPLY: StructDef = StructDef {
    tla: TopAttr::CfgReply,
    c_name: "drbd_cfg_reply",
    fields: &[fd(
        1,
        "info_text",
        "info-text",
        FieldType::String { max_len: u16::MAX },
    )
    .m()],
};

/// `drbd_cfg_context`: the object a request addresses. drbdsetup sends the resource name for
/// resource commands, both addresses for connection commands, name and volume for `new-minor`.
pub static CFG_CONTEXT: StructDef = StructDef {
    tla: TopAttr::CfgContext,
    c_name: "drbd_cfg_context",
    fields: &[
        fd(1, "ctx_volume", "volume", U32).m().cli(Cli::Positional),
        fd(2, "ctx_resource_name", "resource", string(128))
            .m()
            .cli(Cli::Positional),
        fd(3, "ctx_my_addr", "local_addr", binary(128))
            .m()
            .cli(Cli::Positional),
        fd(4, "ctx_peer_addr", "remote_addr", binary(128))
            .m()
            .cli(Cli::Positional),
    ],
};

/// `disk_conf`: `drbdsetup attach` (all fields) and `disk-options` (fields not invariant).
pub static DISK_CONF: StructDef = StructDef {
    tla: TopAttr::DiskConf,
    c_name: "disk_conf",
    fields: &[
        fd(1, "backing_dev", "lower_dev", string(128))
            .req()
            .inv()
            .cli(Cli::Positional),
        fd(2, "meta_dev", "meta_data_dev", string(128))
            .req()
            .inv()
            .cli(Cli::Positional),
        // drbdsetup sends "internal" as DRBD_MD_INDEX_FLEX_INT, "flexible" as ..._FLEX_EXT.
        fd(3, "meta_dev_idx", "meta_data_index", I32)
            .req()
            .inv()
            .cli(Cli::Positional),
        fd(4, "disk_size", "size", U64)
            .m()
            .inv()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(5, "max_bio_bvecs", "max-bio-bvecs", U32).m().inv().num(
            l::MAX_BIO_BVECS_MIN,
            l::MAX_BIO_BVECS_MAX,
            l::MAX_BIO_BVECS_DEF,
        ),
        fd(6, "on_io_error", "on-io-error", U32)
            .m()
            .choice(&ON_IO_ERROR, l::ON_IO_ERROR_DEF),
        fd(7, "fencing", "fencing", U32)
            .m()
            .choice(&FENCING, l::FENCING_DEF),
        fd(8, "resync_rate", "resync-rate", U32)
            .m()
            .num(l::RESYNC_RATE_MIN, l::RESYNC_RATE_MAX, l::RESYNC_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(9, "resync_after", "resync-after", I32).m().num(
            l::MINOR_NUMBER_MIN,
            l::MINOR_NUMBER_MAX,
            l::MINOR_NUMBER_DEF,
        ),
        fd(10, "al_extents", "al-extents", U32).m().num(
            l::AL_EXTENTS_MIN,
            l::AL_EXTENTS_MAX,
            l::AL_EXTENTS_DEF,
        ),
        fd(11, "c_plan_ahead", "c-plan-ahead", U32)
            .m()
            .num(
                l::C_PLAN_AHEAD_MIN,
                l::C_PLAN_AHEAD_MAX,
                l::C_PLAN_AHEAD_DEF,
            )
            .unit("1/10 seconds"),
        fd(12, "c_delay_target", "c-delay-target", U32)
            .m()
            .num(
                l::C_DELAY_TARGET_MIN,
                l::C_DELAY_TARGET_MAX,
                l::C_DELAY_TARGET_DEF,
            )
            .unit("1/10 seconds"),
        fd(13, "c_fill_target", "c-fill-target", U32)
            .m()
            .num(
                l::C_FILL_TARGET_MIN,
                l::C_FILL_TARGET_MAX,
                l::C_FILL_TARGET_DEF,
            )
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(14, "c_max_rate", "c-max-rate", U32)
            .m()
            .num(l::C_MAX_RATE_MIN, l::C_MAX_RATE_MAX, l::C_MAX_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(15, "c_min_rate", "c-min-rate", U32)
            .m()
            .num(l::C_MIN_RATE_MIN, l::C_MIN_RATE_MAX, l::C_MIN_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(16, "disk_barrier", "disk-barrier", FLAG)
            .m()
            .boolean(l::DISK_BARRIER_DEF),
        fd(17, "disk_flushes", "disk-flushes", FLAG)
            .m()
            .boolean(l::DISK_FLUSHES_DEF),
        fd(18, "disk_drain", "disk-drain", FLAG)
            .m()
            .boolean(l::DISK_DRAIN_DEF),
        fd(19, "md_flushes", "md-flushes", FLAG)
            .m()
            .boolean(l::MD_FLUSHES_DEF),
        fd(20, "disk_timeout", "disk-timeout", U32)
            .m()
            .num(
                l::DISK_TIMEOUT_MIN,
                l::DISK_TIMEOUT_MAX,
                l::DISK_TIMEOUT_DEF,
            )
            .unit("1/10 seconds"),
        fd(21, "read_balancing", "read-balancing", U32)
            .choice(&READ_BALANCING, l::READ_BALANCING_DEF),
        // 22 is reserved (DRBD 9's unplug_watermark).
        fd(23, "al_updates", "al-updates", FLAG).boolean(l::AL_UPDATES_DEF),
        fd(
            24,
            "discard_zeroes_if_aligned",
            "discard-zeroes-if-aligned",
            FLAG,
        )
        .boolean(l::DISCARD_ZEROES_IF_ALIGNED_DEF),
        fd(25, "rs_discard_granularity", "rs-discard-granularity", U32).num(
            l::RS_DISCARD_GRANULARITY_MIN,
            l::RS_DISCARD_GRANULARITY_MAX,
            l::RS_DISCARD_GRANULARITY_DEF,
        ),
        fd(26, "disable_write_same", "disable-write-same", FLAG).boolean(l::DISABLE_WRITE_SAME_DEF),
    ],
};

/// `res_opts`: `drbdsetup resource-options` and `new-resource`.
pub static RES_OPTS: StructDef = StructDef {
    tla: TopAttr::ResourceOpts,
    c_name: "res_opts",
    fields: &[
        fd(1, "cpu_mask", "cpu-mask", string(DRBD_CPU_MASK_SIZE))
            .m()
            .cli(Cli::Option),
        fd(2, "on_no_data", "on-no-data-accessible", U32)
            .m()
            .choice(&ON_NO_DATA, l::ON_NO_DATA_DEF),
    ],
};

/// `net_conf`: `drbdsetup connect` (all fields) and `net-options` (fields not invariant).
///
/// drbd-utils' own copy of the header adds `my_addr2` (35) and `peer_addr2` (36) for
/// `--alternate-address` / `--alternate-peer-address`, without the mandatory bit; the mainline
/// kernel never knew them and ignores them, and so does this table.
pub static NET_CONF: StructDef = StructDef {
    tla: TopAttr::NetConf,
    c_name: "net_conf",
    fields: &[
        fd(
            1,
            "shared_secret",
            "shared-secret",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .sens()
        .cli(Cli::Option),
        fd(
            2,
            "cram_hmac_alg",
            "cram-hmac-alg",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .cli(Cli::Option),
        fd(
            3,
            "integrity_alg",
            "data-integrity-alg",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .cli(Cli::Option),
        fd(4, "verify_alg", "verify-alg", string(SHARED_SECRET_MAX))
            .m()
            .cli(Cli::Option),
        fd(5, "csums_alg", "csums-alg", string(SHARED_SECRET_MAX))
            .m()
            .cli(Cli::Option),
        fd(6, "wire_protocol", "protocol", U32)
            .m()
            .choice(&WIRE_PROTOCOL, l::PROTOCOL_DEF),
        fd(7, "connect_int", "connect-int", U32)
            .m()
            .num(l::CONNECT_INT_MIN, l::CONNECT_INT_MAX, l::CONNECT_INT_DEF)
            .unit("seconds"),
        fd(8, "timeout", "timeout", U32)
            .m()
            .num(l::TIMEOUT_MIN, l::TIMEOUT_MAX, l::TIMEOUT_DEF)
            .unit("1/10 seconds"),
        fd(9, "ping_int", "ping-int", U32)
            .m()
            .num(l::PING_INT_MIN, l::PING_INT_MAX, l::PING_INT_DEF)
            .unit("seconds"),
        fd(10, "ping_timeo", "ping-timeout", U32)
            .m()
            .num(l::PING_TIMEO_MIN, l::PING_TIMEO_MAX, l::PING_TIMEO_DEF)
            .unit("1/10 seconds"),
        fd(11, "sndbuf_size", "sndbuf-size", U32)
            .m()
            .num(l::SNDBUF_SIZE_MIN, l::SNDBUF_SIZE_MAX, l::SNDBUF_SIZE_DEF)
            .unit("bytes"),
        fd(12, "rcvbuf_size", "rcvbuf-size", U32)
            .m()
            .num(l::RCVBUF_SIZE_MIN, l::RCVBUF_SIZE_MAX, l::RCVBUF_SIZE_DEF)
            .unit("bytes"),
        fd(13, "ko_count", "ko-count", U32).m().num(
            l::KO_COUNT_MIN,
            l::KO_COUNT_MAX,
            l::KO_COUNT_DEF,
        ),
        fd(14, "max_buffers", "max-buffers", U32).m().num(
            l::MAX_BUFFERS_MIN,
            l::MAX_BUFFERS_MAX,
            l::MAX_BUFFERS_DEF,
        ),
        fd(15, "max_epoch_size", "max-epoch-size", U32).m().num(
            l::MAX_EPOCH_SIZE_MIN,
            l::MAX_EPOCH_SIZE_MAX,
            l::MAX_EPOCH_SIZE_DEF,
        ),
        fd(16, "unplug_watermark", "unplug-watermark", U32).m().num(
            l::UNPLUG_WATERMARK_MIN,
            l::UNPLUG_WATERMARK_MAX,
            l::UNPLUG_WATERMARK_DEF,
        ),
        fd(17, "after_sb_0p", "after-sb-0pri", U32)
            .m()
            .choice(&AFTER_SB_0P, l::AFTER_SB_0P_DEF),
        fd(18, "after_sb_1p", "after-sb-1pri", U32)
            .m()
            .choice(&AFTER_SB_1P, l::AFTER_SB_1P_DEF),
        fd(19, "after_sb_2p", "after-sb-2pri", U32)
            .m()
            .choice(&AFTER_SB_2P, l::AFTER_SB_2P_DEF),
        fd(20, "rr_conflict", "rr-conflict", U32)
            .m()
            .choice(&RR_CONFLICT, l::RR_CONFLICT_DEF),
        fd(21, "on_congestion", "on-congestion", U32)
            .m()
            .choice(&ON_CONGESTION, l::ON_CONGESTION_DEF),
        fd(22, "cong_fill", "congestion-fill", U32)
            .m()
            .num(l::CONG_FILL_MIN, l::CONG_FILL_MAX, l::CONG_FILL_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(23, "cong_extents", "congestion-extents", U32).m().num(
            l::CONG_EXTENTS_MIN,
            l::CONG_EXTENTS_MAX,
            l::CONG_EXTENTS_DEF,
        ),
        fd(24, "two_primaries", "allow-two-primaries", FLAG)
            .m()
            .boolean(l::ALLOW_TWO_PRIMARIES_DEF),
        fd(25, "discard_my_data", "discard-my-data", FLAG)
            .m()
            .inv()
            .cli(Cli::Flag),
        fd(26, "tcp_cork", "tcp-cork", FLAG)
            .m()
            .boolean(l::TCP_CORK_DEF),
        fd(27, "always_asbp", "always-asbp", FLAG)
            .m()
            .boolean(l::ALWAYS_ASBP_DEF),
        // drbdsetup also accepts `--dry-run` for this one.
        fd(28, "tentative", "tentative", FLAG)
            .m()
            .inv()
            .cli(Cli::Flag),
        fd(29, "use_rle", "use-rle", FLAG)
            .m()
            .boolean(l::USE_RLE_DEF),
        // 30-32 are reserved (DRBD 9).
        fd(33, "csums_after_crash_only", "csums-after-crash-only", FLAG)
            .boolean(l::CSUMS_AFTER_CRASH_ONLY_DEF),
        fd(34, "sock_check_timeo", "socket-check-timeout", U32).num(
            l::SOCKET_CHECK_TIMEO_MIN,
            l::SOCKET_CHECK_TIMEO_MAX,
            l::SOCKET_CHECK_TIMEO_DEF,
        ),
    ],
};

/// `set_role_parms`: `drbdsetup primary` (`--force`, alias `--overwrite-data-of-peer`).
pub static SET_ROLE_PARMS: StructDef = StructDef {
    tla: TopAttr::SetRoleParms,
    c_name: "set_role_parms",
    fields: &[fd(1, "assume_uptodate", "force", FLAG).m().cli(Cli::Flag)],
};

/// `resize_parms`: `drbdsetup resize`.
pub static RESIZE_PARMS: StructDef = StructDef {
    tla: TopAttr::ResizeParms,
    c_name: "resize_parms",
    fields: &[
        fd(1, "resize_size", "size", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(2, "resize_force", "assume-peer-has-space", FLAG)
            .m()
            .cli(Cli::Flag),
        fd(3, "no_resync", "assume-clean", FLAG).m().cli(Cli::Flag),
        fd(4, "al_stripes", "al-stripes", U32).num(
            l::AL_STRIPES_MIN,
            l::AL_STRIPES_MAX,
            l::AL_STRIPES_DEF,
        ),
        fd(5, "al_stripe_size", "al-stripe-size-kB", U32)
            .num(
                l::AL_STRIPE_SIZE_MIN,
                l::AL_STRIPE_SIZE_MAX,
                l::AL_STRIPE_SIZE_DEF,
            )
            .scale(Scale::Kilo),
    ],
};

/// `state_info`: 8.4 status replies and `DRBD_ADM_EVENT` broadcasts (kernel to user).
pub static STATE_INFO: StructDef = StructDef {
    tla: TopAttr::StateInfo,
    c_name: "state_info",
    fields: &[
        fd(1, "sib_reason", "sib-reason", U32).m(),
        fd(2, "current_state", "current-state", U32).req(),
        fd(3, "capacity", "capacity", U64).m(),
        fd(4, "ed_uuid", "ed-uuid", U64).m(),
        fd(5, "prev_state", "prev-state", U32).m(),
        fd(6, "new_state", "new-state", U32).m(),
        fd(7, "uuids", "uuids", binary(UI_SIZE * 8)).m(),
        fd(8, "disk_flags", "disk-flags", U32).m(),
        fd(9, "bits_total", "bits-total", U64).m(),
        fd(10, "bits_oos", "bits-oos", U64).m(),
        fd(11, "bits_rs_total", "bits-rs-total", U64).m(),
        fd(12, "bits_rs_failed", "bits-rs-failed", U64).m(),
        fd(13, "helper", "helper", string(32)).m(),
        fd(14, "helper_exit_code", "helper-exit-code", U32).m(),
        fd(15, "send_cnt", "send-cnt", U64),
        fd(16, "recv_cnt", "recv-cnt", U64),
        fd(17, "read_cnt", "read-cnt", U64),
        fd(18, "writ_cnt", "writ-cnt", U64),
        fd(19, "al_writ_cnt", "al-writ-cnt", U64),
        fd(20, "bm_writ_cnt", "bm-writ-cnt", U64),
        fd(21, "ap_bio_cnt", "ap-bio-cnt", U32),
        fd(22, "ap_pending_cnt", "ap-pending-cnt", U32),
        fd(23, "rs_pending_cnt", "rs-pending-cnt", U32),
    ],
};

/// `start_ov_parms`: `drbdsetup verify --start/--stop` (sectors on the wire).
pub static START_OV_PARMS: StructDef = StructDef {
    tla: TopAttr::StartOvParms,
    c_name: "start_ov_parms",
    fields: &[
        fd(1, "ov_start_sector", "start", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(2, "ov_stop_sector", "stop", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
    ],
};

/// `new_c_uuid_parms`: `drbdsetup new-current-uuid`.
pub static NEW_C_UUID_PARMS: StructDef = StructDef {
    tla: TopAttr::NewCUuidParms,
    c_name: "new_c_uuid_parms",
    fields: &[fd(1, "clear_bm", "clear-bitmap", FLAG).m().cli(Cli::Flag)],
};

/// `timeout_parms`: reply to `DRBD_ADM_GET_TIMEOUT_TYPE`, see [`TimeoutType`].
pub static TIMEOUT_PARMS: StructDef = StructDef {
    tla: TopAttr::TimeoutParms,
    c_name: "timeout_parms",
    fields: &[fd(1, "timeout_type", "timeout-type", U32).req()],
};

/// `disconnect_parms`: `drbdsetup disconnect --force`.
pub static DISCONNECT_PARMS: StructDef = StructDef {
    tla: TopAttr::DisconnectParms,
    c_name: "disconnect_parms",
    fields: &[fd(1, "force_disconnect", "force", FLAG).m().cli(Cli::Flag)],
};

/// `detach_parms`: `drbdsetup detach --force`.
pub static DETACH_PARMS: StructDef = StructDef {
    tla: TopAttr::DetachParms,
    c_name: "detach_parms",
    fields: &[fd(1, "force_detach", "force", FLAG).m().cli(Cli::Flag)],
};

/// `resource_info` (events2 / status).
pub static RESOURCE_INFO: StructDef = StructDef {
    tla: TopAttr::ResourceInfo,
    c_name: "resource_info",
    fields: &[
        fd(1, "res_role", "res-role", U32),
        fd(2, "res_susp", "res-susp", FLAG),
        fd(3, "res_susp_nod", "res-susp-nod", FLAG),
        fd(4, "res_susp_fen", "res-susp-fen", FLAG),
    ],
};

/// `device_info` (events2 / status).
pub static DEVICE_INFO: StructDef = StructDef {
    tla: TopAttr::DeviceInfo,
    c_name: "device_info",
    fields: &[fd(1, "dev_disk_state", "dev-disk-state", U32)],
};

/// `connection_info` (events2 / status).
pub static CONNECTION_INFO: StructDef = StructDef {
    tla: TopAttr::ConnectionInfo,
    c_name: "connection_info",
    fields: &[
        fd(1, "conn_connection_state", "conn-connection-state", U32),
        fd(2, "conn_role", "conn-role", U32),
    ],
};

/// `peer_device_info` (events2 / status).
pub static PEER_DEVICE_INFO: StructDef = StructDef {
    tla: TopAttr::PeerDeviceInfo,
    c_name: "peer_device_info",
    fields: &[
        fd(1, "peer_repl_state", "peer-repl-state", U32),
        fd(2, "peer_disk_state", "peer-disk-state", U32),
        fd(3, "peer_resync_susp_user", "peer-resync-susp-user", U32),
        fd(4, "peer_resync_susp_peer", "peer-resync-susp-peer", U32),
        fd(
            5,
            "peer_resync_susp_dependency",
            "peer-resync-susp-dependency",
            U32,
        ),
    ],
};

/// `resource_statistics` (events2 / status).
pub static RESOURCE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::ResourceStatistics,
    c_name: "resource_statistics",
    fields: &[fd(
        1,
        "res_stat_write_ordering",
        "res-stat-write-ordering",
        U32,
    )],
};

/// `device_statistics` (events2 / status); sizes in sectors.
pub static DEVICE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::DeviceStatistics,
    c_name: "device_statistics",
    fields: &[
        fd(1, "dev_size", "dev-size", U64),
        fd(2, "dev_read", "dev-read", U64),
        fd(3, "dev_write", "dev-write", U64),
        fd(4, "dev_al_writes", "dev-al-writes", U64),
        fd(5, "dev_bm_writes", "dev-bm-writes", U64),
        fd(6, "dev_upper_pending", "dev-upper-pending", U32),
        fd(7, "dev_lower_pending", "dev-lower-pending", U32),
        fd(8, "dev_upper_blocked", "dev-upper-blocked", FLAG),
        fd(9, "dev_lower_blocked", "dev-lower-blocked", FLAG),
        fd(10, "dev_al_suspended", "dev-al-suspended", FLAG),
        fd(11, "dev_exposed_data_uuid", "dev-exposed-data-uuid", U64),
        fd(12, "dev_current_uuid", "dev-current-uuid", U64),
        fd(13, "dev_disk_flags", "dev-disk-flags", U32),
        fd(
            14,
            "history_uuids",
            "history-uuids",
            binary(HISTORY_UUIDS * 8),
        ),
    ],
};

/// `connection_statistics` (events2 / status).
pub static CONNECTION_STATISTICS: StructDef = StructDef {
    tla: TopAttr::ConnectionStatistics,
    c_name: "connection_statistics",
    fields: &[fd(1, "conn_congested", "conn-congested", FLAG)],
};

/// `peer_device_statistics` (events2 / status); 8 is unused.
pub static PEER_DEVICE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::PeerDeviceStatistics,
    c_name: "peer_device_statistics",
    fields: &[
        fd(1, "peer_dev_received", "peer-dev-received", U64),
        fd(2, "peer_dev_sent", "peer-dev-sent", U64),
        fd(3, "peer_dev_pending", "peer-dev-pending", U32),
        fd(4, "peer_dev_unacked", "peer-dev-unacked", U32),
        fd(5, "peer_dev_out_of_sync", "peer-dev-out-of-sync", U64),
        fd(6, "peer_dev_resync_failed", "peer-dev-resync-failed", U64),
        fd(7, "peer_dev_bitmap_uuid", "peer-dev-bitmap-uuid", U64),
        fd(9, "peer_dev_flags", "peer-dev-flags", U32),
    ],
};

/// `drbd_notification_header` (events2).
pub static NOTIFICATION_HEADER: StructDef = StructDef {
    tla: TopAttr::NotificationHeader,
    c_name: "drbd_notification_header",
    fields: &[fd(1, "nh_type", "nh-type", U32).m()],
};

/// `drbd_helper_info` (events2).
pub static HELPER_INFO: StructDef = StructDef {
    tla: TopAttr::Helper,
    c_name: "drbd_helper_info",
    fields: &[
        fd(1, "helper_name", "helper-name", string(32)).m(),
        fd(2, "helper_status", "helper-status", U32).m(),
    ],
};

/// Every struct, in top-level attribute order.
pub static STRUCTS: [&StructDef; 23] = [
    &CFG_REPLY,
    &CFG_CONTEXT,
    &DISK_CONF,
    &RES_OPTS,
    &NET_CONF,
    &SET_ROLE_PARMS,
    &RESIZE_PARMS,
    &STATE_INFO,
    &START_OV_PARMS,
    &NEW_C_UUID_PARMS,
    &TIMEOUT_PARMS,
    &DISCONNECT_PARMS,
    &DETACH_PARMS,
    &RESOURCE_INFO,
    &DEVICE_INFO,
    &CONNECTION_INFO,
    &PEER_DEVICE_INFO,
    &RESOURCE_STATISTICS,
    &DEVICE_STATISTICS,
    &CONNECTION_STATISTICS,
    &PEER_DEVICE_STATISTICS,
    &NOTIFICATION_HEADER,
    &HELPER_INFO,
];

// ------------------------------------------------------------------------------------------------
// Field values
// ------------------------------------------------------------------------------------------------

/// A field value, borrowed from the message it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// [`FieldType::U8`], [`FieldType::U16`], [`FieldType::U32`] or [`FieldType::U64`].
    Unsigned(u64),
    /// [`FieldType::I32`].
    Signed(i64),
    /// [`FieldType::Flag`].
    Flag(bool),
    /// [`FieldType::String`]: the bytes before the NUL (not necessarily UTF-8).
    Str(&'a [u8]),
    /// [`FieldType::Binary`].
    Bin(&'a [u8]),
}

/// Why a field or a struct's attribute stream was refused. The C kernel answers every one of
/// these with [`RetCode::MandatoryTag`] plus [`FieldError::info_text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The attribute stream itself is malformed.
    Malformed(NlaError),
    /// An attribute carries the mandatory bit but its number is beyond the struct's last field.
    UnknownMandatory {
        /// The attribute number (flags removed).
        id: u16,
    },
    /// Payload shorter than the field's type needs.
    TooShort {
        /// Field number.
        id: u16,
        /// Bytes required.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A string without a NUL within its allowed length.
    Unterminated {
        /// Field number.
        id: u16,
    },
    /// A string or binary value longer than allowed.
    TooLong {
        /// Field number.
        id: u16,
        /// Longest allowed (NUL excluded for strings).
        max: usize,
        /// Length found (trailing NUL excluded for strings).
        have: usize,
    },
    /// A required field is absent.
    MissingRequired {
        /// Field number.
        id: u16,
    },
    /// A change request carries a field that may only be set at creation.
    InvariantChange {
        /// Field number.
        id: u16,
    },
    /// Encoding: the value's kind does not match the field's type.
    WrongKind {
        /// Field number.
        id: u16,
    },
    /// Encoding: the number does not fit the field's type.
    OutOfRange {
        /// Field number.
        id: u16,
    },
}

impl From<NlaError> for FieldError {
    fn from(e: NlaError) -> Self {
        FieldError::Malformed(e)
    }
}

impl FieldError {
    /// The explanation the C kernel attaches to the reply (`from_attrs_err_to_txt`).
    pub fn info_text(&self) -> &'static str {
        match self {
            FieldError::MissingRequired { .. } => "required attribute missing",
            FieldError::InvariantChange { .. } => "can not change invariant setting",
            _ => "invalid attribute value",
        }
    }

    /// The return code the C kernel replies with for any attribute error.
    pub fn ret_code(&self) -> RetCode {
        RetCode::MandatoryTag
    }
}

impl FieldDef {
    /// The attribute type userspace sends this field with: the id, plus
    /// [`DRBD_GENLA_F_MANDATORY`] for mandatory fields (drbd-utils' `T_<name>` constant).
    pub fn nla_type(&self) -> u16 {
        if self.mandatory {
            self.id | DRBD_GENLA_F_MANDATORY
        } else {
            self.id
        }
    }

    /// Whether `value` lies within the advertised range (true when there is none).
    pub fn in_range(&self, value: i64) -> bool {
        let above_min = match self.min {
            Some(min) => value >= min,
            None => true,
        };
        let below_max = match self.max {
            Some(max) => value <= max,
            None => true,
        };
        above_min && below_max
    }

    /// Validates `payload` the way the kernel's policy for this field does and decodes it.
    ///
    /// Numbers need at least their width and are read from the first bytes (longer payloads are
    /// accepted, as by the C kernel). A string needs a NUL within its first `max_len + 1`
    /// bytes and may be at most `max_len` long without a trailing NUL; the value ends at the
    /// first NUL. Binary values may be at most `max_len` long.
    pub fn decode<'a>(&self, payload: &'a [u8]) -> Result<FieldValue<'a>, FieldError> {
        let have = payload.len();
        let min = self.ty.min_len();
        if have < min {
            return Err(FieldError::TooShort {
                id: self.id,
                need: min,
                have,
            });
        }
        Ok(match self.ty {
            FieldType::U8 => FieldValue::Unsigned(u64::from(payload[0])),
            FieldType::Flag => FieldValue::Flag(payload[0] != 0),
            FieldType::U16 => FieldValue::Unsigned(u64::from(ne16(payload))),
            FieldType::U32 => FieldValue::Unsigned(u64::from(ne32(payload))),
            FieldType::I32 => FieldValue::Signed(i64::from(ne32(payload) as i32)),
            FieldType::U64 => FieldValue::Unsigned(ne64(payload)),
            FieldType::String { max_len } => {
                let max = usize::from(max_len);
                let window = &payload[..have.min(max.saturating_add(1))];
                let Some(nul) = window.iter().position(|&b| b == 0) else {
                    return Err(FieldError::Unterminated { id: self.id });
                };
                let len = if payload[have - 1] == 0 {
                    have - 1
                } else {
                    have
                };
                if len > max {
                    return Err(FieldError::TooLong {
                        id: self.id,
                        max,
                        have: len,
                    });
                }
                FieldValue::Str(&payload[..nul])
            }
            FieldType::Binary { max_len } => {
                let max = usize::from(max_len);
                if have > max {
                    return Err(FieldError::TooLong {
                        id: self.id,
                        max,
                        have,
                    });
                }
                FieldValue::Bin(payload)
            }
        })
    }

    /// Appends this field to `w`. With `mark_mandatory` (userspace to kernel) the attribute type
    /// is [`FieldDef::nla_type`]; without (kernel to userspace, as the C kernel sends) it is the
    /// plain id. The value must match the field's type and fit it; strings are sent with their
    /// NUL. Nothing is written on error.
    pub fn encode(
        &self,
        w: &mut NlaWriter<'_>,
        value: FieldValue<'_>,
        mark_mandatory: bool,
    ) -> Result<(), FieldError> {
        let ty = if mark_mandatory {
            self.nla_type()
        } else {
            self.id
        };
        let id = self.id;
        let range = FieldError::OutOfRange { id };
        match (self.ty, value) {
            (FieldType::U8, FieldValue::Unsigned(v)) => {
                w.put_u8(ty, u8::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U16, FieldValue::Unsigned(v)) => {
                w.put_u16(ty, u16::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U32, FieldValue::Unsigned(v)) => {
                w.put_u32(ty, u32::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U64, FieldValue::Unsigned(v)) => w.put_u64(ty, v)?,
            (FieldType::I32, FieldValue::Signed(v)) => {
                w.put_i32(ty, i32::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::Flag, FieldValue::Flag(b)) => w.put_u8(ty, u8::from(b))?,
            (FieldType::String { max_len }, FieldValue::Str(s)) => {
                if s.len() > usize::from(max_len) {
                    return Err(FieldError::TooLong {
                        id,
                        max: usize::from(max_len),
                        have: s.len(),
                    });
                }
                w.put_str_bytes(ty, s)?
            }
            (FieldType::Binary { max_len }, FieldValue::Bin(b)) => {
                if b.len() > usize::from(max_len) {
                    return Err(FieldError::TooLong {
                        id,
                        max: usize::from(max_len),
                        have: b.len(),
                    });
                }
                w.put(ty, b)?
            }
            _ => return Err(FieldError::WrongKind { id }),
        }
        Ok(())
    }
}

/// Which `*_from_attrs` variant of the C kernel [`StructDef::parse`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseMode {
    /// Creating the object (`attach`, `connect`, ...): required fields must be present.
    Create,
    /// Changing it (`disk-options`, `net-options`): invariant fields must be absent, and
    /// required fields that are invariant are not required.
    Change,
}

impl StructDef {
    /// The field numbered `id` (flags removed), if this struct has one.
    pub fn field(&self, id: u16) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The field drbdsetup calls `name` (option or positional argument name).
    pub fn field_by_name(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The highest field number: the `maxtype` of the C kernel's parser, beyond which a
    /// mandatory attribute is refused and an optional one ignored.
    pub fn max_id(&self) -> u16 {
        self.fields.iter().map(|f| f.id).max().unwrap_or(0)
    }

    /// Parses the payload of this struct's top-level attribute as the C kernel does, and hands
    /// each field present to `apply`, in field order.
    ///
    /// Order of checks, as in C: any mandatory attribute beyond [`StructDef::max_id`] refuses
    /// the request; then every known field is validated ([`FieldDef::decode`]); then, in field
    /// order, invariant fields in a [`ParseMode::Change`] request and missing required fields
    /// are refused. Unknown attributes without the mandatory bit, numbers in the gaps of the
    /// table, and `NLA_UNSPEC` (0) padding are ignored. Unlike C, which stops reading at a
    /// malformed attribute and uses what came before, a malformed stream is refused. If a field appears more than once the
    /// last one counts. `apply` is only called once everything has been checked, so an error
    /// leaves the caller's struct untouched.
    pub fn parse<'a, 's>(
        &'s self,
        payload: &'a [u8],
        mode: ParseMode,
        mut apply: impl FnMut(&'s FieldDef, FieldValue<'a>),
    ) -> Result<(), FieldError> {
        let max = self.max_id();
        for a in NlaIter::new(payload) {
            let a = a?;
            if a.mandatory && a.ty > max {
                return Err(FieldError::UnknownMandatory { id: a.ty });
            }
        }
        for a in NlaIter::new(payload) {
            let a = a?;
            if let Some(f) = self.field(a.ty) {
                f.decode(a.payload)?;
            }
        }
        for f in self.fields {
            let present = find_last(payload, f.id)?.is_some();
            let change_invariant = mode == ParseMode::Change && f.invariant;
            if present && change_invariant {
                return Err(FieldError::InvariantChange { id: f.id });
            }
            if !present && !change_invariant && f.required {
                return Err(FieldError::MissingRequired { id: f.id });
            }
        }
        for f in self.fields {
            if let Some(a) = find_last(payload, f.id)? {
                apply(f, f.decode(a.payload)?);
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// Attribute TLV codec
// ------------------------------------------------------------------------------------------------

/// One attribute, borrowed from the stream it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nla<'a> {
    /// Type with [`NLA_F_NESTED`] and [`DRBD_GENLA_F_MANDATORY`] removed.
    pub ty: u16,
    /// [`NLA_F_NESTED`] was set.
    pub nested: bool,
    /// [`DRBD_GENLA_F_MANDATORY`] (alias `NLA_F_NET_BYTEORDER`) was set.
    pub mandatory: bool,
    /// The payload (`nla_len - 4` bytes, padding excluded).
    pub payload: &'a [u8],
}

impl<'a> Nla<'a> {
    fn get<const N: usize>(&self) -> Result<[u8; N], NlaError> {
        self.payload
            .get(..N)
            .and_then(|b| b.try_into().ok())
            .ok_or(NlaError::Truncated {
                offset: 0,
                need: N,
                have: self.payload.len(),
            })
    }

    /// The payload's first byte.
    pub fn get_u8(&self) -> Result<u8, NlaError> {
        Ok(self.get::<1>()?[0])
    }

    /// The payload's first two bytes, host endian.
    pub fn get_u16(&self) -> Result<u16, NlaError> {
        Ok(u16::from_ne_bytes(self.get()?))
    }

    /// The payload's first four bytes, host endian.
    pub fn get_u32(&self) -> Result<u32, NlaError> {
        Ok(u32::from_ne_bytes(self.get()?))
    }

    /// The payload's first four bytes as a signed number.
    pub fn get_i32(&self) -> Result<i32, NlaError> {
        Ok(i32::from_ne_bytes(self.get()?))
    }

    /// The payload's first eight bytes, host endian.
    pub fn get_u64(&self) -> Result<u64, NlaError> {
        Ok(u64::from_ne_bytes(self.get()?))
    }

    /// The attributes nested in the payload.
    pub fn nested_iter(&self) -> NlaIter<'a> {
        NlaIter::new(self.payload)
    }
}

/// Iterates over a stream of attributes with the kernel's bounds rules (`nla_ok`): each needs
/// a full header and a length between 4 and the bytes left; the next one starts at the next
/// 4-byte boundary, and a last attribute may omit its padding. Yields `Err` once for a bad
/// attribute or 1-3 leftover bytes, then ends. Never reads outside the input.
#[derive(Clone, Debug)]
pub struct NlaIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> NlaIter<'a> {
    /// An iterator over the attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        NlaIter {
            buf,
            pos: 0,
            done: false,
        }
    }

    /// Byte offset of the next attribute.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<'a>, NlaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.pos;
        if rest.len() < NLA_HDRLEN {
            self.done = true;
            return Some(Err(NlaError::Trailing {
                offset,
                len: rest.len(),
            }));
        }
        let len = ne16(rest);
        let raw = ne16(&rest[2..]);
        let ulen = usize::from(len);
        if ulen < NLA_HDRLEN || ulen > rest.len() {
            self.done = true;
            return Some(Err(NlaError::BadLength {
                offset,
                len,
                have: rest.len(),
            }));
        }
        self.pos += nla_align(ulen).min(rest.len());
        Some(Ok(Nla {
            ty: raw & NLA_TYPE_MASK,
            nested: raw & NLA_F_NESTED != 0,
            mandatory: raw & DRBD_GENLA_F_MANDATORY != 0,
            payload: &rest[NLA_HDRLEN..ulen],
        }))
    }
}

/// The last attribute of type `ty` (flags ignored) in `buf`: the one the C parser's table ends
/// up holding. Fails if the stream is malformed before the end.
pub fn find_last(buf: &[u8], ty: u16) -> Result<Option<Nla<'_>>, NlaError> {
    let mut found = None;
    for a in NlaIter::new(buf) {
        let a = a?;
        if a.ty == ty {
            found = Some(a);
        }
    }
    Ok(found)
}

/// An open nest returned by [`NlaWriter::nest_start`]; close it with [`NlaWriter::nest_end`].
#[must_use = "a nest must be closed with nest_end or nest_cancel"]
#[derive(Debug, PartialEq, Eq)]
pub struct Nest {
    start: usize,
}

/// Appends attributes to a caller-provided buffer, padding each to 4 bytes with zeros. A write
/// that does not fit leaves the buffer as it was and returns [`NlaError::NoSpace`].
#[derive(Debug)]
pub struct NlaWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> NlaWriter<'b> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        NlaWriter { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn reserve(&mut self, n: usize) -> Result<&mut [u8], NlaError> {
        let have = self.remaining();
        if n > have {
            return Err(NlaError::NoSpace { need: n, have });
        }
        let start = self.len;
        self.len += n;
        Ok(&mut self.buf[start..start + n])
    }

    fn put_parts(&mut self, ty: u16, a: &[u8], b: &[u8]) -> Result<(), NlaError> {
        let len = NLA_HDRLEN + a.len() + b.len();
        let nla_len = u16::try_from(len).map_err(|_| NlaError::TooLarge { len })?;
        let out = self.reserve(nla_align(len))?;
        out[0..2].copy_from_slice(&nla_len.to_ne_bytes());
        out[2..4].copy_from_slice(&ty.to_ne_bytes());
        out[NLA_HDRLEN..NLA_HDRLEN + a.len()].copy_from_slice(a);
        out[NLA_HDRLEN + a.len()..len].copy_from_slice(b);
        out[len..].fill(0);
        Ok(())
    }

    /// Appends an attribute of raw type `ty` (flags included as given) with `payload`.
    pub fn put(&mut self, ty: u16, payload: &[u8]) -> Result<(), NlaError> {
        self.put_parts(ty, payload, &[])
    }

    /// Appends a one-byte number (also DRBD's booleans: 0 or 1).
    pub fn put_u8(&mut self, ty: u16, v: u8) -> Result<(), NlaError> {
        self.put(ty, &[v])
    }

    /// Appends a two-byte number.
    pub fn put_u16(&mut self, ty: u16, v: u16) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a four-byte number.
    pub fn put_u32(&mut self, ty: u16, v: u32) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a four-byte signed number.
    pub fn put_i32(&mut self, ty: u16, v: i32) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends an eight-byte number. (Unlike `nla_put_u64_64bit`, never inserts an alignment
    /// pad attribute; receivers read it unaligned.)
    pub fn put_u64(&mut self, ty: u16, v: u64) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends `s` followed by a NUL (`nla_put_string`). Refuses strings containing NUL.
    pub fn put_string(&mut self, ty: u16, s: &str) -> Result<(), NlaError> {
        self.put_str_bytes(ty, s.as_bytes())
    }

    /// Like [`NlaWriter::put_string`] for bytes that need not be UTF-8.
    pub fn put_str_bytes(&mut self, ty: u16, s: &[u8]) -> Result<(), NlaError> {
        if s.contains(&0) {
            return Err(NlaError::InteriorNul);
        }
        self.put_parts(ty, s, &[0])
    }

    /// Appends a zero-length netlink flag (`NLA_FLAG`). DRBD's own boolean fields are *not*
    /// flags but one-byte numbers; use [`NlaWriter::put_u8`] or [`FieldDef::encode`] for them.
    pub fn put_flag(&mut self, ty: u16) -> Result<(), NlaError> {
        self.put(ty, &[])
    }

    /// Opens a nest of raw type `ty`. OR in [`NLA_F_NESTED`] for requests to the drbd family:
    /// drbdsetup-84 does, and the strict policies of the C module and drbd_rs require it.
    pub fn nest_start(&mut self, ty: u16) -> Result<Nest, NlaError> {
        let start = self.len;
        self.put(ty, &[])?;
        Ok(Nest { start })
    }

    /// Closes `nest`, setting its length to cover everything written since it was opened. If
    /// that is too long for 16 bits, or `nest` does not fit this writer's contents, the nest and
    /// its contents are removed and an error returned.
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), NlaError> {
        if nest.start + NLA_HDRLEN > self.len {
            return Err(NlaError::BadNest);
        }
        let len = self.len - nest.start;
        match u16::try_from(len) {
            Ok(l) => {
                self.buf[nest.start..nest.start + 2].copy_from_slice(&l.to_ne_bytes());
                Ok(())
            }
            Err(_) => {
                self.len = nest.start;
                Err(NlaError::TooLarge { len })
            }
        }
    }

    /// Removes `nest` and everything written since it was opened.
    pub fn nest_cancel(&mut self, nest: Nest) {
        if nest.start <= self.len {
            self.len = nest.start;
        }
    }
}
