//! A seeded deterministic simulation of two Primaries (protocol C) writing overlapping ranges
//! at the same time, built on the module's own write-conflict rules (`core::conflict`): local
//! serialisation with parked writes, the resolver's `P_SUPERSEDED`/`P_RETRY_WRITE` verdicts,
//! the other node's wait and restart, and the peer sequence numbers.
//!
//! Every schedule is driven by one seeded PRNG, so a failure names its seed and replays
//! exactly: `CONFLICT_SIM_SEED=N CONFLICT_SIM_TRACE=1 cargo test --release -p drbd-core --test
//! conflict_sim -- --nocapture` reruns one seed with a full trace; `CONFLICT_SIM_SCHEDULES=N`
//! runs more (or fewer) schedules.
//!
//! # The model
//!
//! Two nodes, both Primary, one of them (chosen per schedule) holding `RESOLVE_CONFLICTS`.
//! Each has a disk of [`SECTORS`] sectors (one `u32` per sector: the id of the application
//! write whose data it holds, 0 at the start), a [`WriteSet`], a per-device packet counter and
//! a [`PeerSeq`]. Each direction has two FIFO channels: the data socket (`P_DATA`, numbered) and
//! the meta socket (`P_WRITE_ACK`, `P_SUPERSEDED`, `P_RETRY_WRITE`, numbered from the same
//! counter, `drbd_send_ack`). Ranges are small and overlap all the time: equal, contained,
//! partial.
//!
//! The scheduler picks one enabled event at random:
//!
//! - an application issues a write ([`WriteSet::begin_local`]): it goes (submitted to the
//!   local disk and sent) or parks until [`WriteSet::next_ready`] names it;
//! - a disk write completes (local or peer, in any order: the disk reorders);
//! - the receiver takes the next `P_DATA` (or looks again at the one it is blocked on): the
//!   resolver first waits for [`PeerSeq::may_process`] (`wait_for_and_update_peer_seq`), then
//!   [`WriteSet::insert_peer`] and [`WriteSet::judge_peer`]: `Wait` blocks the receiver until
//!   the set changes, `Submit` writes it, `Supersede`/`Retry` answer on the meta socket;
//! - a peer write done on disk is acknowledged (`e_end_block`): `P_WRITE_ACK` is sent, then
//!   its entry removed, then the postponed writes it restarts ([`WriteSet::restartable`]) are
//!   queued for the retry worker and parked writes are woken;
//! - the meta receiver processes an ack (the resolver also [`PeerSeq::update`]s):
//!   `P_WRITE_ACK` ([`WriteSet::set_net_acked`]) and `P_SUPERSEDED` complete the write once it
//!   is done locally too; `P_RETRY_WRITE` postpones it ([`WriteSet::set_postponed`]);
//! - the retry worker restarts a postponed write (`do_retry`): its entry is removed and it
//!   begins again as a new request (written locally and sent again).
//!
//! # What is checked
//!
//! While running: no two overlapping writes are at one disk at the same time (the disk could
//! apply them in either order), acks name requests that exist and expect them, no set runs
//! full. At quiescence (no event enabled):
//!
//! 1. both disks hold identical data;
//! 2. every write completed to an application is on both disks or, in each of its sectors,
//!    overwritten by a write that did not complete before it was issued;
//! 3. nothing is stuck: every application write completed, all sets, queues and channels are
//!    empty (an event-free state with work left is a deadlock).
//!
//! [`Bugs`] switches on deliberately broken driver variants (removing a peer write's entry
//! before sending its ack, a resolver that skips the sequence-number wait, a retried write
//! counted as done, a restart that only re-sends), and `broken_variants_are_caught` shows
//! each is found. Broken variants of `core::conflict` itself (tried by hand, not kept) are
//! caught by `two_primaries_write_conflicts` within its default schedules: a resolver that
//! ignores [`PeerSeq`] (stuck: a retried write nothing restarts), `Supersede` for a write only
//! partly covered or with `contains` one sector too generous (disks differ), no parking or a
//! `next_ready` that wakes blocked writes (overlapping writes at one disk), a non-resolver that
//! submits without waiting or restarts before its write is done locally (same), the C module's
//! treatment of a write the peer already acknowledged as concurrent (disks differ, the
//! deliberate difference the module documents), a resolver that ignores its writes already
//! done locally (disks differ), no `restart` flag (stuck), and a resolver that submits after a
//! net-acked write before it is done locally (overlap at the disk). Not caught, as expected
//! since they cannot happen between two nodes or only affect fairness: peer writes not
//! ordered against earlier overlapping peer writes, `restartable` without its `local_done`
//! test, parked writes overtaken by later ones.
//!
//! # Simplifications
//!
//! No disconnects, no I/O errors, no barriers/epochs (protocol C acks each write). The retry
//! worker removes the old request and begins the new one in one step.

