// SPDX-License-Identifier: GPL-2.0

//! I/O packets: data and its sub-header ([`DataHeader`], [`Trim`]), block requests and acks
//! ([`BlockRequest`], [`BlockAck`], [`BlockDesc`]), barriers, resync UUIDs, delay probes, and the
//! packets without a payload ([`Empty`]).

use super::checks::{check_block_size, check_capacity};
use super::constants::{DP_DISCARD, DP_ZEROES, DRBD_MAX_BATCH_BIO_SIZE, DRBD_MAX_BIO_SIZE};
use super::cursor::{exact, Reader, Writer};
use super::error::PacketError;

/// `p_data`: sub-header of `P_DATA`, `P_DATA_REPLY`, `P_RS_DATA_REPLY`. 24 bytes, followed by
/// the integrity digest (if configured) and the data ([`split_body`](super::split_body)).
///
/// `block_id` is the sender's request handle, which the receiver echoes; C puts a pointer there
/// in its own byte order. It is read and written big-endian here so its bytes round-trip
/// unchanged and the special `ID_*` values (sent big-endian) compare correctly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataHeader {
    /// First sector.
    pub sector: u64,
    /// Opaque request handle to echo in the ack.
    pub block_id: u64,
    /// Sequence number for conflict detection with two primaries.
    pub seq_num: u32,
    /// `DP_*`.
    pub dp_flags: u32,
}

impl DataHeader {
    /// Sub-header size.
    pub const SIZE: usize = 24;

    fn put(&self, w: &mut Writer<'_>) {
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.seq_num);
        w.u32(self.dp_flags);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, PacketError> {
        Ok(DataHeader {
            sector: r.u64()?,
            block_id: r.u64()?,
            seq_num: r.u32()?,
            dp_flags: r.u32()?,
        })
    }

    /// Encodes the sub-header; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        self.put(&mut w);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte sub-header. Measure what follows with
    /// [`split_body`](super::split_body).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        Self::get(&mut exact(payload, Self::SIZE)?)
    }

    /// Checks the flags of a `P_DATA`: a discard or zero-out travels as `P_TRIM` / `P_ZEROES`,
    /// never with a data payload.
    pub fn check_data_flags(&self) -> Result<(), PacketError> {
        if self.dp_flags & (DP_DISCARD | DP_ZEROES) != 0 {
            return Err(PacketError::DataWithDiscardFlags(self.dp_flags));
        }
        Ok(())
    }

    /// Checks that `data_len` bytes at `sector` lie on a device of `capacity` sectors.
    pub fn check_capacity(&self, data_len: u32, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.sector, data_len, capacity)
    }
}

/// `p_trim` (`P_TRIM`, `P_ZEROES`): a `p_data` plus the size of the range to discard or zero.
/// 28 bytes, nothing follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trim {
    /// The request header.
    pub data: DataHeader,
    /// Bytes to discard / zero out.
    pub size: u32,
}

impl Trim {
    /// Payload size.
    pub const SIZE: usize = 28;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        self.data.put(&mut w);
        w.u32(self.size);
        Ok(w.done())
    }

    /// Decodes an exactly 28-byte payload (`read_in_block`): the size must be a multiple of 512
    /// and at most [`DRBD_MAX_BATCH_BIO_SIZE`]; zero is refused too (C only asserts it).
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let t = Trim {
            data: DataHeader::get(&mut r)?,
            size: r.u32()?,
        };
        check_block_size(t.size, DRBD_MAX_BATCH_BIO_SIZE)?;
        Ok(t)
    }

    /// Checks that the range lies on a device of `capacity` sectors.
    pub fn check_capacity(&self, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.data.sector, self.size, capacity)
    }
}

