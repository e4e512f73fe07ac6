// SPDX-License-Identifier: GPL-2.0

//! A crypto algorithm name as it travels in `p_protocol` and `p_rs_param_*` ([`AlgName`]).

use super::constants::{ALG_NAME_MAX, SHARED_SECRET_MAX};
use super::cursor::Writer;
use super::error::PacketError;
use core::fmt;

/// A crypto algorithm name as it travels in `p_protocol` and `p_rs_param_*`: at most
/// [`ALG_NAME_MAX`] bytes, no NUL. Kept as bytes: the peer's name is only ever compared with ours
/// or handed to the crypto API, and need not be UTF-8.
#[derive(Clone, Copy)]
pub struct AlgName {
    buf: [u8; ALG_NAME_MAX],
    len: u8,
}

impl AlgName {
    /// The empty name: no algorithm configured.
    pub const EMPTY: AlgName = AlgName {
        buf: [0; ALG_NAME_MAX],
        len: 0,
    };

    /// A name for sending. Refuses names the receiver would cut short or misread.
    pub fn new(name: &[u8]) -> Result<Self, PacketError> {
        if name.len() > ALG_NAME_MAX || name.contains(&0) {
            return Err(PacketError::BadAlgName);
        }
        Ok(Self::parse(name, ALG_NAME_MAX))
    }

    /// Reads a name the way the C receiver does: it keeps at most `limit` bytes of the field
    /// (it overwrites the byte after them with a NUL) and the string ends at the first NUL. A
    /// missing terminator is therefore not an error, the name is cut instead.
    pub(super) fn parse(field: &[u8], limit: usize) -> Self {
        let field = field
            .get(..field.len().min(limit).min(ALG_NAME_MAX))
            .unwrap_or(&[]);
        let n = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let mut name = AlgName::EMPTY;
        if let (Some(dst), Some(src)) = (name.buf.get_mut(..n), field.get(..n)) {
            dst.copy_from_slice(src);
            name.len = u8::try_from(n).unwrap_or(0);
        }
        name
    }

    /// The name's bytes, without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    /// Whether no algorithm is named.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Length in bytes, without NUL.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Writes the name into a fixed field of [`SHARED_SECRET_MAX`] bytes, NUL padded.
    pub(super) fn put_field(&self, w: &mut Writer<'_>) {
        w.put(self.as_bytes());
        w.zeros(SHARED_SECRET_MAX - self.len());
    }

    /// Writes the name and its NUL (the variable-length fields: `strlen + 1` bytes).
    pub(super) fn put_string(&self, w: &mut Writer<'_>) {
        w.put(self.as_bytes());
        w.u8(0);
    }
}

impl Default for AlgName {
    fn default() -> Self {
        AlgName::EMPTY
    }
}

impl PartialEq for AlgName {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AlgName {}

impl fmt::Debug for AlgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "AlgName({s:?})"),
            None => write!(f, "AlgName({:?})", self.as_bytes()),
        }
    }
}
