//! Findings the agent can make without a probe, from what successive
//! scrapes read (`tracer_finding{kind,site,severity}`):
//! - `heap_growth`: a site's in-use bytes (the runtime's heap profile)
//!   rising steadily over GC cycles, by the rule the report uses (where
//!   the profile is off, an allocation slice's sampled liveness makes the
//!   finding instead: [`super::slices`]);
//! - `goroutine_leak`: goroutines of one creation site that only grow;
//! - `madv_free_rss`: RSS held by LazyFree pages of a runtime that
//!   releases memory with MADV_FREE (`GODEBUG=madvdontneed=0` in its
//!   environment or build).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::sites::Sites;
use crate::collect::aggregate::goroutines::leak_rate;
use crate::collect::inuse::heap_growth_finding;
use crate::tracee::gobin::Frame;
use crate::tracee::memory::{lazy_free_is_large, lazy_free_share_pct};
use crate::tracee::vitals::Vitals;

/// Points kept per process (heap: one per GC cycle seen; goroutines: one
/// per [`GOROUTINE_STEP`]).
const MAX_POINTS: usize = 60;
const GOROUTINE_STEP: Duration = Duration::from_secs(5);
/// A goroutine site must have grown over at least this long.
const LEAK_MIN_SECS: f64 = 30.0;

/// One finding, as the series shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFinding {
    pub kind: &'static str,
    pub severity: &'static str,
    /// The site's label, empty for a process-wide finding.
    pub site: String,
    pub message: String,
}

/// What one process's earlier scrapes saw.
#[derive(Debug, Default)]
pub struct History {
    started: Option<Instant>,
    heap: VecDeque<(u32, f64, HashMap<String, u64>)>,
    goroutines: VecDeque<(f64, HashMap<String, u64>)>,
}

fn site_frame(label: &str) -> Frame {
    Frame {
        function: label.to_string(),
        file: String::new(),
        line: 0,
        inlined: false,
    }
}

impl History {
    /// Adds what a scrape read.
    pub fn record(&mut self, vitals: &Vitals, sites: &Sites) {
        let t0 = *self.started.get_or_insert_with(Instant::now);
        let now = t0.elapsed().as_secs_f64();
        let named = |rows: &[super::sites::SiteRow], f: fn(&super::sites::SiteRow) -> u64| {
            rows.iter()
                .filter(|r| r.site != "other")
                .map(|r| (r.site.clone(), f(r)))
                .collect::<HashMap<_, _>>()
        };
        if let (Some(cycle), false) = (vitals.gc_cycles, sites.inuse.is_empty()) {
            if self.heap.back().is_none_or(|p| p.0 != cycle) {
                self.heap
                    .push_back((cycle, now, named(&sites.inuse, |r| r.bytes)));
            }
        }
        let due = self
            .goroutines
            .back()
            .is_none_or(|p| now - p.0 >= GOROUTINE_STEP.as_secs_f64());
        if due && !sites.goroutines.is_empty() {
            self.goroutines
                .push_back((now, named(&sites.goroutines, |r| r.objects)));
        }
        while self.heap.len() > MAX_POINTS {
            self.heap.pop_front();
        }
        while self.goroutines.len() > MAX_POINTS {
            self.goroutines.pop_front();
        }
    }

