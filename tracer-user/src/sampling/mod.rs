//! The default mode: no probe that fires per operation stays attached (the
//! GC watch's one hit a GC cycle, `probes/gcwake.rs`, is charged to the
//! allocation group). Two windowed probe groups,
//! each under its own governor (`governor.rs`), in priority order:
//! allocation samples (span refills and large objects), then map
//! operations (with map creation and growth). The runtime's own allocation
//! counters are read every [`POLL`] without any probe; they are what the
//! report counts, split among sites by the windows' samples
//! (`attribute.rs`), and a change in their rate opens an allocation window
//! early (a burst).
//!
//! `TRACER_DEBUG_WINDOWS=1` in the environment prints on stderr each
//! governor decision (`group=allocs|maps`; every step while a burst
//! waits), each window's charge once its detach finished (`window
//! group=… opened=<unix ms> hits=… charged_ns=…`: what the bench's
//! time-locked measure reads) and each allocation window's samples: what
//! to look at when a regime went unwatched. It also prints each switch of
//! the GC watch's wakeup probe (`gc_wake attach|detach rate=…`, GC cycles
//! a second; see [`gcwake`]).
pub mod attribute;
pub mod carry;
pub mod gcwake;
pub mod governor;
pub mod insitu;
pub mod regime;

use std::{
    collections::{HashMap, VecDeque},
    path::Path,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tracer_common::{config, counter, AllocKey};

use crate::{
    collect::aggregate::allocs,
    collect::Collector,
    collect::Counters,
    error::UserError,
    probes::attach::{LinkHandle, Probes, MAP_PROGRAMS, SAMPLE_PROGRAMS},
    probes::calibrate::Traps,
    probes::{MapPoint, SamplePlan},
    report::{Sampling, Unattributed},
    tracee::allocstats::AllocCounters,
    tracee::cpus::online_cpus,
    tracee::gobin::GoBinary,
    tracee::procmem::ProcMem,
};
use attribute::{Attributor, Estimates};
use gcwake::GcWakeGate;
pub use governor::IDLE_FLOOR;
use governor::{relative_error_pct, Governor, GroupParams, Step, Tail};
use insitu::InSitu;
use regime::Watched;

/// The sampled side of a mark (cumulative).
#[derive(Debug, Clone, Default)]
pub struct SampledMark {
    pub estimates: Estimates,
    pub sampled_objects: u64,
    /// Windows closed (allocations, maps) and how long allocation windows
    /// were open.
    pub windows: (u64, u64),
    pub open: Duration,
    /// Busy CPUs at each window switch, summed so far (allocations, maps).
    pub switch_cpus: (f64, f64),
}

/// A report window's allocations: counts per key, the sampling section,
/// what no window saw, and the probe time charged to the target (ns).
pub struct WindowCounts {
    pub counts: HashMap<AllocKey, u64>,
    pub sampling: Sampling,
    pub unattributed: Unattributed,
    pub probe_ns: f64,
}

/// The peak CPU use decays by half in about five seconds of polls.
const PEAK_DECAY: f64 = 0.9965;

/// How often the runtime's counters (and the target's CPU time) are read.
pub const POLL: Duration = Duration::from_millis(25);
/// While a window is open (or closing) its hits are checked this often…
const OPEN_CHECK: Duration = Duration::from_millis(10);
/// …and this often in its first [`EARLY_SPAN`]: a window that opens on a
/// rate several times the predicted one (the end of a burst) spends its
/// allowance within ~10 ms, and the first check, 10 ms in and late on a
/// busy host, let one spend twice it (closed 16 ms in at 49,000 hits/s
/// against 7,900 predicted: the end of a burst in the Go 1.27 bursts test),
/// which left the bucket in debt through the next regime.
const EARLY_CHECK: Duration = Duration::from_millis(2);
const EARLY_SPAN: Duration = Duration::from_millis(20);
/// The classes' rates over this span are compared with what the last
/// window watched ([`regime`]): a new regime opens a window early. A span
/// of several polls, since a GC flushes every mcache's counts into one
/// poll.
const BURST_SPAN: Duration = Duration::from_millis(120);
/// The object rate a window's hits are predicted from: the more of the
/// last [`BURST_SPAN`] and this.
const RATE_SPAN: Duration = Duration::from_millis(500);

/// CPUs taken to be online where `/sys` does not say.
const MAX_CPUS: f64 = 64.0;

/// Allocation samples first: most of the windows' budget, a window about
/// every second.
/// The shares add up to 0.4: the rest is headroom for what no window
/// pays for and for what the governor measures only after the fact (a hit
/// is charged at its cost measured on the target, [`insitu`], once a
/// window was measurable). Measured on the net/http bench service: the
/// on-CPU sampling at 99 Hz costs it 0-0.6 % (toggled), the tracer's own
/// work ~0.5 % of a CPU, which beside the load generator costs the
/// service's req/s about three times that. Entry probes on emulated
/// instructions made a hit about a third as dear, so these shares see more
/// samples than 0.35 and 0.15 did before; the allocation share stays the
/// larger (a slow target's in-use sites need its liveness samples: at 0.2
/// a site's only class went unsampled in 1 of ~20 runs of tests/inuse.rs).
pub const ALLOCS: GroupParams = GroupParams {
    name: "allocs",
    share: 0.3,
    period: Duration::from_secs(1),
    first_window: Duration::from_millis(5),
    assumed_rate: 5_000.0,
    first_detach: Duration::from_millis(50),
    // Both points go at once, early in the detach (the breakpoints are
    // removed before the kernel waits for its grace periods): measured
    // 0.3–2 ms in bursts of ~100,000 hits a second.
    first_tail: Some(Duration::from_millis(2)),
    // Two stretched periods' worth.
    bucket: Duration::from_secs(8),
    min_window: Duration::from_millis(1),
    max_window: Duration::from_millis(750),
    // Until a window was measured on the target ([`insitu`]; a target whose
    // windows cannot be measured stays at this), a hit is taken to cost 3×
    // the trap + BPF estimate: with entry probes emulated the estimate is
    // ~3 µs, and the target pays more: 7–12 µs measured in situ on the
    // net/http bench, and a tight allocation loop lost 3.5 % where 0.84 %
    // was charged.
    unmeasured: 3.0,
    max_stretch: 4,
    learns_switch: true,
};
/// Map operations hit far more often (a net/http service: ~8 a request)
/// and their ~30 points take ~0.1–0.3 s to detach, firing meanwhile: a
/// window every few seconds at most, out of a bucket that saves up for it.
pub const MAPS: GroupParams = GroupParams {
    name: "maps",
    share: 0.1,
    period: Duration::from_secs(5),
    first_window: Duration::from_millis(2),
    assumed_rate: 10_000.0,
    // ~30 points removed one by one under the target's mmap lock: until a
    // close is measured, its hits are taken to come from as many CPUs as
    // the target kept busy at its peak lately, throughout `first_detach`
    // (at least a whole CPU was assumed before: a target using under ~0.3
    // CPU could then never save enough for a first map window, and its
    // maps went unseen).
    first_detach: Duration::from_millis(250),
    first_tail: None,
    bucket: Duration::from_secs(20),
    min_window: Duration::from_millis(1),
    max_window: Duration::from_millis(500),
    // The first close is already assumed costly (the busiest CPUs firing
    // throughout `first_detach`): 3× the estimate on top never let a map
    // window open on the net/http bench service (~46 M ns needed, 36 M the
    // most a window may spend); at 1× the first opened ~9 s in and
    // measured 16.8 µs a hit in situ (3.1× the estimate), which then
    // stands.
    unmeasured: 1.0,
    // Its windows are few (one every 5 s at most) and their closes are
    // charged as measured ([`Tail`]).
    max_stretch: 1,
    learns_switch: false,
};
const METHOD: &str =
    "span refills (runtime.(*mcache).refill, weighted by the objects the retired span served) \
     + large objects (runtime.(*mcache).allocLarge) in governed windows; the runtime's own \
     per-size-class counts, read every 25 ms, split by the nearest window's samples";
const METHOD_WITH_LIVENESS: &str = "span refills (runtime.(*mcache).refill, weighted by the objects the retired span served; \
     in regular windows the span runtime.(*mcentral).cacheSpan hands refill instead, weighted by the new span's \
     free slots, which also sample objects for liveness) + large objects (runtime.(*mcache).allocLarge) in \
     governed windows; the runtime's own per-size-class counts, read every 25 ms, split by the nearest window's samples";

/// A group that could not open a window for this many periods in a row is
/// reported as shed.
const SHED_AFTER: u32 = 3;
/// A window's measure whose noise (one standard deviation, per hit) is
/// more than this many times the estimate says too little of what a hit
/// costs: the noise of the target's CPU time (a GC, the scheduler)
/// divided by few hits would be the measure.
const MAX_IN_SITU_NOISE: f64 = 1.0;
/// A hit measured on the target is taken to cost at most this many times
/// the trap + BPF estimate (~4–5× was measured on a net/http service).
const MAX_IN_SITU: f64 = 6.0;
/// A window's fixed part (see [`insitu::Pool`]) is taken to cost a busy
/// CPU at most this, ns (~10–20 ms measured on the net/http bench service).
const MAX_FIXED_NS: f64 = 30_000_000.0;
/// A window with fewer objects or hits than these measures neither the
/// hits per object nor how long a close fires.
const MIN_RATIO_OBJECTS: u64 = 2_000;
const MIN_RATIO_HITS: u64 = 10;
/// Hits a second from which a window's hits time its close (a ms of
/// closing is a few hits), and hits it must have seen while open: a
/// window that saw 9 in its first ms (a target just starting a burst)
/// timed a close that fired 370 hits at 37 ms, and that tail, costed at
/// the burst's rate, kept every later window shut (Go 1.27.3, CI).
const TAIL_TIMING_RATE: f64 = 3_000.0;
const TAIL_TIMING_HITS: u64 = 20;
/// Share of a group's hits taken to be single-stepped (see `Traps`)
/// before a window measured it: entry probes are emulated, RETs (large
/// objects' spans, new maps) single-stepped.
const STEPPED_PRIOR: f64 = 0.5;
/// The in-situ cost is the median of this many last windows' measures,
/// each weighted by its precision.
const IN_SITU_WINDOWS: usize = 7;
/// Each group's programs' hit counters and the config entries where their
/// window's allowance goes (see `Group::arm_wake`).
const ALLOC_WAKE: &[(u32, u32)] = &[
    (counter::SAMPLES, config::SAMPLES_WAKE_AT),
    (counter::LIVE_SAMPLES, config::LIVE_SAMPLES_WAKE_AT),
];
const MAP_WAKE: &[(u32, u32)] = &[(counter::MAP_OP_HITS, config::MAP_OP_WAKE_AT)];

/// One windowed group: its governor, links while open, a detach in flight.
pub struct Group {
    pub governor: Governor,
    links: Vec<LinkHandle>,
    /// A detach in flight.
    detaching: Option<Detaching>,
    /// BPF programs of this group, for their run-time statistics.
    programs: &'static [&'static str],
    /// Its links are closed at once (see `Probes::close_samples`): the
    /// allocation samples' points, whose hits need no other point's; a
    /// map operation's entry needs its RETs' (closed after it).
    close_together: bool,
    /// (counter, config index) of each of its programs: the counts at
    /// which the open window has spent its allowance go in the config
    /// (see [`Group::arm_wake`]); whether they are set.
    wake: &'static [(u32, u32)],
    wake_armed: bool,
    /// (run time ns, runs) of the programs at the last close.
    bpf: (u64, u64),
    /// Measured BPF run time per hit, ns (None until a window had hits).
    pub bpf_ns_per_hit: Option<f64>,
    /// (run time per hit, hits) of the last windows.
    bpf_recent: VecDeque<(f64, f64)>,
    /// How long closing a window took (smoothed).
    detach: Duration,
    /// How long the probes kept firing while the last windows closed, at
    /// each window's hit rate (from windows whose hits came fast enough to
    /// time a close by them).
    tails: VecDeque<Duration>,
    /// Hits per object the runtime counted in the last windows
    /// (smoothed): with the object rate of the moment, the hits a window
    /// opened now would see.
    pub hits_per_object: Option<f64>,
    /// The last windows' hits per object, each.
    hpo_recent: VecDeque<f64>,
    /// The group's hits when the open window opened, and when its probes
    /// were all attached (those between fired while it attached).
    opened_hits: u64,
    attached_hits: u64,
    /// Of the group's hits, the share at single-stepped points (see
    /// `Traps`), as the last windows saw it (smoothed), and the group's
    /// (hits, stepped) counters when it was last measured.
    stepped_share: f64,
    stepped_at: (u64, u64),
    /// A closed window not yet measured on the target: (opened, detached,
    /// its hits, the CPUs the target kept busy then).
    unmeasured: Option<(Instant, Instant, u64, f64)>,
    /// What a hit cost the target, measured on it: the median of the last
    /// windows' measures (see [`insitu`]).
    pub in_situ_ns_per_hit: Option<f64>,
    /// (measure, weight) of the last windows measurable alone.
    in_situ_recent: VecDeque<(f64, f64)>,
    /// Every measured window, for when none is measurable alone.
    in_situ_pool: insitu::Pool,
}

