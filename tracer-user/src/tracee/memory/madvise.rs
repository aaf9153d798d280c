//! The `madv_free_rss` finding: RSS that looks like a leak but is memory
//! the Go runtime already gave back with MADV_FREE.
//!
//! With MADV_FREE the kernel only marks pages reclaimable: they stay in the
//! process's RSS (as `LazyFree` in smaps) until memory pressure takes them.
//! Container limits, OOM-killer scoring of cgroup v1 and RSS dashboards see
//! them as used. Go defaults to MADV_DONTNEED since 1.16
//! (`GODEBUG=madvdontneed=1`), which drops RSS at once; MADV_FREE comes back
//! with `GODEBUG=madvdontneed=0`.

use super::smaps::SmapsRollup;

/// The advice the Go runtime returns heap memory with (`sysUnusedOS` on
/// Linux): MADV_DONTNEED unless `madvdontneed=0`. The runtime reads the
/// setting once at start, left to right, from the binary's compile-time
/// `DefaultGODEBUG` (a build-info setting, from `//go:debug` lines and the
/// `go.mod` language version) and then the `GODEBUG` environment variable:
/// the last `madvdontneed=` wins. `environ` is the process's starting
/// `GODEBUG` (`/proc/PID/environ`, what the runtime parsed).
pub fn release_advice(default_godebug: Option<&str>, environ: Option<&str>) -> &'static str {
    let mut dontneed = true;
    for field in [default_godebug, environ]
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(','))
    {
        if let Some(v) = field.trim().strip_prefix("madvdontneed=") {
            // The runtime's atoi: a value that is not a number leaves it.
            if let Ok(n) = v.parse::<i64>() {
                dontneed = n != 0;
            }
        }
    }
    if dontneed {
        "MADV_DONTNEED"
    } else {
        "MADV_FREE"
    }
}

/// Heap bytes the runtime returned to the OS, from its own heap statistics
/// read now and then: each decrease of `committed` counts. Only the
/// scavenger lowers it (by what it madvises) and reusing scavenged pages
/// raises it again. `HeapReleased` is not the measure: it also rises when
/// the heap grows into fresh address space that was never in use. What is
/// released and reused between two readings is not seen, so under churn
/// this is a lower bound (the default mode reads every 25 ms).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReleaseCounter {
    last: Option<u64>,
    /// Decreases so far.
    pub total: u64,
}

impl ReleaseCounter {
    pub fn observe(&mut self, committed: u64) {
        if let Some(last) = self.last {
            self.total += last.saturating_sub(committed);
        }
        self.last = Some(committed);
    }
}

/// LazyFree at or above this always counts (a container limit notices
/// 64 MiB; less is noise next to a Go heap's own slack).
pub const LAZY_FREE_MIN_BYTES: u64 = 64 << 20;
/// Smaller amounts count when they are this share of RSS (small processes
/// whose RSS is mostly released memory)…
pub const LAZY_FREE_MIN_SHARE_PCT: u64 = 25;
/// …but never below this: a few MiB of LazyFree is not worth a finding.
const LAZY_FREE_FLOOR_BYTES: u64 = 8 << 20;

/// The message of a `madv_free_rss` finding, or `None`.
///
/// `madv_free_bytes` / `madv_dontneed_bytes`: bytes the process passed to
/// madvise(MADV_FREE) / madvise(MADV_DONTNEED) while traced. A finding
/// needs both a large `LazyFree` and MADV_FREE calls seen: LazyFree alone
/// may come from a C allocator (jemalloc uses MADV_FREE) that the GODEBUG
/// setting does not affect.
pub fn madv_free_finding(
    rollup: &SmapsRollup,
    madv_free_bytes: u64,
    madv_dontneed_bytes: u64,
) -> Option<String> {
    let lazy = rollup.lazy_free;
    let share_pct = lazy_free_share_pct(lazy, rollup.rss);
    if !lazy_free_is_large(lazy, rollup.rss) || madv_free_bytes == 0 {
        return None;
    }
    Some(format!(
        "RSS {rss} includes {lazy_s} ({share_pct}%) of LazyFree pages: memory released with \
         MADV_FREE ({free} seen, {dontneed} with MADV_DONTNEED) that the kernel reclaims only \
         under memory pressure, so RSS-based limits and monitoring count it as used. \
         Run with GODEBUG=madvdontneed=1 (the default since Go 1.16; something sets \
         madvdontneed=0) so freed memory leaves RSS immediately.",
        rss = mib(rollup.rss),
        lazy_s = mib(lazy),
        free = mib(madv_free_bytes),
        dontneed = mib(madv_dontneed_bytes),
    ))
}

