// SPDX-License-Identifier: GPL-2.0

//! Field values: reading a field attribute into a typed [`FieldValue`] and writing one back, with
//! the kernel's validation ([`FieldError`]), and looking up and parsing the fields of a whole
//! struct ([`StructDef::parse`], [`ParseMode`]).

use super::fields::{FieldDef, FieldType, StructDef};
use super::header::{ne16, ne32, ne64, NlaError, DRBD_GENLA_F_MANDATORY};
use super::nla::{find_last, NlaIter, NlaWriter};
use super::ret_codes::RetCode;

/// A field value, borrowed from the message it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// [`FieldType::U8`], [`FieldType::U16`], [`FieldType::U32`] or [`FieldType::U64`].
    Unsigned(u64),
    /// [`FieldType::I32`].
    Signed(i64),
    /// [`FieldType::Flag`].
    Flag(bool),
    /// [`FieldType::String`]: the bytes before the NUL (not necessarily UTF-8).
    Str(&'a [u8]),
    /// [`FieldType::Binary`].
    Bin(&'a [u8]),
}

/// Why a field or a struct's attribute stream was refused. The C kernel answers every one of
/// these with [`RetCode::MandatoryTag`] plus [`FieldError::info_text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The attribute stream itself is malformed.
    Malformed(NlaError),
    /// An attribute carries the mandatory bit but its number is beyond the struct's last field.
    UnknownMandatory {
        /// The attribute number (flags removed).
        id: u16,
    },
    /// Payload shorter than the field's type needs.
    TooShort {
        /// Field number.
        id: u16,
        /// Bytes required.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A string without a NUL within its allowed length.
    Unterminated {
        /// Field number.
        id: u16,
    },
    /// A string or binary value longer than allowed.
    TooLong {
        /// Field number.
        id: u16,
        /// Longest allowed (NUL excluded for strings).
        max: usize,
        /// Length found (trailing NUL excluded for strings).
        have: usize,
    },
    /// A required field is absent.
    MissingRequired {
        /// Field number.
        id: u16,
    },
    /// A change request carries a field that may only be set at creation.
    InvariantChange {
        /// Field number.
        id: u16,
    },
    /// Encoding: the value's kind does not match the field's type.
    WrongKind {
        /// Field number.
        id: u16,
    },
    /// Encoding: the number does not fit the field's type.
    OutOfRange {
        /// Field number.
        id: u16,
    },
}

impl From<NlaError> for FieldError {
    fn from(e: NlaError) -> Self {
        FieldError::Malformed(e)
    }
}

impl FieldError {
    /// The explanation the C kernel attaches to the reply (`from_attrs_err_to_txt`).
    pub fn info_text(&self) -> &'static str {
        match self {
            FieldError::MissingRequired { .. } => "required attribute missing",
            FieldError::InvariantChange { .. } => "can not change invariant setting",
            _ => "invalid attribute value",
        }
    }

    /// The return code the C kernel replies with for any attribute error.
    pub fn ret_code(&self) -> RetCode {
        RetCode::MandatoryTag
    }
}

impl FieldDef {
    /// The attribute type userspace sends this field with: the id, plus
    /// [`DRBD_GENLA_F_MANDATORY`] for mandatory fields (drbd-utils' `T_<name>` constant).
    pub fn nla_type(&self) -> u16 {
        if self.mandatory {
            self.id | DRBD_GENLA_F_MANDATORY
        } else {
            self.id
        }
    }

    /// Whether `value` lies within the advertised range (true when there is none).
    pub fn in_range(&self, value: i64) -> bool {
        let above_min = match self.min {
            Some(min) => value >= min,
            None => true,
        };
        let below_max = match self.max {
            Some(max) => value <= max,
            None => true,
        };
        above_min && below_max
    }

