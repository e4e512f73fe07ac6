// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 generation UUIDs: how two nodes that meet decide whether and in which direction to
//! resync, and how the UUIDs move when data generations start and resyncs begin and end.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test` checks every rule against the C module. The driver
//! keeps the UUIDs (under its uuid lock) and does the I/O; it calls these functions, applies the
//! returned UUIDs, and prints the log lines and runs the user-mode helpers that arrive, in the C
//! module's order, through an [`EventSink`]. Random numbers for new UUIDs are passed in, so every
//! transition is reproducible in tests.
//!
//! # The four UUIDs
//!
//! A node keeps `current` (the generation of its data), `bitmap` (the generation its bitmap is
//! relative to: set while the peer misses writes, 0 otherwise) and two `history` slots (older
//! generations: 8.4 has exactly two, `UI_HISTORY_START` and `UI_HISTORY_END`). Bit 0 of a UUID
//! is not part of the identity: it is the role bit, set in `current` while the node is Primary,
//! and so, because a new generation moves `current` into `bitmap`, bit 0 of `bitmap` tells
//! whether the node was Primary when its peer went away. The after-split-brain policies
//! "discard younger/older primary" read exactly that bit. Comparisons therefore mask bit 0.
//!
//! Fresh meta-data has `current ==` [`UUID_JUST_CREATED`] (4): a value that no random
//! generation has, meaning "no data generation yet". It is a value, not a flag bit.
//!
//! # The handshake
//!
//! On connect each node sends `P_UUIDS` (its four UUIDs, its count of bits set in the bitmap and
//! `UUID_FLAG_*` flags). [`compare`] is `drbd_uuid_compare`: it returns a [`Verdict`] and the
//! number of the rule that decided, numbered exactly like the C code's `*rule_nr` (10 .. 100) so
//! logs read the same ("uuid_compare()=%d by rule %d"). [`handshake`] is `drbd_sync_handshake`:
//! it applies disk states, the after-split-brain policies, discard-my-data and rr-conflict to
//! the verdict and yields the next connection state or the reason the connection is dropped.

use core::fmt;

use super::genl::{AfterSb, ConnState, DiskState, RetCode, Role};
use super::meta::{
    UI_BITMAP, UI_CURRENT, UI_EXTENDED_SIZE, UI_FLAGS, UI_HISTORY_END, UI_HISTORY_START, UI_SIZE,
    UUID_JUST_CREATED,
};

/// Bit 0 of a UUID: the role bit (set in the current UUID while Primary), masked out whenever
/// UUIDs are compared.
pub const UUID_PRIMARY_BIT: u64 = 1;

/// What the sync source adds to its bitmap UUID to make the sync UUID it sends to the target
/// (`UUID_NEW_BM_OFFSET`). Because the offset is fixed, a node can recognise from protocol 96 on
/// that the peer's bitmap UUID is "its history UUID plus the offset", i.e. that a resync had
/// started but the sync UUID never arrived (rules 51 and 71).
pub const UUID_NEW_BM_OFFSET: u64 = 0x0001_0000_0000_0000;

// The `P_UUIDS` flag bits (weights 1, 2, 4, 8: discard-my-data, crashed primary, disk will be
// Inconsistent, skip initial sync) and `DRBD_FF_WSAME` are defined with the packet layouts. The
// C module uses `DRBD_FF_WSAME` also as the marker of a peer new enough to resolve "equal
// current UUIDs, no bitmap UUID, but a Primary is present" (rule 41).
pub use super::packets::{
    FF_WSAME as DRBD_FF_WSAME, UUID_FLAG_CRASHED_PRIMARY, UUID_FLAG_DISCARD_MY_DATA,
    UUID_FLAG_INCONSISTENT, UUID_FLAG_SKIP_INITIAL_SYNC,
};

/// Highest protocol version of the mainline 8.4.11 module; rule 41 asks for it by number.
const PRO_VERSION_MAX: u32 = 101;

/// Mask that drops the role bit.
const ID: u64 = !UUID_PRIMARY_BIT;

/// Capacity of a [`Log`]; one [`handshake`] produces at most about 15 events.
pub const LOG_CAPACITY: usize = 24;

// ---------------------------------------------------------------------------------------------
// UUID sets
// ---------------------------------------------------------------------------------------------

/// The four generation UUIDs of one node (`md.uuid[UI_CURRENT ..= UI_HISTORY_END]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Uuids {
    /// Generation of the data (`UI_CURRENT`), bit 0 set while Primary.
    pub current: u64,
    /// Generation the bitmap is relative to (`UI_BITMAP`), 0 if none.
    pub bitmap: u64,
    /// Older generations (`UI_HISTORY_START`, `UI_HISTORY_END`), newest first.
    pub history: [u64; 2],
}

/// One of the four UUID slots (`enum drbd_uuid_index` below `UI_SIZE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `UI_CURRENT`.
    Current,
    /// `UI_BITMAP`.
    Bitmap,
    /// `UI_HISTORY_START`.
    History0,
    /// `UI_HISTORY_END`.
    History1,
}

impl Slot {
    /// The slot's index in the meta-data and `P_UUIDS` arrays.
    pub fn index(self) -> usize {
        match self {
            Slot::Current => UI_CURRENT,
            Slot::Bitmap => UI_BITMAP,
            Slot::History0 => UI_HISTORY_START,
            Slot::History1 => UI_HISTORY_END,
        }
    }
}

impl Uuids {
    /// The UUIDs of freshly created meta-data.
    pub const JUST_CREATED: Uuids = Uuids {
        current: UUID_JUST_CREATED,
        bitmap: 0,
        history: [0, 0],
    };

    /// From the meta-data order (`UI_CURRENT`, `UI_BITMAP`, `UI_HISTORY_START`,
    /// `UI_HISTORY_END`).
    pub fn from_array(a: [u64; UI_SIZE]) -> Uuids {
        Uuids {
            current: a[UI_CURRENT],
            bitmap: a[UI_BITMAP],
            history: [a[UI_HISTORY_START], a[UI_HISTORY_END]],
        }
    }

    /// In the meta-data order.
    pub fn to_array(self) -> [u64; UI_SIZE] {
        let mut a = [0; UI_SIZE];
        a[UI_CURRENT] = self.current;
        a[UI_BITMAP] = self.bitmap;
        a[UI_HISTORY_START] = self.history[0];
        a[UI_HISTORY_END] = self.history[1];
        a
    }

