//! The report: one immutable value per window, rendered by the sinks
//! (`text`, `json`). Field names follow shared/report-schema.md.
pub mod files;
pub mod flamegraph;
pub mod folded;
pub mod json;
pub mod pprof;
pub mod text;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::tracee::gobin::Frame;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    /// "interval" or "final".
    pub kind: &'static str,
    pub target: TargetInfo,
    pub window: Window,
    pub overhead: Overhead,
    pub allocations: Vec<AllocSite>,
    pub allocation_totals: AllocTotals,
    pub unattributed: Unattributed,
    /// Functions timed with --time.
    pub functions: Vec<FuncLatency>,
    pub goroutines: Vec<GoroutineSite>,
    pub goroutine_totals: GoroutineTotals,
    pub madvise: MadviseReport,
    /// Maps and sync.Maps grouped by creation site, by bytes then operations.
    pub map_sites: Vec<MapSite>,
    /// Maps and sync.Maps worth a row of their own (big, many entries, busy,
    /// long-lived, or in a finding): the top ones by bytes, then by operations.
    pub maps: Vec<MapReport>,
    pub map_totals: MapTotals,
    /// On-CPU samples of the target (null when sampling is off).
    pub cpu: Option<CpuReport>,
    /// Who holds the heap now (after the last GC), by allocation site.
    pub inuse: InuseReport,
    pub findings: Vec<Finding>,
    /// Every allocating stack of the window (for folded stacks, flame
    /// graphs and pprof); not in the JSON lines, which carry sites.
    #[serde(skip)]
    pub alloc_stacks: Vec<StackCount>,
    /// Every sampled on-CPU stack of the window (for the same exports).
    #[serde(skip)]
    pub cpu_stacks: Vec<CpuStack>,
    /// In-use objects and bytes per stack (pprof, folded, flame graph).
    #[serde(skip)]
    pub inuse_stacks: Vec<StackCount>,
}

/// In-use heap by allocation site: what objects allocated at each site
/// hold now, as of the last completed GC.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InuseReport {
    /// `runtime_profile` (the runtime's own heap profile, read from its
    /// memory), `sampled` (object liveness sampled in the allocation
    /// windows); null when there is no source (`unavailable` says why).
    pub source: Option<&'static str>,
    pub unavailable: Option<String>,
    /// `MemProfileRate`: one allocation sampled per this many bytes, on
    /// average.
    pub profile_rate: Option<u64>,
    /// The GC cycle the figures are as of (the profile's cycle count).
    pub gc_cycle: Option<u32>,
    /// Profile buckets read (one per stack and object size).
    pub buckets: u64,
    /// More buckets than the reader takes: figures are partial.
    pub truncated: bool,
    /// Sampled objects in use, before scaling.
    pub samples: u64,
    /// In use, every site (scaled as `go tool pprof` scales).
    pub objects: u64,
    pub bytes: u64,
    /// Allocated since the process started (the profile's `alloc_*`;
    /// null for sampled liveness).
    pub alloc_objects: Option<u64>,
    pub alloc_bytes: Option<u64>,
    /// Sampled liveness: objects sampled since attach; those allocated
    /// since the last GC (not decided yet); those whose fate could not be
    /// told (a GC cycle went unobserved: dropped); those not followed
    /// (too many at once).
    pub sampled_objects: Option<u64>,
    pub pending_samples: Option<u64>,
    pub dropped_samples: Option<u64>,
    pub untracked_samples: Option<u64>,
    /// Sampled liveness: the runtime's live heap that no sample places
    /// (objects from before attach, classes no window sampled).
    pub unattributed_objects: Option<u64>,
    pub unattributed_bytes: Option<u64>,
    /// Top sites by in-use bytes; the rest summed in `other_*`.
    pub sites: Vec<InuseSite>,
    pub other_objects: u64,
    pub other_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InuseSite {
    pub site: Frame,
    /// Heaviest stack (by in-use bytes) through the site, innermost first.
    pub stack: Vec<Frame>,
    pub inuse_objects: u64,
    pub inuse_bytes: u64,
    /// Sampled objects behind the figures.
    pub samples: u64,
    /// 95 % sampling error of the figures, percent (1.96 / √samples).
    pub est_error_pct: Option<f64>,
    /// Allocated at the site since the process started (runtime profile
    /// only).
    pub alloc_objects: Option<u64>,
    pub alloc_bytes: Option<u64>,
    /// In-use bytes now minus at the first GC cycle the tracer saw, and
    /// the cycles between (null before two cycles were seen).
    pub growth_bytes: Option<i64>,
    pub growth_cycles: Option<u32>,
}

