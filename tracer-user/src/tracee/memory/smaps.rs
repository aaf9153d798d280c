//! `/proc/PID/smaps_rollup` (Linux 4.14+): the sums of `/proc/PID/smaps`
//! over all mappings, computed by the kernel in one pass (cheap enough to
//! poll, unlike walking `smaps`).

use std::io;

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
}
