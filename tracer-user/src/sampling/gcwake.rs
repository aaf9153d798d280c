//! When the GC watch's wakeup probe (`gc_wake`, one hit a GC cycle, see
//! `probes/gcwake.rs`) may stay attached. A program with a small live heap
//! that allocates fast runs GC cycles back to back all the time (the
//! steady mix of `testdata/go/mix`: ~1,500 a second), and a hit a cycle
//! would then cost it more than the whole budget. The GC rate is read
//! without any probe, from `mheap_.sweepgen` (2 a cycle) at each poll; the
//! probe is attached while its cycles cost at most [`SHARE`] of the budget
//! (or `FLOOR_RATE` cycles a second, ~50 µs: a nearly idle target's
//! budget is tiny), detached above that, and attached again only after
//! `CALM` under `ATTACH_AT` of it and `MIN_BETWEEN` after the last
//! switch (each switch stalls an allocating target a few ms); a program
//! that stopped collecting (no cycle in two `SHORT_SPAN`s) counts as
//! cheap at once. Its hits are charged to the allocation group.
use std::time::{Duration, Instant};

use crate::{probes::attach::LinkHandle, tracee::procmem::ProcMem};

/// The most of the budget the wakeups may take (they are charged to the
/// allocation group, whose share is 0.3)…
pub const SHARE: f64 = 0.2;
/// …or this many GC cycles a second, whichever is more.
const FLOOR_RATE: f64 = 3.0;
/// Attached again only at this much of what is allowed.
const ATTACH_AT: f64 = 0.6;
/// GC rates are measured over this long…
const SPAN: Duration = Duration::from_secs(1);
/// …and over this long, to detach the probe early in a burst (a 2 s burst
/// of 512-byte objects ran ~1,500 cycles a second: a whole second of hits
/// emptied the allocation group's bucket, and no window saw the burst).
const SHORT_SPAN: Duration = Duration::from_millis(200);
/// A short span detaches the probe only with at least this many cycles
/// (250 a second): a run of `runtime.GC()` calls by hand (eight pairs, 16
/// cycles in ~0.1 s) is what the probe is for, and at 4 it came off in the
/// middle of them on a nearly idle target (1 sample of 28 dropped).
const SHORT_MIN_CYCLES: u32 = 50;
/// Two short spans in a row detach it with this many cycles each: a burst
/// of ~100 cycles a second (20 a span) kept it on for a whole second at
/// the 50-cycle rule, and its hits, charged at a nearly idle target's
/// budget, put the allocation group into debt as the burst began. The
/// eight pairs by hand (16 cycles) cannot fill two spans with 10 each.
const SHORT_PAIR_CYCLES: u32 = 10;
/// Cheap for this long before the probe is attached again…
const CALM: Duration = Duration::from_secs(3);
/// …and never sooner than this after the last switch.
const MIN_BETWEEN: Duration = Duration::from_secs(10);

/// What the gate says to do with the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Attach,
    Detach,
}

pub struct GcWakeGate {
    mem: ProcMem,
    sweepgen_addr: u64,
    /// Where the current measure started: when, and the sweepgen then.
    from: Option<(Instant, u32)>,
    /// GC cycles a second over the last whole `SPAN`.
    pub rate: Option<f64>,
    /// The same over `SHORT_SPAN`: where it started, and the last one's
    /// cycles and rate.
    short_from: Option<(Instant, u32)>,
    short: Option<(u32, f64)>,
    /// The short span before `short`.
    short_before: Option<(u32, f64)>,
    /// The probe's link while it is attached.
    link: Option<LinkHandle>,
    /// Since when the measured rate has been cheap (under `ATTACH_AT`).
    cheap_since: Option<Instant>,
    last_switch: Option<Instant>,
}

impl GcWakeGate {
    pub fn new(mem: ProcMem, sweepgen_addr: u64) -> GcWakeGate {
        GcWakeGate {
            mem,
            sweepgen_addr,
            from: None,
            rate: None,
            short_from: None,
            short: None,
            short_before: None,
            link: None,
            cheap_since: None,
            last_switch: None,
        }
    }

    /// Reads the sweepgen (each poll); a whole `SPAN` gives a rate.
    pub fn poll(&mut self, now: Instant) {
        let Ok(sg) = self.mem.read_u32(self.sweepgen_addr) else {
            return;
        };
        if let Some((_, rate)) = measure(&mut self.from, now, sg, SPAN) {
            self.rate = Some(rate);
        }
        if let Some(m) = measure(&mut self.short_from, now, sg, SHORT_SPAN) {
            self.short_before = self.short.replace(m);
        }
    }

