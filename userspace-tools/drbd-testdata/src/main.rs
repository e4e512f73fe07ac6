//! `drbd-testdata`: writes and verifies seeded, position-tagged data on a block device.
//!
//! Every 4 KiB block carries a header naming the seed and byte offset it was written for,
//! followed by a pseudo-random stream derived from both. A verifier can therefore tell a block
//! that was never written (zeros), one that landed at the wrong offset, one from another run
//! (seed), and a corrupted one apart. All I/O uses O_DIRECT so a read after a role switch comes
//! from the device, not from a page cache filled earlier.
//!
//! `write`, `verify` and `sum` print `sha256=<hex>` of the region they covered, so two nodes can
//! compare the same region by checksum.
//!
//! For the scenarios that kill a node mid-write: `stream` writes the same pattern from byte 0,
//! one O_DIRECT write at a time, and prints `ACKED <n>` once the first n writes have returned
//! (with protocol C a returned write is on both nodes); `count-valid` prints `VALID <m>`, the
//! number of leading write units that carry the pattern, so a survivor can show m >= n.
//! `net-send`/`net-recv` measure the TCP throughput of the link between two guests.
//!
//! For two Primaries: `hammer` writes conflicting ranges from both nodes at once and
//! `hammer-check` tells whose intact writes ended on the disk (src/hammer.rs).

mod hammer;

use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;
const MAGIC: &[u8; 8] = b"DRBDRSTD";
/// Bytes per I/O: large enough for throughput in a TCG guest, small enough to keep memory low.
const CHUNK: usize = 1 << 20;

#[derive(Parser)]
#[command(about = "Seeded, position-tagged test data for drbd-rs scenarios")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Region {
    /// Block device or file.
    device: String,
    /// Seed of the pattern; a different seed gives different data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Start of the region in bytes (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    offset: u64,
    /// Length of the region in bytes (suffixes K, M, G); a multiple of 4 KiB. Default: to the
    /// end of the device (for `sum`, a trailing part shorter than 4 KiB included).
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
}

/// Arguments of `stream`.
#[derive(clap::Args, Clone)]
struct Stream {
    /// Block device or file.
    device: String,
    /// Seed of the pattern.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bytes per write (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, default_value = "4096", value_parser = parse_size)]
    block: u64,
    /// Stop after this many writes (default: at the end of the device).
    #[arg(long)]
    max: Option<u64>,
    /// Print `ACKED <n>` after every K-th write (and after the last one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// After this many writes, print the --mark line once (e.g. a request to the host).
    #[arg(long, requires = "mark")]
    mark_at: Option<u64>,
    /// The line --mark-at prints.
    #[arg(long)]
    mark: Option<String>,
}

/// Arguments of `scatter`.
#[derive(clap::Args, Clone)]
struct Scatter {
    /// Block device or file.
    device: String,
    /// Seed of the pattern, and of the choice of blocks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Blocks of 4 KiB to write, each at a different place.
    #[arg(long)]
    count: u64,
    /// Size of the region the blocks are spread over, from byte 0 (suffixes K, M, G).
    #[arg(long, value_parser = parse_size)]
    span: u64,
}

