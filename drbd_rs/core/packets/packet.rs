// SPDX-License-Identifier: GPL-2.0

//! Whole packets: a decoded payload of any command ([`Packet`]), decoded from a header and payload
//! in memory ([`decode_packet`]) and encoded into a buffer ([`encode_packet`]).

use super::super::wire::{self, Command};
use super::auth::{AuthChallenge, AuthResponse};
use super::bitmap::{plain_bitmap_words, CompressedBitmapHeader};
use super::command_table::{expected_payload, split_body};
use super::connection_params::{Protocol, SyncParam};
use super::cursor::{len_u32, len_usize, Writer};
use super::device_params::{Sizes, Uuids};
use super::error::PacketError;
use super::features::ConnectionFeatures;
use super::io::{
    Barrier, BarrierAck, BlockAck, BlockDesc, BlockRequest, DataHeader, DelayProbe, Empty, RsUuid,
    Trim,
};
use super::state::{ReqState, ReqStateReply, State};

/// A decoded payload of any command; borrowed parts point into the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `P_CONNECTION_FEATURES`.
    Features(ConnectionFeatures),
    /// `P_AUTH_CHALLENGE`.
    AuthChallenge(AuthChallenge),
    /// `P_AUTH_RESPONSE`.
    AuthResponse(AuthResponse),
    /// `P_PING`, `P_PING_ACK`, `P_UNPLUG_REMOTE`, `P_INITIAL_DATA`, `P_INITIAL_META`.
    Empty(Command),
    /// `P_PROTOCOL`, `P_PROTOCOL_UPDATE`.
    Protocol(Command, Protocol),
    /// `P_SYNC_PARAM`, `P_SYNC_PARAM89`.
    SyncParam(Command, SyncParam),
    /// `P_UUIDS`.
    Uuids(Uuids),
    /// `P_SIZES`.
    Sizes(Sizes),
    /// `P_STATE`.
    State(State),
    /// `P_STATE_CHG_REQ`, `P_CONN_ST_CHG_REQ`.
    ReqState(Command, ReqState),
    /// `P_STATE_CHG_REPLY`, `P_CONN_ST_CHG_REPLY`.
    ReqStateReply(Command, ReqStateReply),
    /// `P_SYNC_UUID`.
    RsUuid(RsUuid),
    /// `P_DATA`, `P_DATA_REPLY`, `P_RS_DATA_REPLY`.
    Data {
        command: Command,
        header: DataHeader,
        digest: &'a [u8],
        data: &'a [u8],
    },
    /// `P_TRIM`, `P_ZEROES`.
    Trim(Command, Trim),
    /// `P_DATA_REQUEST`, `P_RS_DATA_REQUEST`, `P_OV_REQUEST`, `P_RS_THIN_REQ` (no digest),
    /// `P_OV_REPLY`, `P_CSUM_RS_REQUEST` (with digest).
    BlockRequest {
        command: Command,
        request: BlockRequest,
        digest: &'a [u8],
    },
    /// The acks of the meta socket.
    BlockAck(Command, BlockAck),
    /// `P_OUT_OF_SYNC`, `P_RS_DEALLOCATED`.
    BlockDesc(Command, BlockDesc),
    /// `P_BARRIER`.
    Barrier(Barrier),
    /// `P_BARRIER_ACK`.
    BarrierAck(BarrierAck),
    /// `P_DELAY_PROBE`.
    DelayProbe(DelayProbe),
    /// `P_BITMAP`: little-endian 64-bit words.
    Bitmap(&'a [u8]),
    /// `P_COMPRESSED_BITMAP`: header and code bytes.
    CompressedBitmap(CompressedBitmapHeader, &'a [u8]),
}

/// Decodes a whole payload of `cmd` held in memory: checks the length against
/// [`expected_payload`], decodes the sub-header with the struct's decoder, and divides any body
/// with [`split_body`] (`digest_size`: the peer's integrity digest size, 0 if none). Checks
/// needing a device (capacity) are left to the caller.
pub fn decode_packet(
    cmd: Command,
    payload: &[u8],
    agreed_protocol: u32,
    agreed_features: u32,
    digest_size: u32,
) -> Result<Packet<'_>, PacketError> {
    let command = cmd as u16;
    let rule = expected_payload(cmd, agreed_protocol, agreed_features)
        .ok_or(PacketError::UnexpectedCommand { command })?;
    let length = u32::try_from(payload.len()).map_err(|_| PacketError::TooLong {
        max: rule.max,
        got: payload.len(),
    })?;
    rule.check(command, length)?;
    let sub = payload.get(..rule.fixed).unwrap_or(&[]);
    let body = payload.get(rule.fixed..).unwrap_or(&[]);
    let ap = agreed_protocol;
    let p = match cmd {
        Command::ConnectionFeatures => Packet::Features(ConnectionFeatures::decode(payload, ap)?),
        Command::AuthChallenge => Packet::AuthChallenge(AuthChallenge::decode(payload, ap)?),
        Command::AuthResponse => Packet::AuthResponse(AuthResponse::decode(payload, ap)?),
        Command::Ping
        | Command::PingAck
        | Command::UnplugRemote
        | Command::InitialData
        | Command::InitialMeta => {
            Empty::decode(payload, ap)?;
            Packet::Empty(cmd)
        }
        Command::Protocol | Command::ProtocolUpdate => {
            Packet::Protocol(cmd, Protocol::decode(payload, ap)?)
        }
        Command::SyncParam | Command::SyncParam89 => {
            Packet::SyncParam(cmd, SyncParam::decode(payload, ap)?)
        }
        Command::Uuids => Packet::Uuids(Uuids::decode(payload, ap)?),
        Command::Sizes => Packet::Sizes(Sizes::decode_with_features(payload, ap, agreed_features)?),
        Command::State => Packet::State(State::decode(payload, ap)?),
        Command::StateChgReq | Command::ConnStChgReq => {
            Packet::ReqState(cmd, ReqState::decode(payload, ap)?)
        }
        Command::StateChgReply | Command::ConnStChgReply => {
            Packet::ReqStateReply(cmd, ReqStateReply::decode(payload, ap)?)
        }
        Command::SyncUuid => Packet::RsUuid(RsUuid::decode(payload, ap)?),
        Command::Data | Command::DataReply | Command::RsDataReply => {
            let header = DataHeader::decode(sub, ap)?;
            if cmd == Command::Data {
                header.check_data_flags()?;
            }
            let split = split_body(cmd, len_u32(body.len()), digest_size)?;
            let (digest, data) = body.split_at(len_usize(split.digest).min(body.len()));
            Packet::Data {
                command: cmd,
                header,
                digest,
                data,
            }
        }
        Command::Trim | Command::Zeroes => Packet::Trim(cmd, Trim::decode(payload, ap)?),
        Command::DataRequest
        | Command::RsDataRequest
        | Command::OvRequest
        | Command::RsThinReq
        | Command::OvReply
        | Command::CsumRsRequest => {
            let request = BlockRequest::decode(sub, ap)?;
            split_body(cmd, len_u32(body.len()), 0)?;
            Packet::BlockRequest {
                command: cmd,
                request,
                digest: body,
            }
        }
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
        | Command::RetryWrite => Packet::BlockAck(cmd, BlockAck::decode(payload, ap)?),
        Command::OutOfSync | Command::RsDeallocated => {
            Packet::BlockDesc(cmd, BlockDesc::decode(payload, ap)?)
        }
        Command::Barrier => Packet::Barrier(Barrier::decode(payload, ap)?),
        Command::BarrierAck => Packet::BarrierAck(BarrierAck::decode(payload, ap)?),
        Command::DelayProbe => Packet::DelayProbe(DelayProbe::decode(payload, ap)?),
        Command::Bitmap => {
            plain_bitmap_words(payload.len(), ap)?;
            Packet::Bitmap(payload)
        }
        Command::CompressedBitmap => {
            let h = CompressedBitmapHeader::decode(payload, ap)?;
            Packet::CompressedBitmap(h, payload.get(1..).unwrap_or(&[]))
        }
        Command::BecomeSyncTarget | Command::BecomeSyncSource | Command::Wsame => {
            return Err(PacketError::UnexpectedCommand { command })
        }
    };
    Ok(p)
}

