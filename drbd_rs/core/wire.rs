// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 wire protocol: packet commands and the three packet header formats.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test` and fuzzers exercise it. Every decoder takes bytes from a
//! peer that may be hostile, so it checks lengths and magic values and never panics.
//!
//! All header fields are big-endian on the wire (`drbd_protocol.h`, `p_header80/95/100`).

/// Magic of the 8-byte `p_header80` (payload length is 16 bits).
pub const DRBD_MAGIC: u32 = 0x8374_0267;
/// Magic of the 8-byte `p_header95` (16-bit magic, 32-bit payload length).
pub const DRBD_MAGIC_BIG: u16 = 0x835a;
/// Magic of the 16-byte `p_header100` (with a volume number), used from protocol 100 on.
pub const DRBD_MAGIC_100: u32 = 0x8620_ec20;

/// Lowest protocol version the mainline 8.4.11 module speaks.
pub const PRO_VERSION_MIN: u32 = 86;
/// Highest protocol version the mainline 8.4.11 module speaks; drbd-rs agrees on this one.
pub const PRO_VERSION_MAX: u32 = 101;

/// Largest payload a `p_header80` can describe; bigger packets need `p_header95`.
pub const MAX_SIZE_H80_PACKET: u32 = (1 << 16) - 1;

/// Packet commands (`enum drbd_packet`). Values are fixed by the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Command {
    Data = 0x00,
    DataReply = 0x01,
    RsDataReply = 0x02,
    Barrier = 0x03,
    Bitmap = 0x04,
    BecomeSyncTarget = 0x05,
    BecomeSyncSource = 0x06,
    UnplugRemote = 0x07,
    DataRequest = 0x08,
    RsDataRequest = 0x09,
    SyncParam = 0x0a,
    Protocol = 0x0b,
    Uuids = 0x0c,
    Sizes = 0x0d,
    State = 0x0e,
    SyncUuid = 0x0f,
    AuthChallenge = 0x10,
    AuthResponse = 0x11,
    StateChgReq = 0x12,
    Ping = 0x13,
    PingAck = 0x14,
    RecvAck = 0x15,
    WriteAck = 0x16,
    RsWriteAck = 0x17,
    Superseded = 0x18,
    NegAck = 0x19,
    NegDReply = 0x1a,
    NegRsDReply = 0x1b,
    BarrierAck = 0x1c,
    StateChgReply = 0x1d,
    OvRequest = 0x1e,
    OvReply = 0x1f,
    OvResult = 0x20,
    CsumRsRequest = 0x21,
    RsIsInSync = 0x22,
    SyncParam89 = 0x23,
    CompressedBitmap = 0x24,
    DelayProbe = 0x27,
    OutOfSync = 0x28,
    RsCancel = 0x29,
    ConnStChgReq = 0x2a,
    ConnStChgReply = 0x2b,
    RetryWrite = 0x2c,
    ProtocolUpdate = 0x2d,
    Trim = 0x31,
    RsThinReq = 0x32,
    RsDeallocated = 0x33,
    Wsame = 0x34,
    Zeroes = 0x36,
    InitialMeta = 0xfff1,
    InitialData = 0xfff2,
    ConnectionFeatures = 0xfffe,
}

/// Commands above this value may be ignored by a receiver that does not know them.
pub const P_MAY_IGNORE: u16 = 0x100;