    /// The value in `slot`.
    pub fn get(&self, slot: Slot) -> u64 {
        match slot {
            Slot::Current => self.current,
            Slot::Bitmap => self.bitmap,
            Slot::History0 => self.history[0],
            Slot::History1 => self.history[1],
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut u64 {
        match slot {
            Slot::Current => &mut self.current,
            Slot::Bitmap => &mut self.bitmap,
            Slot::History0 => &mut self.history[0],
            Slot::History1 => &mut self.history[1],
        }
    }

    /// `drbd_uuid_move_history`: shifts the history one slot older, dropping the oldest;
    /// the newest slot keeps its value until the caller overwrites it.
    pub fn move_history(&mut self) {
        self.history[1] = self.history[0];
    }

    /// `__drbd_uuid_set` / `_drbd_uuid_set`: stores `val` in `slot` without rotating anything.
    /// For the current UUID the role bit is forced to match `role`, so the peer can always tell
    /// from bit 0 whether this node is Primary.
    pub fn set_raw(&mut self, slot: Slot, val: u64, role: Role) {
        let val = if slot == Slot::Current {
            with_role_bit(val, role)
        } else {
            val
        };
        *self.slot_mut(slot) = val;
    }

    /// `drbd_uuid_set`: like [`Uuids::set_raw`], but a non-zero old value of `slot` is first
    /// rotated into the history, so the generation it named is remembered.
    pub fn set_rotating(&mut self, slot: Slot, val: u64, role: Role) {
        let old = self.get(slot);
        if old != 0 {
            self.move_history();
            self.history[0] = old;
        }
        self.set_raw(slot, val, role);
    }

    /// `drbd_uuid_new_current`: starts a new data generation. The old current UUID (with its
    /// role bit) becomes the bitmap UUID, so a later handshake sees that the peer, still on the
    /// old generation, needs a bitmap-based resync; `random` becomes the current UUID. Returns
    /// true if a bitmap UUID was already set and got overwritten (the C module warns
    /// "bm UUID was already set: %llX").
    pub fn new_current(&mut self, role: Role, random: u64) -> bool {
        let overwrote = self.bitmap != 0;
        self.bitmap = self.current;
        self.set_raw(Slot::Current, random, role);
        overwrote
    }

    /// `drbd_uuid_set_bm`. With `val == 0` (a resync finished): the bitmap UUID moves into the
    /// history, since both nodes now share the current generation; nothing happens if it was 0
    /// already. With `val != 0`: the bitmap UUID becomes `val` without its role bit. Returns
    /// true if a non-zero bitmap UUID got overwritten by a non-zero value ("bm UUID was already
    /// set").
    pub fn set_bm(&mut self, val: u64) -> bool {
        if self.bitmap == 0 && val == 0 {
            return false;
        }
        if val == 0 {
            self.move_history();
            self.history[0] = self.bitmap;
            self.bitmap = 0;
            false
        } else {
            let overwrote = self.bitmap != 0;
            self.bitmap = val & ID;
            overwrote
        }
    }

    /// `drbd_gen_and_send_sync_uuid`, run by the node that becomes SyncSource: derives the sync
    /// UUID from the bitmap UUID plus [`UUID_NEW_BM_OFFSET`] (or takes `random` if there is no
    /// bitmap UUID or it is [`UUID_JUST_CREATED`]), makes it the bitmap UUID (rotating the old
    /// one into the history) and returns it; the caller sends it in `P_SYNC_UUID` and syncs the
    /// meta-data.
    pub fn gen_sync_uuid(&mut self, random: u64) -> u64 {
        let bm = self.bitmap;
        let uuid = if bm != 0 && bm != UUID_JUST_CREATED {
            bm.wrapping_add(UUID_NEW_BM_OFFSET)
        } else {
            random
        };
        // The role only matters for the current slot; the bitmap slot stores `uuid` as is.
        self.set_rotating(Slot::Bitmap, uuid, Role::Secondary);
        uuid
    }

    /// `receive_sync_uuid`, run by the SyncTarget: the sync UUID becomes the current UUID (our
    /// data is now a mix, a generation of its own) and the bitmap UUID is cleared. Nothing is
    /// rotated into the history: the old current UUID is of no further interest.
    pub fn receive_sync_uuid(&mut self, sync_uuid: u64, role: Role) {
        self.set_raw(Slot::Current, sync_uuid, role);
        self.set_raw(Slot::Bitmap, 0, role);
    }

    /// `receive_uuids` with [`UUID_FLAG_SKIP_INITIAL_SYNC`]: take over the peer's current UUID
    /// and clear the bitmap UUID (the caller clears and writes the bitmap and sets both disks
    /// UpToDate). See [`skip_initial_sync`] for when this applies.
    pub fn accept_skip_initial_sync(&mut self, peer_current: u64, role: Role) {
        self.set_raw(Slot::Current, peer_current, role);
        self.set_raw(Slot::Bitmap, 0, role);
    }

    /// Promotion to Primary (`drbd_set_role`): a new data generation starts (with `random`)
    /// when forced, or when no peer can follow our writes (not connected, or the peer's disk is
    /// Failed or worse) and no bitmap generation is open yet; then the role bit is set.
    pub fn promote(
        &mut self,
        conn: ConnState,
        pdsk: DiskState,
        forced: bool,
        random: u64,
    ) -> Promotion {
        let no_peer =
            conn.raw() < ConnState::Connected.raw() || pdsk.raw() <= DiskState::Failed.raw();
        let mut p = Promotion {
            new_generation: false,
            overwrote_bitmap: false,
        };
        if (no_peer && self.bitmap == 0) || forced {
            p.new_generation = true;
            p.overwrote_bitmap = self.new_current(Role::Primary, random);
        }
        self.current |= UUID_PRIMARY_BIT;
        p
    }

    /// Demotion to Secondary (`drbd_set_role`): clears the role bit.
    pub fn demote(&mut self) {
        self.current &= ID;
    }

    /// `drbdsetup new-current-uuid` (`drbd_nl_new_c_uuid_doit`) once [`new_c_uuid_check`]
    /// allowed it: the bitmap UUID is rotated into the history, a new generation starts with
    /// `random`, and with `skip_initial_sync` the bitmap UUID is cleared again after the caller
    /// has sent `P_UUIDS` with [`UUID_FLAG_SKIP_INITIAL_SYNC`]. Returns the UUIDs to send in that
    /// packet (only meaningful with `skip_initial_sync`) and the final UUIDs are left in `self`.
    pub fn new_current_admin(&mut self, role: Role, random: u64, skip_initial_sync: bool) -> Uuids {
        self.set_rotating(Slot::Bitmap, 0, role);
        self.new_current(role, random);
        let sent = *self;
        if skip_initial_sync {
            self.set_raw(Slot::Bitmap, 0, role);
        }
        sent
    }
}

/// What [`Uuids::promote`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Promotion {
    /// A new current UUID was generated (the C module prints "new current UUID" and syncs the
    /// meta-data at once).
    pub new_generation: bool,
    /// A set bitmap UUID was overwritten ("bm UUID was already set").
    pub overwrote_bitmap: bool,
}

/// `val` with the role bit matching `role` (`__drbd_uuid_set` on `UI_CURRENT`).
pub fn with_role_bit(val: u64, role: Role) -> u64 {
    if role == Role::Primary {
        val | UUID_PRIMARY_BIT
    } else {
        val & ID
    }
}

/// The flags word of an outgoing `P_UUIDS` (`_drbd_send_uuids`): `skip_initial_sync` only from
/// `new-current-uuid --clear-bitmap`; `discard_my_data` from the connection's net options;
/// `crashed_primary` from the device flag; `disk_will_be_inconsistent` when the disk state the
/// device negotiates towards (`new_state_tmp.disk`) is Inconsistent.
pub fn uuid_flags(
    discard_my_data: bool,
    crashed_primary: bool,
    disk_will_be_inconsistent: bool,
    skip_initial_sync: bool,
) -> u64 {
    let mut f = 0;
    if skip_initial_sync {
        f |= UUID_FLAG_SKIP_INITIAL_SYNC;
    }
    if discard_my_data {
        f |= UUID_FLAG_DISCARD_MY_DATA;
    }
    if crashed_primary {
        f |= UUID_FLAG_CRASHED_PRIMARY;
    }
    if disk_will_be_inconsistent {
        f |= UUID_FLAG_INCONSISTENT;
    }
    f
}

/// The peer's disk state as `receive_state` uses it: while the peer reports `Negotiating`, its
/// `P_UUIDS` flags tell what it will be (Inconsistent with [`UUID_FLAG_INCONSISTENT`], else
/// Consistent). The C module logs "real peer disk state = %s" in that case.
pub fn real_peer_disk(reported: DiskState, peer_flags: u64) -> DiskState {
    if reported != DiskState::Negotiating {
        reported
    } else if peer_flags & UUID_FLAG_INCONSISTENT != 0 {
        DiskState::Inconsistent
    } else {
        DiskState::Consistent
    }
}

/// Whether a received `P_UUIDS` makes this node skip the initial sync (`receive_uuids`):
/// connected, protocol 90 or later, our meta-data still exactly [`UUID_JUST_CREATED`] and the
/// peer's flags carry [`UUID_FLAG_SKIP_INITIAL_SYNC`]. The C module logs "Accepted new current
/// UUID, preparing to skip initial sync" and then does [`Uuids::accept_skip_initial_sync`].
pub fn skip_initial_sync(
    conn: ConnState,
    agreed_protocol: u32,
    local: &Uuids,
    peer_flags: u64,
) -> bool {
    conn == ConnState::Connected
        && agreed_protocol >= 90
        && local.current == UUID_JUST_CREATED
        && peer_flags & UUID_FLAG_SKIP_INITIAL_SYNC != 0
}

/// Whether `drbdsetup new-current-uuid` may run (`drbd_nl_new_c_uuid_doit`): `Ok(true)` for the
/// "skip initial sync" case (connected, protocol 90 or later, fresh meta-data, `--clear-bitmap`;
/// the C module logs "Preparing to skip initial sync"), `Ok(false)` when StandAlone, and
/// `ERR_CONNECTED` otherwise.
pub fn new_c_uuid_check(
    conn: ConnState,
    agreed_protocol: u32,
    local: &Uuids,
    clear_bm: bool,
) -> Result<bool, RetCode> {
    if conn == ConnState::Connected
        && agreed_protocol >= 90
        && local.current == UUID_JUST_CREATED
        && clear_bm
    {
        Ok(true)
    } else if conn != ConnState::StandAlone {
        Err(RetCode::Connected)
    } else {
        Ok(false)
    }
}

/// `lost_contact_to_peer_data` (`drbd_state.c`): the peer's disk went from one that followed our
/// writes to one that does not (or from unknown to known-absent).
pub fn lost_contact_to_peer_data(os: DiskState, ns: DiskState) -> bool {
    let (o, n) = (os.raw(), ns.raw());
    let inc = DiskState::Inconsistent.raw();
    if o >= inc
        && os != DiskState::DUnknown
        && os != DiskState::Outdated
        && (n < inc || ns == DiskState::DUnknown || ns == DiskState::Outdated)
    {
        return true;
    }
    os == DiskState::DUnknown
        && (ns == DiskState::Diskless || ns == DiskState::Failed || ns == DiskState::Outdated)
}

/// Whether a state change must start a new data generation (`after_state_ch`): a Primary (on
/// either side) with UpToDate data and no open bitmap generation lost contact to the peer's
/// data, or a diskless peer became Primary. The driver then does [`Uuids::new_current`] and
/// sends `P_UUIDS` (or, while I/O is suspended, defers it with `NEW_CUR_UUID`).
pub fn needs_new_current_uuid(
    local: &Uuids,
    os_pdsk: DiskState,
    ns_pdsk: DiskState,
    os_peer: Role,
    ns_role: Role,
    ns_peer: Role,
    ns_disk: DiskState,
) -> bool {
    if local.bitmap != 0 || ns_disk.raw() < DiskState::UpToDate.raw() {
        return false;
    }
    let lost = lost_contact_to_peer_data(os_pdsk, ns_pdsk)
        && (ns_role == Role::Primary || ns_peer == Role::Primary);
    let diskless_peer_promoted = ns_pdsk.raw() < DiskState::Inconsistent.raw()
        && os_peer != Role::Primary
        && ns_peer == Role::Primary;
    lost || diskless_peer_promoted
}

/// How a resync or online-verify run ended, from the connection state it ran in
/// (`drbd_resync_finished`'s `os.conn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResyncSide {
    /// `SyncSource` or `PausedSyncS`.
    Source,
    /// `SyncTarget` or `PausedSyncT`.
    Target,
    /// `VerifyS` or `VerifyT`: online verify does not touch the UUIDs.
    Verify,
}

