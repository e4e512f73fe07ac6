// SPDX-License-Identifier: GPL-2.0

//! What a connection reports upward, to the control plane that keeps its network
//! configuration: the receiver gave up for good (incompatible peer settings, "Discarding
//! network configuration"), or the peer changed the policies that `show` reports
//! (`P_PROTOCOL_UPDATE`). Registered at module init; until then reports go nowhere.

use super::Connection;
use crate::sys::hook::Hook;

/// The control plane's side of a connection's reports.
pub(crate) struct ConnectionEvents {
    /// The connection stopped on its own: its network configuration is to be forgotten.
    pub(crate) gave_up: fn(&Connection),
    /// The peer's `allow-two-primaries` and `after-sb-{0,1,2}pri` policies, now in force.
    pub(crate) peer_protocol: fn(&Connection, bool, [u32; 3]),
}

static EVENTS: Hook<ConnectionEvents> = Hook::new();

/// Registers the control plane's listener (`None` at module exit).
pub(crate) fn set_events(e: Option<&'static ConnectionEvents>) {
    EVENTS.set(e);
}

/// Reports that `c` gave up and forgets its configuration.
pub(super) fn gave_up(c: &Connection) {
    if let Some(e) = EVENTS.get() {
        (e.gave_up)(c);
    }
}

/// Reports the peer's new `allow-two-primaries` and `after-sb-*` policies.
pub(crate) fn peer_protocol(c: &Connection, two_primaries: bool, after_sb: [u32; 3]) {
    if let Some(e) = EVENTS.get() {
        (e.peer_protocol)(c, two_primaries, after_sb);
    }
}
