//! What the machine must offer, checked before attaching (and listed by
//! `tracer doctor`), and the per-target lock that keeps two tracers off one
//! process.
use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Seek, Write},
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use crate::{error::UserError, tracee::Target};

pub const UPROBE_PMU: &str = "/sys/bus/event_source/devices/uprobe/type";
pub const TRACEFS_UPROBES: &str = "/sys/kernel/tracing/uprobe_events";
pub const BTF: &str = "/sys/kernel/btf/vmlinux";

/// Uprobes can be created: through the perf PMU (what aya uses first) or,
/// failing that, through tracefs.
pub fn check_uprobes() -> Result<(), UserError> {
    if Path::new(UPROBE_PMU).exists() || Path::new(TRACEFS_UPROBES).exists() {
        return Ok(());
    }
    Err(UserError::Kernel(
        "this kernel offers no uprobes (no uprobe PMU, tracefs not mounted): mount it with `mount -t tracefs tracefs /sys/kernel/tracing`, or use a kernel with CONFIG_UPROBE_EVENTS".into(),
    ))
}

/// Kernel release as (major, minor), from uname.
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut it = release.trim().split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Attach cookies (the probes' per-point settings) need Linux 5.15.
pub fn check_kernel() -> Result<(), UserError> {
    match kernel_version() {
        Some(v) if v >= (5, 15) => Ok(()),
        Some((a, b)) => Err(UserError::Kernel(format!(
            "Linux {a}.{b} is too old: tracer needs 5.15 or newer (BPF attach cookies)"
        ))),
        None => Ok(()),
    }
}

/// Held for the whole session; the kernel drops the flock when the tracer
/// exits, even on SIGKILL, so a stale file never blocks anyone.
pub struct TargetLock {
    _file: File,
    pub path: PathBuf,
}

fn lock_dir() -> PathBuf {
    let run = Path::new("/run");
    if run.is_dir() {
        run.join("tracer")
    } else {
        std::env::temp_dir().join("tracer")
    }
}

impl TargetLock {
    pub fn acquire(target: &Target) -> Result<TargetLock, UserError> {
        let dir = lock_dir();
        let _ = fs::create_dir_all(&dir);
        let path = dir.join(format!("{}-{}.lock", target.pid, target.start_time));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| UserError::Permission(format!("cannot create {}: {e}", path.display())))?;
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(UserError::Busy(format!(
                "pid {} is already traced by tracer pid {}: stop that one first (two tracers would double the target's overhead)",
                target.pid,
                holder.trim()
            )));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(TargetLock { _file: file, path })
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
