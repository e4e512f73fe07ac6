// SPDX-License-Identifier: GPL-2.0

//! Authentication: the challenge and the response of the `cram-hmac` handshake
//! ([`AuthChallenge`], [`AuthResponse`]).

use super::constants::{CHALLENGE_LEN, MAX_DIGEST_SIZE};
use super::cursor::{len_u32, Writer};
use super::error::PacketError;
use core::fmt;

/// `P_AUTH_CHALLENGE` payload: raw random bytes. We send [`CHALLENGE_LEN`] bytes; the C receiver
/// accepts 64..=128 ("AuthChallenge payload too small" / "too big").
#[derive(Clone, Copy)]
pub struct AuthChallenge {
    buf: [u8; AuthChallenge::MAX],
    len: u8,
}

impl AuthChallenge {
    /// Smallest accepted challenge.
    pub const MIN: usize = CHALLENGE_LEN;
    /// Largest accepted challenge.
    pub const MAX: usize = 2 * CHALLENGE_LEN;

    /// A challenge of 64..=128 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() < Self::MIN {
            return Err(PacketError::TooShort {
                min: Self::MIN,
                got: bytes.len(),
            });
        }
        if bytes.len() > Self::MAX {
            return Err(PacketError::TooLong {
                max: Self::MAX,
                got: bytes.len(),
            });
        }
        let mut c = AuthChallenge {
            buf: [0; Self::MAX],
            len: 0,
        };
        if let Some(d) = c.buf.get_mut(..bytes.len()) {
            d.copy_from_slice(bytes);
            c.len = u8::try_from(bytes.len()).unwrap_or(0);
        }
        Ok(c)
    }

    /// The challenge bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether the peer sent our own challenge back ("Peer presented the same challenge!"),
    /// which would let it answer with our own response.
    pub fn is_reflection_of(&self, ours: &[u8]) -> bool {
        match (
            self.as_bytes().get(..CHALLENGE_LEN),
            ours.get(..CHALLENGE_LEN),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.as_bytes().len())?;
        w.put(self.as_bytes());
        Ok(w.done())
    }

    /// Decodes a payload of 64..=128 bytes.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::new(payload)
    }
}

impl PartialEq for AuthChallenge {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AuthChallenge {}

impl fmt::Debug for AuthChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthChallenge({} bytes)", self.as_bytes().len())
    }
}

/// `P_AUTH_RESPONSE` payload: the HMAC of the peer's challenge. Its size is the digest size of
/// the configured cram-hmac-alg, at most [`MAX_DIGEST_SIZE`]; the receiver insists on exactly
/// that size ([`AuthResponse::decode_expecting`]).
#[derive(Clone, Copy)]
pub struct AuthResponse {
    buf: [u8; AuthResponse::MAX],
    len: u8,
}

impl AuthResponse {
    /// Largest response.
    pub const MAX: usize = MAX_DIGEST_SIZE;

    /// A response of 1..=64 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.is_empty() || bytes.len() > Self::MAX {
            return Err(PacketError::BadDigestLength(len_u32(bytes.len())));
        }
        let mut c = AuthResponse {
            buf: [0; Self::MAX],
            len: 0,
        };
        if let Some(d) = c.buf.get_mut(..bytes.len()) {
            d.copy_from_slice(bytes);
            c.len = u8::try_from(bytes.len()).unwrap_or(0);
        }
        Ok(c)
    }

    /// The response bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.as_bytes().len())?;
        w.put(self.as_bytes());
        Ok(w.done())
    }

    /// Decodes a payload of 1..=64 bytes.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::new(payload)
    }

    /// Decodes a payload that must be exactly `digest_size` bytes ("expected AuthResponse
    /// payload of wrong size").
    pub fn decode_expecting(payload: &[u8], digest_size: usize) -> Result<Self, PacketError> {
        if payload.len() != digest_size {
            return Err(PacketError::WrongSize {
                expected: digest_size,
                got: payload.len(),
            });
        }
        Self::new(payload)
    }
}

impl PartialEq for AuthResponse {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AuthResponse {}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthResponse({} bytes)", self.as_bytes().len())
    }
}