use drbd_core::conflict::{Entry, PeerSeq, Start, Verdict, WriteSet};
use std::collections::VecDeque;
use std::fmt::Write as _;

/// Sectors per disk.
const SECTORS: u64 = 16;
/// Longest write, in sectors.
const MAX_LEN: u64 = 8;
/// Most application writes in flight on one node.
const MAX_INFLIGHT: usize = 6;
/// Slots per write set (local writes plus the peer's in flight: well above the maximum).
const SLOTS: usize = 16;
/// Events after which a schedule counts as a livelock.
const MAX_STEPS: usize = 50_000;
/// Peer entries' ids have this bit, local requests' do not.
const PEER_BIT: u64 = 1 << 40;

/// splitmix64.
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
        ((self.next() >> 32) * n) >> 32
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// Deliberately broken driver variants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bugs {
    /// A finished peer write's entry is removed (and parked writes woken, which may send
    /// data) before its `P_WRITE_ACK` is numbered and sent.
    remove_before_ack: bool,
    /// The resolver judges a peer write without waiting for the lower sequence numbers.
    ignore_peer_seq: bool,
    /// `P_RETRY_WRITE` completes the write like `P_SUPERSEDED`.
    retry_counts_as_done: bool,
    /// A restarted write is only sent again, not written locally again.
    resend_without_local_write: bool,
}

#[derive(Clone, Copy, Debug)]
struct Data {
    seq: u32,
    /// The sender's request id.
    id: u64,
    app: u32,
    sector: u64,
    bytes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AckKind {
    WriteAck,
    Superseded,
    Retry,
}

#[derive(Clone, Copy, Debug)]
struct Ack {
    seq: u32,
    kind: AckKind,
    /// The receiver's request id.
    id: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    /// Parked: not sent.
    Unsent,
    /// Sent, no answer yet.
    Pending,
    Acked,
    Superseded,
    Postponed,
}

#[derive(Clone, Copy, Debug)]
struct Local {
    id: u64,
    app: u32,
    sector: u64,
    bytes: u32,
    disk_done: bool,
    net: Net,
    /// Written locally when it starts (false only for [`Bugs::resend_without_local_write`]).
    write_locally: bool,
}

#[derive(Clone, Copy, Debug)]
struct PeerW {
    id: u64,
    sender_id: u64,
    app: u32,
    sector: u64,
    bytes: u32,
    disk_done: bool,
}

#[derive(Clone, Copy, Debug)]
enum Rx {
    Idle,
    /// Resolver: waiting for lower sequence numbers.
    Seq(Data),
    /// In the set as entry `.1`, judged `Wait` when the set's generation was `.2`.
    Conflict(Data, u64, u64),
}

struct Node {
    disk: [u32; SECTORS as usize],
    ws: WriteSet<Vec<Entry>>,
    /// Bumped on every change of `ws` (a waiting receiver looks again).
    gen: u64,
    seq: u32,
    peer_seq: PeerSeq,
    locals: Vec<Local>,
    peers: Vec<PeerW>,
    /// At the disk: (local?, request or entry id).
    disk_q: Vec<(bool, u64)>,
    rx: Rx,
    data_in: VecDeque<Data>,
    meta_in: VecDeque<Ack>,
    restart_q: Vec<u64>,
    next_id: u64,
}

impl Node {
    fn new(seq_base: u32) -> Node {
        let mut peer_seq = PeerSeq::new();
        // Walk the counter to the base (a jump of 2^31 or more would not count as newer).
        let mut cur = 0u32;
        while cur != seq_base {
            let step = seq_base.wrapping_sub(cur).min(0x4000_0000);
            cur = cur.wrapping_add(step);
            peer_seq.update(cur);
        }
        assert_eq!(peer_seq.newest(), seq_base);
        Node {
            disk: [0; SECTORS as usize],
            ws: WriteSet::new(vec![Entry::FREE; SLOTS]),
            gen: 0,
            seq: seq_base,
            peer_seq,
            locals: Vec::new(),
            peers: Vec::new(),
            disk_q: Vec::new(),
            rx: Rx::Idle,
            data_in: VecDeque::new(),
            meta_in: VecDeque::new(),
            restart_q: Vec::new(),
            next_id: 1,
        }
    }

