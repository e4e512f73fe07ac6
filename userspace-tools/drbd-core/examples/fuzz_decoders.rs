//! fuzz_decoders: a deterministic, structure-aware mutation fuzzer for the packet payload
//! decoders of `drbd_rs/core/packets.rs` (and the header codec of `wire.rs` in front of them).
//!
//! ```text
//! cargo run --release -p drbd-core --example fuzz_decoders -- [--iterations N] [--seed S]
//! ```
//!
//! It starts from valid encodings of every packet for several protocol versions and feature
//! sets, and mutates them: bit flips, interesting numbers at random offsets (block sizes around
//! 512 and 1 MiB, all-ones, sign bits), truncation, extension, insertion, deletion, splicing, a
//! different command, protocol version, feature set or digest size. Every fourth input is instead
//! a byte stream of headers and payloads, some valid and some not, parsed the way a receiver
//! does: `wire::decode_header`, `check_header`, `decode_packet`.
//!
//! Besides "does not panic", each input checks two oracles: a packet that decodes re-encodes to
//! bytes that decode to the same packet, and is of a length its `expected_payload` rule allows.
//! An oracle failure is a crash like a panic. On a crash the input is printed in hex and the
//! program exits with status 1. The xorshift generator is seeded, so a run is reproducible.

use drbd_core::genl::DrbdState;
use drbd_core::packets::*;
use drbd_core::wire::{self, Command};
use std::panic::{self, AssertUnwindSafe};
use std::process::exit;
use std::sync::Mutex;
use std::time::Instant;

/// xorshift64*: tiny, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One fuzz input: a payload and the connection context it is decoded in.
#[derive(Clone, Debug)]
struct Input {
    cmd: Command,
    proto: u32,
    features: u32,
    digest: u32,
    bytes: Vec<u8>,
}

const VERSIONS: [u32; 10] = [86, 87, 88, 89, 94, 95, 96, 99, 100, 101];
const ODD_VERSIONS: [u32; 8] = [0, 1, 85, 102, 110, 0x7fff_ffff, 0x8000_0000, u32::MAX];
const U32S: [u32; 16] = [
    0,
    1,
    2,
    3,
    11,
    511,
    512,
    513,
    4096,
    (1 << 20) - 512,
    1 << 20,
    (1 << 20) + 512,
    128 << 20,
    (128 << 20) + 512,
    0x8000_0000,
    u32::MAX,
];
const U64S: [u64; 6] = [0, 1, 4711, 4712, u64::MAX, u64::MAX - 7];

fn encode_with(f: impl FnOnce(&mut [u8]) -> Result<usize, PacketError>) -> Vec<u8> {
    let mut buf = vec![0u8; (1 << 20) + 256];
    let n = f(&mut buf).expect("seed encodes");
    buf.truncate(n);
    buf
}

