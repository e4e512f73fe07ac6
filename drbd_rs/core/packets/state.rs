// SPDX-License-Identifier: GPL-2.0

//! State packets: the sender's state (`p_state`, [`State`]) and a state change request and its
//! reply (`p_req_state`, [`ReqState`]; `p_req_state_reply`, [`ReqStateReply`]).

use super::super::genl::DrbdState;
use super::super::wire::Command;
use super::cursor::{exact, Writer};
use super::error::PacketError;

/// `p_state` (`P_STATE`): the sender's `union drbd_state`. 4 bytes. The fields are kept raw (a
/// peer may send numbers our enums lack); bits 23..=31 are unused and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// The state word, unpacked.
    pub state: DrbdState,
}

impl State {
    /// Payload size.
    pub const SIZE: usize = 4;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.state.to_u32());
        Ok(w.done())
    }

    /// Decodes an exactly 4-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(State {
            state: DrbdState::from_u32(r.u32()?),
        })
    }
}

/// `p_req_state` (`P_STATE_CHG_REQ`, and `P_CONN_ST_CHG_REQ` from protocol 100 on): a state
/// change the peer asks us to make, as mask and value in the sender's point of view. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReqState {
    /// Which fields change (all bits of a field set).
    pub mask: DrbdState,
    /// Their new values.
    pub val: DrbdState,
}

impl ReqState {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// The command for a connection-wide request (`conn_send_state_req`).
    pub fn conn_command(agreed_protocol: u32) -> Command {
        if agreed_protocol < 100 {
            Command::StateChgReq
        } else {
            Command::ConnStChgReq
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.mask.to_u32());
        w.u32(self.val.to_u32());
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(ReqState {
            mask: DrbdState::from_u32(r.u32()?),
            val: DrbdState::from_u32(r.u32()?),
        })
    }
}

/// `p_req_state_reply` (`P_STATE_CHG_REPLY`, `P_CONN_ST_CHG_REPLY`): the peer's
/// `enum drbd_state_rv` for our request. 4 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReqStateReply {
    /// `SS_*`; positive is success.
    pub retcode: i32,
}

impl ReqStateReply {
    /// Payload size.
    pub const SIZE: usize = 4;

    /// The command for a connection-wide reply (`conn_send_sr_reply`).
    pub fn conn_command(agreed_protocol: u32) -> Command {
        if agreed_protocol < 100 {
            Command::StateChgReply
        } else {
            Command::ConnStChgReply
        }
    }

    /// Whether the peer made the change (`retcode >= SS_SUCCESS`).
    pub fn succeeded(&self) -> bool {
        self.retcode >= 1
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.i32(self.retcode);
        Ok(w.done())
    }

    /// Decodes an exactly 4-byte payload. Any code is accepted (unknown ones are failures).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(ReqStateReply { retcode: r.i32()? })
    }
}
