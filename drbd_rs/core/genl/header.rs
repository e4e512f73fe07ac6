// SPDX-License-Identifier: GPL-2.0

//! Family and header constants of the DRBD generic-netlink ABI, the error type of its header and
//! attribute decoders ([`NlaError`]), and the two message headers in front of the attributes
//! ([`GenlMsgHdr`], [`DrbdGenlMsgHdr`]).

use super::commands::Cmd;

/// Generic-netlink family name (`DRBD_FAMILY_NAME`).
pub const FAMILY_NAME: &str = "drbd";
/// Family version (`GENL_MAGIC_VERSION`). drbdsetup-84 refuses a kernel whose family version or
/// family header size differs ("API mismatch!").
pub const FAMILY_VERSION: u32 = 1;
/// The only multicast group; state-change broadcasts and `events2` notifications go there.
pub const MCAST_GROUP_EVENTS: &str = "events";

/// Attribute-type bit that marks a nested field attribute as mandatory (see the module docs).
pub const DRBD_GENLA_F_MANDATORY: u16 = 1 << 14;
/// Netlink's "payload is a nested attribute stream" bit. drbd-utils 9.22's drbdsetup-84 sets it
/// on every struct nest it sends, and the in-tree C DRBD of Linux 7.3 validates strictly and
/// refuses a nest without it (EINVAL); kernels set it on the nests they send.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// Netlink's network-byte-order bit: the same bit as [`DRBD_GENLA_F_MANDATORY`].
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// Mask that strips both flag bits from an attribute type.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
/// Attributes start on 4-byte boundaries.
pub const NLA_ALIGNTO: usize = 4;
/// Size of `struct nlattr` (`nla_len: u16, nla_type: u16`).
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;

/// Rounds `len` up to the next attribute boundary (`NLA_ALIGN`).
pub const fn nla_align(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

/// Size of `struct drbd_genlmsghdr`, the family header after `genlmsghdr`. The family is
/// registered with `NLA_ALIGN` of this, which is the same 8.
pub const DRBD_GENLMSGHDR_SIZE: usize = 8;
/// `drbd_genlmsghdr.flags` bit: reset every option not given in this request to its default
/// (`drbdsetup ... --set-defaults`).
pub const DRBD_GENL_F_SET_DEFAULTS: u32 = 1;
/// `drbd_genlmsghdr.minor` of a request that addresses a resource or connection (named in
/// [`TopAttr::CfgContext`](super::TopAttr::CfgContext)) rather than a minor.
pub const MINOR_NONE: u32 = u32::MAX;

/// `SHARED_SECRET_MAX`: buffer size of the secret and algorithm-name strings in `net_conf`.
pub const SHARED_SECRET_MAX: usize = 64;
/// `DRBD_CPU_MASK_SIZE`: buffer size of `res_opts.cpu_mask`.
pub const DRBD_CPU_MASK_SIZE: usize = 32;
/// `UI_SIZE`: number of UUIDs in `state_info.uuids` (current, bitmap, two history).
pub const UI_SIZE: usize = 4;
/// `HISTORY_UUIDS`: number of UUIDs in `device_statistics.history_uuids`.
pub const HISTORY_UUIDS: usize = 32;

/// Meta-data index meaning "internal meta data" (drbdsetup's `internal` argument).
pub const DRBD_MD_INDEX_INTERNAL: i32 = -1;
/// Meta-data index meaning "flexible external meta data" (drbdsetup's `flexible` argument).
pub const DRBD_MD_INDEX_FLEX_EXT: i32 = -2;
/// Meta-data index meaning "flexible internal meta data"; what drbdsetup-84 sends for the
/// argument `internal`.
pub const DRBD_MD_INDEX_FLEX_INT: i32 = -3;

/// Why a header or attribute stream was rejected, or could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NlaError {
    /// A header needs `need` bytes at `offset`, but only `have` are there.
    Truncated {
        /// Where the header starts.
        offset: usize,
        /// Bytes the header needs.
        need: usize,
        /// Bytes available from `offset` on.
        have: usize,
    },
    /// The attribute at `offset` claims a length shorter than its own header or longer than the
    /// bytes left.
    BadLength {
        /// Where the attribute starts.
        offset: usize,
        /// Its `nla_len`.
        len: u16,
        /// Bytes available from `offset` on.
        have: usize,
    },
    /// 1 to 3 bytes after the last attribute: too short for another header. (The C kernel only
    /// logs "bytes leftover after parsing attributes"; callers may choose to ignore this.)
    Trailing {
        /// Where the leftover bytes start.
        offset: usize,
        /// How many there are.
        len: usize,
    },
    /// The output buffer has `have` bytes free but `need` are required.
    NoSpace {
        /// Bytes the write needs (including alignment padding).
        need: usize,
        /// Bytes free.
        have: usize,
    },
    /// An attribute (or a closed nest) would be longer than `nla_len` (16 bits) can describe.
    TooLarge {
        /// The length it would have.
        len: usize,
    },
    /// A string to be sent contains a NUL byte; the receiver would silently cut it there.
    InteriorNul,
    /// A [`Nest`](super::Nest) that does not belong to this writer's current contents.
    BadNest,
}