    fn range_of(&self, local: bool, id: u64) -> (u64, u32) {
        if local {
            let l = self
                .locals
                .iter()
                .find(|l| l.id == id)
                .expect("local at disk");
            (l.sector, l.bytes)
        } else {
            let p = self
                .peers
                .iter()
                .find(|p| p.id == id)
                .expect("peer at disk");
            (p.sector, p.bytes)
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct App {
    node: usize,
    sector: u64,
    bytes: u32,
    issued: usize,
    completed: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Issue(usize),
    Disk(usize, usize),
    PeerAck(usize, usize),
    Restart(usize, usize),
    Rx(usize),
    Meta(usize),
}

/// What the schedules did, summed (to show the simulation explores every path).
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    schedules: u64,
    writes: u64,
    events: u64,
    parked: u64,
    seq_waits: u64,
    conflict_waits: u64,
    submits: u64,
    restart_flags: u64,
    supersedes: u64,
    retries: u64,
    restarts: u64,
    acked_before_judged: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.schedules += o.schedules;
        self.writes += o.writes;
        self.events += o.events;
        self.parked += o.parked;
        self.seq_waits += o.seq_waits;
        self.conflict_waits += o.conflict_waits;
        self.submits += o.submits;
        self.restart_flags += o.restart_flags;
        self.supersedes += o.supersedes;
        self.retries += o.retries;
        self.restarts += o.restarts;
        self.acked_before_judged += o.acked_before_judged;
    }
}

type Res = Result<(), String>;

macro_rules! fail {
    ($($t:tt)*) => { return Err(format!($($t)*)) };
}

struct Sim {
    rng: Rng,
    bugs: Bugs,
    nodes: [Node; 2],
    resolver: usize,
    apps: Vec<App>,
    budget: usize,
    /// This schedule's longest write (sectors) and most writes in flight per node.
    max_len: u64,
    inflight: usize,
    /// Recently used ranges (to get equal ranges often).
    recent: Vec<(u64, u32)>,
    step: usize,
    stats: Stats,
    /// Some: collect the trace (a replay after a failure, or `CONFLICT_SIM_TRACE`).
    trace: Option<Vec<String>>,
    print_trace: bool,
    evs: Vec<Ev>,
}

macro_rules! trace {
    ($s:expr, $($t:tt)*) => {
        if $s.trace.is_some() {
            let m = format!("[{:5}] {}", $s.step, format!($($t)*));
            if $s.print_trace {
                eprintln!("{m}");
            }
            if let Some(t) = &mut $s.trace {
                t.push(m);
            }
        }
    };
}

impl Sim {
    fn new(seed: u64, bugs: Bugs, tracing: bool) -> Sim {
        let mut rng = Rng(seed ^ 0xc0f1_1c75_d4bd_0084);
        let resolver = rng.below(2) as usize;
        // Now and then both counters start just below the 32-bit wrap.
        let seq_base = if rng.chance(1, 8) {
            u32::MAX - rng.below(40) as u32
        } else {
            0
        };
        let budget = 8 + rng.below(33) as usize;
        let max_len = [1, 2, 4, 8, 8, 8][rng.below(6) as usize].min(MAX_LEN);
        let inflight = 1 + rng.below(MAX_INFLIGHT as u64) as usize;
        Sim {
            rng,
            bugs,
            nodes: [Node::new(seq_base), Node::new(seq_base)],
            resolver,
            apps: Vec::new(),
            budget,
            max_len,
            inflight,
            recent: Vec::new(),
            step: 0,
            stats: Stats {
                schedules: 1,
                ..Stats::default()
            },
            trace: tracing.then(Vec::new),
            print_trace: tracing && std::env::var("CONFLICT_SIM_TRACE").is_ok(),
            evs: Vec::new(),
        }
    }

    fn name(&self, n: usize) -> &'static str {
        if n == self.resolver {
            "R"
        } else {
            "N"
        }
    }

    fn collect_events(&mut self) {
        let mut evs = std::mem::take(&mut self.evs);
        evs.clear();
        for n in 0..2 {
            let node = &self.nodes[n];
            if self.budget > 0 && node.locals.len() < self.inflight {
                // (Restarted writes keep their app write: `locals` counts app writes.)
                evs.push(Ev::Issue(n));
            }
            for k in 0..node.disk_q.len() {
                evs.push(Ev::Disk(n, k));
            }
            for (k, p) in node.peers.iter().enumerate() {
                if p.disk_done {
                    evs.push(Ev::PeerAck(n, k));
                }
            }
            for k in 0..node.restart_q.len() {
                evs.push(Ev::Restart(n, k));
            }
            let rx = match node.rx {
                Rx::Idle => !node.data_in.is_empty(),
                Rx::Seq(d) => {
                    let mut p = node.peer_seq;
                    p.may_process(d.seq)
                }
                Rx::Conflict(_, _, g) => g != node.gen,
            };
            if rx {
                evs.push(Ev::Rx(n));
            }
            if !node.meta_in.is_empty() {
                evs.push(Ev::Meta(n));
            }
        }
        self.evs = evs;
    }

