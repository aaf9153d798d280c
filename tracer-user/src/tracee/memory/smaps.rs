//! `/proc/PID/smaps_rollup` (Linux 4.14+): the sums of `/proc/PID/smaps`
//! over all mappings, computed by the kernel in one pass. That pass walks
//! every page table entry of the process under its mmap lock: ~33 ms for a
//! Go program with 4 GiB resident (measured here), so a session reads it
//! through [`RollupPacer`].

use std::io;
use std::time::{Duration, Instant};

use crate::cputime::thread_cpu_time;

/// Totals of a process's mappings, in bytes. A field the running kernel
/// does not print (e.g. `Pss_Anon` before 5.10) is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SmapsRollup {
    /// Resident set size: every page mapped and present, shared or not.
    pub rss: u64,
    /// Proportional set size (shared pages divided among their users).
    pub pss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    /// Anonymous (not file-backed) resident memory: the Go heap lives here.
    pub anonymous: u64,
    /// Anonymous pages released with MADV_FREE that the kernel has not
    /// reclaimed yet. Still in `rss` until memory pressure takes them.
    pub lazy_free: u64,
    pub anon_huge_pages: u64,
    pub swap: u64,
    pub swap_pss: u64,
    pub locked: u64,
}

/// Reads `/proc/PID/smaps_rollup`. Errors: process gone (`NotFound`),
/// not allowed (`PermissionDenied`: needs ptrace-read access), or a file
/// without an `Rss:` line (`InvalidData`).
pub fn read_smaps_rollup(pid: u32) -> io::Result<SmapsRollup> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    parse_smaps_rollup(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/smaps_rollup has no Rss line"),
        )
    })
}

/// Reads `smaps_rollup` at most once a [`RollupPacer::MIN_GAP`] and, for a
/// process whose page tables take long to walk (over
/// [`RollupPacer::CHEAP`]), seldom enough that the walks take at most
/// [`RollupPacer::DUTY`] of a CPU: 33 ms walks, every 6.6 s.
#[derive(Debug, Default)]
pub struct RollupPacer {
    next: Option<Instant>,
    /// How long the last walk took.
    took: Option<Duration>,
}

impl RollupPacer {
    pub const MIN_GAP: Duration = Duration::from_millis(900);
    pub const DUTY: f64 = 0.005;
    pub const CHEAP: Duration = Duration::from_millis(10);

    /// The rollup now, or `None` when it is not due yet (or unreadable).
    pub fn read(&mut self, pid: u32) -> Option<SmapsRollup> {
        let start = Instant::now();
        if self.next.is_some_and(|n| start < n) {
            return None;
        }
        let (r, took) = self.walk(pid);
        self.next = Some(start + Self::gap(took));
        r
    }

    /// The rollup now if a walk is cheap (under [`Self::CHEAP`] last time,
    /// as for most processes), whether or not one is due; else `None`.
    pub fn read_if_cheap(&mut self, pid: u32) -> Option<SmapsRollup> {
        if self.took.is_some_and(|t| t >= Self::CHEAP) {
            return None;
        }
        self.walk(pid).0
    }

    /// One walk, timed in this thread's CPU time (kept for the next
    /// decision): at idle priority a walk's wall time counts the waits
    /// behind the target too, and the kernel lets go of the target's memory
    /// map whenever a writer waits for it during the walk.
    fn walk(&mut self, pid: u32) -> (Option<SmapsRollup>, Duration) {
        let start = thread_cpu_time();
        let r = read_smaps_rollup(pid).ok();
        let took = thread_cpu_time().saturating_sub(start);
        self.took = Some(took);
        (r, took)
    }

    /// Time from one walk's start to the next for a walk that took `took`:
    /// walks under [`Self::CHEAP`] (a process of up to ~1 GiB resident
    /// here) every [`Self::MIN_GAP`], longer ones at [`Self::DUTY`].
    fn gap(took: Duration) -> Duration {
        if took < Self::CHEAP {
            Self::MIN_GAP
        } else {
            Self::MIN_GAP.max(took.div_f64(Self::DUTY))
        }
    }
}

