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

// The Sim's behaviour, one concern per module (each an `impl Sim` block); the model's types,
// the core loop and the tests are here.
mod attach;
mod connect;
mod events;
mod resync;

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