    fn run(&mut self) -> Res {
        loop {
            self.collect_events();
            if self.evs.is_empty() {
                return self.check_quiescent();
            }
            if self.step >= MAX_STEPS {
                fail!("livelock: {} events without quiescence", self.step);
            }
            let ev = self.evs[self.rng.below(self.evs.len() as u64) as usize];
            self.step += 1;
            self.stats.events += 1;
            match ev {
                Ev::Issue(n) => self.issue(n)?,
                Ev::Disk(n, k) => self.disk_done(n, k)?,
                Ev::PeerAck(n, k) => self.peer_ack(n, k)?,
                Ev::Restart(n, k) => self.restart(n, k)?,
                Ev::Rx(n) => self.rx(n)?,
                Ev::Meta(n) => self.meta(n)?,
            }
        }
    }

    fn pick_range(&mut self) -> (u64, u32) {
        if !self.recent.is_empty() && self.rng.chance(1, 4) {
            return self.recent[self.rng.below(self.recent.len() as u64) as usize];
        }
        let len = 1 + self.rng.below(self.max_len);
        let sector = self.rng.below(SECTORS - len + 1);
        let r = (sector, (len * 512) as u32);
        if self.recent.len() < 4 {
            self.recent.push(r);
        } else {
            let i = self.rng.below(4) as usize;
            self.recent[i] = r;
        }
        r
    }

    /// Submits a write to node `n`'s disk, checking that nothing overlapping is there.
    fn submit_disk(&mut self, n: usize, local: bool, id: u64) -> Res {
        let node = &self.nodes[n];
        let (s, b) = node.range_of(local, id);
        let e = s + b as u64 / 512;
        for &(l2, id2) in &node.disk_q {
            let (s2, b2) = node.range_of(l2, id2);
            if s < s2 + b2 as u64 / 512 && s2 < e {
                fail!(
                    "node {}: {} {id} ({s}+{}) submitted while {} {id2} ({s2}+{}) is at the disk",
                    self.name(n),
                    if local { "local" } else { "peer" },
                    b / 512,
                    if l2 { "local" } else { "peer" },
                    b2 / 512
                );
            }
        }
        self.nodes[n].disk_q.push((local, id));
        Ok(())
    }

    /// Local request `id` goes: to the disk and on the data socket.
    fn start(&mut self, n: usize, id: u64, write_locally: bool) -> Res {
        let node = &mut self.nodes[n];
        node.seq = node.seq.wrapping_add(1);
        let seq = node.seq;
        let l = node
            .locals
            .iter_mut()
            .find(|l| l.id == id)
            .expect("started request");
        l.net = Net::Pending;
        let d = Data {
            seq,
            id,
            app: l.app,
            sector: l.sector,
            bytes: l.bytes,
        };
        if write_locally {
            self.submit_disk(n, true, id)?;
        } else {
            let node = &mut self.nodes[n];
            node.locals
                .iter_mut()
                .find(|l| l.id == id)
                .unwrap()
                .disk_done = true;
            node.ws.set_local_done(id);
            node.gen += 1;
        }
        trace!(
            self,
            "{}: start req {id} (w{} {}+{}), P_DATA seq {seq}",
            self.name(n),
            d.app,
            d.sector,
            d.bytes / 512
        );
        self.nodes[1 - n].data_in.push_back(d);
        Ok(())
    }

    /// Starts every parked write that may go now.
    fn wake(&mut self, n: usize) -> Res {
        while let Some(id) = self.nodes[n].ws.next_ready() {
            self.nodes[n].gen += 1;
            trace!(self, "{}: parked req {id} may go", self.name(n));
            let w = self.nodes[n]
                .locals
                .iter()
                .find(|l| l.id == id)
                .is_none_or(|l| l.write_locally);
            self.start(n, id, w)?;
        }
        Ok(())
    }

    fn issue(&mut self, n: usize) -> Res {
        self.budget -= 1;
        let (sector, bytes) = self.pick_range();
        self.apps.push(App {
            node: n,
            sector,
            bytes,
            issued: self.step,
            completed: None,
        });
        self.stats.writes += 1;
        let app = self.apps.len() as u32;
        trace!(
            self,
            "{}: app issues w{app} {sector}+{}",
            self.name(n),
            bytes / 512
        );
        self.begin(n, app, sector, bytes, true)
    }

