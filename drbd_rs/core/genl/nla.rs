// SPDX-License-Identifier: GPL-2.0

//! The attribute TLV codec: iterating over the attributes of a stream ([`Nla`], [`NlaIter`],
//! [`find_last`]) and writing attributes and nests ([`NlaWriter`], [`Nest`]).

use super::header::{
    ne16, nla_align, NlaError, DRBD_GENLA_F_MANDATORY, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK,
};

/// One attribute, borrowed from the stream it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nla<'a> {
    /// Type with [`NLA_F_NESTED`] and [`DRBD_GENLA_F_MANDATORY`] removed.
    pub ty: u16,
    /// [`NLA_F_NESTED`] was set.
    pub nested: bool,
    /// [`DRBD_GENLA_F_MANDATORY`] (alias `NLA_F_NET_BYTEORDER`) was set.
    pub mandatory: bool,
    /// The payload (`nla_len - 4` bytes, padding excluded).
    pub payload: &'a [u8],
}

impl<'a> Nla<'a> {
    fn get<const N: usize>(&self) -> Result<[u8; N], NlaError> {
        self.payload
            .get(..N)
            .and_then(|b| b.try_into().ok())
            .ok_or(NlaError::Truncated {
                offset: 0,
                need: N,
                have: self.payload.len(),
            })
    }

    /// The payload's first byte.
    pub fn get_u8(&self) -> Result<u8, NlaError> {
        Ok(self.get::<1>()?[0])
    }

    /// The payload's first two bytes, host endian.
    pub fn get_u16(&self) -> Result<u16, NlaError> {
        Ok(u16::from_ne_bytes(self.get()?))
    }

    /// The payload's first four bytes, host endian.
    pub fn get_u32(&self) -> Result<u32, NlaError> {
        Ok(u32::from_ne_bytes(self.get()?))
    }

    /// The payload's first four bytes as a signed number.
    pub fn get_i32(&self) -> Result<i32, NlaError> {
        Ok(i32::from_ne_bytes(self.get()?))
    }

    /// The payload's first eight bytes, host endian.
    pub fn get_u64(&self) -> Result<u64, NlaError> {
        Ok(u64::from_ne_bytes(self.get()?))
    }

    /// The attributes nested in the payload.
    pub fn nested_iter(&self) -> NlaIter<'a> {
        NlaIter::new(self.payload)
    }
}

/// Iterates over a stream of attributes with the kernel's bounds rules (`nla_ok`): each needs
/// a full header and a length between 4 and the bytes left; the next one starts at the next
/// 4-byte boundary, and a last attribute may omit its padding. Yields `Err` once for a bad
/// attribute or 1-3 leftover bytes, then ends. Never reads outside the input.
#[derive(Clone, Debug)]
pub struct NlaIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> NlaIter<'a> {
    /// An iterator over the attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        NlaIter {
            buf,
            pos: 0,
            done: false,
        }
    }

    /// Byte offset of the next attribute.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<'a>, NlaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.pos;
        if rest.len() < NLA_HDRLEN {
            self.done = true;
            return Some(Err(NlaError::Trailing {
                offset,
                len: rest.len(),
            }));
        }
        let len = ne16(rest);
        let raw = ne16(&rest[2..]);
        let ulen = usize::from(len);
        if ulen < NLA_HDRLEN || ulen > rest.len() {
            self.done = true;
            return Some(Err(NlaError::BadLength {
                offset,
                len,
                have: rest.len(),
            }));
        }
        self.pos += nla_align(ulen).min(rest.len());
        Some(Ok(Nla {
            ty: raw & NLA_TYPE_MASK,
            nested: raw & NLA_F_NESTED != 0,
            mandatory: raw & DRBD_GENLA_F_MANDATORY != 0,
            payload: &rest[NLA_HDRLEN..ulen],
        }))
    }
}

/// The last attribute of type `ty` (flags ignored) in `buf`: the one the C parser's table ends
/// up holding. Fails if the stream is malformed before the end.
pub fn find_last(buf: &[u8], ty: u16) -> Result<Option<Nla<'_>>, NlaError> {
    let mut found = None;
    for a in NlaIter::new(buf) {
        let a = a?;
        if a.ty == ty {
            found = Some(a);
        }
    }
    Ok(found)
}

/// An open nest returned by [`NlaWriter::nest_start`]; close it with [`NlaWriter::nest_end`].
#[must_use = "a nest must be closed with nest_end or nest_cancel"]
#[derive(Debug, PartialEq, Eq)]
pub struct Nest {
    start: usize,
}

