//! The overhead governor of one windowed probe group: a token bucket of
//! probe time.
//!
//! Probe time is what the group's probes charge the target: each hit costs
//! the trap (calibrated at start) plus the BPF program's own run time
//! (measured by the kernel's BPF statistics), and opening plus closing a
//! window stalls the target while its text is rewritten ([`SWITCH_NS`],
//! charged in proportion to the CPU the target is using). The bucket fills
//! with the group's share of `--max-overhead` percent of the CPU time the
//! target spends, up to two seconds' worth; a window opens only when the
//! bucket holds enough for it, and closes (checked every few ms) as soon
//! as its hits have spent what it was given. So over any stretch longer
//! than a couple of seconds the probes cost the target at most the budget,
//! whatever the load; a burst can only spend what the bucket holds.
//!
//! Windows open at jittered times (no fixed phase to alias with the
//! program's own cycles), and early when the caller sees the allocation
//! rate change (a burst).
use std::time::{Duration, Instant};

/// What one window switch (attach + detach of a group) costs a target that
/// keeps one CPU busy, in ns: attaching and detaching rewrite its text
/// under its mmap lock and stall it. Measured on the net/http bench service
/// by its own requests served per 2 ms, averaged around ~35 windows:
/// attaching the allocation group took ~8 ms at a few ms of lost work; the
/// hits while a window is open or closing cost far more than the trap
/// calibrated on the tracer (~55 µs a hit against ~14 µs), which the
/// in-situ measure ([`super::insitu`]) charges instead.
/// A switch's cost until the target measured it: a group that learns it
/// ([`GroupParams::learns_switch`]) then charges what its windows'
/// fixed part measured in situ (`super::insitu::Pool::fixed_per_cpu`).
pub const SWITCH_NS: f64 = 2_000_000.0;
/// A regular window opens only once it can spend on hits at least this
/// many times its switch's fixed cost (or the bucket is full): on the
/// net/http bench service a window's fixed part measured 10–20 ms of the
/// target's CPU in situ, whatever its hits (68–1,851), and windows opened
/// as soon as the bucket paid for the switch spent most of the budget on
/// switches: fewer, longer windows see more samples for the same budget.
const FAIR: f64 = 1.0;
/// Windows space out ([`GroupParams::max_stretch`]) only once a switch
/// was measured to cost at least this a busy CPU, ns: on a tight
/// allocation loop a window's fixed part measured ~0–6 ms, and windows
/// spaced 4× from the start saw a sixth of the samples in one run of 10 s;
/// spaced 2× from the start, an agent slice's regular windows missed the
/// only class of a site holding 9 MB (no liveness sample: 0 B in use).
const STRETCH_FROM: f64 = 2.0 * SWITCH_NS;
/// A regular window spends at most this share of the bucket: the rest is
/// kept for a window that a burst opens. A burst window is the only look
/// at a regime no window has seen (the caller opens one per change): it
/// may spend most of the bucket.
const REGULAR_SPEND: f64 = 0.6;
const BURST_SPEND: f64 = 0.9;
/// A burst window may also spend what the bucket will gain over this long
/// at the target's CPU use of the moment, leaving the bucket in debt by at
/// most that: a burst right after an idle spell finds the bucket nearly
/// empty (an idle target accrues almost nothing), and saving up for its
/// first window took 1.1–1.5 s of a 2 s burst of 512-byte objects (Go
/// 1.27.3, 6 runs; in one of the full suite's none opened in time and the
/// whole burst was unattributed). The debt is repaid within this span, so
/// the budget holds over it; a bucket already that deep opens nothing.
const BORROW: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
pub struct GroupParams {
    /// The group's name in debug lines (`TRACER_DEBUG_WINDOWS`).
    pub name: &'static str,
    /// Share of `--max-overhead` this group may spend.
    pub share: f64,
    /// Mean time between window starts (jittered ±50 %).
    pub period: Duration,
    pub first_window: Duration,
    /// Hits a second per busy CPU assumed before any window measured the
    /// rate (sizes the first window's closing tail, pessimistically).
    pub assumed_rate: f64,
    /// How long closing a window is expected to take, until measured.
    pub first_detach: Duration,
    /// How long a close is expected to keep the probes firing, until
    /// measured (`None`: as long as the whole detach).
    pub first_tail: Option<Duration>,
    /// The bucket holds at most this much CPU time's share: how long a
    /// quiet spell saves for the next window.
    pub bucket: Duration,
    pub min_window: Duration,
    pub max_window: Duration,
    /// What a hit is taken to cost the target, as a multiple of the trap +
    /// BPF estimate, until a window was measured on it (not the
    /// governor's: the caller's cost per hit).
    pub unmeasured: f64,
    /// Each regular window that follows another (no burst between them)
    /// doubles the time to the next and how long it may stay open, up to
    /// this many times `period` and `max_window`; a burst's window brings
    /// both back. A steady target's windows each pay the fixed part of a
    /// switch: spaced out, the same budget buys as many hits with a
    /// fraction of the switches (the bucket must hold that many periods'
    /// worth).
    pub max_stretch: u32,
    /// Whether the group's switch cost is learned from its windows
    /// measured in situ (else [`SWITCH_NS`] stands).
    pub learns_switch: bool,
}

