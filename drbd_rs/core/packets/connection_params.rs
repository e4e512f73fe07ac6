// SPDX-License-Identifier: GPL-2.0

//! Connection parameters: the replication settings of `p_protocol` ([`Protocol`]) and the resync
//! settings of `p_rs_param_*` ([`SyncParam`]).

use super::super::genl::{AfterSb, WireProtocol};
use super::super::wire::Command;
use super::alg_name::AlgName;
use super::command_table::sync_param_max_size;
use super::constants::{
    ALG_NAME_MAX, PROTO_CSUMS_ALG, PROTO_INTEGRITY_ALG, PROTO_RS_CONTROLLER, PROTO_VERIFY_ALG,
    SHARED_SECRET_MAX,
};
use super::cursor::{Reader, Writer};
use super::error::PacketError;

/// `p_protocol` (`P_PROTOCOL`, `P_PROTOCOL_UPDATE`): the connection's replication settings, which
/// must match the receiver's, plus (protocol 87 and later) the data-integrity algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protocol {
    /// Replication protocol, `DRBD_PROT_A/B/C` (1..=3).
    pub wire_protocol: u32,
    /// After-split-brain policy with no primary (`enum drbd_after_sb_p`).
    pub after_sb_0p: u32,
    /// ... with one primary.
    pub after_sb_1p: u32,
    /// ... with two primaries.
    pub after_sb_2p: u32,
    /// `CF_DISCARD_MY_DATA`, `CF_DRY_RUN`.
    pub conn_flags: u32,
    /// allow-two-primaries (0 or 1; compared as a number).
    pub two_primaries: u32,
    /// data-integrity-alg; empty if none, always empty below protocol 87.
    pub integrity_alg: AlgName,
}

impl Protocol {
    /// Size of the fixed part.
    pub const SIZE: usize = 24;

    /// Largest payload for the agreed protocol: the fixed part, plus up to 64 bytes of
    /// algorithm name from protocol 87 on.
    pub const fn max_size(agreed_protocol: u32) -> usize {
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            Self::SIZE + SHARED_SECRET_MAX
        } else {
            Self::SIZE
        }
    }

    /// Encoded size for the agreed protocol (the name is sent with its NUL, as C's
    /// `strlen + 1`).
    pub fn encoded_len(&self, agreed_protocol: u32) -> usize {
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            Self::SIZE + self.integrity_alg.len() + 1
        } else {
            Self::SIZE
        }
    }

    /// Encodes the payload for the agreed protocol; returns its size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len(agreed_protocol))?;
        w.u32(self.wire_protocol);
        w.u32(self.after_sb_0p);
        w.u32(self.after_sb_1p);
        w.u32(self.after_sb_2p);
        w.u32(self.conn_flags);
        w.u32(self.two_primaries);
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            self.integrity_alg.put_string(&mut w);
        }
        Ok(w.done())
    }

    /// Decodes a whole payload (`receive_protocol`): 24 bytes, then from protocol 87 on at most
    /// 64 bytes of integrity algorithm name (cut at the first NUL or after 63 bytes, as C does);
    /// below 87 nothing may follow. The wire protocol must be A, B or C and the after-sb values
    /// must name policies.
    pub fn decode(payload: &[u8], agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = Reader::new(payload);
        let mut p = Protocol {
            wire_protocol: r.u32()?,
            after_sb_0p: r.u32()?,
            after_sb_1p: r.u32()?,
            after_sb_2p: r.u32()?,
            conn_flags: r.u32()?,
            two_primaries: r.u32()?,
            integrity_alg: AlgName::EMPTY,
        };
        let rest = r.rest();
        let max = Self::max_size(agreed_protocol);
        if payload.len() > max {
            return Err(PacketError::TooLong {
                max,
                got: payload.len(),
            });
        }
        if agreed_protocol >= PROTO_INTEGRITY_ALG {
            p.integrity_alg = AlgName::parse(rest, ALG_NAME_MAX);
        }
        if WireProtocol::from_raw(p.wire_protocol).is_none() {
            return Err(PacketError::BadWireProtocol(p.wire_protocol));
        }
        for v in [p.after_sb_0p, p.after_sb_1p, p.after_sb_2p] {
            if AfterSb::from_raw(v).is_none() {
                return Err(PacketError::BadAfterSb(v));
            }
        }
        Ok(p)
    }
}

/// `p_rs_param` / `p_rs_param_89` / `p_rs_param_95` (`P_SYNC_PARAM`, `P_SYNC_PARAM89`): resync
/// settings. Which fields travel depends on the agreed protocol: the rate always; verify-alg
/// from 88 (variable length in 88, a 64-byte field from 89); csums-alg from 89; the resync
/// controller settings from 95. Fields a version does not carry decode as zero / empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncParam {
    /// resync-rate, KiB/s.
    pub resync_rate: u32,
    /// verify-alg (online verify digest).
    pub verify_alg: AlgName,
    /// csums-alg (checksum-based resync digest).
    pub csums_alg: AlgName,
    /// c-plan-ahead, 0.1 s.
    pub c_plan_ahead: u32,
    /// c-delay-target, 0.1 s.
    pub c_delay_target: u32,
    /// c-fill-target, sectors.
    pub c_fill_target: u32,
    /// c-max-rate, KiB/s.
    pub c_max_rate: u32,
}

