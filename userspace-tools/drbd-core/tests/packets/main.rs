//! Packet payload codecs: golden byte layouts of the C structs, round trips, every rejection,
//! the per-command size table, the features negotiation, and hostile input.

use drbd_core::genl::DrbdState;
use drbd_core::packets::*;
use drbd_core::wire::{self, Command, PacketHeader};
use proptest::prelude::*;

mod features;
mod layouts;
mod props;
mod rejections;
mod table;

/// Encodes with `f` into a big buffer and returns the bytes written.
fn enc(f: impl FnOnce(&mut [u8]) -> Result<usize, PacketError>) -> Vec<u8> {
    let mut buf = vec![0xAAu8; 1 << 21];
    let n = f(&mut buf).expect("encode");
    buf.truncate(n);
    buf
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn be64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn alg(s: &str) -> AlgName {
    AlgName::new(s.as_bytes()).unwrap()
}

fn field64(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(64, 0);
    v
}