#[derive(Debug)]
struct Open {
    since: Instant,
    /// Group hits when it opened.
    hits: u64,
    /// Probe time it may spend, ns, and of that what its switch and
    /// closing were expected to take.
    allowance: f64,
    reserve: f64,
    until: Instant,
}

#[derive(Debug)]
pub struct Governor {
    pub params: GroupParams,
    /// Percent of the target's CPU time.
    pub budget_pct: f64,
    tokens: f64,
    /// Hits a second per CPU the target kept busy, while open (last
    /// windows), if known: a rate learned on an idle target (a window that
    /// saw no hits because nothing ran) would cost a window at load as
    /// free; per CPU, it scales with the load of the moment.
    hit_rate: Option<f64>,
    next_open: Instant,
    open: Option<Open>,
    /// A window was closed at; no early window opens sooner than
    /// `min_gap` after an early one.
    last_close: Option<Instant>,
    /// The open (or last) window opened early.
    early: bool,
    rng: u64,
    // What it did, for the report.
    pub windows: u64,
    pub burst_windows: u64,
    pub open_total: Duration,
    pub last_window: Duration,
    /// Probe time charged so far (hits × cost + switches), ns.
    pub charged_ns: f64,
    /// The busy CPUs a switch found, summed over the switches so far: the
    /// report prices them at the switch's cost as measured by then (the
    /// first windows' switches were charged before it was).
    pub switch_cpus: f64,
    /// Since when a due regular window waits for budget (it opens as soon
    /// as the bucket allows).
    pub starved_since: Option<Instant>,
    /// What a switch costs a target keeping one CPU busy, ns.
    switch_per_cpu: f64,
    /// The period and longest window, as a multiple of the group's (see
    /// [`GroupParams::max_stretch`]).
    stretch: u32,
}

/// A due regular window that a (nearly) full bucket still cannot pay for
/// has waited this many periods: only what the last windows measured (how
/// fast they hit, how long their closes fired) keeps it shut, and with no
/// window open those measures would never be taken again.
const STUCK_AFTER: u32 = 3;
const FULL: f64 = 0.95;

/// A window waiting for budget tries again this often (in the default
/// mode's loop, at its next poll: the bucket fills only then).
const RETRY: Duration = Duration::from_millis(20);
/// A window whose time is up but that has seen fewer hits than this stays
/// open (its hits are still charged as they come) for up to [`GRACE`],
/// checked every [`GRACE_CHECK`]: a busy target runs little for a few ms
/// after the probes are attached, and a short window would see nothing.
const MIN_SEEN: u64 = 20;
const GRACE: Duration = Duration::from_millis(40);
/// The budget of a target using less than this share of a CPU is that of
/// one using this much: 3 % of 1 % of a CPU is 0.3 ms of probe time a
/// second, whatever the target's own figure. Below it a target is idle:
/// its windows may be long before any measured its hit rate.
pub const IDLE_FLOOR: f64 = 0.01;
/// A window teaches the hit rate only when the target ran this much CPU
/// time while it was open: at the net/http bench service, attached idle,
/// a map window saw no hits, and at that rate a map window opened a second
/// into the load with 3 ms of budget and cost the service 56 ms (its ~30
/// points fired 1,658 times while they were detached).
const MIN_LEARN_CPU: Duration = Duration::from_millis(1);
const GRACE_CHECK: Duration = Duration::from_millis(2);

/// What closing a window will cost in hits: for how long its probes keep
/// firing at the rate of the moment, as measured at the last closes, or
/// (before any) for how long a close is expected to last, with the most
/// CPUs the target kept busy lately (its hits could come then). Not a
/// count of hits: a close measured in a burst would starve every window
/// after it.
#[derive(Debug, Clone, Copy)]
pub enum Tail {
    Fires(Duration),
    Lasts(Duration, f64),
}

/// A decision for the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Open,
    Close,
    Nothing,
}

impl Governor {
    pub fn new(params: GroupParams, budget_pct: f64, seed: u64) -> Governor {
        let mut g = Governor {
            params,
            budget_pct,
            tokens: 0.0,
            hit_rate: None,
            next_open: Instant::now(),
            open: None,
            last_close: None,
            early: false,
            rng: seed | 1,
            windows: 0,
            burst_windows: 0,
            open_total: Duration::ZERO,
            last_window: Duration::ZERO,
            charged_ns: 0.0,
            switch_cpus: 0.0,
            starved_since: None,
            switch_per_cpu: SWITCH_NS,
            stretch: 1,
        };
        // The first window (a short one) opens within its first period.
        g.next_open = Instant::now() + params.period.mul_f64(g.uniform() * 0.5);
        g
    }