    /// Validates `payload` the way the kernel's policy for this field does and decodes it.
    ///
    /// Numbers need at least their width and are read from the first bytes (longer payloads are
    /// accepted, as by the C kernel). A string needs a NUL within its first `max_len + 1`
    /// bytes and may be at most `max_len` long without a trailing NUL; the value ends at the
    /// first NUL. Binary values may be at most `max_len` long.
    pub fn decode<'a>(&self, payload: &'a [u8]) -> Result<FieldValue<'a>, FieldError> {
        let have = payload.len();
        let min = self.ty.min_len();
        if have < min {
            return Err(FieldError::TooShort {
                id: self.id,
                need: min,
                have,
            });
        }
        Ok(match self.ty {
            FieldType::U8 => FieldValue::Unsigned(u64::from(payload[0])),
            FieldType::Flag => FieldValue::Flag(payload[0] != 0),
            FieldType::U16 => FieldValue::Unsigned(u64::from(ne16(payload))),
            FieldType::U32 => FieldValue::Unsigned(u64::from(ne32(payload))),
            FieldType::I32 => FieldValue::Signed(i64::from(ne32(payload) as i32)),
            FieldType::U64 => FieldValue::Unsigned(ne64(payload)),
            FieldType::String { max_len } => {
                let max = usize::from(max_len);
                let window = &payload[..have.min(max.saturating_add(1))];
                let Some(nul) = window.iter().position(|&b| b == 0) else {
                    return Err(FieldError::Unterminated { id: self.id });
                };
                let len = if payload[have - 1] == 0 {
                    have - 1
                } else {
                    have
                };
                if len > max {
                    return Err(FieldError::TooLong {
                        id: self.id,
                        max,
                        have: len,
                    });
                }
                FieldValue::Str(&payload[..nul])
            }
            FieldType::Binary { max_len } => {
                let max = usize::from(max_len);
                if have > max {
                    return Err(FieldError::TooLong {
                        id: self.id,
                        max,
                        have,
                    });
                }
                FieldValue::Bin(payload)
            }
        })
    }

    /// Appends this field to `w`. With `mark_mandatory` (userspace to kernel) the attribute type
    /// is [`FieldDef::nla_type`]; without (kernel to userspace, as the C kernel sends) it is the
    /// plain id. The value must match the field's type and fit it; strings are sent with their
    /// NUL. Nothing is written on error.
    pub fn encode(
        &self,
        w: &mut NlaWriter<'_>,
        value: FieldValue<'_>,
        mark_mandatory: bool,
    ) -> Result<(), FieldError> {
        let ty = if mark_mandatory {
            self.nla_type()
        } else {
            self.id
        };
        let id = self.id;
        let range = FieldError::OutOfRange { id };
        match (self.ty, value) {
            (FieldType::U8, FieldValue::Unsigned(v)) => {
                w.put_u8(ty, u8::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U16, FieldValue::Unsigned(v)) => {
                w.put_u16(ty, u16::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U32, FieldValue::Unsigned(v)) => {
                w.put_u32(ty, u32::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::U64, FieldValue::Unsigned(v)) => w.put_u64(ty, v)?,
            (FieldType::I32, FieldValue::Signed(v)) => {
                w.put_i32(ty, i32::try_from(v).map_err(|_| range)?)?
            }
            (FieldType::Flag, FieldValue::Flag(b)) => w.put_u8(ty, u8::from(b))?,
            (FieldType::String { max_len }, FieldValue::Str(s)) => {
                if s.len() > usize::from(max_len) {
                    return Err(FieldError::TooLong {
                        id,
                        max: usize::from(max_len),
                        have: s.len(),
                    });
                }
                w.put_str_bytes(ty, s)?
            }
            (FieldType::Binary { max_len }, FieldValue::Bin(b)) => {
                if b.len() > usize::from(max_len) {
                    return Err(FieldError::TooLong {
                        id,
                        max: usize::from(max_len),
                        have: b.len(),
                    });
                }
                w.put(ty, b)?
            }
            _ => return Err(FieldError::WrongKind { id }),
        }
        Ok(())
    }
}

/// Which `*_from_attrs` variant of the C kernel [`StructDef::parse`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseMode {
    /// Creating the object (`attach`, `connect`, ...): required fields must be present.
    Create,
    /// Changing it (`disk-options`, `net-options`): invariant fields must be absent, and
    /// required fields that are invariant are not required.
    Change,
}

impl StructDef {
    /// The field numbered `id` (flags removed), if this struct has one.
    pub fn field(&self, id: u16) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The field drbdsetup calls `name` (option or positional argument name).
    pub fn field_by_name(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The highest field number: the `maxtype` of the C kernel's parser, beyond which a
    /// mandatory attribute is refused and an optional one ignored.
    pub fn max_id(&self) -> u16 {
        self.fields.iter().map(|f| f.id).max().unwrap_or(0)
    }

    /// Parses the payload of this struct's top-level attribute as the C kernel does, and hands
    /// each field present to `apply`, in field order.
    ///
    /// Order of checks, as in C: any mandatory attribute beyond [`StructDef::max_id`] refuses
    /// the request; then every known field is validated ([`FieldDef::decode`]); then, in field
    /// order, invariant fields in a [`ParseMode::Change`] request and missing required fields
    /// are refused. Unknown attributes without the mandatory bit, numbers in the gaps of the
    /// table, and `NLA_UNSPEC` (0) padding are ignored. Unlike C, which stops reading at a
    /// malformed attribute and uses what came before, a malformed stream is refused. If a field appears more than once the
    /// last one counts. `apply` is only called once everything has been checked, so an error
    /// leaves the caller's struct untouched.
    pub fn parse<'a, 's>(
        &'s self,
        payload: &'a [u8],
        mode: ParseMode,
        mut apply: impl FnMut(&'s FieldDef, FieldValue<'a>),
    ) -> Result<(), FieldError> {
        let max = self.max_id();
        for a in NlaIter::new(payload) {
            let a = a?;
            if a.mandatory && a.ty > max {
                return Err(FieldError::UnknownMandatory { id: a.ty });
            }
        }
        for a in NlaIter::new(payload) {
            let a = a?;
            if let Some(f) = self.field(a.ty) {
                f.decode(a.payload)?;
            }
        }
        for f in self.fields {
            let present = find_last(payload, f.id)?.is_some();
            let change_invariant = mode == ParseMode::Change && f.invariant;
            if present && change_invariant {
                return Err(FieldError::InvariantChange { id: f.id });
            }
            if !present && !change_invariant && f.required {
                return Err(FieldError::MissingRequired { id: f.id });
            }
        }
        for f in self.fields {
            if let Some(a) = find_last(payload, f.id)? {
                apply(f, f.decode(a.payload)?);
            }
        }
        Ok(())
    }
}