/// LazyFree as a share of RSS, percent.
pub fn lazy_free_share_pct(lazy_free: u64, rss: u64) -> u64 {
    lazy_free.saturating_mul(100).checked_div(rss).unwrap_or(0)
}

/// Enough LazyFree to be worth a `madv_free_rss` finding.
pub fn lazy_free_is_large(lazy_free: u64, rss: u64) -> bool {
    lazy_free >= LAZY_FREE_MIN_BYTES
        || (lazy_free >= LAZY_FREE_FLOOR_BYTES
            && lazy_free_share_pct(lazy_free, rss) >= LAZY_FREE_MIN_SHARE_PCT)
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_count_decreases_of_committed_only() {
        let mut r = ReleaseCounter::default();
        for v in [400, 350, 380, 100, 100] {
            r.observe(v);
        }
        assert_eq!(
            r.total,
            50 + 280,
            "the first reading is the base; reuse does not count"
        );
    }

    #[test]
    fn the_last_madvdontneed_setting_wins() {
        assert_eq!(release_advice(None, None), "MADV_DONTNEED");
        assert_eq!(release_advice(None, Some("madvdontneed=0")), "MADV_FREE");
        assert_eq!(
            release_advice(Some("madvdontneed=0"), None),
            "MADV_FREE",
            "a //go:debug line"
        );
        assert_eq!(
            release_advice(Some("madvdontneed=0"), Some("gctrace=1,madvdontneed=1")),
            "MADV_DONTNEED",
            "the environment comes after the default"
        );
        assert_eq!(
            release_advice(None, Some("madvdontneed=0,madvdontneed=1")),
            "MADV_DONTNEED"
        );
        assert_eq!(
            release_advice(None, Some("madvdontneed=x")),
            "MADV_DONTNEED"
        );
    }

    fn rollup(rss_mib: u64, lazy_mib: u64) -> SmapsRollup {
        SmapsRollup {
            rss: rss_mib << 20,
            anonymous: rss_mib << 20,
            lazy_free: lazy_mib << 20,
            ..SmapsRollup::default()
        }
    }

    #[test]
    fn large_lazy_free_with_madv_free_is_a_finding() {
        let m = madv_free_finding(&rollup(300, 256), 256 << 20, 0).unwrap();
        assert!(m.contains("RSS 300.0 MiB"), "{m}");
        assert!(m.contains("256.0 MiB (85%)"), "{m}");
        assert!(m.contains("GODEBUG=madvdontneed=1"), "{m}");
        // 64 MiB counts even in a big process.
        assert!(madv_free_finding(&rollup(4096, 64), 1, 0).is_some());
        // A quarter of a small process counts.
        assert!(madv_free_finding(&rollup(40, 10), 1, 0).is_some());
    }

    #[test]
    fn no_finding_otherwise() {
        // No MADV_FREE seen: not the Go runtime's doing (or not proven).
        assert_eq!(madv_free_finding(&rollup(300, 256), 0, 1 << 30), None);
        // Small in absolute and relative terms.
        assert_eq!(madv_free_finding(&rollup(4096, 63), 1 << 30, 0), None);
        // A large share of a tiny RSS is still tiny.
        assert_eq!(madv_free_finding(&rollup(8, 7), 1 << 30, 0), None);
        assert_eq!(madv_free_finding(&SmapsRollup::default(), 1, 1), None);
    }
}
