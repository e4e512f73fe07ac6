//! `hammer` and `hammer-check`: conflicting writes from two Primaries.
//!
//! Both nodes of a dual-primary pair run `hammer` on the same region at the same moment. Round r
//! of both nodes derives the same list of base ranges from (seed, r) alone; each node then turns
//! every base range into the range it writes with its own generator (seed, r, node, i): exact
//! 4 KiB blocks stay identical on both nodes, the other ranges are kept, shifted (partial
//! overlap), shrunk (contained) or grown (containing). So the two nodes write identical,
//! overlapping and partly overlapping ranges at about the same time, each with its own content.
//! After both stopped, a correct dual-primary implementation leaves the two disks identical,
//! whichever write won each conflict; the nodes compare whole-device checksums (`sum`).
//!
//! Every 512-byte sector written carries a header (magic, seed, round, node, sector, write) and
//! a stream derived from it, so `hammer-check` can tell a sector some hammer wrote intact from a
//! torn, misplaced or corrupted one, and count whose writes ended on the disk.

use crate::AlignedBuf;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

pub const SECTOR: usize = 512;
const MAGIC: &[u8; 8] = b"DRBDHAMR";
/// Longest write: 16 sectors (8 KiB).
const MAX_SECTORS: u64 = 16;

/// Arguments of `hammer`.
#[derive(clap::Args, Clone)]
pub struct Hammer {
    /// Block device or file.
    pub device: String,
    /// Seed of the ranges and the data; both nodes must use the same.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// This node's number (0 or 1): selects its variant of each range and its data.
    #[arg(long)]
    pub node: u64,
    /// Start of the region in bytes (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, default_value = "0", value_parser = crate::parse_size)]
    pub offset: u64,
    /// Length of the region in bytes (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, value_parser = crate::parse_size)]
    pub size: u64,
    /// Stop after this many rounds.
    #[arg(long, default_value_t = u64::MAX)]
    pub rounds: u64,
    /// Stop after the round during which this many seconds have passed.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Writes per round.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub per_round: u64,
    /// Threads writing at once (thread t issues the writes i with i % threads == t).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: u64,
    /// A stop handshake with the other node, through the device itself: once --rounds or
    /// --duration are reached, write the `write` pattern of SEED to the 4 KiB block at OFFSET
    /// (`OFFSET:SEED`), ...
    #[arg(long, value_parser = parse_slot, requires = "until_peer")]
    pub post_at_end: Option<Slot>,
    /// ... and go on writing rounds (at most --rounds) until the block at OFFSET carries the
    /// pattern of SEED (`OFFSET:SEED`: the other node's --post-at-end), read once per round, or
    /// fail after --peer-timeout seconds. Then neither node writes alone for more than about
    /// a round at the end: one that stopped early by a clock skew of seconds would let the
    /// other overwrite all of its writes.
    #[arg(long, value_parser = parse_slot, requires = "post_at_end")]
    pub until_peer: Option<Slot>,
    /// Seconds to wait for the peer's --until-peer block.
    #[arg(long, default_value_t = 120)]
    pub peer_timeout: u64,
}

/// A 4 KiB block of the device and the seed of the `write` pattern that marks it.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub offset: u64,
    pub seed: u64,
}

fn parse_slot(s: &str) -> Result<Slot, String> {
    let (o, seed) = s.split_once(':').ok_or("want OFFSET:SEED")?;
    let offset = crate::parse_size(o)?;
    if offset % 4096 != 0 {
        return Err(format!("{o}: not a multiple of 4 KiB"));
    }
    let seed = seed.parse().map_err(|e| format!("{seed}: {e}"))?;
    Ok(Slot { offset, seed })
}

fn post_slot(f: &File, slot: Slot) -> Result<(), String> {
    let mut buf = AlignedBuf::new(4096);
    crate::fill_block(buf.as_mut(), slot.seed, slot.offset);
    f.write_all_at(buf.as_mut(), slot.offset)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("posting the end at {}: {e}", slot.offset))
}

fn slot_posted(f: &File, slot: Slot) -> Result<bool, String> {
    let mut buf = AlignedBuf::new(4096);
    let mut want = [0u8; 4096];
    crate::fill_block(&mut want, slot.seed, slot.offset);
    f.read_exact_at(buf.as_mut(), slot.offset)
        .map_err(|e| format!("reading the peer's end at {}: {e}", slot.offset))?;
    Ok(buf.as_mut() == &want[..])
}

