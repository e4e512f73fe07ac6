// SPDX-License-Identifier: GPL-2.0

//! The log lines and user-mode helper calls the UUID rules produce ([`Event`], [`Msg`],
//! [`Helper`]), delivered in the C module's order through an [`EventSink`], and a fixed-size
//! [`Log`] of them.

use super::sets::Uuids;
use super::LOG_CAPACITY;
use core::fmt;

/// Kernel log level of a line (`drbd_info`, `drbd_warn`, `drbd_err`, `drbd_alert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `KERN_INFO`.
    Info,
    /// `KERN_WARNING`.
    Warn,
    /// `KERN_ERR`.
    Err,
    /// `KERN_ALERT`.
    Alert,
}

/// A user-mode helper the C module runs (`drbd_khelper`, i.e. `drbdadm <name> <resource>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helper {
    /// `initial-split-brain`: split brain detected, before any policy ran.
    InitialSplitBrain,
    /// `split-brain`: split brain not resolved, the connection is dropped.
    SplitBrain,
    /// `pri-lost`: this Primary would have to become SyncTarget (rr-conflict call-pri-lost).
    PriLost,
    /// `pri-lost-after-sb`: split-brain recovery wants this Primary demoted, but it could not be.
    PriLostAfterSb,
}

impl Helper {
    /// The handler name passed to drbdadm.
    pub fn name(self) -> &'static str {
        match self {
            Helper::InitialSplitBrain => "initial-split-brain",
            Helper::SplitBrain => "split-brain",
            Helper::PriLost => "pri-lost",
            Helper::PriLostAfterSb => "pri-lost-after-sb",
        }
    }
}

/// A log line of the handshake, with its parameters. `Display` prints exactly the C module's
/// text (without the trailing newline), so logs of drbd-rs and of the C module compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// "drbd_sync_handshake:"
    HandshakeStart,
    /// `drbd_uuid_dump`: "{who} %016llX:%016llX:%016llX:%016llX bits:%llu flags:%llX".
    UuidDump {
        /// "self" or "peer".
        who: &'static str,
        /// The UUIDs printed.
        uuids: Uuids,
        /// Bit count printed.
        bits: u64,
        /// Flags printed.
        flags: u64,
    },
    /// "uuid_compare()=%d by rule %d"
    CompareResult {
        /// The C return value.
        hg: i32,
        /// The rule number.
        rule: u32,
    },
    /// Rule 34.
    WasSyncSourceCorrectedMyself,
    /// Rule 36.
    WasSyncSourcePeerFailed,
    /// Rule 35.
    WasSyncTargetCorrectedPeer,
    /// Rule 37.
    WasSyncTargetFailed,
    /// Rule 41, peer too old.
    UnrotatedPrimaryPresent,
    /// Rule 41, both Primary.
    UnrotatedBothPrimary,
    /// Rule 51.
    LostLastSyncUuid,
    /// Rule 71.
    LastSyncUuidNotThrough,
    /// "Unrelated data, aborting!"
    UnrelatedData,
    /// "To resolve this both sides have to support at least protocol %d and feature flags 0x%x"
    NeedProtocolAndFeatures {
        /// Protocol version.
        protocol: u32,
        /// `DRBD_FF_*` bits.
        features: u32,
    },
    /// "To resolve this both sides have to support at least protocol %d"
    NeedProtocol {
        /// Protocol version.
        protocol: u32,
    },
    /// "Becoming sync %s due to disk states."
    BecomingSyncDueToDiskStates {
        /// Source (true) or target.
        source: bool,
    },
    /// "Configuration error."
    ConfigurationError,
    /// "Discard younger/older primary did not find a decision\nUsing discard-least-changes
    /// instead"
    NoYoungerOlderDecision,
    /// "Successfully gave up primary role."
    GaveUpPrimary,
    /// "Split-Brain detected, %d primaries, automatically solved. Sync from %s node"
    SplitBrainAutoSolved {
        /// Number of Primaries.
        primaries: u32,
        /// Sync from this node (true) or the peer.
        from_this: bool,
    },
    /// "Doing a full sync, since UUIDs where ambiguous."
    FullSyncAmbiguous,
    /// "Split-Brain detected, manually solved. Sync from %s node"
    SplitBrainManuallySolved {
        /// Sync from this node (true) or the peer.
        from_this: bool,
    },
    /// "Split-Brain detected but unresolved, dropping connection!"
    SplitBrainUnresolved,
    /// "I shall become SyncSource, but I am inconsistent!"
    SourceButInconsistent,
    /// "I shall become SyncTarget, but I am primary!"
    TargetButPrimary,
    /// "Becoming SyncTarget, violating the stable-dataassumption" (sic: the C string literal
    /// lacks the space).
    TargetViolently,
    /// "dry-run connect: No resync, would become Connected immediately."
    DryRunNoResync,
    /// "dry-run connect: Would become %s, doing a %s resync."
    DryRunWouldBecome {
        /// Would become SyncSource (true) or SyncTarget.
        source: bool,
        /// Full (true) or bit-map based.
        full: bool,
    },
    /// "Writing the whole bitmap, full sync required after drbd_sync_handshake."
    WritingWholeBitmap,
    /// "No resync, but %lu bits in bitmap!"
    NoResyncButBits {
        /// Bits set.
        bits: u64,
    },
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Msg::HandshakeStart => f.write_str("drbd_sync_handshake:"),
            Msg::UuidDump {
                who,
                uuids,
                bits,
                flags,
            } => write!(
                f,
                "{} {:016X}:{:016X}:{:016X}:{:016X} bits:{} flags:{:X}",
                who, uuids.current, uuids.bitmap, uuids.history[0], uuids.history[1], bits, flags
            ),
            Msg::CompareResult { hg, rule } => write!(f, "uuid_compare()={} by rule {}", hg, rule),
            Msg::WasSyncSourceCorrectedMyself => f.write_str(
                "was SyncSource, missed the resync finished event, corrected myself:",
            ),
            Msg::WasSyncSourcePeerFailed => {
                f.write_str("was SyncSource (peer failed to write sync_uuid)")
            }
            Msg::WasSyncTargetCorrectedPeer => f.write_str(
                "was SyncTarget, peer missed the resync finished event, corrected peer:",
            ),
            Msg::WasSyncTargetFailed => f.write_str("was SyncTarget (failed to write sync_uuid)"),
            Msg::UnrotatedPrimaryPresent => {
                f.write_str("Equivalent unrotated UUIDs, but current primary present.")
            }
            Msg::UnrotatedBothPrimary => f.write_str(
                "Equivalent unrotated UUIDs, but both are primary. Can not resolve this.",
            ),
            Msg::LostLastSyncUuid => f.write_str("Lost last syncUUID packet, corrected:"),
            Msg::LastSyncUuidNotThrough => {
                f.write_str("Last syncUUID did not get through, corrected:")
            }
            Msg::UnrelatedData => f.write_str("Unrelated data, aborting!"),
            Msg::NeedProtocolAndFeatures { protocol, features } => write!(
                f,
                "To resolve this both sides have to support at least protocol {} and feature flags 0x{:x}",
                protocol, features
            ),
            Msg::NeedProtocol { protocol } => write!(
                f,
                "To resolve this both sides have to support at least protocol {}",
                protocol
            ),
            Msg::BecomingSyncDueToDiskStates { source } => write!(
                f,
                "Becoming sync {} due to disk states.",
                if source { "source" } else { "target" }
            ),
            Msg::ConfigurationError => f.write_str("Configuration error."),
            Msg::NoYoungerOlderDecision => f.write_str(
                "Discard younger/older primary did not find a decision\nUsing discard-least-changes instead",
            ),
            Msg::GaveUpPrimary => f.write_str("Successfully gave up primary role."),
            Msg::SplitBrainAutoSolved {
                primaries,
                from_this,
            } => write!(
                f,
                "Split-Brain detected, {} primaries, automatically solved. Sync from {} node",
                primaries,
                if from_this { "this" } else { "peer" }
            ),
            Msg::FullSyncAmbiguous => {
                f.write_str("Doing a full sync, since UUIDs where ambiguous.")
            }
            Msg::SplitBrainManuallySolved { from_this } => write!(
                f,
                "Split-Brain detected, manually solved. Sync from {} node",
                if from_this { "this" } else { "peer" }
            ),
            Msg::SplitBrainUnresolved => {
                f.write_str("Split-Brain detected but unresolved, dropping connection!")
            }
            Msg::SourceButInconsistent => {
                f.write_str("I shall become SyncSource, but I am inconsistent!")
            }
            Msg::TargetButPrimary => f.write_str("I shall become SyncTarget, but I am primary!"),
            Msg::TargetViolently => {
                f.write_str("Becoming SyncTarget, violating the stable-dataassumption")
            }
            Msg::DryRunNoResync => {
                f.write_str("dry-run connect: No resync, would become Connected immediately.")
            }
            Msg::DryRunWouldBecome { source, full } => write!(
                f,
                "dry-run connect: Would become {}, doing a {} resync.",
                if source { "SyncSource" } else { "SyncTarget" },
                if full { "full" } else { "bit-map based" }
            ),
            Msg::WritingWholeBitmap => f.write_str(
                "Writing the whole bitmap, full sync required after drbd_sync_handshake.",
            ),
            Msg::NoResyncButBits { bits } => write!(f, "No resync, but {} bits in bitmap!", bits),
        }
    }
}