/// Appends `parts` after the `n` bytes already written to `out`; returns the total size.
fn with_tail(out: &mut [u8], n: usize, parts: &[&[u8]]) -> Result<usize, PacketError> {
    let total = parts.iter().fold(n, |a, p| a.saturating_add(p.len()));
    let mut w = Writer::new(out, total)?;
    w.pos = n;
    for p in parts {
        w.put(p);
    }
    Ok(w.done())
}

impl Packet<'_> {
    /// The command this packet is sent with.
    pub fn command(&self) -> Command {
        match *self {
            Packet::Features(_) => Command::ConnectionFeatures,
            Packet::AuthChallenge(_) => Command::AuthChallenge,
            Packet::AuthResponse(_) => Command::AuthResponse,
            Packet::Uuids(_) => Command::Uuids,
            Packet::Sizes(_) => Command::Sizes,
            Packet::State(_) => Command::State,
            Packet::RsUuid(_) => Command::SyncUuid,
            Packet::Barrier(_) => Command::Barrier,
            Packet::BarrierAck(_) => Command::BarrierAck,
            Packet::DelayProbe(_) => Command::DelayProbe,
            Packet::Bitmap(_) => Command::Bitmap,
            Packet::CompressedBitmap(..) => Command::CompressedBitmap,
            Packet::Empty(c)
            | Packet::Protocol(c, _)
            | Packet::SyncParam(c, _)
            | Packet::ReqState(c, _)
            | Packet::ReqStateReply(c, _)
            | Packet::Trim(c, _)
            | Packet::BlockAck(c, _)
            | Packet::BlockDesc(c, _) => c,
            Packet::Data { command, .. } | Packet::BlockRequest { command, .. } => command,
        }
    }

    /// Encodes the whole payload (sub-header, digest, data) for the agreed protocol; returns its
    /// size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        match self {
            Packet::Features(p) => p.encode(out),
            Packet::AuthChallenge(p) => p.encode(out),
            Packet::AuthResponse(p) => p.encode(out),
            Packet::Empty(_) => Empty.encode(out),
            Packet::Protocol(_, p) => p.encode(out, agreed_protocol),
            Packet::SyncParam(_, p) => p.encode(out, agreed_protocol),
            Packet::Uuids(p) => p.encode(out),
            Packet::Sizes(p) => p.encode(out),
            Packet::State(p) => p.encode(out),
            Packet::ReqState(_, p) => p.encode(out),
            Packet::ReqStateReply(_, p) => p.encode(out),
            Packet::RsUuid(p) => p.encode(out),
            Packet::Trim(_, p) => p.encode(out),
            Packet::BlockAck(_, p) => p.encode(out),
            Packet::BlockDesc(_, p) => p.encode(out),
            Packet::Barrier(p) => p.encode(out),
            Packet::BarrierAck(p) => p.encode(out),
            Packet::DelayProbe(p) => p.encode(out),
            Packet::Data {
                header,
                digest,
                data,
                ..
            } => {
                let total = DataHeader::SIZE + digest.len() + data.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = header.encode(out)?;
                with_tail(out, n, &[digest, data])
            }
            Packet::BlockRequest {
                request, digest, ..
            } => {
                let total = BlockRequest::SIZE + digest.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = request.encode(out)?;
                with_tail(out, n, &[digest])
            }
            Packet::Bitmap(words) => with_tail(out, 0, &[words]),
            Packet::CompressedBitmap(h, code) => {
                let total = 1 + code.len();
                if out.len() < total {
                    return Err(PacketError::BufferTooSmall {
                        need: total,
                        have: out.len(),
                    });
                }
                let n = h.encode(out)?;
                with_tail(out, n, &[code])
            }
        }
    }
}

/// Encodes a whole packet into `out`: the header in the format the agreed protocol uses (see
/// [`wire::encode_header`]; 0 before the features handshake), for `volume`, then the payload.
/// Returns the total size. A payload that the header format in force cannot describe (above
/// 64 KiB before protocol 95, or a volume other than 0 before protocol 100) is refused.
pub fn encode_packet(
    out: &mut [u8],
    agreed_protocol: u32,
    volume: u16,
    packet: &Packet<'_>,
) -> Result<usize, PacketError> {
    let hs = wire::header_size(agreed_protocol);
    let have = out.len();
    let body = out
        .get_mut(hs..)
        .ok_or(PacketError::BufferTooSmall { need: hs, have })?;
    let n = packet.encode(body, agreed_protocol)?;
    let length = u32::try_from(n).map_err(|_| PacketError::TooLong {
        max: len_usize(u32::MAX),
        got: n,
    })?;
    let command = packet.command() as u16;
    let unencodable = PacketError::NoHeaderFormat {
        agreed_protocol,
        volume,
        length,
    };
    wire::encode_header(out, agreed_protocol, volume, command, length).ok_or(unencodable)?;
    Ok(hs + n)
}
