//! The numbers in the header, taken from each pair of reports.
use tracer::report::Report;

pub struct Summary {
    pub pid: u32,
    pub exe: String,
    pub go_version: String,
    pub stripped: bool,
    pub exited: bool,
    pub mode: &'static str,
    pub sample_rate: u64,
    /// Length of the whole run so far.
    pub uptime_ns: u64,
    /// Last interval.
    pub probe_hits_per_sec: f64,
    pub slowdown_pct: f64,
    /// `slowdown_pct` is only a lower bound (probes took most of the CPU).
    pub slowdown_lower_bound: bool,
    pub objects_per_sec: f64,
    pub bytes_per_sec: f64,
    /// Whole run: a loss anywhere in the run makes every total an
    /// undercount, so it stays visible after the interval that had it.
    pub lost_events: u64,
    pub stack_drops: u64,
    /// Sampled mode: the governor's budget and duty cycle (whole run).
    pub governor: Option<(f64, f64)>,
    /// Sampled mode, whole run: CPUs the target keeps busy, and the probes'
    /// time a second (a nearly idle target is shown by these, not by a
    /// percentage of its tiny CPU time).
    pub target_cpus: Option<f64>,
    pub probe_ms_per_sec: f64,
    /// Last interval: the tracer's own CPU time (every thread, the TUI's
    /// drawing included), % of a CPU.
    pub tracer_cpu_pct: f64,
    /// Sampled mode: probe groups shed for lack of budget.
    pub shed: Vec<&'static str>,
    /// Last interval: allocations no window saw, per second and share.
    pub unattributed_per_sec: f64,
    pub unattributed_share: f64,
    /// Sampled mode: 95 % error of the top site's share (last interval).
    pub est_error_pct: Option<f64>,
}

impl Summary {
    pub fn new(interval: &Report, total: &Report) -> Summary {
        let secs = (interval.window.duration_ns as f64 / 1e9).max(1e-9);
        let t = &total.target;
        // Sampled windows come once per period: a one-second interval
        // says little, the whole run is what the governor holds.
        let slowdown = if total.window.sampling.is_some() {
            &total.overhead
        } else {
            &interval.overhead
        };
        Summary {
            pid: t.pid,
            exe: t.exe.clone(),
            go_version: t.go_version.clone(),
            stripped: t.stripped,
            exited: t.exited || interval.target.exited,
            mode: total.window.mode,
            sample_rate: total.window.sample_rate,
            uptime_ns: total.window.duration_ns,
            probe_hits_per_sec: interval.overhead.probe_hits as f64 / secs,
            slowdown_pct: slowdown.est_target_slowdown_pct,
            slowdown_lower_bound: slowdown.est_target_slowdown_lower_bound,
            objects_per_sec: interval.allocation_totals.objects as f64 / secs,
            bytes_per_sec: interval.allocation_totals.bytes as f64 / secs,
            lost_events: total.overhead.lost_events,
            stack_drops: total.overhead.stack_drops,
            governor: total
                .window
                .sampling
                .as_ref()
                .map(|s| (s.budget_pct, s.duty_cycle_pct)),
            target_cpus: total.window.sampling.as_ref().map(|s| s.target_cpus),
            probe_ms_per_sec: total.overhead.probe_ns as f64
                / 1e6
                / (total.window.duration_ns as f64 / 1e9).max(1e-9),
            tracer_cpu_pct: 100.0 * interval.overhead.tracer_cpu_ns as f64 / 1e9 / secs,
            shed: total
                .window
                .sampling
                .as_ref()
                .map(|s| s.shed.clone())
                .unwrap_or_default(),
            unattributed_per_sec: interval.unattributed.objects as f64 / secs,
            unattributed_share: interval.unattributed.share,
            est_error_pct: interval.window.sampling.as_ref().map(|s| s.est_error_pct),
        }
    }
}
