// SPDX-License-Identifier: GPL-2.0

//! What the device layer reports upward: state changes for `events2` and the 8.4 `EVENT`
//! broadcast, a detach that finished outside a request, and the look-up of a device by its
//! minor (the registry of resources lives above this layer). The control plane registers its
//! [`DeviceEvents`] at module init; until then, and after exit, reports go nowhere.

use kernel::sync::Arc;

use super::Device;
use crate::drbd_core::state::State;
use crate::sys::hook::Hook;

/// The control plane's side of the device layer's reports.
pub(crate) struct DeviceEvents {
    /// The device with this minor changed state from the first to the second `State`.
    pub(crate) state_changed: fn(u32, State, State),
    /// A detach of the device with this minor finished outside a request (forced detach,
    /// I/O error): its disk configuration is gone, and the state changed as given.
    pub(crate) disk_detached: fn(u32, State, State),
    /// The device with this minor, if one exists.
    pub(crate) device_of_minor: fn(u32) -> Option<Arc<Device>>,
}

static EVENTS: Hook<DeviceEvents> = Hook::new();

/// Registers the control plane's listener (`None` at module exit).
pub(crate) fn set_events(e: Option<&'static DeviceEvents>) {
    EVENTS.set(e);
}

/// Reports a state change of device `minor` from `os` to `ns`.
pub(crate) fn state_changed(minor: u32, os: State, ns: State) {
    if let Some(e) = EVENTS.get() {
        (e.state_changed)(minor, os, ns);
    }
}

/// Reports a detach of device `minor` that finished outside a request.
pub(super) fn disk_detached(minor: u32, os: State, ns: State) {
    if let Some(e) = EVENTS.get() {
        (e.disk_detached)(minor, os, ns);
    }
}

/// The device with minor `minor`.
pub(super) fn device_of_minor(minor: u32) -> Option<Arc<Device>> {
    EVENTS.get().and_then(|e| (e.device_of_minor)(minor))
}
