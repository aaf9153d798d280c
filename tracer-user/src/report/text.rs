//! A readable table of the heaviest allocation sites.
use std::io::Write;

use super::{Report, Sink};

pub struct TextSink<W: Write> {
    out: W,
    top: usize,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, top: usize) -> Self {
        TextSink { out, top }
    }
}

/// What a hit cost: the probe time charged per hit (trap, BPF run time
/// and, sampled, the windows' switches and what they measured on the
/// target), beside the traps alone as calibrated at attach (where the
/// kernel emulates the probed instruction, and where it single-steps it).
fn per_hit(o: &crate::report::Overhead) -> String {
    let traps = format!(
        "{:.1} µs emulated / {:.1} µs single-stepped",
        o.cost_per_hit_ns / 1000.0,
        o.stepped_hit_ns / 1000.0
    );
    if o.probe_hits == 0 {
        return format!("traps {traps} calibrated");
    }
    let charged = o.probe_ns as f64 / o.probe_hits as f64 / 1000.0;
    let stepped = 100.0 * o.stepped_hits as f64 / o.probe_hits as f64;
    format!("{charged:.1} µs a hit charged ({stepped:.0}% single-stepped), the traps alone {traps}")
}

/// The default mode budgets a nearly idle target as if it kept
/// [`IDLE_FLOOR`](crate::sampling::IDLE_FLOOR) of a CPU busy, so its
/// slowdown may read above the budget: said where it does.
fn near_idle(o: &crate::report::Overhead, secs: f64, sampled: bool) -> String {
    let cpus = o.target_cpu_ns as f64 / 1e9 / secs.max(1e-9);
    if !sampled || cpus >= crate::sampling::IDLE_FLOOR {
        return String::new();
    }
    format!(
        " (near idle, {:.2}% of a CPU: budgeted as {:.0}% of one)",
        100.0 * cpus,
        100.0 * crate::sampling::IDLE_FLOOR
    )
}

/// The tracer's own CPU over the window, as a share of one CPU, and what
/// of it the target gave up (in the estimated slowdown).
fn tracer_cpu(o: &crate::report::Overhead, secs: f64) -> String {
    let pct = |ns: u64| 100.0 * ns as f64 / 1e9 / secs.max(1e-9);
    let taken = if o.tracer_taken_ns > 0 {
        format!(" ({:.1}% from the target's)", pct(o.tracer_taken_ns))
    } else {
        String::new()
    };
    format!("tracer itself {:.1}% of a CPU{taken}", pct(o.tracer_cpu_ns))
}

pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn human_ns(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.2}s", n / 1e9),
        n if n >= 1e6 => format!("{:.2}ms", n / 1e6),
        n if n >= 1e3 => format!("{:.1}µs", n / 1e3),
        n => format!("{n:.0}ns"),
    }
}