    /// A new request for app write `app` begins.
    fn begin(&mut self, n: usize, app: u32, sector: u64, bytes: u32, write_locally: bool) -> Res {
        let node = &mut self.nodes[n];
        let id = node.next_id;
        node.next_id += 1;
        node.locals.push(Local {
            id,
            app,
            sector,
            bytes,
            disk_done: false,
            net: Net::Unsent,
            write_locally,
        });
        let r = node.ws.begin_local(id, sector, bytes);
        node.gen += 1;
        match r {
            Err(_) => fail!("node {}: write set full", self.name(n)),
            Ok(Start::Go) => self.start(n, id, write_locally),
            Ok(Start::Parked) => {
                self.stats.parked += 1;
                trace!(self, "{}: req {id} (w{app}) parked", self.name(n));
                Ok(())
            }
        }
    }

    fn disk_done(&mut self, n: usize, k: usize) -> Res {
        let (local, id) = self.nodes[n].disk_q.swap_remove(k);
        let node = &mut self.nodes[n];
        if local {
            let l = node
                .locals
                .iter_mut()
                .find(|l| l.id == id)
                .expect("local at disk");
            l.disk_done = true;
            let (s, e, app) = (l.sector, l.sector + l.bytes as u64 / 512, l.app);
            node.disk[s as usize..e as usize].fill(app);
            node.ws.set_local_done(id);
            node.gen += 1;
            trace!(self, "{}: req {id} (w{app}) done on disk", self.name(n));
            self.maybe_complete(n, id)
        } else {
            let p = node
                .peers
                .iter_mut()
                .find(|p| p.id == id)
                .expect("peer at disk");
            p.disk_done = true;
            let (s, e, app) = (p.sector, p.sector + p.bytes as u64 / 512, p.app);
            node.disk[s as usize..e as usize].fill(app);
            trace!(self, "{}: peer {id} (w{app}) done on disk", self.name(n));
            Ok(())
        }
    }

    fn send_ack(&mut self, n: usize, kind: AckKind, id: u64) {
        let node = &mut self.nodes[n];
        node.seq = node.seq.wrapping_add(1);
        let seq = node.seq;
        trace!(
            self,
            "{}: sends {kind:?} seq {seq} for peer req {id}",
            self.name(n)
        );
        self.nodes[1 - n].meta_in.push_back(Ack { seq, kind, id });
    }

    fn peer_ack(&mut self, n: usize, k: usize) -> Res {
        let p = self.nodes[n].peers.remove(k);
        if !self.bugs.remove_before_ack {
            self.send_ack(n, AckKind::WriteAck, p.sender_id);
        }
        let Some(e) = self.nodes[n].ws.remove(p.id) else {
            fail!("node {}: peer entry {} vanished", self.name(n), p.id);
        };
        self.nodes[n].gen += 1;
        if self.bugs.remove_before_ack {
            self.wake(n)?;
            self.send_ack(n, AckKind::WriteAck, p.sender_id);
        }
        if e.restart {
            let nm = self.name(n);
            let node = &mut self.nodes[n];
            let mut ids = Vec::new();
            node.ws.restartable(e.sector, e.bytes, |id| ids.push(id));
            for id in ids {
                if !node.restart_q.contains(&id) {
                    node.restart_q.push(id);
                    if let Some(t) = &mut self.trace {
                        let m = format!("[{:5}] {nm}: req {id} to be restarted", self.step);
                        if self.print_trace {
                            eprintln!("{m}");
                        }
                        t.push(m);
                    }
                }
            }
        }
        self.wake(n)
    }

    fn restart(&mut self, n: usize, k: usize) -> Res {
        let node = &mut self.nodes[n];
        let id = node.restart_q.swap_remove(k);
        let Some(i) = node.locals.iter().position(|l| l.id == id) else {
            fail!("node {}: restart of unknown req {id}", self.name(n));
        };
        let l = node.locals.swap_remove(i);
        if l.net != Net::Postponed || !l.disk_done {
            fail!("node {}: restart of req {id} in state {l:?}", self.name(n));
        }
        node.ws.remove(id);
        node.gen += 1;
        self.stats.restarts += 1;
        trace!(
            self,
            "{}: retry worker restarts req {id} (w{})",
            self.name(n),
            l.app
        );
        let write_locally = !self.bugs.resend_without_local_write;
        self.begin(n, l.app, l.sector, l.bytes, write_locally)?;
        self.wake(n)
    }