impl Command {
    /// Every command, for table-driven conversions and tests.
    pub const ALL: [Command; 52] = [
        Command::Data,
        Command::DataReply,
        Command::RsDataReply,
        Command::Barrier,
        Command::Bitmap,
        Command::BecomeSyncTarget,
        Command::BecomeSyncSource,
        Command::UnplugRemote,
        Command::DataRequest,
        Command::RsDataRequest,
        Command::SyncParam,
        Command::Protocol,
        Command::Uuids,
        Command::Sizes,
        Command::State,
        Command::SyncUuid,
        Command::AuthChallenge,
        Command::AuthResponse,
        Command::StateChgReq,
        Command::Ping,
        Command::PingAck,
        Command::RecvAck,
        Command::WriteAck,
        Command::RsWriteAck,
        Command::Superseded,
        Command::NegAck,
        Command::NegDReply,
        Command::NegRsDReply,
        Command::BarrierAck,
        Command::StateChgReply,
        Command::OvRequest,
        Command::OvReply,
        Command::OvResult,
        Command::CsumRsRequest,
        Command::RsIsInSync,
        Command::SyncParam89,
        Command::CompressedBitmap,
        Command::DelayProbe,
        Command::OutOfSync,
        Command::RsCancel,
        Command::ConnStChgReq,
        Command::ConnStChgReply,
        Command::RetryWrite,
        Command::ProtocolUpdate,
        Command::Trim,
        Command::RsThinReq,
        Command::RsDeallocated,
        Command::Wsame,
        Command::Zeroes,
        Command::InitialMeta,
        Command::InitialData,
        Command::ConnectionFeatures,
    ];

    /// The command with wire value `value`, or `None` for a value DRBD 8.4 does not define.
    pub fn from_u16(value: u16) -> Option<Command> {
        Self::ALL.iter().copied().find(|c| *c as u16 == value)
    }

    /// DRBD's name for the command, as its log lines print it (`drbd_packet_names`).
    pub fn name(self) -> &'static str {
        match self {
            Command::Data => "Data",
            Command::DataReply => "DataReply",
            Command::RsDataReply => "RSDataReply",
            Command::Barrier => "Barrier",
            Command::Bitmap => "ReportBitMap",
            Command::BecomeSyncTarget => "BecomeSyncTarget",
            Command::BecomeSyncSource => "BecomeSyncSource",
            Command::UnplugRemote => "UnplugRemote",
            Command::DataRequest => "DataRequest",
            Command::RsDataRequest => "RSDataRequest",
            Command::SyncParam => "SyncParam",
            Command::Protocol => "ReportProtocol",
            Command::Uuids => "ReportUUIDs",
            Command::Sizes => "ReportSizes",
            Command::State => "ReportState",
            Command::SyncUuid => "ReportSyncUUID",
            Command::AuthChallenge => "AuthChallenge",
            Command::AuthResponse => "AuthResponse",
            Command::StateChgReq => "StateChgRequest",
            Command::Ping => "Ping",
            Command::PingAck => "PingAck",
            Command::RecvAck => "RecvAck",
            Command::WriteAck => "WriteAck",
            Command::RsWriteAck => "RSWriteAck",
            Command::Superseded => "Superseded",
            Command::NegAck => "NegAck",
            Command::NegDReply => "NegDReply",
            Command::NegRsDReply => "NegRSDReply",
            Command::BarrierAck => "BarrierAck",
            Command::StateChgReply => "StateChgReply",
            Command::OvRequest => "OVRequest",
            Command::OvReply => "OVReply",
            Command::OvResult => "OVResult",
            Command::CsumRsRequest => "CsumRSRequest",
            Command::RsIsInSync => "CsumRSIsInSync",
            Command::SyncParam89 => "SyncParam89",
            Command::CompressedBitmap => "CBitmap",
            Command::DelayProbe => "DelayProbe",
            Command::OutOfSync => "OutOfSync",
            Command::RsCancel => "RSCancel",
            Command::ConnStChgReq => "conn_st_chg_req",
            Command::ConnStChgReply => "conn_st_chg_reply",
            Command::RetryWrite => "retry_write",
            Command::ProtocolUpdate => "protocol_update",
            Command::Trim => "Trim",
            Command::RsThinReq => "rs_thin_req",
            Command::RsDeallocated => "rs_deallocated",
            Command::Wsame => "WriteSame",
            Command::Zeroes => "Zeroes",
            Command::InitialMeta => "InitialMeta",
            Command::InitialData => "InitialData",
            Command::ConnectionFeatures => "ConnectionFeatures",
        }
    }
}