    /// A fraction in [0, 1) (xorshift: no fixed phase between windows).
    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Due regular windows have waited for budget this many periods.
    pub fn starved_periods(&self, now: Instant) -> u32 {
        self.starved_since.map_or(0, |s| {
            (now.saturating_duration_since(s).as_secs_f64() / self.params.period.as_secs_f64())
                as u32
        })
    }

    /// Probe time the bucket holds, ns.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    /// Sets what the bucket holds (at most what it can hold): a budget
    /// carried over from an earlier session on the target.
    pub fn set_tokens(&mut self, ns: f64) {
        self.tokens = ns.min(self.capacity());
    }

    /// Probe time the bucket holds at most, ns.
    fn capacity(&self) -> f64 {
        self.accrual_rate() * self.params.bucket.as_nanos() as f64
    }

    /// A full bucket has not paid for a due window in `STUCK_AFTER` (3)
    /// periods: the caller forgets what windows measured of the target
    /// (then the first estimates stand, and the next window measures
    /// again; what it really costs is charged, so the bucket must fill
    /// again before another).
    pub fn stuck(&self, now: Instant) -> bool {
        self.open.is_none()
            && self.starved_periods(now) >= STUCK_AFTER
            && self.tokens >= FULL * self.capacity()
    }

    /// What a switch costs a target keeping one CPU busy, ns.
    pub fn switch_per_cpu(&self) -> f64 {
        self.switch_per_cpu
    }

    /// A switch was measured to cost `ns` a busy CPU.
    pub fn set_switch_per_cpu(&mut self, ns: f64) {
        self.switch_per_cpu = ns.max(0.0);
    }

