// SPDX-License-Identifier: GPL-2.0

//! The transfer, packet by packet: the state both sides keep ([`XferCtx`]), which packet a sender
//! step produces ([`BitmapPacket`], [`Step`]) and the statistics logged at the end ([`XferStats`]).

use super::bitmap_access::{bm_words, BitSink, BitSource};
use super::plain::{encode_plain_words, merge_plain_words};
use super::rle::{decode_rle_runs, encode_rle, Dcbp};
use super::{trunc32, u64_of, usize_of, CodecError, DRBD_SOCKET_BUFFER_SIZE, RLE_VLI_BITS};
use core::fmt;

/// Which packet a sender step produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapPacket {
    /// `P_COMPRESSED_BITMAP` with this payload length (encoding byte included).
    Compressed {
        /// Payload bytes.
        len: usize,
    },
    /// `P_BITMAP` with this payload length (0 for the empty packet that ends a transfer whose
    /// last data went plain).
    Plain {
        /// Payload bytes.
        len: usize,
    },
}

/// Whether the transfer goes on after a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// More packets follow.
    More,
    /// That was the last packet.
    Done,
}

/// State of one bitmap transfer in one direction (`struct bm_xfer_ctx`). Sender and receiver
/// each keep one and advance it identically, so the receiver knows where each packet starts
/// and how big a plain packet must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XferCtx {
    /// Bits in the bitmap.
    pub bm_bits: u64,
    /// 64-bit words in the bitmap.
    pub bm_words: u64,
    /// Next bit to transfer.
    pub bit_offset: u64,
    /// Next word to transfer (a plain packet starts here).
    pub word_offset: u64,
    /// Packets sent or received, `[compressed, plain]` (C: `unsigned`).
    pub packets: [u32; 2],
    /// Bytes, headers included, `[compressed, plain]` (C: `unsigned`, wrapping).
    pub bytes: [u32; 2],
    buffer_size: usize,
}

impl XferCtx {
    /// A transfer of a bitmap with `bm_bits` bits through `DRBD_SOCKET_BUFFER_SIZE` buffers.
    pub fn new(bm_bits: u64) -> XferCtx {
        XferCtx::with_buffer_size(bm_bits, DRBD_SOCKET_BUFFER_SIZE)
    }

    /// Like [`XferCtx::new`] with another socket buffer size. Only for simulations and tests
    /// that want many packets from a small bitmap: a C peer always uses
    /// `DRBD_SOCKET_BUFFER_SIZE`, and both sides must use the same size.
    pub fn with_buffer_size(bm_bits: u64, buffer_size: usize) -> XferCtx {
        XferCtx {
            bm_bits,
            bm_words: bm_words(bm_bits),
            bit_offset: 0,
            word_offset: 0,
            packets: [0; 2],
            bytes: [0; 2],
            buffer_size,
        }
    }

    /// Payload bytes a packet may have after a header of `header_size` bytes.
    pub fn data_size(&self, header_size: usize) -> Result<usize, CodecError> {
        match self.buffer_size.checked_sub(header_size) {
            Some(d) if d >= 2 => Ok(d),
            _ => Err(CodecError::BadHeaderSize(header_size)),
        }
    }

    /// Words a plain packet carries at the current position: a buffer full, or what is left.
    pub fn plain_words(&self, header_size: usize) -> Result<u64, CodecError> {
        let per_packet = u64_of(self.data_size(header_size)? / 8);
        Ok(per_packet.min(self.bm_words.saturating_sub(self.word_offset)))
    }

    fn count(&mut self, plain: bool, header_size: usize, len: usize) {
        let i = usize::from(plain);
        self.packets[i] = self.packets[i].wrapping_add(1);
        let b = trunc32(u64_of(header_size).saturating_add(u64_of(len)));
        self.bytes[i] = self.bytes[i].wrapping_add(b);
    }

    fn sync_word_offset(&mut self) {
        self.word_offset = self.bit_offset / 64;
    }

    /// The next packet of a transfer (`send_bitmap_rle_or_plain`): writes its payload into `out`
    /// (at least the data size for `header_size`) and says which packet it is and whether more
    /// follow. `use_rle` is the `use-rle` net option and an agreed protocol of at least
    /// [`RLE_MIN_PROTOCOL`](super::RLE_MIN_PROTOCOL). A chunk is sent compressed if it pays off,
    /// else the words from the one holding the current bit go plain; a transfer whose last data
    /// went plain ends with an empty `P_BITMAP`, as the C receiver expects.
    pub fn send_next(
        &mut self,
        src: &impl BitSource,
        use_rle: bool,
        header_size: usize,
        out: &mut [u8],
    ) -> Result<(BitmapPacket, Step), CodecError> {
        let data_size = self.data_size(header_size)?;
        let have = out.len();
        let out = out.get_mut(..data_size).ok_or(CodecError::OutputTooSmall {
            need: data_size,
            have,
        })?;
        if src.bit_count() != self.bm_bits {
            return Err(CodecError::BitCountMismatch {
                expected: self.bm_bits,
                got: src.bit_count(),
            });
        }

        if use_rle && self.bit_offset < self.bm_bits {
            let (enc, code) = out.split_at_mut(1);
            match encode_rle(src, self.bit_offset, code) {
                Ok(chunk) if chunk.pays_off() => {
                    if let Some(b) = enc.first_mut() {
                        *b = chunk.encoding();
                    }
                    self.bit_offset += chunk.bits_covered;
                    self.sync_word_offset();
                    let len = 1 + chunk.len;
                    self.count(false, header_size, len);
                    let step = if self.bit_offset >= self.bm_bits {
                        Step::Done
                    } else {
                        Step::More
                    };
                    return Ok((BitmapPacket::Compressed { len }, step));
                }
                Ok(_) | Err(CodecError::RunTooLong { .. }) => {
                    // Incompressible: go plain from the word holding the current bit.
                    self.sync_word_offset();
                    self.bit_offset = self.word_offset * 64;
                }
                Err(e) => return Err(e),
            }
        }

        let num_words = self.plain_words(header_size)?;
        let written = encode_plain_words(src, self.word_offset, out);
        let num_words = num_words.min(written);
        let len = usize_of(num_words * 8).unwrap_or(0);
        self.word_offset += num_words;
        self.bit_offset = self.word_offset.saturating_mul(64).min(self.bm_bits);
        self.count(true, header_size, len);
        let step = if len == 0 { Step::Done } else { Step::More };
        Ok((BitmapPacket::Plain { len }, step))
    }

