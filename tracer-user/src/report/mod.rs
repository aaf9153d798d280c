//! The report: one immutable value per window, rendered by the sinks
//! (`text`, `json`). Field names follow shared/report-schema.md.
pub mod files;
pub mod flamegraph;
pub mod folded;
pub mod json;
pub mod pprof;
pub mod text;

use serde::Serialize;

use crate::gobin::Frame;

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
    /// Functions timed with --time.
    pub functions: Vec<FuncLatency>,
    pub goroutines: Vec<GoroutineSite>,
    pub goroutine_totals: GoroutineTotals,
    pub madvise: MadviseReport,
    pub findings: Vec<Finding>,
    /// Every allocating stack of the window (for folded stacks, flame
    /// graphs and pprof); not in the JSON lines, which carry sites.
    #[serde(skip)]
    pub alloc_stacks: Vec<StackCount>,
}

/// Goroutines created at one `go` statement.
#[derive(Debug, Clone, Serialize)]
pub struct GoroutineSite {
    pub created_at: Frame,
    /// In the window.
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
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MadviseReport {
    /// Cross-check from the syscalls:sys_enter_madvise tracepoint (all of
    /// the target's madvise syscalls, Go's and any C code's).
    pub syscall_calls: u64,
    pub syscall_bytes: u64,
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
    pub calls: u64,
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
    pub latency_ns: Percentiles,
}

#[derive(Debug, Clone, Serialize, Default)]
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub probe_hits: u64,
    pub lost_events: u64,
    /// Stacks the kernel could not store (their allocations are counted under "[unknown]").
    pub stack_drops: u64,
    pub stacks_truncated: u64,
    /// Measured at start on this machine.
    pub cost_per_hit_ns: f64,
    /// Probe time charged to the target, over the target's CPU time without it.
    pub est_target_slowdown_pct: f64,
    pub target_cpu_ns: u64,
    /// Peak resident memory of the tracer itself.
    pub tracer_max_rss_bytes: u64,
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
