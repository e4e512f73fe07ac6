//! Generation UUIDs: every rule of `drbd_uuid_compare` with the C module's verdict and rule
//! number, the after-split-brain policy matrix of `drbd_asb_recover_0p/1p/2p`, the decisions of
//! `drbd_sync_handshake`, and the UUID rotations of `drbd_main.c` / `drbd_worker.c`, checked
//! against what the C DRBD 8.4 module does (the expected values cite the C code path).

use drbd_core::genl::{AfterSb, ConnState, DiskState, RetCode, Role};
use drbd_core::meta::UUID_JUST_CREATED;
use drbd_core::uuid::*;
use proptest::prelude::*;

mod asb;
mod compare;
mod handshake;
mod props;
mod transitions;

const JC: u64 = UUID_JUST_CREATED;
const OFF: u64 = UUID_NEW_BM_OFFSET;

// Distinct generation UUIDs, role bit clear.
const A: u64 = 0xA1A1_0000_0000_0010;
const B: u64 = 0xB2B2_0000_0000_0020;
const C: u64 = 0xC3C3_0000_0000_0030;
const D: u64 = 0xD4D4_0000_0000_0040;
const P: u64 = 0x1111_0000_0000_0050;
const Q: u64 = 0x2222_0000_0000_0060;
const R: u64 = 0x3333_0000_0000_0070;
const S: u64 = 0x4444_0000_0000_0080;
const X: u64 = 0x5555_0000_0000_0090;
const Y: u64 = 0x6666_0000_0000_00a0;
const Z: u64 = 0x7777_0000_0000_00b0;
const W: u64 = 0x8888_0000_0000_00c0;

fn u(current: u64, bitmap: u64, h0: u64, h1: u64) -> Uuids {
    Uuids {
        current,
        bitmap,
        history: [h0, h1],
    }
}

fn input(local: Uuids, peer: Uuids) -> CompareInput {
    CompareInput {
        local,
        peer: PeerUuids {
            uuids: peer,
            bits: 0,
            flags: 0,
        },
        crashed_primary: false,
        role: Role::Secondary,
        peer_role: Role::Secondary,
        agreed_protocol: 101,
        agreed_features: DRBD_FF_WSAME,
        resolve_conflicts: false,
        bm_weight: 0,
    }
}

fn cmp(i: &CompareInput) -> Comparison {
    compare(i, &mut Log::new())
}

fn vr(i: &CompareInput) -> (Verdict, u32) {
    let c = cmp(i);
    (c.verdict, c.rule)
}

use Verdict::*;
const SB_AUTO: Verdict = SplitBrain { auto_recover: true };
const SB: Verdict = SplitBrain {
    auto_recover: false,
};
