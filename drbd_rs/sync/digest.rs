// SPDX-License-Identifier: GPL-2.0

//! The digests of online verify and checksum-based resync: the `verify-alg` / `csums-alg`
//! negotiated in `P_SYNC_PARAM`, their hash transforms, and a local block read and hashed.

use kernel::prelude::*;

use crate::connection::{conn_err, conn_info, Connection, Failure, Session, Sock};
use crate::device::Device;
use crate::drbd_core::genl::ConnState;
use crate::drbd_core::packets::{AlgName, Packet, SyncParam, MAX_DIGEST_SIZE};
use crate::sys::{crypto::{Shash, ShashGuard}, pages::PageBuf};

/// A transform for the algorithm named `name` (from the network settings).
pub(crate) fn shash_for(name: &[u8]) -> Option<Shash> {
    let mut buf = [0u8; 80];
    if name.is_empty() || name.len() >= buf.len() || name.contains(&0) {
        return None;
    }
    buf[..name.len()].copy_from_slice(name);
    let c = core::ffi::CStr::from_bytes_with_nul(&buf[..=name.len()]).ok()?;
    Shash::new(c).ok()
}

/// The `verify-alg` transform of the session (kept in the session, locked while held).
pub(crate) fn verify_tfm(s: &Session) -> Option<ShashGuard<'_>> {
    let name = alg_name(&s.conn.settings.lock().verify_alg);
    s.verify_tfm.get(name.as_bytes())
}

/// The `csums-alg` transform of the session (kept in the session, locked while held).
pub(crate) fn csums_tfm(s: &Session) -> Option<ShashGuard<'_>> {
    let name = alg_name(&s.conn.settings.lock().csums_alg);
    s.csums_tfm.get(name.as_bytes())
}

/// Digest of the data in `buf` into `out`; its length.
pub(crate) fn digest_buf(tfm: &mut Shash, buf: &PageBuf, out: &mut [u8; MAX_DIGEST_SIZE]) -> Result<usize> {
    let mut scratch: KVVec<u8> = KVVec::new();
    scratch.resize(buf.len(), 0, GFP_KERNEL)?;
    buf.copy_to_slice(0, &mut scratch)?;
    tfm.digest(&scratch, out)
}

/// Reads `bytes` at `sector` of our disk into a new buffer, after peer writes in flight to
/// those blocks are done (a read must not overtake them). `None` if the read failed or the
/// disk is gone.
pub(crate) fn read_local(s: &Session, vnr: u16, d: &Device, sector: u64, bytes: u32) -> Result<Option<PageBuf>, Failure> {
    let Some(lower) = d.lower() else {
        return Ok(None);
    };
    {
        let mut rx = s.rx.lock();
        while rx.overlaps(vnr, sector, u64::from(bytes >> 9)) && !s.is_failed() {
            s.rx_cv.wait(&mut rx);
        }
    }
    let mut buf = PageBuf::alloc(bytes as usize).map_err(|_| Failure::NetworkFailure)?;
    match lower.read_buf_sync(sector, &mut buf) {
        Ok(()) => {
            d.count_io(bytes, 0);
            Ok(Some(buf))
        }
        Err(_) => Ok(None),
    }
}

// ------------------------------------------------------------------------------------------------
// Settings (`P_SYNC_PARAM`).

pub(crate) fn alg_name(b: &[u8]) -> AlgName {
    AlgName::new(b).unwrap_or(AlgName::EMPTY)
}

/// Fills in the connection's `verify-alg` and `csums-alg` for sending.
pub(crate) fn with_algs(s: &Session, mut sp: SyncParam) -> SyncParam {
    let st = s.conn.settings.lock();
    sp.verify_alg = alg_name(&st.verify_alg);
    sp.csums_alg = alg_name(&st.csums_alg);
    sp
}

/// `receive_SyncParam`'s algorithm part: while the connection is being set up both sides must
/// name the same algorithms ("Different verify-alg settings"); later the peer's choice is
/// taken, if this kernel has it.
pub(crate) fn receive_algs(s: &Session, d: &Device, sp: &SyncParam) -> Result<(), Failure> {
    if s.agreed < 88 {
        return Ok(());
    }
    let connecting = d.state().conn == ConnState::WfReportParams;
    for (what, peer, csums) in [("verify-alg", sp.verify_alg, false), ("csums-alg", sp.csums_alg, true)] {
        if csums && s.agreed < 89 {
            continue;
        }
        let mine = {
            let st = s.conn.settings.lock();
            let v = if csums { &st.csums_alg } else { &st.verify_alg };
            let mut k = KVec::new();
            k.extend_from_slice(v, GFP_KERNEL).map_err(|_| Failure::NetworkFailure)?;
            k
        };
        if mine.as_slice() == peer.as_bytes() {
            continue;
        }
        if connecting {
            conn_err!(
                s.conn,
                "Different {} settings. me=\"{}\" peer=\"{}\"\n",
                what,
                show(&mine),
                show(peer.as_bytes())
            );
            return Err(Failure::Incompatible);
        }
        if !peer.is_empty() && shash_for(peer.as_bytes()).is_none() {
            conn_err!(s.conn, "Can not allocate \"{}\" as {}\n", peer.as_str().unwrap_or("?"), what);
            return Err(Failure::Incompatible);
        }
        let mut v = KVec::new();
        v.extend_from_slice(peer.as_bytes(), GFP_KERNEL).map_err(|_| Failure::NetworkFailure)?;
        {
            let mut st = s.conn.settings.lock();
            if csums {
                st.csums_alg = v;
            } else {
                st.verify_alg = v;
            }
        }
        conn_info!(s.conn, "using {}: \"{}\"\n", what, peer.as_str().unwrap_or("?"));
    }
    Ok(())
}

pub(crate) fn show(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("?")
}

/// After `net-options` changed `verify-alg` or `csums-alg`: tells the peer
/// (`drbd_send_sync_param`).
pub(crate) fn send_sync_params(conn: &Connection) {
    let Some(s) = conn.session() else {
        return;
    };
    for (vnr, d) in s.conn.devices.iter() {
        if d.state().conn.raw() < ConnState::Connected.raw() {
            continue;
        }
        let sp = with_algs(&s, d.sync_param());
        let _ = s.send(Sock::Data, *vnr, &Packet::SyncParam(SyncParam::command(s.agreed), sp.as_sent(s.agreed)));
    }
}

// ------------------------------------------------------------------------------------------------
// Online verify: starting and ending.