/// Arguments of `count-valid`.
#[derive(clap::Args, Clone)]
struct CountValid {
    /// Block device or file.
    device: String,
    /// Seed of the pattern.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bytes per write unit `stream` used (suffixes K, M, G); a multiple of 4 KiB.
    #[arg(long, default_value = "4096", value_parser = parse_size)]
    block: u64,
    /// Look at no more than this many units.
    #[arg(long)]
    max: Option<u64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the pattern over the region, then fsync.
    Write(Region),
    /// Check every block of the region against the pattern; exit 1 on the first mismatch.
    Verify(Region),
    /// Print the sha256 of the region without checking it.
    Sum(Region),
    /// Write the pattern from byte 0, one O_DIRECT write of --block bytes at a time, printing
    /// `ACKED <n>` (flushed) once n writes have returned; ends with `stream done: ...`.
    Stream(Stream),
    /// Write --count distinct 4 KiB blocks chosen at random (seeded) over --span bytes, one
    /// O_DIRECT write each, then fsync; print `SCATTERED <count> blocks` and the sha256 of the
    /// blocks in offset order.
    Scatter(Scatter),
    /// Print `VALID <m>`: how many leading --block units carry the pattern (and what the first
    /// one that does not holds), then `sha256=` of those m units.
    CountValid(CountValid),
    /// Accept one TCP connection, read it to EOF, print `NET recv <bytes> bytes <secs> s <MB/s> MB/s`.
    NetRecv {
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0:5001")]
        listen: String,
    },
    /// Rounds of seeded O_DIRECT writes of 1..16 sectors and exact 4 KiB blocks over a region;
    /// two nodes with the same --seed and --node 0/1 write identical, partly overlapping and
    /// contained ranges at once. Prints `HAMMER node <n>: <r> rounds <w> writes ...`.
    Hammer(hammer::Hammer),
    /// Check every 512-byte sector of a hammered region: intact hammer data for its position,
    /// or not hammered; print `HAMMER-CHECK node0 <a> node1 <b> other <c>`; exit 1 on a bad one.
    HammerCheck(hammer::HammerCheck),
    /// Send --size bytes to ADDR (retrying the connect), wait for the receiver to close, print
    /// `NET send <bytes> bytes <secs> s <MB/s> MB/s`.
    NetSend {
        /// host:port of a `net-recv`.
        addr: String,
        /// Bytes to send (suffixes K, M, G).
        #[arg(long, default_value = "64M", value_parser = parse_size)]
        size: u64,
        /// Give up connecting after this many seconds.
        #[arg(long, default_value_t = 60)]
        connect_timeout: u64,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|e| format!("bad size {s:?}: {e}"))?;
    let v = n.checked_mul(mult).ok_or_else(|| format!("size {s:?} overflows"))?;
    if v % BLOCK as u64 != 0 {
        return Err(format!("{s} is not a multiple of 4 KiB"));
    }
    Ok(v)
}

/// A zeroed, 4 KiB-aligned buffer as O_DIRECT requires.
///
/// # Invariants
/// `ptr` points to an allocation of `len` bytes with `BLOCK` alignment, owned by this value.
struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Self {
        let layout = Layout::from_size_align(len, BLOCK).expect("valid layout");
        // SAFETY: `len` is non-zero (callers pass CHUNK or a block multiple > 0).
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        AlignedBuf { ptr, len }
    }
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: by the type invariant, `ptr` is valid for `len` bytes and uniquely owned.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this exact layout.
        unsafe { dealloc(self.ptr, Layout::from_size_align_unchecked(self.len, BLOCK)) }
    }
}

/// SplitMix64: a small, well-distributed generator; good enough to make every block unique.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `block` with the pattern for (`seed`, byte `offset`).
fn fill_block(block: &mut [u8], seed: u64, offset: u64) {
    block[0..8].copy_from_slice(MAGIC);
    block[8..16].copy_from_slice(&seed.to_le_bytes());
    block[16..24].copy_from_slice(&offset.to_le_bytes());
    let mut state = seed ^ offset.rotate_left(17) ^ 0x5eed;
    for word in block[24..].chunks_exact_mut(8) {
        word.copy_from_slice(&splitmix(&mut state).to_le_bytes());
    }
}

/// Describes what a mismatching block holds, for the error message.
fn describe(found: &[u8]) -> String {
    if found.iter().all(|&b| b == 0) {
        return "zeros (never written, or lost)".into();
    }
    if &found[0..8] == MAGIC {
        let seed = u64::from_le_bytes(found[8..16].try_into().unwrap());
        let off = u64::from_le_bytes(found[16..24].try_into().unwrap());
        return format!("a block written with seed {seed} for offset {off} (misplaced, stale or corrupted)");
    }
    "foreign data".into()
}