/// `p_block_req` (`P_DATA_REQUEST`, `P_RS_DATA_REQUEST`, `P_OV_REQUEST`, `P_OV_REPLY`,
/// `P_CSUM_RS_REQUEST`, `P_RS_THIN_REQ`): a request for a block. 24 bytes (the last 4 padding,
/// which C senders do not always clear, so it is ignored); `P_OV_REPLY` and
/// `P_CSUM_RS_REQUEST` append a digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockRequest {
    /// First sector.
    pub sector: u64,
    /// Opaque handle to echo (see [`DataHeader`]).
    pub block_id: u64,
    /// Bytes requested.
    pub blksize: u32,
}

impl BlockRequest {
    /// Sub-header size.
    pub const SIZE: usize = 24;

    /// Encodes the sub-header; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.blksize);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte sub-header (`receive_DataRequest`): the size must be nonzero,
    /// a multiple of 512 and at most [`DRBD_MAX_BIO_SIZE`].
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        let b = BlockRequest {
            sector: r.u64()?,
            block_id: r.u64()?,
            blksize: r.u32()?,
        };
        check_block_size(b.blksize, DRBD_MAX_BIO_SIZE)?;
        Ok(b)
    }

    /// Checks that the block lies on a device of `capacity` sectors.
    pub fn check_capacity(&self, capacity: u64) -> Result<(), PacketError> {
        check_capacity(self.sector, self.blksize, capacity)
    }
}

/// `p_block_ack` (`P_RECV_ACK`, `P_WRITE_ACK`, `P_RS_WRITE_ACK`, `P_SUPERSEDED`, `P_NEG_ACK`,
/// `P_NEG_DREPLY`, `P_NEG_RS_DREPLY`, `P_OV_RESULT`, `P_RS_IS_IN_SYNC`, `P_RS_CANCEL`,
/// `P_RETRY_WRITE`; meta socket): the answer to a request. 24 bytes.
///
/// The C ack receiver does not check `blksize` (the bitmap update it feeds ignores implausible
/// sizes); [`BlockAck::plausible`] offers that test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockAck {
    /// First sector.
    pub sector: u64,
    /// Our handle, echoed, or an `ID_*` value.
    pub block_id: u64,
    /// Bytes acknowledged.
    pub blksize: u32,
    /// The peer's sequence number.
    pub seq_num: u32,
}

impl BlockAck {
    /// Payload size.
    pub const SIZE: usize = 24;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u64(self.block_id);
        w.u32(self.blksize);
        w.u32(self.seq_num);
        Ok(w.done())
    }

    /// Decodes an exactly 24-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BlockAck {
            sector: r.u64()?,
            block_id: r.u64()?,
            blksize: r.u32()?,
            seq_num: r.u32()?,
        })
    }

    /// Whether `blksize` is a size the bitmap code acts on (`plausible_request_size`): nonzero,
    /// a multiple of 512, at most [`DRBD_MAX_BATCH_BIO_SIZE`].
    pub fn plausible(&self) -> bool {
        check_block_size(self.blksize, DRBD_MAX_BATCH_BIO_SIZE).is_ok()
    }
}

/// `p_block_desc` (`P_OUT_OF_SYNC`, `P_RS_DEALLOCATED`): a range. 16 bytes (the last 4
/// padding, not always cleared by C senders, ignored).
///
/// Not range-checked on decode: a zero-length `P_OUT_OF_SYNC` is an empty flush that C ignores
/// silently, and implausible sizes are ignored with a log line, not a disconnect. See
/// [`BlockDesc::out_of_sync_range`] and [`BlockDesc::check_deallocated`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockDesc {
    /// First sector.
    pub sector: u64,
    /// Bytes.
    pub blksize: u32,
}

