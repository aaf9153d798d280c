//! Sampled mode inside a session: the two windowed probe groups (span-refill
//! samples, map operations), each stepped by its own governor
//! (`sampler.rs`), and the scaling of a window's samples to the runtime's
//! own allocation counters.
use std::{collections::HashMap, path::Path, time::Duration};

use tracer_common::AllocKey;

use crate::{
    aggregate::allocs,
    allocstats::AllocCounters,
    attach::{LinkHandle, Probes},
    collect::Counters,
    error::UserError,
    gobin::GoBinary,
    probes::{MapPoint, SamplePlan},
    report::Sampling,
    sampler::{
        relative_error_pct, Governor, PeriodStats, Step, ALLOC_FIRST_WINDOW, ALLOC_PERIOD,
        ALLOC_SHARE, MAP_FIRST_WINDOW, MAP_PERIOD, MAP_SHARE,
    },
};

/// How often an open window's hits are checked against its cap.
const CAP_CHECK: Duration = Duration::from_millis(10);

pub struct SampledState {
    pub plan: SamplePlan,
    /// Span-refill and large-object samples.
    pub allocs: Windowed,
    /// Map operation probes (none with --no-maps or without map functions).
    pub map_ops: Vec<MapPoint>,
    pub maps: Windowed,
    /// How long map operations were watched, in total.
    pub map_watch: Duration,
}

/// A group of probes the governor attaches in windows.
pub struct Windowed {
    pub governor: Governor,
    links: Vec<LinkHandle>,
    /// Hits after which the open window closes early.
    cap: u64,
    /// The group's probe hits and the target's CPU time when the current
    /// period started.
    base: (u64, u64),
}

impl Windowed {
    fn new(governor: Governor) -> Windowed {
        Windowed {
            governor,
            links: Vec::new(),
            cap: u64::MAX,
            base: (0, 0),
        }
    }

    /// Its next open/close is due, or its open window is past its cap.
    fn due(&self, now: tokio::time::Instant, hits: u64) -> bool {
        self.governor.next_at() <= now
            || (self.governor.open_since.is_some() && hits.saturating_sub(self.base.0) > self.cap)
    }

    /// One governor step: open (attach) or close (detach in the
    /// background). `now` = the group's probe hits and the target's CPU time.
    fn step(
        &mut self,
        probes: &mut Probes,
        now: (u64, u64),
        cost_per_hit_ns: f64,
        open: impl FnOnce(&mut Probes) -> Result<Vec<LinkHandle>, UserError>,
    ) {
        let last = PeriodStats {
            probe_hits: now.0.saturating_sub(self.base.0),
            target_cpu_ns: now.1.saturating_sub(self.base.1),
        };
        match self.governor.step(last, cost_per_hit_ns) {
            Step::Open => {
                self.base = now;
                self.cap = self.governor.hit_cap(cost_per_hit_ns, last.target_cpu_ns);
                match open(probes) {
                    Ok(links) => self.links = links,
                    Err(e) => eprintln!("tracer: sampling window not opened: {e}"),
                }
            }
            Step::Close => probes.close_samples(std::mem::take(&mut self.links)),
        }
    }
}

impl SampledState {
    /// `budget_pct` is `--max-overhead`, shared between the two groups.
    pub fn new(plan: SamplePlan, map_ops: Vec<MapPoint>, budget_pct: f64) -> SampledState {
        let share = |s: f64| budget_pct * s;
        SampledState {
            plan,
            allocs: Windowed::new(Governor::new(
                share(ALLOC_SHARE),
                ALLOC_PERIOD,
                ALLOC_FIRST_WINDOW,
            )),
            map_ops,
            maps: Windowed::new(Governor::new(
                share(MAP_SHARE),
                MAP_PERIOD,
                MAP_FIRST_WINDOW,
            )),
            map_watch: Duration::ZERO,
        }
    }

