// SPDX-License-Identifier: GPL-2.0

//! Byte cursors over a payload, for the decoders and encoders of this module. Lengths are checked
//! by the callers first, the cursors check again so that no path can index out of bounds.

use super::error::PacketError;

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], PacketError> {
        let have = self.buf.len();
        let end = self.pos.checked_add(n).ok_or(PacketError::Truncated {
            need: usize::MAX,
            have,
        })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(PacketError::Truncated { need: end, have })?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PacketError> {
        let have = self.buf.len();
        self.bytes(N)?
            .try_into()
            .map_err(|_| PacketError::Truncated { need: N, have })
    }

    pub(super) fn u8(&mut self) -> Result<u8, PacketError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, PacketError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, PacketError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32, PacketError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, PacketError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }
}

/// Reader over a payload that must be exactly `size` bytes.
pub(super) fn exact(payload: &[u8], size: usize) -> Result<Reader<'_>, PacketError> {
    if payload.len() != size {
        return Err(PacketError::WrongSize {
            expected: size,
            got: payload.len(),
        });
    }
    Ok(Reader::new(payload))
}

pub(super) struct Writer<'a> {
    out: &'a mut [u8],
    pub(super) pos: usize,
}

impl<'a> Writer<'a> {
    /// Refuses up front when `out` cannot take `need` bytes, so the puts below cannot fail.
    pub(super) fn new(out: &'a mut [u8], need: usize) -> Result<Self, PacketError> {
        if out.len() < need {
            return Err(PacketError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        Ok(Writer { out, pos: 0 })
    }

    pub(super) fn put(&mut self, b: &[u8]) {
        let end = self.pos.saturating_add(b.len());
        if let Some(d) = self.out.get_mut(self.pos..end) {
            d.copy_from_slice(b);
        }
        self.pos = end;
    }

    pub(super) fn zeros(&mut self, n: usize) {
        let end = self.pos.saturating_add(n);
        if let Some(d) = self.out.get_mut(self.pos..end) {
            d.fill(0);
        }
        self.pos = end;
    }

    pub(super) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    pub(super) fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    pub(super) fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    pub(super) fn i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }

    pub(super) fn done(self) -> usize {
        self.pos
    }
}

pub(super) fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(super) fn len_usize(len: u32) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}