/// One thing the handshake asks the driver to do, in order: print a line or run a helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Print `Msg` at `Level`.
    Log(Level, Msg),
    /// Run the user-mode helper.
    Helper(Helper),
}

/// Where the handshake functions put their [`Event`]s: the driver passes a closure that prints
/// each line (and runs each helper) at once, so nothing needs to be stored; tests pass a
/// [`Log`].
pub trait EventSink {
    /// Takes one event.
    fn event(&mut self, e: Event);

    /// Takes a log line.
    fn log(&mut self, level: Level, msg: Msg) {
        self.event(Event::Log(level, msg));
    }
}

impl<F: FnMut(Event)> EventSink for F {
    fn event(&mut self, e: Event) {
        self(e)
    }
}

impl EventSink for Log {
    fn event(&mut self, e: Event) {
        self.push(e);
    }
}

/// A bounded, allocation-free list of [`Event`]s.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    events: [Option<Event>; LOG_CAPACITY],
    len: usize,
    dropped: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log::new()
    }
}

impl Log {
    /// An empty log.
    pub const fn new() -> Log {
        Log {
            events: [None; LOG_CAPACITY],
            len: 0,
            dropped: 0,
        }
    }

    /// Appends an event; beyond [`LOG_CAPACITY`] events are counted in [`Log::dropped`] rather
    /// than stored (no code path here produces that many).
    pub fn push(&mut self, e: Event) {
        match self.events.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(e);
                self.len += 1;
            }
            None => self.dropped = self.dropped.saturating_add(1),
        }
    }

    /// The events, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().take(self.len).flatten()
    }

    /// Number of stored events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Events that did not fit.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Whether `msg` was logged (at any level).
    pub fn contains(&self, msg: &Msg) -> bool {
        self.iter()
            .any(|e| matches!(e, Event::Log(_, m) if m == msg))
    }

    /// Whether `helper` was requested.
    pub fn called(&self, helper: Helper) -> bool {
        self.iter().any(|e| *e == Event::Helper(helper))
    }
}