/// Parses the text of `smaps_rollup` (the first line is the `[rollup]`
/// pseudo-mapping and is skipped like any line that is not `Key: N kB`).
/// `None` if there is no `Rss:` line, which every kernel prints.
pub fn parse_smaps_rollup(text: &str) -> Option<SmapsRollup> {
    let mut r = SmapsRollup::default();
    let mut saw_rss = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (Some(n), Some("kB")) = (f.next().and_then(|n| n.parse::<u64>().ok()), f.next()) else {
            continue;
        };
        let bytes = n.saturating_mul(1024);
        let slot = match key {
            "Rss" => {
                saw_rss = true;
                &mut r.rss
            }
            "Pss" => &mut r.pss,
            "Pss_Anon" => &mut r.pss_anon,
            "Pss_File" => &mut r.pss_file,
            "Shared_Clean" => &mut r.shared_clean,
            "Shared_Dirty" => &mut r.shared_dirty,
            "Private_Clean" => &mut r.private_clean,
            "Private_Dirty" => &mut r.private_dirty,
            "Anonymous" => &mut r.anonymous,
            "LazyFree" => &mut r.lazy_free,
            "AnonHugePages" => &mut r.anon_huge_pages,
            "Swap" => &mut r.swap,
            "SwapPss" => &mut r.swap_pss,
            "Locked" => &mut r.locked,
            _ => continue,
        };
        *slot = bytes;
    }
    saw_rss.then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
558211eeb000-7ffc1feb2000 ---p 00000000 00:00 0                          [rollup]
Rss:              301672 kB
Pss:              300348 kB
Pss_Dirty:        300116 kB
Pss_Anon:         300116 kB
Pss_File:            232 kB
Pss_Shmem:             0 kB
Shared_Clean:       1516 kB
Shared_Dirty:          0 kB
Private_Clean:        40 kB
Private_Dirty:    300116 kB
Referenced:       301672 kB
Anonymous:        300116 kB
KSM:                   0 kB
LazyFree:         262144 kB
AnonHugePages:      2048 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                 12 kB
SwapPss:              10 kB
Locked:                0 kB
";

    #[test]
    fn parses_fixture() {
        let r = parse_smaps_rollup(FIXTURE).unwrap();
        assert_eq!(r.rss, 301_672 * 1024);
        assert_eq!(r.pss, 300_348 * 1024);
        assert_eq!(r.pss_anon, 300_116 * 1024);
        assert_eq!(r.pss_file, 232 * 1024);
        assert_eq!(r.shared_clean, 1516 * 1024);
        assert_eq!(r.private_clean, 40 * 1024);
        assert_eq!(r.private_dirty, 300_116 * 1024);
        assert_eq!(r.anonymous, 300_116 * 1024);
        assert_eq!(r.lazy_free, 256 << 20);
        assert_eq!(r.anon_huge_pages, 2 << 20);
        assert_eq!(r.swap, 12 * 1024);
        assert_eq!(r.swap_pss, 10 * 1024);
    }

    #[test]
    fn old_kernels_and_garbage() {
        // 4.14 has no Pss_Anon/Pss_File: those stay 0.
        let r = parse_smaps_rollup("Rss: 8 kB\nLazyFree: 4 kB\n").unwrap();
        assert_eq!((r.rss, r.lazy_free, r.pss_anon), (8192, 4096, 0));
        assert_eq!(parse_smaps_rollup(""), None);
        assert_eq!(parse_smaps_rollup("Pss: 1 kB\n"), None);
        assert_eq!(parse_smaps_rollup("Rss: x kB\nRss:\nRss: 5 MB\n"), None);
        let huge = parse_smaps_rollup("Rss: 18446744073709551615 kB\n").unwrap();
        assert_eq!(huge.rss, u64::MAX);
    }

    #[test]
    fn reads_this_process() {
        let r = read_smaps_rollup(std::process::id()).unwrap();
        assert!(
            r.rss > 0 && r.anonymous > 0 && r.anonymous <= r.rss,
            "{r:?}"
        );
        assert!(r.pss <= r.rss, "{r:?}");
        let e = read_smaps_rollup(i32::MAX as u32).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn the_pacer_spaces_walks_by_their_cost() {
        let pid = std::process::id();
        let mut p = RollupPacer::default();
        assert!(p.read(pid).is_some());
        // Not again within the minimum gap; a cheap walk still is.
        assert!(p.read(pid).is_none());
        assert!(p.read_if_cheap(pid).is_some());
        // A walk that took 40 ms: the next one 8 s later, none on demand.
        assert_eq!(
            RollupPacer::gap(Duration::from_millis(40)),
            Duration::from_secs(8)
        );
        assert_eq!(
            RollupPacer::gap(Duration::from_micros(300)),
            RollupPacer::MIN_GAP
        );
        p.took = Some(Duration::from_millis(40));
        assert!(p.read_if_cheap(pid).is_none());
    }
}