/// Valid encodings of every packet, for each protocol version and feature set.
fn corpus() -> Vec<Input> {
    let mut seeds = Vec::new();
    let alg = |s: &str| AlgName::new(s.as_bytes()).unwrap();
    let state = DrbdState::from_u32(0x0001_10a9);
    let header = DataHeader {
        sector: 2048,
        block_id: 0xffff_8880_1234_5678,
        seq_num: 9,
        dp_flags: 0,
    };
    for &proto in &VERSIONS {
        for features in [0, FF_TRIM, PRO_FEATURES] {
            let mut add = |cmd: Command, digest: u32, bytes: Vec<u8>| {
                seeds.push(Input {
                    cmd,
                    proto,
                    features,
                    digest,
                    bytes,
                });
            };
            add(
                Command::ConnectionFeatures,
                0,
                encode_with(|o| ConnectionFeatures::new(86, 101, PRO_FEATURES).encode(o)),
            );
            let p = Protocol {
                wire_protocol: 3,
                after_sb_0p: 0,
                after_sb_1p: 1,
                after_sb_2p: 0,
                conn_flags: CF_DRY_RUN,
                two_primaries: 0,
                integrity_alg: alg("crc32c"),
            };
            add(Command::Protocol, 0, encode_with(|o| p.encode(o, proto)));
            add(
                Command::ProtocolUpdate,
                0,
                encode_with(|o| p.encode(o, proto)),
            );
            let sp = SyncParam {
                resync_rate: 250,
                verify_alg: alg("sha1"),
                csums_alg: alg("md5"),
                c_plan_ahead: 20,
                c_delay_target: 10,
                c_fill_target: 0,
                c_max_rate: 102400,
            };
            add(
                SyncParam::command(proto),
                0,
                encode_with(|o| sp.encode(o, proto)),
            );
            let u = Uuids {
                current: 0x1234_5678_9abc_def1,
                bitmap: 0,
                history: [0x1111, 0x2222],
                bits_set: 100,
                flags: UUID_FLAG_INCONSISTENT,
            };
            add(Command::Uuids, 0, encode_with(|o| u.encode(o)));
            let qlim = (features & FF_WSAME != 0).then_some(QueueLimits {
                physical_block_size: 4096,
                logical_block_size: 512,
                io_min: 4096,
                discard_enabled: true,
                ..QueueLimits::default()
            });
            let sz = Sizes {
                d_size: 1 << 21,
                u_size: 0,
                c_size: 1 << 21,
                max_bio_size: sender_max_bio_size(1 << 20, proto),
                queue_order_type: 0,
                dds_flags: 0,
                qlim,
            };
            add(Command::Sizes, 0, encode_with(|o| sz.encode(o)));
            add(
                Command::State,
                0,
                encode_with(|o| State { state }.encode(o)),
            );
            let rq = ReqState {
                mask: DrbdState::from_u32(0x1f0),
                val: state,
            };
            add(Command::StateChgReq, 0, encode_with(|o| rq.encode(o)));
            add(Command::ConnStChgReq, 0, encode_with(|o| rq.encode(o)));
            let rr = ReqStateReply { retcode: -19 };
            add(Command::StateChgReply, 0, encode_with(|o| rr.encode(o)));
            add(Command::ConnStChgReply, 0, encode_with(|o| rr.encode(o)));
            add(
                Command::SyncUuid,
                0,
                encode_with(|o| RsUuid { uuid: 0xabcd }.encode(o)),
            );
            for (cmd, digest, len) in [
                (Command::Data, 0, 4096),
                (Command::Data, 16, 512),
                (Command::Data, 0, 0),
                (Command::DataReply, 0, 4096),
                (Command::RsDataReply, 20, 4096),
            ] {
                let mut b = encode_with(|o| header.encode(o));
                b.extend((0..digest + len).map(|i| i as u8));
                add(cmd, digest, b);
            }
            let t = Trim {
                data: DataHeader {
                    dp_flags: DP_DISCARD,
                    ..header
                },
                size: 1 << 22,
            };
            add(Command::Trim, 0, encode_with(|o| t.encode(o)));
            add(Command::Zeroes, 0, encode_with(|o| t.encode(o)));
            let r = BlockRequest {
                sector: 8,
                block_id: ID_SYNCER,
                blksize: 4096,
            };
            for cmd in [
                Command::DataRequest,
                Command::RsDataRequest,
                Command::OvRequest,
                Command::RsThinReq,
            ] {
                add(cmd, 0, encode_with(|o| r.encode(o)));
            }
            for cmd in [Command::OvReply, Command::CsumRsRequest] {
                let mut b = encode_with(|o| r.encode(o));
                b.extend([0x5a; 20]);
                add(cmd, 0, b);
            }
            let a = BlockAck {
                sector: 8,
                block_id: 0xffff_8880_0000_0040,
                blksize: 4096,
                seq_num: 3,
            };
            for cmd in [
                Command::RecvAck,
                Command::WriteAck,
                Command::RsWriteAck,
                Command::Superseded,
                Command::NegAck,
                Command::NegDReply,
                Command::NegRsDReply,
                Command::OvResult,
                Command::RsIsInSync,
                Command::RsCancel,
                Command::RetryWrite,
            ] {
                add(cmd, 0, encode_with(|o| a.encode(o)));
            }
            let d = BlockDesc {
                sector: 16,
                blksize: 8192,
            };
            add(Command::OutOfSync, 0, encode_with(|o| d.encode(o)));
            add(Command::RsDeallocated, 0, encode_with(|o| d.encode(o)));
            add(
                Command::Barrier,
                0,
                encode_with(|o| Barrier { barrier: 5 }.encode(o)),
            );
            let ba = BarrierAck {
                barrier: 5,
                set_size: 12,
            };
            add(Command::BarrierAck, 0, encode_with(|o| ba.encode(o)));
            let dp = DelayProbe {
                seq_num: 1,
                offset: 100,
            };
            add(Command::DelayProbe, 0, encode_with(|o| dp.encode(o)));
            for cmd in [
                Command::Ping,
                Command::PingAck,
                Command::UnplugRemote,
                Command::InitialData,
                Command::InitialMeta,
            ] {
                add(cmd, 0, Vec::new());
            }
            let ch: Vec<u8> = (0..64u8).collect();
            add(
                Command::AuthChallenge,
                0,
                encode_with(|o| AuthChallenge::new(&ch).unwrap().encode(o)),
            );
            let resp = AuthResponse::new(&[0x77; 32]).unwrap();
            add(Command::AuthResponse, 0, encode_with(|o| resp.encode(o)));
            add(
                Command::Bitmap,
                0,
                vec![0xf0; plain_bitmap_expected_len(10_000, proto)],
            );
            add(Command::Bitmap, 0, vec![0x0f; 64]);
            let cb = CompressedBitmapHeader::new(true, 3);
            let mut b = encode_with(|o| cb.encode(o));
            b.extend([0x12, 0x34, 0x56, 0x78]);
            add(Command::CompressedBitmap, 0, b);
        }
    }
    seeds
}