pub fn render(r: &Report, top: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let secs = r.window.duration_ns as f64 / 1e9;
    let t = &r.target;
    let _ = writeln!(
        s,
        "== tracer {} report: pid {} {} ({}{}{}) — {:.1}s, mode {}{}",
        r.kind,
        t.pid,
        t.exe,
        t.go_version,
        if t.stripped { ", stripped" } else { "" },
        if t.pie { ", PIE" } else { "" },
        secs,
        r.window.mode,
        if t.exited { " — target exited" } else { "" }
    );
    let o = &r.overhead;
    let _ = writeln!(
        s,
        "probe hits {} ({:.0}/s, {}) — est. target slowdown {}{:.1}%{} — {} — lost events {}{}",
        o.probe_hits,
        o.probe_hits as f64 / secs.max(1e-9),
        per_hit(o),
        if o.est_target_slowdown_lower_bound {
            "≥ "
        } else {
            ""
        },
        o.est_target_slowdown_pct,
        near_idle(o, secs, r.window.sampling.is_some()),
        tracer_cpu(o, secs),
        o.lost_events,
        if o.stack_drops > 0 {
            format!(" — stacks dropped {}", o.stack_drops)
        } else {
            String::new()
        }
    );
    let a = &r.allocation_totals;
    let _ = writeln!(
        s,
        "allocations: {} objects, {} requested ({} in size classes), {} sites",
        a.objects,
        human_bytes(a.bytes as f64),
        human_bytes(a.slot_bytes as f64),
        a.sites
    );
    if let Some(w) = &r.window.sampling {
        let _ = writeln!(
            s,
            "sampled: totals from {}, {} windows ({} opened by bursts), probes on {:.2}% of the time, {} samples, top share ±{:.1}%{}",
            w.totals_from,
            w.windows,
            w.burst_windows,
            w.duty_cycle_pct,
            w.samples,
            w.est_error_pct,
            if w.shed.is_empty() {
                String::new()
            } else {
                format!(", shed for budget: {}", w.shed.join(", "))
            }
        );
    }
    let _ = writeln!(
        s,
        "{:>10} {:>10} {:>11} {:>10} {:>8} {:>6} {:>6}  site",
        "objects", "bytes", "bytes/s", "objects/s", "avg", "p50", "p99"
    );
    for site in r.allocations.iter().take(top) {
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>11} {:>10.0} {:>8.0} {:>6} {:>6}  {} {}:{}",
            site.objects,
            human_bytes(site.bytes as f64),
            human_bytes(site.bytes_per_sec) + "/s",
            site.objects_per_sec,
            site.avg_size,
            site.size_p50,
            site.size_p99,
            site.site.function,
            short_path(&site.site.file),
            site.site.line
        );
        if !site.via.is_empty() {
            let _ = writeln!(s, "{:>75}via {}", "", site.via.join(" ← "));
        }
    }
    let u = &r.unattributed;
    if u.objects > 0 {
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>11} {:>10.0} {:>8} {:>6} {:>6}  unattributed: {:.1}% of allocations no sampling window saw",
            u.objects,
            human_bytes(u.bytes as f64),
            human_bytes(u.bytes as f64 / secs.max(1e-9)) + "/s",
            u.objects as f64 / secs.max(1e-9),
            "",
            "",
            "",
            100.0 * u.share
        );
    }
    if !r.functions.is_empty() {
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>10} {:>10} {:>10}  timed function",
            "calls", "p50", "p99", "max", "mean"
        );
        for f in &r.functions {
            let l = &f.latency_ns;
            let show = |v: Option<u64>| l.show(v, human_ns);
            let _ = writeln!(
                s,
                "{:>10} {:>10} {:>10} {:>10} {:>10}  {}",
                f.calls,
                show(l.p50),
                show(l.p99),
                show(l.max),
                show(l.mean.map(|m| m as u64)),
                f.function
            );
        }
    }
    render_inuse(&mut s, r, top);
    render_cpu(&mut s, r, top);
    render_maps(&mut s, r, top);
    render_goroutines(&mut s, r, top);
    render_memory(&mut s, r);
    for f in &r.findings {
        let _ = writeln!(s, "FINDING {} [{}]: {}", f.kind, f.severity, f.message);
    }
    if r.allocations.len() > top {
        let _ = writeln!(
            s,
            "… {} more sites (--top N, or --format json for all)",
            r.allocations.len() - top
        );
    }
    s
}

