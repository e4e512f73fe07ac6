// SPDX-License-Identifier: GPL-2.0

//! The UUID set of one node ([`Uuids`]) and how it moves: new data generations, promotion, the
//! `P_UUIDS` flags, the checks before a new current UUID, and the bookkeeping at the end of a
//! resync ([`resync_finished`]).

use super::super::genl::{ConnState, DiskState, RetCode, Role};
use super::super::meta::{
    UI_BITMAP, UI_CURRENT, UI_HISTORY_END, UI_HISTORY_START, UI_SIZE, UUID_JUST_CREATED,
};
use super::{
    ID, UUID_FLAG_CRASHED_PRIMARY, UUID_FLAG_DISCARD_MY_DATA, UUID_FLAG_INCONSISTENT,
    UUID_FLAG_SKIP_INITIAL_SYNC, UUID_NEW_BM_OFFSET, UUID_PRIMARY_BIT,
};

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