    /// `cost_ns`: what a hit costs the target; `budget_ns_per_sec`: the
    /// budget a second (every group's). Returns a switch to make, if any
    /// (the caller reports back with [`GcWakeGate::attached`] or takes the
    /// link with [`GcWakeGate::detach`]).
    pub fn decide(&mut self, now: Instant, cost_ns: f64, budget_ns_per_sec: f64) -> Option<Switch> {
        let allowed = (SHARE * budget_ns_per_sec).max(FLOOR_RATE * cost_ns);
        if self.link.is_some() {
            let dear = |rate: f64| rate * cost_ns > allowed;
            let dear_short =
                |s: Option<(u32, f64)>, min: u32| s.is_some_and(|(n, rate)| n >= min && dear(rate));
            let short = dear_short(self.short, SHORT_MIN_CYCLES)
                || (dear_short(self.short, SHORT_PAIR_CYCLES)
                    && dear_short(self.short_before, SHORT_PAIR_CYCLES));
            return (short || self.rate.is_some_and(dear)).then_some(Switch::Detach);
        }
        // Two short spans without a cycle: the program stopped collecting
        // (a GC rate measured over the last whole second still counts the
        // cycles before), and its next cycles are cheap to watch. Attached
        // at once, a run of `runtime.GC()` calls a second after a busy
        // spell is seen (CI: a program at 3 % of a CPU collecting ~3 times
        // a second sat at the limit, got no probe, and its calls a second
        // later dropped every sample).
        let quiet = [self.short, self.short_before]
            .iter()
            .all(|s| s.is_some_and(|(n, _)| n == 0));
        let spend = if quiet { 0.0 } else { self.rate? * cost_ns };
        if spend > ATTACH_AT * allowed {
            self.cheap_since = None;
            return None;
        }
        let since = *self.cheap_since.get_or_insert(now);
        let calm = now.duration_since(since) >= CALM || self.last_switch.is_none();
        let rested = self
            .last_switch
            .is_none_or(|t| now.duration_since(t) >= MIN_BETWEEN);
        (calm && rested).then_some(Switch::Attach)
    }

    /// The probe was attached, as `link` (`None`: attaching failed).
    pub fn attached(&mut self, now: Instant, link: Option<LinkHandle>) {
        self.link = link;
        self.switched(now);
    }

    /// The probe comes off: its link, to close.
    pub fn detach(&mut self, now: Instant) -> Option<LinkHandle> {
        self.switched(now);
        self.link.take()
    }

    fn switched(&mut self, now: Instant) {
        self.last_switch = Some(now);
        self.cheap_since = None;
    }
}