/// The header size in force for a connection: 16 bytes (`p_header100`) once protocol 100 or
/// later is agreed, 8 bytes (`p_header80` or `p_header95`) before that, including during the
/// features handshake.
pub const fn header_size(agreed_protocol: u32) -> usize {
    if agreed_protocol >= 100 {
        16
    } else {
        8
    }
}

/// A decoded packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketHeader {
    /// Volume number (always 0 before protocol 100).
    pub volume: u16,
    /// Raw command value; see [`Command::from_u16`]. Kept raw so that a receiver can report an
    /// unknown command by number, or skip one above [`P_MAY_IGNORE`].
    pub command: u16,
    /// Payload bytes following the header.
    pub length: u32,
}

/// Why a header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes (`have`) than the header size in force (`need`).
    Truncated { have: usize, need: usize },
    /// The magic matches no header format valid for the agreed protocol.
    BadMagic(u32),
    /// A `p_header100` whose padding word is not zero.
    NonZeroPad(u32),
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes the header at the start of `buf` for a connection whose agreed protocol version is
/// `agreed_protocol` (0 before the features handshake). Mirrors which formats the C receiver
/// accepts at each header size: 16 bytes means `p_header100` only, 8 bytes means `p_header95`
/// or `p_header80`.
pub fn decode_header(buf: &[u8], agreed_protocol: u32) -> Result<PacketHeader, HeaderError> {
    let need = header_size(agreed_protocol);
    if buf.len() < need {
        return Err(HeaderError::Truncated { have: buf.len(), need });
    }
    let magic32 = be32(buf, 0);
    if need == 16 {
        if magic32 != DRBD_MAGIC_100 {
            return Err(HeaderError::BadMagic(magic32));
        }
        let pad = be32(buf, 12);
        if pad != 0 {
            return Err(HeaderError::NonZeroPad(pad));
        }
        return Ok(PacketHeader {
            volume: be16(buf, 4),
            command: be16(buf, 6),
            length: be32(buf, 8),
        });
    }
    if be16(buf, 0) == DRBD_MAGIC_BIG {
        Ok(PacketHeader {
            volume: 0,
            command: be16(buf, 2),
            length: be32(buf, 4),
        })
    } else if magic32 == DRBD_MAGIC {
        Ok(PacketHeader {
            volume: 0,
            command: be16(buf, 4),
            length: u32::from(be16(buf, 6)),
        })
    } else {
        Err(HeaderError::BadMagic(magic32))
    }
}

/// Encodes a header into the start of `out` in the format the C sender would pick for the agreed
/// protocol (`prepare_header`): `p_header100` from protocol 100 on, else `p_header95` for payloads
/// too big for `p_header80` (protocol 95 and later), else `p_header80`. Returns the header size,
/// or `None` if `out` is too short or the payload cannot be described in the format in force.
pub fn encode_header(
    out: &mut [u8],
    agreed_protocol: u32,
    volume: u16,
    command: u16,
    length: u32,
) -> Option<usize> {
    let size = header_size(agreed_protocol);
    let out = out.get_mut(..size)?;
    if size == 16 {
        out[0..4].copy_from_slice(&DRBD_MAGIC_100.to_be_bytes());
        out[4..6].copy_from_slice(&volume.to_be_bytes());
        out[6..8].copy_from_slice(&command.to_be_bytes());
        out[8..12].copy_from_slice(&length.to_be_bytes());
        out[12..16].copy_from_slice(&0u32.to_be_bytes());
    } else if length > MAX_SIZE_H80_PACKET {
        if agreed_protocol < 95 || volume != 0 {
            return None;
        }
        out[0..2].copy_from_slice(&DRBD_MAGIC_BIG.to_be_bytes());
        out[2..4].copy_from_slice(&command.to_be_bytes());
        out[4..8].copy_from_slice(&length.to_be_bytes());
    } else {
        if volume != 0 {
            return None;
        }
        out[0..4].copy_from_slice(&DRBD_MAGIC.to_be_bytes());
        out[4..6].copy_from_slice(&command.to_be_bytes());
        out[6..8].copy_from_slice(&(length as u16).to_be_bytes());
    }
    Some(size)
}
