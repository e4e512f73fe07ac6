// SPDX-License-Identifier: GPL-2.0

//! Checks shared by several packets: a request's block size, its range on the device, and the
//! largest bio size a sender may announce to a peer.

use super::constants::{
    DRBD_MAX_BIO_SIZE, DRBD_MAX_BIO_SIZE_P95, DRBD_MAX_SIZE_H80_PACKET, SECTOR_SIZE,
};
use super::error::PacketError;

/// Checks a request's block size as `receive_DataRequest` does: nonzero, a multiple of 512, at
/// most `max`.
pub fn check_block_size(size: u32, max: u32) -> Result<(), PacketError> {
    if size == 0 || !size.is_multiple_of(SECTOR_SIZE) || size > max {
        return Err(PacketError::BadBlockSize { size, max });
    }
    Ok(())
}

/// Checks that `size` bytes from `sector` lie on a device of `capacity` sectors (the C
/// receiver's `sector + (size >> 9) > capacity` test). An end beyond 2^64 sectors is refused
/// too; C's unsigned sum would wrap and let it pass.
pub fn check_capacity(sector: u64, size: u32, capacity: u64) -> Result<(), PacketError> {
    match sector.checked_add(u64::from(size >> 9)) {
        Some(end) if end <= capacity => Ok(()),
        _ => Err(PacketError::BeyondCapacity {
            sector,
            size,
            capacity,
        }),
    }
}

/// The largest bio size a sender may announce in `p_sizes.max_bio_size` to a peer of the
/// agreed protocol (`drbd_send_sizes`): its own limit, capped at 1 MiB, and further at 32 KiB
/// below protocol 95 and 128 KiB below protocol 100.
pub fn sender_max_bio_size(local_max: u32, agreed_protocol: u32) -> u32 {
    let m = local_max.min(DRBD_MAX_BIO_SIZE);
    if agreed_protocol <= 94 {
        m.min(DRBD_MAX_SIZE_H80_PACKET)
    } else if agreed_protocol < 100 {
        m.min(DRBD_MAX_BIO_SIZE_P95)
    } else {
        m
    }
}
