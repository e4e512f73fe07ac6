//! Bitmap exchange: the VLI code table of `drbd_vli.h`, the RLE encoder and decoder of
//! `fill_bitmap_rle_bits` / `recv_bm_rle_bits`, the plain `P_BITMAP` word layout, and the
//! packet-by-packet transfer of `send_bitmap_rle_or_plain` / `receive_bitmap`, including what a
//! hostile peer may send.

use drbd_core::bitmap_codec::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// VLI
// ---------------------------------------------------------------------------------------------

/// For each level of the documented table: the smallest and the largest value, with the code
/// word `((value - base) << prefix_bits) | prefix` and its length.
const VLI_GOLDEN: [(u64, u64, u32); 20] = [
    // prefix 0, 1 data bit
    (1, 0b0_0, 2),
    (2, 0b1_0, 2),
    // prefix 10 (0b01), 1 data bit
    (3, 0b0_01, 3),
    (4, 0b1_01, 3),
    // prefix 110 (0b011), 2 data bits
    (5, 0b00_011, 5),
    (8, 0b11_011, 5),
    // prefix 1110, 3 data bits
    (9, 0b000_0111, 7),
    (0x10, 0b111_0111, 7),
    // prefix 11110, 5 data bits
    (0x11, 0x0f, 10),
    (0x30, (0x1f << 5) | 0x0f, 10),
    // prefix 111110, 8 data bits
    (0x31, 0x1f, 14),
    (0x130, (0xff << 6) | 0x1f, 14),
    // prefix 11111100 (0x3f), 13 data bits
    (0x131, 0x3f, 21),
    (0x2130, (0x1fff << 8) | 0x3f, 21),
    // prefix 11111110 (0x7f), 21 data bits
    (0x2131, 0x7f, 29),
    (0x20_2130, (0x1f_ffff << 8) | 0x7f, 29),
    // prefix 11111101 (0xbf), 34 data bits
    (0x20_2131, 0xbf, 42),
    (0x4_0020_2130, (0x3_ffff_ffff << 8) | 0xbf, 42),
    // prefix 11111111, 56 data bits
    (0x4_0020_2131, 0xff, 64),
    (VLI_MAX, u64::MAX, 64),
];

#[test]
fn vli_golden_values() {
    for (value, code, bits) in VLI_GOLDEN {
        assert_eq!(
            vli_encode(value),
            Ok(VliCode { code, bits }),
            "encode {:#x}",
            value
        );
        assert_eq!(vli_decode(code), (value, bits), "decode {:#x}", code);
    }
    assert_eq!(VLI_MAX, 0x0100_0004_0020_2130);
    assert_eq!(vli_encode(0), Err(VliError::Zero));
    assert_eq!(
        vli_encode(VLI_MAX + 1),
        Err(VliError::TooLarge(VLI_MAX + 1))
    );
    assert_eq!(vli_encode(u64::MAX), Err(VliError::TooLarge(u64::MAX)));
    // Every bit pattern decodes: the all-zero word is a run of 1.
    assert_eq!(vli_decode(0), (1, 2));
}

// ---------------------------------------------------------------------------------------------
// Bit streams
// ---------------------------------------------------------------------------------------------