impl InuseSite {
    /// "+18.0 MiB in 12 GCs", or "-" before two GC cycles were seen.
    pub fn growth_label(&self) -> String {
        match (self.growth_bytes, self.growth_cycles) {
            (Some(g), Some(c)) if c > 0 => format!(
                "{}{} in {c} GCs",
                if g < 0 { "-" } else { "+" },
                text::human_bytes(g.unsigned_abs() as f64)
            ),
            _ => "-".into(),
        }
    }

    /// The 95 % sampling error as "±10%", or "-" without samples.
    pub fn error_label(&self) -> String {
        self.est_error_pct
            .map_or("-".into(), |e| format!("±{:.0}%", e.min(999.0)))
    }
}

/// The target's on-CPU samples in the window: a `cpu-clock` perf event per
/// CPU, each sample standing for `period_ns` of the target's CPU time.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CpuReport {
    pub frequency_hz: u64,
    pub period_ns: u64,
    pub samples: u64,
    /// Of `samples`, taken in the kernel (syscalls, faults, probe traps).
    pub kernel_samples: u64,
    /// Samples whose stack the kernel could not store (under `[unknown]`).
    pub stack_drops: u64,
    /// `samples × period_ns`.
    pub cpu_ns: u64,
    /// CPU time by kind of work ("map", "alloc", "gc_assist", "other", and
    /// "probe_single_step": the kernel stepping a probed instruction, the
    /// tracer's own cost): the innermost frame that is a map operation, an
    /// allocation or a GC assist.
    pub by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// By function, heaviest self time first; `total_ns` includes callees.
    /// The top N by self time and the top N by total time.
    pub functions: Vec<CpuFunction>,
    /// By program site (the first frame of the program's own code), with
    /// its map, allocation and GC-assist shares.
    pub sites: Vec<CpuSite>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuFunction {
    pub function: String,
    pub self_ns: u64,
    pub total_ns: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuSite {
    pub site: Frame,
    pub total_ns: u64,
    pub map_ns: u64,
    pub alloc_ns: u64,
    pub gc_assist_ns: u64,
}

/// One sampled stack: innermost first, inlined frames expanded.
#[derive(Debug, Clone)]
pub struct CpuStack {
    pub frames: Vec<Frame>,
    pub samples: u64,
    pub ns: u64,
}

/// One map or sync.Map: what the probes saw (operations, latencies) and
/// what its memory shows at the end of the window (read-only).
#[derive(Debug, Clone, Serialize)]
pub struct MapReport {
    /// Address of the map header / sync.Map.
    pub id: String,
    /// "map" or "sync.Map".
    pub kind: &'static str,
    /// "classic", "swiss", "read_dirty" (sync.Map ≤ 1.23) or "hashtrie".
    #[serde(rename = "impl")]
    pub implementation: &'static str,
    /// Creation site (makemap), or where it was first seen when it existed before attach.
    pub created_at: Frame,
    /// Created before the tracer attached (or while it was not watching): `created_at` is the first-seen site.
    pub first_seen_only: bool,
    /// The creation / first-seen stack, innermost first.
    pub stack: Vec<Frame>,
    pub live: u64,
    /// sync.Map: entries still referenced, deleted ones included.
    pub held: u64,
    pub capacity_slots: u64,
    pub tombstones: u64,
    pub tombstone_ratio: f64,
    pub bytes: u64,
    /// Share of the map's buckets / groups read (1 = all; large maps are sampled).
    pub scanned_fraction: f64,
    /// Why the memory figures are missing, if they are.
    pub memory_error: Option<String>,
    /// Operations in the window (sampled mode: while watched): load, load_miss, store, delete, iterate, clear, grow; sync.Map also swap, load_or_store, load_and_delete, range.
    pub ops: std::collections::BTreeMap<&'static str, u64>,
    pub ops_per_sec: f64,
    /// Entry→RET per operation since attach, minus the probes' floor
    /// (`map_totals.latency_floor_ns`); a percentile below
    /// `map_totals.latency_resolution_ns` is null (not measurable).
    pub latency_ns: std::collections::BTreeMap<&'static str, Latency>,
    /// Mean CPU time per operation since attach: on-CPU samples in the
    /// operation's code (user mode, while operations were counted) over the
    /// operations counted; with its 95 % interval and the samples behind
    /// it. Null (not measurable) with fewer than 10 samples, or under
    /// twice `map_totals.latency_resolution_ns`: the probes that count the
    /// operations add more than that to each (`collect::map_cost`).
    pub cost_ns: std::collections::BTreeMap<&'static str, Option<f64>>,
    pub cost_ns_ci95: std::collections::BTreeMap<&'static str, [f64; 2]>,
    pub cost_samples: std::collections::BTreeMap<&'static str, f64>,
    /// User-mode CPU in its operations since attach (all on-CPU samples in
    /// map code called from its call sites, shared by operation counts
    /// where several maps share a site); null without on-CPU sampling.
    pub cpu_ns: Option<u64>,
    /// sync.Map stores of nil, zero or empty values.
    pub zero_value_stores: u64,
    /// Read/dirty sync.Map: entries of the read map each Range walked (deleted ones included).
    pub range_visited_mean: Option<f64>,
    pub range_visited_max: Option<u64>,
}

/// The maps of one creation site: for maps created before attach, of one
/// first-seen site. Liveness is what the tracer can tell from outside; see
/// `map_totals.definitions`.
#[derive(Debug, Clone, Serialize)]
pub struct MapSite {
    /// The `created_at` frame its maps share.
    pub created_at: Frame,
    /// Maps created before attach (or while creation was not watched):
    /// `created_at` is where they were first seen.
    pub first_seen_only: bool,
    /// "map" or "sync.Map".
    pub kind: &'static str,
    #[serde(rename = "impl")]
    pub implementation: &'static str,
    /// Creation (or first-seen) stack of its largest map, innermost first.
    pub stack: Vec<Frame>,
    /// makemap calls at this site in the window (sampled mode: while map
    /// probes were attached).
    pub created: u64,
    /// Its maps the tracer holds now: created or seen, not replaced by a
    /// new map at the same address. `alive + gone + liveness_unknown`.
    pub tracked: u64,
    /// Header read at this report and still the same map (same hash seed).
    /// An upper bound: a map the GC freed reads as itself until its memory
    /// is reused.
    pub alive: u64,
    /// The header no longer holds this map: unreadable, not a map, or a
    /// new hash seed with no delete or clear seen (exact mode).
    pub gone: u64,
    /// Not known: sync.Maps whose memory was not read, maps whose seed
    /// changed while operations were not all watched (sampled mode), memory
    /// not readable.
    pub liveness_unknown: u64,
    /// `len(m)` summed over the alive maps.
    pub live_entries: u64,
    /// Bytes of the alive maps whose memory was read in full (`bytes_maps`
    /// of them; small idle maps may not all be read at each report).
    pub bytes: u64,
    pub bytes_maps: u64,
    /// Operations in the window, summed over its maps (as in `maps[].ops`).
    pub ops: std::collections::BTreeMap<&'static str, u64>,
    pub ops_per_sec: f64,
    /// Growths in the window (`ops.grow`).
    pub grows: u64,
    /// Its largest map read (by bytes), and its bytes.
    pub largest_map: Option<String>,
    pub largest_bytes: u64,
    /// Of its maps, those listed singly in `maps`.
    pub listed: u64,
}

impl MapSite {
    /// "sync.Map", or the map implementation ("classic", "swiss").
    pub fn kind_label(&self) -> &'static str {
        if self.kind == "sync.Map" {
            "sync.Map"
        } else {
            self.implementation
        }
    }
}