    fn maybe_complete(&mut self, n: usize, id: u64) -> Res {
        let node = &mut self.nodes[n];
        let i = node
            .locals
            .iter()
            .position(|l| l.id == id)
            .expect("request");
        let l = node.locals[i];
        if !(l.disk_done && matches!(l.net, Net::Acked | Net::Superseded)) {
            return Ok(());
        }
        node.locals.swap_remove(i);
        if node.ws.remove(id).is_none() {
            fail!(
                "node {}: req {id} not in the set at completion",
                self.name(n)
            );
        }
        node.gen += 1;
        let a = &mut self.apps[l.app as usize - 1];
        if a.completed.is_some() {
            fail!("w{} completed twice", l.app);
        }
        a.completed = Some(self.step);
        trace!(
            self,
            "{}: req {id}: w{} completed to the application",
            self.name(n),
            l.app
        );
        self.wake(n)
    }

    fn meta(&mut self, n: usize) -> Res {
        let nm = self.name(n);
        let node = &mut self.nodes[n];
        let a = node.meta_in.pop_front().expect("ack");
        if n == self.resolver {
            node.peer_seq.update(a.seq);
        }
        let Some(l) = node.locals.iter_mut().find(|l| l.id == a.id) else {
            fail!(
                "node {}: {:?} for unknown req {}",
                self.name(n),
                a.kind,
                a.id
            );
        };
        if l.net != Net::Pending {
            fail!("node {nm}: {:?} for req {} in state {l:?}", a.kind, a.id);
        }
        if a.kind != AckKind::WriteAck && n == self.resolver {
            fail!("the resolver got {:?}", a.kind);
        }
        let kind = if a.kind == AckKind::Retry && self.bugs.retry_counts_as_done {
            AckKind::Superseded
        } else {
            a.kind
        };
        match kind {
            AckKind::WriteAck => {
                l.net = Net::Acked;
                node.ws.set_net_acked(a.id);
            }
            AckKind::Superseded => l.net = Net::Superseded,
            AckKind::Retry => {
                l.net = Net::Postponed;
                node.ws.set_postponed(a.id);
            }
        }
        node.gen += 1;
        trace!(
            self,
            "{nm}: got {:?} seq {} for req {}",
            a.kind,
            a.seq,
            a.id
        );
        self.maybe_complete(n, a.id)
    }

    fn rx(&mut self, n: usize) -> Res {
        let resolver = n == self.resolver;
        let node = &mut self.nodes[n];
        let (d, eid) = match node.rx {
            Rx::Idle => {
                let d = node.data_in.pop_front().expect("data");
                if resolver && !self.bugs.ignore_peer_seq && !node.peer_seq.may_process(d.seq) {
                    node.rx = Rx::Seq(d);
                    self.stats.seq_waits += 1;
                    trace!(
                        self,
                        "{}: P_DATA seq {} (w{}) waits for lower numbers (newest {})",
                        self.name(n),
                        d.seq,
                        d.app,
                        self.nodes[n].peer_seq.newest()
                    );
                    return Ok(());
                }
                (d, None)
            }
            Rx::Seq(d) => {
                if !node.peer_seq.may_process(d.seq) {
                    fail!("receiver woken for seq {} too early", d.seq);
                }
                (d, None)
            }
            Rx::Conflict(d, eid, _) => (d, Some(eid)),
        };
        let node = &mut self.nodes[n];
        let eid = match eid {
            Some(e) => e,
            None => {
                let eid = node.next_id | PEER_BIT;
                node.next_id += 1;
                if node.ws.insert_peer(eid, d.sector, d.bytes).is_err() {
                    fail!("node {}: write set full (peer write)", self.name(n));
                }
                node.gen += 1;
                if resolver
                    && node.ws.entries().any(|e| {
                        e.kind == drbd_core::conflict::Kind::Local
                            && e.net_acked
                            && e.overlaps(d.sector, d.bytes)
                    })
                {
                    self.stats.acked_before_judged += 1;
                }
                trace!(
                    self,
                    "{}: P_DATA seq {} req {} (w{} {}+{}) is peer entry {eid}",
                    self.name(n),
                    d.seq,
                    d.id,
                    d.app,
                    d.sector,
                    d.bytes / 512
                );
                eid
            }
        };
        let node = &mut self.nodes[n];
        let (v, _alert) = node.ws.judge_peer(eid, resolver);
        trace!(
            self,
            "{}: peer entry {eid} (w{}): {v:?}",
            self.name(n),
            d.app
        );
        let node = &mut self.nodes[n];
        match v {
            Verdict::Wait => {
                self.stats.conflict_waits += 1;
                node.rx = Rx::Conflict(d, eid, node.gen);
                Ok(())
            }
            Verdict::Submit => {
                node.rx = Rx::Idle;
                node.gen += 1;
                self.stats.submits += 1;
                if node.ws.get(eid).is_some_and(|e| e.restart) {
                    self.stats.restart_flags += 1;
                }
                node.peers.push(PeerW {
                    id: eid,
                    sender_id: d.id,
                    app: d.app,
                    sector: d.sector,
                    bytes: d.bytes,
                    disk_done: false,
                });
                self.submit_disk(n, false, eid)
            }
            Verdict::Supersede | Verdict::Retry => {
                node.rx = Rx::Idle;
                node.gen += 1;
                if !resolver {
                    fail!("the node that does not resolve answered {v:?}");
                }
                if node.ws.get(eid).is_some() {
                    fail!("{v:?} left the peer entry in the set");
                }
                let kind = if v == Verdict::Supersede {
                    self.stats.supersedes += 1;
                    AckKind::Superseded
                } else {
                    self.stats.retries += 1;
                    AckKind::Retry
                };
                self.send_ack(n, kind, d.id);
                self.wake(n)
            }
        }
    }