    /// Forgets the hit rate the last windows saw (see [`Governor::stuck`]).
    pub fn forget_rate(&mut self) {
        self.hit_rate = None;
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    pub fn open_since(&self) -> Option<Instant> {
        self.open.as_ref().map(|o| o.since)
    }

    /// Probe time the bucket gains per ns of the target's CPU time.
    fn accrual_rate(&self) -> f64 {
        self.params.share * self.budget_pct / 100.0
    }

    /// Probe time the bucket gains a second with the target keeping
    /// `cores` CPUs busy, ns.
    fn accrues_per_sec(&self, cores: f64) -> f64 {
        self.accrual_rate() * cores * 1e9
    }

    /// The target spent `cpu_ns` more CPU time: the bucket fills with this
    /// group's share of the budget of it.
    pub fn accrue(&mut self, cpu_ns: u64) {
        self.tokens = (self.tokens + self.accrual_rate() * cpu_ns as f64).min(self.capacity());
    }

    /// Probe time the group pays for outside its windows, ns.
    pub fn charge(&mut self, ns: f64) {
        self.tokens -= ns;
    }

    /// When the next regular open is due, or the open window's end (past
    /// it, in its grace, soon).
    pub fn next_at(&self) -> Instant {
        self.open.as_ref().map_or(self.next_open, |o| {
            o.until.max(Instant::now() + GRACE_CHECK)
        })
    }

    /// A due regular window waits for budget, which only a poll of the
    /// target's CPU time accrues ([`Governor::accrue`]): no need to wake
    /// before the next one.
    pub fn waits_for_budget(&self) -> bool {
        self.open.is_none() && self.starved_since.is_some()
    }

    /// Decides what to do now. `hits` = the group's probe hits so far;
    /// `cost_ns` = one hit's cost; `cores` = CPUs the target keeps busy
    /// (scales the switch cost); `burst` = the caller saw the allocation
    /// rate change; `rate` = the hits a second the caller expects now, if
    /// it can tell (else the rate the last windows saw); `tail` = the hits
    /// while a window closes (its probes keep firing until the detach is
    /// done).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        now: Instant,
        hits: u64,
        cost_ns: f64,
        cores: f64,
        burst: bool,
        rate: Option<f64>,
        tail: Tail,
    ) -> Step {
        let cores = cores.clamp(0.0, 64.0);
        let per_cpu = self.hit_rate.unwrap_or(self.params.assumed_rate);
        // The window's own rate: the caller's, else the measured one at
        // today's load; unknown before any window measured it, unless the
        // target is idle (it fires next to nothing whatever its rate).
        let predicted = (self.hit_rate.is_some() || cores < IDLE_FLOOR).then_some(per_cpu * cores);
        let per_sec = rate.or(predicted).map(|r| r * cost_ns);
        let tail_rate = |busy: f64| rate.unwrap_or(per_cpu * busy) * cost_ns;
        // What closing costs: the switch, and the hits until it is done.
        let fixed = self.switch_per_cpu * cores;
        let switch = fixed
            + match tail {
                Tail::Fires(d) => tail_rate(cores) * d.as_secs_f64(),
                Tail::Lasts(d, peak) => tail_rate(peak.max(cores)) * d.as_secs_f64(),
            };
        if let Some(o) = &self.open {
            let seen = hits.saturating_sub(o.hits);
            let spent = seen as f64 * cost_ns;
            let over = now >= o.until && (seen >= MIN_SEEN || now >= o.until + GRACE);
            return if over || spent + switch >= o.allowance {
                Step::Close
            } else {
                Step::Nothing
            };
        }
        // Bursts open at most two windows a second; after a regular
        // window, a burst's opens at once (a short burst would be over).
        let min_gap = self.params.min_window.max(Duration::from_millis(500));
        let regular = now >= self.next_open;
        let early = burst && (!self.early || self.last_close.is_none_or(|c| now >= c + min_gap));
        if !regular && !early {
            return Step::Nothing;
        }
        // A regular window leaves part of the bucket for a burst; a burst
        // window leaves part for the regime after it, and may borrow what
        // the next [`BORROW`] accrues at the target's pace now.
        let spend = if regular && !early {
            self.tokens * REGULAR_SPEND
        } else {
            let borrow = self.accrues_per_sec(cores) * BORROW.as_secs_f64();
            self.tokens.max(0.0) * BURST_SPEND + self.tokens.min(0.0) + borrow
        };
        let length = match per_sec {
            None => self.params.first_window,
            Some(ns) if ns <= 0.0 => self.max_window(),
            // A rate near zero makes this longer than any Duration (a
            // panic, seen on the net/http service under wrk): the longest.
            Some(ns) => Duration::try_from_secs_f64(((spend - switch) / ns).max(0.0))
                .unwrap_or(Duration::MAX),
        }
        .min(self.max_window());
        let min_cost = switch + tail_rate(cores) * self.params.min_window.as_secs_f64();
        // Nothing to spend (an idle target accrues nothing): no window.
        if length < self.params.min_window || spend < min_cost || spend <= 0.0 {
            if regular {
                self.starved_since.get_or_insert(now);
                self.next_open = now + RETRY;
            }
            return Step::Nothing;
        }
        self.starved_since = None;
        // A regular window whose hits would get less than its switch costs
        // waits until the bucket holds enough (or is full).
        let fair = switch + FAIR * fixed;
        if regular && !early && spend < fair && self.tokens < FULL * self.capacity() {
            let need = (fair / REGULAR_SPEND).min(FULL * self.capacity());
            let accrues = self.accrues_per_sec(cores.max(IDLE_FLOOR));
            let wait = Duration::try_from_secs_f64((need - self.tokens) / accrues)
                .unwrap_or(self.params.bucket)
                .clamp(RETRY, self.params.bucket);
            self.next_open = now + wait;
            return Step::Nothing;
        }
        self.early = early && !regular;
        if self.early {
            self.burst_windows += 1;
        }
        self.open = Some(Open {
            since: now,
            hits,
            allowance: spend,
            reserve: switch,
            until: now + length,
        });
        Step::Open
    }

    /// The hits the open window may see at `cost_ns` a hit before it has
    /// spent its allowance (at least one); `None` when none is open.
    pub fn allowed_hits(&self, cost_ns: f64) -> Option<u64> {
        self.open.as_ref().map(|o| {
            let n = (o.allowance - o.reserve) / cost_ns.max(1.0);
            n.ceil().max(1.0) as u64
        })
    }

    /// Hits a second the last windows saw (smoothed), if any had, at the
    /// target keeping `cores` CPUs busy.
    pub fn hit_rate(&self, cores: f64) -> Option<f64> {
        self.hit_rate
            .map(|per_cpu| per_cpu * cores.clamp(0.0, 64.0))
    }

    /// Whether the last windows measured a hit rate.
    pub fn knows_rate(&self) -> bool {
        self.hit_rate.is_some()
    }

    /// The window's probes are live from `now` (attaching took a while,
    /// and the target ran little meanwhile): its length counts from here.
    pub fn attached(&mut self, now: Instant) {
        if let Some(o) = &mut self.open {
            let length = o.until.saturating_duration_since(o.since);
            o.since = now;
            o.until = now + length;
        }
    }