/// Arguments of `hammer-check`.
#[derive(clap::Args, Clone)]
pub struct HammerCheck {
    /// Block device or file.
    pub device: String,
    /// Seed `hammer` used.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start of the region in bytes (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, default_value = "0", value_parser = crate::parse_size)]
    pub offset: u64,
    /// Length of the region in bytes (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, value_parser = crate::parse_size)]
    pub size: u64,
    /// Fail unless at least this many sectors carry each node's writes (nodes 0 and 1).
    #[arg(long, default_value_t = 0)]
    pub min_per_node: u64,
    /// Writes per round `hammer` used.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub per_round: u64,
    /// Rounds a node finished, as `NODE=ROUNDS` (its `hammer` printed them); for a node not
    /// named, the last round found on the disk stands in (which checks fewer of its writes).
    #[arg(long = "rounds-of", value_parser = parse_rounds_of)]
    pub rounds_of: Vec<(u64, u64)>,
}

fn parse_rounds_of(s: &str) -> Result<(u64, u64), String> {
    let (n, r) = s.split_once('=').ok_or("want NODE=ROUNDS")?;
    let n: u64 = n.parse().map_err(|e| format!("{n}: {e}"))?;
    let r: u64 = r.parse().map_err(|e| format!("{r}: {e}"))?;
    if n > 1 {
        return Err(format!("node {n}: nodes are 0 and 1"));
    }
    Ok((n, r))
}

fn mix(state: &mut u64) -> u64 {
    crate::splitmix(state)
}

/// One write: `len` sectors from region sector `start`, the `index`-th of its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub len: u64,
    pub index: u64,
}

/// The base ranges of round `round` (the same on every node), over `sectors` sectors.
/// Even-numbered kinds are exact 4 KiB blocks (aligned); the others 1..16 sectors anywhere.
pub fn base_ranges(seed: u64, round: u64, per_round: u64, sectors: u64) -> Vec<(Range, bool)> {
    let mut st = seed ^ round.wrapping_mul(0xa076_1d64_78bd_642f) ^ 0x004a_11e5;
    (0..per_round)
        .map(|index| {
            let v = mix(&mut st);
            if v.is_multiple_of(4) {
                let blocks = sectors / 8;
                (
                    Range {
                        start: (mix(&mut st) % blocks) * 8,
                        len: 8,
                        index,
                    },
                    true,
                )
            } else {
                let len = 1 + mix(&mut st) % MAX_SECTORS;
                let start = mix(&mut st) % (sectors - len + 1);
                (Range { start, len, index }, false)
            }
        })
        .collect()
}

/// Node `node`'s variant of a base range: 4 KiB blocks unchanged; otherwise identical, shifted
/// (partial overlap), shrunk (contained in the base) or grown (containing it), within 1..16
/// sectors and the region.
pub fn node_range(seed: u64, round: u64, node: u64, base: Range, block: bool, sectors: u64) -> Range {
    if block {
        return base;
    }
    let mut st =
        seed ^ round.rotate_left(23) ^ (node + 1).wrapping_mul(0xe703_7ed1_a0b4_28db) ^ base.index.rotate_left(41);
    let Range { start, len, index } = base;
    let (s, l) = match mix(&mut st) % 4 {
        0 => (start, len),
        1 => {
            // Shift by 1..len sectors either way: overlaps the base in part (or touches it).
            let d = 1 + mix(&mut st) % len;
            if mix(&mut st).is_multiple_of(2) {
                (start.saturating_sub(d), len)
            } else {
                (start + d, len)
            }
        }
        2 => {
            // A sub-range of the base.
            let l = 1 + mix(&mut st) % len;
            (start + mix(&mut st) % (len - l + 1), l)
        }
        _ => {
            // The base plus up to 4 sectors before it, at most 16 in all.
            let pre = (mix(&mut st) % 5).min(start).min(MAX_SECTORS - len);
            (start - pre, (len + pre + mix(&mut st) % 5).min(MAX_SECTORS))
        }
    };
    let l = l.min(sectors);
    Range {
        start: s.min(sectors - l),
        len: l,
        index,
    }
}

