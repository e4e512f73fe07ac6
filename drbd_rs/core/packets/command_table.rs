// SPDX-License-Identifier: GPL-2.0

//! The per-command table: which socket a command belongs on and the payload size the C receiver
//! accepts for it ([`PayloadRule`], [`check_header`]), and how a body splits into sub-header,
//! digest and data ([`split_body`]).

use super::super::wire::{self, Command, PacketHeader};
use super::auth::{AuthChallenge, AuthResponse};
use super::connection_params::{Protocol, SyncParam};
use super::constants::{
    DRBD_MAX_BIO_SIZE, DRBD_SOCKET_BUFFER_SIZE, FF_WSAME, MAX_DIGEST_SIZE, PROTO_RS_CONTROLLER,
    PROTO_VERIFY_ALG, SECTOR_SIZE, SHARED_SECRET_MAX,
};
use super::cursor::len_usize;
use super::device_params::{Sizes, Uuids};
use super::error::PacketError;
use super::features::ConnectionFeatures;
use super::io::{
    Barrier, BarrierAck, BlockAck, BlockDesc, BlockRequest, DataHeader, DelayProbe, RsUuid, Trim,
};
use super::state::{ReqState, ReqStateReply, State};

/// Which socket, or handshake step, a command arrives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The data socket's receiver (`drbd_cmd_handler`).
    Data,
    /// The meta socket's ack receiver (`ack_receiver_tbl`); its packets have exact sizes.
    Meta,
    /// Both tables list it (`P_DELAY_PROBE`).
    Both,
    /// Read by the connection handshake, outside both tables: the first packet of each socket,
    /// the features exchange and the cram-hmac challenge/response.
    Handshake,
}

impl Channel {
    /// Whether a packet of a command whose rule says `self` may arrive where `on` listens.
    pub fn accepts_on(self, on: Channel) -> bool {
        match (self, on) {
            (Channel::Both, Channel::Data | Channel::Meta | Channel::Both) => true,
            (Channel::Data | Channel::Meta, Channel::Both) => true,
            (a, b) => a == b,
        }
    }
}

/// How long a command's payload may be, known from the header alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadRule {
    /// The sub-header the receiver reads before anything else (`pkt_size`, plus `o_qlim` for
    /// `P_SIZES` when [`FF_WSAME`] is agreed). A shorter payload is refused.
    pub fixed: usize,
    /// Whether bytes may follow the sub-header (`expect_payload`). If not, the size is exact.
    pub may_have_data: bool,
    /// The longest payload any valid packet of this command has for the agreed protocol: the
    /// C tables do not bound it, but each receive function does (or should).
    pub max: usize,
    /// Where the command is received.
    pub channel: Channel,
}

impl PayloadRule {
    const fn exact(size: usize, channel: Channel) -> Self {
        PayloadRule {
            fixed: size,
            may_have_data: false,
            max: size,
            channel,
        }
    }

    const fn var(fixed: usize, max: usize, channel: Channel) -> Self {
        PayloadRule {
            fixed,
            may_have_data: true,
            max,
            channel,
        }
    }

    /// Checks a payload length from a header of `command`, as `drbdd` and the ack receiver do
    /// before reading the body, plus the upper bound of [`PayloadRule::max`].
    pub fn check(&self, command: u16, length: u32) -> Result<(), PacketError> {
        let len = len_usize(length);
        if len > self.fixed && !self.may_have_data {
            return Err(PacketError::NoPayloadExpected { command, length });
        }
        if len < self.fixed {
            return Err(PacketError::PayloadTooShort {
                command,
                expected: self.fixed,
                received: length,
            });
        }
        if len > self.max {
            return Err(PacketError::PayloadTooLong {
                command,
                max: self.max,
                received: length,
            });
        }
        Ok(())
    }
}