/// A window's detach in flight: its thread, when the window opened, when
/// closing began, the group's hits then, and the hits a second the caller
/// expected then (if it could tell).
struct Detaching {
    handle: JoinHandle<()>,
    opened: Instant,
    closing: Instant,
    at_close: u64,
    expected_rate: Option<f64>,
}

impl Group {
    fn new(
        params: GroupParams,
        budget_pct: f64,
        programs: &'static [&'static str],
        (close_together, wake): (bool, &'static [(u32, u32)]),
    ) -> Group {
        let seed = unix_nanos() ^ (params.period.as_millis() as u64).rotate_left(32);
        Group {
            governor: Governor::new(params, budget_pct, seed),
            links: Vec::new(),
            detaching: None,
            programs,
            close_together,
            wake,
            wake_armed: false,
            bpf: (0, 0),
            bpf_ns_per_hit: None,
            bpf_recent: VecDeque::new(),
            detach: params.first_detach,
            tails: VecDeque::new(),
            hits_per_object: None,
            hpo_recent: VecDeque::new(),
            opened_hits: 0,
            attached_hits: 0,
            stepped_share: STEPPED_PRIOR,
            stepped_at: (0, 0),
            unmeasured: None,
            in_situ_ns_per_hit: None,
            in_situ_recent: VecDeque::new(),
            in_situ_pool: insitu::Pool::default(),
        }
    }

