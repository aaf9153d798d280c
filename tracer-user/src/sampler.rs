//! `--mode sampled`: the overhead governor. A group of probes (span-refill
//! samples; map operations) is attached for a window once per period;
//! after each period the window is resized so that the group's probe time
//! charged to the target stays under its share of `--max-overhead` percent
//! of the target's own CPU time. Probe time = the group's hits × the cost
//! per hit calibrated at start.
//!
//! Opening and closing a window costs the target too, whatever the hits:
//! measured 35–80 ms of an allocation-heavy loop's wall time per window
//! (attaching and detaching write the target's text under its mmap lock,
//! which stalls its page faults). Hence long periods and a third of each
//! share kept for them.
use std::time::{Duration, Instant};

use tokio::time::Instant as TokioInstant;

/// Allocation samples: one window per period, the larger budget share.
pub const ALLOC_PERIOD: Duration = Duration::from_secs(5);
pub const ALLOC_FIRST_WINDOW: Duration = Duration::from_millis(20);
pub const ALLOC_SHARE: f64 = 0.6;
/// Map operations hit far more often (two hits each, and a map-heavy loop
/// does tens of millions a second): a short first window, a longer period
/// (switching ~100 probes), the rest of the budget.
pub const MAP_PERIOD: Duration = Duration::from_secs(15);
pub const MAP_FIRST_WINDOW: Duration = Duration::from_millis(2);
pub const MAP_SHARE: f64 = 0.4;
const MIN_WINDOW: Duration = Duration::from_millis(1);
const MAX_WINDOW: Duration = Duration::from_millis(2500);
/// Share of the budget for probe hits; the rest covers window switches.
const HITS_SHARE: f64 = 0.67;

/// What happened in the last period, for the governor.
#[derive(Debug, Clone, Copy)]
pub struct PeriodStats {
    pub probe_hits: u64,
    pub target_cpu_ns: u64,
}

#[derive(Debug)]
pub struct Governor {
    pub budget_pct: f64,
    pub period: Duration,
    pub window: Duration,
    /// Estimated slowdown of the last full period, percent.
    pub last_pct: f64,
    /// Windows opened and their total length.
    pub windows: u64,
    pub open_total: Duration,
    /// The window is open since then.
    pub open_since: Option<Instant>,
    next: TokioInstant,
    period_start: Instant,
}

/// What the run loop should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Open,
    Close,
}

impl Governor {
    pub fn new(budget_pct: f64, period: Duration, first_window: Duration) -> Governor {
        Governor {
            budget_pct,
            period,
            window: first_window,
            last_pct: 0.0,
            windows: 0,
            open_total: Duration::ZERO,
            open_since: None,
            next: TokioInstant::now(),
            period_start: Instant::now(),
        }
    }

    /// When the next open or close is due.
    pub fn next_at(&self) -> TokioInstant {
        self.next
    }

    /// Decides the step due now; `last` covers the period that just ended
    /// (only read when opening).
    pub fn step(&mut self, last: PeriodStats, cost_per_hit_ns: f64) -> Step {
        let now = Instant::now();
        match self.open_since.take() {
            Some(since) => {
                self.windows += 1;
                self.open_total += now - since;
                if now - since < self.window {
                    // Closed early (hit cap): that was as long as it could be.
                    self.window = (now - since).max(MIN_WINDOW);
                }
                self.next = TokioInstant::from_std(self.period_start + self.period);
                Step::Close
            }
            None => {
                if self.windows > 0 {
                    self.resize(last, cost_per_hit_ns);
                }
                self.period_start = now;
                self.open_since = Some(now);
                self.next = TokioInstant::from_std(now + self.window);
                Step::Open
            }
        }
    }

    /// Resizes the window so the next period's probe time fits the budget.
    fn resize(&mut self, last: PeriodStats, cost_per_hit_ns: f64) {
        let probe_ns = last.probe_hits as f64 * cost_per_hit_ns;
        self.last_pct = slowdown_pct(probe_ns, last.target_cpu_ns as f64);
        let factor = if self.last_pct <= 0.0 {
            8.0
        } else {
            (HITS_SHARE * self.budget_pct / self.last_pct).clamp(0.25, 8.0)
        };
        self.window = self
            .window
            .mul_f64(factor)
            .clamp(MIN_WINDOW, MAX_WINDOW.min(self.period / 2));
    }