impl ResyncSide {
    /// The side for the connection state a run ended in; `None` for a state that is not a
    /// resync or verify state.
    pub fn from_conn(conn: ConnState) -> Option<ResyncSide> {
        match conn {
            ConnState::SyncSource | ConnState::PausedSyncS => Some(ResyncSide::Source),
            ConnState::SyncTarget | ConnState::PausedSyncT => Some(ResyncSide::Target),
            ConnState::VerifyS | ConnState::VerifyT => Some(ResyncSide::Verify),
            _ => None,
        }
    }
}

/// What [`resync_finished`] did to the UUIDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResyncEnd {
    /// The UUIDs changed ("updated UUIDs" is printed and the meta-data must be synced).
    pub updated: bool,
    /// A SyncTarget had no peer UUIDs to adopt; the C module logs
    /// "device->p_uuid is NULL! BUG" and still clears the bitmap UUID.
    pub peer_uuids_missing: bool,
}

/// UUID rotation at the end of a resync (`drbd_resync_finished`). Nothing changes if blocks
/// failed (`failed`) or for a verify run. A SyncTarget adopts the peer's UUIDs: it takes the
/// peer's bitmap and history slots, rotates its own current UUID (the sync UUID) in as bitmap
/// UUID and takes the peer's current UUID. Then both sides drop the bitmap UUID into the history
/// ([`Uuids::set_bm`] with 0), and `peer` (what we know of the peer's UUIDs) is updated to our
/// new UUIDs, as the two sets are now equal.
pub fn resync_finished(
    local: &mut Uuids,
    peer: Option<&mut Uuids>,
    side: ResyncSide,
    failed: bool,
    role: Role,
) -> ResyncEnd {
    let mut end = ResyncEnd {
        updated: false,
        peer_uuids_missing: false,
    };
    if failed || side == ResyncSide::Verify {
        return end;
    }
    if side == ResyncSide::Target {
        match peer.as_deref() {
            Some(p) => {
                local.set_raw(Slot::Bitmap, p.bitmap, role);
                local.set_raw(Slot::History0, p.history[0], role);
                local.set_raw(Slot::History1, p.history[1], role);
                let cur = local.current;
                local.set_rotating(Slot::Bitmap, cur, role);
                local.set_raw(Slot::Current, p.current, role);
            }
            None => end.peer_uuids_missing = true,
        }
    }
    local.set_bm(0);
    end.updated = true;
    if let Some(p) = peer {
        *p = *local;
    }
    end
}

