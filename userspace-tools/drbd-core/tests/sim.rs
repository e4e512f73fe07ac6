//! A deterministic simulation of two DRBD nodes under random writes, disconnects, crashes,
//! restarts, failovers and split brains, built from the module's own pure code: the generation
//! UUID rules and the sync handshake (`core::uuid`), the out-of-sync bitmap (`core::oos`), the
//! bitmap exchange through the real RLE/VLI codec (`core::bitmap_codec`), the state rules and
//! meta-data flags (`core::state`), and the superblock and activity-log transaction blocks
//! (`core::meta`), written to and read back from a simulated meta-data area.
//!
//! Every run is driven by one seeded PRNG, so a failure names its seed (and prints the last
//! events) and replays exactly: `SIM_SEED=1234 SIM_TRACE=1 cargo test -p drbd-core --test sim
//! -- --nocapture` reruns one seed with a full trace; `SIM_SEEDS=5000` runs more seeds.
//!
//! # The model
//!
//! Each node has a data area of [`N`] 4 KiB blocks (one `u64` "content id" per block: every
//! application write stores a fresh id), meta-data (an encoded [`Superblock`]), an in-memory
//! bitmap, and, in [`BitmapMode::Persistent`] (drbd-rs and the C module), an on-disk bitmap and
//! an activity log (`core::al`: active set, LRU eviction, transactions, replay) written as real
//! AL transaction blocks; [`Writeout`] picks drbd-rs's or the C module's points at which the
//! whole bitmap is written out. In [`BitmapMode::AllAtAttach`] (drbd-rs before it had an
//! on-disk bitmap) attach marks the whole bitmap out of sync unless the meta-data is fresh, and
//! a handshake that finds both disks UpToDate and equal clears it.
//!
//! Application writes run on a Primary with protocol C: a write is acknowledged once its local
//! part is on disk and the peer acknowledged it, or, if the connection went away meanwhile (or
//! there was none), once it is on the local disk with its block marked out of sync. Local and
//! remote parts complete in random order; a crash applies each unfinished local part or not.
//!
//! # What is checked, after every step
//!
//! The simulator keeps, besides the nodes' real state, a ground truth that the code under test
//! never sees: for every node the last *acknowledged* content of each block in that node's line
//! of history (`known`), and for every content id the content it overwrote (`parent`), so two
//! contents can be compared: "newer in the same history" or "from diverging histories".
//!
//! 1. Every node that is UpToDate holds, in every block, its last acknowledged content or a
//!    later (unacknowledged) one of the same history; after a completed resync both do.
//! 2. When two nodes connect and the handshake decides "no resync", their data are identical
//!    (otherwise a divergence went unnoticed).
//! 3. When both nodes acknowledged writes while apart, the handshake refuses with split brain
//!    (default after-sb policies), unless `--discard-my-data` names a victim; more generally, no
//!    resync ever overwrites acknowledged data that the source does not have, unless the target
//!    was told to discard its data.
//! 4. After a completed resync both data areas are equal.
//!
//! The simulation can fail: [`Bugs`] switches on deliberately broken variants of the model (no
//! bitmap bit for a write while disconnected, no activity-log replay after a crash, no new
//! current UUID when a Primary loses its peer, no resync interlock, resync without the bitmap
//! exchange) and `broken_variants_are_caught` checks that each one is caught within a few
//! hundred seeds.
//!
//! # Simplifications
//!
//! A resync step (read on the source, write on the target) is atomic; application writes and
//! resync steps exclude each other as drbd-rs's resync interlock makes them. A connection is
//! only made while no application write is in flight. The SyncSource finishes in the same step
//! as the SyncTarget, which closes a window that DRBD 8.4 itself has (see
//! `known_limit_connection_lost_between_target_and_source_finish`). Meta-data writes are
//! durable at once (drbd-rs writes the superblock on every change). Where drbd-rs differs from
//! the C module in ways that matter here, the model follows the C module and a separate test
//! shows what the simulation finds with drbd-rs's behaviour (`driver_*`).
//!
//! The operator resolves a split brain with `--discard-my-data` on a victim and sticks to that
//! victim until a resync completed. When repeated interrupted starts of that resync have
//! rotated the common ancestor out of the source's history (a limit of the 8.4 UUIDs, shared
//! with the C module) and the handshake answers "unrelated data", the operator re-creates the
//! victim's meta-data and a full sync follows.

use drbd_core::al::{replay_order, ActiveSet, AlPlanError, AlSlot, Replay};
use drbd_core::bitmap_codec::{BitmapPacket, Step, XferCtx};
use drbd_core::genl::{ConnState, DiskState, Fencing, Role};
use drbd_core::meta::{
    AlTransaction, Layout, Superblock, AL_CONTEXT_PER_TRANSACTION, LC_FREE, MD_BLOCK_SIZE,
    UUID_JUST_CREATED,
};
use drbd_core::oos;
use drbd_core::state::{self, State, StateEnv};
use drbd_core::uuid::{
    handshake, real_peer_disk, resync_finished, uuid_flags, CompareInput, HandshakeInput, Log,
    Outcome, PeerUuids, Policies, Refusal, ResyncSide, Uuids, DRBD_FF_WSAME,
};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Blocks per node.
const N: usize = 256;
/// Bits in the bitmap (one per block).
const NBITS: u64 = N as u64;
/// Words in the bitmap.
const NWORDS: usize = N / 64;
/// Sectors of the device.
const CAPACITY: u64 = NBITS * oos::BM_SECT_PER_BIT;
/// Blocks per activity-log extent in the model. The real extent is 4 MiB (1024 blocks), which
/// would make the whole simulated device one extent; scaled down, the AL covers a quarter of it.
const EXT_BLOCKS: usize = 16;
/// AL slots ("al-extents").
const AL_SLOTS: usize = 5;
/// AL transaction blocks on disk (a ring, like the C module's striped AL area).
const AL_RING: usize = 3;
/// Most application writes in flight on one node.
const MAX_INFLIGHT: usize = 4;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// How the bitmap survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BitmapMode {
    /// drbd-rs and the C module: an on-disk bitmap, written out before an AL eviction and at
    /// the points [`Writeout`] names; the AL's extents are marked out of sync after a crash.
    Persistent,
    /// drbd-rs before the on-disk bitmap: attach sets every bit unless the meta-data is fresh,
    /// and a handshake that finds both disks UpToDate clears that assumption.
    AllAtAttach,
}

/// Deliberately broken variants, to show the simulation catches them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bugs {
    /// A write while not replicating does not mark its block out of sync.
    no_oos_when_disconnected: bool,
    /// Restart does not mark the activity log's extents out of sync.
    skip_al_replay: bool,
    /// A Primary that loses its peer does not start a new data generation.
    no_new_current_on_lost_peer: bool,
    /// Resync steps run while application writes are in flight.
    no_resync_interlock: bool,
    /// The target resyncs only its own bits (the bitmap exchange is skipped).
    no_bitmap_exchange: bool,
}

#[derive(Clone, Copy, Debug)]
struct Cfg {
    mode: BitmapMode,
    /// Events per run.
    steps: usize,
    bugs: Bugs,
    /// Like the C module, clear the crashed-primary flag once both disks are UpToDate (drbd-rs
    /// keeps it until the next attach).
    clear_crashed_primary: bool,
    /// A SyncSource may learn that the target finished (its P_STATE) before the target's last
    /// P_RS_WRITE_ACKs arrive, as the two sockets race in drbd-rs; it then finishes "failed"
    /// (bits left), keeps its bitmap UUID, and ignores the late acks.
    source_finish_race: bool,
    /// Let the connection break after the SyncTarget finished but before the SyncSource got
    /// the last acks and finished too. See `known_limit_connection_lost_between_target_and_source_finish`.
    finish_window: bool,
    /// Apply `sanitize_state` to connection state changes, as the C module does: a node that
    /// becomes SyncTarget is capped at Outdated in WFBitMapT/WFSyncUUID, before its data turns
    /// into a mix. drbd-rs's receiver sets the state without it (see `driver_findings`).
    sanitize: bool,
    /// The after-split-brain policies of the connection.
    policies: Policies,
    /// When the in-memory bitmap is written out (Persistent mode).
    writeout: Writeout,
}