/// Largest payload of a `P_SYNC_PARAM`/`P_SYNC_PARAM89` for the agreed protocol (`exp_max_sz`).
pub const fn sync_param_max_size(agreed_protocol: u32) -> usize {
    if agreed_protocol < PROTO_VERIFY_ALG {
        SyncParam::SIZE_BASE
    } else if agreed_protocol == PROTO_VERIFY_ALG {
        SyncParam::SIZE_BASE + SHARED_SECRET_MAX
    } else if agreed_protocol < PROTO_RS_CONTROLLER {
        SyncParam::SIZE_89
    } else {
        SyncParam::SIZE_95
    }
}

/// Largest bitmap packet payload: one 4 KiB buffer less the header in force.
pub const fn bitmap_max_size(agreed_protocol: u32) -> usize {
    DRBD_SOCKET_BUFFER_SIZE - wire::header_size(agreed_protocol)
}

/// The payload rule of `cmd` on a connection with the agreed protocol version and feature flags
/// (the features matter for `P_SIZES`), or `None` for a command the 8.4 receiver has no handler
/// for (`P_BECOME_SYNC_*`, `P_WSAME`).
///
/// Mirrors the C tables `drbd_cmd_handler[]` (data socket: `fixed` = `pkt_size`,
/// `may_have_data` = `expect_payload`) and `ack_receiver_tbl[]` (meta socket: exact sizes), and
/// the handshake's own checks (features: exactly 72 bytes; challenge: 64..=128 bytes).
pub fn expected_payload(
    cmd: Command,
    agreed_protocol: u32,
    agreed_features: u32,
) -> Option<PayloadRule> {
    use Channel::{Both, Data, Handshake, Meta};
    let data_max = DataHeader::SIZE + MAX_DIGEST_SIZE + len_usize(DRBD_MAX_BIO_SIZE);
    let rule = match cmd {
        Command::Data | Command::DataReply | Command::RsDataReply => {
            PayloadRule::var(DataHeader::SIZE, data_max, Data)
        }
        Command::Barrier => PayloadRule::exact(Barrier::SIZE, Data),
        Command::Bitmap | Command::CompressedBitmap => {
            PayloadRule::var(0, bitmap_max_size(agreed_protocol), Data)
        }
        Command::UnplugRemote => PayloadRule::exact(0, Data),
        Command::DataRequest | Command::RsDataRequest | Command::OvRequest | Command::RsThinReq => {
            PayloadRule::exact(BlockRequest::SIZE, Data)
        }
        Command::OvReply | Command::CsumRsRequest => PayloadRule::var(
            BlockRequest::SIZE,
            BlockRequest::SIZE + MAX_DIGEST_SIZE,
            Data,
        ),
        Command::SyncParam | Command::SyncParam89 => {
            PayloadRule::var(0, sync_param_max_size(agreed_protocol), Data)
        }
        Command::Protocol | Command::ProtocolUpdate => {
            PayloadRule::var(Protocol::SIZE, Protocol::max_size(agreed_protocol), Data)
        }
        Command::Uuids => PayloadRule::exact(Uuids::SIZE, Data),
        Command::Sizes => {
            let size = if agreed_features & FF_WSAME != 0 {
                Sizes::SIZE_WITH_QLIM
            } else {
                Sizes::SIZE
            };
            PayloadRule::exact(size, Data)
        }
        Command::State => PayloadRule::exact(State::SIZE, Data),
        Command::StateChgReq | Command::ConnStChgReq => PayloadRule::exact(ReqState::SIZE, Data),
        Command::SyncUuid => PayloadRule::exact(RsUuid::SIZE, Data),
        Command::DelayProbe => PayloadRule::exact(DelayProbe::SIZE, Both),
        Command::OutOfSync | Command::RsDeallocated => PayloadRule::exact(BlockDesc::SIZE, Data),
        Command::Trim | Command::Zeroes => PayloadRule::exact(Trim::SIZE, Data),

        Command::Ping | Command::PingAck => PayloadRule::exact(0, Meta),
        Command::RecvAck
        | Command::WriteAck
        | Command::RsWriteAck
        | Command::Superseded
        | Command::NegAck
        | Command::NegDReply
        | Command::NegRsDReply
        | Command::OvResult
        | Command::RsIsInSync
        | Command::RsCancel
        | Command::RetryWrite => PayloadRule::exact(BlockAck::SIZE, Meta),
        Command::BarrierAck => PayloadRule::exact(BarrierAck::SIZE, Meta),
        Command::StateChgReply | Command::ConnStChgReply => {
            PayloadRule::exact(ReqStateReply::SIZE, Meta)
        }

        Command::ConnectionFeatures => PayloadRule::exact(ConnectionFeatures::SIZE, Handshake),
        Command::AuthChallenge => {
            PayloadRule::var(AuthChallenge::MIN, AuthChallenge::MAX, Handshake)
        }
        Command::AuthResponse => PayloadRule::var(0, AuthResponse::MAX, Handshake),
        Command::InitialData | Command::InitialMeta => PayloadRule::exact(0, Handshake),

        Command::BecomeSyncTarget | Command::BecomeSyncSource | Command::Wsame => return None,
    };
    Some(rule)
}