    /// The most hits a window may take before it is closed early: the
    /// whole period's share of the budget, against the target's CPU time
    /// of the last period (at least one CPU for the whole period). Bounds
    /// the damage when a burst starts while the window is open.
    pub fn hit_cap(&self, cost_per_hit_ns: f64, last_cpu_ns: u64) -> u64 {
        let cpu = (last_cpu_ns as f64).max(self.period.as_nanos() as f64);
        (HITS_SHARE * self.budget_pct / 100.0 * cpu / cost_per_hit_ns.max(1.0)) as u64
    }

    /// Share of the time the probes were attached, percent.
    pub fn duty_pct(&self, elapsed: Duration) -> f64 {
        let open = self.open_total + self.open_since.map_or(Duration::ZERO, |s| s.elapsed());
        100.0 * open.as_secs_f64() / elapsed.as_secs_f64().max(1e-9)
    }
}

/// Probe time charged to the target's threads, over the CPU time the
/// target spent on its own work.
pub fn slowdown_pct(probe_ns: f64, target_cpu_ns: f64) -> f64 {
    let own = (target_cpu_ns - probe_ns)
        .max(target_cpu_ns * 0.01)
        .max(1.0);
    if probe_ns <= 0.0 {
        0.0
    } else {
        100.0 * probe_ns / own
    }
}

/// Half-width of the 95 % interval of a share `p` estimated from `n`
/// samples, relative to `p`, percent (binomial approximation).
pub fn relative_error_pct(p: f64, n: u64) -> f64 {
    if p <= 0.0 || n == 0 {
        return 100.0;
    }
    (100.0 * 1.96 * ((1.0 - p) / (p * n as f64)).sqrt()).min(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shrinks_over_budget_and_grows_under_it() {
        let mut g = Governor::new(3.0, ALLOC_PERIOD, ALLOC_FIRST_WINDOW);
        assert_eq!(
            g.step(
                PeriodStats {
                    probe_hits: 0,
                    target_cpu_ns: 0
                },
                25_000.0
            ),
            Step::Open
        );
        assert_eq!(
            g.step(
                PeriodStats {
                    probe_hits: 0,
                    target_cpu_ns: 0
                },
                25_000.0
            ),
            Step::Close
        );
        let w = g.window;
        // 10 % measured: the next window is a quarter of this one.
        let over = PeriodStats {
            probe_hits: 4_000,
            target_cpu_ns: 1_100_000_000,
        };
        assert_eq!(g.step(over, 25_000.0), Step::Open);
        assert!((g.last_pct - 10.0).abs() < 0.1, "{}", g.last_pct);
        assert_eq!(g.window, w.mul_f64(0.25).max(MIN_WINDOW));
        g.step(over, 25_000.0);
        // Almost nothing: it grows up to 8×.
        let under = PeriodStats {
            probe_hits: 1,
            target_cpu_ns: 1_000_000_000,
        };
        let w = g.window;
        g.step(under, 25_000.0);
        assert_eq!(g.window, (w * 8).min(MAX_WINDOW));
    }

    #[test]
    fn the_hit_cap_is_the_period_budget() {
        let g = Governor::new(3.0, ALLOC_PERIOD, ALLOC_FIRST_WINDOW);
        // 0.67 × 3 % of 5 s of CPU at 25 µs a hit.
        assert_eq!(g.hit_cap(25_000.0, 0), 4020);
        assert_eq!(g.hit_cap(25_000.0, 10_000_000_000), 8040);
    }

    #[test]
    fn errors() {
        assert!(relative_error_pct(0.5, 10_000) < 2.0);
        assert!(relative_error_pct(0.01, 100) > 50.0);
        assert_eq!(relative_error_pct(0.0, 10), 100.0);
        assert_eq!(slowdown_pct(0.0, 10.0), 0.0);
        assert!((slowdown_pct(10.0, 110.0) - 10.0).abs() < 1e-9);
    }
}