fn render_inuse(s: &mut String, r: &Report, top: usize) {
    use std::fmt::Write as _;
    let u = &r.inuse;
    let Some(source) = u.source else {
        if let Some(why) = &u.unavailable {
            let _ = writeln!(s, "in use: not measured: {why}");
        }
        return;
    };
    let how = match (u.profile_rate, u.sampled_objects) {
        (Some(rate), _) => format!(
            "1 sample per {} allocated, {} buckets{}",
            human_bytes(rate as f64),
            u.buckets,
            if u.truncated { ", truncated" } else { "" }
        ),
        (None, Some(n)) => format!(
            "{n} objects sampled, {} alive, {} since the last GC, {} dropped (a GC unobserved)",
            u.samples,
            u.pending_samples.unwrap_or(0),
            u.dropped_samples.unwrap_or(0)
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "in use after GC {}: {} objects, {} (source {source}: {how})",
        u.gc_cycle.unwrap_or(0),
        u.objects,
        human_bytes(u.bytes as f64),
    );
    let _ = writeln!(
        s,
        "{:>10} {:>10} {:>7} {:>20}  site",
        "objects", "bytes", "err95", "growth"
    );
    for site in u.sites.iter().take(top).filter(|x| x.inuse_bytes > 0) {
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>7} {:>20}  {} {}:{}",
            site.inuse_objects,
            human_bytes(site.inuse_bytes as f64),
            site.error_label(),
            site.growth_label(),
            site.site.function,
            short_path(&site.site.file),
            site.site.line
        );
    }
    if let (Some(o), Some(b)) = (u.unattributed_objects, u.unattributed_bytes) {
        let _ = writeln!(
            s,
            "{o:>10} {:>10}  unattributed: live heap no sample places (allocated before attach, or in classes no window sampled)",
            human_bytes(b as f64)
        );
    }
    if u.other_bytes > 0 {
        let _ = writeln!(
            s,
            "{:>10} {:>10}  other sites",
            u.other_objects,
            human_bytes(u.other_bytes as f64)
        );
    }
}