    /// The cost of one hit: the trap plus the BPF program's run time
    /// (before any was measured, a quarter of the trap), or what hits
    /// were measured to cost the target, if more; until a window was
    /// measured on the target, the group's `unmeasured` times the estimate.
    pub fn cost_ns(&self, traps: Traps) -> f64 {
        let estimate = self.estimate_ns(traps);
        estimate.max(self.in_situ_per_hit(estimate))
    }

    /// What a hit was measured to cost the target, or before any window
    /// was, the group's `unmeasured` times `estimate`.
    fn in_situ_per_hit(&self, estimate: f64) -> f64 {
        let unmeasured = self.governor.params.unmeasured;
        self.in_situ_ns_per_hit.unwrap_or(unmeasured * estimate)
    }

    /// What `hits` of the group's hits, `stepped` of them single-stepped,
    /// cost: each its trap plus the BPF run time, or what hits were
    /// measured to cost the target, if more.
    pub fn charge_ns(&self, traps: Traps, hits: u64, stepped: u64) -> f64 {
        let estimate = traps.cost(hits, stepped) + hits as f64 * self.bpf_ns(traps);
        estimate.max(hits as f64 * self.in_situ_per_hit(self.estimate_ns(traps)))
    }

    /// A hit's cost as estimated from the calibrated traps (at the share
    /// of single-stepped hits the group has lately) and the BPF run time.
    fn estimate_ns(&self, traps: Traps) -> f64 {
        traps.mean(self.stepped_share) + self.bpf_ns(traps)
    }

    /// The BPF programs' run time per hit (before any was measured, a
    /// quarter of the group's mean trap).
    fn bpf_ns(&self, traps: Traps) -> f64 {
        self.bpf_ns_per_hit
            .unwrap_or(traps.mean(self.stepped_share) / 4.0)
    }

    /// Updates the share of single-stepped hits from the group's counters
    /// now (cumulative hits, stepped).
    fn measure_stepped(&mut self, (hits, stepped): (u64, u64)) {
        let (h0, s0) = self.stepped_at;
        let dh = hits.saturating_sub(h0);
        if dh > 0 {
            let now = stepped.saturating_sub(s0).min(dh) as f64 / dh as f64;
            self.stepped_share = 0.5 * self.stepped_share + 0.5 * now;
        }
        self.stepped_at = (hits, stepped);
    }

    /// Measures the last closed window on the target once a poll after
    /// its close has come.
    fn measure_in_situ(&mut self, insitu: &InSitu, traps: Traps) {
        let Some((from, to, hits, cores)) = self.unmeasured else {
            return;
        };
        if !insitu.covers(to) {
            return;
        }
        self.unmeasured = None;
        // A window with few hits or objects (an idle target) says nothing
        // of how many hits a busy one makes.
        let informative = |n: &u64| *n >= MIN_RATIO_OBJECTS && hits >= MIN_RATIO_HITS;
        if let Some(objects) = insitu.objects_between(from, to).filter(informative) {
            let now = hits as f64 / objects as f64;
            self.hits_per_object = Some(self.hits_per_object.map_or(now, |h| 0.5 * h + 0.5 * now));
            keep_last(&mut self.hpo_recent, now);
        }
        let Some((extra, noise)) = insitu.extra_ns(from, to) else {
            return;
        };
        let estimate = self.estimate_ns(traps);
        let noise_per_hit = noise / hits.max(1) as f64;
        // The switch is charged on its own; the measure starts once the
        // probes were attached, so of the switch only the detach and what
        // follows it are in it (the fixed part): what is left over is the
        // hits'. A group that learns its switch fits the fixed part over
        // the pooled windows ([`insitu::Pool`]) and charges it, with the
        // attach taken at half [`governor::SWITCH_NS`].
        self.in_situ_pool.add(extra, hits, noise, cores);
        let attach = governor::SWITCH_NS / 2.0;
        if self.governor.params.learns_switch {
            let per_hit = self.in_situ_per_hit(estimate);
            if let Some(fixed) = self.in_situ_pool.fixed_per_cpu(per_hit) {
                self.governor
                    .set_switch_per_cpu(attach + fixed.min(MAX_FIXED_NS));
            }
        }
        let fixed = self.governor.switch_per_cpu() - attach;
        let net = extra - fixed * cores;
        if debug_windows() {
            eprintln!(
                "{} insitu group={} hits={hits} extra_ns={extra:.0} noise_ns={noise:.0} fixed_ns={:.0} estimate_ns={estimate:.0}",
                unix_nanos() / 1_000_000,
                self.governor.params.name,
                fixed * cores
            );
        }
        if noise_per_hit > MAX_IN_SITU_NOISE * estimate {
            // Too noisy alone. Until a window measures alone, the pooled
            // windows stand, once their sum says enough.
            if self.in_situ_recent.is_empty() {
                if let Some((per_hit, _)) = self
                    .in_situ_pool
                    .per_hit(fixed)
                    .filter(|(_, noise)| *noise <= MAX_IN_SITU_NOISE * estimate)
                {
                    self.in_situ_ns_per_hit = Some(per_hit.clamp(0.0, MAX_IN_SITU * estimate));
                }
            }
            return;
        }
        // One window's measure is noisy (a program that changes what it
        // does mid-window changes its CPU per object too): bounded, and
        // the median of the last few stands.
        let per_hit = (net / hits as f64).clamp(0.0, MAX_IN_SITU * estimate);
        let weight = 1.0 / noise_per_hit.powi(2).max(1.0);
        keep_last(&mut self.in_situ_recent, (per_hit, weight));
        self.in_situ_ns_per_hit = weighted_median(self.in_situ_recent.iter().copied());
    }