impl MapReport {
    /// "sync.Map", or the map implementation ("classic", "swiss").
    pub fn kind_label(&self) -> &'static str {
        if self.kind == "sync.Map" {
            "sync.Map"
        } else {
            self.implementation
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MapTotals {
    /// Maps and sync.Maps seen.
    pub tracked: u64,
    /// Those not in `maps`, summed.
    pub other_maps: u64,
    pub other_bytes: u64,
    pub other_ops: u64,
    /// Operations on maps beyond the tracking limit.
    pub untracked_ops: u64,
    /// Shortest entry→RET seen: the probes' own cost inside each measured duration.
    pub latency_floor_ns: u64,
    /// The probe pair's resolution: twice the spread of its own error,
    /// calibrated at attach on a function of known duration (and never
    /// below twice the tightest spread of the operations seen on the
    /// target). Latencies below it are null.
    pub latency_resolution_ns: u64,
    /// Map probes attached (0: maps not traced).
    pub probes: u64,
    /// Sampled mode: operations are only seen in some sampling windows;
    /// this is how long they were watched in the report window (`ops` are
    /// what was seen then, `ops_per_sec` is per watched second).
    pub ops_watched_ns: Option<u64>,
    pub definitions: &'static str,
}

/// Goroutines created at one `go` statement.
#[derive(Debug, Clone, Serialize)]
pub struct GoroutineSite {
    /// The `go` statement; "main goroutine" (at main.main) for the main
    /// goroutine; the start function for others the runtime started.
    pub created_at: Frame,
    /// In the window. Sampled mode (`goroutine_totals.source` "snapshots"):
    /// only what the snapshots saw (not goroutines that started and ended
    /// between two).
    pub created: u64,
    pub exited: u64,
    /// Alive at the end of the window (pre-existing ones included).
    pub live: u64,
    /// Of `live`'s site: alive when the tracer attached (counted from the runtime's list).
    pub pre_existing: u64,
    /// What the live ones are blocked on (wait reason → count), sampled.
    pub blocked_on: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct GoroutineTotals {
    pub live: u64,
    pub created: u64,
    pub exited: u64,
    pub pre_existing: u64,
    /// The runtime's own goroutines (GC workers…), not in `live` nor in `runtime.NumGoroutine()`.
    pub system: u64,
    /// The runtime's list could not be read at attach (e.g. stripped binary): `live` counts only goroutines created since.
    pub pre_existing_unknown: bool,
    /// Where `created`/`exited` come from: "probes" (exact mode: every
    /// creation and exit), "snapshots" (sampled mode: the runtime's
    /// goroutine list read periodically, see `snapshots`), "none" (sampled
    /// mode, the list could not be read).
    pub source: &'static str,
    /// Sampled mode: the readings of the runtime's list.
    pub snapshots: Option<GoroutineSnapshots>,
}

impl GoroutineTotals {
    /// Sampled mode, for the text report and the TUI: how `created` and
    /// `exited` were counted ("seen by snapshots every 1 s"), then what
    /// the goid counter says and anything that limited the readings.
    pub fn snapshot_note(&self) -> Option<String> {
        use std::fmt::Write as _;
        let s = self.snapshots.as_ref()?;
        let mut note = format!(
            "seen by snapshots every {} s",
            s.interval_ms as f64 / 1000.0
        );
        if let (Some(c), Some(e)) = (s.created_by_goid_counter, s.goid_counter_error) {
            let _ = write!(note, "; goid counter: {c} ±{e} created in all");
        }
        if s.truncated {
            let _ = write!(
                note,
                "; only the first {} of {} list entries read",
                crate::tracee::goroutines::MAX_READ_GS,
                s.list_entries
            );
        }
        if let Some(e) = &s.error {
            let _ = write!(note, "; last reading failed ({e})");
        }
        Some(note)
    }
}

/// Sampled mode's goroutine census: readings of the runtime's goroutine
/// list (read-only, no probes). Per-site `created`/`exited` are what
/// consecutive readings differ by: goroutines that started and ended
/// between two readings are not counted. `live` is exact as of the last
/// reading.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GoroutineSnapshots {
    /// How often the list is read.
    pub interval_ms: u64,
    /// Age of the reading this report is from, and what it cost the tracer
    /// (the target is not stopped).
    pub age_ms: f64,
    pub read_ms: f64,
    /// Goroutines in the reading (system ones included) and entries of the
    /// runtime's list (dead ones kept for reuse included).
    pub goroutines_read: u64,
    pub list_entries: u64,
    /// The list was longer than a reading covers (1,000,000 entries): only
    /// its beginning is counted.
    pub truncated: bool,
    /// Readings that failed since the last one that worked, and why.
    pub failed: u64,
    pub error: Option<String>,
    /// Goroutines created in the window (system ones included), from the
    /// runtime's goid counter `runtime.sched.goidgen`: counts those the
    /// snapshots miss. Null without `.symtab` (stripped binary).
    pub created_by_goid_counter: Option<u64>,
    /// ± error of `created_by_goid_counter`: each P takes ids 16 at a time
    /// (16 × GOMAXPROCS).
    pub goid_counter_error: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MadviseReport {
    /// Where `by_advice` comes from: `probes` (exact mode: runtime.madvise
    /// and the syscall tracepoint) or `runtime` (the default mode: the
    /// runtime's own released-bytes counter, no probe).
    pub source: &'static str,
    /// Cross-check from the syscalls:sys_enter_madvise tracepoint (all of
    /// the target's madvise syscalls, Go's and any C code's); exact mode
    /// only (`null` in the default mode).
    pub syscall_calls: Option<u64>,
    pub syscall_bytes: Option<u64>,
    pub by_advice: std::collections::BTreeMap<String, CallsBytes>,
    /// Runtime callers (first function above runtime.madvise and its wrappers).
    pub callers: Vec<MadviseCaller>,
    pub rss_bytes: u64,
    pub anon_bytes: u64,
    pub lazyfree_bytes: u64,
    /// RSS and LazyFree over the window, one sample per second.
    pub timeline: Vec<RssSample>,
}

#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct CallsBytes {
    /// `null` where calls are not counted (the default mode).
    pub calls: Option<u64>,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MadviseCaller {
    pub advice: String,
    pub caller: String,
    pub calls: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct RssSample {
    pub unix_ns: u64,
    pub rss_bytes: u64,
    pub anon_bytes: u64,
    pub lazyfree_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: &'static str,
    pub severity: &'static str,
    pub site: Option<Frame>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct StackCount {
    /// Innermost first, inlined frames expanded.
    pub frames: Vec<Frame>,
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FuncLatency {
    pub function: String,
    pub calls: u64,
    /// Percentiles below `latency_ns.resolution_ns` are null (not measurable).
    pub latency_ns: Latency,
}

/// Latency percentiles as measured by an entry/RET probe pair: each is
/// null when below the pair's resolution (what it would show is the probes'
/// own jitter, not the program's latency).
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Latency {
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
    pub mean: Option<f64>,
    pub resolution_ns: u64,
}

impl Latency {
    /// `p` with every figure below `resolution_ns` made null.
    pub fn resolved(p: &Percentiles, resolution_ns: u64) -> Latency {
        let keep = |v: u64| (v >= resolution_ns && v > 0).then_some(v);
        Latency {
            p50: keep(p.p50),
            p90: keep(p.p90),
            p99: keep(p.p99),
            max: keep(p.max),
            mean: (p.mean >= resolution_ns as f64 && p.mean > 0.0).then_some(p.mean),
            resolution_ns,
        }
    }

    /// The resolution for a probe pair whose noise is `width_ns` wide
    /// (p99 − p1 of its own error): a figure within twice it is noise.
    pub fn resolution_for(width_ns: u64) -> u64 {
        2 * width_ns
    }

    /// One of this latency's figures: "1.2 ms", or "< 35 µs" below the
    /// resolution.
    pub fn show(&self, v: Option<u64>, fmt: impl Fn(f64) -> String) -> String {
        match v {
            Some(v) => fmt(v as f64),
            None => format!("< {}", fmt(self.resolution_ns as f64)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub exe: String,
    pub go_version: String,
    pub stripped: bool,
    pub pie: bool,
    pub cgo: bool,
    /// Set when the target exited during the window.
    pub exited: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub start_unix_ns: u64,
    pub duration_ns: u64,
    pub mode: &'static str,
    /// 1 = every event counted.
    pub sample_rate: u64,
    /// How allocations are probed.
    pub alloc_probes: String,
    /// Time to load, calibrate and attach, before the window started.
    pub attach_ns: u64,
    /// How the sampled mode sampled (absent in exact mode).
    pub sampling: Option<Sampling>,
    /// Where the in-use figures come from (`runtime_profile`), or null.
    pub inuse_source: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sampling {
    pub method: &'static str,
    /// --max-overhead.
    pub budget_pct: f64,
    /// Share of the window the sampling probes were attached.
    pub duty_cycle_pct: f64,
    pub windows: u64,
    /// Allocation windows opened early because the allocation rate changed
    /// (bursts), of `windows`.
    pub burst_windows: u64,
    /// Length of the last window (the governor sizes each to its budget).
    pub window_ms: f64,
    /// Mean time between regular window starts at the end (each start
    /// jittered ±50 %): 1 s, or up to 4 s once a window's switch was
    /// measured to cost ≥ 4 ms a busy CPU, while no burst opens a window
    /// between them.
    pub period_ms: f64,
    /// Map-operation windows (with map creation and growth): count, last
    /// length, mean period.
    pub map_windows: u64,
    pub map_window_ms: f64,
    pub map_period_ms: f64,
    /// Probe groups shed for lack of budget ("map operations", then
    /// "allocation samples"): they open no window until it allows.
    pub shed: Vec<&'static str>,
    /// BPF run time per hit of the allocation and map programs, ns
    /// (kernel BPF statistics; null until measured or where the kernel
    /// keeps none).
    pub bpf_ns_per_hit: Option<f64>,
    pub map_bpf_ns_per_hit: Option<f64>,
    /// What a hit cost the target, measured on it: its extra CPU time per
    /// object allocated while windows were open, over their hits (ns,
    /// smoothed; null until a window was measurable). The governor charges
    /// hits at this when it is above the trap + BPF estimate.
    pub in_situ_ns_per_hit: Option<f64>,
    pub map_in_situ_ns_per_hit: Option<f64>,
    /// CPUs the target kept busy over the report window (its CPU time over
    /// the window's length): the budget is a share of its CPU time.
    pub target_cpus: f64,
    /// Samples (refills + large objects) in this report window.
    pub samples: u64,
    /// Allocations the samples stood for, before scaling.
    pub sampled_objects: u64,
    /// Sampled counts were multiplied by this to match the runtime's counters.
    pub scale: f64,
    /// Where the totals come from: "runtime counters" (exact, read from the
    /// target's memstats) or "duty cycle" (sampled / duty).
    pub totals_from: &'static str,
    /// 95 % interval half-width of the top site's share, relative, percent.
    pub est_error_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub probe_hits: u64,
    pub lost_events: u64,
    /// Stacks the kernel could not store (their allocations are counted under `[unknown]`).
    pub stack_drops: u64,
    pub stacks_truncated: u64,
    /// Measured at start on this machine: the trap alone, at an
    /// instruction the kernel emulates (where every entry probe sits).
    pub cost_per_hit_ns: f64,
    /// The same at an instruction the kernel single-steps (RET probes).
    pub stepped_hit_ns: f64,
    /// Hits at single-stepped points, of `probe_hits`.
    pub stepped_hits: u64,
    /// BPF programs' own run time per run over the window (kernel BPF
    /// statistics), on top of the trap; null where not measured.
    pub bpf_ns_per_hit: Option<f64>,
    /// What the tracer took from the target (`probe_ns` +
    /// `tracer_taken_ns`), over the target's CPU time without its probes.
    /// Not in it: stalls that keep the target off-CPU while a window's
    /// probes are written into its text, nor what the on-CPU sampler's
    /// timer interrupts cost beyond its program's run time.
    pub est_target_slowdown_pct: f64,
    /// `est_target_slowdown_pct` is only a lower bound: the probes took
    /// most of the target's CPU, and what was left for its own work cannot
    /// be measured.
    pub est_target_slowdown_lower_bound: bool,
    /// That probe time, ns: hits × (their trap + BPF run time, or in
    /// sampled mode what a hit was measured to cost the target, if more),
    /// in sampled mode each window's switch at what a switch was measured
    /// to cost by the end of the report window, and the on-CPU sampling
    /// program's run time.
    pub probe_ns: u64,
    pub target_cpu_ns: u64,
    /// CPU time the tracer itself used over the window (all its threads,
    /// user and system).
    pub tracer_cpu_ns: u64,
    /// Of that, what the target gave up, in `est_target_slowdown_pct`: the
    /// share that ran on CPUs the target may use (by the CPUs the tracer's
    /// threads may run on), at the share of those the target kept busy.
    pub tracer_taken_ns: u64,
    /// Peak resident memory of the tracer itself.
    pub tracer_max_rss_bytes: u64,
}

/// Allocations the runtime counted that no sampling window could stand for
/// (sampled mode; zero in exact mode): never a site.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Unattributed {
    pub objects: u64,
    pub bytes: u64,
    /// Of all objects in the window.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct AllocTotals {
    pub objects: u64,
    pub bytes: u64,
    /// Bytes rounded up to Go size classes: what MemStats.TotalAlloc counts.
    pub slot_bytes: u64,
    pub sites: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllocSite {
    pub site: Frame,
    /// Heaviest stack (by bytes) through this site, innermost first.
    pub stack: Vec<Frame>,
    pub stacks: usize,
    /// Library functions between the runtime and the site (e.g. io.ReadAll), innermost first.
    pub via: Vec<String>,
    pub objects: u64,
    pub bytes: u64,
    pub slot_bytes: u64,
    pub objects_per_sec: f64,
    pub bytes_per_sec: f64,
    pub avg_size: f64,
    pub size_p50: u64,
    pub size_p99: u64,
    pub size_max: u64,
    pub size_histogram: Vec<HistBucket>,
    /// Exact (size, count) pairs, largest count first (at most 16).
    pub sizes: Vec<SizeCount>,
    /// Held now by objects allocated here (any time since the process
    /// started), as of the last GC; null without an in-use source
    /// (`window.inuse_source`).
    pub inuse_objects: Option<u64>,
    pub inuse_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistBucket {
    pub le: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SizeCount {
    pub size: u64,
    pub count: u64,
}

/// Where reports go. One per output format.
pub trait Sink {
    fn write(&mut self, report: &Report) -> std::io::Result<()>;
}

/// Writes each report to every sink.
pub struct MultiSink(pub Vec<Box<dyn Sink>>);

impl Sink for MultiSink {
    fn write(&mut self, report: &Report) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.write(report))
    }
}

/// A latency histogram's summary (zeros when it is empty).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
        mean: h.mean(),
    }
}