fn open(path: &str, write: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

fn run(cmd: Cmd) -> Result<(), String> {
    let (mode, r) = match cmd {
        Cmd::Write(r) => ("write", r),
        Cmd::Verify(r) => ("verify", r),
        Cmd::Sum(r) => ("sum", r),
        Cmd::Stream(a) => {
            let f = open(&a.device, true).map_err(|e| format!("{}: {e}", a.device))?;
            let size = device_size(&f)?;
            return stream(&f, size, &a, &mut std::io::stdout().lock());
        }
        Cmd::Scatter(a) => {
            let f = open(&a.device, true).map_err(|e| format!("{}: {e}", a.device))?;
            let blocks = scatter(&f, &a)?;
            println!("SCATTERED {blocks} blocks of 4096 bytes over {} bytes, seed {}", a.span, a.seed);
            return Ok(());
        }
        Cmd::CountValid(a) => {
            let f = open(&a.device, false).map_err(|e| format!("{}: {e}", a.device))?;
            let size = device_size(&f)?;
            let c = count_valid(&f, size, &a)?;
            println!("VALID {}", c.valid);
            if let Some(why) = c.first_invalid {
                println!("count-valid: unit {} is the first without the pattern: {why}", c.valid);
            }
            println!("count-valid ok: {} units of {} bytes seed {} sha256={}", c.valid, a.block, a.seed, c.sha256);
            return Ok(());
        }
        Cmd::Hammer(a) => {
            let f = open(&a.device, true).map_err(|e| format!("{}: {e}", a.device))?;
            let d = hammer::hammer(&f, &a)?;
            println!(
                "HAMMER node {}: {} rounds {} writes {} bytes in {:.1} s over {} bytes at {} seed {}",
                a.node, d.rounds, d.writes, d.bytes, d.secs, a.size, a.offset, a.seed
            );
            return Ok(());
        }
        Cmd::HammerCheck(a) => {
            let f = open(&a.device, false).map_err(|e| format!("{}: {e}", a.device))?;
            let c = hammer::hammer_check(&f, &a)?;
            println!("HAMMER-CHECK node0 {} node1 {} other {} sectors", c.per_node[0], c.per_node[1], c.other);
            for n in 0..2 {
                println!(
                    "HAMMER-CHECK node{n}: last round on disk {}, rounds checked {}, {} sectors hold its last write to them",
                    c.last_round[n].map_or("none".to_string(), |r| r.to_string()),
                    c.rounds_checked[n],
                    c.last_writes[n]
                );
            }
            return Ok(());
        }
        Cmd::NetRecv { listen } => {
            let (bytes, secs) = net_recv(&listen)?;
            println!("NET recv {bytes} bytes {secs:.3} s {:.1} MB/s", mb_per_s(bytes, secs));
            return Ok(());
        }
        Cmd::NetSend { addr, size, connect_timeout } => {
            let secs = net_send(&addr, size, Duration::from_secs(connect_timeout))?;
            println!("NET send {size} bytes {secs:.3} s {:.1} MB/s", mb_per_s(size, secs));
            return Ok(());
        }
    };
    let f = open(&r.device, mode == "write").map_err(|e| format!("{}: {e}", r.device))?;
    let size = match r.size {
        Some(s) => s,
        None => {
            let end = device_size(&f)?.checked_sub(r.offset).ok_or("--offset beyond the end of the device")?;
            if mode == "sum" { end - end % hammer::SECTOR as u64 } else { end - end % BLOCK as u64 }
        }
    };
    let mut buf = AlignedBuf::new(CHUNK);
    let mut expect = vec![0u8; BLOCK];
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    while done < size {
        let n = (size - done).min(CHUNK as u64) as usize;
        let pos = r.offset + done;
        let data = &mut buf.as_mut()[..n];
        if mode == "write" {
            for (i, block) in data.chunks_exact_mut(BLOCK).enumerate() {
                fill_block(block, r.seed, pos + (i * BLOCK) as u64);
            }
            f.write_all_at(data, pos).map_err(|e| format!("write at {pos}: {e}"))?;
        } else {
            f.read_exact_at(data, pos).map_err(|e| format!("read at {pos}: {e}"))?;
            if mode == "verify" {
                for (i, block) in data.chunks_exact(BLOCK).enumerate() {
                    let at = pos + (i * BLOCK) as u64;
                    fill_block(&mut expect, r.seed, at);
                    if block != expect.as_slice() {
                        return Err(format!(
                            "mismatch at byte offset {at} (block {}): found {}",
                            at / BLOCK as u64,
                            describe(block)
                        ));
                    }
                }
            }
        }
        hasher.update(&data[..]);
        done += n as u64;
    }
    if mode == "write" {
        f.sync_all().map_err(|e| format!("fsync: {e}"))?;
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("{mode} ok: {size} bytes at {} seed {} sha256={hex}", r.offset, r.seed);
    Ok(())
}

/// `scatter`: distinct random 4 KiB blocks over the first `a.span` bytes of `f`, each written
/// with the pattern for its offset; returns how many were written.
fn scatter(f: &File, a: &Scatter) -> Result<u64, String> {
    let slots = a.span / BLOCK as u64;
    if a.count > slots {
        return Err(format!("--count {} exceeds the {slots} blocks of --span", a.count));
    }
    let mut chosen = std::collections::BTreeSet::new();
    let mut state = a.seed ^ 0x5ca7_7e12;
    while (chosen.len() as u64) < a.count {
        chosen.insert(splitmix(&mut state) % slots);
    }
    let mut buf = AlignedBuf::new(BLOCK);
    for &b in &chosen {
        let pos = b * BLOCK as u64;
        fill_block(buf.as_mut(), a.seed, pos);
        f.write_all_at(buf.as_mut(), pos).map_err(|e| format!("write at {pos}: {e}"))?;
    }
    f.sync_all().map_err(|e| format!("fsync: {e}"))?;
    Ok(chosen.len() as u64)
}

/// Size in bytes of a block device or file (seeking to the end works for both).
fn device_size(mut f: &File) -> Result<u64, String> {
    f.seek(SeekFrom::End(0)).map_err(|e| format!("size: {e}"))
}

fn check_unit(block: u64) -> Result<usize, String> {
    if block == 0 || !block.is_multiple_of(BLOCK as u64) || block > 64 << 20 {
        return Err(format!("--block {block} is not a multiple of 4 KiB up to 64 MiB"));
    }
    Ok(block as usize)
}

/// Fills a write unit that starts at byte `pos` with the pattern, 4 KiB block by block.
fn fill_unit(unit: &mut [u8], seed: u64, pos: u64) {
    for (i, b) in unit.chunks_exact_mut(BLOCK).enumerate() {
        fill_block(b, seed, pos + (i * BLOCK) as u64);
    }
}

/// `stream`: sequential writes of one unit each from byte 0 of `f` (`size` bytes long); every
/// returned write is counted and reported on `out` as `ACKED <n>`, flushed at once.
fn stream(f: &File, size: u64, a: &Stream, out: &mut dyn Write) -> Result<(), String> {
    let unit = check_unit(a.block)?;
    let total = (size / a.block).min(a.max.unwrap_or(u64::MAX));
    let mut buf = AlignedBuf::new(unit);
    let say = |out: &mut dyn Write, line: &str| -> Result<(), String> {
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))
    };
    let mut n = 0u64;
    while n < total {
        let pos = n * a.block;
        fill_unit(buf.as_mut(), a.seed, pos);
        f.write_all_at(buf.as_mut(), pos).map_err(|e| format!("write {n} at byte {pos}: {e} (ACKED {n})"))?;
        n += 1;
        if n.is_multiple_of(a.every) || n == total {
            say(out, &format!("ACKED {n}"))?;
        }
        if a.mark_at == Some(n) {
            say(out, a.mark.as_deref().unwrap_or_default())?;
        }
    }
    say(out, &format!("stream done: {n} writes of {} bytes seed {}", a.block, a.seed))
}

