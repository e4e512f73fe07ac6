// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the usermode helpers: the `usermode_helper` parameter's default, running a
//! program and getting its exit status back (`call_usermodehelper` with `UMH_WAIT_PROC`), a
//! missing program, the helper's `minor-N` argument and `DRBD_PEER_*` environment as the C
//! module formats them, and the helper workqueue.

use kernel::{bindings, prelude::*};

use crate::helper;
use crate::sys::{net::SockAddr, umh};

macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            pr_err!(
                "drbd_rs_helper: check failed at line {}: {}\n",
                line!(),
                stringify!($cond)
            );
            return Err(EINVAL);
        }
    };
}

fn v4(ip: [u8; 4], port: u16) -> Result<SockAddr> {
    let mut raw = [0u8; 16];
    raw[..2].copy_from_slice(&2u16.to_ne_bytes());
    raw[2..4].copy_from_slice(&port.to_be_bytes());
    raw[4..8].copy_from_slice(&ip);
    SockAddr::from_raw(&raw)
}

fn v6(ip: [u8; 16], port: u16) -> Result<SockAddr> {
    let mut raw = [0u8; 28];
    raw[..2].copy_from_slice(&10u16.to_ne_bytes());
    raw[2..4].copy_from_slice(&port.to_be_bytes());
    raw[8..24].copy_from_slice(&ip);
    SockAddr::from_raw(&raw)
}

fn env_is(peer: Option<&SockAddr>, af: &CStr, addr: &CStr) -> Result<bool> {
    let mut af_buf = [0u8; 20];
    let mut addr_buf = [0u8; 60];
    let (a, b) = helper::peer_env(peer, &mut af_buf, &mut addr_buf);
    if a != af || b != addr {
        pr_err!("drbd_rs_helper: env {:?} {:?}\n", a, b);
        return Ok(false);
    }
    Ok(true)
}

#[kunit_tests(drbd_rs_helper)]
mod tests {
    use super::*;

    #[test]
    fn default_helper_is_drbdadm() -> Result {
        ensure!(umh::HelperPath::get().as_cstr() == c"/sbin/drbdadm");
        ensure!(umh::HelperPath::get().as_str() == "/sbin/drbdadm");
        Ok(())
    }

    #[test]
    fn exit_status_and_missing_program() -> Result {
        let env = [c"HOME=/", c"PATH=/sbin:/usr/sbin:/bin:/usr/bin"];
        let r = umh::call(c"/bin/sh", &[c"/bin/sh", c"-c", c"exit 7"], &env);
        ensure!(r == 7 << 8);
        let r = umh::call(c"/bin/sh", &[c"/bin/sh", c"-c", c"exit 0"], &env);
        ensure!(r == 0);
        // The environment arrives as given.
        let r = umh::call(
            c"/bin/sh",
            &[c"/bin/sh", c"-c", c"[ \"$DRBD_PEER_AF\" = ipv4 ] && exit 3; exit 4"],
            &[c"DRBD_PEER_AF=ipv4"],
        );
        ensure!(r == 3 << 8);
        let r = umh::call(c"/nonexistent/helper", &[c"/nonexistent/helper"], &env);
        ensure!(r == -(bindings::ENOENT as i32));
        // Too many strings: refused without running anything.
        let many = [c"x"; umh::MAX_STRINGS + 1];
        ensure!(umh::call(c"/bin/sh", &many, &env) == -(bindings::E2BIG as i32));
        Ok(())
    }

    #[test]
    fn peer_environment_as_c_prints_it() -> Result {
        ensure!(env_is(
            Some(&v4([192, 0, 2, 1], 7789)?),
            c"DRBD_PEER_AF=ipv4",
            c"DRBD_PEER_ADDRESS=192.0.2.1"
        )?);
        let mut ip = [0u8; 16];
        ip[0] = 0xfd;
        ip[15] = 1;
        ensure!(env_is(
            Some(&v6(ip, 7789)?),
            c"DRBD_PEER_AF=ipv6",
            c"DRBD_PEER_ADDRESS=fd00:0000:0000:0000:0000:0000:0000:0001"
        )?);
        ensure!(env_is(None, c"", c"")?);
        Ok(())
    }

    #[test]
    fn helper_names() -> Result {
        use crate::drbd_core::uuid::Helper;
        ensure!(helper::Cmd::Handshake(Helper::InitialSplitBrain).name() == c"initial-split-brain");
        ensure!(helper::Cmd::Handshake(Helper::SplitBrain).name() == c"split-brain");
        ensure!(helper::Cmd::Handshake(Helper::PriLost).name() == c"pri-lost");
        ensure!(helper::Cmd::Handshake(Helper::PriLostAfterSb).name() == c"pri-lost-after-sb");
        ensure!(helper::Cmd::BeforeResyncTarget.name() == c"before-resync-target");
        ensure!(helper::Cmd::BeforeResyncSource.name() == c"before-resync-source");
        ensure!(helper::Cmd::AfterResyncTarget.name() == c"after-resync-target");
        Ok(())
    }

    #[test]
    fn run_ignores_errnos() -> Result {
        // The default helper does not exist in the test guest: run reports 0, as the C
        // module's drbd_khelper does for a negative errno.
        ensure!(helper::run(999, None, helper::Cmd::AfterResyncTarget) == 0);
        Ok(())
    }
}
