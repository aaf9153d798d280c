//! What a window really costs the target, measured on the target itself.
//!
//! The trap's cost calibrated on the tracer's own process (hot caches, one
//! probe hit in a loop) is well below what a hit costs a busy Go service:
//! on the net/http bench service an allocation window's hits cost about
//! four times the calibrated estimate. So each closed window is also
//! measured where it ran: the target's CPU time per object it allocates,
//! in the window against the quiet polls just before it. A CPU-bound
//! target allocates less for the same CPU time while probes fire; one with
//! idle time spends more CPU for the same objects; either way the extra CPU
//! per object times the window's objects is what the window cost it.
use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// How far back the quiet baseline before a window reaches.
const BASE: Duration = Duration::from_millis(600);
/// A baseline shorter than this, or with fewer objects, measures nothing.
const MIN_BASE: Duration = Duration::from_millis(100);
const MIN_BASE_OBJECTS: u64 = 200;
/// Polls kept (a few seconds at the poll period).
const KEEP: Duration = Duration::from_secs(3);
/// A window whose CPU rate differs from its baseline's by more than this
/// factor saw the program change what it does (a burst): not a measure.
const REGIME: f64 = 3.0;
/// A window allocating faster than this factor times its baseline saw the
/// program speed up (a burst): not a measure of what the probes cost.
const FASTER: f64 = 1.25;
/// A poll's CPU time is read no better than this (clock and scheduling
/// jitter), ns.
const MIN_NOISE_NS: f64 = 100_000.0;

/// Windows pooled (see [`Pool`]): the last this many…
const POOL_WINDOWS: usize = 30;
/// …once there are at least this many.
const MIN_POOLED: usize = 5;
/// A window's fixed part is told from its hits' once the pool holds this
/// many windows whose hits do not simply rise with the CPUs they kept
/// busy ([`SEPARABLE`]); from fewer (at least [`MIN_FIXED`]), it is what
/// the hits at the caller's cost leave.
const MIN_FIT: usize = 5;
const MIN_FIXED: usize = 2;
/// How far from proportional the pooled windows' hits and busy CPUs must
/// be (1 − the squared cosine of the two, weighted) for a joint fit.
const SEPARABLE: f64 = 0.02;
/// Only windows on a target keeping at least this many CPUs busy tell its
/// fixed part: per busy CPU, a nearly idle target's few ms of noise read
/// as tens of ms (a program of the agent test at 0.05 CPU: one window's
/// 4.3 ms over 17 hits made the switch 31 ms a CPU, and the fair wait for
/// the next window outlasted the agent's 10-s slice: nothing in use).
const MIN_FIXED_CORES: f64 = 0.25;

/// One pooled window.
#[derive(Debug, Clone, Copy)]
struct Pooled {
    /// Extra CPU time of the target, ns, and its noise (one standard
    /// deviation).
    extra: f64,
    noise: f64,
    hits: u64,
    /// CPUs the target kept busy then.
    cores: f64,
}

/// The last windows' measures summed: on a busy service one window's
/// measure is mostly the noise of its CPU time (GC cycles, the scheduler),
/// and the sum over many is not (on the net/http bench service, tracer on
/// the load generator's CPU: 52 windows of ~750 hits, each with a noise of
/// ~6 µs a hit, pooled 14.7 µs ± 1.3 µs a hit, where the requests lost
/// around the windows said more still).
///
/// A window costs a fixed part (attaching and detaching rewrite the
/// target's text, and it runs slower for a while after: on the net/http
/// bench service 10–20 ms of CPU a window whatever its hits, 68–1,851)
/// plus its hits: extra = fixed × busy CPUs + per hit × hits.
#[derive(Debug, Default)]
pub struct Pool {
    windows: VecDeque<Pooled>,
}

impl Pool {
    /// Adds a window's extra CPU time, hits, noise (one standard
    /// deviation), ns, and the CPUs the target kept busy.
    pub fn add(&mut self, extra_ns: f64, hits: u64, noise_ns: f64, cores: f64) {
        if self.windows.len() == POOL_WINDOWS {
            self.windows.pop_front();
        }
        self.windows.push_back(Pooled {
            extra: extra_ns,
            noise: noise_ns,
            hits,
            cores,
        });
    }

