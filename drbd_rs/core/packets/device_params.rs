// SPDX-License-Identifier: GPL-2.0

//! Device parameters exchanged in the handshake: the generation identifiers (`p_uuids`,
//! [`Uuids`]) and the sizes and queue limits (`p_sizes`, [`Sizes`], [`QueueLimits`]).

use super::constants::{
    FF_WSAME, UUID_FLAG_CRASHED_PRIMARY, UUID_FLAG_DISCARD_MY_DATA, UUID_FLAG_INCONSISTENT,
    UUID_FLAG_SKIP_INITIAL_SYNC,
};
use super::cursor::{exact, Reader, Writer};
use super::error::PacketError;

/// `p_uuids` (`P_UUIDS`): the generation identifiers, the bitmap weight and handshake flags.
/// 48 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uuids {
    /// `UI_CURRENT`.
    pub current: u64,
    /// `UI_BITMAP`.
    pub bitmap: u64,
    /// `UI_HISTORY_START`, `UI_HISTORY_END`.
    pub history: [u64; 2],
    /// `UI_SIZE`: number of bits set in the sender's bitmap.
    pub bits_set: u64,
    /// `UI_FLAGS`: `UUID_FLAG_*`.
    pub flags: u64,
}

impl Uuids {
    /// Payload size.
    pub const SIZE: usize = 48;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        for v in [
            self.current,
            self.bitmap,
            self.history[0],
            self.history[1],
            self.bits_set,
            self.flags,
        ] {
            w.u64(v);
        }
        Ok(w.done())
    }

    /// Decodes an exactly 48-byte payload. Any values are accepted: the UUID comparison decides.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(Uuids {
            current: r.u64()?,
            bitmap: r.u64()?,
            history: [r.u64()?, r.u64()?],
            bits_set: r.u64()?,
            flags: r.u64()?,
        })
    }

    /// The sender was configured to discard its data on split brain.
    pub fn discard_my_data(&self) -> bool {
        self.flags & UUID_FLAG_DISCARD_MY_DATA != 0
    }

    /// The sender was a crashed primary.
    pub fn crashed_primary(&self) -> bool {
        self.flags & UUID_FLAG_CRASHED_PRIMARY != 0
    }

    /// The sender's disk is Inconsistent behind its `Negotiating` state.
    pub fn inconsistent(&self) -> bool {
        self.flags & UUID_FLAG_INCONSISTENT != 0
    }

    /// The sender asks to skip the initial sync.
    pub fn skip_initial_sync(&self) -> bool {
        self.flags & UUID_FLAG_SKIP_INITIAL_SYNC != 0
    }
}

/// `o_qlim`: the sender's queue limits, appended to `p_sizes` when [`FF_WSAME`] is agreed.
/// 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueLimits {
    /// Physical block size, bytes.
    pub physical_block_size: u32,
    /// Logical block size, bytes.
    pub logical_block_size: u32,
    /// Alignment offset, bytes.
    pub alignment_offset: u32,
    /// Minimum I/O size, bytes.
    pub io_min: u32,
    /// Optimal I/O size, bytes.
    pub io_opt: u32,
    /// The backing device can discard.
    pub discard_enabled: bool,
    /// Discarded blocks read back as zeroes.
    pub discard_zeroes_data: bool,
    /// The backing device can write-same.
    pub write_same_capable: bool,
}

impl QueueLimits {
    /// Size of the tail.
    pub const SIZE: usize = 24;

