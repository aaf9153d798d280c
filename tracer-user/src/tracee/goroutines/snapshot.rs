//! Sampled mode's goroutine census, without a single probe: the runtime's
//! goroutine list (`allgs`) is re-read about once a second (read-only,
//! `process_vm_readv`, the target is never stopped) and each reading is
//! reconciled with the previous one (`GoroutineTable::reconcile`): goids
//! that appeared were created at their `go` statement, goids that are gone
//! exited. Goroutines that start and end between two readings are not
//! seen; the runtime's own goid counter (`runtime.sched.goidgen`, found in
//! `.symtab`) counts every goroutine created, to within the ids each P
//! holds in its cache.
//!
//! Cost of a reading: the `allgs` array in one call, then one range per
//! `g` (the ~300 bytes that hold its id, state and PCs), 1,024 `g`s per
//! system call; at most [`MAX_READ_GS`] entries.

use std::time::{Duration, Instant};

use super::{
    locate_allgs, read_list, symtab_address, GInfo, GoroutineList, SystemStarts, MAX_READ_GS,
};
use crate::collect::aggregate::goroutines::{GoroutineTable, LiveG};
use crate::report::GoroutineSnapshots;
use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::Layout;
use crate::tracee::procmem::ProcMem;

/// How often the list is read: the session's once-a-second sample.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// A report's mark re-reads the list unless the last reading is younger
/// than this (a mark right after a sample reuses its reading).
pub const MARK_MAX_AGE: Duration = Duration::from_millis(250);
/// The once-a-second sample re-reads the list unless a mark just did.
pub const SAMPLE_MAX_AGE: Duration = Duration::from_millis(900);
/// Goroutine ids the runtime hands to a P at a time (`_GoidCacheBatch`
/// in runtime/proc.go, 16 in Go 1.21–1.27): the goid counter runs ahead
/// of the goroutines created by up to this many per P.
pub const GOID_BATCH: u64 = 16;

/// The symbols of the goid counter and of GOMAXPROCS (`.symtab` only).
const SCHED_SYMBOL: &str = "runtime.sched";
const GOMAXPROCS_SYMBOL: &str = "runtime.gomaxprocs";

/// One reading of the list.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// When it started.
    pub at: Instant,
    /// How long reading it (and reconciling the table with it) took: the
    /// tracer's time, the target is not stopped.
    pub took: Duration,
    /// Live goroutines, system ones included.
    pub goroutines: usize,
    /// Entries of `allgs`, dead ones included.
    pub allgs_len: u64,
    /// Only the first [`MAX_READ_GS`] entries were read.
    pub truncated: bool,
}

impl Reading {
    fn of(list: &GoroutineList, at: Instant) -> Reading {
        Reading {
            at,
            took: at.elapsed(),
            goroutines: list.gs.len(),
            allgs_len: list.allgs_len,
            truncated: list.truncated,
        }
    }
}

/// Where the list and the goid counter are in one target, and the last
/// reading.
#[derive(Debug)]
pub struct Snapshots {
    mem: ProcMem,
    layout: &'static Layout,
    /// Runtime address of the `allgs` slice header.
    allgs: u64,
    /// Runtime address of `runtime.sched` (its first field is `goidgen`
    /// in Go 1.21–1.27), kept only if it is at least every goid seen.
    sched: Option<u64>,
    /// Runtime address of `runtime.gomaxprocs` (int32).
    gomaxprocs: Option<u64>,
    /// The last successful reading.
    pub last: Reading,
    /// Readings that failed since the last successful one, and why the
    /// latest failed.
    pub failed: u64,
    pub last_error: Option<String>,
}

/// A listed goroutine as the table keeps it.
pub fn live_g(g: &GInfo, starts: &SystemStarts) -> LiveG {
    LiveG {
        gopc: g.gopc,
        g: g.addr,
        startpc: g.startpc,
        system: starts.contains(g.startpc),
    }
}

/// The list read at attach (both modes): every goroutine in it is counted
/// in `table` as pre-existing. Returns the reader for later readings.
pub fn list_at_attach(
    mem: ProcMem,
    bin: &GoBinary,
    layout: &'static Layout,
    bias: u64,
    table: &mut GoroutineTable,
    starts: &SystemStarts,
) -> Result<Snapshots, String> {
    let (snapshots, list) = Snapshots::open(mem, bin, layout, bias)?;
    for g in &list.gs {
        table.pre_existing(g.goid, live_g(g, starts));
    }
    Ok(snapshots)
}

impl Snapshots {
    /// Finds the list (and, with `.symtab`, the goid counter) and reads
    /// it a first time; the caller counts that reading as pre-existing.
    pub fn open(
        mem: ProcMem,
        bin: &GoBinary,
        layout: &'static Layout,
        bias: u64,
    ) -> Result<(Snapshots, GoroutineList), String> {
        let loc = locate_allgs(&mem, bin, layout, bias)?;
        let at = Instant::now();
        let list = read_list(&mem, layout, loc.addr, MAX_READ_GS)?;
        let last = Reading::of(&list, at);
        // Stripped binaries have no data symbols: no counter (reported null).
        let (sched, gomaxprocs) = match bin.symtab_file() {
            Some(exe) => (
                symtab_address(exe, SCHED_SYMBOL),
                symtab_address(exe, GOMAXPROCS_SYMBOL),
            ),
            None => (None, None),
        };
        let mut s = Snapshots {
            mem,
            layout,
            allgs: loc.addr,
            sched: sched.map(|a| a.wrapping_add(bias)),
            gomaxprocs: gomaxprocs.map(|a| a.wrapping_add(bias)),
            last,
            failed: 0,
            last_error: None,
        };
        // Every goid came from the counter: it is at least the largest.
        let max_goid = list.gs.iter().map(|g| g.goid).max().unwrap_or(0);
        if !s.goidgen().is_some_and(|n| plausible_goidgen(n, max_goid)) {
            s.sched = None;
        }
        if s.gomaxprocs().is_none() {
            s.gomaxprocs = None;
        }
        Ok((s, list))
    }