    /// What a hit cost over the pooled windows, each window's fixed part
    /// (`fixed_per_cpu` a busy CPU) taken out, and the noise of that, ns;
    /// `None` before `MIN_POOLED` windows with hits.
    pub fn per_hit(&self, fixed_per_cpu: f64) -> Option<(f64, f64)> {
        let hits: u64 = self.windows.iter().map(|w| w.hits).sum();
        if self.windows.len() < MIN_POOLED || hits == 0 {
            return None;
        }
        let extra: f64 = self
            .windows
            .iter()
            .map(|w| w.extra - fixed_per_cpu * w.cores)
            .sum();
        let noise = self
            .windows
            .iter()
            .map(|w| w.noise * w.noise)
            .sum::<f64>()
            .sqrt();
        Some((extra / hits as f64, noise / hits as f64))
    }

    /// A window's fixed cost a busy CPU, ns: fitted with a hit's cost over
    /// the pooled windows (least squares, each weighted by its precision)
    /// once they tell the two apart, else what their hits at `per_hit` ns
    /// leave; `None` before `MIN_FIXED` (2) windows on a busy target (at
    /// least `MIN_FIXED_CORES`, 0.25 CPU).
    pub fn fixed_per_cpu(&self, per_hit: f64) -> Option<f64> {
        let busy = self.windows.iter().filter(|w| w.cores >= MIN_FIXED_CORES);
        let (mut n, mut a, mut b, mut d, mut e, mut f) = (0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for w in busy {
            let wt = 1.0 / (w.noise * w.noise).max(1.0);
            let (x1, x2, y) = (w.cores, w.hits as f64, w.extra);
            n += 1;
            a += wt * x1 * x1;
            b += wt * x1 * x2;
            d += wt * x2 * x2;
            e += wt * x1 * y;
            f += wt * x2 * y;
        }
        if n < MIN_FIXED || a <= 0.0 {
            return None;
        }
        let det = a * d - b * b;
        let fixed = if n >= MIN_FIT && det > SEPARABLE * a * d {
            match (a * f - b * e) / det {
                // Hits cost nothing: the fixed part is all of it.
                c if c < 0.0 => e / a,
                _ => (d * e - b * f) / det,
            }
        } else {
            (e - per_hit * b) / a
        };
        Some(fixed.max(0.0))
    }
}

#[derive(Debug, Clone, Copy)]
struct Poll {
    at: Instant,
    cpu_ns: u64,
    objects: u64,
    /// A window was open or closing during the slot that ends here.
    busy: bool,
}

#[derive(Debug, Default)]
pub struct InSitu {
    polls: VecDeque<Poll>,
}

impl InSitu {
    /// The target's CPU time and objects allocated so far, at `at`;
    /// `busy` = a window was open or closing since the previous poll.
    pub fn poll(&mut self, at: Instant, cpu_ns: u64, objects: u64, busy: bool) {
        self.polls.push_back(Poll {
            at,
            cpu_ns,
            objects,
            busy,
        });
        while self
            .polls
            .front()
            .is_some_and(|p| at.saturating_duration_since(p.at) > KEEP)
        {
            self.polls.pop_front();
        }
    }

    /// Whether a poll at or after `to` has come (a window closed at `to`
    /// can be measured).
    pub fn covers(&self, to: Instant) -> bool {
        self.polls.back().is_some_and(|p| p.at >= to)
    }

    /// Objects the runtime counted from the last poll at or before `from`
    /// to the first at or after `to`.
    pub fn objects_between(&self, from: Instant, to: Instant) -> Option<u64> {
        let p = &self.polls;
        let i0 = p.iter().rposition(|q| q.at <= from)?;
        let i1 = p.iter().position(|q| q.at >= to)?;
        Some(p[i1].objects.saturating_sub(p[i0].objects))
    }