    /// The findings now, with `from_slice` (what the process's last
    /// allocation slice found with its probes); `madv_free`: the runtime
    /// releases with MADV_FREE.
    pub fn findings(
        &self,
        vitals: &Vitals,
        madv_free: bool,
        from_slice: &[AgentFinding],
    ) -> Vec<AgentFinding> {
        let mut out = from_slice.to_vec();
        let last_heap = self.heap.back().map(|p| &p.2);
        for site in last_heap.into_iter().flat_map(|m| m.keys()) {
            let series: Vec<(u32, f64, u64)> = self
                .heap
                .iter()
                .map(|p| (p.0, p.1, p.2.get(site).copied().unwrap_or(0)))
                .collect();
            if let Some(f) = heap_growth_finding(&series, &site_frame(site)) {
                out.push(AgentFinding {
                    kind: f.kind,
                    severity: f.severity,
                    site: site.clone(),
                    message: f.message,
                });
            }
        }
        let last_go = self.goroutines.back().map(|p| &p.1);
        for site in last_go.into_iter().flat_map(|m| m.keys()) {
            let series: Vec<(f64, u64)> = self
                .goroutines
                .iter()
                .filter_map(|p| Some((p.0, *p.1.get(site)?)))
                .collect();
            let span = series.last().map_or(0.0, |l| l.0) - series.first().map_or(0.0, |f| f.0);
            if let (Some(rate), true) = (leak_rate(&series), span >= LEAK_MIN_SECS) {
                let (first, last) = (series[0].1, series[series.len() - 1].1);
                out.push(AgentFinding {
                    kind: "goroutine_leak",
                    severity: if rate >= 10.0 { "critical" } else { "warn" },
                    site: site.clone(),
                    message: format!(
                        "goroutines created at {site} only grow: {first} → {last} over {span:.0} s (+{rate:.2}/s)"
                    ),
                });
            }
        }
        if let (true, Some(rss), Some(lazy)) = (madv_free, vitals.rss_bytes, vitals.lazy_free_bytes)
        {
            let share = lazy_free_share_pct(lazy, rss);
            if lazy_free_is_large(lazy, rss) {
                let mib = |b: u64| b as f64 / (1 << 20) as f64;
                out.push(AgentFinding {
                    kind: "madv_free_rss",
                    severity: "warn",
                    site: String::new(),
                    message: format!(
                        "RSS {:.1} MiB includes {:.1} MiB ({share}%) of LazyFree pages: this runtime releases memory \
                         with MADV_FREE (GODEBUG madvdontneed=0), which the kernel reclaims only under pressure; \
                         run with GODEBUG=madvdontneed=1",
                        mib(rss),
                        mib(lazy)
                    ),
                });
            }
        }
        out.sort_by(|a, b| (a.kind, &a.site).cmp(&(b.kind, &b.site)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::sites::SiteRow;
    use crate::tracee::allocstats::AllocCounters;
    use crate::tracee::memory::release_advice;

    fn row(site: &str, objects: u64, bytes: u64) -> SiteRow {
        SiteRow {
            site: site.into(),
            objects,
            bytes,
        }
    }

    #[test]
    fn growing_heap_site_is_a_finding() {
        let mut h = History::default();
        for i in 0..6u32 {
            let v = Vitals {
                gc_cycles: Some(10 + 2 * i),
                alloc: Some(AllocCounters::default()),
                ..Vitals::default()
            };
            let sites = Sites {
                profile_rate: Some(524288),
                inuse: vec![
                    row("main.leak main.go:9", 1, (4 + 2 * u64::from(i)) << 20),
                    row("main.steady main.go:12", 1, 8 << 20),
                ],
                ..Sites::default()
            };
            h.record(&v, &sites);
            // The same cycle twice: one point.
            h.record(&v, &sites);
        }
        assert_eq!(h.heap.len(), 6);
        let f = h.findings(&Vitals::default(), false, &[]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].kind, f[0].site.as_str()),
            ("heap_growth", "main.leak main.go:9")
        );
    }

    #[test]
    fn madv_free_needs_the_setting_and_lazyfree() {
        // The setting: the agent's `Watched::madv_free` is this.
        let free =
            |build: Option<&str>, env: Option<&str>| release_advice(build, env) == "MADV_FREE";
        assert!(free(None, Some("http2debug=1,madvdontneed=0")));
        assert!(!free(None, Some("madvdontneed=1")));
        let build = Some("madvdontneed=0,panicnil=1");
        assert!(free(build, None));
        // The environment wins over the build.
        assert!(!free(build, Some("madvdontneed=1")));
        let v = Vitals {
            rss_bytes: Some(200 << 20),
            lazy_free_bytes: Some(120 << 20),
            ..Vitals::default()
        };
        let h = History::default();
        assert_eq!(h.findings(&v, true, &[])[0].kind, "madv_free_rss");
        assert!(h.findings(&v, false, &[]).is_empty());
    }
}