// ---------------------------------------------------------------------------------------------
// What we know of the peer
// ---------------------------------------------------------------------------------------------

/// The content of the peer's last `P_UUIDS` (`device->p_uuid`). The wire layout is
/// [`super::packets::Uuids`]; this is the same data with the four UUIDs as a [`Uuids`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerUuids {
    /// The peer's four UUIDs.
    pub uuids: Uuids,
    /// Bits set in the peer's bitmap when it sent the packet (`UI_SIZE` slot, the peer's
    /// `comm_bm_set`); the after-split-brain "least changes" policies compare it.
    pub bits: u64,
    /// `UUID_FLAG_*` bits (`UI_FLAGS` slot).
    pub flags: u64,
}

impl PeerUuids {
    /// From the six words of `P_UUIDS` in wire order (`UI_CURRENT` .. `UI_FLAGS`).
    pub fn from_words(w: [u64; UI_EXTENDED_SIZE]) -> PeerUuids {
        PeerUuids {
            uuids: Uuids::from_array([
                w[UI_CURRENT],
                w[UI_BITMAP],
                w[UI_HISTORY_START],
                w[UI_HISTORY_END],
            ]),
            bits: w[UI_SIZE],
            flags: w[UI_FLAGS],
        }
    }

    /// The six words of `P_UUIDS` in wire order.
    pub fn to_words(self) -> [u64; UI_EXTENDED_SIZE] {
        // Built element by element: a `copy_from_slice` of `u64`s instantiates a panicking
        // length check that objtool flags in the kernel build.
        let [current, bitmap, history0, history1] = self.uuids.to_array();
        let w = [current, bitmap, history0, history1, self.bits, self.flags];
        const _: () = assert!(UI_SIZE == 4 && UI_FLAGS == 5 && UI_EXTENDED_SIZE == 6);
        w
    }
}

impl From<super::packets::Uuids> for PeerUuids {
    fn from(p: super::packets::Uuids) -> PeerUuids {
        PeerUuids {
            uuids: Uuids {
                current: p.current,
                bitmap: p.bitmap,
                history: p.history,
            },
            bits: p.bits_set,
            flags: p.flags,
        }
    }
}

impl From<PeerUuids> for super::packets::Uuids {
    fn from(p: PeerUuids) -> super::packets::Uuids {
        super::packets::Uuids {
            current: p.uuids.current,
            bitmap: p.uuids.bitmap,
            history: p.uuids.history,
            bits_set: p.bits,
            flags: p.flags,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Log events
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// drbd_uuid_compare
// ---------------------------------------------------------------------------------------------

/// The outcome of [`compare`] (the C function's return value, named).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// 0: the data is the same generation; no resync.
    NoSync,
    /// 1: become SyncSource, resync the bits set in the bitmap.
    SyncSourceBitmap,
    /// -1: become SyncTarget, resync the bits set in the bitmap.
    SyncTargetBitmap,
    /// 2: become SyncSource, set the whole bitmap first (full sync).
    SyncSourceFull,
    /// -2: become SyncTarget, set the whole bitmap first (full sync).
    SyncTargetFull,
    /// Both nodes wrote since they parted. `auto_recover` (100, rule 90): both bitmap UUIDs
    /// name the same parent generation, so the after-sb policies may pick a side and a
    /// bitmap-based resync suffices. Without it (-100, rules 41 and 100): the common ancestor is
    /// only found in the history (or, rule 41, cannot be told), so only `always-asbp` (then with
    /// a full sync) or discard-my-data resolves it.
    SplitBrain {
        /// 100 rather than -100.
        auto_recover: bool,
    },
    /// -1000: no common generation at all.
    Unrelated,
    /// -1000 - `protocol` (only -1091 occurs): the UUIDs need a fix-up (a lost resync-finished
    /// event or sync UUID) that needs at least this protocol. Reported under rule 30 for the
    /// rule 34-37 cases (the C code returns before it sets those numbers), and under 51 or 71.
    NeedProtocol(u32),
    /// `-(0x10000 | protocol | features << 8)` (rule 41): equal unrotated UUIDs with a Primary
    /// present need a peer with protocol 101 and `DRBD_FF_WSAME`.
    NeedFeatures {
        /// Protocol version (101).
        protocol: u32,
        /// `DRBD_FF_*` bits ([`DRBD_FF_WSAME`]).
        features: u32,
    },
}

impl Verdict {
    /// The C module's integer for this verdict (`hg`), as logged by "uuid_compare()=%d".
    pub fn hg(self) -> i32 {
        match self {
            Verdict::NoSync => 0,
            Verdict::SyncSourceBitmap => 1,
            Verdict::SyncTargetBitmap => -1,
            Verdict::SyncSourceFull => 2,
            Verdict::SyncTargetFull => -2,
            Verdict::SplitBrain { auto_recover: true } => 100,
            Verdict::SplitBrain {
                auto_recover: false,
            } => -100,
            Verdict::Unrelated => -1000,
            Verdict::NeedProtocol(p) => {
                (-1000i32).saturating_sub(i32::try_from(p).unwrap_or(i32::MAX))
            }
            Verdict::NeedFeatures { protocol, features } => {
                let v = 0x10000 | (protocol & 0xff) | ((features & 0xff) << 8);
                -i32::try_from(v).unwrap_or(i32::MAX)
            }
        }
    }

    /// The verdict for a C `hg` value, as far as one exists.
    pub fn from_hg(hg: i32) -> Option<Verdict> {
        Some(match hg {
            0 => Verdict::NoSync,
            1 => Verdict::SyncSourceBitmap,
            -1 => Verdict::SyncTargetBitmap,
            2 => Verdict::SyncSourceFull,
            -2 => Verdict::SyncTargetFull,
            100 => Verdict::SplitBrain { auto_recover: true },
            -100 => Verdict::SplitBrain {
                auto_recover: false,
            },
            -1000 => Verdict::Unrelated,
            h if h < -0x10000 => {
                let v = h.unsigned_abs();
                Verdict::NeedFeatures {
                    protocol: v & 0xff,
                    features: (v >> 8) & 0xff,
                }
            }
            h if h < -1000 => Verdict::NeedProtocol(h.unsigned_abs() - 1000),
            _ => return None,
        })
    }
}

/// A repair of UUIDs that [`compare`] made because one side missed an event. The repaired
/// UUIDs are in [`Comparison::local`] / [`Comparison::peer`]; local repairs must be written to
/// the meta-data by the caller (the C module marks it dirty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// Rule 34: we were SyncSource and missed the resync-finished event; our bitmap UUID is
    /// rotated into the history.
    SelfMissedResyncFinished,
    /// Rule 35: we were SyncTarget and the peer missed the resync-finished event; the peer's
    /// bitmap UUID is rotated into its history (in our copy).
    PeerMissedResyncFinished,
    /// Rule 51: the peer, as SyncSource, generated a sync UUID we never received; its bitmap
    /// UUID is rolled back (in our copy).
    PeerLostSyncUuid,
    /// Rule 71: we, as SyncSource, generated a sync UUID the peer never received; our bitmap
    /// UUID is rolled back.
    SelfLostSyncUuid,
}

/// Everything [`compare`] needs (`drbd_uuid_compare`'s view of device and connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompareInput {
    /// Our UUIDs (`ldev->md.uuid`).
    pub local: Uuids,
    /// The peer's `P_UUIDS` (`device->p_uuid`).
    pub peer: PeerUuids,
    /// Our `CRASHED_PRIMARY` device flag.
    pub crashed_primary: bool,
    /// Our role now.
    pub role: Role,
    /// The peer's role now.
    pub peer_role: Role,
    /// Agreed protocol version (86 .. 101).
    pub agreed_protocol: u32,
    /// Agreed `DRBD_FF_*` feature bits.
    pub agreed_features: u32,
    /// Our `RESOLVE_CONFLICTS` connection flag (set on exactly one of the two nodes); breaks
    /// ties.
    pub resolve_conflicts: bool,
    /// Our bitmap weight now (`drbd_bm_total_weight`). Only printed: in the dump after a local
    /// correction (pass 0 if the disk is below Negotiating, as the C module prints then) and in
    /// [`handshake`]'s "No resync, but %lu bits in bitmap!".
    pub bm_weight: u64,
}