impl BlockDesc {
    /// Payload size.
    pub const SIZE: usize = 16;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.sector);
        w.u32(self.blksize);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 16-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BlockDesc {
            sector: r.u64()?,
            blksize: r.u32()?,
        })
    }

    /// For `P_OUT_OF_SYNC` (`__drbd_change_sync`): `Ok(false)` for a zero-length range (ignore
    /// silently), `Ok(true)` for a range to mark, an error for an implausible size or a start
    /// beyond the device (which C logs and ignores). C clips an end beyond the device.
    pub fn out_of_sync_range(&self, capacity: u64) -> Result<bool, PacketError> {
        if self.blksize == 0 {
            return Ok(false);
        }
        check_block_size(self.blksize, DRBD_MAX_BATCH_BIO_SIZE)?;
        if self.sector >= capacity {
            return Err(PacketError::BeyondCapacity {
                sector: self.sector,
                size: self.blksize,
                capacity,
            });
        }
        Ok(true)
    }

    /// For `P_RS_DEALLOCATED`, the answer to one resync request: nonzero, aligned, at most
    /// [`DRBD_MAX_BIO_SIZE`], on the device. (C discards whatever range it is given.)
    pub fn check_deallocated(&self, capacity: u64) -> Result<(), PacketError> {
        check_block_size(self.blksize, DRBD_MAX_BIO_SIZE)?;
        check_capacity(self.sector, self.blksize, capacity)
    }
}

/// `p_barrier` (`P_BARRIER`): closes an epoch. 8 bytes.
///
/// `barrier` is an opaque handle the receiver echoes in `P_BARRIER_ACK`; C sends its epoch
/// number in its own byte order. Read and written big-endian here, so the bytes round-trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Barrier {
    /// The epoch handle.
    pub barrier: u32,
}

impl Barrier {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.barrier);
        w.u32(0);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload; the padding is ignored.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(Barrier { barrier: r.u32()? })
    }
}

/// `p_barrier_ack` (`P_BARRIER_ACK`, meta socket): an epoch is on disk. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BarrierAck {
    /// The handle from `P_BARRIER`, echoed (see [`Barrier`]).
    pub barrier: u32,
    /// Number of writes in the epoch; must match the sender's count.
    pub set_size: u32,
}

impl BarrierAck {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.barrier);
        w.u32(self.set_size);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(BarrierAck {
            barrier: r.u32()?,
            set_size: r.u32()?,
        })
    }
}

/// `p_rs_uuid` (`P_SYNC_UUID`): the sync source's new bitmap UUID. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsUuid {
    /// The UUID.
    pub uuid: u64,
}

impl RsUuid {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u64(self.uuid);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(RsUuid { uuid: r.u64()? })
    }
}

/// `p_delay_probe93` (`P_DELAY_PROBE`, either socket): obsolete; received and skipped. 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DelayProbe {
    /// Matches the probes sent on the two sockets.
    pub seq_num: u32,
    /// Microseconds since the reference point.
    pub offset: u32,
}

impl DelayProbe {
    /// Payload size.
    pub const SIZE: usize = 8;

    /// Encodes the payload; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        let mut w = Writer::new(out, Self::SIZE)?;
        w.u32(self.seq_num);
        w.u32(self.offset);
        Ok(w.done())
    }

    /// Decodes an exactly 8-byte payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        let mut r = exact(payload, Self::SIZE)?;
        Ok(DelayProbe {
            seq_num: r.u32()?,
            offset: r.u32()?,
        })
    }
}

/// A packet without payload: `P_PING`, `P_PING_ACK`, `P_UNPLUG_REMOTE`, and the first packets
/// `P_INITIAL_DATA` / `P_INITIAL_META`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Empty;

/// `P_PING`.
pub type Ping = Empty;
/// `P_PING_ACK`.
pub type PingAck = Empty;
/// `P_INITIAL_DATA`.
pub type InitialData = Empty;
/// `P_INITIAL_META`.
pub type InitialMeta = Empty;

impl Empty {
    /// Payload size.
    pub const SIZE: usize = 0;

    /// Encodes nothing; returns 0.
    pub fn encode(&self, _out: &mut [u8]) -> Result<usize, PacketError> {
        Ok(0)
    }

    /// Accepts only an empty payload.
    pub fn decode(payload: &[u8], _agreed_protocol: u32) -> Result<Self, PacketError> {
        exact(payload, 0)?;
        Ok(Empty)
    }
}