fn put_be(bytes: &mut [u8], at: usize, v: &[u8]) {
    if at + v.len() <= bytes.len() {
        bytes[at..at + v.len()].copy_from_slice(v);
    }
}

/// Applies one to four random mutations.
fn mutate(rng: &mut Rng, input: &mut Input, seeds: &[Input]) {
    for _ in 0..=rng.below(4) {
        let b = &mut input.bytes;
        match rng.below(14) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = *rng.pick(&[0, 1, 2, 0x7f, 0x80, 0xff, 0x82, 0x03]);
            }
            2 if !b.is_empty() => {
                // Numbers land on 4-byte boundaries most of the time, where fields are.
                let at = if rng.chance(4) {
                    rng.below(b.len())
                } else {
                    rng.below(b.len() / 4 + 1) * 4
                };
                put_be(b, at, &rng.pick(&U32S).to_be_bytes());
            }
            3 if !b.is_empty() => {
                let at = rng.below(b.len() / 8 + 1) * 8;
                put_be(b, at, &rng.pick(&U64S).to_be_bytes());
            }
            4 => {
                let n = rng.below(b.len() + 1);
                b.truncate(n);
            }
            5 => {
                let n = if rng.chance(8) {
                    rng.below(4200)
                } else {
                    rng.below(80)
                };
                let zero = rng.chance(2);
                for _ in 0..n {
                    b.push(if zero { 0 } else { rng.next() as u8 });
                }
            }
            6 => {
                let at = rng.below(b.len() + 1);
                let n = 1 + rng.below(16);
                for _ in 0..n {
                    b.insert(at, rng.next() as u8);
                }
            }
            7 if !b.is_empty() => {
                let at = rng.below(b.len());
                let n = (1 + rng.below(16)).min(b.len() - at);
                b.drain(at..at + n);
            }
            8 => {
                let other = &rng.pick(seeds).bytes;
                let cut = rng.below(b.len() + 1);
                let from = rng.below(other.len() + 1);
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            9 => input.cmd = *rng.pick(&Command::ALL),
            10 => {
                input.proto = if rng.chance(3) {
                    *rng.pick(&ODD_VERSIONS)
                } else {
                    *rng.pick(&VERSIONS)
                }
            }
            11 => {
                input.features = if rng.chance(2) {
                    rng.below(16) as u32
                } else {
                    rng.next() as u32
                }
            }
            12 => input.digest = *rng.pick(&[0, 1, 4, 16, 20, 32, 64, 65, 80, u32::MAX]),
            _ => {
                // Resize to exactly what the rule expects, so value checks get exercised.
                if let Some(rule) = expected_payload(input.cmd, input.proto, input.features) {
                    let n = if rule.may_have_data {
                        rule.fixed + rng.below(rule.max.min(rule.fixed + 600) - rule.fixed + 1)
                    } else {
                        rule.fixed
                    };
                    b.resize(n, 0);
                }
            }
        }
    }
}