    /// The CPU time the target spent over `[from, to]` beyond its pace in
    /// the quiet polls before `from`, and the noise of that figure (one
    /// standard deviation, from how far the baseline's own polls stray
    /// from its pace), ns; `None` when that cannot be measured (no quiet
    /// baseline, too few objects, a change of regime).
    pub fn extra_ns(&self, from: Instant, to: Instant) -> Option<(f64, f64)> {
        let p = &self.polls;
        let i0 = p.iter().rposition(|q| q.at <= from)?;
        let i1 = p.iter().position(|q| q.at >= to)?;
        if i1 <= i0 {
            return None;
        }
        let mut j = i0;
        while j > 0 && !p[j].busy && p[i0].at.saturating_duration_since(p[j - 1].at) <= BASE {
            j -= 1;
        }
        let (b0, b1, w0, w1) = (p[j], p[i0], p[i0], p[i1]);
        let base_t = b1.at.saturating_duration_since(b0.at);
        let base_objects = b1.objects.saturating_sub(b0.objects);
        if base_t < MIN_BASE || base_objects < MIN_BASE_OBJECTS {
            return None;
        }
        let base_cpu = b1.cpu_ns.saturating_sub(b0.cpu_ns) as f64;
        let win_cpu = w1.cpu_ns.saturating_sub(w0.cpu_ns) as f64;
        let win_t = w1.at.saturating_duration_since(w0.at).as_secs_f64();
        let (base_rate, win_rate) = (base_cpu / base_t.as_secs_f64(), win_cpu / win_t.max(1e-6));
        if base_rate <= 0.0 || win_rate > REGIME * base_rate || win_rate * REGIME < base_rate {
            return None;
        }
        let win_objects = w1.objects.saturating_sub(w0.objects) as f64;
        // Probes only slow a program down: one that allocates faster in
        // the window than before it changed what it does.
        let base_pace = base_objects as f64 / base_t.as_secs_f64();
        if win_objects / win_t.max(1e-6) > FASTER * base_pace {
            return None;
        }
        let per_object = base_cpu / base_objects as f64;
        // The baseline's polls against its own pace: what a window of as
        // many polls would read with no probe at all.
        let mut sq = 0.0;
        for k in j..i0 {
            let (a, b) = (p[k], p[k + 1]);
            let cpu = b.cpu_ns.saturating_sub(a.cpu_ns) as f64;
            let objects = b.objects.saturating_sub(a.objects) as f64;
            sq += (cpu - objects * per_object).powi(2);
        }
        let per_poll = (sq / (i0 - j) as f64).sqrt().max(MIN_NOISE_NS);
        let noise = per_poll * ((i1 - i0) as f64).sqrt();
        Some((win_cpu - win_objects * per_object, noise))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU-bound target (one CPU) allocating `rate` objects a second,
    /// slowed to `slow` of that while a window is open in [open, close).
    fn run(t0: Instant, rate: f64, slow: f64, open: u64, close: u64) -> InSitu {
        let mut s = InSitu::default();
        let mut objects = 0.0;
        for ms in (0..=2000u64).step_by(25) {
            let busy = ms > open && ms <= close + 25;
            s.poll(
                t0 + Duration::from_millis(ms),
                ms * 1_000_000,
                objects as u64,
                busy,
            );
            let inside = ms >= open && ms < close;
            objects += rate * 0.025 * if inside { slow } else { 1.0 };
        }
        s
    }

    fn window_1000_1100(t0: Instant, s: &InSitu) -> Option<(f64, f64)> {
        let ms = |m| t0 + Duration::from_millis(m);
        s.extra_ns(ms(1000), ms(1100))
    }

    #[test]
    fn a_cpu_bound_target_loses_what_its_objects_say() {
        let t0 = Instant::now();
        // Open 1000..1100 ms at 60 % speed: 40 ms of its CPU lost.
        let (extra, noise) = window_1000_1100(t0, &run(t0, 1e6, 0.6, 1000, 1100)).unwrap();
        assert!((extra - 40e6).abs() < 2e6, "{extra}");
        // A steady baseline: the clock's jitter alone.
        assert!(noise < 1e6, "{noise}");
        // Unslowed: nothing.
        let (extra, _) = window_1000_1100(t0, &run(t0, 1e6, 1.0, 1000, 1100)).unwrap();
        assert!(extra.abs() < 1e6, "{extra}");
    }

    #[test]
    fn noisy_windows_pooled_measure_what_each_cannot() {
        let mut p = Pool::default();
        // Each window: 700 hits at 15 µs, ±7 ms of noise (10 µs a hit),
        // alternately high and low.
        for i in 0..4 {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            p.add(700.0 * 15_000.0 + sign * 7e6, 700, 7e6, 1.0);
        }
        assert_eq!(p.per_hit(0.0), None, "too few windows");
        for i in 0..26 {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            p.add(700.0 * 15_000.0 + sign * 7e6, 700, 7e6, 1.0);
        }
        let (per_hit, noise) = p.per_hit(0.0).unwrap();
        assert!((per_hit - 15_000.0).abs() < 100.0, "{per_hit}");
        // 10 µs a hit alone, ~1.8 µs over 30 windows.
        assert!((noise - 10_000.0 / 30f64.sqrt()).abs() < 10.0, "{noise}");
        // Only the last 30 count.
        for _ in 0..30 {
            p.add(700.0 * 5_000.0, 700, 7e6, 1.0);
        }
        assert!((p.per_hit(0.0).unwrap().0 - 5_000.0).abs() < 1.0);
    }

    #[test]
    fn a_window_s_fixed_part_is_told_from_its_hits() {
        // 15 ms a busy CPU and 12 µs a hit, each window ±2 ms.
        let add = |p: &mut Pool, i: usize, hits: u64, cores: f64| {
            let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
            let extra = 15e6 * cores + 12_000.0 * hits as f64 + sign * 2e6;
            p.add(extra, hits, 3e6, cores);
        };
        let mut p = Pool::default();
        add(&mut p, 0, 100, 1.0);
        assert_eq!(p.fixed_per_cpu(12_000.0), None, "one window");
        p = Pool::default();
        for (i, (hits, cores)) in [
            (100, 1.0),
            (2_000, 1.0),
            (600, 0.8),
            (1_200, 1.0),
            (68, 0.9),
            (1_800, 0.7),
        ]
        .into_iter()
        .enumerate()
        {
            add(&mut p, i, hits, cores);
        }
        // Fitted: whatever hits are taken to cost.
        for per_hit in [0.0, 12_000.0, 50_000.0] {
            let fixed = p.fixed_per_cpu(per_hit).unwrap();
            assert!((fixed - 15e6).abs() < 2.5e6, "{fixed}");
        }
        // With it taken out, the pooled hits cost what they do.
        let (per_hit, _) = p.per_hit(15e6).unwrap();
        assert!((per_hit - 12_000.0).abs() < 1_000.0, "{per_hit}");
        // Windows all alike cannot tell the two apart: the fixed part is
        // what hits at the caller's cost leave.
        let mut p = Pool::default();
        for i in 0..6 {
            add(&mut p, i, 700, 1.0);
        }
        let fixed = p.fixed_per_cpu(12_000.0).unwrap();
        assert!((fixed - 15e6).abs() < 1e6, "{fixed}");
        assert!(p.fixed_per_cpu(40_000.0).unwrap() < 1e6, "never below 0");
        // A nearly idle target's windows tell nothing of it: 4.3 ms over
        // 17 hits at 0.05 CPU is not 86 ms a CPU.
        let mut p = Pool::default();
        for _ in 0..6 {
            p.add(4.3e6, 17, 0.24e6, 0.05);
        }
        assert_eq!(p.fixed_per_cpu(3_800.0), None);
    }

    #[test]
    fn no_baseline_no_measure() {
        let t0 = Instant::now();
        let s = run(t0, 1e6, 0.6, 50, 150);
        assert!(s
            .extra_ns(
                t0 + Duration::from_millis(50),
                t0 + Duration::from_millis(150)
            )
            .is_none());
        assert!(window_1000_1100(t0, &run(t0, 10.0, 0.6, 1000, 1100)).is_none());
    }
}
