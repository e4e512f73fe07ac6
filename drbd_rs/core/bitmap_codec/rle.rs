// SPDX-License-Identifier: GPL-2.0

//! The encoding byte of `p_compressed_bm` ([`Dcbp`]) and the RLE encoder and decoder of the bitmap
//! runs ([`encode_rle`], [`decode_rle`]).

use super::bitmap_access::{BitSink, BitSource};
use super::vli::{vli_decode, vli_encode, BitReader, BitWriter};
use super::{
    u64_of, CodecError, DCBP_CODE_MASK, DCBP_PAD_MASK, DCBP_PAD_SHIFT, DCBP_START, RLE_VLI_BITS,
};

/// The encoding byte of `p_compressed_bm`, split into its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dcbp {
    /// Code type (bits 0-3); only [`RLE_VLI_BITS`] is defined.
    pub code: u8,
    /// Padding bits at the end of the code (bits 4-6).
    pub pad_bits: u8,
    /// The first run is of set bits (bit 7).
    pub first_set: bool,
}

impl Dcbp {
    /// Splits an encoding byte. Every byte splits; the code type is checked by the decoder.
    pub fn parse(byte: u8) -> Dcbp {
        Dcbp {
            code: byte & DCBP_CODE_MASK,
            pad_bits: (byte >> DCBP_PAD_SHIFT) & DCBP_PAD_MASK,
            first_set: byte & DCBP_START != 0,
        }
    }

    /// The encoding byte (out-of-range fields are masked, as they cannot occur here).
    pub fn to_byte(self) -> u8 {
        (self.code & DCBP_CODE_MASK)
            | ((self.pad_bits & DCBP_PAD_MASK) << DCBP_PAD_SHIFT)
            | if self.first_set { DCBP_START } else { 0 }
    }
}

/// One encoded chunk (the code part of a `P_COMPRESSED_BITMAP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedChunk {
    /// Code bytes written to the output.
    pub len: usize,
    /// Bitmap bits the code covers, from the start bit.
    pub bits_covered: u64,
    /// Padding bits at the end of the last code byte.
    pub pad_bits: u8,
    /// The first run is of set bits.
    pub first_toggle: bool,
}

impl EncodedChunk {
    /// The encoding byte to send before the code.
    pub fn encoding(&self) -> u8 {
        Dcbp {
            code: RLE_VLI_BITS,
            pad_bits: self.pad_bits,
            first_set: self.first_toggle,
        }
        .to_byte()
    }

    /// Whether the C module would send this chunk compressed: only if some code was produced
    /// and it is not longer, in bits, than the bitmap bits it covers (`fill_bitmap_rle_bits`'s
    /// "incompressible with this method" test). Otherwise it sends plain words instead.
    pub fn pays_off(&self) -> bool {
        self.len > 0 && self.bits_covered >= u64_of(self.len).saturating_mul(8)
    }
}

/// Run-length encodes `src` from `start_bit` into `out` (`fill_bitmap_rle_bits`), as many runs
/// as fit in `out.len()` bytes, so a packet never exceeds the size the caller allows. A run that
/// does not fit ends the chunk; the next chunk starts where this one's last run ended.
///
/// The decision whether the chunk pays off is [`EncodedChunk::pays_off`];
/// [`XferCtx::send_next`](super::XferCtx::send_next) makes it as the C module does.
pub fn encode_rle(
    src: &impl BitSource,
    start_bit: u64,
    out: &mut [u8],
) -> Result<EncodedChunk, CodecError> {
    let bm_bits = src.bit_count();
    if start_bit >= bm_bits {
        return Err(CodecError::NothingToEncode);
    }
    let mut w = BitWriter::new(out);
    let mut offset = start_bit;
    // Polarity of the run being measured: the first run is the clear run at `start_bit`
    // unless that bit is set, in which case the empty clear run is skipped and the encoding
    // byte says the first run is set.
    let mut in_set_run = false;
    let mut first_toggle = false;
    let mut first = true;
    while offset < bm_bits {
        let next = src.find_next(offset, !in_set_run).clamp(offset, bm_bits);
        let rl = next - offset;
        if first {
            first = false;
            if rl == 0 {
                first_toggle = true;
                in_set_run = true;
                continue;
            }
        }
        if rl == 0 {
            return Err(CodecError::ZeroRun { at: offset });
        }
        let code = match vli_encode(rl) {
            Ok(c) => c,
            Err(_) => return Err(CodecError::RunTooLong { len: rl }),
        };
        if w.put(code.code, code.bits).is_err() {
            break;
        }
        in_set_run = !in_set_run;
        offset = next;
    }
    Ok(EncodedChunk {
        len: w.bytes(),
        bits_covered: offset - start_bit,
        pad_bits: w.pad_bits(),
        first_toggle,
    })
}

