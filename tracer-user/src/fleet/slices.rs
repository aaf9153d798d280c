//! Allocation rates by site for every Go process, whether or not its heap
//! profile is on: the agent runs the default mode (`tracer attach`'s) on
//! one process at a time for a slice (`--slice`, 20 s by default), round
//! robin. Only the process in its slice carries probes, and only in the
//! governor's windows, within `--max-overhead` of that process's CPU; all
//! the others carry none. So the host's budget is shared: one process at a
//! time, never more than its own budget.
//!
//! A slice ends with the session's report: per site objects and bytes per
//! second over the slice (the runtime's exact totals split by the windows'
//! samples), what no window could attribute, and the tracer's own estimate
//! of the slowdown it caused; an allocation profile (pprof) of it, and a
//! CPU profile of the process over the slice from on-CPU sampling (a timer
//! interrupt per sample on the process's CPUs, no probe; `--cpu-hz`).
//!
//! When the process's heap profile is off, the slice also says who holds
//! memory: its windows sample object liveness as `tracer attach` does, and
//! the slice ends with the in-use bytes by site of the objects allocated
//! during it (scaled per size class to the runtime's counts); the live heap
//! from before the slice is one `unattributed` row.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::drive::{drive, liveness_ticker};
use crate::error::UserError;
use crate::report::{InuseReport, Report};
use crate::sampling::carry::Carry;
use crate::session::{Calibration, Config, Mode, Session};

use super::findings::AgentFinding;
use super::sites::{label, SiteRow};

/// How slices run.
#[derive(Debug, Clone)]
pub struct SliceConfig {
    /// Length of a slice (0: no slices, no probes).
    pub length: Duration,
    /// Time from one slice's start to the next one's (at least `length`):
    /// a slice costs the agent ~0.4 s of CPU (loading the BPF programs,
    /// parsing the executable), so this sets the agent's share.
    pub every: Duration,
    /// The default mode's budget, % of the process's CPU time.
    pub max_overhead_pct: f64,
    /// Sites kept (then `other`).
    pub top: usize,
    /// On-CPU samples a second per CPU during a slice (0: none).
    pub cpu_hz: u64,
    /// Map windows during a slice (map findings).
    pub maps: bool,
}

/// One site's allocation rate over a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRate {
    pub site: String,
    pub objects_per_sec: f64,
    pub bytes_per_sec: f64,
}

/// What a slice measured.
#[derive(Debug, Clone)]
pub struct SliceResult {
    /// When it ended, ns since the epoch.
    pub ended_ns: u64,
    pub seconds: f64,
    /// Top sites, then `other` and `unattributed` when not zero.
    pub sites: Vec<SiteRate>,
    /// The tracer's own estimate of the slowdown it caused, %.
    pub est_slowdown_pct: f64,
    /// Allocation profile of the slice (gzipped pprof).
    pub pprof: Option<Vec<u8>>,
    /// CPU profile of the slice (gzipped pprof), with on-CPU sampling.
    pub cpu_pprof: Option<Vec<u8>>,
    /// Why on-CPU sampling could not start, when it was asked for.
    pub cpu_error: Option<String>,
    /// Sampled liveness (the heap profile off): in-use heap at the end by
    /// site, of the objects allocated during the slice; top sites, then
    /// `other`, then `unattributed` (the live heap no sample places:
    /// objects from before the slice, classes no window sampled). Empty
    /// otherwise, or when no GC decided a sample during the slice.
    pub inuse: Vec<SiteRow>,
    /// The slice's findings that only its probes can make, shown until
    /// the process's next slice: the maps' (`map_never_shrinks`,
    /// `syncmap_residue`, `map_growth`, from its map windows), and
    /// `heap_growth` from sampled in-use figures (a site whose objects from
    /// the slice grew steadily across its GC cycles, with the heap the GC
    /// marked, by the rule `tracer attach` applies).
    pub findings: Vec<AgentFinding>,
    /// The same in-use figures by stack (gzipped pprof: `inuse_objects`,
    /// `inuse_space`), when there are rows.
    pub inuse_pprof: Option<Vec<u8>>,
}

/// Why a slice could not run: `fatal` ones (no privileges, a kernel
/// without uprobes) stop slicing altogether.
#[derive(Debug)]
pub struct SliceError {
    pub message: String,
    pub fatal: bool,
}