/// When a node writes its whole in-memory bitmap to disk (besides the evicted extent's bits
/// before an AL transaction, and after the AL replay at attach, which both always do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writeout {
    /// The C module: on disconnect, demote, a full-sync decision, resync end, and lazily.
    C,
    /// drbd-rs: when a resync starts (after the bitmap exchange, on both sides) and ends.
    DrbdRs,
}

impl Cfg {
    fn new(mode: BitmapMode) -> Cfg {
        Cfg {
            mode,
            steps: 1500,
            bugs: Bugs::default(),
            clear_crashed_primary: true,
            source_finish_race: false,
            finish_window: false,
            sanitize: true,
            policies: Policies::DEFAULT,
            writeout: Writeout::DrbdRs,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PRNG (splitmix64): deterministic, no dependency
// ---------------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A fresh generation UUID (never the role bit, never "just created").
    fn uuid(&mut self) -> u64 {
        loop {
            let u = self.next() & !1;
            if u != 0 && u != UUID_JUST_CREATED {
                return u;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/// What survives a crash.
struct Stable {
    data: Vec<u64>,
    sb: Box<[u8; MD_BLOCK_SIZE]>,
    bm: Vec<u64>,
    al: Vec<Box<[u8; MD_BLOCK_SIZE]>>,
}

struct Node {
    stable: Stable,
    up: bool,
    st: State,
    sb: Superblock,
    crashed_primary: bool,
    bm: Vec<u64>,
    bm_unknown: bool,
    al: ActiveSet<Vec<AlSlot>>,
    discard_my_data: bool,
    peer_uuids: Option<PeerUuids>,
    /// Ground truth: last acknowledged content of every block in this node's history.
    known: Vec<u64>,
}

impl Node {
    fn uuids(&self) -> Uuids {
        Uuids::from_array(self.sb.uuids)
    }
    fn set_uuids(&mut self, u: Uuids) {
        self.sb.uuids = u.to_array();
    }
    fn weight(&self) -> u64 {
        oos::weight(&self.bm, NBITS)
    }
    /// Recomputes the meta-data flags from the state and writes the superblock (`md_sync`).
    fn md_sync(&mut self) {
        self.sb.flags = state::md_flags_for_state(self.sb.flags, &self.st, self.crashed_primary);
        self.sb.encode(&mut self.stable.sb);
    }
    fn bm_write_out(&mut self) {
        self.stable.bm.copy_from_slice(&self.bm);
    }
    fn set_bit(&mut self, b: usize) {
        oos::change_bits(&mut self.bm, NBITS, b as u64, b as u64, true);
    }
    fn set_all(&mut self) {
        oos::change_bits(&mut self.bm, NBITS, 0, NBITS - 1, true);
    }
    fn clear_block(&mut self, b: usize) {
        let sector = b as u64 * oos::BM_SECT_PER_BIT;
        if let Some((a, z)) = oos::covered_bits_in(sector, 4096, CAPACITY) {
            oos::change_bits(&mut self.bm, NBITS, a, z, false);
        }
    }
    fn test(&self, b: usize) -> bool {
        oos::test_bit(&self.bm, b as u64)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Remote {
    /// Not replicated (no connection, or the connection went away: block marked out of sync).
    None,
    /// P_DATA on its way.
    Sent,
    /// On the peer's disk, P_WRITE_ACK on its way.
    Applied,
    /// Acknowledged by the peer.
    Acked,
}

#[derive(Clone, Copy, Debug)]
struct Write {
    node: usize,
    block: usize,
    val: u64,
    local: bool,
    remote: Remote,
    /// The AL extent the write holds a reference on (Persistent mode).
    al_extent: Option<u32>,
}

struct Resync {
    src: usize,
    sync_uuid: Option<u64>,
    target_started: bool,
    target_done: bool,
    source_done: bool,
    /// Blocks written on the target whose P_RS_WRITE_ACK has not reached the source.
    acks: Vec<usize>,
    cursor: u64,
}

enum Link {
    /// Not connected; a reconnect may be attempted.
    Down,
    /// The last handshake refused (split brain): only the operator reconnects.
    StandAlone,
    /// Connected, maybe resyncing.
    Up(Option<Resync>),
}

#[derive(Default, Debug, Clone)]
struct Stats {
    acked: u64,
    connects: u64,
    no_sync: u64,
    bitmap_syncs: u64,
    full_syncs: u64,
    resyncs_done: u64,
    split_brains: u64,
    resolved: u64,
    crashes: u64,
    failovers: u64,
    al_transactions: u64,
    rules: BTreeSet<u32>,
    corrections: u64,
    auto_resolved: u64,
    unrelated: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.acked += o.acked;
        self.connects += o.connects;
        self.no_sync += o.no_sync;
        self.bitmap_syncs += o.bitmap_syncs;
        self.full_syncs += o.full_syncs;
        self.resyncs_done += o.resyncs_done;
        self.split_brains += o.split_brains;
        self.resolved += o.resolved;
        self.crashes += o.crashes;
        self.failovers += o.failovers;
        self.al_transactions += o.al_transactions;
        self.rules.extend(o.rules.iter().copied());
        self.corrections += o.corrections;
        self.auto_resolved += o.auto_resolved;
        self.unrelated += o.unrelated;
    }
}

struct Sim {
    cfg: Cfg,
    rng: Rng,
    nodes: [Node; 2],
    link: Link,
    writes: Vec<Write>,
    /// `parent[v]`: the content write `v` overwrote (0 is the initial content).
    parent: Vec<u64>,
    /// Node `i` acknowledged a write while the two were apart.
    apart_acked: [bool; 2],
    /// The tiebreaker (`RESOLVE_CONFLICTS`) of the current connection.
    resolve: usize,
    /// The node the operator chose to discard its data after a split brain.
    victim: Option<usize>,
    /// The operator re-created node `i`'s meta-data: its data may be overwritten.
    recreated: [bool; 2],
    stats: Stats,
    trace: std::collections::VecDeque<String>,
    tracing: bool,
    step: usize,
}

type Res = Result<(), String>;

macro_rules! fail {
    ($($t:tt)*) => { return Err(format!($($t)*)) };
}

fn new_node() -> Node {
    let layout = Layout::internal(1 << 21).expect("layout");
    let mut sb = Superblock::new_created(&layout);
    sb.la_size_sect = CAPACITY;
    let mut n = Node {
        stable: Stable {
            data: vec![0; N],
            sb: Box::new([0; MD_BLOCK_SIZE]),
            bm: vec![0; NWORDS],
            al: (0..AL_RING).map(|_| Box::new([0; MD_BLOCK_SIZE])).collect(),
        },
        up: false,
        st: State::UNCONFIGURED,
        sb,
        crashed_primary: false,
        bm: vec![0; NWORDS],
        bm_unknown: false,
        al: ActiveSet::new(vec![AlSlot::FREE; AL_SLOTS], 0),
        discard_my_data: false,
        peer_uuids: None,
        known: vec![0; N],
    };
    n.sb.encode(&mut n.stable.sb);
    n
}

impl Sim {
    fn new(seed: u64, cfg: Cfg) -> Sim {
        let mut s = Sim {
            cfg,
            rng: Rng(seed ^ 0x5eed_0000_d4bd_0084),
            nodes: [new_node(), new_node()],
            link: Link::Down,
            writes: Vec::new(),
            parent: vec![0],
            apart_acked: [false; 2],
            resolve: 0,
            victim: None,
            recreated: [false; 2],
            stats: Stats::default(),
            trace: std::collections::VecDeque::new(),
            tracing: std::env::var("SIM_TRACE").is_ok(),
            step: 0,
        };
        s.attach(0);
        s.attach(1);
        // The usual start: `primary --force` on node 0, which makes its data UpToDate and
        // starts the first generation; the first connect then runs the initial full sync.
        let n = &mut s.nodes[0];
        let ch = state::set_role(
            &n.st,
            Role::Primary,
            true,
            &StateEnv::STANDALONE,
            &mut || true,
        )
        .expect("forced promotion")
        .expect("a change");
        assert!(ch.forced);
        let random = s.rng.uuid();
        let (u, _) = state::uuids_after_role_change(&n.sb.uuids, &ch.state, true, random);
        n.st = ch.state;
        n.sb.uuids = u;
        n.md_sync();
        s
    }

    fn log(&mut self, msg: String) {
        if self.tracing {
            eprintln!("[{:5}] {}", self.step, msg);
        }
        self.trace.push_back(format!("[{:5}] {}", self.step, msg));
        if self.trace.len() > 60 {
            self.trace.pop_front();
        }
    }

    fn peer(i: usize) -> usize {
        1 - i
    }

    fn connected(&self) -> bool {
        matches!(self.link, Link::Up(_))
    }

    fn descends(&self, d: u64, k: u64) -> bool {
        let mut x = d;
        loop {
            if x == k {
                return true;
            }
            if x == 0 {
                return false;
            }
            x = self.parent[x as usize];
        }
    }

    // -----------------------------------------------------------------------------------------
    // Attach (after create-md or a crash)
    // -----------------------------------------------------------------------------------------

    fn attach(&mut self, i: usize) {
        let mode = self.cfg.mode;
        let skip_al = self.cfg.bugs.skip_al_replay;
        let n = &mut self.nodes[i];
        let sb = Superblock::parse(&n.stable.sb[..]).expect("superblock");
        let (disk, pdsk) = state::disk_state_on_attach(sb.flags, Fencing::DontCare);
        n.crashed_primary = state::crashed_primary_on_attach(sb.flags, Role::Secondary);
        n.sb = sb;
        n.sb.uuids[0] = state::current_uuid_for_role(sb.uuids[0], Role::Secondary);
        n.st = State {
            disk,
            pdsk: pdsk.unwrap_or(DiskState::DUnknown),
            ..State::UNCONFIGURED
        };
        n.up = true;
        n.peer_uuids = None;
        n.discard_my_data = false;
        match mode {
            BitmapMode::AllAtAttach => {
                n.bm = vec![0; NWORDS];
                n.bm_unknown = n.sb.uuids[0] & !1 != UUID_JUST_CREATED;
                if n.bm_unknown {
                    n.set_all();
                }
                n.al = ActiveSet::new(vec![AlSlot::FREE; AL_SLOTS], 0);
            }
            BitmapMode::Persistent => {
                n.bm = n.stable.bm.clone();
                // apply-al (`core::al`): the valid transactions of the ring, oldest to newest,
                // rebuild the active set; every extent in it may hold writes that reached only
                // this disk, so it is marked out of sync.
                let tr: Vec<Option<u32>> = n
                    .stable
                    .al
                    .iter()
                    .map(|b| {
                        AlTransaction::decode(&b[..])
                            .ok()
                            .map(|t| t.header().tr_number)
                    })
                    .collect();
                let mut order = [0usize; AL_RING];
                let count = replay_order(&tr, &mut order);
                let mut replay = Replay::new(vec![LC_FREE; AL_SLOTS]);
                for &k in &order[..count] {
                    let t = AlTransaction::decode(&n.stable.al[k][..]).expect("valid block");
                    replay.apply(&t);
                }
                if !skip_al {
                    for e in replay.extents() {
                        let a = u64::from(e) * EXT_BLOCKS as u64;
                        oos::change_bits(&mut n.bm, NBITS, a, a + EXT_BLOCKS as u64 - 1, true);
                    }
                }
                let next_tr = order[..count]
                    .last()
                    .and_then(|&k| tr[k])
                    .map_or(0, |t| t.wrapping_add(1));
                // The replayed bits go to disk before anything else happens.
                n.bm_write_out();
                n.al = ActiveSet::new(vec![AlSlot::FREE; AL_SLOTS], next_tr);
                n.bm_unknown = false;
            }
        }
        n.md_sync();
        self.log(format!(
            "node{} attached: disk {:?} uuids {:x?} crashed_primary {} bits {}",
            i,
            self.nodes[i].st.disk,
            self.nodes[i].sb.uuids,
            self.nodes[i].crashed_primary,
            self.nodes[i].weight()
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Activity log (Persistent mode)
    // -----------------------------------------------------------------------------------------

    /// `drbd_al_begin_io` (`core::al`): makes the block's extent active, writing a transaction
    /// if it was not (the bitmap words of an evicted extent go to disk first). Returns the
    /// extent referenced, `Some(None)` without an AL, or `None` if no slot is free (the write
    /// waits).
    fn al_begin(&mut self, i: usize, block: usize) -> Option<Option<u32>> {
        if self.cfg.mode != BitmapMode::Persistent {
            return Some(None);
        }
        let ext = (block / EXT_BLOCKS) as u32;
        let n = &mut self.nodes[i];
        if n.al.try_get(ext, ext) {
            return Some(Some(ext));
        }
        let plan = match n.al.plan(ext, ext) {
            Ok(p) => p,
            Err(AlPlanError::NoFreeSlot) => return None,
            Err(e) => panic!("AL plan: {e:?}"),
        };
        n.al.begin(&plan);
        for old in plan.evicted() {
            // `drbd_bm_write_hinted`: the evicted extent's bitmap words go to disk first.
            let a = old as usize * EXT_BLOCKS;
            for w in a / 64..(a + EXT_BLOCKS).div_ceil(64) {
                n.stable.bm[w] = n.bm[w];
            }
        }
        let mut ctx = vec![0u32; AL_CONTEXT_PER_TRANSACTION];
        let t = n.al.transaction(&plan, &mut ctx);
        let pos = t.tr_number as usize % AL_RING;
        t.encode(&mut n.stable.al[pos]).expect("AL encode");
        n.al.commit(&plan);
        assert!(
            n.al.try_get(ext, ext),
            "extent active after its transaction"
        );
        self.stats.al_transactions += 1;
        Some(Some(ext))
    }

    fn al_complete(&mut self, i: usize, extent: Option<u32>) {
        if let Some(e) = extent {
            self.nodes[i].al.put(e, e);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Events
    // -----------------------------------------------------------------------------------------

    fn replicating(&self, i: usize) -> bool {
        self.connected() && self.nodes[Self::peer(i)].up
    }

    fn ev_write(&mut self) -> Res {
        let cands: Vec<usize> = (0..2)
            .filter(|&i| {
                let n = &self.nodes[i];
                n.up && n.st.role == Role::Primary && n.st.disk == DiskState::UpToDate
            })
            .collect();
        if cands.is_empty() {
            return Ok(());
        }
        let i = cands[self.rng.below(cands.len() as u64) as usize];
        if self.writes.iter().filter(|w| w.node == i).count() >= MAX_INFLIGHT {
            return Ok(());
        }
        let block = if self.rng.chance(60) {
            self.rng.below(48) as usize
        } else {
            self.rng.below(N as u64) as usize
        };
        if self.writes.iter().any(|w| w.node == i && w.block == block) {
            return Ok(());
        }
        let Some(al_extent) = self.al_begin(i, block) else {
            return Ok(());
        };
        let val = self.parent.len() as u64;
        self.parent.push(self.nodes[i].stable.data[block]);
        let remote = if self.replicating(i) {
            Remote::Sent
        } else {
            if !self.cfg.bugs.no_oos_when_disconnected {
                self.nodes[i].set_bit(block);
            }
            Remote::None
        };
        self.log(format!("node{i} write block {block} = {val} ({remote:?})"));
        self.writes.push(Write {
            node: i,
            block,
            val,
            local: false,
            remote,
            al_extent,
        });
        Ok(())
    }

    fn ev_progress(&mut self) -> Res {
        if self.writes.is_empty() {
            return Ok(());
        }
        let k = self.rng.below(self.writes.len() as u64) as usize;
        let w = self.writes[k];
        let p = Self::peer(w.node);
        let mut opts = Vec::new();
        if !w.local {
            opts.push(0);
        }
        if w.remote == Remote::Sent {
            opts.push(1);
        }
        if w.remote == Remote::Applied {
            opts.push(2);
        }
        if !opts.is_empty() {
            match opts[self.rng.below(opts.len() as u64) as usize] {
                0 => {
                    self.nodes[w.node].stable.data[w.block] = w.val;
                    self.writes[k].local = true;
                }
                1 => {
                    // The peer's receiver writes in order; a SyncTarget takes application
                    // writes too (its bit stays set, so the block is resynced anyway).
                    self.nodes[p].stable.data[w.block] = w.val;
                    self.writes[k].remote = Remote::Applied;
                }
                _ => self.writes[k].remote = Remote::Acked,
            }
        }
        let w = self.writes[k];
        if w.local && matches!(w.remote, Remote::None | Remote::Acked) {
            self.writes.remove(k);
            self.al_complete(w.node, w.al_extent);
            self.nodes[w.node].known[w.block] = w.val;
            if w.remote == Remote::Acked {
                self.nodes[p].known[w.block] = w.val;
            } else {
                self.apart_acked[w.node] = true;
            }
            self.stats.acked += 1;
            self.log(format!(
                "node{} acked block {} = {} ({:?})",
                w.node, w.block, w.val, w.remote
            ));
        }
        Ok(())
    }

    /// The connection ends (network failure, or the peer crashed). `crashed`: the node that
    /// crashed, whose in-flight writes are gone.
    fn lose_connection(&mut self, crashed: Option<usize>) {
        let was_up = std::mem::replace(&mut self.link, Link::Down);
        if !matches!(was_up, Link::Up(_)) {
            return;
        }
        // P_DATA still in the socket may or may not reach the peer; the writer marks every
        // write not acknowledged out of sync and completes it locally.
        for k in 0..self.writes.len() {
            let w = self.writes[k];
            let p = Self::peer(w.node);
            if w.remote == Remote::Sent && crashed != Some(p) && self.rng.chance(50) {
                self.nodes[p].stable.data[w.block] = w.val;
            }
            if matches!(w.remote, Remote::Sent | Remote::Applied) {
                if crashed != Some(w.node) {
                    self.nodes[w.node].set_bit(w.block);
                }
                self.writes[k].remote = Remote::None;
            }
        }
        for i in 0..2 {
            if crashed == Some(i) || !self.nodes[i].up {
                continue;
            }
            let bug = self.cfg.bugs.no_new_current_on_lost_peer;
            let persistent =
                self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == Writeout::C;
            let random = self.rng.uuid();
            let n = &mut self.nodes[i];
            let os = n.st;
            n.st.conn = ConnState::NetworkFailure;
            n.st.peer = Role::Unknown;
            n.st.pdsk = DiskState::DUnknown;
            let ns = n.st;
            let u = n.uuids();
            if !bug
                && drbd_core::uuid::needs_new_current_uuid(
                    &u, os.pdsk, ns.pdsk, os.peer, ns.role, ns.peer, ns.disk,
                )
            {
                let mut u = u;
                u.new_current(ns.role, random);
                n.set_uuids(u);
            }
            n.st.conn = ConnState::StandAlone;
            n.md_sync();
            if persistent {
                n.bm_write_out();
            }
            n.peer_uuids = None;
            let s = format!(
                "node{i} lost its peer: disk {:?} uuids {:x?} bits {}",
                n.st.disk,
                n.sb.uuids,
                n.weight()
            );
            self.log(s);
        }
    }

    /// Closes the window between the target's and the source's end of a resync: the last
    /// acks reach the source and it finishes in the same step as the target.
    fn settle_resync_end(&mut self) {
        let Link::Up(Some(r)) = &mut self.link else {
            return;
        };
        if !r.target_done || r.source_done {
            return;
        }
        let src = r.src;
        if self.cfg.source_finish_race && !r.acks.is_empty() && self.rng.chance(50) {
            // drbd-rs: the target's P_STATE overtakes its last P_RS_WRITE_ACKs.
            self.log("the source learns the target finished before the last acks".into());
            self.source_finish();
            return;
        }
        let acks = std::mem::take(&mut r.acks);
        for b in acks {
            self.nodes[src].clear_block(b);
        }
        self.log("the source gets the last acks at once".into());
        self.source_finish();
    }

    fn ev_disconnect(&mut self) -> Res {
        if self.connected() {
            self.log("network failure".into());
            self.lose_connection(None);
        }
        Ok(())
    }

    fn ev_crash(&mut self, i: usize) -> Res {
        if !self.nodes[i].up {
            return Ok(());
        }
        self.stats.crashes += 1;
        self.log(format!("node{i} crashes"));
        self.lose_connection(Some(i));
        if matches!(self.link, Link::StandAlone) {
            self.link = Link::Down;
        }
        // Unfinished local writes reach the disk or not, in any order.
        let mut k = 0;
        while k < self.writes.len() {
            let w = self.writes[k];
            if w.node == i {
                if !w.local && self.rng.chance(50) {
                    self.nodes[i].stable.data[w.block] = w.val;
                }
                self.writes.remove(k);
            } else {
                k += 1;
            }
        }
        let n = &mut self.nodes[i];
        n.up = false;
        n.st = State::UNCONFIGURED;
        Ok(())
    }

    fn ev_restart(&mut self, i: usize) -> Res {
        if self.nodes[i].up {
            return Ok(());
        }
        self.attach(i);
        Ok(())
    }

    fn ev_promote(&mut self, i: usize) -> Res {
        let p = Self::peer(i);
        let n = &self.nodes[i];
        if !n.up || n.st.role == Role::Primary || n.st.disk != DiskState::UpToDate {
            return Ok(());
        }
        if self.connected() && self.nodes[p].st.role == Role::Primary {
            return Ok(()); // two primaries are refused while connected
        }
        // Mostly a failover (the other node is down or Secondary); sometimes, while
        // disconnected, a second Primary: split brain in the making.
        if !self.connected()
            && self.nodes[p].up
            && self.nodes[p].st.role == Role::Primary
            && !self.rng.chance(30)
        {
            return Ok(());
        }
        let random = self.rng.uuid();
        let n = &mut self.nodes[i];
        let ch = match state::set_role(
            &n.st,
            Role::Primary,
            false,
            &StateEnv::STANDALONE,
            &mut || true,
        ) {
            Ok(Some(ch)) => ch,
            // Refused in the middle of a connection's state changes (e.g. WFBitMapT).
            Err(_) if n.st.conn != ConnState::StandAlone => return Ok(()),
            other => fail!(
                "node{i}: promotion of an UpToDate Secondary refused: {other:?} in {:?}",
                n.st
            ),
        };
        let (u, _) = state::uuids_after_role_change(&n.sb.uuids, &ch.state, ch.forced, random);
        // The two implementations of drbd_set_role's UUID rule agree.
        let mut u2 = n.uuids();
        u2.promote(ch.state.conn, ch.state.pdsk, ch.forced, random);
        if u2.to_array() != u {
            fail!(
                "Uuids::promote {:x?} != uuids_after_role_change {:x?}",
                u2,
                u
            );
        }
        n.st = ch.state;
        n.sb.uuids = u;
        n.md_sync();
        self.stats.failovers += 1;
        let s = format!("node{i} promoted: uuids {:x?}", self.nodes[i].sb.uuids);
        self.log(s);
        Ok(())
    }

    fn ev_demote(&mut self, i: usize) -> Res {
        let n = &self.nodes[i];
        if !n.up || n.st.role != Role::Primary || self.writes.iter().any(|w| w.node == i) {
            return Ok(());
        }
        let persistent =
            self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == Writeout::C;
        let n = &mut self.nodes[i];
        let ch = match state::set_role(
            &n.st,
            Role::Secondary,
            false,
            &StateEnv::STANDALONE,
            &mut || true,
        ) {
            Ok(Some(ch)) => ch,
            other => fail!("node{i}: demotion refused: {other:?}"),
        };
        let (u, _) = state::uuids_after_role_change(&n.sb.uuids, &ch.state, false, 0);
        n.st = ch.state;
        n.sb.uuids = u;
        n.md_sync();
        if persistent {
            n.bm_write_out();
        }
        self.log(format!("node{i} demoted"));
        Ok(())
    }

    /// Writes node `i`'s whole bitmap out if the configured policy does at `when`.
    fn writeout(&mut self, i: usize, when: Writeout) {
        if self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == when {
            self.nodes[i].bm_write_out();
        }
    }

    fn ev_bm_writeout(&mut self, i: usize) -> Res {
        if self.nodes[i].up {
            self.writeout(i, Writeout::C);
        }
        Ok(())
    }

    /// The operator resolves a split brain: `--discard-my-data` on a victim (demoted first).
    fn ev_resolve(&mut self) -> Res {
        if !matches!(self.link, Link::StandAlone) || !self.writes.is_empty() {
            return Ok(());
        }
        // The operator sticks to the victim once chosen, until a resync made the two equal:
        // picking the other one after an interrupted start could keep a node whose data had
        // already begun to turn into the peer's (Outdated, a mix of both histories).
        let v = match self.victim {
            Some(v) => v,
            None => self.rng.below(2) as usize,
        };
        if !self.nodes[v].up {
            return Ok(());
        }
        self.victim = Some(v);
        if self.nodes[v].st.role == Role::Primary {
            self.ev_demote(v)?;
            if self.nodes[v].st.role == Role::Primary {
                return Ok(());
            }
        }
        self.nodes[v].discard_my_data = true;
        self.link = Link::Down;
        self.stats.resolved += 1;
        self.log(format!("operator: node{v} connects with --discard-my-data"));
        self.ev_connect()
    }

    // -----------------------------------------------------------------------------------------
    // Connect: the UUID handshake on both sides, then the bitmap exchange
    // -----------------------------------------------------------------------------------------

    fn uuids_packet(&self, i: usize) -> PeerUuids {
        let n = &self.nodes[i];
        PeerUuids {
            uuids: n.uuids(),
            bits: n.weight(),
            flags: uuid_flags(
                n.discard_my_data,
                n.crashed_primary,
                n.st.disk == DiskState::Inconsistent,
                false,
            ),
        }
    }

    /// One node's `drbd_sync_handshake` against the peer's `P_UUIDS` (`pk`); adopts corrected
    /// UUIDs and keeps the peer's.
    fn handshake_side(&mut self, i: usize, pk: &[PeerUuids; 2]) -> Outcome {
        let p = Self::peer(i);
        let n = &self.nodes[i];
        let weight = n.weight();
        let input = HandshakeInput {
            cmp: CompareInput {
                local: n.uuids(),
                peer: pk[p],
                crashed_primary: n.crashed_primary,
                role: n.st.role,
                peer_role: self.nodes[p].st.role,
                agreed_protocol: 101,
                agreed_features: DRBD_FF_WSAME,
                resolve_conflicts: self.resolve == i,
                bm_weight: weight,
            },
            disk: n.st.disk,
            negotiated_disk: n.st.disk,
            peer_disk: real_peer_disk(self.nodes[p].st.disk, pk[p].flags),
            local_bits: weight,
            discard_my_data: n.discard_my_data,
            dry_run: false,
            policies: self.cfg.policies,
        };
        let mut log = Log::new();
        let r = handshake(&input, &mut || false, &mut log);
        self.stats.rules.insert(r.comparison.rule);
        if r.comparison.correction.is_some() {
            self.stats.corrections += 1;
        }
        if log.iter().any(|e| {
            matches!(
                e,
                drbd_core::uuid::Event::Log(_, drbd_core::uuid::Msg::SplitBrainAutoSolved { .. })
            )
        }) {
            self.stats.auto_resolved += 1;
        }
        let mut lines = String::new();
        for e in log.iter() {
            if let drbd_core::uuid::Event::Log(_, m) = e {
                let _ = write!(lines, "\n        {m}");
            }
        }
        self.log(format!(
            "node{i} handshake: rule {} hg {} -> {:?}{}",
            r.comparison.rule, r.hg, r.outcome, lines
        ));
        let n = &mut self.nodes[i];
        n.set_uuids(r.comparison.local);
        n.md_sync();
        n.peer_uuids = Some(PeerUuids {
            uuids: r.comparison.peer,
            ..pk[p]
        });
        r.outcome
    }

    fn ev_connect(&mut self) -> Res {
        if !matches!(self.link, Link::Down)
            || !self.nodes[0].up
            || !self.nodes[1].up
            || !self.writes.is_empty()
        {
            return Ok(());
        }
        self.stats.connects += 1;
        self.resolve = self.rng.below(2) as usize;
        let pk = [self.uuids_packet(0), self.uuids_packet(1)];
        let out = [self.handshake_side(0, &pk), self.handshake_side(1, &pk)];
        let dmd = [self.nodes[0].discard_my_data, self.nodes[1].discard_my_data];
        for n in self.nodes.iter_mut() {
            n.discard_my_data = false;
        }

        // Invariant 3: both sides acknowledged writes while apart: split brain, always.
        let refused = out.iter().any(|o| matches!(o, Outcome::Refused(_)));
        let operator = dmd[0] || dmd[1] || self.recreated[0] || self.recreated[1];
        if self.apart_acked[0] && self.apart_acked[1] && !operator && !refused {
            fail!(
                "both nodes wrote while apart, but the handshake says {:?} / {:?}",
                out[0],
                out[1]
            );
        }
        if refused {
            let mut unrelated = false;
            for (i, o) in out.iter().enumerate() {
                // The side that refuses drops the connection; what the other decided does
                // not matter then.
                match o {
                    Outcome::Refused(Refusal::SplitBrain | Refusal::PrimaryTarget) => {}
                    // A known limit of the 8.4 UUIDs: each start of a split-brain resolving
                    // resync whose P_SYNC_UUID never arrives rotates the source's bitmap UUID
                    // into its history (rules 51/71 only undo that when the target is on the
                    // source's old generation, which after a split brain it is not); after two,
                    // the common ancestor has left the source's history.
                    Outcome::Refused(Refusal::Unrelated) if self.victim.is_some() => {
                        unrelated = true
                    }
                    Outcome::Refused(other) => fail!("node{i}: unexpected refusal {other:?}"),
                    _ => {}
                }
            }
            for n in self.nodes.iter_mut() {
                n.peer_uuids = None;
            }
            if unrelated {
                // The operator's way out: fresh meta-data on the victim (`drbdadm create-md`),
                // then a full sync from the survivor.
                let v = self.victim.expect("victim");
                self.stats.unrelated += 1;
                self.log(format!("operator: create-md on node{v}"));
                let n = &mut self.nodes[v];
                let layout = Layout::internal(1 << 21).expect("layout");
                let mut sb = Superblock::new_created(&layout);
                sb.la_size_sect = CAPACITY;
                sb.encode(&mut n.stable.sb);
                n.stable.bm.fill(0);
                for blk in n.stable.al.iter_mut() {
                    blk.fill(0);
                }
                self.recreated[v] = true;
                self.attach(v);
                self.link = Link::Down;
                return Ok(());
            }
            if out.contains(&Outcome::Refused(Refusal::SplitBrain)) {
                self.stats.split_brains += 1;
            }
            self.link = Link::StandAlone;
            return Ok(());
        }

        let (src, full) = match out {
            [Outcome::Connected, Outcome::Connected] => {
                self.stats.no_sync += 1;
                self.victim = None;
                // Invariant 2: "no resync" means the data are the same.
                if let Some(b) =
                    (0..N).find(|&b| self.nodes[0].stable.data[b] != self.nodes[1].stable.data[b])
                {
                    fail!(
                        "handshake says no resync, but block {b} differs: {} vs {} \
                         (bit set: {} / {})",
                        self.nodes[0].stable.data[b],
                        self.nodes[1].stable.data[b],
                        self.nodes[0].test(b),
                        self.nodes[1].test(b)
                    );
                }
                for b in 0..N {
                    let (k0, k1) = (self.nodes[0].known[b], self.nodes[1].known[b]);
                    let newer = if self.descends(k0, k1) {
                        k0
                    } else if self.descends(k1, k0) {
                        k1
                    } else {
                        fail!("no resync, but block {b} has acked writes {k0} and {k1} from diverging histories");
                    };
                    self.nodes[0].known[b] = newer;
                    self.nodes[1].known[b] = newer;
                }
                self.set_connected_states(None);
                self.apart_acked = [false; 2];
                if self.cfg.mode == BitmapMode::AllAtAttach
                    && self.nodes[0].st.disk == DiskState::UpToDate
                    && self.nodes[1].st.disk == DiskState::UpToDate
                {
                    for n in self.nodes.iter_mut() {
                        if std::mem::take(&mut n.bm_unknown) {
                            n.bm.fill(0);
                        }
                    }
                }
                self.link = Link::Up(None);
                self.both_uptodate();
                return Ok(());
            }
            [Outcome::SyncSource { full: f0 }, Outcome::SyncTarget { full: f1 }] => (0, [f0, f1]),
            [Outcome::SyncTarget { full: f0 }, Outcome::SyncSource { full: f1 }] => (1, [f0, f1]),
            other => fail!("the two handshakes disagree: {other:?}"),
        };
        let tgt = Self::peer(src);
        if full[0] || full[1] {
            self.stats.full_syncs += 1;
        } else {
            self.stats.bitmap_syncs += 1;
        }
        // Invariant 1/3: the resync must not overwrite acknowledged data the source lacks,
        // unless the target was told to discard its data.
        if !dmd[tgt] && !self.recreated[tgt] {
            for b in 0..N {
                let (ks, kt) = (self.nodes[src].known[b], self.nodes[tgt].known[b]);
                if !self.descends(ks, kt) {
                    fail!(
                        "resync node{src} -> node{tgt} would overwrite acked write {kt} in \
                         block {b} with {ks} from another history (lost acknowledged write)"
                    );
                }
            }
        }
        for (i, &f) in full.iter().enumerate() {
            if f {
                self.nodes[i].set_all();
                self.writeout(i, Writeout::C);
            }
        }
        // The bitmap exchange, through the real codec: the source sends first, the target
        // merges and sends the merged bitmap back.
        if !self.cfg.bugs.no_bitmap_exchange {
            let [a, b] = &mut self.nodes;
            let (s, t) = if src == 0 { (a, b) } else { (b, a) };
            xfer(&s.bm, &mut t.bm, &mut self.rng)?;
            xfer(&t.bm, &mut s.bm, &mut self.rng)?;
        }
        self.apart_acked = [false; 2];
        self.recreated = [false; 2];
        self.set_connected_states(Some(src));
        // The source generates and persists the sync UUID; P_SYNC_UUID may or may not arrive.
        let random = self.rng.uuid();
        let n = &mut self.nodes[src];
        let mut u = n.uuids();
        let id = u.gen_sync_uuid(random);
        n.set_uuids(u);
        self.set_state(src, |st| {
            st.conn = ConnState::SyncSource;
            st.pdsk = DiskState::Inconsistent;
        });
        // drbd-rs: the bits of the handshake and the exchange go to disk as the resync starts.
        self.writeout(src, Writeout::DrbdRs);
        self.log(format!(
            "resync node{src} -> node{tgt} (full {full:?}), {} bits, sync uuid {id:x}",
            self.nodes[tgt].weight()
        ));
        self.link = Link::Up(Some(Resync {
            src,
            sync_uuid: Some(id),
            target_started: false,
            target_done: false,
            source_done: false,
            acks: Vec::new(),
            cursor: 0,
        }));
        Ok(())
    }

    fn set_connected_states(&mut self, src: Option<usize>) {
        let roles = [self.nodes[0].st.role, self.nodes[1].st.role];
        let disks = [self.nodes[0].st.disk, self.nodes[1].st.disk];
        for i in 0..2 {
            let p = Self::peer(i);
            let conn = match src {
                None => ConnState::Connected,
                Some(s) if s == i => ConnState::WfBitMapS,
                Some(_) => ConnState::WfBitMapT,
            };
            self.set_state(i, |st| {
                st.conn = conn;
                st.peer = roles[p];
                st.pdsk = disks[p];
            });
        }
    }

    /// A state change, through `sanitize_state` unless the model follows drbd-rs there.
    fn set_state(&mut self, i: usize, f: impl FnOnce(&mut State)) {
        let sanitize = self.cfg.sanitize;
        let n = &mut self.nodes[i];
        let os = n.st;
        let mut ns = os;
        f(&mut ns);
        if sanitize {
            ns = state::sanitize_state(&os, &ns, &StateEnv::STANDALONE);
        }
        n.st = ns;
        n.md_sync();
    }

    /// `after_state_ch`: both disks UpToDate clears the crashed-primary flag (C module).
    fn both_uptodate(&mut self) {
        if !self.cfg.clear_crashed_primary {
            return;
        }
        if self.nodes.iter().all(|n| n.st.disk == DiskState::UpToDate) {
            for n in self.nodes.iter_mut() {
                n.crashed_primary = false;
                n.md_sync();
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Resync
    // -----------------------------------------------------------------------------------------

    fn ev_resync(&mut self) -> Res {
        let Link::Up(Some(r)) = &mut self.link else {
            return Ok(());
        };
        let src = r.src;
        let tgt = Self::peer(src);
        let mut opts = Vec::new();
        if !r.target_started {
            opts.push(0);
        } else if !r.target_done {
            opts.push(1);
        }
        if !r.acks.is_empty() {
            opts.push(2);
        }
        if r.target_done && !r.source_done && (r.acks.is_empty() || self.cfg.source_finish_race) {
            opts.push(3);
        }
        if opts.is_empty() {
            return Ok(());
        }
        match opts[self.rng.below(opts.len() as u64) as usize] {
            0 => {
                // P_SYNC_UUID arrives: the target's data becomes a mix (Inconsistent).
                let id = r.sync_uuid.take().expect("sync uuid");
                r.target_started = true;
                let known = self.nodes[src].known.clone();
                let n = &mut self.nodes[tgt];
                let mut u = n.uuids();
                u.receive_sync_uuid(id, n.st.role);
                n.set_uuids(u);
                n.known = known;
                self.set_state(tgt, |st| {
                    st.conn = ConnState::SyncTarget;
                    st.disk = DiskState::Inconsistent;
                });
                self.writeout(tgt, Writeout::DrbdRs);
                self.log(format!("node{tgt} is SyncTarget"));
            }
            1 => {
                // The interlock: no resync request while application writes are in flight.
                // (The resync waits: let the writes in flight go on instead.)
                if !self.cfg.bugs.no_resync_interlock && !self.writes.is_empty() {
                    return self.ev_progress();
                }
                let max = (1 + self.rng.below(64) as u32) * 4096;
                let planned =
                    oos::plan_request(&self.nodes[tgt].bm, NBITS, CAPACITY, r.cursor, max);
                match planned {
                    Some((req, next)) => {
                        r.cursor = next;
                        let first = (req.sector / oos::BM_SECT_PER_BIT) as usize;
                        let count = (req.bytes / 4096) as usize;
                        for b in first..first + count {
                            let v = self.nodes[src].stable.data[b];
                            self.nodes[tgt].stable.data[b] = v;
                            self.nodes[tgt].clear_block(b);
                            r.acks.push(b);
                        }
                    }
                    None => {
                        if self.nodes[tgt].weight() != 0 {
                            r.cursor = 0;
                            return Ok(());
                        }
                        // The target is done: `drbd_resync_finished` on the target.
                        r.target_done = true;
                        let n = &mut self.nodes[tgt];
                        let mut u = n.uuids();
                        let mut peer = n.peer_uuids.map(|p| p.uuids);
                        let end = resync_finished(
                            &mut u,
                            peer.as_mut(),
                            ResyncSide::Target,
                            false,
                            n.st.role,
                        );
                        if end.peer_uuids_missing {
                            fail!("target finished without the peer's UUIDs");
                        }
                        n.set_uuids(u);
                        n.st.conn = ConnState::Connected;
                        n.st.disk = DiskState::UpToDate;
                        n.st.pdsk = DiskState::UpToDate;
                        n.md_sync();
                        if self.cfg.mode == BitmapMode::Persistent {
                            n.bm_write_out();
                        }
                        // P_UUIDS to the source.
                        let pu = self.uuids_packet(tgt);
                        self.nodes[src].peer_uuids = Some(pu);
                        self.log(format!(
                            "node{tgt} finished resync: uuids {:x?}",
                            self.nodes[tgt].sb.uuids
                        ));
                        if !self.cfg.finish_window {
                            self.settle_resync_end();
                        }
                    }
                }
            }
            2 => {
                let k = self.rng.below(r.acks.len() as u64) as usize;
                let b = r.acks.swap_remove(k);
                // Late acks after the source finished are ignored.
                if !r.source_done {
                    self.nodes[src].clear_block(b);
                }
            }
            _ => {
                self.source_finish();
            }
        }
        let Link::Up(Some(r)) = &self.link else {
            unreachable!()
        };
        if r.target_done && r.source_done && r.acks.is_empty() {
            self.link = Link::Up(None);
            self.stats.resyncs_done += 1;
            self.victim = None;
            // Invariant 4: a completed resync leaves equal data.
            if let Some(b) =
                (0..N).find(|&b| self.nodes[0].stable.data[b] != self.nodes[1].stable.data[b])
            {
                fail!(
                    "resync node{src} -> node{tgt} completed, but block {b} differs: {} vs {}",
                    self.nodes[src].stable.data[b],
                    self.nodes[tgt].stable.data[b]
                );
            }
            self.both_uptodate();
        }
        Ok(())
    }

    /// `drbd_resync_finished` on the source (failed if bits are left: drbd-rs's rule).
    fn source_finish(&mut self) {
        let Link::Up(Some(r)) = &mut self.link else {
            return;
        };
        r.source_done = true;
        let src = r.src;
        let n = &mut self.nodes[src];
        let failed = n.weight() != 0;
        let mut u = n.uuids();
        let mut peer = n.peer_uuids.map(|p| p.uuids);
        resync_finished(&mut u, peer.as_mut(), ResyncSide::Source, failed, n.st.role);
        n.set_uuids(u);
        n.st.conn = ConnState::Connected;
        n.st.pdsk = DiskState::UpToDate;
        n.md_sync();
        if self.cfg.mode == BitmapMode::Persistent {
            n.bm_write_out();
        }
        self.log(format!(
            "node{src} finished resync (failed {failed}): uuids {:x?}",
            self.nodes[src].sb.uuids
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Invariant 1, after every step
    // -----------------------------------------------------------------------------------------

    fn check(&self) -> Res {
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.up || n.st.disk != DiskState::UpToDate {
                continue;
            }
            for (b, (&d, &k)) in n.stable.data.iter().zip(n.known.iter()).enumerate() {
                if d != k && !self.descends(d, k) {
                    fail!(
                        "node{i} is UpToDate but block {b} holds {d}, not its acknowledged \
                         content {k} or a later one (lost acknowledged write)"
                    );
                }
            }
        }
        Ok(())
    }

    fn run_step(&mut self) -> Res {
        let r = self.rng.below(1000);
        let i = self.rng.below(2) as usize;
        match r {
            0..=249 => self.ev_write(),
            250..=549 => self.ev_progress(),
            550..=809 => self.ev_resync(),
            810..=849 => self.ev_connect(),
            850..=855 => self.ev_disconnect(),
            856..=859 => self.ev_crash(i),
            860..=899 => self.ev_restart(i),
            900..=929 => self.ev_promote(i),
            930..=959 => self.ev_demote(i),
            960..=984 => self.ev_resolve(),
            _ => self.ev_bm_writeout(i),
        }
    }

    fn run(&mut self) -> Res {
        for s in 0..self.cfg.steps {
            self.step = s;
            self.run_step()?;
            self.check()?;
        }
        Ok(())
    }
}

/// One bitmap transfer from `src` into `dst` (ORed in), packet by packet through the codec,
/// with a random socket buffer size (so that a transfer takes many packets) and RLE on or off.
fn xfer(src: &[u64], dst: &mut [u64], rng: &mut Rng) -> Res {
    let header = 16;
    let buffer = 24 + rng.below(120) as usize;
    let use_rle = rng.chance(80);
    let bm = drbd_core::bitmap_codec::WordBitmap::new(src, NBITS).map_err(|e| format!("{e:?}"))?;
    let mut tx = XferCtx::with_buffer_size(NBITS, buffer);
    let mut rx = XferCtx::with_buffer_size(NBITS, buffer);
    let mut out = vec![0u8; buffer];
    for _ in 0..10_000 {
        let (pkt, step) = tx
            .send_next(&bm, use_rle, header, &mut out)
            .map_err(|e| format!("bitmap send: {e:?}"))?;
        let got = match pkt {
            BitmapPacket::Compressed { len } => rx.receive_compressed(&out[..len], header, dst),
            BitmapPacket::Plain { len } => rx.receive_plain(&out[..len], header, dst),
        }
        .map_err(|e| format!("bitmap receive: {e:?}"))?;
        if got != step {
            fail!("bitmap transfer: sender says {step:?}, receiver {got:?}");
        }
        if step == Step::Done {
            return Ok(());
        }
    }
    fail!("bitmap transfer did not end")
}

fn run_seed(seed: u64, cfg: Cfg) -> Result<Stats, String> {
    let mut sim = Sim::new(seed, cfg);
    match sim.run() {
        Ok(()) => Ok(sim.stats),
        Err(e) => Err(format!(
            "seed {seed} ({:?}, {:?}) failed at step {}: {e}\nlast events:\n{}",
            cfg.mode,
            cfg.bugs,
            sim.step,
            Vec::from(sim.trace).join("\n")
        )),
    }
}

fn seeds(default: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("SIM_SEED") {
        return vec![s.parse().expect("SIM_SEED")];
    }
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (0..n).collect()
}

fn run_many(cfg: Cfg, default_seeds: u64) -> Stats {
    let mut total = Stats::default();
    for seed in seeds(default_seeds) {
        match run_seed(seed, cfg) {
            Ok(s) => total.add(&s),
            Err(e) => panic!("{e}\n(rerun: SIM_SEED={seed} SIM_TRACE=1 cargo test --test sim)"),
        }
    }
    total
}

/// The simulation really explores: over all seeds each kind of event and outcome happened.
fn assert_coverage(s: &Stats) {
    if std::env::var("SIM_SEED").is_ok() {
        return;
    }
    eprintln!("{s:?}");
    assert!(s.acked > 1000, "{s:?}");
    assert!(
        s.no_sync >= 3 && s.bitmap_syncs > 10 && s.full_syncs > 10,
        "{s:?}"
    );
    assert!(
        s.resyncs_done > 10 && s.split_brains > 5 && s.resolved > 5,
        "{s:?}"
    );
    assert!(
        s.crashes > 10 && s.failovers > 10 && s.corrections > 0,
        "{s:?}"
    );
    for rule in [20, 30, 40, 50, 51, 70, 71, 90] {
        assert!(s.rules.contains(&rule), "rule {rule} never decided: {s:?}");
    }
}

#[test]
fn simulation_persistent_bitmap_and_activity_log() {
    // drbd-rs's write-out points, then the C module's.
    let mut s = run_many(Cfg::new(BitmapMode::Persistent), 300);
    let mut cfg = Cfg::new(BitmapMode::Persistent);
    cfg.writeout = Writeout::C;
    s.add(&run_many(cfg, 150));
    assert!(std::env::var("SIM_SEED").is_ok() || s.al_transactions > 100);
    assert_coverage(&s);
}

#[test]
fn simulation_bitmap_set_at_attach() {
    let mut cfg = Cfg::new(BitmapMode::AllAtAttach);
    // drbd-rs keeps CRASHED_PRIMARY until the next attach (harmless here).
    cfg.clear_crashed_primary = false;
    let s = run_many(cfg, 300);
    assert_coverage(&s);
}

/// The first seed from `start` on (at most `n` seeds) whose run fails. `start` is a hint that
/// keeps the test fast; if the model changes, the search just takes longer.
fn first_failure(cfg: Cfg, start: u64, n: u64) -> Option<(u64, String)> {
    (start..start + n).find_map(|seed| run_seed(seed, cfg).err().map(|e| (seed, e)))
}

/// A known limit of the DRBD 8.4 generation-UUID scheme, shared by the C module (same rules in
/// `after_state_ch` and `drbd_uuid_compare`): if the connection breaks (or the SyncSource
/// crashes) after the SyncTarget finished a resync but before the SyncSource got the last
/// `P_RS_WRITE_ACK`s, the source keeps its bitmap UUID (the sync UUID), so when it is or becomes
/// Primary it starts no new data generation; the former target, UpToDate on the same current
/// UUID, can then be promoted too, and when the two meet again rule 50 makes the old source a
/// SyncTarget: its writes since are overwritten without a split brain being reported.
/// The other tests close that window (the source finishes in the same step as the target);
/// this one opens it and shows that the simulation finds the loss.
#[test]
fn known_limit_connection_lost_between_target_and_source_finish() {
    let mut cfg = Cfg::new(BitmapMode::Persistent);
    cfg.finish_window = true;
    let (seed, e) = first_failure(cfg, 0, 500).expect("the 8.4 window shows within 500 seeds");
    eprintln!(
        "8.4 finish window, seed {seed}: {}",
        e.lines().next().unwrap_or("")
    );
}

/// drbd-rs's SyncSource finishes a resync when the target's P_STATE says it finished, even if
/// the target's last P_RS_WRITE_ACKs (meta socket) have not been processed yet; it then counts
/// the resync as failed because bits are left (`Device::finish_resync`: `failed || oos_weight()
/// != 0`), keeps its bitmap UUID, and ignores the late acks (`source_block_acked` returns early
/// once no longer SyncSource). The source stays Connected with a bitmap UUID set: the window
/// of `known_limit_connection_lost_between_target_and_source_finish` stays open for the whole
/// connection, not just for a few packets. The C module instead waits for the acks
/// (`receive_state`: finish only if `drbd_bm_total_weight() <= rs_failed`).
#[test]
fn driver_source_finishing_on_peer_state_keeps_the_bitmap_uuid() {
    let mut cfg = Cfg::new(BitmapMode::Persistent);
    cfg.clear_crashed_primary = false;
    cfg.source_finish_race = true;
    let (seed, e) = first_failure(cfg, 0, 500).expect("the race shows within 500 seeds");
    eprintln!(
        "drbd-rs source finish race, seed {seed}: {}",
        e.lines().next().unwrap_or("")
    );
}

/// Automatic split-brain recovery that only discards a side without changes
/// (`after-sb-0pri discard-zero-changes`, `after-sb-1pri consensus`): the same invariants hold
/// unchanged, since a side is only discarded if its bitmap (the change count it reports) is
/// empty, which it cannot be if it acknowledged writes while apart.
#[test]
fn simulation_after_sb_discard_zero_changes() {
    use drbd_core::genl::AfterSb;
    for mode in [BitmapMode::Persistent, BitmapMode::AllAtAttach] {
        let mut cfg = Cfg::new(mode);
        cfg.policies = Policies {
            after_sb_0p: AfterSb::DiscardZeroChg,
            after_sb_1p: AfterSb::Consensus,
            ..Policies::DEFAULT
        };
        let s = run_many(cfg, 100);
        eprintln!(
            "{mode:?}: {} split brains resolved automatically",
            s.auto_resolved
        );
        assert!(
            // (With every bit set at attach, a side rarely reports zero changes.)
            std::env::var("SIM_SEED").is_ok()
                || mode == BitmapMode::AllAtAttach
                || s.auto_resolved > 0,
            "{mode:?}: no split brain was resolved automatically: {s:?}"
        );
    }
}

/// Each deliberately broken variant is caught within a few hundred seeds: the simulation can
/// fail, and the invariants notice exactly the kind of bug they are meant to.
#[test]
fn broken_variants_are_caught() {
    let variants: [(&str, BitmapMode, Bugs); 5] = [
        (
            "no out-of-sync bit for a write while disconnected",
            BitmapMode::Persistent,
            Bugs {
                no_oos_when_disconnected: true,
                ..Bugs::default()
            },
        ),
        (
            "no activity-log replay after a crash",
            BitmapMode::Persistent,
            Bugs {
                skip_al_replay: true,
                ..Bugs::default()
            },
        ),
        (
            "no new current UUID when a Primary loses its peer",
            BitmapMode::AllAtAttach,
            Bugs {
                no_new_current_on_lost_peer: true,
                ..Bugs::default()
            },
        ),
        (
            "resync steps pass application writes",
            BitmapMode::Persistent,
            Bugs {
                no_resync_interlock: true,
                ..Bugs::default()
            },
        ),
        (
            "no bitmap exchange",
            BitmapMode::Persistent,
            Bugs {
                no_bitmap_exchange: true,
                ..Bugs::default()
            },
        ),
    ];
    for (name, mode, bugs) in variants {
        let mut cfg = Cfg::new(mode);
        cfg.bugs = bugs;
        match first_failure(cfg, 0, 400) {
            Some((seed, e)) => {
                let first = e.lines().next().unwrap_or("");
                eprintln!("broken variant '{name}' caught by seed {seed}: {first}");
            }
            None => panic!("broken variant '{name}' was not caught by 400 seeds"),
        }
    }
}

/// drbd-rs's receiver sets the connection state without `sanitize_state`, so a node that the
/// handshake made SyncTarget stays UpToDate in WFBitMapT/WFSyncUUID while the source's
/// application writes already reach it: an UpToDate disk whose data is no longer any one
/// history (invariant 1 notices). If the connection breaks there, the node stays UpToDate with
/// that mix and can be promoted. The C module caps the disk at Outdated in those states
/// (`sanitize_state`), which the other tests model.
#[test]
fn driver_target_stays_uptodate_before_the_sync_uuid() {
    let mut cfg = Cfg::new(BitmapMode::Persistent);
    cfg.sanitize = false;
    cfg.clear_crashed_primary = false;
    let (seed, e) = first_failure(cfg, 460, 2000).expect("the mix shows within 2000 seeds");
    eprintln!(
        "drbd-rs without sanitize_state, seed {seed}: {}",
        e.lines().next().unwrap_or("")
    );
}
