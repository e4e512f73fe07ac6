// SPDX-License-Identifier: GPL-2.0

//! Attribute helpers: reading the request's attributes and configuration structs, and
//! building reply and broadcast payloads (`drbd_cfg_context`, info structs, `Conf` values).

use super::*;

/// One attribute with its raw bytes (header included, padding excluded).
pub(super) struct RawNla<'a> {
    pub(super) raw: &'a [u8],
    pub(super) nla: abi::Nla<'a>,
}

/// The last attribute of type `ty` in `buf` (the one `nla_parse` keeps), with its raw bytes.
/// `buf` must have passed validation.
pub(super) fn last_raw(buf: &[u8], ty: u16) -> Option<RawNla<'_>> {
    let mut it = NlaIter::new(buf);
    let mut found = None;
    loop {
        let off = it.offset();
        match it.next() {
            Some(Ok(nla)) => {
                if nla.ty == ty {
                    let len = abi::NLA_HDRLEN + nla.payload.len();
                    found = Some(RawNla {
                        raw: &buf[off..off + len],
                        nla,
                    });
                }
            }
            _ => return found,
        }
    }
}

/// The first attribute of type `ty` in `buf` (`nla_find`).
pub(super) fn first(buf: &[u8], ty: u16) -> Option<abi::Nla<'_>> {
    NlaIter::new(buf).map_while(|a| a.ok()).find(|a| a.ty == ty)
}

/// The bytes of a C string attribute up to its first NUL.
pub(super) fn c_str_bytes(p: &[u8]) -> &[u8] {
    match p.iter().position(|&b| b == 0) {
        Some(n) => &p[..n],
        None => p,
    }
}

/// Applies the fields of the last struct attribute `tla` in `attrs` to `conf`; returns whether
/// the attribute was present and whether a required field was missing (`-ENOMSG`).
pub(super) fn apply_struct(attrs: &[u8], tla: TopAttr, conf: &mut Conf) -> (bool, bool) {
    let Some(t) = last_raw(attrs, tla as u16) else {
        return (false, true);
    };
    let def = tla.struct_def();
    let payload = t.nla.payload;
    let mut missing = false;
    for f in def.fields {
        match last_raw(payload, f.id) {
            Some(a) => conf.apply(f, a.nla.payload),
            None => missing |= f.required,
        }
    }
    (true, missing)
}

/// The value of one field of a struct attribute (the last one, as `nla_parse` keeps).
pub(super) fn struct_field<'a>(attrs: &'a [u8], tla: TopAttr, id: u16) -> Option<&'a [u8]> {
    let t = last_raw(attrs, tla as u16)?;
    last_raw(t.nla.payload, id).map(|a| a.nla.payload)
}

/// A flag field (`NLA_U8`) of a struct attribute; absent means 0.
pub(super) fn struct_flag(attrs: &[u8], tla: TopAttr, id: u16) -> bool {
    struct_field(attrs, tla, id).is_some_and(|p| p.first().is_some_and(|&b| b != 0))
}

/// Maps a full buffer to `EMSGSIZE`, like a failed `nla_put`.
pub(super) fn nla_err(_: NlaError) -> Error {
    EMSGSIZE
}

/// A field value for [`put_struct`].
#[derive(Clone, Copy)]
pub(super) enum Val<'a> {
    U8(bool),
    U32(u32),
    U64(u64),
    Bin(&'a [u8]),
}