/// Fills one sector written by (`seed`, `round`, `node`, write `index`) at region sector
/// `sector`.
pub fn fill_sector(buf: &mut [u8], seed: u64, round: u64, node: u64, index: u64, sector: u64) {
    buf[0..8].copy_from_slice(MAGIC);
    for (i, v) in [seed, round, node, sector, index].iter().enumerate() {
        buf[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut st = seed ^ round.rotate_left(13) ^ node.rotate_left(29) ^ sector.rotate_left(37) ^ index.rotate_left(53);
    for w in buf[48..].chunks_exact_mut(8) {
        w.copy_from_slice(&mix(&mut st).to_le_bytes());
    }
}

/// What a sector of the region holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Intact data of a `hammer` write by this node: its round `round`, write `index`.
    Hammer { node: u64, round: u64, index: u64 },
    /// Not written by a hammer with this seed (earlier data, zeros).
    Other,
    /// Hammer data that does not belong here or is damaged.
    Bad(String),
}

/// Classifies sector `sector` of the region (`buf` holds its 512 bytes).
pub fn classify(buf: &[u8], seed: u64, sector: u64) -> Found {
    if &buf[0..8] != MAGIC {
        return Found::Other;
    }
    let f = |i: usize| u64::from_le_bytes(buf[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    let (s, round, node, at, index) = (f(0), f(1), f(2), f(3), f(4));
    if s != seed {
        return Found::Other;
    }
    if at != sector {
        return Found::Bad(format!(
            "sector {sector} holds node {node}'s round {round} write {index} for sector {at}"
        ));
    }
    let mut want = [0u8; SECTOR];
    fill_sector(&mut want, seed, round, node, index, sector);
    if buf != want {
        return Found::Bad(format!(
            "sector {sector}: node {node}'s round {round} write {index} is damaged"
        ));
    }
    Found::Hammer { node, round, index }
}

/// What `hammer` did.
pub struct Done {
    pub rounds: u64,
    pub writes: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// `hammer`: rounds of writes over the region until --rounds or --duration; writes are
/// synchronous O_DIRECT pwrites (the caller opened `f` with O_DIRECT), `threads` at a time.
pub fn hammer(f: &File, a: &Hammer) -> Result<Done, String> {
    if a.size < 4096 {
        return Err("--size must be at least 4 KiB".into());
    }
    let sectors = a.size / SECTOR as u64;
    let start = Instant::now();
    let deadline = a.duration.map(|d| start + Duration::from_secs(d));
    let mut done = Done {
        rounds: 0,
        writes: 0,
        bytes: 0,
        secs: 0.0,
    };
    let mut round = 0u64;
    // With the stop handshake: when this node posted its end (the peer's is then awaited).
    let mut posted: Option<Instant> = None;
    loop {
        let ours_done = round >= a.rounds || deadline.is_some_and(|d| Instant::now() >= d);
        if ours_done {
            let (Some(post), Some(peer)) = (a.post_at_end, a.until_peer) else { break };
            let since = match posted {
                Some(t) => t,
                None => {
                    post_slot(f, post)?;
                    *posted.insert(Instant::now())
                }
            };
            if slot_posted(f, peer)? {
                break;
            }
            if since.elapsed() > Duration::from_secs(a.peer_timeout) {
                return Err(format!("the peer did not end its hammer within {} s of this node", a.peer_timeout));
            }
            if round >= a.rounds {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        let ranges: Vec<Range> = base_ranges(a.seed, round, a.per_round, sectors)
            .into_iter()
            .map(|(b, block)| node_range(a.seed, round, a.node, b, block, sectors))
            .collect();
        let results: Vec<Result<u64, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..a.threads)
                .map(|t| {
                    let ranges = &ranges;
                    s.spawn(move || -> Result<u64, String> {
                        let mut buf = AlignedBuf::new(MAX_SECTORS as usize * SECTOR);
                        let mut bytes = 0;
                        for r in ranges.iter().filter(|r| r.index % a.threads == t) {
                            let n = r.len as usize * SECTOR;
                            let data = &mut buf.as_mut()[..n];
                            for (k, sec) in data.chunks_exact_mut(SECTOR).enumerate() {
                                fill_sector(sec, a.seed, round, a.node, r.index, r.start + k as u64);
                            }
                            let pos = a.offset + r.start * SECTOR as u64;
                            f.write_all_at(data, pos)
                                .map_err(|e| format!("round {round} write {} ({n} bytes at {pos}): {e}", r.index))?;
                            bytes += n as u64;
                        }
                        Ok(bytes)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        });
        for r in results {
            done.bytes += r?;
        }
        done.writes += a.per_round;
        round += 1;
        done.rounds = round;
    }
    f.sync_all().map_err(|e| format!("fsync: {e}"))?;
    done.secs = start.elapsed().as_secs_f64();
    Ok(done)
}

/// What `hammer-check` found: sectors per node, sectors not hammered, and per node the last
/// round found on the disk, the rounds the check covered and how many sectors hold that
/// node's last write to them.
#[derive(Debug)]
pub struct Checked {
    pub per_node: [u64; 2],
    pub other: u64,
    pub last_round: [Option<u64>; 2],
    pub rounds_checked: [u64; 2],
    pub last_writes: [u64; 2],
}

/// `hammer-check`: classifies every sector of the region and checks what each node's own
/// order of writes implies; fails on the first violation.
///
/// Every round of a node starts after its previous round's writes all completed (the threads
/// join between rounds), so whatever the other node did, a sector cannot end holding a node's
/// write of round r if that node wrote the sector again in a later round: the later write
/// completed after the earlier one, and DRBD must not let the earlier one win on either
/// disk (that is a lost, acknowledged write). And a sector some node wrote cannot end holding
/// data from before the hammer. Which node's write wins a conflict is not checked: the two
/// nodes' writes are concurrent. A node's rounds are the ones `--rounds-of` gives, else those
/// up to the last round of it found on the disk.
pub fn hammer_check(f: &File, a: &HammerCheck) -> Result<Checked, String> {
    if a.size < 4096 {
        return Err("--size must be at least 4 KiB".into());
    }
    let sectors = a.size / SECTOR as u64;
    let mut c = Checked {
        per_node: [0; 2],
        other: 0,
        last_round: [None; 2],
        rounds_checked: [0; 2],
        last_writes: [0; 2],
    };
    // What each sector holds: (node, round, index), or None if not hammer data.
    let mut found: Vec<Option<(u64, u64, u64)>> = Vec::with_capacity(sectors as usize);
    let mut buf = AlignedBuf::new(crate::CHUNK);
    let mut done = 0u64;
    while done < a.size {
        let n = (a.size - done).min(crate::CHUNK as u64) as usize;
        let pos = a.offset + done;
        let data = &mut buf.as_mut()[..n];
        f.read_exact_at(data, pos).map_err(|e| format!("read at {pos}: {e}"))?;
        for (i, sec) in data.chunks_exact(SECTOR).enumerate() {
            match classify(sec, a.seed, done / SECTOR as u64 + i as u64) {
                Found::Hammer { node, round, index } if node < 2 => {
                    c.per_node[node as usize] += 1;
                    let last = &mut c.last_round[node as usize];
                    *last = Some(last.map_or(round, |l| l.max(round)));
                    found.push(Some((node, round, index)));
                }
                Found::Hammer { node, .. } => return Err(format!("a sector written by node {node}")),
                Found::Other => {
                    c.other += 1;
                    found.push(None);
                }
                Found::Bad(why) => return Err(why),
            }
        }
        done += n as u64;
    }
    // Per node and sector: the last round (and its write) that wrote the sector.
    let mut last: [Vec<Option<(u64, u64)>>; 2] = [vec![None; sectors as usize], vec![None; sectors as usize]];
    for node in 0..2u64 {
        let rounds = match a.rounds_of.iter().rev().find(|(n, _)| *n == node) {
            Some(&(_, r)) => r,
            None => c.last_round[node as usize].map_or(0, |l| l + 1),
        };
        if let Some(l) = c.last_round[node as usize] {
            if l >= rounds {
                return Err(format!(
                    "node {node}'s round {l} is on the disk, but it finished only {rounds} rounds"
                ));
            }
        }
        c.rounds_checked[node as usize] = rounds;
        for round in 0..rounds {
            for (b, block) in base_ranges(a.seed, round, a.per_round, sectors) {
                let r = node_range(a.seed, round, node, b, block, sectors);
                for s in r.start..r.start + r.len {
                    last[node as usize][s as usize] = Some((round, r.index));
                }
            }
        }
    }
    for (s, what) in found.iter().enumerate() {
        let sector = s as u64;
        match *what {
            None => {
                for (node, writes) in last.iter().enumerate() {
                    if let Some((round, index)) = writes[s] {
                        return Err(format!(
                            "sector {sector} holds no hammer data, but node {node}'s round {round} write {index} wrote it"
                        ));
                    }
                }
            }
            Some((node, round, index)) => {
                let wrote = base_ranges(a.seed, round, a.per_round, sectors)
                    .get(index as usize)
                    .map(|&(b, block)| node_range(a.seed, round, node, b, block, sectors))
                    .is_some_and(|r| r.start <= sector && sector < r.start + r.len);
                if !wrote {
                    return Err(format!(
                        "sector {sector} holds node {node}'s round {round} write {index}, which did not cover it"
                    ));
                }
                match last[node as usize][s] {
                    Some((lr, li)) if lr > round => {
                        return Err(format!(
                            "lost write: sector {sector} holds node {node}'s round {round} write {index}, \
                             but node {node} wrote it again later (round {lr} write {li})"
                        ));
                    }
                    Some((lr, _)) if lr == round => c.last_writes[node as usize] += 1,
                    _ => {}
                }
            }
        }
    }
    for (node, &n) in c.per_node.iter().enumerate() {
        if n < a.min_per_node {
            return Err(format!(
                "only {n} sectors carry node {node}'s writes (want at least {})",
                a.min_per_node
            ));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECTORS: u64 = 2048;

    /// A 1 MiB file in a directory of its own under the temporary directory (named after
    /// `tag` and the process), for a test to hammer; the caller removes the directory.
    fn scratch_file(tag: &str) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("drbd-testdata-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("img"))
            .unwrap();
        f.set_len(1 << 20).unwrap();
        (dir, f)
    }

    /// The two nodes' ranges of a round, pairwise (same index).
    fn pairs(round: u64) -> Vec<(Range, Range)> {
        base_ranges(5, round, 256, SECTORS)
            .into_iter()
            .map(|(b, blk)| {
                (
                    node_range(5, round, 0, b, blk, SECTORS),
                    node_range(5, round, 1, b, blk, SECTORS),
                )
            })
            .collect()
    }

    #[test]
    fn nodes_write_identical_partial_and_contained_ranges() {
        let (mut same, mut partial, mut contained, mut blocks) = (0, 0, 0, 0);
        for round in 0..4 {
            for (a, b) in pairs(round) {
                assert!(a.len >= 1 && a.len <= 16 && a.start + a.len <= SECTORS, "{a:?}");
                assert!(b.len >= 1 && b.len <= 16 && b.start + b.len <= SECTORS, "{b:?}");
                let (ae, be) = (a.start + a.len, b.start + b.len);
                if a == b {
                    same += 1;
                    if a.len == 8 && a.start % 8 == 0 {
                        blocks += 1;
                    }
                } else if (a.start <= b.start && be <= ae) || (b.start <= a.start && ae <= be) {
                    contained += 1;
                } else if a.start < be && b.start < ae {
                    partial += 1;
                }
            }
        }
        assert!(
            same > 100 && partial > 50 && contained > 50 && blocks > 100,
            "{same} {partial} {contained} {blocks}"
        );
        // Rounds differ, and the base ranges do not depend on the node.
        assert_ne!(pairs(0), pairs(1));
        assert_eq!(pairs(3), pairs(3));
    }

    #[test]
    fn sectors_classify_by_writer_and_catch_damage() {
        let mut s = [0u8; SECTOR];
        fill_sector(&mut s, 5, 3, 1, 7, 100);
        assert_eq!(classify(&s, 5, 100), Found::Hammer { node: 1, round: 3, index: 7 });
        assert!(matches!(classify(&s, 5, 101), Found::Bad(w) if w.contains("for sector 100")));
        assert_eq!(classify(&s, 6, 100), Found::Other);
        let mut t = [0u8; SECTOR];
        fill_sector(&mut t, 5, 3, 0, 7, 100);
        assert_ne!(s[48..], t[48..], "the nodes' data differ");
        s[300] ^= 1;
        assert!(matches!(classify(&s, 5, 100), Found::Bad(w) if w.contains("damaged")));
        assert_eq!(classify(&[0u8; SECTOR], 5, 0), Found::Other);
    }

    #[test]
    fn two_nodes_hammer_a_file_and_the_check_counts_both() {
        let (dir, f) = scratch_file("hammer");
        let args = |node| Hammer {
            device: String::new(),
            seed: 5,
            node,
            offset: 64 << 10,
            size: 256 << 10,
            rounds: 20,
            duration: None,
            per_round: 32,
            threads: 2,
            post_at_end: None,
            until_peer: None,
            peer_timeout: 120,
        };
        let d0 = hammer(&f, &args(0)).unwrap();
        // Node 1 writes less after node 0, so both keep sectors.
        let d1 = hammer(&f, &Hammer { rounds: 3, ..args(1) }).unwrap();
        assert_eq!((d0.rounds, d0.writes, d1.writes), (20, 640, 96));
        let check = HammerCheck {
            device: String::new(),
            seed: 5,
            offset: 64 << 10,
            size: 256 << 10,
            min_per_node: 1,
            per_round: 32,
            rounds_of: vec![(0, 20), (1, 3)],
        };
        let c = hammer_check(&f, &check).unwrap();
        assert!(c.per_node[0] > 0 && c.per_node[1] > 0, "{:?} {}", c.per_node, c.other);
        assert_eq!(c.per_node[0] + c.per_node[1] + c.other, 512);
        assert_eq!(c.rounds_checked, [20, 3]);
        assert!(c.last_writes[1] > 0, "{:?}", c.last_writes);
        // A node's earlier write that ends over its later one is a lost write: put node 1's
        // round 0 data back over a sector it rewrote in round 1 or 2.
        let r0: Vec<Range> = base_ranges(5, 0, 32, 512)
            .into_iter()
            .map(|(b, blk)| node_range(5, 0, 1, b, blk, 512))
            .collect();
        let later: Vec<Range> = (1..3)
            .flat_map(|round| {
                base_ranges(5, round, 32, 512)
                    .into_iter()
                    .map(move |(b, blk)| node_range(5, round, 1, b, blk, 512))
            })
            .collect();
        let (r, s) = r0
            .iter()
            .flat_map(|r| (r.start..r.start + r.len).map(move |s| (*r, s)))
            .find(|(_, s)| later.iter().any(|l| l.start <= *s && *s < l.start + l.len))
            .expect("rounds 1 and 2 rewrite some sector of round 0");
        let mut old = [0u8; SECTOR];
        let at = (64 << 10) + s * 512;
        let mut keep = [0u8; SECTOR];
        f.read_exact_at(&mut keep, at).unwrap();
        fill_sector(&mut old, 5, 0, 1, r.index, s);
        f.write_all_at(&old, at).unwrap();
        let e = hammer_check(&f, &check).unwrap_err();
        assert!(e.contains("lost write") && e.contains(&format!("sector {s}")), "{e}");
        // A hammered sector back to what was there before the hammer is caught too.
        f.write_all_at(&[0u8; SECTOR], at).unwrap();
        let e = hammer_check(&f, &check).unwrap_err();
        assert!(e.contains("holds no hammer data"), "{e}");
        f.write_all_at(&keep, at).unwrap();
        hammer_check(&f, &check).unwrap();
        // Claiming fewer rounds than the disk shows is refused.
        let e = hammer_check(&f, &HammerCheck { rounds_of: vec![(0, 20), (1, 2)], ..check.clone() }).unwrap_err();
        assert!(e.contains("finished only 2 rounds"), "{e}");
        // A sector moved elsewhere is caught.
        let mut sec = [0u8; SECTOR];
        f.read_exact_at(&mut sec, (64 << 10) + 10 * 512).unwrap();
        if classify(&sec, 5, 10) != Found::Other {
            f.write_all_at(&sec, (64 << 10) + 11 * 512).unwrap();
            assert!(hammer_check(&f, &check).unwrap_err().contains("sector 11"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_stop_handshake_keeps_the_early_node_writing_until_the_late_one_ends() {
        let (dir, f) = scratch_file("handshake");
        let slot = |node: u64| Slot { offset: (512 << 10) + node * 4096, seed: 77 + node };
        let args = |node: u64, secs| Hammer {
            device: String::new(),
            seed: 5,
            node,
            offset: 0,
            size: 256 << 10,
            rounds: u64::MAX,
            duration: Some(secs),
            per_round: 8,
            threads: 1,
            post_at_end: Some(slot(node)),
            until_peer: Some(slot(1 - node)),
            peer_timeout: 30,
        };
        // Node 0's clock says stop at once, node 1's after 2 s: node 0 must go on until node 1
        // posted its end, and node 1 stops at its first look after its deadline.
        let (d0, d1) = std::thread::scope(|s| {
            let early = s.spawn(|| hammer(&f, &args(0, 0)).unwrap());
            let late = s.spawn(|| hammer(&f, &args(1, 2)).unwrap());
            (early.join().unwrap(), late.join().unwrap())
        });
        assert!(d0.secs >= 2.0 && d0.rounds > 1, "node 0 stopped early: {} rounds in {} s", d0.rounds, d0.secs);
        assert!(d1.secs < 2.0 + 10.0, "node 1 went on for {} s", d1.secs);
        // Alone, the peer's end never comes: an error after --peer-timeout, not a hang.
        f.write_all_at(&[0u8; 4096], slot(1).offset).unwrap();
        let e = hammer(&f, &Hammer { peer_timeout: 0, ..args(0, 0) }).err().expect("no peer");
        assert!(e.contains("did not end its hammer"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