    /// How long a close keeps the probes firing: the median of the last
    /// timed closes.
    fn tail(&self) -> Option<Duration> {
        let mut v: Vec<Duration> = self.tails.iter().copied().collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }

    pub fn shed(&self) -> bool {
        self.governor.starved_periods(Instant::now()) >= SHED_AFTER
    }

    /// A detach was in flight and has finished.
    fn detach_done(&self) -> bool {
        self.detaching
            .as_ref()
            .is_some_and(|d| d.handle.is_finished())
    }

    /// If the detach in flight has finished: closes the window's books
    /// and returns when it opened.
    /// `rate_now`: the hits a second the caller expects now, if it can
    /// tell (how fast the close's hits came).
    fn detached(
        &mut self,
        (hits, stepped): (u64, u64),
        (traps, cores): (Traps, f64),
        rate_now: Option<f64>,
        probes: &Probes,
    ) -> Option<Instant> {
        if !self.detach_done() {
            return None;
        }
        let Detaching {
            opened,
            closing,
            at_close,
            expected_rate,
            ..
        } = self.detaching.take()?;
        let now = Instant::now();
        let closing_took = now.saturating_duration_since(closing);
        self.detach = (self.detach + closing_took) / 2;
        // The closing's hits as time at the window's own hit rate (from
        // its probes' attach to its close; the few hits while it attached,
        // at the points attached before the busy one, are charged with the
        // window's).
        if let Some(fired) = tail_timing(
            at_close.saturating_sub(self.attached_hits),
            closing.saturating_duration_since(opened),
            expected_rate.into_iter().chain(rate_now).reduce(f64::max),
            hits.saturating_sub(at_close),
            closing_took,
        ) {
            keep_last(&mut self.tails, fired);
        }
        self.measure_bpf(probes);
        self.measure_stepped((hits, stepped));
        let cost = self.cost_ns(traps);
        let charged_before = self.governor.charged_ns;
        self.governor.closed(now, hits, cost, cores);
        if debug_windows() {
            // What the window was charged, its hits counted to the end of
            // the detach (the bench's time-locked measure reads this).
            let now_ms = unix_nanos() / 1_000_000;
            eprintln!(
                "{now_ms:?} window group={} opened={} hits={} charged_ns={:.0}",
                self.governor.params.name,
                now_ms.saturating_sub(now.saturating_duration_since(opened).as_millis() as u64),
                hits.saturating_sub(self.opened_hits),
                self.governor.charged_ns - charged_before
            );
        }
        self.unmeasured = Some((opened, now, hits.saturating_sub(self.opened_hits), cores));
        Some(opened)
    }

    /// Tells the group's programs at which of their counts the window just
    /// opened has spent its allowance, less the hits it saw while it
    /// attached (the program whose hit reaches one wakes the run loop,
    /// which closes the window: `config::SAMPLES_WAKE_AT`); clears them
    /// once it closes.
    fn arm_wake(&mut self, probes: &mut Probes, collector: &Collector, cost: f64) {
        let open = !self.links.is_empty();
        if open == self.wake_armed {
            return;
        }
        let seen = self.attached_hits.saturating_sub(self.opened_hits);
        let allowed = self
            .governor
            .allowed_hits(cost)
            .filter(|_| open)
            .map(|n| n.saturating_sub(seen).max(1));
        let mut armed = true;
        for &(counter, at) in self.wake {
            let value = allowed.map_or(0, |n| collector.counter(counter) + n);
            armed &= probes.set_config(at, value).is_ok();
        }
        self.wake_armed = open && armed;
    }

    /// Reads the programs' run-time statistics (kernel BPF stats): the
    /// run time per hit is the median of the last windows', each weighted
    /// by its hits. A program preempted while it runs is charged the time
    /// it waited: one window of a burst read ~10× the others, and smoothed
    /// into the estimate it made a hit cost 11.7 µs where the target paid
    /// 2 µs in all (measured in situ), so no window could open for the
    /// next burst (Go 1.21.13, tests/default_mode.rs, 2 of ~10 runs).
    fn measure_bpf(&mut self, probes: &Probes) {
        let (ns, runs) = probes.programs_stats(self.programs);
        let (dn, dr) = (
            ns.saturating_sub(self.bpf.0),
            runs.saturating_sub(self.bpf.1),
        );
        if dr > 0 {
            let per_hit = dn as f64 / dr as f64;
            if debug_windows() {
                eprintln!(
                    "{:?} bpf group={} hits={dr} ns_per_hit={per_hit:.0}",
                    unix_nanos() / 1_000_000,
                    self.governor.params.name
                );
            }
            keep_last(&mut self.bpf_recent, (per_hit, dr as f64));
            self.bpf_ns_per_hit = weighted_median(self.bpf_recent.iter().copied());
        }
        self.bpf = (ns, runs);
    }
}

pub struct SampledState {
    pub plan: SamplePlan,
    pub allocs: Group,
    /// Map points (operations, creation, growth); none with --no-maps.
    pub map_points: Vec<MapPoint>,
    pub maps: Group,
    /// How long map operations were watched, in total.
    pub map_watch: Duration,
    attributor: Attributor,
    /// Sampled objects (window samples) so far.
    pub sampled_objects: u64,
    /// Cumulative sample counts at the last allocation window's close.
    counts_at_close: HashMap<AllocKey, u64>,
    next_poll: Instant,
    last_cpu: Option<(Instant, u64)>,
    /// CPUs the target keeps busy (smoothed over ~0.25 s), and the most
    /// of that in the last seconds (a bursty target's busy moments).
    pub cores: f64,
    peak_cores: f64,
    /// CPUs the target kept busy over the last few polls (from the first:
    /// `cores` starts at 0 and takes a second to come up).
    pub recent_cores: Option<f64>,
    /// The target's CPU time per object, around windows.
    insitu: InSitu,
    /// A window was open or closing since the last poll.
    busy_since_poll: bool,
    /// What the BPF side was last told: map operations are watched.
    maps_watched: bool,
    /// The regimes the last allocation window watched.
    watched: Watched,
    /// `gc_wake` hits (one a GC cycle, sampled liveness) already charged
    /// to the allocation group, and when that probe may be attached.
    gc_wakes_charged: u64,
    gc_wake: Option<GcWakeGate>,
    /// CPUs online: the most CPUs the target can keep busy.
    cpus: f64,
}