/// The result of [`compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The verdict.
    pub verdict: Verdict,
    /// The C code's `*rule_nr` when it returned.
    pub rule: u32,
    /// Our UUIDs after any correction.
    pub local: Uuids,
    /// The peer's UUIDs (our copy) after any correction.
    pub peer: Uuids,
    /// The correction made, if any.
    pub correction: Option<Correction>,
}

/// `drbd_uuid_compare`: which node has the newer data and what kind of resync brings the other
/// one up to date. Log lines the C function prints go to `log`.
pub fn compare(input: &CompareInput, log: &mut impl EventSink) -> Comparison {
    let mut local = input.local;
    let mut peer = input.peer.uuids;
    let (verdict, rule, correction) = compare_inner(input, &mut local, &mut peer, log);
    Comparison {
        verdict,
        rule,
        local,
        peer,
        correction,
    }
}

fn compare_inner(
    input: &CompareInput,
    local: &mut Uuids,
    peer_u: &mut Uuids,
    log: &mut impl EventSink,
) -> (Verdict, u32, Option<Correction>) {
    use Verdict::*;
    let proto = input.agreed_protocol;

    let self_cur = local.current & ID;
    let peer_cur = peer_u.current & ID;

    if self_cur == UUID_JUST_CREATED && peer_cur == UUID_JUST_CREATED {
        return (NoSync, 10, None);
    }
    if (self_cur == UUID_JUST_CREATED || self_cur == 0) && peer_cur != UUID_JUST_CREATED {
        return (SyncTargetFull, 20, None);
    }
    if self_cur != UUID_JUST_CREATED && (peer_cur == UUID_JUST_CREATED || peer_cur == 0) {
        return (SyncSourceFull, 30, None);
    }

    if self_cur == peer_cur {
        if peer_u.bitmap == 0 && local.bitmap != 0 {
            if proto < 91 {
                return (NeedProtocol(91), 30, None);
            }
            if local.bitmap & ID == peer_u.history[0] & ID
                && local.history[0] & ID == peer_u.history[1] & ID
            {
                log.log(Level::Info, Msg::WasSyncSourceCorrectedMyself);
                local.move_history();
                local.history[0] = local.bitmap;
                local.bitmap = 0;
                log.log(
                    Level::Info,
                    Msg::UuidDump {
                        who: "self",
                        uuids: *local,
                        bits: input.bm_weight,
                        flags: 0,
                    },
                );
                return (
                    SyncSourceBitmap,
                    34,
                    Some(Correction::SelfMissedResyncFinished),
                );
            }
            log.log(Level::Info, Msg::WasSyncSourcePeerFailed);
            return (SyncSourceBitmap, 36, None);
        }

        if local.bitmap == 0 && peer_u.bitmap != 0 {
            if proto < 91 {
                return (NeedProtocol(91), 30, None);
            }
            if local.history[0] & ID == peer_u.bitmap & ID
                && local.history[1] & ID == peer_u.history[0] & ID
            {
                log.log(Level::Info, Msg::WasSyncTargetCorrectedPeer);
                peer_u.history[1] = peer_u.history[0];
                peer_u.history[0] = peer_u.bitmap;
                peer_u.bitmap = 0;
                log.log(
                    Level::Info,
                    Msg::UuidDump {
                        who: "peer",
                        uuids: *peer_u,
                        bits: input.peer.bits,
                        flags: input.peer.flags,
                    },
                );
                return (
                    SyncTargetBitmap,
                    35,
                    Some(Correction::PeerMissedResyncFinished),
                );
            }
            log.log(Level::Info, Msg::WasSyncTargetFailed);
            return (SyncTargetBitmap, 37, None);
        }

        // Common power [off|failure]: bit 0 says we crashed as Primary, bit 1 the peer did.
        let rct = u64::from(input.crashed_primary) + (input.peer.flags & UUID_FLAG_CRASHED_PRIMARY);
        if rct == 0 {
            // Only a replication link hiccup.
            return (NoSync, 40, None);
        }

        if input.role == Role::Primary || input.peer_role == Role::Primary {
            // Equal current UUIDs and no bitmap UUID while a Primary is present: I/O may have
            // been frozen so no new generation was started. Older peers cannot resolve this.
            if input.agreed_features & DRBD_FF_WSAME == 0 {
                log.log(Level::Warn, Msg::UnrotatedPrimaryPresent);
                return (
                    NeedFeatures {
                        protocol: PRO_VERSION_MAX,
                        features: DRBD_FF_WSAME,
                    },
                    41,
                    None,
                );
            }
            if input.role == Role::Primary && input.peer_role == Role::Primary {
                log.log(Level::Err, Msg::UnrotatedBothPrimary);
                return (
                    SplitBrain {
                        auto_recover: false,
                    },
                    41,
                    None,
                );
            }
            if input.role == Role::Primary {
                return (SyncSourceBitmap, 41, None);
            }
            return (SyncTargetBitmap, 41, None);
        }

        // Both Secondary: recovery from a simultaneous hard crash. The one that had been
        // Primary wins; if both had been, RESOLVE_CONFLICTS decides.
        return match rct {
            1 => (SyncSourceBitmap, 40, None),
            2 => (SyncTargetBitmap, 40, None),
            _ => {
                if input.resolve_conflicts {
                    (SyncTargetBitmap, 40, None)
                } else {
                    (SyncSourceBitmap, 40, None)
                }
            }
        };
    }

    // Rule 50: the peer's bitmap is relative to our current generation: the peer wrote since.
    if peer_u.bitmap & ID == self_cur {
        return (SyncTargetBitmap, 50, None);
    }

    // Rule 51: the peer started a resync as source (its old bitmap UUID, now in its history,
    // is our current) but we never got its sync UUID.
    let peer_h0 = peer_u.history[0] & ID;
    if peer_h0 == self_cur {
        let lost = if proto < 96 {
            local.history[0] & ID == peer_u.history[1] & ID
        } else {
            peer_h0.wrapping_add(UUID_NEW_BM_OFFSET) == peer_u.bitmap & ID
        };
        if lost {
            if proto < 91 {
                return (NeedProtocol(91), 51, None);
            }
            peer_u.bitmap = peer_u.history[0];
            peer_u.history[0] = peer_u.history[1];
            log.log(Level::Info, Msg::LostLastSyncUuid);
            log.log(
                Level::Info,
                Msg::UuidDump {
                    who: "peer",
                    uuids: *peer_u,
                    bits: input.peer.bits,
                    flags: input.peer.flags,
                },
            );
            return (SyncTargetBitmap, 51, Some(Correction::PeerLostSyncUuid));
        }
    }

    // Rule 60: our current generation is in the peer's history: we are far behind.
    if peer_u.history.iter().any(|h| h & ID == self_cur) {
        return (SyncTargetFull, 60, None);
    }

    // Rule 70: our bitmap is relative to the peer's current generation: we wrote since.
    if local.bitmap & ID == peer_cur {
        return (SyncSourceBitmap, 70, None);
    }

    // Rule 71: the mirror image of rule 51.
    let self_h0 = local.history[0] & ID;
    if self_h0 == peer_cur {
        let lost = if proto < 96 {
            local.history[1] & ID == peer_u.history[0] & ID
        } else {
            self_h0.wrapping_add(UUID_NEW_BM_OFFSET) == local.bitmap & ID
        };
        if lost {
            if proto < 91 {
                return (NeedProtocol(91), 71, None);
            }
            local.bitmap = local.history[0];
            local.history[0] = local.history[1];
            log.log(Level::Info, Msg::LastSyncUuidNotThrough);
            log.log(
                Level::Info,
                Msg::UuidDump {
                    who: "self",
                    uuids: *local,
                    bits: input.bm_weight,
                    flags: 0,
                },
            );
            return (SyncSourceBitmap, 71, Some(Correction::SelfLostSyncUuid));
        }
    }

    // Rule 80: the peer's current generation is in our history: the peer is far behind.
    if local.history.iter().any(|h| h & ID == peer_cur) {
        return (SyncSourceFull, 80, None);
    }

    // Rule 90: both bitmaps are relative to the same generation: both wrote since they parted.
    let self_bm = local.bitmap & ID;
    if self_bm == peer_u.bitmap & ID && self_bm != 0 {
        return (SplitBrain { auto_recover: true }, 90, None);
    }

    // Rule 100: a common ancestor in the histories. Like the C code this does not skip empty
    // (zero) history slots, so two nodes that both have an empty slot land here rather than in
    // "unrelated".
    for s in local.history {
        for p in peer_u.history {
            if s & ID == p & ID {
                return (
                    SplitBrain {
                        auto_recover: false,
                    },
                    100,
                    None,
                );
            }
        }
    }

    (Unrelated, 100, None)
}