    /// When the next open/close is due; while a window is open, also every
    /// `CAP_CHECK` (its hit cap).
    pub fn due(&self) -> tokio::time::Instant {
        let maps = !self.map_ops.is_empty();
        let mut due = self.allocs.governor.next_at();
        if maps {
            due = due.min(self.maps.governor.next_at());
        }
        let open = self.allocs.governor.open_since.is_some()
            || (maps && self.maps.governor.open_since.is_some());
        if open {
            due = due.min(tokio::time::Instant::now() + CAP_CHECK);
        }
        due
    }

    /// Opens or closes the windows that are due. `target` = the Go binary,
    /// its path and pid; `cpu` = the target's CPU time so far.
    pub fn step(
        &mut self,
        probes: &mut Probes,
        target: (&GoBinary, &Path, u32),
        counters: &Counters,
        cpu: u64,
        cost_per_hit_ns: f64,
    ) {
        let (bin, exe, pid) = target;
        let now = tokio::time::Instant::now();
        let map_hits = counters.map_op_hits;
        let alloc_hits = counters.probe_hits.saturating_sub(map_hits);
        if self.allocs.due(now, alloc_hits) {
            let plan = &self.plan;
            self.allocs
                .step(probes, (alloc_hits, cpu), cost_per_hit_ns, |p| {
                    p.open_samples(bin, exe, pid, plan)
                });
        }
        if !self.map_ops.is_empty() && self.maps.due(now, map_hits) {
            let opened = self.maps.governor.open_since;
            let points = &self.map_ops;
            self.maps
                .step(probes, (map_hits, cpu), cost_per_hit_ns, |p| {
                    p.attach_maps(bin, exe, pid, points)
                });
            if let Some(since) = opened {
                self.map_watch += since.elapsed();
            }
        }
    }

    /// Scales a window's sampled counts so that they sum to the runtime's
    /// own allocation count for the window (`runtime` = its counters at the
    /// window's start and end), or by the duty cycle when those could not
    /// be read. Allocations no window saw are counted under an unknown site.
    pub fn scale(
        &self,
        counts: &mut HashMap<AllocKey, u64>,
        runtime: (Option<&AllocCounters>, Option<&AllocCounters>),
        samples: u64,
        elapsed: Duration,
    ) -> Sampling {
        let sampled_objects: u64 = counts.values().sum();
        let duty = self.allocs.governor.duty_pct(elapsed).max(1e-6);
        let (total, bytes, totals_from) = match runtime {
            (Some(a), Some(b)) => (
                b.objects().saturating_sub(a.objects()),
                b.bytes().saturating_sub(a.bytes()),
                "runtime counters",
            ),
            _ => (
                (sampled_objects as f64 * 100.0 / duty) as u64,
                0,
                "duty cycle",
            ),
        };
        let scale = allocs::scale_to(counts, total);
        if counts.is_empty() && total > 0 {
            let key = AllocKey {
                stack_id: 0,
                size: (bytes / total).max(1),
                scan: 0,
                _pad: 0,
            };
            counts.insert(key, total);
        }
        let mut per_stack: HashMap<u64, u64> = HashMap::new();
        for (k, n) in counts.iter() {
            *per_stack.entry(k.stack_id).or_default() += n;
        }
        let top_share = per_stack.values().copied().max().unwrap_or(0) as f64 / total.max(1) as f64;
        let (a, m) = (&self.allocs.governor, &self.maps.governor);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Sampling {
            method: "span refills (runtime.(*mcache).refill, weighted by the objects the retired span served) \
                     + large objects (runtime.(*mcache).allocLarge), in duty-cycled windows",
            budget_pct: a.budget_pct + m.budget_pct,
            duty_cycle_pct: duty,
            windows: a.windows,
            window_ms: ms(a.window),
            period_ms: ms(a.period),
            map_windows: m.windows,
            map_window_ms: ms(m.window),
            map_period_ms: ms(m.period),
            samples,
            sampled_objects,
            scale,
            totals_from,
            est_error_pct: relative_error_pct(top_share, samples),
        }
    }
}