/// Decodes one input with every entry point; checks the oracles.
fn run_packet(input: &Input, stats: &mut Stats) {
    let Input {
        cmd,
        proto,
        features,
        digest,
        ref bytes,
    } = *input;
    let len = u32::try_from(bytes.len()).unwrap();
    match decode_packet(cmd, bytes, proto, features, digest) {
        Ok(p) => {
            stats.decoded += 1;
            let rule = expected_payload(cmd, proto, features).expect("decoded without a rule");
            assert!(
                rule.check(cmd as u16, len).is_ok(),
                "decoded a length the rule refuses"
            );
            assert_eq!(p.command(), cmd, "command of the decoded packet");
            let mut out = vec![0u8; bytes.len() + 256];
            let n = p.encode(&mut out, proto).expect("re-encode");
            let again = decode_packet(cmd, &out[..n], proto, features, digest).expect("re-decode");
            assert_eq!(again, p, "decode(encode(p)) != p");
        }
        Err(_) => stats.rejected += 1,
    }
    // The individual decoders and helpers, on the same bytes.
    let _ = ConnectionFeatures::decode(bytes, proto);
    let _ = Protocol::decode(bytes, proto);
    let _ = SyncParam::decode(bytes, proto);
    let _ = Uuids::decode(bytes, proto);
    let _ = Sizes::decode_with_features(bytes, proto, features);
    let _ = State::decode(bytes, proto);
    let _ = ReqState::decode(bytes, proto);
    let _ = ReqStateReply::decode(bytes, proto);
    let _ = DataHeader::decode(bytes.get(..24).unwrap_or(bytes), proto);
    let _ = Trim::decode(bytes, proto).map(|t| t.check_capacity(u64::from(features)));
    let _ = BlockRequest::decode(bytes.get(..24).unwrap_or(bytes), proto)
        .map(|r| r.check_capacity(u64::from(digest)));
    let _ = BlockAck::decode(bytes, proto).map(|a| a.plausible());
    let _ = BlockDesc::decode(bytes, proto).map(|d| {
        let _ = d.out_of_sync_range(u64::from(features));
        d.check_deallocated(u64::from(digest))
    });
    let _ = Barrier::decode(bytes, proto);
    let _ = BarrierAck::decode(bytes, proto);
    let _ = RsUuid::decode(bytes, proto);
    let _ = DelayProbe::decode(bytes, proto);
    let _ = Empty::decode(bytes, proto);
    let _ = AuthChallenge::decode(bytes, proto).map(|c| c.is_reflection_of(bytes));
    let _ = AuthResponse::decode_expecting(bytes, digest as usize);
    let _ = CompressedBitmapHeader::decode(bytes, proto);
    let _ = plain_bitmap_words(bytes.len(), proto);
    let _ = split_body(cmd, len, digest);
    if let Ok(f) = ConnectionFeatures::decode(bytes, proto) {
        if let Ok(a) = FeatureNegotiation::DRBD_84.negotiate(&f) {
            assert!(
                (86..=101).contains(&a.protocol),
                "agreed version outside our range"
            );
        }
    }
}

/// Builds a stream of headers and payloads, partly valid, and parses it like a receiver.
fn run_stream(rng: &mut Rng, seeds: &[Input], stats: &mut Stats) -> Vec<u8> {
    let proto = if rng.chance(4) {
        0
    } else {
        *rng.pick(&VERSIONS)
    };
    let features = if rng.chance(2) { PRO_FEATURES } else { 0 };
    let mut stream = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let seed = rng.pick(seeds);
        let mut len = u32::try_from(seed.bytes.len()).unwrap();
        if rng.chance(5) {
            len = *rng.pick(&U32S);
        }
        let cmd = if rng.chance(6) {
            rng.next() as u16
        } else {
            seed.cmd as u16
        };
        let mut hdr = [0u8; 16];
        match wire::encode_header(&mut hdr, proto, 0, cmd, len) {
            Some(n) if !rng.chance(10) => stream.extend_from_slice(&hdr[..n]),
            _ => stream.extend((0..rng.below(20)).map(|_| rng.next() as u8)),
        }
        let mut body = seed.bytes.clone();
        if rng.chance(3) && !body.is_empty() {
            let i = rng.below(body.len());
            body[i] ^= rng.next() as u8;
        }
        stream.extend_from_slice(&body);
    }
    if rng.chance(3) {
        let cut = rng.below(stream.len() + 1);
        stream.truncate(cut);
    }
    let on = *rng.pick(&[Channel::Data, Channel::Meta, Channel::Handshake]);
    let mut rest = &stream[..];
    while let Ok(h) = wire::decode_header(rest, proto) {
        rest = &rest[wire::header_size(proto)..];
        if on == Channel::Handshake {
            let _ = FeatureNegotiation::DRBD_84.check_header(&h);
        }
        let Ok((cmd, rule)) = check_header(on, &h, proto, features) else {
            break;
        };
        assert!(rule.channel.accepts_on(on));
        let n = usize::try_from(h.length).unwrap().min(rest.len());
        stats.stream_packets += 1;
        match decode_packet(cmd, &rest[..n], proto, features, 0) {
            Ok(_) => stats.decoded += 1,
            Err(_) => stats.rejected += 1,
        }
        rest = &rest[n..];
    }
    stream
}