#[test]
fn bit_writer_and_reader() {
    let mut buf = [0xffu8; 4];
    let mut w = BitWriter::new(&mut buf);
    w.put(0b101, 3).unwrap();
    w.put(0x3ff, 10).unwrap();
    assert_eq!((w.bits(), w.bytes(), w.pad_bits()), (13, 2, 3));
    assert_eq!(w.put(0, 20), Err(CodecError::BufferFull { bits: 20 }));
    assert_eq!(w.put(0, 65), Err(CodecError::TooWide { bits: 65 }));
    w.put(u64::MAX, 19).unwrap();
    assert_eq!(w.put(1, 1), Err(CodecError::BufferFull { bits: 1 }));
    assert_eq!(buf, [0b1111_1101, 0xff, 0xff, 0xff]);

    let data = [0b1111_1101u8, 0b0001_1111];
    let mut r = BitReader::new(&data, 3).unwrap();
    assert_eq!(r.remaining(), 13);
    assert_eq!(r.get(3), Ok(0b101));
    assert_eq!(r.peek(), (0x3ff, 10));
    assert_eq!(
        r.get(11),
        Err(CodecError::TruncatedCode {
            at_bit: 3,
            need: 11,
            have: 10
        })
    );
    assert_eq!(r.get(10), Ok(0x3ff));
    assert_eq!(r.remaining(), 0);
    assert_eq!(r.peek(), (0, 0));
    assert_eq!(
        BitReader::new(&data, 8).err(),
        Some(CodecError::BadPadBits { pad_bits: 8 })
    );
    assert_eq!(
        BitReader::new(&[], 1).err(),
        Some(CodecError::BadPadBits { pad_bits: 1 })
    );

    // A 64-bit read at an odd bit offset spans nine bytes.
    let data: Vec<u8> = (1..=10).collect();
    let mut r = BitReader::new(&data, 0).unwrap();
    r.advance(5);
    let mut wide = [0u8; 16];
    wide[..10].copy_from_slice(&data);
    let expect = (u128::from_le_bytes(wide) >> 5) as u64;
    assert_eq!(r.peek(), (expect, 64));
}

// ---------------------------------------------------------------------------------------------
// Encoding byte and plain words
// ---------------------------------------------------------------------------------------------

#[test]
fn encoding_byte_fields() {
    for b in 0..=255u8 {
        let d = Dcbp::parse(b);
        assert_eq!(d.to_byte(), b);
        assert_eq!(d.code, b & 0x0f);
        assert_eq!(d.pad_bits, (b >> 4) & 7);
        assert_eq!(d.first_set, b & 0x80 != 0);
        // Same reading as the packet layer's header.
        let pkt = drbd_core::packets::CompressedBitmapHeader::new(d.first_set, d.pad_bits);
        if d.code == RLE_VLI_BITS {
            assert_eq!(pkt.encoding(), b);
        }
    }
}