/// Checks a decoded header for a receiver listening `on` a channel: the command must be known
/// and handled there, and its length must satisfy [`expected_payload`]. Returns the command and
/// its rule, so the caller knows how many sub-header bytes to read next.
pub fn check_header(
    on: Channel,
    header: &PacketHeader,
    agreed_protocol: u32,
    agreed_features: u32,
) -> Result<(Command, PayloadRule), PacketError> {
    let unexpected = PacketError::UnexpectedCommand {
        command: header.command,
    };
    let cmd = Command::from_u16(header.command).ok_or(unexpected)?;
    let rule = expected_payload(cmd, agreed_protocol, agreed_features).ok_or(unexpected)?;
    if !rule.channel.accepts_on(on) {
        return Err(unexpected);
    }
    rule.check(header.command, header.length)?;
    Ok((cmd, rule))
}

/// How the bytes after a sub-header divide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodySplit {
    /// Digest bytes first: the integrity digest of `P_DATA`-like packets, or the whole body of
    /// `P_OV_REPLY` / `P_CSUM_RS_REQUEST`.
    pub digest: u32,
    /// Data bytes after the digest.
    pub data: u32,
}

/// Divides the `body` bytes that follow `cmd`'s sub-header into digest and data, applying the
/// receiver's checks (`read_in_block`, `recv_dless_read`, `receive_DataRequest`).
///
/// `digest_size` is the size of the peer's data-integrity digest (0 without `data-integrity-alg`);
/// it precedes the data of `P_DATA`, `P_DATA_REPLY` and `P_RS_DATA_REPLY`. The data must be a
/// multiple of 512 bytes and at most [`DRBD_MAX_BIO_SIZE`]; zero bytes is valid (an empty flush).
/// `P_OV_REPLY` and `P_CSUM_RS_REQUEST` carry a digest of 1..=[`MAX_DIGEST_SIZE`] bytes. Every
/// other command has no body (trims and zero-outs carry their size in `p_trim`, no digest).
pub fn split_body(cmd: Command, body: u32, digest_size: u32) -> Result<BodySplit, PacketError> {
    match cmd {
        Command::Data | Command::DataReply | Command::RsDataReply => {
            if len_usize(digest_size) > MAX_DIGEST_SIZE {
                return Err(PacketError::BadDigestLength(digest_size));
            }
            let data = body
                .checked_sub(digest_size)
                .ok_or(PacketError::ShorterThanDigest {
                    body,
                    digest: digest_size,
                })?;
            if !data.is_multiple_of(SECTOR_SIZE) || data > DRBD_MAX_BIO_SIZE {
                return Err(PacketError::BadBlockSize {
                    size: data,
                    max: DRBD_MAX_BIO_SIZE,
                });
            }
            Ok(BodySplit {
                digest: digest_size,
                data,
            })
        }
        Command::OvReply | Command::CsumRsRequest => {
            if body == 0 || len_usize(body) > MAX_DIGEST_SIZE {
                return Err(PacketError::BadDigestLength(body));
            }
            Ok(BodySplit {
                digest: body,
                data: 0,
            })
        }
        _ if body == 0 => Ok(BodySplit { digest: 0, data: 0 }),
        _ => Err(PacketError::NoPayloadExpected {
            command: cmd as u16,
            length: body,
        }),
    }
}
