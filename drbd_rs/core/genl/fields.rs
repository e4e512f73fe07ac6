// SPDX-License-Identifier: GPL-2.0

//! How a configuration struct is described: the type, scale and command-line form of one field
//! ([`FieldDef`]) and the fields of one top-level attribute ([`StructDef`]).

use super::commands::TopAttr;
use super::settings::EnumDef;

/// How a field travels, which is also how it is validated on receipt (the kernel's policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `NLA_U8` number. (8.4 declares none; kept for completeness.)
    U8,
    /// `NLA_U16` number. (8.4 declares none; kept for completeness.)
    U16,
    /// `NLA_U32` unsigned number.
    U32,
    /// `NLA_U64` number.
    U64,
    /// `NLA_U32` on the wire, read as a signed 32-bit number (`__s32_field`).
    I32,
    /// DRBD's boolean (`__flg_field`): an `NLA_U8` holding 0 or 1, *not* a zero-length
    /// `NLA_FLAG`.
    Flag,
    /// NUL-terminated string of at most `max_len` bytes before the NUL (the C struct's buffer is
    /// `max_len + 1`). Sent with its NUL.
    String {
        /// Longest accepted string, NUL excluded; `u16::MAX` for "no limit" (`info_text`).
        max_len: u16,
    },
    /// Raw bytes (`NLA_BINARY`), at most `max_len` of them: socket addresses and UUID arrays.
    Binary {
        /// Longest accepted payload.
        max_len: u16,
    },
}

impl FieldType {
    /// Smallest payload the kernel accepts for this type (longer numbers are accepted and only
    /// their first bytes read, as `nla_get_*` does).
    pub fn min_len(self) -> usize {
        match self {
            FieldType::U8 | FieldType::Flag => 1,
            FieldType::U16 => 2,
            FieldType::U32 | FieldType::I32 => 4,
            FieldType::U64 => 8,
            FieldType::String { .. } => 1,
            FieldType::Binary { .. } => 0,
        }
    }
}

/// Unit multiplier drbdsetup applies to a number given with a suffix (`DRBD_*_SCALE`): the
/// value travels in this unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Plain number or bytes (`'1'`).
    One,
    /// KiB (`'k'`).
    Kilo,
    /// 512-byte sectors (`'s'`).
    Sectors,
}

impl Scale {
    /// The C scale character.
    pub fn as_char(self) -> char {
        match self {
            Scale::One => '1',
            Scale::Kilo => 'k',
            Scale::Sectors => 's',
        }
    }
}

/// How drbdsetup-84 exposes a field on its command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    /// Not settable by drbdsetup (kernel-to-user data, or set implicitly).
    None,
    /// `--name=value` (number, enum or string).
    Option,
    /// `--name[={yes|no}]`: a boolean with a default; drbdsetup sends 0 or 1 whenever given.
    Boolean,
    /// `--name`: drbdsetup sends 1 when given and nothing otherwise.
    Flag,
    /// A positional argument; [`FieldDef::name`] is the argument name drbdsetup's usage prints.
    Positional,
}

/// One field of a DRBD configuration struct, and how drbdsetup names and limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Attribute number inside the struct's nest (without
    /// [`DRBD_GENLA_F_MANDATORY`](super::DRBD_GENLA_F_MANDATORY)).
    pub id: u16,
    /// The C struct member name, e.g. `"resync_rate"`.
    pub c_name: &'static str,
    /// drbdsetup's name for it: the option name (`"resync-rate"`, `"protocol"`), the positional
    /// argument name for [`Cli::Positional`], else the C name with `-` for `_`.
    pub name: &'static str,
    /// Command-line form in drbdsetup-84.
    pub cli: Cli,
    /// Wire type and validation policy.
    pub ty: FieldType,
    /// Userspace sets [`DRBD_GENLA_F_MANDATORY`](super::DRBD_GENLA_F_MANDATORY) on this attribute.
    pub mandatory: bool,
    /// `DRBD_F_REQUIRED`: a request without it is invalid (except a change request when the
    /// field is also invariant).
    pub required: bool,
    /// `DRBD_F_INVARIANT`: set at creation only; a change request carrying it is refused.
    pub invariant: bool,
    /// `DRBD_F_SENSITIVE`: left out of replies to unprivileged requests and of broadcasts.
    pub sensitive: bool,
    /// Default from `drbd_limits.h`, if the field has one (for strings with a default, the
    /// default is the empty string and this is `None`).
    pub default: Option<i64>,
    /// Smallest valid value drbdsetup advertises.
    pub min: Option<i64>,
    /// Largest valid value drbdsetup advertises.
    pub max: Option<i64>,
    /// Unit the value travels in.
    pub scale: Scale,
    /// The unit drbdsetup's XML help names, if any (e.g. `"1/10 seconds"`).
    pub unit: Option<&'static str>,
    /// Names of enumerated values, for enum options.
    pub values: Option<&'static EnumDef>,
}

/// A DRBD configuration struct: the fields of one top-level attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructDef {
    /// The top-level attribute that carries it.
    pub tla: TopAttr,
    /// The C struct name, e.g. `"disk_conf"`.
    pub c_name: &'static str,
    /// Its fields, by field number. (C declares a few `disk_conf` fields out of number order;
    /// none of those is required or invariant, so the order of checks is the same.)
    pub fields: &'static [FieldDef],
}