impl SyncParam {
    /// `p_rs_param`: the rate alone.
    pub const SIZE_BASE: usize = 4;
    /// `p_rs_param_89`: rate and two 64-byte name fields.
    pub const SIZE_89: usize = 4 + 2 * SHARED_SECRET_MAX;
    /// `p_rs_param_95`: plus four controller settings.
    pub const SIZE_95: usize = Self::SIZE_89 + 16;

    /// The command the sender uses for the agreed protocol (`P_SYNC_PARAM89` from 89 on).
    pub fn command(agreed_protocol: u32) -> Command {
        if agreed_protocol >= PROTO_CSUMS_ALG {
            Command::SyncParam89
        } else {
            Command::SyncParam
        }
    }

    /// Encoded size for the agreed protocol (`send_sync_param`).
    pub fn encoded_len(&self, agreed_protocol: u32) -> usize {
        if agreed_protocol < PROTO_VERIFY_ALG {
            Self::SIZE_BASE
        } else if agreed_protocol == PROTO_VERIFY_ALG {
            Self::SIZE_BASE + self.verify_alg.len() + 1
        } else if agreed_protocol < PROTO_RS_CONTROLLER {
            Self::SIZE_89
        } else {
            Self::SIZE_95
        }
    }

    /// Encodes the payload for the agreed protocol; returns its size.
    pub fn encode(&self, out: &mut [u8], agreed_protocol: u32) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len(agreed_protocol))?;
        w.u32(self.resync_rate);
        if agreed_protocol == PROTO_VERIFY_ALG {
            self.verify_alg.put_string(&mut w);
        } else if agreed_protocol >= PROTO_CSUMS_ALG {
            self.verify_alg.put_field(&mut w);
            self.csums_alg.put_field(&mut w);
            if agreed_protocol >= PROTO_RS_CONTROLLER {
                w.u32(self.c_plan_ahead);
                w.u32(self.c_delay_target);
                w.u32(self.c_fill_target);
                w.u32(self.c_max_rate);
            }
        }
        Ok(w.done())
    }

    /// Decodes a whole payload (`receive_SyncParam`). Sizes: exactly 4 bytes below protocol 88;
    /// 4 plus 1..=64 bytes of verify-alg in 88 (its last byte is forced to NUL); exactly 132
    /// bytes in 89..=94; exactly 148 from 95 on. Names are cut at the first NUL or after 63
    /// bytes, as the C receiver does.
    pub fn decode(payload: &[u8], agreed_protocol: u32) -> Result<Self, PacketError> {
        let max = sync_param_max_size(agreed_protocol);
        if payload.len() > max {
            return Err(PacketError::TooLong {
                max,
                got: payload.len(),
            });
        }
        let mut r = Reader::new(payload);
        let mut p = SyncParam {
            resync_rate: r.u32()?,
            ..SyncParam::default()
        };
        if agreed_protocol < PROTO_VERIFY_ALG {
            // Exactly the rate: the length checks above leave nothing else.
        } else if agreed_protocol == PROTO_VERIFY_ALG {
            let name = r.rest();
            if name.is_empty() || name.len() > SHARED_SECRET_MAX {
                return Err(PacketError::BadAlgLength(name.len()));
            }
            p.verify_alg = AlgName::parse(name, name.len() - 1);
        } else {
            if payload.len() != max {
                return Err(PacketError::WrongSize {
                    expected: max,
                    got: payload.len(),
                });
            }
            p.verify_alg = AlgName::parse(r.bytes(SHARED_SECRET_MAX)?, ALG_NAME_MAX);
            p.csums_alg = AlgName::parse(r.bytes(SHARED_SECRET_MAX)?, ALG_NAME_MAX);
            if agreed_protocol >= PROTO_RS_CONTROLLER {
                p.c_plan_ahead = r.u32()?;
                p.c_delay_target = r.u32()?;
                p.c_fill_target = r.u32()?;
                p.c_max_rate = r.u32()?;
            }
        }
        Ok(p)
    }

    /// This value as a receiver of the agreed protocol would see it: fields the version does
    /// not carry cleared.
    pub fn as_sent(&self, agreed_protocol: u32) -> Self {
        let mut p = *self;
        if agreed_protocol < PROTO_VERIFY_ALG {
            p.verify_alg = AlgName::EMPTY;
        }
        if agreed_protocol < PROTO_CSUMS_ALG {
            p.csums_alg = AlgName::EMPTY;
        }
        if agreed_protocol < PROTO_RS_CONTROLLER {
            p.c_plan_ahead = 0;
            p.c_delay_target = 0;
            p.c_fill_target = 0;
            p.c_max_rate = 0;
        }
        p
    }
}