/// What `count_valid` found.
struct Counted {
    /// Leading units that carry the pattern.
    valid: u64,
    /// What the first unit without the pattern holds, unless the region ended first.
    first_invalid: Option<String>,
    /// sha256 of the `valid` units, as `sum --size valid*block` would print it.
    sha256: String,
}

/// `count-valid`: counts the leading units of `f` (`size` bytes) that carry the pattern.
fn count_valid(f: &File, size: u64, a: &CountValid) -> Result<Counted, String> {
    let unit = check_unit(a.block)?;
    let total = (size / a.block).min(a.max.unwrap_or(u64::MAX));
    // Read several units at a time, as many as fit in a chunk.
    let per_read = (CHUNK / unit).max(1);
    let mut buf = AlignedBuf::new(per_read * unit);
    let mut expect = vec![0u8; BLOCK];
    let mut hasher = Sha256::new();
    let mut valid = 0u64;
    let mut first_invalid = None;
    'outer: while valid < total {
        let units = (total - valid).min(per_read as u64) as usize;
        let pos = valid * a.block;
        let data = &mut buf.as_mut()[..units * unit];
        f.read_exact_at(data, pos).map_err(|e| format!("read at {pos}: {e}"))?;
        for (u, chunk) in data.chunks_exact(unit).enumerate() {
            let upos = pos + (u * unit) as u64;
            for (i, b) in chunk.chunks_exact(BLOCK).enumerate() {
                fill_block(&mut expect, a.seed, upos + (i * BLOCK) as u64);
                if b != expect.as_slice() {
                    first_invalid = Some(describe(b));
                    break 'outer;
                }
            }
            hasher.update(chunk);
            valid += 1;
        }
    }
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Counted { valid, first_invalid, sha256 })
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs.max(1e-9) / 1e6
}