/// A struct attribute `tla` with `fields` in the given order; `NLA_F_NESTED` as
/// `nla_nest_start` sets it (every struct but the context, the reply text and `state_info`).
pub(super) fn put_struct(
    w: &mut NlaWriter<'_>,
    tla: TopAttr,
    nested_flag: bool,
    fields: &[(u16, Val<'_>)],
) -> Result<(), NlaError> {
    let ty = tla as u16 | if nested_flag { NLA_F_NESTED } else { 0 };
    let n = w.nest_start(ty)?;
    for &(id, v) in fields {
        let r = match v {
            Val::U8(b) => w.put_u8(id, u8::from(b)),
            Val::U32(x) => w.put_u32(id, x),
            Val::U64(x) => w.put_u64(id, x),
            Val::Bin(b) => w.put(id, b),
        };
        if let Err(e) = r {
            w.nest_cancel(n);
            return Err(e);
        }
    }
    w.nest_end(n)
}

/// `drbd_msg_put_info`: the reply's `drbd_cfg_reply{info_text}`.
pub(super) fn put_info(w: &mut NlaWriter<'_>, text: &str) -> Result<(), NlaError> {
    if text.is_empty() {
        return Ok(());
    }
    let n = w.nest_start(TopAttr::CfgReply as u16)?;
    if let Err(e) = w.put_string(1, text) {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// `nla_put_drbd_cfg_context`: volume (for device objects), name, and the connection's
/// addresses once it has them.
pub(super) fn put_ctx(w: &mut NlaWriter<'_>, name: &[u8], volume: Option<u32>) -> Result<(), NlaError> {
    put_ctx_conn(w, name, volume, None)
}

/// `nla_put_drbd_cfg_context` with the connection's addresses, if it has a network
/// configuration.
pub(super) fn put_ctx_conn(
    w: &mut NlaWriter<'_>,
    name: &[u8],
    volume: Option<u32>,
    conn: Option<&Connection>,
) -> Result<(), NlaError> {
    let n = w.nest_start(TopAttr::CfgContext as u16)?;
    let r = (|| {
        if let Some(v) = volume {
            w.put_u32(1, v)?;
        }
        w.put_str_bytes(2, name)?;
        if let Some(c) = conn {
            w.put(3, c.my_addr.as_raw())?;
            w.put(4, c.peer_addr.as_raw())?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// `<struct>_to_skb` of a configuration struct: every field, in table order.
pub(super) fn put_conf(w: &mut NlaWriter<'_>, conf: &Conf, exclude_sensitive: bool) -> Result<(), NlaError> {
    let def = conf.def();
    let n = w.nest_start(def.tla as u16 | NLA_F_NESTED)?;
    let r = (|| {
        for f in def.fields {
            match f.ty {
                abi::FieldType::U8 | abi::FieldType::Flag => {
                    w.put_u8(f.id, conf.num(f.id) as u8)?
                }
                abi::FieldType::U16 => w.put_u16(f.id, conf.num(f.id) as u16)?,
                abi::FieldType::U32 | abi::FieldType::I32 => {
                    w.put_u32(f.id, conf.num(f.id) as u32)?
                }
                abi::FieldType::U64 => w.put_u64(f.id, conf.num(f.id))?,
                abi::FieldType::String { .. } => {
                    if f.sensitive && exclude_sensitive {
                        w.put_str_bytes(f.id, b"")?
                    } else {
                        w.put_str_bytes(f.id, conf.str(f.id))?
                    }
                }
                abi::FieldType::Binary { .. } => w.put(f.id, &[])?,
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        w.nest_cancel(n);
        return Err(e);
    }
    w.nest_end(n)
}

/// Attribute bytes being collected for one message.
pub(super) struct Attrs {
    pub(super) buf: KVec<u8>,
    pub(super) len: usize,
}

impl Attrs {
    pub(super) fn new() -> Result<Self> {
        Ok(Attrs {
            buf: KVec::from_elem(0u8, ATTR_SPACE, GFP_KERNEL)?,
            len: 0,
        })
    }

    /// Runs `f` on a writer appending to the collected bytes; on error nothing is kept.
    pub(super) fn put(&mut self, f: impl FnOnce(&mut NlaWriter<'_>) -> Result<(), NlaError>) -> Result {
        let mut w = NlaWriter::new(&mut self.buf[self.len..]);
        f(&mut w).map_err(nla_err)?;
        self.len += w.len();
        Ok(())
    }

    /// Appends raw, already encoded attribute bytes, padded to 4 (`nla_put_nohdr`).
    pub(super) fn put_raw(&mut self, raw: &[u8]) -> Result {
        let padded = abi::nla_align(raw.len());
        if self.len + padded > self.buf.len() {
            return Err(EMSGSIZE);
        }
        self.buf[self.len..self.len + raw.len()].copy_from_slice(raw);
        self.buf[self.len + raw.len()..self.len + padded].fill(0);
        self.len += padded;
        Ok(())
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }
}

pub(super) fn drbd_hdr(minor: u32, ret: i32) -> [u8; abi::DRBD_GENLMSGHDR_SIZE] {
    let mut h = [0u8; abi::DRBD_GENLMSGHDR_SIZE];
    // The array is exactly the header's size.
    let _ = DrbdGenlMsgHdr::reply(minor, ret).encode(&mut h);
    h
}