/// Once `span` passed since `from`, the cycles (2 sweepgens each) since
/// then and their rate a second; the next span starts.
fn measure(
    from: &mut Option<(Instant, u32)>,
    now: Instant,
    sg: u32,
    span: Duration,
) -> Option<(u32, f64)> {
    match *from {
        Some((at, before)) if now.duration_since(at) >= span => {
            let cycles = sg.wrapping_sub(before) / 2;
            *from = Some((now, sg));
            Some((
                cycles,
                f64::from(cycles) / now.duration_since(at).as_secs_f64(),
            ))
        }
        Some(_) => None,
        None => {
            *from = Some((now, sg));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn gate(sg: &AtomicU32) -> GcWakeGate {
        GcWakeGate::new(
            ProcMem::new(std::process::id()),
            sg as *const AtomicU32 as u64,
        )
    }

    /// Two polls a second apart with `cycles` between them.
    fn measure(g: &mut GcWakeGate, sg: &AtomicU32, at: Instant, cycles: u32) -> Instant {
        g.poll(at);
        sg.fetch_add(2 * cycles, Ordering::SeqCst);
        let end = at + SPAN;
        g.poll(end);
        end
    }

    /// 1 CPU: the budget is 30 ms a second; a hit 18 µs.
    const BUDGET: f64 = 0.03 * 1e9;
    const COST: f64 = 18_000.0;

    /// What a new gate decides after a second of `cycles`.
    fn first_decision(cycles: u32, budget: f64) -> Option<Switch> {
        let sg = AtomicU32::new(10);
        let mut g = gate(&sg);
        let t = measure(&mut g, &sg, Instant::now(), cycles);
        g.decide(t, COST, budget)
    }

    /// A gate whose probe was attached after a quiet second, and when.
    fn attached(sg: &AtomicU32) -> (GcWakeGate, Instant) {
        let mut g = gate(sg);
        let t = measure(&mut g, sg, Instant::now(), 1);
        assert_eq!(g.decide(t, COST, BUDGET), Some(Switch::Attach));
        g.attached(t, Some(0));
        (g, t)
    }

    #[test]
    fn a_fast_collecting_program_gets_no_probe_a_slow_one_does() {
        // A nearly idle target is budgeted as 1 % of a CPU: a cycle a
        // second is allowed, five are not.
        let idle = BUDGET * 0.01;
        for (cycles, budget, want) in [
            (1_500, BUDGET, None),
            (50, BUDGET, Some(Switch::Attach)),
            (1, idle, Some(Switch::Attach)),
            (5, idle, None),
        ] {
            assert_eq!(first_decision(cycles, budget), want, "{cycles} a second");
        }
    }

    #[test]
    fn a_burst_takes_the_probe_off_within_a_short_span() {
        // 1,500 cycles a second: 300 in a short span; three are no reason.
        for (cycles, want) in [(300, Some(Switch::Detach)), (3, None)] {
            let sg = AtomicU32::new(0);
            let (mut g, t) = attached(&sg);
            sg.fetch_add(2 * cycles, Ordering::SeqCst);
            let t = t + SHORT_SPAN;
            g.poll(t);
            assert_eq!(g.decide(t, COST, BUDGET), want, "{cycles} cycles");
        }
    }

    #[test]
    fn a_steady_burst_takes_it_off_in_two_short_spans_a_run_of_gc_calls_does_not() {
        // A nearly idle target: 3 cycles a second are allowed.
        let idle = BUDGET * 0.01;
        let sg = AtomicU32::new(0);
        let (mut g, mut t) = attached(&sg);
        // Eight runtime.GC() pairs (16 cycles) in one short span, then quiet.
        for cycles in [16, 0, 0] {
            sg.fetch_add(2 * cycles, Ordering::SeqCst);
            t += SHORT_SPAN;
            g.poll(t);
            assert_eq!(g.decide(t, COST, idle), None, "{cycles} cycles");
        }
        // ~100 cycles a second: off after the second short span.
        let (mut g, mut t) = attached(&sg);
        let mut decisions = Vec::new();
        for _ in 0..2 {
            sg.fetch_add(2 * 20, Ordering::SeqCst);
            t += SHORT_SPAN;
            g.poll(t);
            decisions.push(g.decide(t, COST, idle));
        }
        assert_eq!(decisions, [None, Some(Switch::Detach)]);
    }

    #[test]
    fn a_program_that_stops_collecting_gets_the_probe_within_two_short_spans() {
        // A nearly idle target collecting 5 times a second: no probe.
        let idle = BUDGET * 0.01;
        let sg = AtomicU32::new(0);
        let mut g = gate(&sg);
        let mut t = Instant::now();
        g.poll(t);
        for _ in 0..5 {
            sg.fetch_add(2, Ordering::SeqCst);
            t += SHORT_SPAN;
            g.poll(t);
        }
        assert_eq!(g.decide(t, COST, idle), None);
        // Then no cycle: attached after two quiet short spans, before the
        // whole second's rate says so.
        let mut decisions = Vec::new();
        for _ in 0..2 {
            t += SHORT_SPAN;
            g.poll(t);
            decisions.push(g.decide(t, COST, idle));
        }
        assert_eq!(decisions, [None, Some(Switch::Attach)]);
    }

    #[test]
    fn a_probe_that_became_dear_comes_off_and_waits_to_come_back() {
        let (budget, cost) = (BUDGET, COST);
        let sg = AtomicU32::new(0);
        let (mut g, t) = attached(&sg);
        sg.fetch_add(2 * 800, Ordering::SeqCst);
        let t = t + SPAN;
        g.poll(t);
        assert_eq!(g.decide(t, cost, budget), Some(Switch::Detach));
        assert_eq!(g.detach(t), Some(0));
        // Quiet again at once: not before MIN_BETWEEN.
        let mut at = t;
        for _ in 0..5 {
            at += SPAN;
            g.poll(at);
            assert_eq!(g.decide(at, cost, budget), None);
        }
        at += MIN_BETWEEN;
        g.poll(at);
        assert_eq!(g.decide(at, cost, budget), Some(Switch::Attach));
    }
}