fn render_cpu(s: &mut String, r: &Report, top: usize) {
    use std::fmt::Write as _;
    let Some(c) = &r.cpu else { return };
    if c.samples == 0 {
        let _ = writeln!(
            s,
            "on-CPU: no samples of the target at {} Hz",
            c.frequency_hz
        );
        return;
    }
    let pct = |ns: u64| 100.0 * ns as f64 / c.cpu_ns.max(1) as f64;
    let kinds = c
        .by_kind
        .iter()
        .filter(|(_, &ns)| ns > 0)
        .map(|(k, &ns)| format!("{k} {:.1}%", pct(ns)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "on-CPU: {} samples at {} Hz = {} of CPU ({} in the kernel); {kinds}",
        c.samples,
        c.frequency_hz,
        human_ns(c.cpu_ns as f64),
        c.kernel_samples
    );
    let _ = writeln!(s, "{:>7} {:>7}  function", "self", "total");
    for f in c.functions.iter().take(top.min(10)) {
        let _ = writeln!(
            s,
            "{:>6.1}% {:>6.1}%  {}",
            pct(f.self_ns),
            pct(f.total_ns),
            f.function
        );
    }
}

fn render_maps(s: &mut String, r: &Report, top: usize) {
    use std::fmt::Write as _;
    let t = &r.map_totals;
    if r.maps.is_empty() && r.map_sites.is_empty() {
        return;
    }
    // No duration seen: no floor to speak of.
    let latencies = if t.latency_floor_ns == 0 {
        "no operation latency measured".to_string()
    } else {
        format!(
            "latencies minus a {} probe floor, measurable from {}",
            human_ns(t.latency_floor_ns as f64),
            human_ns(t.latency_resolution_ns as f64)
        )
    };
    let _ = writeln!(
        s,
        "maps: {} seen, {} more summed ({}, {} ops); {latencies}",
        t.tracked,
        t.other_maps,
        human_bytes(t.other_bytes as f64),
        t.other_ops,
    );
    render_map_sites(s, r, top);
    if r.maps.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "maps listed singly (>= 64 KiB, >= 1,000 entries or ops, long-lived, or in a finding):"
    );
    let _ = writeln!(
        s,
        "{:>10} {:>9} {:>10} {:>9} {:>10}  {:<9} ops (p50/p99)  created at",
        "bytes", "live", "capacity", "tombst.", "ops/s", "kind"
    );
    for m in r.maps.iter().take(top.min(10)) {
        let ops = m
            .ops
            .iter()
            .map(|(k, v)| {
                let mut op = format!("{k} {v}");
                if let Some(l) = m.latency_ns.get(k) {
                    let show = |v: Option<u64>| l.show(v, human_ns);
                    let _ = write!(op, " ({}/{})", show(l.p50), show(l.p99));
                }
                if let Some(Some(c)) = m.cost_ns.get(k) {
                    let _ = write!(op, " [{} CPU/op]", human_ns(*c));
                }
                op
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (live, cap) = if m.kind == "sync.Map" {
            (format!("{}", m.live), format!("held {}", m.held))
        } else {
            (format!("{}", m.live), format!("{}", m.capacity_slots))
        };
        let _ = writeln!(
            s,
            "{:>10} {:>9} {:>10} {:>9} {:>10.1}  {:<9} {}  {}{} {}:{}{}",
            human_bytes(m.bytes as f64),
            live,
            cap,
            m.tombstones,
            m.ops_per_sec,
            m.kind_label(),
            ops,
            if m.first_seen_only {
                "(first seen) "
            } else {
                ""
            },
            m.created_at.function,
            short_path(&m.created_at.file),
            m.created_at.line,
            match &m.memory_error {
                Some(e) => format!("  [memory: {e}]"),
                None => String::new(),
            }
        );
    }
}

/// One row per creation site: how many maps it made, how many are still
/// there, what they hold.
fn render_map_sites(s: &mut String, r: &Report, top: usize) {
    use std::fmt::Write as _;
    if r.map_sites.is_empty() {
        return;
    }
    let shown = top.min(10);
    let _ = writeln!(
        s,
        "maps by creation site (alive: header still the same map, an upper bound; bytes of the alive maps read):"
    );
    let _ = writeln!(
        s,
        "{:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>10} {:>6}  {:<9} created at",
        "created", "tracked", "alive", "unknown", "bytes", "live", "ops/s", "grows", "kind"
    );
    for m in r.map_sites.iter().take(shown) {
        let bytes = human_bytes(m.bytes as f64);
        let _ = writeln!(
            s,
            "{:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>10.1} {:>6}  {:<9} {}{} {}:{}{}",
            m.created,
            m.tracked,
            m.alive,
            m.liveness_unknown,
            if m.bytes_maps < m.alive {
                format!("≥{bytes}")
            } else {
                bytes
            },
            m.live_entries,
            m.ops_per_sec,
            m.grows,
            m.kind_label(),
            if m.first_seen_only {
                "(first seen) "
            } else {
                ""
            },
            m.created_at.function,
            short_path(&m.created_at.file),
            m.created_at.line,
            match (&m.largest_map, m.listed) {
                (Some(id), 0) => format!("  largest {id} {}", human_bytes(m.largest_bytes as f64)),
                (_, 0) => String::new(),
                (_, n) => format!("  {n} listed below"),
            }
        );
    }
    if r.map_sites.len() > shown {
        let _ = writeln!(
            s,
            "… {} more map sites (--format json for all)",
            r.map_sites.len() - shown
        );
    }
}

fn render_goroutines(s: &mut String, r: &Report, top: usize) {
    use std::fmt::Write as _;
    let t = &r.goroutine_totals;
    if r.goroutines.is_empty() && t.live == 0 {
        return;
    }
    // Sampled mode: created/exited are what the snapshots saw.
    let note = t.snapshot_note();
    let _ = writeln!(
        s,
        "goroutines: {} live ({} before attach{}), {} created, {} exited{}",
        t.live,
        t.pre_existing,
        if t.pre_existing_unknown {
            ": runtime list not readable, not counted"
        } else {
            ""
        },
        t.created,
        t.exited,
        note.as_ref().map_or(String::new(), |n| format!(" ({n})"))
    );
    let _ = writeln!(
        s,
        "{:>8} {:>8} {:>8}  created at                                  blocked on{}",
        "live",
        "created",
        "exited",
        if note.is_some() {
            "   [created/exited: seen by snapshots]"
        } else {
            ""
        }
    );
    for g in r.goroutines.iter().take(top.min(10)) {
        let blocked = g
            .blocked_on
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "{:>8} {:>8} {:>8}  {} {}:{}  {}",
            g.live,
            g.created,
            g.exited,
            g.created_at.function,
            short_path(&g.created_at.file),
            g.created_at.line,
            blocked
        );
    }
}

fn render_memory(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let m = &r.madvise;
    if m.by_advice.is_empty() && m.rss_bytes == 0 {
        return;
    }
    let advice = m
        .by_advice
        .iter()
        .map(|(k, v)| match v.calls {
            Some(calls) => format!("{k} {calls} calls {}", human_bytes(v.bytes as f64)),
            None => format!("{k} {} released", human_bytes(v.bytes as f64)),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "memory: RSS {} (LazyFree {}); madvise: {}",
        human_bytes(m.rss_bytes as f64),
        human_bytes(m.lazyfree_bytes as f64),
        if advice.is_empty() {
            "none".to_string()
        } else {
            advice
        }
    );
    match (m.syscall_calls, m.syscall_bytes) {
        (Some(calls), Some(bytes)) => {
            let _ = writeln!(
                s,
                "  cross-check (syscalls:sys_enter_madvise): {calls} calls, {}",
                human_bytes(bytes as f64)
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "  (the runtime's released bytes, read every 25 ms; madvise calls and callers: --mode exact)"
            );
        }
    }
    for c in m.callers.iter().take(3) {
        let _ = writeln!(
            s,
            "  {} {} by {}",
            c.advice,
            human_bytes(c.bytes as f64),
            c.caller
        );
    }
}

fn short_path(path: &str) -> &str {
    let mut parts = path.rsplitn(3, '/');
    let _ = parts.next();
    let _ = parts.next();
    match parts.next() {
        Some(prefix) => &path[prefix.len() + 1..],
        None => path,
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn write(&mut self, report: &Report) -> std::io::Result<()> {
        self.out.write_all(render(report, self.top).as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_units() {
        assert_eq!(short_path("/a/b/c/d.go"), "c/d.go");
        assert_eq!(short_path("d.go"), "d.go");
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
    }

    #[test]
    fn a_hit_costs_what_was_charged() {
        let mut o = crate::report::Overhead {
            probe_hits: 0,
            lost_events: 0,
            stack_drops: 0,
            stacks_truncated: 0,
            cost_per_hit_ns: 8_700.0,
            stepped_hit_ns: 9_000.0,
            stepped_hits: 0,
            bpf_ns_per_hit: Some(3_000.0),
            est_target_slowdown_pct: 0.0,
            est_target_slowdown_lower_bound: false,
            probe_ns: 0,
            target_cpu_ns: 20_000_000_000,
            tracer_cpu_ns: 0,
            tracer_taken_ns: 0,
            tracer_max_rss_bytes: 0,
        };
        assert_eq!(
            per_hit(&o),
            "traps 8.7 µs emulated / 9.0 µs single-stepped calibrated"
        );
        // 16,218 hits charged 420 ms: 25.9 µs each, not the trap's 8.7.
        o.probe_hits = 16_218;
        o.stepped_hits = 4_055;
        o.probe_ns = 420_000_000;
        assert_eq!(
            per_hit(&o),
            "25.9 µs a hit charged (25% single-stepped), the traps alone 8.7 µs emulated / 9.0 µs single-stepped"
        );
        // 96 ms of CPU over 20 s.
        o.tracer_cpu_ns = 96_000_000;
        assert_eq!(tracer_cpu(&o, 20.0), "tracer itself 0.5% of a CPU");
        // 80 ms of it on CPUs the target kept busy.
        o.tracer_taken_ns = 80_000_000;
        assert_eq!(
            tracer_cpu(&o, 20.0),
            "tracer itself 0.5% of a CPU (0.4% from the target's)"
        );
    }
}