/// `net-recv`: one connection, read to EOF, then close; returns (bytes, seconds from accept).
fn net_recv(listen: &str) -> Result<(u64, f64), String> {
    let l = TcpListener::bind(listen).map_err(|e| format!("listen {listen}: {e}"))?;
    let (mut s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    let start = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    Ok((bytes, start.elapsed().as_secs_f64()))
}

/// `net-send`: `size` bytes, then half-close and wait for the receiver's close, so the time
/// covers delivery; returns seconds from connect.
fn net_send(addr: &str, size: u64, connect_timeout: Duration) -> Result<f64, String> {
    let deadline = Instant::now() + connect_timeout;
    let mut s = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => return Err(format!("connect {addr}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let start = Instant::now();
    let buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&buf[..n]).map_err(|e| format!("send: {e}"))?;
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write).map_err(|e| format!("shutdown: {e}"))?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).map_err(|e| format!("waiting for the receiver: {e}"))?;
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drbd-testdata: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_differ_by_offset_and_seed() {
        let (mut a, mut b, mut c) = (vec![0; BLOCK], vec![0; BLOCK], vec![0; BLOCK]);
        fill_block(&mut a, 1, 0);
        fill_block(&mut b, 1, 4096);
        fill_block(&mut c, 2, 0);
        assert_ne!(a[24..], b[24..]);
        assert_ne!(a[24..], c[24..]);
        assert!(describe(&b).contains("offset 4096"));
        assert!(describe(&vec![0; BLOCK]).starts_with("zeros"));
    }

    #[test]
    fn write_then_verify_a_file_and_catch_a_flipped_byte() {
        let dir = std::env::temp_dir().join(format!("drbd-testdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        std::fs::write(&path, vec![0u8; 64 * 1024]).unwrap();
        let p = path.to_str().unwrap().to_string();
        let region = |seed| Region { device: p.clone(), seed, offset: 8192, size: Some(32768) };
        // tmpfs may refuse O_DIRECT; the scenario devices never do, so skip rather than fail.
        if open(&p, true).is_err() {
            return;
        }
        run(Cmd::Write(region(7))).unwrap();
        run(Cmd::Verify(region(7))).unwrap();
        assert!(run(Cmd::Verify(region(8))).unwrap_err().contains("seed 7"));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8192 + 3 * BLOCK + 100] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = run(Cmd::Verify(region(7))).unwrap_err();
        assert!(err.contains("block 5"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A scratch file of `len` zero bytes, opened read-write without O_DIRECT (so any
    /// filesystem works); removed on drop.
    struct Scratch(std::path::PathBuf, File);
    impl Scratch {
        fn new(name: &str, len: u64) -> Self {
            let dir = std::env::temp_dir().join(format!("drbd-testdata-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("img");
            let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
            f.set_len(len).unwrap();
            Scratch(dir, f)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn stream_args(block: u64, max: Option<u64>, every: u64) -> Stream {
        Stream { device: String::new(), seed: 9, block, max, every, mark_at: None, mark: None }
    }

    fn count_args(block: u64) -> CountValid {
        CountValid { device: String::new(), seed: 9, block, max: None }
    }

    #[test]
    fn stream_reports_every_write_and_count_valid_finds_them() {
        let s = Scratch::new("stream", 64 * 1024);
        let mut a = stream_args(4096, Some(5), 1);
        a.mark_at = Some(3);
        a.mark = Some("DRBDRS-KILL-ME".into());
        let mut out = Vec::new();
        stream(&s.1, 64 * 1024, &a, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "ACKED 1\nACKED 2\nACKED 3\nDRBDRS-KILL-ME\nACKED 4\nACKED 5\nstream done: 5 writes of 4096 bytes seed 9\n"
        );
        let c = count_valid(&s.1, 64 * 1024, &count_args(4096)).unwrap();
        assert_eq!(c.valid, 5);
        assert!(c.first_invalid.unwrap().starts_with("zeros"));
        // The same bytes `write` lays down, so `sum` of the region gives the same checksum.
        let mut region = vec![0u8; 5 * BLOCK];
        fill_unit(&mut region, 9, 0);
        let want: String = Sha256::digest(&region).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(c.sha256, want);
        // Another seed matches nothing.
        let mut other = count_args(4096);
        other.seed = 10;
        let c = count_valid(&s.1, 64 * 1024, &other).unwrap();
        assert_eq!(c.valid, 0);
        assert!(c.first_invalid.unwrap().contains("seed 9"));
    }

    #[test]
    fn stream_stops_at_the_end_and_prints_the_last_count() {
        let s = Scratch::new("end", 10 * 8192 + 4096);
        let mut out = Vec::new();
        stream(&s.1, 10 * 8192 + 4096, &stream_args(8192, None, 4), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "ACKED 4\nACKED 8\nACKED 10\nstream done: 10 writes of 8192 bytes seed 9\n");
        let c = count_valid(&s.1, 10 * 8192 + 4096, &count_args(8192)).unwrap();
        assert_eq!((c.valid, c.first_invalid), (10, None));
    }

    #[test]
    fn count_valid_stops_at_a_damaged_unit() {
        let s = Scratch::new("damage", 4 << 20);
        stream(&s.1, 4 << 20, &stream_args(4096, Some(700), 100), &mut Vec::new()).unwrap();
        // Flip one byte in the second 4 KiB block of unit 300 (8 KiB units: unit 150).
        s.1.write_all_at(&[0xff], 300 * 4096 + 4096 + 77).unwrap();
        assert_eq!(count_valid(&s.1, 4 << 20, &count_args(4096)).unwrap().valid, 301);
        let c = count_valid(&s.1, 4 << 20, &count_args(8192)).unwrap();
        assert_eq!(c.valid, 150);
        assert!(c.first_invalid.unwrap().contains("seed 9 for offset"));
        let mut capped = count_args(4096);
        capped.max = Some(20);
        assert_eq!(count_valid(&s.1, 4 << 20, &capped).unwrap().valid, 20);
    }

    #[test]
    fn stream_rejects_a_bad_unit() {
        let s = Scratch::new("unit", 8192);
        assert!(stream(&s.1, 8192, &stream_args(1000, None, 1), &mut Vec::new()).is_err());
        assert!(count_valid(&s.1, 8192, &count_args(0)).is_err());
    }

    #[test]
    fn net_send_and_recv_over_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let listen = addr.clone();
        let recv = std::thread::spawn(move || net_recv(&listen).unwrap());
        let secs = net_send(&addr, 3 << 20, Duration::from_secs(10)).unwrap();
        let (bytes, _) = recv.join().unwrap();
        assert_eq!(bytes, 3 << 20);
        assert!(secs > 0.0);
        assert!(mb_per_s(2_000_000, 2.0) == 1.0);
    }

    #[test]
    fn sizes_parse_with_suffixes_and_alignment() {
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert!(parse_size("100").is_err());
        assert!(parse_size("x").is_err());
    }
}