/// What the session lends a step: the probes, the binary and pid, the
/// collector (sample counts), the trap's cost.
pub struct Ctx<'a> {
    pub probes: &'a mut Probes,
    pub bin: &'a GoBinary,
    pub exe: &'a Path,
    pub pid: u32,
    pub collector: &'a mut Collector,
    pub traps: Traps,
}

impl SampledState {
    /// `budget_pct` is `--max-overhead`, shared between the groups.
    pub fn new(plan: SamplePlan, map_points: Vec<MapPoint>, budget_pct: f64) -> SampledState {
        SampledState {
            plan,
            allocs: Group::new(ALLOCS, budget_pct, SAMPLE_PROGRAMS, (true, ALLOC_WAKE)),
            maps: Group::new(MAPS, budget_pct, MAP_PROGRAMS, (false, MAP_WAKE)),
            map_points,
            map_watch: Duration::ZERO,
            attributor: Attributor::new(),
            sampled_objects: 0,
            counts_at_close: HashMap::new(),
            next_poll: Instant::now(),
            last_cpu: None,
            cores: 0.0,
            peak_cores: 0.0,
            recent_cores: None,
            insitu: InSitu::default(),
            busy_since_poll: false,
            maps_watched: false,
            watched: Watched::default(),
            gc_wakes_charged: 0,
            gc_wake: None,
            cpus: online_cpus().map_or(MAX_CPUS, |c| c.len() as f64),
        }
    }

    /// Sampled liveness wants the GC watch's wakeup probe: attached while
    /// the GC cycles `sweepgen_addr` counts are rare enough ([`gcwake`]).
    pub fn gate_gc_wake(&mut self, mem: ProcMem, sweepgen_addr: u64) {
        self.gc_wake = Some(GcWakeGate::new(mem, sweepgen_addr));
    }

    /// When the next step is due.
    pub fn due(&self) -> tokio::time::Instant {
        let now = Instant::now();
        let group = |g: &Group| match (&g.detaching, g.governor.open_since()) {
            (Some(_), _) => now + OPEN_CHECK,
            (None, Some(since)) => {
                let early = now.saturating_duration_since(since) < EARLY_SPAN;
                let every = if early { EARLY_CHECK } else { OPEN_CHECK };
                g.governor.next_at().min(now + every)
            }
            // Retrying between polls found the bucket as it was: each
            // retry was a wakeup of its own on the target's CPU (~40 a
            // second on the net/http bench, as many as the polls).
            (None, None) if g.governor.waits_for_budget() => self.next_poll,
            (None, None) => g.governor.next_at(),
        };
        let mut due = self.next_poll.min(group(&self.allocs));
        if !self.map_points.is_empty() {
            due = due.min(group(&self.maps));
        }
        tokio::time::Instant::from_std(due)
    }

    /// Takes the runtime's counters and the target's CPU time with when it
    /// was read (`None` when they cannot be read). The CPU time is paired
    /// with its own reading's time: the run loop runs at idle priority, and
    /// the target may keep it waiting between the two readings for tens of
    /// ms, which counted against the time since the last reading read as
    /// several CPUs busy (5.84 on a target confined to one CPU).
    pub fn poll(
        &mut self,
        runtime: Option<AllocCounters>,
        cpu_read: Option<(Instant, u64)>,
        traps: Traps,
    ) {
        let now = Instant::now();
        self.next_poll = now + POLL;
        if let Some(g) = &mut self.gc_wake {
            g.poll(now);
        }
        let cpu_ns = cpu_read.map(|(_, cpu)| cpu);
        if let Some((read_at, cpu)) = cpu_read {
            if let Some((at, before)) = self.last_cpu {
                let d = cpu.saturating_sub(before);
                let secs = read_at.duration_since(at).as_secs_f64().max(1e-3);
                // A nearly idle target is budgeted as if it kept
                // `IDLE_FLOOR` of a CPU busy (see the README).
                let budgeted = d.max((IDLE_FLOOR * secs * 1e9) as u64);
                self.allocs.governor.accrue(budgeted);
                self.maps.governor.accrue(budgeted);
                let cores = (d as f64 / 1e9 / secs).min(self.cpus);
                self.cores = 0.9 * self.cores + 0.1 * cores;
                self.recent_cores =
                    Some(self.recent_cores.map_or(cores, |r| 0.5 * r + 0.5 * cores));
                self.peak_cores = self.cores.max(self.peak_cores * PEAK_DECAY);
            }
            self.last_cpu = Some((read_at, cpu));
        }
        let busy = self.busy_since_poll || self.busy();
        self.busy_since_poll = false;
        if let (Some(c), Some(cpu)) = (&runtime, cpu_ns) {
            self.insitu.poll(now, cpu, c.objects(), busy);
            self.allocs.measure_in_situ(&self.insitu, traps);
            self.maps.measure_in_situ(&self.insitu, traps);
        }
        if let Some(c) = runtime {
            self.attributor.poll(now, c);
        }
    }

    /// Attaches or detaches the GC watch's wakeup probe as its gate says.
    fn gate_gc_wake_probe(&mut self, cx: &mut Ctx<'_>, now: Instant) {
        let Some(g) = &mut self.gc_wake else { return };
        let cores = self.cores.max(IDLE_FLOOR);
        let budget = self.allocs.governor.budget_pct / 100.0 * cores * 1e9;
        match g.decide(now, self.allocs.cost_ns(cx.traps), budget) {
            Some(gcwake::Switch::Attach) => {
                let r = cx.probes.attach_gc_wake(cx.bin, cx.exe, cx.pid);
                if debug_windows() {
                    eprintln!("gc_wake attach rate={:?}: {:?}", g.rate, r.as_ref().err());
                }
                g.attached(now, r.ok());
            }
            Some(gcwake::Switch::Detach) => {
                if debug_windows() {
                    eprintln!("gc_wake detach rate={:?}", g.rate);
                }
                if let Some(h) = g.detach(now) {
                    drop(cx.probes.close_samples(vec![h], false));
                }
            }
            None => {}
        }
    }

