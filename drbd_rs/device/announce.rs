// SPDX-License-Identifier: GPL-2.0

//! What a device tells its peer about itself (`P_SIZES`, `P_UUIDS`, `P_STATE`), and the sink
//! of the sync handshake's log lines and helpers. Called by the device itself on state
//! changes and by the engines above (receiver, resync, verify).

use kernel::prelude::*;

use super::Device;
use crate::connection::{Session, Sock};
use crate::drbd_core::{
    packets::{self, Packet},
    uuid::{self, Event},
};

/// `P_SIZES` for volume `vnr`.
pub(crate) fn send_sizes(s: &Session, vnr: u16, d: &Device) -> Result {
    let p = d.sizes_packet(s.features);
    s.send(Sock::Data, vnr, &Packet::Sizes(p))
}

/// `P_UUIDS` for volume `vnr`.
pub(crate) fn send_uuids(s: &Session, vnr: u16, d: &Device) -> Result {
    let discard = s.conn.settings.lock().discard_my_data;
    match d.uuids_packet(discard) {
        Some(p) => s.send(Sock::Data, vnr, &Packet::Uuids(p)),
        None => Ok(()),
    }
}

/// `P_STATE` for volume `vnr`.
pub(crate) fn send_state(s: &Session, vnr: u16, d: &Device) -> Result {
    let st = d.state().to_abi();
    s.send(
        Sock::Data,
        vnr,
        &Packet::State(packets::State { state: st }),
    )
}

/// Sink for the sync handshake's events: prints its lines and runs its helpers (waiting for
/// each, on the receiver thread, as the C module does), `peer` being the connection's peer.
pub(crate) fn log_event(minor: u32, peer: &crate::sys::net::SockAddr, e: Event) {
    match e {
        Event::Log(level, msg) => match level {
            uuid::Level::Alert | uuid::Level::Err => {
                pr_err!("drbd{}: {}\n", minor, format_args!("{}", msg))
            }
            uuid::Level::Warn => pr_warn!("drbd{}: {}\n", minor, format_args!("{}", msg)),
            _ => pr_info!("drbd{}: {}\n", minor, format_args!("{}", msg)),
        },
        Event::Helper(h) => {
            crate::helper::run(minor, Some(peer), crate::helper::Cmd::Handshake(h));
        }
    }
}