    /// The window opened at `since` has been closed (its probes detached)
    /// at `now`; the group's hits are now `hits`.
    pub fn closed(&mut self, now: Instant, hits: u64, cost_ns: f64, cores: f64) {
        let Some(o) = self.open.take() else {
            return;
        };
        let open_for = now.saturating_duration_since(o.since);
        let n = hits.saturating_sub(o.hits);
        let cores = cores.clamp(0.0, 64.0);
        let switch = self.switch_per_cpu * cores;
        let charge = n as f64 * cost_ns + switch;
        self.tokens -= charge;
        self.charged_ns += charge;
        self.switch_cpus += cores;
        // Per CPU busy; a window on a target that hardly ran tells nothing.
        let busy = cores * open_for.as_secs_f64();
        if busy >= MIN_LEARN_CPU.as_secs_f64() {
            let rate = n as f64 / busy;
            self.hit_rate = Some(match self.hit_rate {
                Some(r) => 0.5 * r + 0.5 * rate,
                None => rate,
            });
        }
        self.windows += 1;
        self.open_total += open_for;
        self.last_window = open_for;
        self.last_close = Some(now);
        self.stretch = if self.early || self.switch_per_cpu < STRETCH_FROM {
            1
        } else {
            (self.stretch * 2).min(self.params.max_stretch.max(1))
        };
        self.schedule(now);
    }

    fn schedule(&mut self, now: Instant) {
        let jitter = 0.5 + self.uniform();
        self.next_open = now + self.period().mul_f64(jitter);
    }

    /// Mean time between regular windows now (see
    /// [`GroupParams::max_stretch`]).
    pub fn period(&self) -> Duration {
        self.params.period * self.stretch
    }

    /// How long a window may stay open now.
    fn max_window(&self) -> Duration {
        self.params.max_window * self.stretch
    }
}

/// Past this share of the target's CPU time in probes, its own work is the
/// small difference of two large figures and the estimate says little.
const SATURATED: f64 = 0.5;
/// How far the charged probe time may be above what the target paid: the
/// calibrated trap cost against what windows measured in situ, and exact
/// mode on the net/http bench service (charged 34.5 s of probes in 30.0 s
/// of the target's CPU, which its req/s put at ~29.3 s).
const CHARGE_ERROR: f64 = 0.25;

