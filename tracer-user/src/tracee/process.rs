//! The traced process: existence, identity (start time, against pid reuse),
//! its executable and where that executable is mapped (PIE load bias).
use std::{
    fs,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    path::PathBuf,
    sync::Arc,
};

use crate::error::UserError;

#[derive(Debug, Clone)]
pub struct Target {
    pub pid: u32,
    /// The executable as the target sees it (`readlink /proc/PID/exe`).
    pub exe: String,
    /// A path to the same file from the tracer's mount namespace.
    pub exe_path: PathBuf,
    /// Clock ticks since boot at process start (`/proc/PID/stat` field 22).
    pub start_time: u64,
    /// The process's CPU clock (all its threads, to the ns), if the kernel
    /// gives one: resolved once, read at every poll.
    cpu_clock: Option<libc::clockid_t>,
    /// A pidfd of the process (opened after its start time was read and
    /// checked against it): polled, it says without a `/proc` read whether
    /// the process ended. `None` where the kernel has none.
    pidfd: Option<Arc<OwnedFd>>,
}

impl Target {
    pub fn open(pid: u32) -> Result<Target, UserError> {
        if pid == 0 {
            return Err(UserError::NoSuchProcess(pid));
        }
        let start_time = start_time(pid).ok_or(UserError::NoSuchProcess(pid))?;
        let link = format!("/proc/{pid}/exe");
        let exe = match fs::read_link(&link) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(UserError::Permission(format!("cannot read {link}")))
            }
            Err(_) => {
                return Err(UserError::NotGo {
                    pid,
                    exe: "?".into(),
                    why: "it has no executable (kernel thread or exited)".into(),
                })
            }
        };
        // The pidfd names the process we read the start time of only if
        // that start time is still the pid's once it is open.
        let pidfd = pidfd_open(pid)
            .filter(|_| self::start_time(pid) == Some(start_time))
            .map(Arc::new);
        // /proc/PID/exe opens the very file the process runs, even when it
        // lives in another mount namespace or was replaced on disk.
        Ok(Target {
            pid,
            exe,
            exe_path: PathBuf::from(link),
            start_time,
            cpu_clock: cpu_clock(pid),
            pidfd,
        })
    }

    /// True while the same process (not a reused pid) is alive.
    pub fn alive(&self) -> bool {
        match &self.pidfd {
            Some(fd) => !pidfd_readable(fd),
            None => start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid),
        }
    }

    /// Runtime address minus link-time address of the executable's text.
    /// Zero for position-dependent executables.
    pub fn load_bias(&self, first_load_vaddr: u64, is_pie: bool) -> Result<u64, UserError> {
        if !is_pie {
            return Ok(0);
        }
        let meta = fs::metadata(&self.exe_path).map_err(|_| UserError::NoSuchProcess(self.pid))?;
        let maps = fs::read_to_string(format!("/proc/{}/maps", self.pid))
            .map_err(|_| UserError::NoSuchProcess(self.pid))?;
        exe_base(&maps, meta.ino())
            .map(|base| base.wrapping_sub(first_load_vaddr & !0xfff))
            .ok_or_else(|| {
                UserError::Unsupported(format!(
                    "cannot find {} in /proc/{}/maps",
                    self.exe, self.pid
                ))
            })
    }

    /// Total CPU time (user + system) of the process, in nanoseconds.
    pub fn cpu_time_ns(&self) -> Option<u64> {
        self.cpu_clock
            .and_then(clock_ns)
            .or_else(|| self.stat_cpu_time_ns())
    }

    /// CPU time from /proc/PID/stat, in clock ticks (10 ms here).
    fn stat_cpu_time_ns(&self) -> Option<u64> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let fields = stat_fields(&stat)?;
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Some(ticks * 1_000_000_000 / hz)
    }
}

/// The CPU clock of process `pid` (all its threads, to the ns): precise
/// enough to measure a window of tens of ms on the target.
fn cpu_clock(pid: u32) -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: a plain out-parameter call on a valid pointer.
    let ok = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) } == 0;
    ok.then_some(clock)
}

/// A clock's time now, ns (`None` once its process is gone).
fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain out-parameter call on a valid pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Fields of /proc/PID/stat after the `(comm)` field, which may hold spaces.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

/// A variable of the environment the process started with
/// (`/proc/PID/environ`; later `setenv`s are not in it).
pub fn start_env(pid: u32, key: &str) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|kv| {
        let v = kv.strip_prefix(key.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(v).into_owned())
    })
}

/// A pidfd of `pid` (`None` where the kernel has no `pidfd_open`).
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: `fd` was just returned to us and is owned by no one else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pidfd polls readable once its process has ended (a zombie too).
fn pidfd_readable(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents != 0
}

/// `/proc/PID/stat` field 22: clock ticks since boot at process start.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After ")": state is field 3, starttime field 22 → index 19.
    stat_fields(&stat)?.get(19)?.parse().ok()
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_fields(&s).and_then(|f| f.first().map(|st| *st == "Z" || *st == "X")))
        .unwrap_or(true)
}

/// Start of the lowest mapping of the file with inode `ino` at file offset 0.
fn exe_base(maps: &str, ino: u64) -> Option<u64> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let _perms = f.next()?;
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let _dev = f.next()?;
            let inode: u64 = f.next()?.parse().ok()?;
            let start = u64::from_str_radix(range.split('-').next()?, 16).ok()?;
            (inode == ino && offset == 0).then_some(start)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_base_of_the_right_inode() {
        let maps = "\
555555554000-555555556000 r--p 00000000 fe:01 42 /bin/x
555555556000-555555590000 r-xp 00002000 fe:01 42 /bin/x
7ffff7dd0000-7ffff7df0000 r--p 00000000 fe:01 77 /lib/ld.so
";
        assert_eq!(exe_base(maps, 42), Some(0x555555554000));
        assert_eq!(exe_base(maps, 77), Some(0x7ffff7dd0000));
        assert_eq!(exe_base(maps, 9), None);
    }

    #[test]
    fn stat_with_spaces_in_comm() {
        let stat = "123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 999 20";
        let f = stat_fields(stat).unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[19], "999");
    }

    #[test]
    fn this_process_is_found() {
        let t = Target::open(std::process::id()).unwrap();
        assert!(t.alive());
        assert!(t.start_time > 0);
        assert!(Target::open(0).is_err());
    }
}
