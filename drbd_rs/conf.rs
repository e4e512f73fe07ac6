// SPDX-License-Identifier: GPL-2.0

//! Configuration structs (`res_opts`, `disk_conf`, `net_conf`) as the netlink requests gave
//! them, kept generically as [`Conf`]: a value per field of the ABI table in `core::genl`, so
//! parsing, defaults and encoding follow the table and cannot drift from it. Below the object
//! layer: connections read their settings from it, the control plane stores it per resource.

use crate::drbd_core::genl::{FieldDef, FieldType, StructDef};

/// Largest number of fields of a configuration struct (`net_conf` has field numbers up to 34).
const MAX_FIELDS: usize = 35;
/// Longest string field buffer (`backing_dev`, `meta_dev`, resource names): 128 bytes.
const MAX_STR: usize = 128;
/// String fields of a struct kept (`net_conf` has five: secret and four algorithm names).
const MAX_STRS: usize = 5;

/// The values of one configuration struct (`res_opts`, `disk_conf`, ...).
///
/// Numbers are kept as the 64-bit pattern of their field (signed fields sign-extended), strings
/// as bytes without NUL, at most one byte shorter than the C buffer (what `nla_strscpy` keeps).
#[derive(Clone)]
pub(crate) struct Conf {
    def: &'static StructDef,
    nums: [u64; MAX_FIELDS],
    strs: [[u8; MAX_STR]; MAX_STRS],
    str_len: [usize; MAX_STRS],
}

impl Conf {
    /// All fields zero / empty: a freshly allocated C struct.
    pub(crate) fn zeroed(def: &'static StructDef) -> Self {
        Conf {
            def,
            nums: [0; MAX_FIELDS],
            strs: [[0; MAX_STR]; MAX_STRS],
            str_len: [0; MAX_STRS],
        }
    }

    /// All fields zero, then the defaults applied (`set_*_defaults`).
    pub(crate) fn with_defaults(def: &'static StructDef) -> Self {
        let mut c = Conf::zeroed(def);
        c.set_defaults();
        c
    }

    /// The table this struct follows.
    pub(crate) fn def(&self) -> &'static StructDef {
        self.def
    }

    /// `set_*_defaults`: every field with a default, and every string, unless the field may
    /// only be set at creation (those keep their value, as in the C module).
    pub(crate) fn set_defaults(&mut self) {
        for f in self.def.fields {
            if f.invariant {
                continue;
            }
            match f.ty {
                FieldType::String { .. } => self.set_str(f.id, b""),
                _ => {
                    if let Some(d) = f.default {
                        self.set_num(f.id, d as u64);
                    }
                }
            }
        }
    }

    /// Which string slot field `id` uses (`net_conf` has the most: five).
    fn str_slot(&self, id: u16) -> Option<usize> {
        let mut slot = 0;
        for f in self.def.fields {
            if let FieldType::String { .. } = f.ty {
                if f.id == id {
                    return (slot < MAX_STRS).then_some(slot);
                }
                slot += 1;
            }
        }
        None
    }

    /// Field `id` as a number (0 for fields that are not numbers).
    pub(crate) fn num(&self, id: u16) -> u64 {
        self.nums.get(usize::from(id)).copied().unwrap_or(0)
    }

    /// Sets number field `id`.
    pub(crate) fn set_num(&mut self, id: u16, v: u64) {
        if let Some(n) = self.nums.get_mut(usize::from(id)) {
            *n = v;
        }
    }

    /// String field `id` (empty for fields that are not strings).
    pub(crate) fn str(&self, id: u16) -> &[u8] {
        match self.str_slot(id) {
            Some(s) => &self.strs[s][..self.str_len[s]],
            None => &[],
        }
    }

    /// Sets string field `id` to `v` up to its first NUL, cut to the C buffer as
    /// `nla_strscpy` does.
    pub(crate) fn set_str(&mut self, id: u16, v: &[u8]) {
        let Some(f) = self.def.field(id) else {
            return;
        };
        let FieldType::String { max_len } = f.ty else {
            return;
        };
        let Some(s) = self.str_slot(id) else {
            return;
        };
        let v = match v.iter().position(|&b| b == 0) {
            Some(n) => &v[..n],
            None => v,
        };
        // The C buffer is `max_len + 1` bytes; `nla_strscpy` keeps one byte for the NUL.
        let n = v.len().min(usize::from(max_len)).min(MAX_STR - 1);
        self.strs[s][..n].copy_from_slice(&v[..n]);
        self.strs[s][n..].fill(0);
        self.str_len[s] = n;
    }

    /// Applies one field read from a request (the payload already validated by the policy).
    pub(crate) fn apply(&mut self, f: &FieldDef, payload: &[u8]) {
        let get = |n: usize| -> u64 {
            let mut b = [0u8; 8];
            let n = n.min(payload.len());
            b[..n].copy_from_slice(&payload[..n]);
            u64::from_ne_bytes(b)
        };
        match f.ty {
            FieldType::U8 | FieldType::Flag => self.set_num(f.id, get(1)),
            FieldType::U16 => self.set_num(f.id, get(2)),
            FieldType::U32 => self.set_num(f.id, get(4)),
            FieldType::I32 => self.set_num(f.id, get(4) as u32 as i32 as i64 as u64),
            FieldType::U64 => self.set_num(f.id, get(8)),
            FieldType::String { .. } => self.set_str(f.id, payload),
            FieldType::Binary { .. } => {}
        }
    }
}
