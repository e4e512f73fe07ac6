// SPDX-License-Identifier: GPL-2.0

//! The features handshake (`p_connection_features`, [`ConnectionFeatures`]) and the negotiation of
//! the protocol version and feature flags both sides speak ([`FeatureNegotiation`], [`Agreed`]).

use super::super::wire::{self, Command, PacketHeader};
use super::constants::{FF_THIN_RESYNC, FF_TRIM, FF_WSAME, FF_WZEROES, PRO_FEATURES};
use super::cursor::{exact, len_usize, Writer};
use super::error::{cmd_name, PacketError};
use core::fmt;

/// `p_connection_features`: the first packet on the data socket, sent with an 8-byte header
/// before any version is agreed. 72 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFeatures {
    /// Lowest protocol version the sender speaks.
    pub protocol_min: u32,
    /// `DRBD_FF_*` flags the sender supports.
    pub feature_flags: u32,
    /// Highest protocol version the sender speaks; 0 means "same as `protocol_min`" (very old
    /// senders).
    pub protocol_max: u32,
    /// Padding, zero when sent, ignored when received; kept so decoding loses nothing.
    pub pad: u32,
    /// Reserved for future use, same rules as `pad`.
    pub reserved: [u64; 7],
}

impl ConnectionFeatures {
    /// Payload size.
    pub const SIZE: usize = 72;

    /// The packet advertising a version range and feature flags.
    pub fn new(protocol_min: u32, protocol_max: u32, feature_flags: u32) -> Self {
        ConnectionFeatures {
            protocol_min,
            feature_flags,
            protocol_max,
            pad: 0,
            reserved: [0; 7],
        }
    }

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.protocol_min);
        w.u32(self.feature_flags);
        w.u32(self.protocol_max);
        w.u32(self.pad);
        for r in self.reserved {
            w.u64(r);
        }
        Ok(w.done())
    }

    /// Decodes a payload, which must be exactly 72 bytes (`drbd_do_features`). The version is
    /// not yet agreed when this packet arrives; the argument exists for uniformity.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let mut p = ConnectionFeatures {
            protocol_min: r.u32()?,
            feature_flags: r.u32()?,
            protocol_max: r.u32()?,
            pad: r.u32()?,
            reserved: [0; 7],
        };
        for slot in p.reserved.iter_mut() {
            *slot = r.u64()?;
        }
        Ok(p)
    }
}

/// What the two sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The protocol version both use from now on.
    pub protocol: u32,
    /// The `DRBD_FF_*` flags both support.
    pub features: u32,
}

impl Agreed {
    /// The second log line of a successful handshake ("Feature flags enabled on protocol level:
    /// ..."); `Display` of `Agreed` itself gives the first.
    pub fn features_line(&self) -> FeaturesLine {
        FeaturesLine(self.features)
    }
}

impl fmt::Display for Agreed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Handshake successful: Agreed network protocol version {}",
            self.protocol
        )
    }
}

/// Displays the C module's feature log line for a set of agreed feature flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeaturesLine(pub u32);

impl fmt::Display for FeaturesLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ff = self.0;
        let pick = |flag: u32, text: &'static str| if ff & flag != 0 { text } else { "" };
        // The C text's last conditional prints " none" only when no flag at all is set, and
        // only in the WRITE_ZEROES position; reproduced as is.
        let last = if ff & FF_WZEROES != 0 {
            " WRITE_ZEROES"
        } else if ff != 0 {
            ""
        } else {
            " none"
        };
        write!(
            f,
            "Feature flags enabled on protocol level: 0x{ff:x}{}{}{}{last}.",
            pick(FF_TRIM, " TRIM"),
            pick(FF_THIN_RESYNC, " THIN_RESYNC"),
            pick(FF_WSAME, " WRITE_SAME"),
        )
    }
}

/// Why the features handshake failed. `Display` gives the C module's log text; all three make
/// the C module give up on the peer (go StandAlone) rather than retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiationError {
    /// The first packet was not `P_CONNECTION_FEATURES`.
    UnexpectedPacket { command: u16 },
    /// `P_CONNECTION_FEATURES` with a payload other than 72 bytes.
    WrongLength { received: u32 },
    /// The version ranges do not overlap.
    Incompatible {
        our_min: u32,
        our_max: u32,
        peer_min: u32,
        peer_max: u32,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NegotiationError::UnexpectedPacket { command } => write!(
                f,
                "expected ConnectionFeatures packet, received: {} (0x{command:04x})",
                cmd_name(command)
            ),
            NegotiationError::WrongLength { received } => write!(
                f,
                "expected ConnectionFeatures length: {}, received: {received}",
                ConnectionFeatures::SIZE
            ),
            NegotiationError::Incompatible { our_min, our_max, peer_min, peer_max } => write!(
                f,
                "incompatible DRBD dialects: I support {our_min}-{our_max}, peer supports {peer_min}-{peer_max}"
            ),
        }
    }
}

/// Our side of the features handshake (`drbd_do_features`): the version range and feature
/// flags we advertise, and the rules to agree with a peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureNegotiation {
    /// Lowest version we speak.
    pub protocol_min: u32,
    /// Highest version we speak.
    pub protocol_max: u32,
    /// `DRBD_FF_*` flags we support.
    pub features: u32,
}

impl FeatureNegotiation {
    /// What the mainline 8.4 module advertises: protocols 86..=101, every 8.4 feature flag.
    pub const DRBD_84: FeatureNegotiation = FeatureNegotiation {
        protocol_min: wire::PRO_VERSION_MIN,
        protocol_max: wire::PRO_VERSION_MAX,
        features: PRO_FEATURES,
    };

    /// The packet we send (`drbd_send_features`).
    pub fn packet(&self) -> ConnectionFeatures {
        ConnectionFeatures::new(self.protocol_min, self.protocol_max, self.features)
    }

    /// Checks the header of the peer's first packet on the data socket.
    pub fn check_header(&self, header: &PacketHeader) -> Result<(), NegotiationError> {
        if header.command != Command::ConnectionFeatures as u16 {
            return Err(NegotiationError::UnexpectedPacket {
                command: header.command,
            });
        }
        if len_usize(header.length) != ConnectionFeatures::SIZE {
            return Err(NegotiationError::WrongLength {
                received: header.length,
            });
        }
        Ok(())
    }

    /// Agrees with the peer's `p_connection_features`: a peer maximum of 0 stands for its
    /// minimum; the ranges must overlap; the agreed version is the smaller of the two maxima and
    /// the agreed features are the flags both support. (The C module computes the minimum as a
    /// signed int, so a peer maximum of 2^31 or more yields a negative version there; the
    /// unsigned minimum here yields our maximum.)
    pub fn negotiate(&self, peer: &ConnectionFeatures) -> Result<Agreed, NegotiationError> {
        let peer_min = peer.protocol_min;
        let peer_max = if peer.protocol_max == 0 {
            peer_min
        } else {
            peer.protocol_max
        };
        if self.protocol_max < peer_min || self.protocol_min > peer_max {
            return Err(NegotiationError::Incompatible {
                our_min: self.protocol_min,
                our_max: self.protocol_max,
                peer_min,
                peer_max,
            });
        }
        Ok(Agreed {
            protocol: self.protocol_max.min(peer_max),
            features: self.features & peer.feature_flags,
        })
    }
}
