//! Thin wrappers over the few libc calls drbdsetup's behaviour depends on.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// `strerror(errno)`, without Rust's " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a NUL-terminated string owned by libc.
    unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// The text `%m` prints for an io::Error.
pub fn errtext(e: &std::io::Error) -> String {
    strerror(e.raw_os_error().unwrap_or(libc::EIO))
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// `LANANA_DRBD_MAJOR`.
pub const DRBD_MAJOR: u32 = 147;

/// `dt_minor_of_dev`: `N` and `/dev/drbdN` name minor N; another path names the minor of the
/// DRBD block device it is. Returns the C `int` result reinterpreted as `unsigned`, so
/// `u32::MAX` means "cannot determine".
pub fn minor_of_dev(device: &str) -> u32 {
    let only_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let digits = if only_digits(device) {
        device
    } else if let Some(d) = device.strip_prefix("/dev/drbd").filter(|d| only_digits(d)) {
        d
    } else {
        return match std::fs::metadata(device) {
            Ok(m) if m.file_type().is_block_device() && libc::major(m.rdev()) == DRBD_MAJOR => {
                libc::minor(m.rdev())
            }
            _ => u32::MAX,
        };
    };
    match crate::num::strtol_digits(digits) {
        Some(m) => m as i32 as u32,
        None => u32::MAX,
    }
}

/// `dt_lock_drbd`: an fcntl write lock on `/var/lock/drbd-147-<minor>`, waiting up to one
/// second. On failure returns drbdsetup's message (it then exits 20).
pub fn lock_drbd(minor: u32) -> Result<RawFd, String> {
    let path = format!("/var/lock/drbd-{DRBD_MAJOR}-{}", minor as i32);
    let c = CString::new(path.clone()).map_err(|_| format!("open({path}): Invalid argument\n"))?;
    // SAFETY: open with a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("open({path}): {}\n", errtext(&e)));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: F_SETLK with a valid flock on our descriptor.
        if unsafe { libc::fcntl(fd, libc::F_SETLK, &fl) } == 0 {
            return Ok(fd);
        }
        let e = std::io::Error::last_os_error();
        let errno = e.raw_os_error().unwrap_or(0);
        if errno != libc::EAGAIN && errno != libc::EACCES && errno != libc::EINTR {
            // SAFETY: closing our own descriptor.
            unsafe { libc::close(fd) };
            return Err(format!("fcntl({path},...): {}\n", errtext(&e)));
        }
        if std::time::Instant::now() >= deadline {
            let mut q: libc::flock = unsafe { std::mem::zeroed() };
            q.l_type = libc::F_WRLCK as libc::c_short;
            // SAFETY: F_GETLK with a valid flock.
            let msg = if unsafe { libc::fcntl(fd, libc::F_GETLK, &mut q) } == 0 {
                format!("lock on {path} currently held by pid:{}\n", q.l_pid)
            } else {
                String::new()
            };
            // SAFETY: closing our own descriptor.
            unsafe { libc::close(fd) };
            return Err(msg);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// What `conv_block_dev` checks of a device argument: it opens read-write and must be a block
/// device. Returns drbdsetup's message on failure.
pub fn check_block_dev(path: &str) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("Can not open device '{path}': {}\n", errtext(&e)))?;
    let m = f
        .metadata()
        .map_err(|e| format!("fstat({path}) failed: {}\n", errtext(&e)))?;
    if !m.file_type().is_block_device() {
        return Err(format!("{path} is not a block device!\n"));
    }
    Ok(())
}

/// `bdev_size`: the size in bytes of an open block device.
pub fn bdev_size(f: &std::fs::File) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut size: u64 = 0;
    // BLKGETSIZE64 = _IOR(0x12, 114, size_t)
    const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
    // SAFETY: the ioctl writes one u64.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64, &mut size) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(size)
}

/// `localtime` of now, formatted as `drbdsetup events2 --timestamps` does.
pub fn timestamp_now() -> String {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: gettimeofday fills tv; localtime_r fills tm.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        libc::gettimeofday(&mut tv, std::ptr::null_mut());
        libc::localtime_r(&tv.tv_sec, &mut tm);
    }
    format_timestamp(&tm, tv.tv_usec as u32)
}

pub fn format_timestamp(tm: &libc::tm, usec: u32) -> String {
    let off = tm.tm_gmtoff;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{:+03}:{:02} ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        usec,
        (off / 3600) as i32,
        ((off.abs() / 60) % 60) as i32
    )
}

/// `system("/sbin/modprobe drbd")` and the wait for /proc/drbd that `modprobe_drbd` does;
/// returns whether /proc/drbd exists, printing drbdsetup's complaint if not.
pub fn modprobe_drbd() -> bool {
    let proc_drbd = std::path::Path::new("/proc/drbd");
    let mut res = std::fs::metadata(proc_drbd);
    if matches!(&res, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        use std::os::unix::process::CommandExt;
        let ok = std::process::Command::new("/bin/sh")
            .arg0("sh")
            .arg("-c")
            .arg("/sbin/modprobe drbd")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            for _ in 0..=10 {
                res = std::fs::metadata(proc_drbd);
                if res.is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
    match res {
        Ok(_) => true,
        Err(e) => {
            eprint!(
                "Could not stat /proc/drbd: {}\nMake sure that the DRBD kernel module is installed and can be loaded!\n",
                errtext(&e)
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_numbers() {
        assert_eq!(minor_of_dev("0"), 0);
        assert_eq!(minor_of_dev("17"), 17);
        assert_eq!(minor_of_dev("/dev/drbd3"), 3);
        assert_eq!(minor_of_dev("r0"), u32::MAX);
        assert_eq!(minor_of_dev("/nonexistent/drbd"), u32::MAX);
        // C returns a long through an int.
        assert_eq!(minor_of_dev("4294967296"), 0);
        assert_eq!(minor_of_dev("4294967295"), u32::MAX);
        assert_eq!(minor_of_dev("99999999999999999999"), u32::MAX);
        assert_eq!(minor_of_dev("/dev/null"), u32::MAX);
    }

    #[test]
    fn block_device_checks() {
        assert_eq!(
            check_block_dev("/nonexistent"),
            Err("Can not open device '/nonexistent': No such file or directory\n".into())
        );
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
    }

    #[test]
    fn timestamp_format() {
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = 125;
        tm.tm_mon = 0;
        tm.tm_mday = 2;
        tm.tm_hour = 3;
        tm.tm_min = 4;
        tm.tm_sec = 5;
        tm.tm_gmtoff = -(5 * 3600 + 30 * 60);
        assert_eq!(
            format_timestamp(&tm, 42),
            "2025-01-02T03:04:05.000042-05:30 "
        );
    }
}