/// Probe time charged to the target's threads, over the CPU time the
/// target spent on its own work, in percent; and whether it is only a
/// lower bound: when
/// probes take most of the target's CPU, what is left for its own work
/// cannot be measured (its req/s fell to 0.022× under exact mode on the
/// bench service, and the point estimate read 1,525–12,802 % across runs),
/// so the figure is the least slowdown consistent with the probe time
/// charged, taken `CHARGE_ERROR` lower, and with the charge itself off by
/// that much of the CPU time (it may exceed it): at most
/// (1 − e) / e = 300 %.
pub fn slowdown(probe_ns: f64, target_cpu_ns: f64) -> (f64, bool) {
    if probe_ns <= 0.0 {
        return (0.0, false);
    }
    if probe_ns <= SATURATED * target_cpu_ns {
        let own = (target_cpu_ns - probe_ns).max(1.0);
        return (100.0 * probe_ns / own, false);
    }
    let least = (probe_ns * (1.0 - CHARGE_ERROR)).min(target_cpu_ns * (1.0 - CHARGE_ERROR));
    (100.0 * least / (target_cpu_ns - least).max(1.0), true)
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

    const PARAMS: GroupParams = GroupParams {
        name: "test",
        share: 0.65,
        period: Duration::from_secs(1),
        first_window: Duration::from_millis(5),
        assumed_rate: 20_000.0,
        first_detach: Duration::from_millis(50),
        first_tail: None,
        bucket: Duration::from_secs(2),
        min_window: Duration::from_millis(1),
        max_window: Duration::from_millis(750),
        unmeasured: 1.0,
        max_stretch: 1,
        learns_switch: false,
    };

    /// Simulates a target on one CPU whose probe group would hit `rate`
    /// times a second while attached, for `secs`; returns the probe time
    /// charged over the target's CPU time, percent.
    fn simulate(rate: f64, cost_ns: f64, secs: u64, bursts: bool) -> (f64, Governor) {
        let t0 = Instant::now();
        let mut g = due_at(t0, 42);
        let mut hits = 0.0;
        let tick = Duration::from_millis(10);
        let mut now = t0;
        while now < t0 + Duration::from_secs(secs) {
            now += tick;
            g.accrue(tick.as_nanos() as u64);
            if g.is_open() {
                hits += rate * tick.as_secs_f64();
            }
            match g.step(
                now,
                hits as u64,
                cost_ns,
                1.0,
                bursts,
                None,
                Tail::Lasts(Duration::from_millis(30), 1.0),
            ) {
                Step::Close => {
                    g.closed(now, hits as u64, cost_ns, 1.0);
                }
                Step::Open | Step::Nothing => {}
            }
        }
        (100.0 * g.charged_ns / (secs as f64 * 1e9), g)
    }

    #[test]
    fn a_stale_rate_that_shuts_every_window_is_forgotten_once_the_bucket_is_full() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        // The last window saw 1 M hits a second (a burst since over): a
        // close of 30 ms at that rate costs more than the bucket holds.
        g.hit_rate = Some(1_000_000.0);
        let tail = Tail::Lasts(Duration::from_millis(30), 1.0);
        let mut now = t0;
        let step = |g: &mut Governor, now| g.step(now, 0, 25_000.0, 1.0, false, None, tail);
        // Half full: waiting for budget, not stuck.
        g.accrue(1_000_000_000);
        for _ in 0..500 {
            now += Duration::from_millis(10);
            assert_eq!(step(&mut g, now), Step::Nothing);
            assert!(!g.stuck(now));
        }
        g.accrue(10_000_000_000);
        now += Duration::from_millis(10);
        assert_eq!(step(&mut g, now), Step::Nothing);
        assert!(g.stuck(now), "full for 5 periods");
        g.forget_rate();
        // The assumed rate (20,000 a second) stands: at the next try a
        // window opens.
        now += RETRY;
        assert_eq!(step(&mut g, now), Step::Open);
        assert!(!g.stuck(now));
    }

    /// A governor whose first regular window is due at `t0`.
    fn due_at(t0: Instant, seed: u64) -> Governor {
        let mut g = Governor::new(PARAMS, 3.0, seed);
        g.next_open = t0;
        g
    }

    /// A step with no hits yet, no caller's rate and no closing tail.
    fn first_step(g: &mut Governor, at: Instant, cores: f64) -> Step {
        step_at_rate(g, at, cores, None)
    }

    /// A step with no hits yet at 25 µs a hit, no burst and no closing
    /// tail, expecting `rate` hits a second.
    fn step_at_rate(g: &mut Governor, at: Instant, cores: f64, rate: Option<f64>) -> Step {
        g.step(
            at,
            0,
            25_000.0,
            cores,
            false,
            rate,
            Tail::Fires(Duration::ZERO),
        )
    }

    #[test]
    fn the_budget_holds_whatever_the_hit_rate() {
        // At most 1 s / 25 µs = 40,000 hits a second on one CPU: there
        // the 30 ms a detach takes alone spends more than the bucket holds,
        // and the group is shed after its first window.
        for rate in [10.0, 1_000.0, 20_000.0, 40_000.0] {
            let (pct, g) = simulate(rate, 25_000.0, 60, false);
            assert!(pct <= 3.0 * 0.65 + 0.1, "{rate}/s: {pct} %");
            let windows = if rate < 40_000.0 { 20 } else { 1 };
            assert!(g.windows >= windows, "{rate}/s: {} windows", g.windows);
        }
        // Early windows (bursts every tick) cannot spend more either.
        let (pct, _) = simulate(40_000.0, 25_000.0, 60, true);
        assert!(pct <= 3.0 * 0.65 + 0.1, "bursts: {pct} %");
    }

    #[test]
    fn an_open_window_allows_the_hits_its_allowance_pays_for() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        assert_eq!(g.allowed_hits(25_000.0), None);
        g.accrue(1_000_000_000);
        // 1 s of one CPU: 19.5 ms in the bucket, 60 % of it for a regular
        // window, 2 ms of it for the switch (one CPU busy).
        assert_eq!(step_at_rate(&mut g, t0, 1.0, Some(100.0)), Step::Open);
        let want = (0.6 * 19_500_000.0 - SWITCH_NS) / 25_000.0;
        let got = g.allowed_hits(25_000.0).unwrap() as f64;
        assert!((got - want).abs() <= 1.0, "{got} hits, want {want}");
        g.closed(t0 + Duration::from_millis(5), 10, 25_000.0, 1.0);
        assert_eq!(g.allowed_hits(25_000.0), None);
    }

    #[test]
    fn a_window_short_of_budget_waits_for_the_next_poll() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        assert!(!g.waits_for_budget(), "nothing was due yet");
        // Due, but nothing accrued: it waits, and only a poll's accrual
        // can change that.
        assert_eq!(step_at_rate(&mut g, t0, 1.0, Some(100.0)), Step::Nothing);
        assert!(g.waits_for_budget());
        g.accrue(1_000_000_000);
        let later = t0 + Duration::from_millis(25);
        assert_eq!(step_at_rate(&mut g, later, 1.0, Some(100.0)), Step::Open);
        assert!(!g.waits_for_budget(), "a window is open");
    }

    #[test]
    fn a_rate_near_zero_opens_the_longest_window() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        g.accrue(1_000_000_000);
        for rate in [1e-300, f64::MIN_POSITIVE, 5e-324] {
            let step = step_at_rate(&mut g, t0, 1.0, Some(rate));
            assert_eq!(step, Step::Open, "{rate}");
            assert_eq!(g.open.take().unwrap().until - t0, PARAMS.max_window);
        }
    }

    #[test]
    fn windows_use_the_budget_not_a_tenth_of_it() {
        let (pct, _) = simulate(20_000.0, 25_000.0, 60, false);
        assert!(pct >= 0.9, "{pct} %");
    }

    #[test]
    fn an_idle_target_gets_long_windows_and_no_charge_for_switches() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        g.accrue(1_000_000);
        assert_eq!(first_step(&mut g, t0, 0.0), Step::Open);
        g.closed(t0 + Duration::from_millis(5), 0, 25_000.0, 0.0);
        let next = g.next_open;
        assert_eq!(first_step(&mut g, next, 0.0), Step::Open);
        assert_eq!(g.open.as_ref().unwrap().until - next, PARAMS.max_window);
        assert_eq!(g.charged_ns, 0.0);
    }

    #[test]
    fn a_burst_past_does_not_starve_the_windows_after_it() {
        // A window in a burst saw 100,000 hits a second, and its close
        // fired for 10 ms. Now the target allocates far less: a window
        // opens as soon as the bucket covers one at today's rate.
        let t0 = Instant::now();
        let mut g = due_at(t0, 9);
        g.accrue(2_000_000_000);
        assert_eq!(first_step(&mut g, t0, 1.0), Step::Open);
        g.closed(t0 + Duration::from_millis(2), 200, 25_000.0, 1.0);
        let tail = Tail::Fires(Duration::from_millis(10));
        let mut now = t0 + Duration::from_millis(2);
        let mut opened = None;
        while now < t0 + Duration::from_secs(3) && opened.is_none() {
            now += Duration::from_millis(25);
            g.accrue(25_000_000);
            if g.step(now, 200, 25_000.0, 1.0, false, Some(1_000.0), tail) == Step::Open {
                opened = Some(now);
            }
        }
        assert!(opened.is_some(), "no window after the burst");
        // Still at the burst's rate, the bucket never covers a close.
        let mut g2 = due_at(t0, 9);
        g2.hit_rate = Some(100_000.0);
        g2.accrue(100_000_000_000);
        assert_eq!(
            g2.step(t0, 0, 25_000.0, 1.0, false, None, tail),
            Step::Nothing
        );
    }

    #[test]
    fn a_window_on_an_idle_target_teaches_no_rate() {
        // Attached to an idle service: a window opens, nothing runs, no
        // hits. Then the load comes (1 CPU busy): the close is costed at
        // the assumed rate, not as free, and a small bucket opens nothing.
        let t0 = Instant::now();
        let (idle, tail) = (
            Tail::Lasts(Duration::from_millis(250), 0.0),
            Tail::Lasts(Duration::from_millis(160), 1.0),
        );
        let mut g = due_at(t0, 13);
        g.accrue(10_000_000_000);
        assert_eq!(g.step(t0, 0, 15_000.0, 0.0, false, None, idle), Step::Open);
        g.closed(t0 + Duration::from_millis(50), 0, 15_000.0, 0.0);
        assert!(!g.knows_rate());
        let later = t0 + Duration::from_secs(3);
        g.tokens = 3_000_000.0;
        assert_eq!(
            g.step(later, 0, 15_000.0, 1.0, false, None, tail),
            Step::Nothing
        );
        // A window that ran learns per CPU: 1,000 hits in 100 ms on 2
        // CPUs is 5,000 a second per CPU, 10,000 on 2 and 2,500 on half.
        let mut g = due_at(t0, 13);
        g.accrue(10_000_000_000);
        let none = Tail::Fires(Duration::ZERO);
        assert_eq!(g.step(t0, 0, 15_000.0, 2.0, false, None, none), Step::Open);
        g.closed(t0 + Duration::from_millis(100), 1_000, 15_000.0, 2.0);
        assert_eq!(g.hit_rate(2.0), Some(10_000.0));
        assert_eq!(g.hit_rate(0.5), Some(2_500.0));
    }

    #[test]
    fn a_burst_after_an_idle_spell_borrows_its_first_window() {
        // Idle so far: the bucket holds ~nothing. A burst keeps 1.5 CPUs
        // busy at 50,000 hits a second (25 µs each): no regular window
        // could open yet, a burst's opens now, and leaves the bucket in
        // debt by at most what it gains in `BORROW`.
        let t0 = Instant::now();
        let tail = Tail::Fires(Duration::from_millis(2));
        let mut g = due_at(t0, 11);
        g.accrue(10_000_000);
        let step =
            |g: &mut Governor, burst| g.step(t0, 0, 25_000.0, 1.5, burst, Some(50_000.0), tail);
        assert_eq!(step(&mut g, false), Step::Nothing);
        assert_eq!(step(&mut g, true), Step::Open);
        let borrow = g.accrues_per_sec(1.5) * BORROW.as_secs_f64();
        let allowance = g.open.as_ref().unwrap().allowance;
        assert!(g.tokens - allowance >= -borrow - 1.0, "{allowance}");
        // A bucket already that deep in debt opens no burst window.
        g.closed(t0 + Duration::from_millis(5), 200, 25_000.0, 1.5);
        g.tokens = -borrow;
        let later = t0 + Duration::from_millis(600);
        assert_eq!(
            g.step(later, 200, 25_000.0, 1.5, true, Some(50_000.0), tail),
            Step::Nothing
        );
    }

    #[test]
    fn a_window_waits_until_its_hits_get_what_its_switch_costs() {
        let t0 = Instant::now();
        let mut g = due_at(t0, 7);
        // A switch measured at 8 ms a busy CPU; 1 s of one CPU in the
        // bucket (19.5 ms, 60 % of it for a regular window: 11.7 ms, which
        // pays for the switch but leaves its hits less).
        g.set_switch_per_cpu(8_000_000.0);
        g.accrue(1_000_000_000);
        assert_eq!(step_at_rate(&mut g, t0, 1.0, Some(100.0)), Step::Nothing);
        assert!(!g.waits_for_budget(), "not starved: deferred");
        // Until it holds 16 ms / 60 % (what 0.37 s more accrue).
        let wait = g.next_open - t0;
        assert!(
            wait > Duration::from_millis(320) && wait < Duration::from_millis(420),
            "{wait:?}"
        );
        g.accrue(1_000_000_000);
        let due = g.next_open;
        assert_eq!(step_at_rate(&mut g, due, 1.0, Some(100.0)), Step::Open);
        // At the default switch the same bucket opens at once.
        let mut g = due_at(t0, 7);
        g.accrue(1_000_000_000);
        assert_eq!(step_at_rate(&mut g, t0, 1.0, Some(100.0)), Step::Open);
    }

    #[test]
    fn steady_windows_space_out_until_a_burst() {
        let params = GroupParams {
            max_stretch: 4,
            ..PARAMS
        };
        let mut g = Governor::new(params, 3.0, 7);
        let mut now = Instant::now();
        let mut periods = Vec::new();
        // Not until a switch was measured to be dear.
        for want in [1, 1] {
            g.next_open = now;
            g.accrue(10_000_000_000);
            assert_eq!(first_step(&mut g, now, 1.0), Step::Open);
            g.closed(now, 1, 25_000.0, 1.0);
            assert_eq!(g.period(), PARAMS.period * want);
        }
        g.set_switch_per_cpu(STRETCH_FROM);
        for burst in [false, false, false, false, true, false] {
            g.next_open = if burst {
                now + Duration::from_secs(9)
            } else {
                now
            };
            g.accrue(10_000_000_000);
            let step = g.step(
                now,
                0,
                25_000.0,
                1.0,
                burst,
                Some(100.0),
                Tail::Fires(Duration::ZERO),
            );
            assert_eq!(step, Step::Open);
            now += Duration::from_millis(10);
            g.closed(now, 1, 25_000.0, 1.0);
            periods.push(g.period().as_secs());
            assert_eq!(g.max_window(), PARAMS.max_window * g.stretch);
        }
        assert_eq!(periods, [2, 4, 4, 4, 1, 2]);
        // A window's next start is within ±50 % of the stretched period.
        let gap = g.next_open - now;
        assert!(
            gap >= Duration::from_secs(1) && gap <= Duration::from_secs(3),
            "{gap:?}"
        );
    }

    #[test]
    fn errors() {
        assert!(relative_error_pct(0.5, 10_000) < 2.0);
        assert!(relative_error_pct(0.01, 100) > 50.0);
        assert_eq!(relative_error_pct(0.0, 10), 100.0);
        assert_eq!(slowdown(0.0, 10.0), (0.0, false));
        assert!((slowdown(10.0, 110.0).0 - 10.0).abs() < 1e-9);
        assert_eq!(slowdown(40.0, 100.0), (100.0 * 40.0 / 60.0, false));
    }

    #[test]
    fn probes_taking_most_of_the_cpu_give_a_lower_bound() {
        // Exact mode on the bench service: 34.5 s charged in 30.0 s (its
        // req/s said ~4,400 %).
        let (pct, lower) = slowdown(34.5e9, 30.0e9);
        assert!(lower);
        assert!((pct - 300.0).abs() < 1e-6, "{pct}");
        let (pct, _) = slowdown(27.0e9, 30.0e9);
        assert!((pct - 100.0 * 20.25 / 9.75).abs() < 1e-6, "{pct}");
        // Just past half: the bound is below the point estimate (150 %);
        // however large the charge, it is at most 300 %.
        let (pct, lower) = slowdown(60.0, 100.0);
        assert!(lower);
        assert!((pct - 100.0 * 45.0 / 55.0).abs() < 1e-9, "{pct}");
        assert_eq!(slowdown(1e12, 100.0), (300.0, true));
    }
}