// ---------------------------------------------------------------------------------------------
// After-split-brain recovery
// ---------------------------------------------------------------------------------------------

/// What an after-split-brain policy decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsbResult {
    /// 1: this node keeps its data and becomes SyncSource.
    SyncFromThis,
    /// -1: this node discards its changes and becomes SyncTarget.
    SyncFromPeer,
    /// -100: no decision (disconnect, configuration error, or a Primary that cannot be
    /// demoted).
    Unresolved,
}

impl AsbResult {
    /// The C value.
    pub fn hg(self) -> i32 {
        match self {
            AsbResult::SyncFromThis => 1,
            AsbResult::SyncFromPeer => -1,
            AsbResult::Unresolved => -100,
        }
    }
}

/// Inputs of the after-split-brain policies (`drbd_asb_recover_0p/1p/2p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsbInput {
    /// The `after-sb-0pri` policy, which the 1p and 2p policies consult too.
    pub after_sb_0p: AfterSb,
    /// Our bitmap UUID; bit 0 set means we were Primary when the peer went away.
    pub local_bitmap: u64,
    /// The peer's bitmap UUID.
    pub peer_bitmap: u64,
    /// Our bit count as sent in `P_UUIDS` (`comm_bm_set`).
    pub local_bits: u64,
    /// The peer's bit count from its `P_UUIDS`.
    pub peer_bits: u64,
    /// Our `RESOLVE_CONFLICTS` flag.
    pub resolve_conflicts: bool,
}

/// `drbd_asb_recover_0p`: split brain with no Primary. `discard-younger-primary` and
/// `discard-older-primary` look at the role bits of the bitmap UUIDs and fall back to
/// `discard-least-changes`; `discard-zero-changes` picks the side without changes (a tie with
/// no changes on both sides goes by `RESOLVE_CONFLICTS`, changes on both sides stay
/// unresolved); `discard-least-changes` compares bit counts (ties by `RESOLVE_CONFLICTS`).
/// Policies that need a Primary are a configuration error here.
pub fn asb_recover_0p(input: &AsbInput, log: &mut impl EventSink) -> AsbResult {
    use AsbResult::*;
    let self_pri = input.local_bitmap & UUID_PRIMARY_BIT;
    let peer_pri = input.peer_bitmap & UUID_PRIMARY_BIT;
    let (ch_self, ch_peer) = (input.local_bits, input.peer_bits);
    let tie = if input.resolve_conflicts {
        SyncFromPeer
    } else {
        SyncFromThis
    };
    let policy = input.after_sb_0p;

    let least_changes = || {
        if ch_self < ch_peer {
            SyncFromPeer
        } else if ch_self > ch_peer {
            SyncFromThis
        } else {
            tie
        }
    };

    match policy {
        AfterSb::Consensus
        | AfterSb::DiscardSecondary
        | AfterSb::CallHelper
        | AfterSb::Violently => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Disconnect => Unresolved,
        AfterSb::DiscardLocal => SyncFromPeer,
        AfterSb::DiscardRemote => SyncFromThis,
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardZeroChg
        | AfterSb::DiscardLeastChg => {
            // The C switch falls through from younger to older to zero-changes to
            // least-changes; each stage either decides or hands on.
            if policy == AfterSb::DiscardYoungerPri {
                if self_pri == 0 && peer_pri == 1 {
                    return SyncFromPeer;
                }
                if self_pri == 1 && peer_pri == 0 {
                    return SyncFromThis;
                }
            }
            if policy == AfterSb::DiscardYoungerPri || policy == AfterSb::DiscardOlderPri {
                if self_pri == 0 && peer_pri == 1 {
                    return SyncFromThis;
                }
                if self_pri == 1 && peer_pri == 0 {
                    return SyncFromPeer;
                }
                log.log(Level::Warn, Msg::NoYoungerOlderDecision);
            }
            if policy != AfterSb::DiscardLeastChg {
                if ch_peer == 0 && ch_self == 0 {
                    return tie;
                }
                if ch_peer == 0 {
                    return SyncFromThis;
                }
                if ch_self == 0 {
                    return SyncFromPeer;
                }
                if policy == AfterSb::DiscardZeroChg {
                    return Unresolved;
                }
            }
            least_changes()
        }
    }
}