    fn put(&self, w: &mut Writer<'_>) {
        w.u32(self.physical_block_size);
        w.u32(self.logical_block_size);
        w.u32(self.alignment_offset);
        w.u32(self.io_min);
        w.u32(self.io_opt);
        w.u8(u8::from(self.discard_enabled));
        w.u8(u8::from(self.discard_zeroes_data));
        w.u8(u8::from(self.write_same_capable));
        w.u8(0);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, PacketError> {
        let q = QueueLimits {
            physical_block_size: r.u32()?,
            logical_block_size: r.u32()?,
            alignment_offset: r.u32()?,
            io_min: r.u32()?,
            io_opt: r.u32()?,
            discard_enabled: r.u8()? != 0,
            discard_zeroes_data: r.u8()? != 0,
            write_same_capable: r.u8()? != 0,
        };
        r.u8()?;
        Ok(q)
    }
}

/// `p_sizes` (`P_SIZES`): the sender's disk sizes (sectors) and request limits. 32 bytes, or 56
/// with the queue limits tail when [`FF_WSAME`] is agreed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Backing device size, sectors (0 if diskless).
    pub d_size: u64,
    /// User-requested size, sectors (0 = no limit).
    pub u_size: u64,
    /// Current exported size, sectors (0 asks the peer to reply with its sizes).
    pub c_size: u64,
    /// Largest bio the sender accepts (see [`sender_max_bio_size`](super::sender_max_bio_size));
    /// not checked on receipt, the receiver takes the minimum with its own limits.
    pub max_bio_size: u32,
    /// Unused by DRBD.
    pub queue_order_type: u16,
    /// `DDSF_*`.
    pub dds_flags: u16,
    /// The `o_qlim` tail, present exactly when [`FF_WSAME`] is agreed.
    pub qlim: Option<QueueLimits>,
}

impl Sizes {
    /// Size without the queue limits.
    pub const SIZE: usize = 32;
    /// Size with the queue limits.
    pub const SIZE_WITH_QLIM: usize = Self::SIZE + QueueLimits::SIZE;

    /// Encoded size: 56 with queue limits, else 32.
    pub fn encoded_len(&self) -> usize {
        if self.qlim.is_some() {
            Self::SIZE_WITH_QLIM
        } else {
            Self::SIZE
        }
    }

    /// Encodes the payload; returns its size. Set `qlim` exactly when [`FF_WSAME`] is agreed.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, self.encoded_len())?;
        w.u64(self.d_size);
        w.u64(self.u_size);
        w.u64(self.c_size);
        w.u32(self.max_bio_size);
        w.u16(self.queue_order_type);
        w.u16(self.dds_flags);
        if let Some(q) = &self.qlim {
            q.put(&mut w);
        }
        Ok(w.done())
    }

    /// Decodes a payload of 32 or 56 bytes; the length says whether the queue limits are
    /// present. Use [`Sizes::decode_with_features`] to insist on the size the agreed features
    /// imply (as [`expected_payload`](super::expected_payload) already does for a receiver).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let with_qlim = match payload.len() {
            Self::SIZE => false,
            Self::SIZE_WITH_QLIM => true,
            got => {
                return Err(PacketError::WrongSize {
                    expected: Self::SIZE,
                    got,
                })
            }
        };
        let mut r = Reader::new(payload);
        Ok(Sizes {
            d_size: r.u64()?,
            u_size: r.u64()?,
            c_size: r.u64()?,
            max_bio_size: r.u32()?,
            queue_order_type: r.u16()?,
            dds_flags: r.u16()?,
            qlim: if with_qlim {
                Some(QueueLimits::get(&mut r)?)
            } else {
                None
            },
        })
    }

    /// Decodes a payload whose size must match the agreed features: 56 bytes with
    /// [`FF_WSAME`], 32 without.
    pub fn decode_with_features(
        payload: &[u8],
        agreed_protocol: u32,
        agreed_features: u32,
    ) -> Result<Self, PacketError> {
        let expected = if agreed_features & FF_WSAME != 0 {
            Self::SIZE_WITH_QLIM
        } else {
            Self::SIZE
        };
        if payload.len() != expected {
            return Err(PacketError::WrongSize {
                expected,
                got: payload.len(),
            });
        }
        Self::decode(payload, agreed_protocol)
    }
}