/// Runs one slice on `pid`; `stop` ends it early (the agent exiting).
/// `calibration`: the machine's, from an earlier slice (then updated);
/// `budget`: what the process's windows may spend at the start, from its
/// last slice (then what this one leaves).
pub fn slice_one(
    pid: u32,
    cfg: &SliceConfig,
    stop: &AtomicBool,
    calibration: &mut Option<Calibration>,
    budget: &mut Option<Carry>,
) -> Result<SliceResult, SliceError> {
    let config = Config {
        pid,
        mode: Mode::Sampled,
        max_overhead_pct: cfg.max_overhead_pct,
        maps: cfg.maps,
        time: Vec::new(),
        top: cfg.top,
        cpu_hz: cfg.cpu_hz,
    };
    let fail = |e: anyhow::Error| {
        let fatal = matches!(
            e.downcast_ref::<UserError>(),
            Some(UserError::Permission(_) | UserError::Kernel(_))
        );
        SliceError {
            message: format!("{e:#}"),
            fatal,
        }
    };
    let prepared = Session::prepare(&config).map_err(fail)?;
    let mut session = prepared.attach_calibrated(*calibration).map_err(fail)?;
    *calibration = Some(session.calibration());
    if let (Some(s), Some(carry)) = (session.sampling.as_mut(), *budget) {
        s.resume(carry);
    }
    let cpu_error = session.cpu_error.clone().filter(|_| cfg.cpu_hz != 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.into()))?;
    let start = session.mark();
    let exited = rt.block_on(async {
        let mut live = liveness_ticker();
        let stop = async {
            let deadline = tokio::time::sleep(cfg.length);
            tokio::pin!(deadline);
            let mut poll = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    _ = poll.tick() => if stop.load(Ordering::Relaxed) { break },
                }
            }
        };
        drive(&mut session, &mut live, stop).await.is_none()
    });
    let end = session.mark();
    if let Some(carry) = session.sampling.as_ref().and_then(|s| s.carry()) {
        *budget = Some(carry);
    }
    let report = session.report("final", &start, &end, exited);
    session.detach();
    Ok(SliceResult {
        cpu_error,
        ..result(&report)
    })
}

/// The rates of a slice's report.
pub fn result(report: &Report) -> SliceResult {
    let secs = (report.window.duration_ns as f64 / 1e9).max(1e-9);
    let mut sites: Vec<SiteRate> = report
        .allocations
        .iter()
        .map(|a| SiteRate {
            site: label(&a.site),
            objects_per_sec: a.objects_per_sec,
            bytes_per_sec: a.bytes_per_sec,
        })
        .collect();
    let listed = |f: fn(&SiteRate) -> f64| sites.iter().map(f).sum::<f64>();
    let un = &report.unattributed;
    let total = &report.allocation_totals;
    let other = SiteRate {
        site: "other".into(),
        objects_per_sec: (total.objects as f64 / secs
            - listed(|s| s.objects_per_sec)
            - un.objects as f64 / secs)
            .max(0.0),
        bytes_per_sec: (total.bytes as f64 / secs
            - listed(|s| s.bytes_per_sec)
            - un.bytes as f64 / secs)
            .max(0.0),
    };
    // Rounding of the listed rates leaves crumbs: "other" only if it is
    // at least an object a second.
    if other.objects_per_sec >= 1.0 {
        sites.push(other);
    }
    if un.objects > 0 {
        sites.push(SiteRate {
            site: "unattributed".into(),
            objects_per_sec: un.objects as f64 / secs,
            bytes_per_sec: un.bytes as f64 / secs,
        });
    }
    let inuse = sampled_inuse(&report.inuse);
    SliceResult {
        ended_ns: report.window.start_unix_ns + report.window.duration_ns,
        seconds: secs,
        sites,
        est_slowdown_pct: report.overhead.est_target_slowdown_pct,
        pprof: crate::report::pprof::alloc_pprof_gz(report).ok(),
        cpu_pprof: crate::report::pprof::cpu_pprof_gz(report).and_then(Result::ok),
        cpu_error: None,
        inuse_pprof: (!inuse.is_empty())
            .then(|| crate::report::pprof::inuse_pprof_gz(report)?.ok())
            .flatten(),
        findings: probe_findings(report),
        inuse,
    }
}

/// The report's findings that need the slice's probes: the maps', and
/// `heap_growth` from sampled liveness (the runtime's profile, when on,
/// is the agent's own to follow, as are goroutines and LazyFree).
fn probe_findings(report: &Report) -> Vec<AgentFinding> {
    let sampled = report.inuse.source == Some("sampled");
    let secs = report.window.duration_ns as f64 / 1e9;
    report
        .findings
        .iter()
        .filter_map(|f| {
            let how = match f.kind {
                "map_never_shrinks" | "syncmap_residue" | "map_growth" => "map windows",
                "heap_growth" if sampled => "sampled object liveness",
                _ => return None,
            };
            Some(AgentFinding {
                kind: f.kind,
                severity: f.severity,
                site: label(f.site.as_ref()?),
                message: format!(
                    "{} ({how}, during an allocation slice of {secs:.0} s)",
                    f.message
                ),
            })
        })
        .collect()
}