    fn check_quiescent(&self) -> Res {
        let mut stuck = String::new();
        for (i, a) in self.apps.iter().enumerate() {
            if a.completed.is_none() {
                let _ = write!(
                    stuck,
                    "\n  w{} ({} {}+{}) never completed",
                    i + 1,
                    self.name(a.node),
                    a.sector,
                    a.bytes / 512
                );
            }
        }
        for n in 0..2 {
            let node = &self.nodes[n];
            for e in node.ws.entries() {
                let _ = write!(stuck, "\n  {}: set entry {e:?}", self.name(n));
            }
            if !matches!(node.rx, Rx::Idle) {
                let _ = write!(
                    stuck,
                    "\n  {}: receiver blocked: {:?}",
                    self.name(n),
                    node.rx
                );
            }
            if !node.data_in.is_empty() || !node.meta_in.is_empty() {
                let _ = write!(stuck, "\n  {}: packets left on its sockets", self.name(n));
            }
            if !node.locals.is_empty() || !node.peers.is_empty() || !node.restart_q.is_empty() {
                let _ = write!(stuck, "\n  {}: requests left", self.name(n));
            }
        }
        if !stuck.is_empty() {
            fail!("stuck: no event is enabled, but:{stuck}");
        }
        let (a, b) = (&self.nodes[0].disk, &self.nodes[1].disk);
        if a != b {
            fail!(
                "disks differ:\n  {}: {:?}\n  {}: {:?}",
                self.name(0),
                a,
                self.name(1),
                b
            );
        }
        for x in 0..SECTORS {
            let f = a[x as usize];
            for (i, w) in self.apps.iter().enumerate() {
                let id = i as u32 + 1;
                if id == f || !(w.sector <= x && x < w.sector + w.bytes as u64 / 512) {
                    continue;
                }
                // w is acked (everything is, here); the final data must come from a write
                // that was not complete before w was issued.
                let lost = match f {
                    0 => true,
                    _ => self.apps[f as usize - 1]
                        .completed
                        .is_some_and(|c| c < w.issued),
                };
                if lost {
                    fail!(
                        "sector {x}: acknowledged w{id} ({} {}+{}, issued at {}) lost: both disks hold w{f}{}",
                        self.name(w.node),
                        w.sector,
                        w.bytes / 512,
                        w.issued,
                        match f {
                            0 => " (initial data)".to_string(),
                            _ => format!(
                                ", completed at {:?}",
                                self.apps[f as usize - 1].completed
                            ),
                        }
                    );
                }
            }
        }
        Ok(())
    }
}

fn replay_hint(seed: u64) -> String {
    format!(
        "replay: CONFLICT_SIM_SEED={seed} CONFLICT_SIM_TRACE=1 cargo test --release -p drbd-core --test conflict_sim -- --nocapture"
    )
}

fn run_seed(seed: u64, bugs: Bugs) -> Result<Stats, String> {
    let tracing = std::env::var("CONFLICT_SIM_TRACE").is_ok();
    let mut sim = Sim::new(seed, bugs, tracing);
    match sim.run() {
        Ok(()) => Ok(sim.stats),
        Err(e) => {
            // Replay with the trace on (the run is deterministic) for the last events.
            let mut again = Sim::new(seed, bugs, true);
            again.print_trace = false;
            let _ = again.run();
            let t = again.trace.unwrap_or_default();
            let tail = t[t.len().saturating_sub(80)..].join("\n");
            Err(format!(
                "seed {seed} ({bugs:?}, resolver is node {}) failed at event {}: {e}\nlast events (R = resolver, N = the other node):\n{tail}\n{}",
                sim.resolver,
                sim.step,
                replay_hint(seed)
            ))
        }
    }
}

fn seeds(default: u64) -> std::ops::Range<u64> {
    if let Ok(s) = std::env::var("CONFLICT_SIM_SEED") {
        let s: u64 = s.parse().expect("CONFLICT_SIM_SEED");
        return s..s + 1;
    }
    let n = std::env::var("CONFLICT_SIM_SCHEDULES")
        .ok()
        .map(|s| s.parse().expect("CONFLICT_SIM_SCHEDULES"))
        .unwrap_or(default);
    0..n
}

/// Runs `seeds` on a few threads (each seed is independent, so the result does not depend on
/// the split); the first failure (lowest seed of the failing thread) is returned.
fn run_range(range: std::ops::Range<u64>, bugs: Bugs) -> Result<Stats, String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8) as u64;
    let len = range.end - range.start;
    if len < 1000 || threads == 1 {
        let mut total = Stats::default();
        for seed in range {
            total.add(&run_seed(seed, bugs)?);
        }
        return Ok(total);
    }
    let results: Vec<Result<Stats, String>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let r = range.clone();
                sc.spawn(move || {
                    let mut total = Stats::default();
                    let mut seed = r.start + t;
                    while seed < r.end {
                        total.add(&run_seed(seed, bugs)?);
                        seed += threads;
                    }
                    Ok(total)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let mut total = Stats::default();
    for r in results {
        total.add(&r?);
    }
    Ok(total)
}

/// The protocol as `core::conflict` describes it: all invariants hold in every schedule.
#[test]
fn two_primaries_write_conflicts() {
    let t = std::time::Instant::now();
    let s = match run_range(seeds(100_000), Bugs::default()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    eprintln!("{s:?} in {:.1?}", t.elapsed());
    if std::env::var("CONFLICT_SIM_SEED").is_ok() || s.schedules < 10_000 {
        return;
    }
    // Every path of the protocol was taken, often.
    assert!(s.parked > 1000, "{s:?}");
    assert!(s.seq_waits > 100, "{s:?}");
    assert!(s.conflict_waits > 1000, "{s:?}");
    assert!(s.supersedes > 1000 && s.retries > 1000, "{s:?}");
    assert!(s.restart_flags > 1000 && s.restarts > 1000, "{s:?}");
    assert!(s.acked_before_judged > 100, "{s:?}");
}

/// Each deliberately broken driver variant is caught within a few thousand schedules.
#[test]
fn broken_variants_are_caught() {
    if std::env::var("CONFLICT_SIM_SEED").is_ok() {
        return;
    }
    let variants = [
        (
            "peer entry removed before its ack is sent",
            Bugs {
                remove_before_ack: true,
                ..Bugs::default()
            },
        ),
        (
            "resolver ignores the peer sequence numbers",
            Bugs {
                ignore_peer_seq: true,
                ..Bugs::default()
            },
        ),
        (
            "P_RETRY_WRITE completes the write",
            Bugs {
                retry_counts_as_done: true,
                ..Bugs::default()
            },
        ),
        (
            "restart only re-sends",
            Bugs {
                resend_without_local_write: true,
                ..Bugs::default()
            },
        ),
    ];
    for (name, bugs) in variants {
        match (0..20_000).find_map(|seed| run_seed(seed, bugs).err().map(|e| (seed, e))) {
            Some((seed, e)) => {
                let first = e.lines().next().unwrap_or("");
                eprintln!("broken variant '{name}' caught by seed {seed}: {first}");
            }
            None => panic!("broken variant '{name}' was not caught by 20000 schedules"),
        }
    }
}

/// The quiescence checks themselves fire: a schedule's end state with one sector changed on
/// one disk (disks differ), or rolled back on both to data older than an acknowledged write
/// (a lost write), is refused.
#[test]
fn the_checks_notice_differing_disks_and_lost_writes() {
    let mut differ = false;
    let mut lost = false;
    for seed in 0..50 {
        let mut sim = Sim::new(seed, Bugs::default(), false);
        sim.run().unwrap_or_else(|e| panic!("{e}"));
        let Some(x) = (0..SECTORS as usize).find(|&x| sim.nodes[0].disk[x] != 0) else {
            continue;
        };
        let keep = sim.nodes[0].disk[x];
        sim.nodes[1].disk[x] = 0;
        let e = sim.check_quiescent().expect_err("one disk changed");
        differ |= e.starts_with("disks differ");
        sim.nodes[0].disk[x] = 0;
        let e = sim.check_quiescent().expect_err("both disks rolled back");
        lost |= e.contains("lost");
        sim.nodes[0].disk[x] = keep;
        sim.nodes[1].disk[x] = keep;
        sim.check_quiescent().unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(differ && lost);
}