#[test]
fn plain_words_are_little_endian() {
    // Bit n of the bitmap is bit n % 8 of byte n / 8.
    assert_eq!(plain_word_to_wire(1), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(plain_word_to_wire(1 << 9), [0, 2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(plain_word_to_wire(1 << 63), [0, 0, 0, 0, 0, 0, 0, 0x80]);
    assert_eq!(
        plain_word_from_wire([0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0]),
        0x1234_5678
    );

    let words = [0x0123_4567_89ab_cdefu64, u64::MAX];
    let bm = WordBitmap::new(&words, 100).unwrap();
    let mut out = [0u8; 24];
    assert_eq!(encode_plain_words(&bm, 0, &mut out), 2);
    assert_eq!(&out[..8], &0x0123_4567_89ab_cdefu64.to_le_bytes());
    // Surplus bits of the last word (100..128) are not sent.
    assert_eq!(&out[8..16], &((1u64 << 36) - 1).to_le_bytes());
    assert_eq!(encode_plain_words(&bm, 1, &mut out), 1);
    assert_eq!(encode_plain_words(&bm, 2, &mut out), 0);

    // Merging ORs, and clears surplus bits a peer might send.
    let mut dst = [0x10u64, 0, 0];
    let mut payload = Vec::new();
    payload.extend_from_slice(&1u64.to_le_bytes());
    payload.extend_from_slice(&u64::MAX.to_le_bytes());
    payload.extend_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(merge_plain_words(&payload, 0, 100, &mut dst[..]), 2);
    assert_eq!(dst, [0x11, (1 << 36) - 1, 0]);
}

// ---------------------------------------------------------------------------------------------
// RLE golden streams
// ---------------------------------------------------------------------------------------------

fn bits_to_words(bits: &[bool]) -> Vec<u64> {
    let mut w = vec![0u64; bits.len().div_ceil(64).max(1)];
    for (i, b) in bits.iter().enumerate() {
        if *b {
            w[i / 64] |= 1 << (i % 64);
        }
    }
    w
}

fn runs_to_bits(first_set: bool, runs: &[u64]) -> Vec<bool> {
    let mut v = Vec::new();
    let mut set = first_set;
    for &r in runs {
        v.extend(std::iter::repeat_n(set, r as usize));
        set = !set;
    }
    v
}

#[test]
fn rle_golden_clear_first() {
    // 20 bits: clear 3, set 5, clear 12. Codes: 3 -> 001 (3 bits), 5 -> 00011 (5 bits),
    // 12 -> 0110111 (7 bits): 15 bits, 2 bytes, 1 pad bit.
    let bits = runs_to_bits(false, &[3, 5, 12]);
    let words = bits_to_words(&bits);
    let bm = WordBitmap::new(&words, 20).unwrap();
    let mut out = [0xaau8; 16];
    let c = encode_rle(&bm, 0, &mut out).unwrap();
    assert_eq!(
        c,
        EncodedChunk {
            len: 2,
            bits_covered: 20,
            pad_bits: 1,
            first_toggle: false
        }
    );
    assert_eq!(&out[..2], &[0x19, 0x37]);
    assert!(out[2..].iter().all(|&b| b == 0), "the rest is zeroed");
    assert_eq!(c.encoding(), 0x12);
    assert!(c.pays_off());

    let mut back = [0u64; 1];
    assert_eq!(decode_rle(&out[..2], false, 1, &mut back, 20, 0), Ok(20));
    assert_eq!(back[0], words[0]);
}

#[test]
fn rle_golden_set_first() {
    // 10 bits: set 5, clear 5. The first (empty) clear run is skipped; bit 7 of the encoding
    // byte says the first run is set. Codes 00011, 00011: 10 bits, 6 pad bits.
    let words = [0b11111u64];
    let bm = WordBitmap::new(&words, 10).unwrap();
    let mut out = [0u8; 4];
    let c = encode_rle(&bm, 0, &mut out).unwrap();
    assert_eq!(
        c,
        EncodedChunk {
            len: 2,
            bits_covered: 10,
            pad_bits: 6,
            first_toggle: true
        }
    );
    assert_eq!(&out[..2], &[0x63, 0x00]);
    assert_eq!(c.encoding(), 0xe2);
    // 10 bits covered by 16 code bits: not worth it.
    assert!(!c.pays_off());
}

#[test]
fn rle_starts_mid_bitmap_and_mid_run() {
    let bits = runs_to_bits(false, &[100, 50, 30]);
    let words = bits_to_words(&bits);
    let bm = WordBitmap::new(&words, 180).unwrap();
    let mut out = [0u8; 32];
    // Start inside the set run: first_toggle set, first run 20 long.
    let c = encode_rle(&bm, 130, &mut out).unwrap();
    assert!(c.first_toggle);
    assert_eq!(c.bits_covered, 50);
    let mut back = [0u64; 3];
    assert_eq!(
        decode_rle(&out[..c.len], true, c.pad_bits, &mut back, 180, 130),
        Ok(50)
    );
    let mut expect = [0u64; 3];
    for i in 130..150 {
        expect[i / 64] |= 1 << (i % 64);
    }
    assert_eq!(back, expect);
    assert_eq!(
        encode_rle(&bm, 180, &mut out),
        Err(CodecError::NothingToEncode)
    );
}

#[test]
fn rle_packet_size_limit_is_honoured() {
    // Alternating bits: every run is 1 long (2 code bits).
    let words = vec![0x5555_5555_5555_5555u64; 8];
    let bm = WordBitmap::new(&words, 512).unwrap();
    for size in 0..=40 {
        let mut out = vec![0u8; size];
        let c = encode_rle(&bm, 0, &mut out).unwrap();
        assert!(c.len <= size);
        assert_eq!(c.bits_covered, (size * 4).min(512) as u64, "size {}", size);
        // 1 plain bit costs 2 code bits: never pays off.
        assert!(!c.pays_off());
    }
    // A huge clear run fits in a few bytes.
    let words = vec![0u64; 1 << 14];
    let bm = WordBitmap::new(&words, 1 << 20).unwrap();
    let mut out = [0u8; 4];
    let c = encode_rle(&bm, 0, &mut out).unwrap();
    assert_eq!((c.len, c.bits_covered), (4, 1 << 20));
    assert!(c.pays_off());
    // With 3 bytes it does not fit at all: nothing covered, the caller goes plain.
    let mut out = [0u8; 3];
    let c = encode_rle(&bm, 0, &mut out).unwrap();
    assert_eq!((c.len, c.bits_covered), (0, 0));
    assert!(!c.pays_off());
}

#[test]
fn pays_off_boundary_matches_c() {
    // C: incompressible if plain_bits < len * 8; equal is sent compressed.
    let c = EncodedChunk {
        len: 3,
        bits_covered: 24,
        pad_bits: 0,
        first_toggle: false,
    };
    assert!(c.pays_off());
    assert!(!EncodedChunk {
        bits_covered: 23,
        ..c
    }
    .pays_off());
}

// ---------------------------------------------------------------------------------------------
// The transfer
// ---------------------------------------------------------------------------------------------

/// Runs a whole transfer from `words` (with `bm_bits` bits) and returns the received bitmap,
/// the packets as (compressed?, payload length), and both contexts.
fn transfer(
    words: &[u64],
    bm_bits: u64,
    use_rle: bool,
    header: usize,
    buffer: usize,
) -> (Vec<u64>, Vec<(bool, usize)>, XferCtx, XferCtx) {
    let src = WordBitmap::new(words, bm_bits).unwrap();
    let mut tx = XferCtx::with_buffer_size(bm_bits, buffer);
    let mut rx = XferCtx::with_buffer_size(bm_bits, buffer);
    let mut dst = vec![0u64; bm_words(bm_bits) as usize];
    let mut pkts = Vec::new();
    let mut out = vec![0u8; buffer];
    for _ in 0..1_000_000 {
        let (pkt, step) = tx.send_next(&src, use_rle, header, &mut out).unwrap();
        let rx_step = match pkt {
            BitmapPacket::Compressed { len } => {
                assert!(len <= buffer - header && len >= 2);
                pkts.push((true, len));
                rx.receive_compressed(&out[..len], header, &mut dst[..])
                    .unwrap()
            }
            BitmapPacket::Plain { len } => {
                assert!(len <= buffer - header && len % 8 == 0);
                pkts.push((false, len));
                rx.receive_plain(&out[..len], header, &mut dst[..]).unwrap()
            }
        };
        assert_eq!(rx_step, step, "both sides agree when the transfer ends");
        assert_eq!(
            (rx.bit_offset, rx.word_offset),
            (tx.bit_offset, tx.word_offset)
        );
        if step == Step::Done {
            return (dst, pkts, tx, rx);
        }
    }
    panic!("transfer did not end");
}

fn masked(words: &[u64], bm_bits: u64) -> Vec<u64> {
    let mut v: Vec<u64> = words[..bm_words(bm_bits) as usize].to_vec();
    if !bm_bits.is_multiple_of(64) {
        if let Some(last) = v.last_mut() {
            *last &= (1u64 << (bm_bits % 64)) - 1;
        }
    }
    v
}

#[test]
fn transfer_of_an_empty_bitmap_is_one_compressed_packet() {
    // 4 GiB of storage, all in sync: one 5-byte P_COMPRESSED_BITMAP.
    let bm_bits = 1u64 << 20;
    let words = vec![0u64; 1 << 14];
    let (dst, pkts, tx, rx) = transfer(&words, bm_bits, true, 16, DRBD_SOCKET_BUFFER_SIZE);
    assert_eq!(pkts, [(true, 5)]);
    assert_eq!(dst, words);
    let line = tx.stats("send", 16).unwrap().to_string();
    assert_eq!(
        line,
        "send bitmap stats [Bytes(packets)]: plain 0(0), RLE 21(1), total 21; compression: 100.0%"
    );
    assert_eq!(rx.stats("receive", 16).unwrap().direction, "receive");
}

#[test]
fn transfer_without_rle_is_plain_and_ends_with_an_empty_packet() {
    let bm_bits = 600 * 64 + 5;
    let words: Vec<u64> = (0..601u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let (dst, pkts, tx, _) = transfer(&words, bm_bits, false, 16, DRBD_SOCKET_BUFFER_SIZE);
    // 4080 / 8 = 510 words per packet, then 91, then the empty end marker.
    assert_eq!(pkts, [(false, 4080), (false, 728), (false, 0)]);
    assert_eq!(dst, masked(&words, bm_bits));
    // Nothing gained: the C module prints no statistics.
    assert_eq!(tx.stats("send", 16), None);
    // With 8-byte headers a packet holds 511 words.
    let (_, pkts, _, _) = transfer(&words, bm_bits, false, 8, DRBD_SOCKET_BUFFER_SIZE);
    assert_eq!(pkts, [(false, 4088), (false, 720), (false, 0)]);
}

#[test]
fn transfer_mixes_compressed_and_plain() {
    // 4096 words: alternating bits (runs of 1, two code bits each) in the middle, long runs
    // around them.
    let mut words = vec![0u64; 4096];
    for w in &mut words[1000..1600] {
        *w = 0x5555_5555_5555_5555;
    }
    for w in &mut words[3000..3500] {
        *w = u64::MAX;
    }
    let bm_bits = 4096 * 64 - 3;
    let (dst, pkts, tx, _) = transfer(&words, bm_bits, true, 16, DRBD_SOCKET_BUFFER_SIZE);
    assert_eq!(dst, masked(&words, bm_bits));
    // Zeros plus the start of the noise fill a buffer and pay off; the rest of the noise does
    // not, so one buffer of plain words follows (from the word holding the first unsent bit),
    // then the three long runs of the tail: 3 x 29 code bits, 11 bytes + the encoding byte.
    assert_eq!(
        pkts,
        [(true, 4080), (false, 4080), (true, 12)],
        "{:?}",
        pkts
    );
    assert_eq!(tx.packets[0] as usize, pkts.iter().filter(|p| p.0).count());
    assert!(tx.stats("send", 16).is_some());
}

#[test]
fn transfer_of_a_zero_bit_bitmap() {
    let (dst, pkts, _, _) = transfer(&[], 0, true, 16, DRBD_SOCKET_BUFFER_SIZE);
    assert!(dst.is_empty());
    assert_eq!(pkts, [(false, 0)]);
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_rle_code_is_rejected_without_writing() {
    let mut bm = [0u64; 2];
    // No code at all.
    assert_eq!(
        decode_rle(&[], false, 0, &mut bm, 128, 0),
        Err(CodecError::PacketTooSmall { len: 0 })
    );
    // Pad-bit count out of range, or eating every bit.
    assert_eq!(
        decode_rle(&[0], false, 8, &mut bm, 128, 0),
        Err(CodecError::BadPadBits { pad_bits: 8 })
    );
    // Non-zero padding (the golden stream with its pad bit set).
    assert_eq!(
        decode_rle(&[0x19, 0xb7], false, 1, &mut bm, 20, 0),
        Err(CodecError::NonZeroPadding { byte: 0xb7 })
    );
    // Truncated code word: eight 1 bits start a 64-bit word.
    assert_eq!(
        decode_rle(&[0xff], true, 0, &mut bm, 128, 0),
        Err(CodecError::TruncatedCode {
            at_bit: 0,
            need: 64,
            have: 8
        })
    );
    // One valid bit left over after a complete word.
    assert_eq!(
        decode_rle(&[0b0_00], true, 5, &mut bm, 128, 0),
        Err(CodecError::TruncatedCode {
            at_bit: 2,
            need: 2,
            have: 1
        })
    );
    // A set run past the end (run 5 from bit 0 of a 4-bit bitmap).
    assert_eq!(
        decode_rle(&[0x03], true, 3, &mut bm, 4, 0),
        Err(CodecError::RunPastEnd {
            start: 0,
            len: 5,
            bm_bits: 4
        })
    );
    // A clear run past the end (the C receiver would accept it and wait for more).
    assert_eq!(
        decode_rle(&[0x03], false, 3, &mut bm, 4, 0),
        Err(CodecError::RunPastEnd {
            start: 0,
            len: 5,
            bm_bits: 4
        })
    );
    // A later run overflows after an earlier one set bits: nothing is written.
    // Runs: set 2 (code 10), clear 2 (10), set 100 -> past 64.
    let mut buf = [0u8; 4];
    let mut wr = BitWriter::new(&mut buf);
    for v in [2u64, 2, 100] {
        let c = vli_encode(v).unwrap();
        wr.put(c.code, c.bits).unwrap();
    }
    let (len, pad) = (wr.bytes(), wr.pad_bits());
    let mut small = [0u64; 1];
    assert!(matches!(
        decode_rle(&buf[..len], true, pad, &mut small, 64, 0),
        Err(CodecError::RunPastEnd {
            start: 4,
            len: 100,
            ..
        })
    ));
    assert_eq!(small, [0]);
    // Start beyond the end; storage smaller than the bit count.
    assert_eq!(
        decode_rle(&[0], false, 0, &mut bm, 128, 129),
        Err(CodecError::StartPastEnd {
            start: 129,
            bm_bits: 128
        })
    );
    assert_eq!(
        decode_rle(&[0], false, 0, &mut bm, 129, 0),
        Err(CodecError::BitmapTooSmall {
            bm_bits: 129,
            capacity: 128
        })
    );
    assert_eq!(bm, [0, 0]);
}

#[test]
fn hostile_packets_are_rejected() {
    let mut bm = vec![0u64; 100];
    let mut rx = XferCtx::new(6400);
    // Sizes checked as receive_bitmap does.
    assert_eq!(
        rx.receive_compressed(&[0x02], 16, &mut bm[..]),
        Err(CodecError::PacketTooSmall { len: 1 })
    );
    assert_eq!(
        rx.receive_compressed(&[], 16, &mut bm[..]),
        Err(CodecError::PacketTooSmall { len: 0 })
    );
    assert_eq!(
        rx.receive_compressed(&vec![0x02; 4081], 16, &mut bm[..]),
        Err(CodecError::PacketTooLarge {
            len: 4081,
            max: 4080
        })
    );
    // Unknown encodings (RLE_VLI_Bytes = 0 was never used on the wire).
    for enc in [0x00u8, 0x01, 0x03, 0x8f] {
        assert_eq!(
            rx.receive_compressed(&[enc, 0], 16, &mut bm[..]),
            Err(CodecError::UnknownEncoding(enc))
        );
    }
    // A plain packet of the wrong size.
    assert_eq!(
        rx.receive_plain(&[0; 8], 16, &mut bm[..]),
        Err(CodecError::PlainSizeMismatch { want: 800, got: 8 })
    );
    // Storage too small for the transfer.
    assert!(matches!(
        rx.receive_plain(&[0; 800], 16, &mut bm[..10]),
        Err(CodecError::BitmapTooSmall { .. })
    ));
    // A header size that leaves no room.
    assert_eq!(
        rx.receive_plain(&[], 4095, &mut bm[..]),
        Err(CodecError::BadHeaderSize(4095))
    );
    assert!(bm.iter().all(|&w| w == 0));
    assert_eq!(rx.bit_offset, 0);
}

#[test]
fn sender_refuses_a_bitmap_of_another_size() {
    let words = [0u64; 2];
    let src = WordBitmap::new(&words, 100).unwrap();
    let mut tx = XferCtx::new(128);
    let mut out = [0u8; 4096];
    assert_eq!(
        tx.send_next(&src, true, 16, &mut out),
        Err(CodecError::BitCountMismatch {
            expected: 128,
            got: 100
        })
    );
    let mut tx = XferCtx::new(100);
    assert_eq!(
        tx.send_next(&src, true, 16, &mut out[..100]),
        Err(CodecError::OutputTooSmall {
            need: 4080,
            have: 100
        })
    );
    assert!(WordBitmap::new(&words, 129).is_err());
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// A bitmap built from runs of mixed lengths (short noise and long stretches), its bit count
/// and its words.
fn run_bitmap() -> impl Strategy<Value = (Vec<u64>, u64)> {
    (
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![4 => 1u64..8, 2 => 8u64..300, 1 => 300u64..20_000],
            0..60,
        ),
        0u64..64,
    )
        .prop_map(|(first, runs, extra)| {
            let total: u64 = runs.iter().sum::<u64>() + extra;
            let mut words = vec![0u64; total.div_ceil(64).max(1) as usize];
            let mut pos = 0u64;
            let mut set = first;
            for r in runs {
                if set {
                    words[..].set_range(pos, pos + r);
                }
                pos += r;
                set = !set;
            }
            (words, total)
        })
}

fn random_bitmap() -> impl Strategy<Value = (Vec<u64>, u64)> {
    prop::collection::vec(any::<u64>(), 1..40).prop_flat_map(|w| {
        let max = w.len() as u64 * 64;
        (Just(w), 0..=max)
    })
}

fn any_bitmap() -> impl Strategy<Value = (Vec<u64>, u64)> {
    prop_oneof![run_bitmap(), random_bitmap()]
}

proptest! {
    #[test]
    fn vli_round_trip(v in 1u64..=VLI_MAX, garbage in any::<u64>()) {
        let c = vli_encode(v).unwrap();
        prop_assert!((2..=64).contains(&c.bits));
        prop_assert_eq!(vli_decode(c.code), (v, c.bits));
        // Whatever follows the word in the stream does not change it.
        let follow = if c.bits == 64 { 0 } else { garbage << c.bits };
        prop_assert_eq!(vli_decode(c.code | follow), (v, c.bits));
    }

    #[test]
    fn vli_small_values_round_trip(v in 1u64..100_000) {
        let c = vli_encode(v).unwrap();
        prop_assert_eq!(vli_decode(c.code), (v, c.bits));
    }

    #[test]
    fn vli_decode_is_total(x in any::<u64>()) {
        let (v, bits) = vli_decode(x);
        prop_assert!((1..=VLI_MAX).contains(&v));
        prop_assert_eq!(vli_encode(v).unwrap().bits, bits);
    }

    #[test]
    fn rle_round_trip_any_chunking((words, bm_bits) in any_bitmap(), sizes in prop::collection::vec(1usize..48, 1..8)) {
        prop_assume!(bm_bits > 0);
        let src = WordBitmap::new(&words, bm_bits).unwrap();
        let mut dst = vec![0u64; words.len()];
        let mut pos = 0u64;
        let mut i = 0;
        let mut stalls = 0;
        while pos < bm_bits {
            let size = sizes[i % sizes.len()];
            i += 1;
            let mut out = vec![0u8; size];
            let c = encode_rle(&src, pos, &mut out).unwrap();
            prop_assert!(c.len <= size);
            if c.bits_covered == 0 {
                // Not even one code word fits this size; a C sender would go plain here.
                prop_assert_eq!(c.len, 0);
                stalls += 1;
                prop_assume!(stalls < 1000);
                // Take the next size; 8 bytes always fit a word.
                if sizes.iter().all(|&s| s < 8) { prop_assume!(false); }
                continue;
            }
            let got = decode_rle(&out[..c.len], c.first_toggle, c.pad_bits, &mut dst, bm_bits, pos).unwrap();
            prop_assert_eq!(got, c.bits_covered);
            pos += c.bits_covered;
        }
        prop_assert_eq!(pos, bm_bits);
        let n = bm_words(bm_bits) as usize;
        prop_assert_eq!(&dst[..n], &masked(&words, bm_bits)[..]);
        prop_assert!(dst[n..].iter().all(|&w| w == 0));
    }

    #[test]
    fn transfer_round_trip(
        (words, bm_bits) in any_bitmap(),
        use_rle in any::<bool>(),
        header in prop_oneof![Just(8usize), Just(16usize)],
        buffer in prop_oneof![Just(DRBD_SOCKET_BUFFER_SIZE), 24usize..300],
    ) {
        let (dst, pkts, tx, rx) = transfer(&words, bm_bits, use_rle, header, buffer);
        prop_assert_eq!(&dst[..], &masked(&words, bm_bits)[..]);
        prop_assert_eq!(tx.packets, rx.packets);
        prop_assert_eq!(tx.bytes, rx.bytes);
        if !use_rle {
            prop_assert!(pkts.iter().all(|p| !p.0));
        }
        for (compressed, len) in pkts {
            prop_assert!(len <= buffer - header);
            if compressed {
                prop_assert!(len >= 2);
            }
        }
    }

    #[test]
    fn decode_of_arbitrary_bytes_stays_in_bounds(
        code in prop::collection::vec(any::<u8>(), 0..64),
        first in any::<bool>(),
        pad in 0u8..10,
        words in 1usize..6,
        bm_bits_frac in 0u64..=1000,
        start_frac in 0u64..=1100,
        fill in any::<u64>(),
    ) {
        let bm_bits = words as u64 * 64 * bm_bits_frac / 1000;
        let start = bm_bits * start_frac / 1000;
        // The bitmap lives between guard words; it starts with arbitrary content.
        let mut storage = vec![fill; words + 2];
        let before = storage.clone();
        let res = decode_rle(&code, first, pad, &mut storage[1..=words], bm_bits, start);
        prop_assert_eq!(storage[0], fill);
        prop_assert_eq!(storage[words + 1], fill);
        match res {
            Err(_) => prop_assert_eq!(&storage, &before),
            Ok(covered) => {
                prop_assert!(start + covered <= bm_bits);
                // Only bits in [start, start + covered) may have changed, and only to 1.
                for bit in 0..(words as u64 * 64) {
                    let i = 1 + (bit / 64) as usize;
                    let m = 1u64 << (bit % 64);
                    let was = before[i] & m != 0;
                    let now = storage[i] & m != 0;
                    if bit < start || bit >= start + covered {
                        prop_assert_eq!(was, now, "bit {} outside the chunk changed", bit);
                    } else {
                        prop_assert!(now || !was);
                    }
                }
            }
        }
    }

    #[test]
    fn receivers_never_panic_on_arbitrary_packets(
        payload in prop::collection::vec(any::<u8>(), 0..200),
        bm_bits in 0u64..5000,
        offset_frac in 0u64..=1000,
        plain in any::<bool>(),
        header in prop_oneof![Just(8usize), Just(16usize)],
        buffer in 20usize..200,
    ) {
        let words = bm_words(bm_bits) as usize;
        let mut storage = vec![0u64; words + 1];
        let mut rx = XferCtx::with_buffer_size(bm_bits, buffer);
        rx.bit_offset = bm_bits * offset_frac / 1000;
        rx.word_offset = rx.bit_offset / 64;
        let res = if plain {
            rx.receive_plain(&payload, header, &mut storage[..words])
        } else {
            rx.receive_compressed(&payload, header, &mut storage[..words])
        };
        prop_assert_eq!(storage[words], 0);
        if res.is_ok() {
            prop_assert!(rx.bit_offset <= bm_bits);
        }
        // No bit at or above bm_bits is ever set.
        if bm_bits % 64 != 0 && words > 0 {
            prop_assert_eq!(storage[words - 1] >> (bm_bits % 64), 0);
        }
    }
}

proptest! {
    /// The receiver merges: a transfer ORs the sender's bits into what the receiver's bitmap
    /// already holds (`drbd_bm_merge_lel` / set runs only), so after the two-way exchange both
    /// sides hold the union, and surplus bits beyond `bm_bits` stay clear.
    #[test]
    fn transfer_merges_into_the_receivers_bits(
        (words, bm_bits) in any_bitmap(),
        seed in any::<u64>(),
        density in 0u32..4,
        use_rle in any::<bool>(),
        buffer in prop_oneof![Just(DRBD_SOCKET_BUFFER_SIZE), 24usize..300],
    ) {
        let n = bm_words(bm_bits) as usize;
        let header = 16;
        // The receiver's own bits: pseudo-random words, sparse to dense.
        let mut x = seed;
        let mine: Vec<u64> = (0..n.max(1))
            .map(|_| {
                let mut w = u64::MAX;
                for _ in 0..density {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    w &= x;
                }
                if density == 0 { 0 } else { w }
            })
            .collect();
        let mut dst = masked(&mine, bm_bits);
        let before = dst.clone();
        let src = WordBitmap::new(&words, bm_bits).unwrap();
        let mut tx = XferCtx::with_buffer_size(bm_bits, buffer);
        let mut rx = XferCtx::with_buffer_size(bm_bits, buffer);
        let mut out = vec![0u8; buffer];
        loop {
            let (pkt, step) = tx.send_next(&src, use_rle, header, &mut out).unwrap();
            let got = match pkt {
                BitmapPacket::Compressed { len } => rx.receive_compressed(&out[..len], header, &mut dst[..]),
                BitmapPacket::Plain { len } => rx.receive_plain(&out[..len], header, &mut dst[..]),
            }.unwrap();
            prop_assert_eq!(got, step);
            if step == Step::Done {
                break;
            }
        }
        let theirs = masked(&words, bm_bits);
        for i in 0..n {
            prop_assert_eq!(dst[i], before[i] | theirs[i], "word {}", i);
        }
    }
}