    /// What `hits` of the GC watch's wakeup probe cost, for the report: as
    /// many of the allocation group's, or their trap plus the wakeup
    /// program's own run time, if more. (The governor still charges them,
    /// and gates the probe, at an allocation hit's price, as before:
    /// charged at their own, the steady mix of `tests/default_mode.rs` on
    /// Go 1.24.11 opened 4 windows in 10 s in 2 of 8 runs, and the build
    /// before did so in 1 of 10: not settled.)
    /// `bpf_ns`: the wakeup program's run time per hit over the report
    /// window, if measured (~11–14 µs on the net/http bench, against ~1–3
    /// µs for the allocation group's).
    fn gc_wake_charge_ns(&self, traps: Traps, hits: u64, bpf_ns: Option<f64>) -> f64 {
        let own = traps.cost(hits, 0) + hits as f64 * bpf_ns.unwrap_or(0.0);
        self.allocs.charge_ns(traps, hits, 0).max(own)
    }

    /// A window is open or closing.
    fn busy(&self) -> bool {
        [&self.allocs, &self.maps]
            .iter()
            .any(|g| g.governor.is_open() || g.detaching.is_some())
    }

    /// A regime no window has watched yet (see [`regime`]). A regime a
    /// window already saw opens no more early windows: their budget is
    /// kept for the next change.
    fn burst(&self) -> bool {
        self.watched
            .changed(&self.attributor.recent_rates(BURST_SPAN))
    }

    /// The hits a second an allocation window opened now would see:
    /// the objects the runtime counted lately (the more of the last
    /// moments and the last half second) at the hits per object windows
    /// saw, never fewer than a hit per span's worth of objects, less what
    /// the hits themselves slow the target (a burst of 512-byte objects,
    /// 16 a span, at 8 M a second on 1.5 CPUs: 500,000 hits a second
    /// untraced, ~170,000 measured while a window watched it).
    fn predicted_hits(&self, burst: bool, traps: Traps) -> Option<f64> {
        let a = &self.attributor;
        let (moment, half_second) = (a.recent_rates(BURST_SPAN), a.recent_rates(RATE_SPAN));
        let sum = |rates: &[f64]| rates.iter().sum::<f64>();
        let objects_per_sec = sum(&moment).max(sum(&half_second));
        // A burst is a new mix of classes, whose objects per hit no
        // window measured (a class whose spans the GC retires, not
        // refills, has thousands): its window is sized with the fewest
        // hits per object seen lately, and charged for the hits it
        // really gets.
        let hpo = if burst {
            self.allocs.hpo_recent.iter().copied().reduce(f64::min)
        } else {
            self.allocs.hits_per_object
        };
        let fewest = attribute::fewest_hits(&moment).max(attribute::fewest_hits(&half_second));
        let untraced = match hpo.map(|h| h * objects_per_sec) {
            Some(r) => r.max(fewest),
            None if fewest > 0.0 => fewest,
            None => return self.allocs.governor.hit_rate(self.cores),
        };
        // Each object then takes its own CPU time plus its share of a hit:
        // the rate falls by 1 + (hits' time a second) / (CPU time a second).
        // A hit is taken to cost what the governor charges for it, so the
        // hits' predicted time never exceeds the CPUs the target keeps
        // busy (at the trap + BPF estimate, a third of the unmeasured
        // charge, a 512-byte burst was predicted 3.1 s of probe time a
        // second on 1.45 CPUs, and its first window waited for that).
        let busy = self.cores.max(self.peak_cores).max(IDLE_FLOOR) * 1e9;
        Some(untraced / (1.0 + untraced * self.allocs.cost_ns(traps) / busy))
    }

    /// Opens or closes what is due; finishes detaches that completed.
    pub fn step(&mut self, cx: &mut Ctx<'_>) {
        let now = Instant::now();
        let (alloc_group, map_group) = cx.collector.group_hits();
        let (alloc_hits, map_hits) = (alloc_group.0, map_group.0);
        // Detaches that completed close their windows.
        let (traps, cores, peak) = (cx.traps, self.cores, self.peak_cores);
        // The GC watch's wakeups (sampled liveness's one probe outside the
        // windows) come out of the allocation group's budget.
        let wakes = cx.collector.counter(counter::GC_WAKES);
        if wakes > self.gc_wakes_charged {
            let n = wakes - self.gc_wakes_charged;
            self.gc_wakes_charged = wakes;
            self.allocs
                .governor
                .charge(self.allocs.charge_ns(traps, n, 0));
        }
        self.gate_gc_wake_probe(cx, now);
        let rate_now = self
            .allocs
            .detach_done()
            .then(|| self.predicted_hits(false, traps))
            .flatten();
        if let Some(opened) = self
            .allocs
            .detached(alloc_group, (traps, cores), rate_now, cx.probes)
        {
            let all = cx.collector.alloc_counts();
            let window = crate::collect::aggregate::allocs::delta(&all, &self.counts_at_close);
            self.sampled_objects += window.values().sum::<u64>();
            self.counts_at_close = all;
            let seen_anything = !window.is_empty();
            if debug_windows() {
                let mut seen: Vec<(u64, u64)> = window.iter().map(|(k, n)| (k.size, *n)).collect();
                seen.sort_unstable();
                eprintln!(
                    "{:?} samples group=allocs {:?}..now {seen:?}",
                    unix_nanos() / 1_000_000,
                    now - opened
                );
            }
            let watched = self.attributor.window(opened, now, window);
            self.watched.closed(watched, seen_anything);
        }
        if let Some(opened) = self
            .maps
            .detached(map_group, (traps, cores), None, cx.probes)
        {
            self.map_watch += now - opened;
        }
        if self.allocs.detaching.is_none() {
            let burst = self.burst();
            let plan = &self.plan;
            let (bin, exe, pid) = (cx.bin, cx.exe, cx.pid);
            let rate = self.predicted_hits(burst, cx.traps);
            // Regular windows sample objects for liveness (when the plan has
            // liveness points): their refills are counted where `refill`
            // tests the span `cacheSpan` handed it, weighted by the new
            // span's free slots, so a refill costs one hit either way
            // (measured: the default mode's steady-mix and burst suites
            // pass as before). A burst's window
            // weighs by the retired span, at `refill`'s entry.
            let live = !burst;
            step_group(
                &mut self.allocs,
                cx,
                alloc_hits,
                (cores, peak),
                (burst, rate),
                |p| p.open_samples(bin, exe, pid, plan, live),
                |c| c.group_hits().0 .0,
            );
        }
        if !self.map_points.is_empty() && self.maps.detaching.is_none() {
            let points = &self.map_points;
            let (bin, exe, pid) = (cx.bin, cx.exe, cx.pid);
            step_group(
                &mut self.maps,
                cx,
                map_hits,
                (cores, peak),
                (false, None),
                |p| p.attach_maps(bin, exe, pid, points),
                |c| c.group_hits().1 .0,
            );
        }
        // On-CPU samples count toward `cost_ns` only while operations are
        // counted.
        let watched = !self.maps.links.is_empty();
        if watched != self.maps_watched {
            let flag = tracer_common::config::MAPS_WATCHED;
            self.maps_watched = cx.probes.set_config(flag, u64::from(watched)).is_ok() && watched;
        }
        self.busy_since_poll |= self.busy();
    }

