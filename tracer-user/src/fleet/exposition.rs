//! The agent's `/metrics` page, in the OpenMetrics text format (the
//! `prometheus-client` crate's encoder). One family per figure; every
//! series of a process carries `pid`, `exe` and `go_version`, plus
//! `container` (short id), `container_runtime` and `pod_uid` when its
//! cgroup names them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::findings::AgentFinding;
use super::sites::{SiteRow, Sites};
use super::slices::SliceResult;
use crate::tracee::vitals::Vitals;

/// The content type of the page.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub type Labels = Vec<(String, String)>;

/// One process's series.
#[derive(Debug, Clone)]
pub struct ProcessSeries {
    pub labels: Labels,
    pub vitals: Vitals,
    pub sites: Sites,
    pub findings: Vec<AgentFinding>,
    /// The last allocation slice.
    pub slice: Option<SliceResult>,
}

/// The agent's own figures.
#[derive(Debug, Clone, Default)]
pub struct AgentSeries {
    pub targets: u64,
    pub found: u64,
    pub lost: u64,
    pub scans: u64,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Time spent reading the processes for this page.
    pub read_seconds: f64,
    pub profiles_written: u64,
    pub profiles_pushed: u64,
    pub push_errors: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// A per-process figure: its name (a counter's `_total` is added by the
/// encoder), help, kind and how to get it.
struct Def {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    get: fn(&Vitals) -> Option<i64>,
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const DEFS: &[Def] = &[
    Def {
        name: "tracer_go_heap_live_bytes",
        help: "Bytes of live and not yet swept heap objects (MemStats.HeapAlloc), read from the runtime's counters",
        kind: Kind::Gauge,
        get: |v| v.alloc.as_ref().map(|a| sat(a.bytes().wrapping_sub(a.freed_bytes()))),
    },
    Def {
        name: "tracer_go_heap_objects",
        help: "Live and not yet swept heap objects (MemStats.HeapObjects)",
        kind: Kind::Gauge,
        get: |v| v.alloc.as_ref().map(|a| sat(a.objects().wrapping_sub(a.frees()))),
    },
    Def {
        name: "tracer_go_allocations",
        help: "Heap objects allocated since the process started (MemStats.Mallocs)",
        kind: Kind::Counter,
        get: |v| v.alloc.as_ref().map(|a| sat(a.objects())),
    },
    Def {
        name: "tracer_go_frees",
        help: "Heap objects freed since the process started (MemStats.Frees)",
        kind: Kind::Counter,
        get: |v| v.alloc.as_ref().map(|a| sat(a.frees())),
    },
    Def {
        name: "tracer_go_allocated_bytes",
        help: "Heap bytes allocated since the process started (MemStats.TotalAlloc)",
        kind: Kind::Counter,
        get: |v| v.alloc.as_ref().map(|a| sat(a.bytes())),
    },
    Def {
        name: "tracer_go_heap_released_bytes",
        help: "Heap bytes returned to the OS (MemStats.HeapReleased)",
        kind: Kind::Gauge,
        get: |v| v.alloc.as_ref().map(|a| sat(a.released_bytes)),
    },
    Def {
        name: "tracer_go_gc_cycles",
        help: "Completed GC cycles (MemStats.NumGC)",
        kind: Kind::Counter,
        get: |v| v.gc_cycles.map(i64::from),
    },
    Def {
        name: "tracer_go_gogc_percent",
        help: "GOGC now (debug.SetGCPercent included); -1 means GOGC=off",
        kind: Kind::Gauge,
        get: |v| v.gogc.map(i64::from),
    },
    Def {
        name: "tracer_go_memory_limit_bytes",
        help: "GOMEMLIMIT now (debug.SetMemoryLimit included); 9223372036854775807 means no limit",
        kind: Kind::Gauge,
        get: |v| v.memory_limit,
    },
    Def {
        name: "tracer_go_system_goroutines",
        help: "The runtime's own goroutines (GC workers, finalizers, scavenger)",
        kind: Kind::Gauge,
        get: |v| v.system_goroutines.map(sat),
    },
    Def {
        name: "tracer_process_rss_bytes",
        help: "Resident set size (VmRSS)",
        kind: Kind::Gauge,
        get: |v| v.rss_bytes.map(sat),
    },
    Def {
        name: "tracer_process_lazyfree_bytes",
        help: "Resident pages released with MADV_FREE that the kernel has not reclaimed yet (smaps_rollup LazyFree, read at most once a minute)",
        kind: Kind::Gauge,
        get: |v| v.lazy_free_bytes.map(sat),
    },
];

/// A per-site family: name, help, kind, which rows, which figure.
type Pick = fn(&Sites) -> &Vec<SiteRow>;
type Value = fn(&SiteRow) -> u64;
type SiteFamily = (&'static str, &'static str, Kind, Pick, Value);

#[derive(Debug)]
struct Page {
    processes: Vec<ProcessSeries>,
    agent: AgentSeries,
}

impl Collector for Page {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for def in DEFS {
            let values: Vec<(&Labels, i64)> = self
                .processes
                .iter()
                .filter_map(|p| Some((&p.labels, (def.get)(&p.vitals)?)))
                .collect();
            if values.is_empty() {
                continue;
            }
            let ty = match def.kind {
                Kind::Gauge => ConstGauge::new(0i64).metric_type(),
                Kind::Counter => ConstCounter::new(0u64).metric_type(),
            };
            let mut family = enc.encode_descriptor(def.name, def.help, None, ty)?;
            for (labels, v) in values {
                let m = family.encode_family(labels)?;
                match def.kind {
                    Kind::Gauge => ConstGauge::new(v).encode(m)?,
                    Kind::Counter => ConstCounter::new(v.max(0) as u64).encode(m)?,
                }
            }
        }
        self.encode_states(&mut enc)?;
        self.encode_sites(&mut enc)?;
        self.encode_findings(&mut enc)?;
        self.encode_slices(&mut enc)?;
        self.encode_agent(&mut enc)
    }
}

impl Page {
    fn encode_states(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows: Vec<(Labels, u64)> = self
            .processes
            .iter()
            .flat_map(|p| {
                p.vitals.goroutines.iter().flatten().map(|(state, n)| {
                    let mut l = p.labels.clone();
                    l.push(("state".into(), (*state).into()));
                    (l, *n)
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = enc.encode_descriptor(
            "tracer_go_goroutines",
            "Goroutines of the program (not the runtime's own) by scheduler state (running, runnable, \
             waiting, syscall, ...): their sum is runtime.NumGoroutine",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        for (labels, n) in &rows {
            ConstGauge::new(sat(*n)).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn encode_sites(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rates: Vec<(&Labels, i64)> = self
            .processes
            .iter()
            .filter_map(|p| Some((&p.labels, sat(p.sites.profile_rate?))))
            .collect();
        if !rates.is_empty() {
            let mut family = enc.encode_descriptor(
                "tracer_go_heap_profile_rate_bytes",
                "runtime.MemProfileRate: bytes per heap profile sample; 0 means the runtime's heap \
                 profile is off in this binary and there are no per-site heap series",
                None,
                ConstGauge::new(0i64).metric_type(),
            )?;
            for (labels, v) in rates {
                ConstGauge::new(v).encode(family.encode_family(labels)?)?;
            }
        }
        let families: [SiteFamily; 5] = [
            ("tracer_go_site_inuse_bytes", "Heap bytes in use by allocation site, as of the last GC (the runtime's heap profile, scaled as pprof); top sites, then site=\"other\"", Kind::Gauge, |s| &s.inuse, |r| r.bytes),
            ("tracer_go_site_inuse_objects", "Heap objects in use by allocation site (as tracer_go_site_inuse_bytes)", Kind::Gauge, |s| &s.inuse, |r| r.objects),
            ("tracer_go_site_allocated_bytes", "Heap bytes allocated by allocation site since the process started (the runtime's heap profile, scaled)", Kind::Counter, |s| &s.allocated, |r| r.bytes),
            ("tracer_go_site_allocations", "Heap objects allocated by allocation site since the process started (the runtime's heap profile, scaled)", Kind::Counter, |s| &s.allocated, |r| r.objects),
            ("tracer_go_site_goroutines", "Goroutines of the program by creation site (the go statement); top sites, then site=\"other\"", Kind::Gauge, |s| &s.goroutines, |r| r.objects),
        ];
        for (name, help, kind, pick, value) in families {
            let of = self
                .processes
                .iter()
                .map(|p| (&p.labels, &pick(&p.sites)[..]));
            encode_site_rows(enc, (name, help, kind), site_rows(of, value))?;
        }
        Ok(())
    }

    fn encode_slices(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now_ns = crate::session::unix_ns();
        let with: Vec<(&Labels, &SliceResult)> = self
            .processes
            .iter()
            .filter_map(|p| Some((&p.labels, p.slice.as_ref()?)))
            .collect();
        if with.is_empty() {
            return Ok(());
        }
        type Of = fn(&SliceResult, u64) -> f64;
        let per_process: [(&str, &str, Of); 3] = [
            ("tracer_go_allocation_slice_seconds", "Length of the last allocation slice (the default mode's governed windows on this process)", |s, _| s.seconds),
            ("tracer_go_allocation_slice_age_seconds", "Time since the last allocation slice ended", |s, now| now.saturating_sub(s.ended_ns) as f64 / 1e9),
            ("tracer_go_allocation_slice_slowdown_percent", "The tracer's own estimate of the slowdown its probes caused during the last slice, % of the process's CPU (a lower bound when they took most of it)", |s, _| s.est_slowdown_pct),
        ];
        for (name, help, of) in per_process {
            let mut family =
                enc.encode_descriptor(name, help, None, ConstGauge::new(0f64).metric_type())?;
            for (labels, s) in &with {
                ConstGauge::new(of(s, now_ns)).encode(family.encode_family(*labels)?)?;
            }
        }
        type Rate = fn(&super::slices::SiteRate) -> f64;
        let rates: [(&str, &str, Rate); 2] = [
            ("tracer_go_site_allocation_objects_per_second", "Objects allocated per second by site over the last allocation slice (the runtime's exact counts split by the windows' samples); top sites, then site=\"other\" and site=\"unattributed\" (what no window saw)", |r| r.objects_per_sec),
            ("tracer_go_site_allocation_bytes_per_second", "Bytes allocated per second by site over the last allocation slice (as tracer_go_site_allocation_objects_per_second)", |r| r.bytes_per_sec),
        ];
        for (name, help, rate) in rates {
            let mut family =
                enc.encode_descriptor(name, help, None, ConstGauge::new(0f64).metric_type())?;
            for (labels, s) in &with {
                for r in &s.sites {
                    let mut l = (*labels).clone();
                    l.push(("site".into(), r.site.clone()));
                    ConstGauge::new(rate(r)).encode(family.encode_family(&l)?)?;
                }
            }
        }
        type Held = fn(&SiteRow) -> u64;
        let held: [(&str, &str, Held); 2] = [
            ("tracer_go_site_slice_inuse_bytes", "For a process whose heap profile is off: heap bytes in use at the end of the last allocation slice by allocation site, of the objects allocated during the slice (sampled object liveness, scaled per size class to the runtime's counts); top sites, then site=\"other\" and site=\"unattributed\" (the live heap no sample places, mostly objects from before the slice)", |r| r.bytes),
            ("tracer_go_site_slice_inuse_objects", "Heap objects in use at the end of the last allocation slice by site (as tracer_go_site_slice_inuse_bytes)", |r| r.objects),
        ];
        for (name, help, value) in held {
            let of = with.iter().map(|(labels, s)| (*labels, &s.inuse[..]));
            encode_site_rows(enc, (name, help, Kind::Gauge), site_rows(of, value))?;
        }
        Ok(())
    }

    fn encode_findings(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows: Vec<Labels> = self
            .processes
            .iter()
            .flat_map(|p| {
                p.findings.iter().map(|f| {
                    let mut l = p.labels.clone();
                    l.push(("kind".into(), f.kind.into()));
                    l.push(("site".into(), f.site.clone()));
                    l.push(("severity".into(), f.severity.into()));
                    l
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = enc.encode_descriptor(
            "tracer_finding",
            "1 while a finding holds: heap_growth (a site's in-use bytes rise over GC cycles), \
             goroutine_leak (a creation site's goroutines only grow), madv_free_rss (RSS held by \
             MADV_FREE pages)",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        for labels in &rows {
            ConstGauge::new(1i64).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn encode_agent(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let a = &self.agent;
        let gauges: [(&str, &str, f64); 4] = [
            ("tracer_agent_targets", "Go processes watched", a.targets as f64),
            ("tracer_agent_rss_bytes", "The agent's resident set size", a.rss_bytes as f64),
            (
                "tracer_agent_read_seconds",
                "Time spent reading the watched processes for this page",
                a.read_seconds,
            ),
            ("tracer_agent_cpu_seconds", "The agent's CPU time since it started (a counter's value, kept a gauge for plain reading)", a.cpu_seconds),
        ];
        for (name, help, v) in gauges {
            let g = ConstGauge::new(v);
            g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        let counters: [(&str, &str, u64); 6] = [
            (
                "tracer_agent_profiles_written",
                "Profiles written to --profiles-dir",
                a.profiles_written,
            ),
            (
                "tracer_agent_profiles_pushed",
                "Profiles pushed to Pyroscope or Parca",
                a.profiles_pushed,
            ),
            (
                "tracer_agent_profile_errors",
                "Profiles that could not be written or pushed (dropped)",
                a.push_errors,
            ),
            (
                "tracer_agent_found",
                "Go processes found since the agent started",
                a.found,
            ),
            (
                "tracer_agent_lost",
                "Watched processes that exited since the agent started",
                a.lost,
            ),
            ("tracer_agent_scans", "Scans of /proc", a.scans),
        ];
        for (name, help, v) in counters {
            let c = ConstCounter::new(v);
            c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        Ok(())
    }
}

/// Each process's rows as series: its labels and `site`, and `value`.
fn site_rows<'a>(
    of: impl Iterator<Item = (&'a Labels, &'a [SiteRow])>,
    value: fn(&SiteRow) -> u64,
) -> Vec<(Labels, u64)> {
    of.flat_map(|(labels, rows)| {
        rows.iter().map(move |r| {
            let mut l = labels.clone();
            l.push(("site".into(), r.site.clone()));
            (l, value(r))
        })
    })
    .collect()
}

/// One family of per-site series (none at all without rows).
fn encode_site_rows(
    enc: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, Kind),
    rows: Vec<(Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ty = match kind {
        Kind::Gauge => ConstGauge::new(0i64).metric_type(),
        Kind::Counter => ConstCounter::new(0u64).metric_type(),
    };
    let mut family = enc.encode_descriptor(name, help, None, ty)?;
    for (labels, v) in &rows {
        let m = family.encode_family(labels)?;
        match kind {
            Kind::Gauge => ConstGauge::new(sat(*v)).encode(m)?,
            Kind::Counter => ConstCounter::new(*v).encode(m)?,
        }
    }
    Ok(())
}

/// The page for these processes and the agent's own figures.
pub fn render(processes: Vec<ProcessSeries>, agent: AgentSeries) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Page { processes, agent }));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracee::allocstats::AllocCounters;
    use std::collections::BTreeMap;

    #[test]
    fn page_has_the_conventional_names_and_labels() {
        let mut small = vec![0u64; 68];
        small[5] = 1000; // 48 B
        let vitals = Vitals {
            alloc: Some(AllocCounters {
                small_by_class: small,
                small_frees_by_class: vec![0; 68],
                released_bytes: 4096,
                ..Default::default()
            }),
            gc_cycles: Some(7),
            gogc: Some(-1),
            memory_limit: Some(i64::MAX),
            goroutines: Some(BTreeMap::from([("running", 1), ("waiting", 4)])),
            system_goroutines: Some(5),
            rss_bytes: Some(1 << 20),
            lazy_free_bytes: None,
        };
        let labels: Labels = vec![
            ("pid".into(), "42".into()),
            ("exe".into(), "/srv/a \"b\"".into()),
            ("go_version".into(), "go1.25.5".into()),
        ];
        let page = render(
            vec![ProcessSeries {
                labels,
                vitals,
                sites: Sites {
                    profile_rate: Some(524288),
                    inuse: vec![SiteRow {
                        site: "main.grow main.go:42".into(),
                        objects: 3,
                        bytes: 3072,
                    }],
                    allocated: Vec::new(),
                    goroutines: vec![SiteRow {
                        site: "other".into(),
                        objects: 2,
                        bytes: 0,
                    }],
                },
                slice: None,
                findings: vec![AgentFinding {
                    kind: "goroutine_leak",
                    severity: "warn",
                    site: "main.spawn main.go:48".into(),
                    message: String::new(),
                }],
            }],
            AgentSeries {
                targets: 1,
                ..Default::default()
            },
        );
        for want in [
            "# TYPE tracer_go_allocations counter",
            "tracer_go_allocations_total{pid=\"42\",exe=\"/srv/a \\\"b\\\"\",go_version=\"go1.25.5\"} 1000",
            "tracer_go_allocated_bytes_total{pid=\"42\"",
            "} 48000\n",
            "tracer_go_heap_live_bytes{pid=\"42\"",
            "tracer_go_gc_cycles_total{",
            "} 7\n",
            "tracer_go_gogc_percent{pid=\"42\",exe=\"/srv/a \\\"b\\\"\",go_version=\"go1.25.5\"} -1",
            "} 9223372036854775807\n",
            "tracer_go_goroutines{pid=\"42\",exe=\"/srv/a \\\"b\\\"\",go_version=\"go1.25.5\",state=\"waiting\"} 4",
            "tracer_process_rss_bytes{",
            "tracer_agent_targets 1",
            "kind=\"goroutine_leak\",site=\"main.spawn main.go:48\",severity=\"warn\"} 1",
            "tracer_go_heap_profile_rate_bytes{pid=\"42\"",
            "site=\"main.grow main.go:42\"} 3072",
            "tracer_go_site_goroutines{pid=\"42\",exe=\"/srv/a \\\"b\\\"\",go_version=\"go1.25.5\",site=\"other\"} 2",
            "# EOF",
        ] {
            assert!(page.contains(want), "missing {want:?} in\n{page}");
        }
        // Nothing known: no series at all for that figure.
        assert!(!page.contains("tracer_process_lazyfree_bytes{"), "{page}");
        assert!(!page.contains("tracer_go_site_slice_inuse_bytes"), "{page}");
    }

    #[test]
    fn a_slice_with_sampled_liveness_gives_inuse_by_site() {
        let row = |site: &str, objects, bytes| SiteRow {
            site: site.into(),
            objects,
            bytes,
        };
        let slice = SliceResult {
            ended_ns: crate::session::unix_ns(),
            seconds: 8.0,
            sites: Vec::new(),
            est_slowdown_pct: 1.0,
            pprof: None,
            cpu_pprof: None,
            cpu_error: None,
            inuse: vec![
                row("main.leakHeap main.go:90", 30, 30 << 20),
                row("unattributed", 1000, 1 << 20),
            ],
            inuse_pprof: None,
            findings: Vec::new(),
        };
        let page = render(
            vec![ProcessSeries {
                labels: vec![("pid".into(), "7".into())],
                vitals: Vitals::default(),
                sites: Sites::default(),
                slice: Some(slice),
                findings: Vec::new(),
            }],
            AgentSeries::default(),
        );
        for want in [
            "# TYPE tracer_go_site_slice_inuse_bytes gauge",
            "tracer_go_site_slice_inuse_bytes{pid=\"7\",site=\"main.leakHeap main.go:90\"} 31457280",
            "tracer_go_site_slice_inuse_objects{pid=\"7\",site=\"unattributed\"} 1000",
        ] {
            assert!(page.contains(want), "missing {want:?} in\n{page}");
        }
    }
}