/// Decodes one chunk of RLE code into runs, calling `set(first, end)` for every set run, and
/// returns the bit offset after the last run. Everything is checked before `set` is first
/// called, so on error nothing was set; `set` only ever sees `start_bit <= first < end <=
/// bm_bits`.
pub fn decode_rle_runs(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bm_bits: u64,
    start_bit: u64,
    mut set: impl FnMut(u64, u64),
) -> Result<u64, CodecError> {
    let end = walk_runs(
        code,
        first_toggle,
        pad_bits,
        bm_bits,
        start_bit,
        &mut |_, _| {},
    )?;
    walk_runs(code, first_toggle, pad_bits, bm_bits, start_bit, &mut set)?;
    Ok(end)
}

fn walk_runs(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bm_bits: u64,
    start_bit: u64,
    set: &mut impl FnMut(u64, u64),
) -> Result<u64, CodecError> {
    if code.is_empty() {
        return Err(CodecError::PacketTooSmall { len: 0 });
    }
    if start_bit > bm_bits {
        return Err(CodecError::StartPastEnd {
            start: start_bit,
            bm_bits,
        });
    }
    let mut r = BitReader::new(code, pad_bits)?;
    if r.remaining() == 0 {
        return Err(CodecError::BadPadBits { pad_bits });
    }
    if pad_bits > 0 {
        let last = code.last().copied().unwrap_or(0);
        let used = 8 - u32::from(pad_bits);
        if u64::from(last) >> used != 0 {
            return Err(CodecError::NonZeroPadding { byte: last });
        }
    }
    let mut s = start_bit;
    let mut toggle = first_toggle;
    while r.remaining() > 0 {
        let (look, have) = r.peek();
        let (rl, bits) = vli_decode(look);
        if bits > have {
            return Err(CodecError::TruncatedCode {
                at_bit: r.position(),
                need: bits,
                have,
            });
        }
        r.advance(bits);
        let e = match s.checked_add(rl) {
            Some(e) if e <= bm_bits => e,
            _ => {
                return Err(CodecError::RunPastEnd {
                    start: s,
                    len: rl,
                    bm_bits,
                })
            }
        };
        if toggle {
            set(s, e);
        }
        s = e;
        toggle = !toggle;
    }
    Ok(s)
}

/// Decodes one chunk of RLE code (the bytes after the encoding byte) into `bitmap`, a bitmap
/// of `bm_bits` bits, starting at `start_bit`; set runs are ORed in. Returns the bits covered.
/// Hostile input is refused (see [`CodecError`]) without touching `bitmap`, and no bit at or
/// above `bm_bits` is ever written.
pub fn decode_rle(
    code: &[u8],
    first_toggle: bool,
    pad_bits: u8,
    bitmap: &mut [u64],
    bm_bits: u64,
    start_bit: u64,
) -> Result<u64, CodecError> {
    let capacity = bitmap.capacity_bits();
    if bm_bits > capacity {
        return Err(CodecError::BitmapTooSmall { bm_bits, capacity });
    }
    let end = decode_rle_runs(code, first_toggle, pad_bits, bm_bits, start_bit, |a, b| {
        bitmap.set_range(a, b)
    })?;
    Ok(end - start_bit)
}