    pub fn poll_due(&self) -> bool {
        Instant::now() >= self.next_poll
    }

    /// Cumulative state now (call `poll` first for a complete slot).
    pub fn mark(&self) -> SampledMark {
        let g = &self.allocs.governor;
        SampledMark {
            estimates: self.attributor.snapshot(),
            sampled_objects: self.sampled_objects,
            windows: (g.windows, self.maps.governor.windows),
            open: g.open_total + g.open_since().map_or(Duration::ZERO, |s| s.elapsed()),
            switch_cpus: (g.switch_cpus, self.maps.governor.switch_cpus),
        }
    }

    /// The allocations of a report window `from`..`to`: the runtime's own
    /// counts split by the windows' samples. Where the runtime's counters
    /// cannot be read (`raw` = the window's sample counts), the samples
    /// are scaled by the duty cycle instead.
    pub fn window_counts(
        &self,
        (from, to): (&SampledMark, &SampledMark),
        counters: &Counters,
        mut raw: HashMap<AllocKey, u64>,
        (elapsed, target_cpu_ns): (Duration, u64),
        traps: Traps,
        gc_wake_bpf_ns: Option<f64>,
    ) -> WindowCounts {
        let (a, b) = (&from.estimates, &to.estimates);
        let secs = elapsed.as_secs_f64().max(1e-9);
        let duty = 100.0 * to.open.saturating_sub(from.open).as_secs_f64() / secs;
        let sampled_objects = to.sampled_objects.saturating_sub(from.sampled_objects);
        let objects = b.objects.saturating_sub(a.objects);
        let (counts, unattributed, totals_from) = if b.objects > 0 {
            let un_objects = b
                .unattributed_objects
                .saturating_sub(a.unattributed_objects);
            let estimates: HashMap<AllocKey, f64> = b
                .by_key
                .iter()
                .map(|(k, v)| (*k, v - a.by_key.get(k).copied().unwrap_or(0.0)))
                .collect();
            let counts = allocs::round_to_total(&estimates, objects.saturating_sub(un_objects));
            let unattributed = Unattributed {
                objects: un_objects,
                bytes: b.unattributed_bytes.saturating_sub(a.unattributed_bytes),
                share: un_objects as f64 / objects.max(1) as f64,
            };
            (counts, unattributed, "runtime counters")
        } else {
            let n: u64 = raw.values().sum();
            allocs::scale_to(&mut raw, (n as f64 * 100.0 / duty.max(1e-6)) as u64);
            (raw, Unattributed::default(), "duty cycle")
        };
        let total: u64 = counts.values().sum::<u64>() + unattributed.objects;
        let mut per_stack: HashMap<u64, u64> = HashMap::new();
        for (k, n) in &counts {
            *per_stack.entry(k.stack_id).or_default() += n;
        }
        let top_share = per_stack.values().copied().max().unwrap_or(0) as f64 / total.max(1) as f64;
        let (ag, mg) = (&self.allocs.governor, &self.maps.governor);
        let switches = |a: f64, b: f64| (b - a).max(0.0);
        let map_hits = counters.map_op_hits;
        let sample_hits = counters.samples + counters.live_samples;
        let probe_ns = self
            .allocs
            .charge_ns(traps, sample_hits, counters.samples_stepped)
            + self
                .maps
                .charge_ns(traps, map_hits, counters.map_op_stepped)
            + self.gc_wake_charge_ns(traps, counters.gc_wakes, gc_wake_bpf_ns)
            + switches(from.switch_cpus.0, to.switch_cpus.0) * ag.switch_per_cpu()
            + switches(from.switch_cpus.1, to.switch_cpus.1) * mg.switch_per_cpu();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let sampling = Sampling {
            method: if self.plan.live.is_empty() {
                METHOD
            } else {
                METHOD_WITH_LIVENESS
            },
            budget_pct: ag.budget_pct,
            duty_cycle_pct: duty,
            windows: to.windows.0.saturating_sub(from.windows.0),
            burst_windows: ag.burst_windows,
            window_ms: ms(ag.last_window),
            period_ms: ms(ag.period()),
            map_windows: to.windows.1.saturating_sub(from.windows.1),
            map_window_ms: ms(mg.last_window),
            map_period_ms: ms(mg.period()),
            shed: self.shed(),
            bpf_ns_per_hit: self.allocs.bpf_ns_per_hit,
            map_bpf_ns_per_hit: self.maps.bpf_ns_per_hit,
            in_situ_ns_per_hit: self.allocs.in_situ_ns_per_hit,
            map_in_situ_ns_per_hit: self.maps.in_situ_ns_per_hit,
            target_cpus: target_cpu_ns as f64 / 1e9 / secs,
            samples: counters.samples + counters.live_samples,
            sampled_objects,
            scale: total as f64 / sampled_objects.max(1) as f64,
            totals_from,
            est_error_pct: relative_error_pct(top_share, counters.samples + counters.live_samples),
        };
        WindowCounts {
            counts,
            sampling,
            unattributed,
            probe_ns,
        }
    }

    /// Groups shed for lack of budget, by name.
    pub fn shed(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.allocs.shed() {
            out.push("allocation samples");
        }
        if !self.map_points.is_empty() && self.maps.shed() {
            out.push("map operations");
        }
        out
    }
}