/// `drbd_asb_recover_1p`: split brain with one Primary (`role` is ours; it changes to Secondary
/// if the policy demotes us). `consensus` follows the 0p result only if it keeps the Primary's
/// data; `violently` follows it regardless; `discard-secondary` keeps the Primary's data;
/// `call-pri-lost-after-sb` follows the 0p result and, if that discards our data while we are
/// Primary, tries to demote us with `try_demote` (the state change `role = Secondary`), running
/// the `pri-lost-after-sb` helper if that fails.
pub fn asb_recover_1p(
    policy: AfterSb,
    input: &AsbInput,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    use AsbResult::*;
    match policy {
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardLeastChg
        | AfterSb::DiscardLocal
        | AfterSb::DiscardRemote
        | AfterSb::DiscardZeroChg => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Disconnect => Unresolved,
        AfterSb::Consensus => {
            let hg = asb_recover_0p(input, log);
            match hg {
                SyncFromPeer if *role == Role::Secondary => hg,
                SyncFromThis if *role == Role::Primary => hg,
                _ => Unresolved,
            }
        }
        AfterSb::Violently => asb_recover_0p(input, log),
        AfterSb::DiscardSecondary => {
            if *role == Role::Primary {
                SyncFromThis
            } else {
                SyncFromPeer
            }
        }
        AfterSb::CallHelper => {
            let hg = asb_recover_0p(input, log);
            if hg == SyncFromPeer && *role == Role::Primary {
                demote_or_helper(hg, role, try_demote, log)
            } else {
                hg
            }
        }
    }
}

/// `drbd_asb_recover_2p`: split brain with two Primaries. Only `disconnect`, `violently`
/// (follow the 0p result) and `call-pri-lost-after-sb` (follow it, demoting us if our data is
/// discarded) are valid.
pub fn asb_recover_2p(
    policy: AfterSb,
    input: &AsbInput,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    use AsbResult::*;
    match policy {
        AfterSb::DiscardYoungerPri
        | AfterSb::DiscardOlderPri
        | AfterSb::DiscardLeastChg
        | AfterSb::DiscardLocal
        | AfterSb::DiscardRemote
        | AfterSb::Consensus
        | AfterSb::DiscardSecondary
        | AfterSb::DiscardZeroChg => {
            log.log(Level::Err, Msg::ConfigurationError);
            Unresolved
        }
        AfterSb::Violently => asb_recover_0p(input, log),
        AfterSb::Disconnect => Unresolved,
        AfterSb::CallHelper => {
            let hg = asb_recover_0p(input, log);
            if hg == SyncFromPeer {
                demote_or_helper(hg, role, try_demote, log)
            } else {
                hg
            }
        }
    }
}

fn demote_or_helper(
    hg: AsbResult,
    role: &mut Role,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> AsbResult {
    if try_demote() {
        *role = Role::Secondary;
        log.log(Level::Warn, Msg::GaveUpPrimary);
        hg
    } else {
        log.event(Event::Helper(Helper::PriLostAfterSb));
        AsbResult::Unresolved
    }
}

// ---------------------------------------------------------------------------------------------
// drbd_sync_handshake
// ---------------------------------------------------------------------------------------------

/// The connection's split-brain and resync policies (`net_conf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policies {
    /// `after-sb-0pri`.
    pub after_sb_0p: AfterSb,
    /// `after-sb-1pri`.
    pub after_sb_1p: AfterSb,
    /// `after-sb-2pri`.
    pub after_sb_2p: AfterSb,
    /// `rr-conflict`: what a Primary with good data does when it would become SyncTarget.
    pub rr_conflict: AfterSb,
    /// `always-asbp`: apply the after-sb policies also to ambiguous split brains (-100).
    pub always_asbp: bool,
    /// `tentative` (`--dry-run` on connect).
    pub tentative: bool,
}

impl Policies {
    /// drbdsetup's defaults: disconnect everywhere, no always-asbp, not tentative.
    pub const DEFAULT: Policies = Policies {
        after_sb_0p: AfterSb::Disconnect,
        after_sb_1p: AfterSb::Disconnect,
        after_sb_2p: AfterSb::Disconnect,
        rr_conflict: AfterSb::Disconnect,
        always_asbp: false,
        tentative: false,
    };
}

/// Everything [`handshake`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeInput {
    /// The UUID comparison's inputs.
    pub cmp: CompareInput,
    /// Our disk state now (`device->state.disk`).
    pub disk: DiskState,
    /// The disk state we negotiate towards (`new_state_tmp.disk`), used instead of `disk`
    /// while that is Negotiating.
    pub negotiated_disk: DiskState,
    /// The peer's real disk state (see [`real_peer_disk`]).
    pub peer_disk: DiskState,
    /// Our bit count as sent in `P_UUIDS` (`comm_bm_set`).
    pub local_bits: u64,
    /// Our `DISCARD_MY_DATA` device flag.
    pub discard_my_data: bool,
    /// The connection's `CONN_DRY_RUN` flag.
    pub dry_run: bool,
    /// Net policies.
    pub policies: Policies,
}

/// Why [`handshake`] drops the connection (the C function returns `C_MASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// "Unrelated data, aborting!"
    Unrelated,
    /// The UUIDs need a fix-up this protocol version cannot do.
    NeedProtocol(u32),
    /// The UUIDs need a peer with this protocol and feature flags.
    NeedFeatures {
        /// Protocol version.
        protocol: u32,
        /// `DRBD_FF_*` bits.
        features: u32,
    },
    /// "Split-Brain detected but unresolved, dropping connection!"
    SplitBrain,
    /// "I shall become SyncSource, but I am inconsistent!"
    InconsistentSource,
    /// "I shall become SyncTarget, but I am primary!" (rr-conflict disconnect or
    /// call-pri-lost).
    PrimaryTarget,
    /// A tentative or dry-run connect: report and drop.
    DryRun,
}

/// What the connection does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `C_CONNECTED`: no resync.
    Connected,
    /// `C_WF_BITMAP_S`: become SyncSource; with `full` the caller first sets and writes the
    /// whole bitmap (`drbd_bmio_set_n_write`; if that fails, the connection is dropped).
    SyncSource {
        /// Full sync.
        full: bool,
    },
    /// `C_WF_BITMAP_T`: become SyncTarget; `full` as for `SyncSource`.
    SyncTarget {
        /// Full sync.
        full: bool,
    },
    /// `C_MASK`: drop the connection.
    Refused(Refusal),
}

impl Outcome {
    /// The connection state to request, `None` for a refusal.
    pub fn conn_state(self) -> Option<ConnState> {
        match self {
            Outcome::Connected => Some(ConnState::Connected),
            Outcome::SyncSource { .. } => Some(ConnState::WfBitMapS),
            Outcome::SyncTarget { .. } => Some(ConnState::WfBitMapT),
            Outcome::Refused(_) => None,
        }
    }
}

/// The result of [`handshake`].
#[derive(Clone, Copy, Debug)]
pub struct HandshakeResult {
    /// What to do.
    pub outcome: Outcome,
    /// The UUID comparison (with corrected UUIDs the caller must adopt).
    pub comparison: Comparison,
    /// The final `hg` after disk states and policies.
    pub hg: i32,
    /// Our role afterwards: Secondary if a split-brain policy demoted us.
    pub role: Role,
}