/// Appends attributes to a caller-provided buffer, padding each to 4 bytes with zeros. A write
/// that does not fit leaves the buffer as it was and returns [`NlaError::NoSpace`].
#[derive(Debug)]
pub struct NlaWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> NlaWriter<'b> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        NlaWriter { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn reserve(&mut self, n: usize) -> Result<&mut [u8], NlaError> {
        let have = self.remaining();
        if n > have {
            return Err(NlaError::NoSpace { need: n, have });
        }
        let start = self.len;
        self.len += n;
        Ok(&mut self.buf[start..start + n])
    }

    fn put_parts(&mut self, ty: u16, a: &[u8], b: &[u8]) -> Result<(), NlaError> {
        let len = NLA_HDRLEN + a.len() + b.len();
        let nla_len = u16::try_from(len).map_err(|_| NlaError::TooLarge { len })?;
        let out = self.reserve(nla_align(len))?;
        out[0..2].copy_from_slice(&nla_len.to_ne_bytes());
        out[2..4].copy_from_slice(&ty.to_ne_bytes());
        out[NLA_HDRLEN..NLA_HDRLEN + a.len()].copy_from_slice(a);
        out[NLA_HDRLEN + a.len()..len].copy_from_slice(b);
        out[len..].fill(0);
        Ok(())
    }

    /// Appends an attribute of raw type `ty` (flags included as given) with `payload`.
    pub fn put(&mut self, ty: u16, payload: &[u8]) -> Result<(), NlaError> {
        self.put_parts(ty, payload, &[])
    }

    /// Appends a one-byte number (also DRBD's booleans: 0 or 1).
    pub fn put_u8(&mut self, ty: u16, v: u8) -> Result<(), NlaError> {
        self.put(ty, &[v])
    }

    /// Appends a two-byte number.
    pub fn put_u16(&mut self, ty: u16, v: u16) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a four-byte number.
    pub fn put_u32(&mut self, ty: u16, v: u32) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a four-byte signed number.
    pub fn put_i32(&mut self, ty: u16, v: i32) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends an eight-byte number. (Unlike `nla_put_u64_64bit`, never inserts an alignment
    /// pad attribute; receivers read it unaligned.)
    pub fn put_u64(&mut self, ty: u16, v: u64) -> Result<(), NlaError> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends `s` followed by a NUL (`nla_put_string`). Refuses strings containing NUL.
    pub fn put_string(&mut self, ty: u16, s: &str) -> Result<(), NlaError> {
        self.put_str_bytes(ty, s.as_bytes())
    }

    /// Like [`NlaWriter::put_string`] for bytes that need not be UTF-8.
    pub fn put_str_bytes(&mut self, ty: u16, s: &[u8]) -> Result<(), NlaError> {
        if s.contains(&0) {
            return Err(NlaError::InteriorNul);
        }
        self.put_parts(ty, s, &[0])
    }

    /// Appends a zero-length netlink flag (`NLA_FLAG`). DRBD's own boolean fields are *not* flags
    /// but one-byte numbers; use [`NlaWriter::put_u8`] or
    /// [`FieldDef::encode`](super::FieldDef::encode) for them.
    pub fn put_flag(&mut self, ty: u16) -> Result<(), NlaError> {
        self.put(ty, &[])
    }

    /// Opens a nest of raw type `ty`. OR in [`NLA_F_NESTED`] for requests to the drbd family:
    /// drbdsetup-84 does, and the strict policies of the C module and drbd_rs require it.
    pub fn nest_start(&mut self, ty: u16) -> Result<Nest, NlaError> {
        let start = self.len;
        self.put(ty, &[])?;
        Ok(Nest { start })
    }

    /// Closes `nest`, setting its length to cover everything written since it was opened. If
    /// that is too long for 16 bits, or `nest` does not fit this writer's contents, the nest and
    /// its contents are removed and an error returned.
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), NlaError> {
        if nest.start + NLA_HDRLEN > self.len {
            return Err(NlaError::BadNest);
        }
        let len = self.len - nest.start;
        match u16::try_from(len) {
            Ok(l) => {
                self.buf[nest.start..nest.start + 2].copy_from_slice(&l.to_ne_bytes());
                Ok(())
            }
            Err(_) => {
                self.len = nest.start;
                Err(NlaError::TooLarge { len })
            }
        }
    }

    /// Removes `nest` and everything written since it was opened.
    pub fn nest_cancel(&mut self, nest: Nest) {
        if nest.start <= self.len {
            self.len = nest.start;
        }
    }
}