fn step_group(
    g: &mut Group,
    cx: &mut Ctx<'_>,
    hits: u64,
    (cores, peak): (f64, f64),
    (burst, rate): (bool, Option<f64>),
    open: impl FnOnce(&mut Probes) -> Result<Vec<LinkHandle>, UserError>,
    hits_now: fn(&Collector) -> u64,
) {
    if g.governor.stuck(Instant::now()) && (!g.tails.is_empty() || g.governor.knows_rate()) {
        if debug_windows() {
            eprintln!(
                "{:?} forget group={} tail={:?} hit_rate={:?} tokens={:.0}",
                unix_nanos() / 1_000_000,
                g.governor.params.name,
                g.tail(),
                g.governor.hit_rate(cores),
                g.governor.tokens()
            );
        }
        g.tails.clear();
        g.governor.forget_rate();
    }
    let cost = g.cost_ns(cx.traps);
    let tail = match (g.tail(), g.governor.params.first_tail) {
        (Some(d), _) | (None, Some(d)) => Tail::Fires(d),
        (None, None) => Tail::Lasts(g.detach, peak),
    };
    let step = g
        .governor
        .step(Instant::now(), hits, cost, cores, burst, rate, tail);
    if debug_windows() && (burst || step != Step::Nothing) {
        eprintln!(
            "{:?} {step:?} group={} hits={hits} cost={cost:.0} cores={cores:.2} burst={burst} rate={rate:?} tail={tail:?} tokens={:.0} hpo={:?}",
            unix_nanos() / 1_000_000,
            g.governor.params.name,
            g.governor.tokens(),
            g.hits_per_object
        );
    }
    match step {
        Step::Open => match open(cx.probes) {
            Ok(links) => {
                g.governor.attached(Instant::now());
                g.links = links;
                g.opened_hits = hits;
                g.attached_hits = hits_now(cx.collector);
            }
            Err(e) => {
                eprintln!("tracer: sampling window not opened: {e}");
                g.governor.closed(Instant::now(), hits, cost, 0.0);
            }
        },
        Step::Close => {
            let opened = g.governor.open_since().unwrap_or_else(Instant::now);
            let handle = cx
                .probes
                .close_samples(std::mem::take(&mut g.links), g.close_together);
            g.detaching = Some(Detaching {
                handle,
                opened,
                closing: Instant::now(),
                at_close: hits,
                expected_rate: rate,
            });
        }
        Step::Nothing => {}
    }
    g.arm_wake(cx.probes, cx.collector, cost);
}

/// How long a close kept the probes firing: its `tail` hits at the rate
/// of the window's `open_hits` over `open_for`, or at the rate the caller
/// `expected` (at the close or after it) if higher, at most the close's
/// `took`. `None` when the window's hits came too slowly or too few (or in
/// clumps after each GC) to say. A target runs little for a few ms after the probes
/// are attached: a short window's own rate is low (23,000 a second where
/// the runtime's counters said 68,000, Go 1.27.3), and its close's hits
/// at that rate read 22 ms of firing in a 73 ms detach where the next
/// closes fired ~1 ms.
fn tail_timing(
    open_hits: u64,
    open_for: Duration,
    expected: Option<f64>,
    tail: u64,
    took: Duration,
) -> Option<Duration> {
    let open_rate = open_hits as f64 / open_for.as_secs_f64().max(1e-4);
    let rate = open_rate.max(expected.unwrap_or(0.0));
    (open_hits >= TAIL_TIMING_HITS && open_rate >= TAIL_TIMING_RATE)
        .then(|| Duration::from_secs_f64(tail as f64 / rate).min(took))
}

/// `TRACER_DEBUG_WINDOWS` is set (read once).
fn debug_windows() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("TRACER_DEBUG_WINDOWS").is_some())
}

/// Pushes `value`, keeping the last [`IN_SITU_WINDOWS`].
fn keep_last<T>(values: &mut VecDeque<T>, value: T) {
    if values.len() == IN_SITU_WINDOWS {
        values.pop_front();
    }
    values.push_back(value);
}

/// The value at which half the weight lies on either side.
fn weighted_median(values: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let mut v: Vec<(f64, f64)> = values.collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = v.iter().map(|x| x.1).sum::<f64>() / 2.0;
    let mut seen = 0.0;
    for (value, weight) in &v {
        seen += weight;
        if seen >= half {
            return Some(*value);
        }
    }
    v.last().map(|x| x.0)
}

fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probes::ProbePoint;
    use crate::tracee::gobin::FuncInfo;

    /// A default-mode state on a plan of one refill point, budget 3 %.
    pub(crate) fn state() -> SampledState {
        let refill = ProbePoint {
            func: FuncInfo {
                name: "runtime.(*mcache).refill".into(),
                entry: 0x1000,
                end: 0x1100,
            },
            addr: 0x1010,
            min_size: 0,
            after_prologue: true,
            once: true,
        };
        let plan = SamplePlan {
            refill,
            large: None,
            live: Vec::new(),
        };
        SampledState::new(plan, Vec::new(), 3.0)
    }

    #[test]
    fn a_close_is_timed_by_a_window_that_saw_enough_hits() {
        let ms = Duration::from_millis;
        // 9 hits in a window's first ms, then 370 while closing.
        assert_eq!(tail_timing(9, ms(2), None, 370, ms(72)), None);
        // 30 hits in 3 ms: 10,000 a second; 20 while closing took 2 ms.
        assert_eq!(tail_timing(30, ms(3), None, 20, ms(50)), Some(ms(2)));
        // At 20,000 a second expected then, 1 ms; a lower one is not taken.
        assert_eq!(tail_timing(30, ms(3), Some(20e3), 20, ms(50)), Some(ms(1)));
        assert_eq!(tail_timing(30, ms(3), Some(5e3), 20, ms(50)), Some(ms(2)));
        // Never longer than the close took.
        assert_eq!(tail_timing(30, ms(3), None, 2_000, ms(50)), Some(ms(50)));
        // Too slow to time: 30 hits in 100 ms.
        assert_eq!(tail_timing(30, ms(100), None, 20, ms(50)), None);
    }

    #[test]
    fn a_report_prices_switches_and_wakeups_at_what_they_were_measured_to_cost() {
        let mut s = state();
        let traps = Traps {
            emulated_ns: 500.0,
            stepped_ns: 16_000.0,
        };
        let before = s.mark();
        // Two windows' switches, each with one CPU busy, charged at the
        // assumed 2 ms; then a switch measured at 15 ms a CPU.
        s.allocs.governor.switch_cpus += 2.0;
        s.allocs.governor.set_switch_per_cpu(15e6);
        // 100 GC wakeups whose program ran 40 µs each: more than the
        // allocation group's hits are charged before any was measured
        // (3× trap + BPF at the prior share of single-stepped hits).
        let counters = Counters {
            gc_wakes: 100,
            ..Counters::default()
        };
        let after = s.mark();
        let second = Duration::from_secs(1);
        let w = s.window_counts(
            (&before, &after),
            &counters,
            HashMap::new(),
            (second, 5e8 as u64),
            traps,
            Some(40_000.0),
        );
        let wakes = 100.0 * (500.0 + 40_000.0);
        assert!((w.probe_ns - (30e6 + wakes)).abs() < 1.0, "{}", w.probe_ns);
        assert_eq!(w.sampling.target_cpus, 0.5);
    }

    #[test]
    fn a_precise_measure_outweighs_noisy_ones() {
        let v = [(10.0, 100.0), (120.0, 1.0), (125.0, 1.0), (5.0, 1.0)];
        assert_eq!(weighted_median(v.into_iter()), Some(10.0));
        let even = [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)];
        assert_eq!(weighted_median(even.into_iter()), Some(2.0));
        assert_eq!(weighted_median(std::iter::empty()), None);
    }
}