/// `drbd_sync_handshake`: compares UUIDs, then lets disk states override the direction, runs
/// the after-split-brain policies, applies discard-my-data, refuses an inconsistent SyncSource
/// and applies rr-conflict to a Primary that would become SyncTarget. `try_demote` attempts the
/// state change to Secondary that the `call-pri-lost-after-sb` policies ask for and says whether
/// it succeeded; it is not called otherwise. Lines to print and helpers to run go to `log`, in
/// the order the C module prints and runs them.
pub fn handshake(
    input: &HandshakeInput,
    try_demote: &mut impl FnMut() -> bool,
    log: &mut impl EventSink,
) -> HandshakeResult {
    let cmp_in = &input.cmp;
    let mut role = cmp_in.role;
    let mydisk = if input.disk == DiskState::Negotiating {
        input.negotiated_disk
    } else {
        input.disk
    };
    let peer_disk = input.peer_disk;

    log.log(Level::Info, Msg::HandshakeStart);
    log.log(
        Level::Info,
        Msg::UuidDump {
            who: "self",
            uuids: cmp_in.local,
            bits: input.local_bits,
            flags: 0,
        },
    );
    log.log(
        Level::Info,
        Msg::UuidDump {
            who: "peer",
            uuids: cmp_in.peer.uuids,
            bits: cmp_in.peer.bits,
            flags: cmp_in.peer.flags,
        },
    );

    let comparison = compare(cmp_in, log);
    let mut hg = comparison.verdict.hg();
    log.log(
        Level::Info,
        Msg::CompareResult {
            hg,
            rule: comparison.rule,
        },
    );

    let refuse = |outcome: Refusal, hg: i32, role: Role| HandshakeResult {
        outcome: Outcome::Refused(outcome),
        comparison,
        hg,
        role,
    };

    match comparison.verdict {
        Verdict::Unrelated => {
            log.log(Level::Alert, Msg::UnrelatedData);
            return refuse(Refusal::Unrelated, hg, role);
        }
        Verdict::NeedFeatures { protocol, features } => {
            log.log(
                Level::Alert,
                Msg::NeedProtocolAndFeatures { protocol, features },
            );
            return refuse(Refusal::NeedFeatures { protocol, features }, hg, role);
        }
        Verdict::NeedProtocol(protocol) => {
            log.log(Level::Alert, Msg::NeedProtocol { protocol });
            return refuse(Refusal::NeedProtocol(protocol), hg, role);
        }
        _ => {}
    }

    let inc = DiskState::Inconsistent.raw();
    if (mydisk == DiskState::Inconsistent && peer_disk.raw() > inc)
        || (peer_disk == DiskState::Inconsistent && mydisk.raw() > inc)
    {
        let full = hg == -100 || hg.unsigned_abs() == 2;
        hg = if mydisk.raw() > inc { 1 } else { -1 };
        if full {
            hg *= 2;
        }
        log.log(
            Level::Info,
            Msg::BecomingSyncDueToDiskStates { source: hg > 0 },
        );
    }

    if hg.unsigned_abs() == 100 {
        log.event(Event::Helper(Helper::InitialSplitBrain));
    }

    let pol = &input.policies;
    if hg == 100 || (hg == -100 && pol.always_asbp) {
        let pcount =
            u32::from(role == Role::Primary) + u32::from(cmp_in.peer_role == Role::Primary);
        let forced = hg == -100;
        let asb = AsbInput {
            after_sb_0p: pol.after_sb_0p,
            local_bitmap: comparison.local.bitmap,
            peer_bitmap: comparison.peer.bitmap,
            local_bits: input.local_bits,
            peer_bits: cmp_in.peer.bits,
            resolve_conflicts: cmp_in.resolve_conflicts,
        };
        let r = match pcount {
            0 => asb_recover_0p(&asb, log),
            1 => asb_recover_1p(pol.after_sb_1p, &asb, &mut role, try_demote, log),
            _ => asb_recover_2p(pol.after_sb_2p, &asb, &mut role, try_demote, log),
        };
        hg = r.hg();
        if hg.unsigned_abs() < 100 {
            log.log(
                Level::Warn,
                Msg::SplitBrainAutoSolved {
                    primaries: pcount,
                    from_this: hg > 0,
                },
            );
            if forced {
                log.log(Level::Warn, Msg::FullSyncAmbiguous);
                hg *= 2;
            }
        }
    }

    if hg == -100 {
        let peer_discards = cmp_in.peer.flags & UUID_FLAG_DISCARD_MY_DATA != 0;
        if input.discard_my_data && !peer_discards {
            hg = -1;
        }
        if !input.discard_my_data && peer_discards {
            hg = 1;
        }
        if hg.unsigned_abs() < 100 {
            log.log(
                Level::Warn,
                Msg::SplitBrainManuallySolved { from_this: hg > 0 },
            );
        }
    }

    if hg == -100 {
        log.log(Level::Alert, Msg::SplitBrainUnresolved);
        log.event(Event::Helper(Helper::SplitBrain));
        return refuse(Refusal::SplitBrain, hg, role);
    }

    if hg > 0 && mydisk.raw() <= inc {
        log.log(Level::Err, Msg::SourceButInconsistent);
        return refuse(Refusal::InconsistentSource, hg, role);
    }

    // By intention the C code uses the current disk state here, not `mydisk`.
    if hg < 0 && role == Role::Primary && input.disk.raw() >= DiskState::Consistent.raw() {
        match pol.rr_conflict {
            AfterSb::CallHelper => {
                log.event(Event::Helper(Helper::PriLost));
                log.log(Level::Err, Msg::TargetButPrimary);
                return refuse(Refusal::PrimaryTarget, hg, role);
            }
            AfterSb::Disconnect => {
                log.log(Level::Err, Msg::TargetButPrimary);
                return refuse(Refusal::PrimaryTarget, hg, role);
            }
            AfterSb::Violently => log.log(Level::Warn, Msg::TargetViolently),
            // Values drbdsetup does not accept for rr-conflict: the C switch has no case.
            _ => {}
        }
    }

    if pol.tentative || input.dry_run {
        if hg == 0 {
            log.log(Level::Info, Msg::DryRunNoResync);
        } else {
            log.log(
                Level::Info,
                Msg::DryRunWouldBecome {
                    source: hg > 0,
                    full: hg.unsigned_abs() >= 2,
                },
            );
        }
        return refuse(Refusal::DryRun, hg, role);
    }

    let full = hg.unsigned_abs() >= 2;
    if full {
        log.log(Level::Info, Msg::WritingWholeBitmap);
    }

    let outcome = if hg > 0 {
        Outcome::SyncSource { full }
    } else if hg < 0 {
        Outcome::SyncTarget { full }
    } else {
        if cmp_in.bm_weight != 0 {
            log.log(
                Level::Info,
                Msg::NoResyncButBits {
                    bits: cmp_in.bm_weight,
                },
            );
        }
        Outcome::Connected
    };
    HandshakeResult {
        outcome,
        comparison,
        hg,
        role,
    }
}