    fn check_sink(&self, sink: &(impl BitSink + ?Sized)) -> Result<(), CodecError> {
        let capacity = sink.capacity_bits();
        if self.bm_bits > capacity {
            return Err(CodecError::BitmapTooSmall {
                bm_bits: self.bm_bits,
                capacity,
            });
        }
        Ok(())
    }

    /// Receives a `P_BITMAP` payload (`receive_bitmap_plain`): it must hold exactly
    /// [`XferCtx::plain_words`] words; the empty packet ends the transfer.
    pub fn receive_plain(
        &mut self,
        payload: &[u8],
        header_size: usize,
        sink: &mut (impl BitSink + ?Sized),
    ) -> Result<Step, CodecError> {
        self.check_sink(sink)?;
        let num_words = self.plain_words(header_size)?;
        let want = usize_of(num_words * 8).unwrap_or(usize::MAX);
        if want != payload.len() {
            return Err(CodecError::PlainSizeMismatch {
                want,
                got: payload.len(),
            });
        }
        self.count(true, header_size, payload.len());
        if want == 0 {
            return Ok(Step::Done);
        }
        merge_plain_words(payload, self.word_offset, self.bm_bits, sink);
        self.word_offset += num_words;
        self.bit_offset = self.word_offset.saturating_mul(64).min(self.bm_bits);
        Ok(Step::More)
    }

    /// Receives a `P_COMPRESSED_BITMAP` payload (encoding byte and code; `receive_bitmap` and
    /// `decode_bitmap_c`). The transfer is done when the code reaches the end of the bitmap.
    pub fn receive_compressed(
        &mut self,
        payload: &[u8],
        header_size: usize,
        sink: &mut (impl BitSink + ?Sized),
    ) -> Result<Step, CodecError> {
        self.check_sink(sink)?;
        let max = self.data_size(header_size)?;
        if payload.len() > max {
            return Err(CodecError::PacketTooLarge {
                len: payload.len(),
                max,
            });
        }
        let (enc, code) = match payload.split_first() {
            Some((e, c)) if !c.is_empty() => (*e, c),
            _ => return Err(CodecError::PacketTooSmall { len: payload.len() }),
        };
        let dcbp = Dcbp::parse(enc);
        if dcbp.code != RLE_VLI_BITS {
            return Err(CodecError::UnknownEncoding(enc));
        }
        let end = decode_rle_runs(
            code,
            dcbp.first_set,
            dcbp.pad_bits,
            self.bm_bits,
            self.bit_offset,
            |a, b| sink.set_range(a, b),
        )?;
        self.count(false, header_size, payload.len());
        self.bit_offset = end;
        self.sync_word_offset();
        Ok(if end == self.bm_bits {
            Step::Done
        } else {
            Step::More
        })
    }

    /// The statistics line the C module prints after a transfer (`INFO_bm_xfer_stats`), or
    /// `None` where it prints nothing (nothing transferred, or no gain over plain).
    /// `direction` is "send" or "receive".
    pub fn stats(&self, direction: &'static str, header_size: usize) -> Option<XferStats> {
        let data_size = u64_of(self.buffer_size.checked_sub(header_size)?);
        if data_size == 0 {
            return None;
        }
        // Like the C code, this divides a word count by a byte count; it only estimates the
        // number of headers.
        let plain = trunc32(
            u64_of(header_size)
                .saturating_mul(self.bm_words.div_ceil(data_size) + 1)
                .saturating_add(self.bm_words.saturating_mul(8)),
        );
        let total = self.bytes[0].wrapping_add(self.bytes[1]);
        if total == 0 || total >= plain {
            return None;
        }
        let r = if total > u32::MAX / 1000 {
            total / (plain / 1000).max(1)
        } else {
            1000 * total / plain
        };
        Some(XferStats {
            direction,
            plain_bytes: self.bytes[1],
            plain_packets: self.packets[1],
            rle_bytes: self.bytes[0],
            rle_packets: self.packets[0],
            total,
            saved_permille: 1000 - r.min(1000),
        })
    }
}

/// `INFO_bm_xfer_stats`'s line; `Display` prints the C text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XferStats {
    /// "send" or "receive".
    pub direction: &'static str,
    /// Bytes in plain packets.
    pub plain_bytes: u32,
    /// Plain packets.
    pub plain_packets: u32,
    /// Bytes in compressed packets.
    pub rle_bytes: u32,
    /// Compressed packets.
    pub rle_packets: u32,
    /// All bytes.
    pub total: u32,
    /// Saving against an all-plain transfer, in tenths of a percent.
    pub saved_permille: u32,
}

impl fmt::Display for XferStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bitmap stats [Bytes(packets)]: plain {}({}), RLE {}({}), total {}; compression: {}.{}%",
            self.direction,
            self.plain_bytes,
            self.plain_packets,
            self.rle_bytes,
            self.rle_packets,
            self.total,
            self.saved_permille / 10,
            self.saved_permille % 10
        )
    }
}
