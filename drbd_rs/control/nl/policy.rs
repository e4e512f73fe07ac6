// SPDX-License-Identifier: GPL-2.0

//! The attribute policies of the C family (`drbd_nl_gen.c`) and `__nla_validate_parse` with
//! `NL_VALIDATE_STRICT`, over raw attribute bytes.

use crate::drbd_core::genl::{
    nla_align, Cmd, FieldType, StructDef, TopAttr, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK,
};
use kernel::prelude::*;

/// An `nla_policy` entry of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pol {
    /// No entry (`NLA_UNSPEC`): refused under strict validation.
    Unspec,
    /// `NLA_U8` (DRBD's flags).
    U8,
    /// `NLA_U16`.
    U16,
    /// `NLA_U32` (also DRBD's signed fields).
    U32,
    /// `NLA_U64`.
    U64,
    /// `NLA_NUL_STRING` with `.len` (the C buffer size).
    NulString(usize),
    /// `NLA_POLICY_MAX_LEN`.
    BinaryMax(usize),
    /// `NLA_POLICY_NESTED` of a struct.
    Nested(&'static StructDef),
}

/// The policy of field `id` of `def`.
pub(crate) fn field_pol(def: &StructDef, id: u16) -> Pol {
    match def.field(id) {
        None => Pol::Unspec,
        Some(f) => match f.ty {
            FieldType::U8 | FieldType::Flag => Pol::U8,
            FieldType::U16 => Pol::U16,
            FieldType::U32 | FieldType::I32 => Pol::U32,
            FieldType::U64 => Pol::U64,
            // The generated policy's `.len` is the C buffer size, one more than the
            // longest string the ABI table allows.
            FieldType::String { max_len } => Pol::NulString(usize::from(max_len) + 1),
            FieldType::Binary { max_len } => Pol::BinaryMax(usize::from(max_len)),
        },
    }
}

/// The top-level policy of a request: its `maxattr` and the structs it may carry.
pub(crate) fn request_policy(cmd: Cmd) -> (u16, &'static [TopAttr]) {
    use TopAttr::*;
    const CTX: &[TopAttr] = &[CfgContext];
    match cmd {
        Cmd::NewResource | Cmd::ResourceOpts => (4, &[CfgContext, ResourceOpts]),
        Cmd::Connect | Cmd::ChgNetOpts => (5, &[CfgContext, NetConf]),
        Cmd::Disconnect => (12, &[CfgContext, DisconnectParms]),
        Cmd::Attach | Cmd::ChgDiskOpts => (3, &[CfgContext, DiskConf]),
        Cmd::Resize => (7, &[CfgContext, ResizeParms]),
        Cmd::Primary | Cmd::Secondary => (6, &[CfgContext, SetRoleParms]),
        Cmd::NewCUuid => (10, &[CfgContext, NewCUuidParms]),
        // The C policy of verify has no context.
        Cmd::StartOv => (9, &[StartOvParms]),
        Cmd::Detach => (13, &[CfgContext, DetachParms]),
        Cmd::GetResources => (19, &[CfgContext, ResourceInfo, ResourceStatistics]),
        Cmd::GetDevices => (20, &[CfgContext, DeviceInfo, DeviceStatistics]),
        Cmd::GetConnections => (21, &[CfgContext, ConnectionInfo, ConnectionStatistics]),
        Cmd::GetPeerDevices => (22, &[CfgContext, PeerDeviceInfo, PeerDeviceStatistics]),
        _ => (2, CTX),
    }
}

/// Validates the attributes of a `cmd` request as the genl core does with the C
/// family's policy: `EINVAL` or `ERANGE`, like the kernel.
pub(crate) fn validate(cmd: Cmd, attrs: &[u8]) -> Result {
    let (max, allowed) = request_policy(cmd);
    validate_stream(
        attrs,
        max,
        &|ty| match allowed.iter().find(|t| **t as u16 == ty) {
            Some(t) => Pol::Nested(t.struct_def()),
            None => Pol::Unspec,
        },
    )
}

/// `__nla_validate_parse` with `NL_VALIDATE_STRICT` over `buf`.
pub(crate) fn validate_stream(buf: &[u8], maxtype: u16, pol: &dyn Fn(u16) -> Pol) -> Result {
    let mut pos = 0usize;
    let mut rem = buf.len() as isize;
    while rem >= NLA_HDRLEN as isize {
        let len = usize::from(u16::from_ne_bytes([buf[pos], buf[pos + 1]]));
        if len < NLA_HDRLEN || len as isize > rem {
            break;
        }
        let raw = u16::from_ne_bytes([buf[pos + 2], buf[pos + 3]]);
        let ty = raw & NLA_TYPE_MASK;
        if ty == 0 || ty > maxtype {
            // "Unknown attribute type"
            return Err(EINVAL);
        }
        validate_nla(raw, &buf[pos + NLA_HDRLEN..pos + len], pol(ty))?;
        let adv = nla_align(len);
        pos += adv;
        rem -= adv as isize;
    }
    if rem > 0 {
        // "bytes leftover after parsing attributes"
        return Err(EINVAL);
    }
    Ok(())
}

/// `validate_nla` for one attribute of raw type `raw` and policy `pol`.
fn validate_nla(raw: u16, payload: &[u8], pol: Pol) -> Result {
    let attrlen = payload.len();
    let exact = match pol {
        Pol::U8 => Some(1),
        Pol::U16 => Some(2),
        Pol::U32 => Some(4),
        Pol::U64 => Some(8),
        _ => None,
    };
    if exact.is_some_and(|n| attrlen != n) {
        // "invalid attribute length"
        return Err(EINVAL);
    }
    let nested = raw & NLA_F_NESTED != 0;
    match pol {
        Pol::Nested(_) if !nested => return Err(EINVAL),
        Pol::Nested(_) | Pol::Unspec => {}
        _ if nested => return Err(EINVAL),
        _ => {}
    }
    match pol {
        Pol::Unspec => Err(EINVAL),
        Pol::NulString(len) => {
            let minlen = attrlen.min(len + 1);
            if minlen == 0 || !payload[..minlen].contains(&0) {
                return Err(EINVAL);
            }
            let mut l = attrlen;
            if payload[l - 1] == 0 {
                l -= 1;
            }
            if l > len {
                return Err(ERANGE);
            }
            Ok(())
        }
        Pol::BinaryMax(max) => {
            if attrlen > max {
                // "binary attribute size out of range"
                Err(ERANGE)
            } else {
                Ok(())
            }
        }
        Pol::Nested(def) => {
            if attrlen == 0 {
                return Ok(());
            }
            if attrlen < NLA_HDRLEN {
                return Err(ERANGE);
            }
            validate_stream(payload, def.max_id(), &|ty| field_pol(def, ty))
        }
        _ => Ok(()),
    }
}