pub(super) fn ne16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

pub(super) fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

pub(super) fn ne64(b: &[u8]) -> u64 {
    u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn need(buf: &[u8], offset: usize, need: usize) -> Result<(), NlaError> {
    let have = buf.len().saturating_sub(offset);
    if have < need {
        Err(NlaError::Truncated { offset, need, have })
    } else {
        Ok(())
    }
}

/// `struct genlmsghdr`: the generic-netlink header in front of [`DrbdGenlMsgHdr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenlMsgHdr {
    /// Command number, see [`Cmd`].
    pub cmd: u8,
    /// Family version; [`FAMILY_VERSION`] (truncated to 8 bits, as the C header does).
    pub version: u8,
    /// Reserved, 0.
    pub reserved: u16,
}

impl GenlMsgHdr {
    /// A header for `cmd` with the family's version.
    pub fn new(cmd: Cmd) -> Self {
        GenlMsgHdr {
            cmd: cmd as u8,
            version: FAMILY_VERSION as u8,
            reserved: 0,
        }
    }

    /// Writes the header to the start of `out`; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NlaError> {
        if out.len() < GENL_HDRLEN {
            return Err(NlaError::NoSpace {
                need: GENL_HDRLEN,
                have: out.len(),
            });
        }
        out[0] = self.cmd;
        out[1] = self.version;
        out[2..4].copy_from_slice(&self.reserved.to_ne_bytes());
        Ok(GENL_HDRLEN)
    }

    /// Reads the header from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        need(buf, 0, GENL_HDRLEN)?;
        Ok(GenlMsgHdr {
            cmd: buf[0],
            version: buf[1],
            reserved: ne16(&buf[2..]),
        })
    }
}

/// `struct drbd_genlmsghdr`: `minor: u32`, then a union of `flags: u32` (requests) and
/// `ret_code: i32` (replies), both host endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrbdGenlMsgHdr {
    /// The minor a request operates on or a reply/broadcast is about; [`MINOR_NONE`] when the
    /// object is named in [`TopAttr::CfgContext`](super::TopAttr::CfgContext) instead.
    pub minor: u32,
    /// The raw union word: request flags ([`DRBD_GENL_F_SET_DEFAULTS`]) or, in a reply, the return
    /// code ([`RetCode`](super::RetCode) or [`StateRv`](super::StateRv) value) reinterpreted as
    /// `u32`.
    pub flags: u32,
}

impl DrbdGenlMsgHdr {
    /// A reply header carrying `ret_code`.
    pub fn reply(minor: u32, ret_code: i32) -> Self {
        DrbdGenlMsgHdr {
            minor,
            flags: ret_code as u32,
        }
    }

    /// The union read as `ret_code`.
    pub fn ret_code(&self) -> i32 {
        self.flags as i32
    }

    /// Whether a request asks to reset unspecified options to their defaults.
    pub fn set_defaults(&self) -> bool {
        self.flags & DRBD_GENL_F_SET_DEFAULTS != 0
    }

    /// Writes the header to the start of `out`; returns its size.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NlaError> {
        if out.len() < DRBD_GENLMSGHDR_SIZE {
            return Err(NlaError::NoSpace {
                need: DRBD_GENLMSGHDR_SIZE,
                have: out.len(),
            });
        }
        out[0..4].copy_from_slice(&self.minor.to_ne_bytes());
        out[4..8].copy_from_slice(&self.flags.to_ne_bytes());
        Ok(DRBD_GENLMSGHDR_SIZE)
    }

    /// Reads the header from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        need(buf, 0, DRBD_GENLMSGHDR_SIZE)?;
        Ok(DrbdGenlMsgHdr {
            minor: ne32(buf),
            flags: ne32(&buf[4..]),
        })
    }
}