/// The rows of a slice's sampled in-use figures (none from another
/// source: the agent reads the runtime's profile itself).
fn sampled_inuse(r: &InuseReport) -> Vec<SiteRow> {
    if r.source != Some("sampled") || r.samples == 0 {
        return Vec::new();
    }
    let row = |site: String, objects: u64, bytes: u64| SiteRow {
        site,
        objects,
        bytes,
    };
    let mut rows: Vec<SiteRow> = r
        .sites
        .iter()
        .map(|s| row(label(&s.site), s.inuse_objects, s.inuse_bytes))
        .collect();
    if r.other_bytes > 0 {
        rows.push(row("other".into(), r.other_objects, r.other_bytes));
    }
    if let (Some(o), Some(b @ 1..)) = (r.unattributed_objects, r.unattributed_bytes) {
        rows.push(row("unattributed".into(), o, b));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::InuseSite;
    use crate::tracee::gobin::Frame;

    fn site(function: &str, objects: u64, bytes: u64) -> InuseSite {
        let f = Frame {
            function: function.into(),
            file: "/src/main.go".into(),
            line: 7,
            inlined: false,
        };
        InuseSite {
            site: f.clone(),
            stack: vec![f],
            inuse_objects: objects,
            inuse_bytes: bytes,
            samples: 3,
            est_error_pct: None,
            alloc_objects: None,
            alloc_bytes: None,
            growth_bytes: None,
            growth_cycles: None,
        }
    }

    #[test]
    fn sampled_inuse_rows_end_with_other_and_unattributed() {
        let mut r = InuseReport {
            source: Some("sampled"),
            samples: 9,
            sites: vec![site("main.keep", 40, 40_960), site("main.leak", 2, 2 << 20)],
            other_objects: 1,
            other_bytes: 48,
            unattributed_objects: Some(500),
            unattributed_bytes: Some(1 << 20),
            ..Default::default()
        };
        let rows = sampled_inuse(&r);
        let names: Vec<&str> = rows.iter().map(|r| r.site.as_str()).collect();
        assert_eq!(
            names,
            [
                "main.keep main.go:7",
                "main.leak main.go:7",
                "other",
                "unattributed"
            ]
        );
        assert_eq!((rows[1].objects, rows[1].bytes), (2, 2 << 20));
        assert_eq!((rows[3].objects, rows[3].bytes), (500, 1 << 20));
        // The runtime's own profile: the agent reads it itself.
        r.source = Some("runtime_profile");
        assert!(sampled_inuse(&r).is_empty());
        // No sample decided yet (no GC during the slice): no rows.
        r.source = Some("sampled");
        r.samples = 0;
        assert!(sampled_inuse(&r).is_empty());
    }

    #[test]
    fn a_slice_with_sampled_inuse_has_an_inuse_profile() {
        let mut r = crate::report::folded::fixture::report();
        assert!(result(&r).inuse_pprof.is_none(), "no in-use figures");
        r.inuse = InuseReport {
            source: Some("sampled"),
            samples: 9,
            sites: vec![site("main.keep", 40, 40_960)],
            ..Default::default()
        };
        r.inuse_stacks = vec![crate::report::StackCount {
            frames: r.inuse.sites[0].stack.clone(),
            objects: 40,
            bytes: 40_960,
        }];
        let gz = result(&r).inuse_pprof.expect("an in-use profile");
        let p = crate::report::pprof::decode_gz(&gz).unwrap();
        let types: Vec<&str> = p
            .sample_type
            .iter()
            .map(|t| p.string_table[t.r#type as usize].as_str())
            .collect();
        assert_eq!(types, ["inuse_objects", "inuse_space"]);
        assert_eq!(p.sample.len(), 1);
        assert_eq!(p.sample[0].value, [40, 40_960]);
        // Sampled heap_growth and the maps' findings are the slice's; what
        // the agent finds without probes (goroutines) is not.
        let finding = |kind| crate::report::Finding {
            kind,
            severity: "warn",
            site: Some(r.inuse.sites[0].site.clone()),
            message: "grew".into(),
        };
        r.findings = vec![
            finding("goroutine_leak"),
            finding("heap_growth"),
            finding("map_never_shrinks"),
        ];
        let f = result(&r).findings;
        let kinds: Vec<&str> = f.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["heap_growth", "map_never_shrinks"]);
        assert_eq!(f[0].site, "main.keep main.go:7");
        assert!(
            f[0].message.starts_with("grew (sampled"),
            "{}",
            f[0].message
        );
        assert!(
            f[1].message.starts_with("grew (map windows"),
            "{}",
            f[1].message
        );
        // The runtime's own profile: the agent's heap profile has it, and
        // the agent follows its growth itself.
        r.inuse.source = Some("runtime_profile");
        let again = result(&r);
        assert!(again.inuse_pprof.is_none());
        let kinds: Vec<&str> = again.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["map_never_shrinks"]);
    }
}
