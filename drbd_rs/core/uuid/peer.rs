// SPDX-License-Identifier: GPL-2.0

//! What we know of the peer's UUIDs ([`PeerUuids`]), converted from and to the `P_UUIDS` payload.

use super::super::meta::{
    UI_BITMAP, UI_CURRENT, UI_EXTENDED_SIZE, UI_FLAGS, UI_HISTORY_END, UI_HISTORY_START, UI_SIZE,
};
use super::sets::Uuids;

/// The content of the peer's last `P_UUIDS` (`device->p_uuid`). The wire layout is
/// [`super::super::packets::Uuids`]; this is the same data with the four UUIDs as a [`Uuids`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerUuids {
    /// The peer's four UUIDs.
    pub uuids: Uuids,
    /// Bits set in the peer's bitmap when it sent the packet (`UI_SIZE` slot, the peer's
    /// `comm_bm_set`); the after-split-brain "least changes" policies compare it.
    pub bits: u64,
    /// `UUID_FLAG_*` bits (`UI_FLAGS` slot).
    pub flags: u64,
}

impl PeerUuids {
    /// From the six words of `P_UUIDS` in wire order (`UI_CURRENT` .. `UI_FLAGS`).
    pub fn from_words(w: [u64; UI_EXTENDED_SIZE]) -> PeerUuids {
        PeerUuids {
            uuids: Uuids::from_array([
                w[UI_CURRENT],
                w[UI_BITMAP],
                w[UI_HISTORY_START],
                w[UI_HISTORY_END],
            ]),
            bits: w[UI_SIZE],
            flags: w[UI_FLAGS],
        }
    }

    /// The six words of `P_UUIDS` in wire order.
    pub fn to_words(self) -> [u64; UI_EXTENDED_SIZE] {
        // Built element by element: a `copy_from_slice` of `u64`s instantiates a panicking
        // length check that objtool flags in the kernel build.
        let [current, bitmap, history0, history1] = self.uuids.to_array();
        let w = [current, bitmap, history0, history1, self.bits, self.flags];
        const _: () = assert!(UI_SIZE == 4 && UI_FLAGS == 5 && UI_EXTENDED_SIZE == 6);
        w
    }
}

impl From<super::super::packets::Uuids> for PeerUuids {
    fn from(p: super::super::packets::Uuids) -> PeerUuids {
        PeerUuids {
            uuids: Uuids {
                current: p.current,
                bitmap: p.bitmap,
                history: p.history,
            },
            bits: p.bits_set,
            flags: p.flags,
        }
    }
}

impl From<PeerUuids> for super::super::packets::Uuids {
    fn from(p: PeerUuids) -> super::super::packets::Uuids {
        super::super::packets::Uuids {
            current: p.uuids.current,
            bitmap: p.uuids.bitmap,
            history: p.uuids.history,
            bits_set: p.bits,
            flags: p.flags,
        }
    }
}