#[derive(Default)]
struct Stats {
    decoded: u64,
    rejected: u64,
    stream_packets: u64,
}

static PANIC_MESSAGE: Mutex<String> = Mutex::new(String::new());

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn usage() -> ! {
    eprintln!("usage: fuzz_decoders [--iterations N] [--seed S]");
    exit(2)
}

fn main() {
    let mut iterations: u64 = 1_000_000;
    let mut seed: u64 = 0x0d5b_d84d_5eed;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match a.as_str() {
            "--iterations" => iterations = num(),
            "--seed" => seed = num(),
            _ => usage(),
        }
    }

    panic::set_hook(Box::new(|info| {
        *PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));

    let start = Instant::now();
    let seeds = corpus();
    // The seeds themselves must decode: an encoder and decoder that disagree is a bug.
    for s in &seeds {
        if let Err(e) = decode_packet(s.cmd, &s.bytes, s.proto, s.features, s.digest) {
            eprintln!(
                "fuzz_decoders: seed does not decode: {:?} proto {} features {:#x} digest {}: {e:?}\n  input: {}",
                s.cmd,
                s.proto,
                s.features,
                s.digest,
                hex(&s.bytes)
            );
            exit(1);
        }
    }

    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    for i in 0..iterations {
        if i % 4 == 3 {
            let mut sub = Rng::new(rng.next());
            let mut sub_replay = Rng(sub.0);
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                run_stream(&mut sub, &seeds, &mut stats)
            }));
            if r.is_err() {
                let msg = PANIC_MESSAGE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                // Rebuild the stream from the same generator state to show it.
                let _ = panic::take_hook();
                let stream = panic::catch_unwind(AssertUnwindSafe(|| {
                    run_stream(&mut sub_replay, &seeds, &mut Stats::default())
                }))
                .unwrap_or_default();
                eprintln!("fuzz_decoders: CRASH in stream input {i}: {msg}");
                eprintln!("  stream: {}", hex(&stream));
                println!(
                    "fuzz_decoders: {} executions, 1 crashes, {:.2?}",
                    i + 1,
                    start.elapsed()
                );
                exit(1);
            }
            continue;
        }
        let mut input = rng.pick(&seeds).clone();
        mutate(&mut rng, &mut input, &seeds);
        if panic::catch_unwind(AssertUnwindSafe(|| run_packet(&input, &mut stats))).is_err() {
            let msg = PANIC_MESSAGE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            eprintln!(
                "fuzz_decoders: CRASH on input {i}: {:?} (0x{:04x}) proto {} features {:#x} digest {}: {msg}",
                input.cmd, input.cmd as u16, input.proto, input.features, input.digest
            );
            eprintln!(
                "  input ({} bytes): {}",
                input.bytes.len(),
                hex(&input.bytes)
            );
            println!(
                "fuzz_decoders: {} executions, 1 crashes, {:.2?}",
                i + 1,
                start.elapsed()
            );
            exit(1);
        }
    }
    println!(
        "fuzz_decoders: {} seeds; {} packets decoded, {} rejected, {} from streams",
        seeds.len(),
        stats.decoded,
        stats.rejected,
        stats.stream_packets
    );
    println!(
        "fuzz_decoders: {iterations} executions, 0 crashes, {:.2?}",
        start.elapsed()
    );
}