    /// Re-reads the list unless the last reading is younger than
    /// `max_age`, and reconciles `table` with it. Returns whether it read.
    /// On failure (the target exiting, say) the table keeps the last
    /// reading and the failure is counted.
    pub fn refresh(
        &mut self,
        table: &mut GoroutineTable,
        starts: &SystemStarts,
        max_age: Duration,
    ) -> bool {
        if self.last.at.elapsed() < max_age.max(self.min_gap()) {
            return false;
        }
        let at = Instant::now();
        match read_list(&self.mem, self.layout, self.allgs, MAX_READ_GS) {
            Ok(list) => {
                table.reconcile(list.gs.iter().map(|g| (g.goid, live_g(g, starts))));
                // Reading and reconciling: the tracer's cost.
                self.last = Reading::of(&list, at);
                self.failed = 0;
                self.last_error = None;
                true
            }
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e);
                false
            }
        }
    }

    /// Readings take at most 1 % of a CPU: a list that takes 18 ms to read
    /// and reconcile (100,000 goroutines, measured here) is read every
    /// 1.8 s, one that takes 100 ms every 10 s. (At a tenth of the time,
    /// the tracer spent 29 ms/s on an idle program of 100,000 goroutines.)
    fn min_gap(&self) -> Duration {
        self.last.took * 100
    }

    /// How often the list is read: [`INTERVAL`], or less often for a list
    /// that is slow to read (see `min_gap`).
    pub fn interval(&self) -> Duration {
        INTERVAL.max(self.min_gap())
    }

    /// `runtime.sched.goidgen` now: the last goroutine id handed out.
    pub fn goidgen(&self) -> Option<u64> {
        self.mem.read_u64(self.sched?).ok()
    }

    /// GOMAXPROCS now.
    pub fn gomaxprocs(&self) -> Option<u64> {
        let n = self.mem.read_u32(self.gomaxprocs?).ok()? as i32;
        (1..=1 << 20).contains(&n).then_some(n as u64)
    }

    /// What the goid counter says about a window: goroutines created
    /// (system ones included) between two readings of it, and the ± error
    /// (ids cached per P: [`GOID_BATCH`] × GOMAXPROCS).
    pub fn created_between(&self, from: Option<u64>, to: Option<u64>) -> Option<(u64, u64)> {
        let (from, to) = (from?, to?);
        let procs = self.gomaxprocs()?;
        (to >= from).then(|| (to - from, GOID_BATCH * procs))
    }

    /// The report's account of the readings, for a window whose marks read
    /// the goid counter as `from` and `to`.
    pub fn report(&self, from: Option<u64>, to: Option<u64>) -> GoroutineSnapshots {
        let counter = self.created_between(from, to);
        GoroutineSnapshots {
            interval_ms: self.interval().as_millis() as u64,
            age_ms: self.last.at.elapsed().as_secs_f64() * 1e3,
            read_ms: self.last.took.as_secs_f64() * 1e3,
            goroutines_read: self.last.goroutines as u64,
            list_entries: self.last.allgs_len,
            truncated: self.last.truncated,
            failed: self.failed,
            error: self.last_error.clone(),
            created_by_goid_counter: counter.map(|c| c.0),
            goid_counter_error: counter.map(|c| c.1),
        }
    }
}

/// A value read at `runtime.sched` is the goid counter if it is at least
/// the largest goid listed and not absurdly large.
fn plausible_goidgen(n: u64, max_goid: u64) -> bool {
    n >= max_goid && max_goid > 0 && n < 1 << 48
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goidgen_plausibility() {
        assert!(plausible_goidgen(16, 1));
        assert!(plausible_goidgen(1000, 1000));
        assert!(!plausible_goidgen(999, 1000));
        assert!(!plausible_goidgen(5, 0));
        assert!(!plausible_goidgen(u64::MAX, 10));
    }

    /// The text report and the TUI label per-site counts as seen by
    /// snapshots (with the goid counter when there is one); exact mode has
    /// no label.
    #[test]
    fn snapshot_note_labels_the_counts() {
        use crate::report::GoroutineTotals;
        let exact = GoroutineTotals {
            source: "probes",
            ..Default::default()
        };
        assert_eq!(exact.snapshot_note(), None);
        let mut sampled = GoroutineTotals {
            source: "snapshots",
            snapshots: Some(GoroutineSnapshots {
                interval_ms: 1000,
                created_by_goid_counter: Some(1234),
                goid_counter_error: Some(64),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            sampled.snapshot_note().as_deref(),
            Some("seen by snapshots every 1 s; goid counter: 1234 ±64 created in all")
        );
        if let Some(s) = sampled.snapshots.as_mut() {
            s.created_by_goid_counter = None;
            s.truncated = true;
            s.list_entries = 1_200_000;
        }
        assert_eq!(
            sampled.snapshot_note().as_deref(),
            Some(
                "seen by snapshots every 1 s; only the first 1000000 of 1200000 list entries read"
            )
        );
    }
}
