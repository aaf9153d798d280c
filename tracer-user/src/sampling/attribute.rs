//! Stratified attribution of the runtime's own allocation counts to the
//! sites the sampling windows saw.
//!
//! The runtime credits its per-size-class counters (`heapStats`) at the
//! same events the window probes sample (a span retired by `refill`, a
//! large object), so for one size class the objects counted over any
//! stretch of time are split among sites in the proportions a window saw
//! for that class. The counters are read every few tens of milliseconds
//! (a *slot*); each slot and class is split by the samples, pooled, of
//! the windows within [`REACH`] that saw that class and whose allocation
//! rate was alike (a burst is split by the windows the burst opened, not
//! by a quiet one before it); failing those, by the nearest window that
//! saw the class. What no window could stand for is *unattributed*, per
//! class, never a site.
//!
//! A slot is settled once no later window could be nearer to it (it is
//! [`REACH`] old); until then it is attributed provisionally at each
//! snapshot, so every report is complete up to its own end.
use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use tracer_common::AllocKey;

use crate::{tracee::allocstats::AllocCounters, tracee::sizeclass};

/// How far (in time) a window's samples may stand for a slot.
pub const REACH: Duration = Duration::from_secs(2);
/// A size class no window in reach saw (a rare one: its counter moves
/// only when one of its spans is refilled) is split by the last window
/// that saw it, up to this long before or after.
pub const CLASS_REACH: Duration = Duration::from_secs(30);
/// A slot is settled this long after its end: no window still to be
/// recorded (one is recorded when its probes are detached, at most about
/// a second after it opened) can be nearer than the ones known.
const SETTLE_AFTER: Duration = Duration::from_millis(3500);
/// How far before a window its regime is read.
const BEFORE: Duration = Duration::from_millis(120);
/// Bucket of large objects (small size classes are 1..=67).
pub const LARGE: usize = 68;
const BUCKETS: usize = LARGE + 1;
/// Rates further apart than this factor are different regimes: a window
/// of the other regime is used only when no alike one is in reach.
const REGIME_FACTOR: f64 = 3.0;
/// Below this many objects a second, rates are not compared (too few
/// span refills to measure a rate in a slot).
const RATE_FLOOR: f64 = 20_000.0;

/// Objects (and bytes) per bucket: size classes, then large objects.
pub type Buckets = [u64; BUCKETS];

/// The bucket of a sampled key: its slot size's class, or large.
pub fn bucket_of(key: &AllocKey) -> usize {
    sizeclass::class_of_slot(key.size).unwrap_or(LARGE)
}

/// Objects counted by the runtime per bucket: small classes (tiny
/// allocations with the 16-byte class their blocks come from, as the tiny
/// span's refill sample weighs them) and large objects.
fn buckets(c: &AllocCounters) -> Buckets {
    let mut b = [0u64; BUCKETS];
    for (class, &n) in c.small_by_class.iter().enumerate().take(LARGE) {
        b[class] = n;
    }
    b[TINY_CLASS] = b[TINY_CLASS].wrapping_add(c.tiny);
    b[LARGE] = c.large_objects;
    b
}
const TINY_CLASS: usize = 2;
/// The most tiny allocations one 16-byte block holds (1 byte each).
const TINY_PER_BLOCK: f64 = 16.0;

#[derive(Debug, Clone)]
struct Slot {
    start: Instant,
    end: Instant,
    objects: Buckets,
    /// Large objects' bytes (whole pages, as the runtime counts them).
    large_bytes: u64,
}

impl Slot {
    /// Objects a second per bucket.
    fn rates(&self) -> [f64; BUCKETS] {
        let secs = (self.end - self.start).as_secs_f64().max(1e-3);
        self.objects.map(|n| n as f64 / secs)
    }
}

/// One closed window: its samples by key, grouped by bucket.
#[derive(Debug, Clone)]
struct WindowSamples {
    open: Instant,
    close: Instant,
    by_bucket: Vec<Vec<(AllocKey, u64)>>,
    totals: Buckets,
    /// Objects a second per bucket the runtime counted in the moments
    /// before the window, while it was open, and (once known) in the
    /// moments after.
    before: [f64; BUCKETS],
    during: [f64; BUCKETS],
    after: Option<[f64; BUCKETS]>,
}

impl WindowSamples {
    /// The rate of bucket `b`'s regime it watched: the median of the three
    /// (probes slow a busy target while they are on, so a window lower
    /// than both sides watched the regime around it; one that opened as a
    /// burst ended, lower than before but like after, watched the quiet
    /// after it); until the moments after are known, the more of the first
    /// two.
    fn rate(&self, b: usize) -> f64 {
        match self.after {
            Some(after) => {
                let mut v = [self.before[b], self.during[b], after[b]];
                v.sort_by(f64::total_cmp);
                v[1]
            }
            None => self.before[b].max(self.during[b]),
        }
    }
}

/// Cumulative estimates since attach.
#[derive(Debug, Clone, Default)]
pub struct Estimates {
    /// Hashed fast (the keys are ours, not an attacker's): every poll adds
    /// each pooled window's keys for each class it allocated.
    pub by_key: HashMap<AllocKey, f64, foldhash::fast::RandomState>,
    /// Objects the runtime counted that no window could stand for.
    pub unattributed_objects: u64,
    pub unattributed_bytes: u64,
    /// Objects and bytes the runtime counted (over every slot).
    pub objects: u64,
    pub bytes: u64,
}

/// A window's samples of one bucket: its close, its rate, the keys, their
/// total.
type ClassSamples = (Instant, f64, Vec<(AllocKey, u64)>, u64);

pub struct Attributor {
    last: Option<(Instant, AllocCounters)>,
    slots: VecDeque<Slot>,
    windows: VecDeque<WindowSamples>,
    /// Per bucket, the last window that saw it.
    last_seen: Vec<Option<ClassSamples>>,
    settled: Estimates,
    /// The rates of the last settled slot (the next one's neighbour).
    settled_rates: Option<[f64; BUCKETS]>,
}

impl Default for Attributor {
    fn default() -> Self {
        Self::new()
    }
}

impl Attributor {
    pub fn new() -> Attributor {
        Attributor {
            last: None,
            slots: VecDeque::new(),
            windows: VecDeque::new(),
            last_seen: vec![None; BUCKETS],
            settled: Estimates::default(),
            settled_rates: None,
        }
    }

    /// The runtime's counters read at `at`: a new slot since the last read.
    pub fn poll(&mut self, at: Instant, now: AllocCounters) {
        if let Some((start, before)) = self.last.take() {
            let (a, b) = (buckets(&before), buckets(&now));
            let mut objects = [0u64; BUCKETS];
            for i in 0..BUCKETS {
                objects[i] = b[i].saturating_sub(a[i]);
            }
            self.slots.push_back(Slot {
                start,
                end: at,
                objects,
                large_bytes: now.large_bytes.saturating_sub(before.large_bytes),
            });
        }
        self.last = Some((at, now));
        // Windows whose moments after have come learn their regime.
        for w in self.windows.iter_mut() {
            if w.after.is_none() && w.close + BEFORE <= at {
                w.after = Some(bucket_rates(&self.slots, w.close, w.close + BEFORE));
            }
        }
        self.settle(at);
    }

    /// Objects a second per bucket over the slots that ended in the last
    /// `span` before the last one's end (0 if none).
    pub fn recent_rates(&self, span: Duration) -> [f64; BUCKETS] {
        match (self.slots.front(), self.slots.back()) {
            (Some(first), Some(last)) => {
                let from = last.end.checked_sub(span).unwrap_or(first.start);
                bucket_rates(&self.slots, from, last.end)
            }
            _ => [0.0; BUCKETS],
        }
    }

    /// A window's samples (counts per key, summed over its time open);
    /// returns the rates it watched, per bucket (the more of before and
    /// while it was open: see `WindowSamples::rate`).
    pub fn window(
        &mut self,
        open: Instant,
        close: Instant,
        samples: HashMap<AllocKey, u64>,
    ) -> Vec<f64> {
        let mut by_bucket = vec![Vec::new(); BUCKETS];
        let mut totals = [0u64; BUCKETS];
        for (k, n) in samples {
            let b = bucket_of(&k);
            by_bucket[b].push((k, n));
            totals[b] += n;
        }
        let (during, before) = (
            bucket_rates(&self.slots, open, close),
            bucket_rates(&self.slots, open.checked_sub(BEFORE).unwrap_or(open), open),
        );
        let w = WindowSamples {
            open,
            close,
            by_bucket,
            totals,
            before,
            during,
            after: None,
        };
        for (b, keys) in w.by_bucket.iter().enumerate() {
            if totals[b] > 0 {
                self.last_seen[b] = Some((close, w.rate(b), keys.clone(), totals[b]));
            }
        }
        // What it watched, per bucket, for the burst detector: as yet, the
        // more of before and during (in total).
        let sum = |r: &[f64; BUCKETS]| r.iter().sum::<f64>();
        let watched = if sum(&before) > sum(&during) {
            before
        } else {
            during
        };
        self.windows.push_back(w);
        watched.to_vec()
    }

    /// Settles the slots no later window can be nearer to, and forgets the
    /// windows no unsettled slot can use.
    fn settle(&mut self, now: Instant) {
        while let Some(s) = self.slots.front() {
            if now.saturating_duration_since(s.end) < SETTLE_AFTER {
                break;
            }
            let s = self.slots.pop_front().expect("front");
            let own = s.rates();
            let next = self.slots.front().map(Slot::rates);
            let regime = regime_rates(&own, self.settled_rates.as_ref(), next.as_ref());
            attribute(
                &s,
                &regime,
                &self.windows,
                &self.last_seen,
                &mut self.settled,
            );
            self.settled_rates = Some(own);
        }
        let oldest = self.slots.front().map_or(now, |s| s.start);
        while self
            .windows
            .front()
            .is_some_and(|w| w.close + REACH < oldest)
        {
            self.windows.pop_front();
        }
    }

    /// Cumulative estimates now: settled slots plus the unsettled ones
    /// attributed with the windows known so far.
    pub fn snapshot(&self) -> Estimates {
        let mut e = self.settled.clone();
        // Each slot's rates once: every slot is its neighbours' neighbour.
        let rates: Vec<[f64; BUCKETS]> = self.slots.iter().map(Slot::rates).collect();
        for (i, s) in self.slots.iter().enumerate() {
            let prev = match i {
                0 => self.settled_rates.as_ref(),
                _ => rates.get(i - 1),
            };
            let regime = regime_rates(&rates[i], prev, rates.get(i + 1));
            attribute(s, &regime, &self.windows, &self.last_seen, &mut e);
        }
        e
    }
}

/// The fewest hits a second a window would see at these object rates
/// per bucket (see [`Attributor::recent_rates`]): a refill hands out at
/// most one span's objects, a large object is a hit of its own. What the
/// hits per object of past windows predict can be far fewer when the mix
/// moved to a class of few objects a span (a burst of 512-byte objects:
/// 16 a span, ~170,000 hits a second against 18,000 predicted from the
/// 48-byte class before).
pub fn fewest_hits(rates: &[f64]) -> f64 {
    rates
        .iter()
        .enumerate()
        .map(|(b, &rate)| {
            let per_span = sizeclass::objects_per_span(b).map_or(f64::INFINITY, |n| n as f64);
            match b {
                LARGE => rate,
                // Tiny allocations share 16-byte blocks, up to 16 a block.
                TINY_CLASS => rate / (per_span * TINY_PER_BLOCK),
                _ => rate / per_span,
            }
        })
        .sum()
}

/// Objects a second per bucket over the slots that overlap `[from, to]`.
/// The slots are in time order: walked from the newest back to the first
/// that ended by `from` (the burst check asks for the last moments at
/// every step, and 3.5 s of slots are kept).
fn bucket_rates(slots: &VecDeque<Slot>, from: Instant, to: Instant) -> [f64; BUCKETS] {
    let (mut n, mut secs) = ([0u64; BUCKETS], 0.0);
    let overlapping = slots
        .iter()
        .rev()
        .take_while(|s| s.end > from)
        .filter(|s| s.start < to);
    for s in overlapping {
        for (b, o) in s.objects.iter().enumerate() {
            n[b] += o;
        }
        secs += (s.end - s.start).as_secs_f64();
    }
    n.map(|n| if secs > 0.0 { n as f64 / secs } else { 0.0 })
}

/// The rates that place a slot's buckets in their regimes: per bucket,
/// the highest of its own and its neighbours'. A slot where a burst
/// begins or ends holds part of the burst at a rate of its own that may
/// look like the quiet spell beside it; the burst's objects in it are
/// then split by the burst's window. Per bucket: a burst of one class
/// leaves the other classes' regimes as they were (with one rate for the
/// whole slot, the slots around a 48-byte burst gave the 256-byte,
/// 1 KiB and 40 KiB objects of a steady mix beside it to no window: 5.7 %
/// of the mix unattributed, and its 48-byte objects to the burst).
fn regime_rates(
    own: &[f64; BUCKETS],
    prev: Option<&[f64; BUCKETS]>,
    next: Option<&[f64; BUCKETS]>,
) -> [f64; BUCKETS] {
    std::array::from_fn(|b| {
        own[b]
            .max(prev.map_or(0.0, |p| p[b]))
            .max(next.map_or(0.0, |n| n[b]))
    })
}

/// How far a window is from a slot's bucket `b` (of regime rate `rate`): the gap
/// between them, plus [`REACH`] for every [`REGIME_FACTOR`] their rates
/// are apart when they are of different regimes (such a window stands for
/// the slot only if no window nearer in time and rate saw the class; one
/// whose rate is ten times apart is never within the fallback's reach).
fn distance(s: &Slot, b: usize, rate: f64, w: &WindowSamples) -> Duration {
    let w_rate = w.rate(b);
    if alike(rate, w_rate) {
        gap(s, w)
    } else {
        let (hi, lo) = (rate.max(w_rate), rate.min(w_rate).max(1.0));
        let steps = ((hi / lo).ln() / REGIME_FACTOR.ln()).max(1.0);
        gap(s, w) + REACH.mul_f64(steps)
    }
}

/// The time between a slot and a window (zero when they overlap).
fn gap(s: &Slot, w: &WindowSamples) -> Duration {
    if w.close < s.start {
        s.start - w.close
    } else if w.open > s.end {
        w.open - s.end
    } else {
        Duration::ZERO
    }
}

/// Two allocation rates of one regime (not a burst against a quiet spell).
fn alike(a: f64, b: f64) -> bool {
    a.max(b) < RATE_FLOOR || a.max(b) <= REGIME_FACTOR * a.min(b).max(1.0)
}

fn attribute(
    s: &Slot,
    regime: &[f64; BUCKETS],
    windows: &VecDeque<WindowSamples>,
    last_seen: &[Option<ClassSamples>],
    e: &mut Estimates,
) {
    for (b, &n) in s.objects.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let bytes = if b == LARGE {
            s.large_bytes
        } else {
            n * sizeclass::class_size(b).unwrap_or(0)
        };
        e.objects += n;
        e.bytes += bytes;
        let rate = regime[b];
        // Every window of the slot's regime in reach that saw the class,
        // pooled (more samples than the nearest one alone); else the
        // nearest that saw it (of another regime, within twice the reach);
        // else the last window that saw it.
        let pooled: Vec<(&[(AllocKey, u64)], u64)> = windows
            .iter()
            .filter(|w| w.totals[b] > 0 && alike(rate, w.rate(b)) && gap(s, w) <= REACH)
            .map(|w| (&w.by_bucket[b][..], w.totals[b]))
            .collect();
        let sources = if pooled.is_empty() {
            fallback(s, rate, b, windows, last_seen)
        } else {
            pooled
        };
        let total: u64 = sources.iter().map(|(_, t)| t).sum();
        match total {
            0 => {
                e.unattributed_objects += n;
                e.unattributed_bytes += bytes;
            }
            _ => {
                let per = n as f64 / total as f64;
                for (k, c) in sources.iter().flat_map(|(keys, _)| keys.iter()) {
                    *e.by_key.entry(*k).or_default() += *c as f64 * per;
                }
            }
        }
    }
}

/// The samples that stand for bucket `b` of slot `s` when no window of
/// its regime in reach saw the class: the nearest window that saw it (of
/// another regime, within twice the reach), else the last window that saw
/// it (within [`CLASS_REACH`], of the slot's regime); else none.
fn fallback<'w>(
    s: &Slot,
    rate: f64,
    b: usize,
    windows: &'w VecDeque<WindowSamples>,
    last_seen: &'w [Option<ClassSamples>],
) -> Vec<(&'w [(AllocKey, u64)], u64)> {
    let nearest = windows
        .iter()
        .filter(|w| w.totals[b] > 0)
        .map(|w| (distance(s, b, rate, w), w))
        .filter(|(d, _)| *d <= REACH * 2)
        .min_by_key(|(d, _)| *d);
    if let Some((_, w)) = nearest {
        return vec![(&w.by_bucket[b][..], w.totals[b])];
    }
    let apart = |at: Instant| at.max(s.end).duration_since(at.min(s.end));
    match &last_seen[b] {
        Some((at, window_rate, keys, total))
            if apart(*at) <= CLASS_REACH && alike(rate, *window_rate) =>
        {
            vec![(&keys[..], *total)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stack_id: u64, size: u64) -> AllocKey {
        AllocKey {
            stack_id,
            size,
            scan: 0,
            _pad: 0,
        }
    }

    fn counters(class48: u64, class512: u64, large: u64) -> AllocCounters {
        let mut small = vec![0u64; 68];
        small[5] = class48;
        small[26] = class512;
        AllocCounters {
            small_by_class: small,
            large_objects: large,
            large_bytes: large * 40960,
            ..Default::default()
        }
    }

    /// Class-48 objects only, polled every 20 ms up to `until` ms, `per`
    /// objects in the slot ending at each poll; each window
    /// `(at, open, close, stack, samples)` recorded at poll `at`. The
    /// attributor and the objects counted.
    fn class48(
        until: u64,
        per: impl Fn(u64) -> u64,
        windows: &[(u64, u64, u64, u64, u64)],
    ) -> (Attributor, u64) {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        let mut c48 = 0;
        a.poll(ms(0), counters(0, 0, 0));
        for t in (20..=until).step_by(20) {
            c48 += per(t);
            a.poll(ms(t), counters(c48, 0, 0));
            for &(_, open, close, stack, n) in windows.iter().filter(|w| w.0 == t) {
                a.window(ms(open), ms(close), HashMap::from([(key(stack, 48), n)]));
            }
        }
        (a, c48)
    }

    #[test]
    fn a_span_s_worth_of_objects_is_at_least_a_hit() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        a.poll(ms(0), counters(0, 0, 0));
        // 100 ms: 17,000 class-48 objects (170 a span), 1,600 of 512 bytes
        // (16 a span), 10 large objects.
        a.poll(ms(100), counters(17_000, 1_600, 10));
        let per_sec = fewest_hits(&a.recent_rates(Duration::from_millis(100)));
        assert!(
            (per_sec - 10.0 * (100.0 + 100.0 + 10.0)).abs() < 1e-6,
            "{per_sec}"
        );
    }

    #[test]
    fn each_class_is_split_by_its_own_samples() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        a.poll(ms(0), counters(0, 0, 0));
        a.poll(ms(20), counters(1000, 100, 1));
        // The window saw class 48 as 3:1 between two stacks, class 512 at
        // one stack, and more large objects than its share: classes are
        // scaled apart, not to the grand total.
        a.window(
            ms(0),
            ms(20),
            HashMap::from([
                (key(1, 48), 30),
                (key(2, 48), 10),
                (key(3, 512), 7),
                (key(4, 40000), 1),
            ]),
        );
        a.poll(ms(40), counters(2000, 200, 2));
        let e = a.snapshot();
        assert_eq!(e.objects, 2202);
        assert_eq!(e.unattributed_objects, 0);
        assert!((e.by_key[&key(1, 48)] - 1500.0).abs() < 1e-6);
        assert!((e.by_key[&key(2, 48)] - 500.0).abs() < 1e-6);
        assert!((e.by_key[&key(3, 512)] - 200.0).abs() < 1e-6);
        assert!((e.by_key[&key(4, 40000)] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn a_class_no_window_saw_is_unattributed() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        a.poll(ms(0), counters(0, 0, 0));
        a.window(ms(0), ms(10), HashMap::from([(key(1, 48), 5)]));
        a.poll(ms(20), counters(100, 50, 0));
        let e = a.snapshot();
        assert_eq!(e.unattributed_objects, 50);
        assert_eq!(e.unattributed_bytes, 50 * 512);
        assert!((e.by_key[&key(1, 48)] - 100.0).abs() < 1e-6);
    }

    #[test]
    fn a_burst_is_split_by_the_window_inside_it_not_by_a_quiet_one() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        // Quiet: 1,000 objects a second at stack 1 (class 48).
        let mut c48 = 0;
        a.poll(ms(0), counters(0, 0, 0));
        for t in (20..=1000).step_by(20) {
            c48 += 20;
            a.poll(ms(t), counters(c48, 0, 0));
        }
        a.window(ms(500), ms(520), HashMap::from([(key(1, 48), 20)]));
        // Burst from 1 s to 3 s: 1,000,000 a second at stack 2, same class.
        for t in (1020..=3000).step_by(20) {
            c48 += 20_000;
            a.poll(ms(t), counters(c48, 0, 0));
        }
        a.window(ms(1100), ms(1110), HashMap::from([(key(2, 48), 100)]));
        let e = a.snapshot();
        let burst = e.by_key[&key(2, 48)];
        // Every burst slot goes to the burst window, and so does the quiet
        // slot right before it (the burst's neighbour: a slot where a burst
        // begins is placed by it); the quiet ones before to the quiet window.
        assert!((burst - (100.0 * 20_000.0 + 20.0)).abs() < 1e-3, "{burst}");
        assert!((e.by_key[&key(1, 48)] - 980.0).abs() < 1e-3);
    }

    #[test]
    fn a_spell_no_window_saw_is_not_given_to_a_burst_beside_it() {
        // A steady spell of 200,000 objects a second (class 48) that no
        // window watched, then a burst 60 times faster that one did.
        let per = |t| if t <= 1000 { 4_000 } else { 240_000 };
        let (a, _) = class48(2000, per, &[(2000, 1500, 1520, 2, 100)]);
        let e = a.snapshot();
        // The spell's slots, but the one beside the burst (placed by it),
        // are unattributed, not the burst's.
        assert_eq!(e.unattributed_objects, 49 * 4_000);
        assert!((e.by_key[&key(2, 48)] - (50.0 * 240_000.0 + 4_000.0)).abs() < 1e-3);
    }

    #[test]
    fn a_burst_of_one_class_leaves_the_other_classes_to_their_own_window() {
        // A steady mix: 100,000 objects a second of class 48 (stack 1) and
        // 50,000 of class 512 (stack 2), one window watching it; from 1 s
        // to 2 s a burst of class 48 (stack 3) 100 times faster beside it,
        // its window seeing only its own class.
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        let (mut c48, mut c512) = (0, 0);
        a.poll(ms(0), counters(0, 0, 0));
        for t in (20..=2000).step_by(20) {
            c48 += if t <= 1000 { 2_000 } else { 200_000 };
            c512 += 1_000;
            a.poll(ms(t), counters(c48, c512, 0));
            if t == 440 {
                let seen = [(key(1, 48), 10), (key(2, 512), 5)];
                a.window(ms(400), ms(420), HashMap::from(seen));
            }
            if t == 1540 {
                a.window(ms(1500), ms(1510), HashMap::from([(key(3, 48), 50)]));
            }
        }
        let e = a.snapshot();
        // Every 512-byte object is the steady site's, burst or not.
        assert_eq!(e.unattributed_objects, 0);
        assert!((e.by_key[&key(2, 512)] - c512 as f64).abs() < 1e-3);
        // The 48-byte class: the slot where the burst begins goes to it.
        assert!((e.by_key[&key(1, 48)] - 49.0 * 2_000.0).abs() < 1e-3);
    }

    #[test]
    fn a_burst_window_the_probes_slowed_still_stands_for_the_burst() {
        // A burst of 12 M objects a second; while the window is open
        // (1000..1020 ms) the probes slow it to a twentieth.
        let per = |t| if t == 1020 { 12_000 } else { 240_000 };
        let (a, total) = class48(2000, per, &[(2000, 1000, 1020, 2, 100)]);
        let e = a.snapshot();
        assert_eq!(e.unattributed_objects, 0);
        assert!((e.by_key[&key(2, 48)] - total as f64).abs() < 1e-3);
    }

    #[test]
    fn a_window_opened_as_a_burst_ends_watches_the_quiet_after_it() {
        // A burst (stack 2) until 1 s, then a quiet spell (stack 1) of
        // the same class; a window in each, the second one opened just as
        // the burst ended.
        let per = |t| if t <= 1000 { 240_000 } else { 4_000 };
        let windows = [(600, 500, 520, 2, 100), (1300, 1000, 1200, 1, 400)];
        let (a, _) = class48(2000, per, &windows);
        let e = a.snapshot();
        // The burst is the burst's (and the first quiet slot, its
        // neighbour); the quiet spell's is the quiet stack's.
        assert!((e.by_key[&key(2, 48)] - (50.0 * 240_000.0 + 4_000.0)).abs() < 1e-3);
        assert!((e.by_key[&key(1, 48)] - 49.0 * 4_000.0).abs() < 1e-3);
    }

    #[test]
    fn a_rare_class_is_split_by_the_last_window_that_saw_it() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        a.poll(ms(0), counters(0, 0, 0));
        a.window(ms(0), ms(10), HashMap::from([(key(3, 512), 2)]));
        a.poll(ms(20), counters(0, 10, 0));
        // 12 s later the class moves again; the window in reach saw only
        // class 48, so the old window splits class 512.
        a.poll(ms(12_000), counters(0, 10, 0));
        a.window(ms(12_000), ms(12_010), HashMap::from([(key(1, 48), 5)]));
        a.poll(ms(12_020), counters(100, 15, 0));
        let e = a.snapshot();
        assert!((e.by_key[&key(3, 512)] - 15.0).abs() < 1e-6);
        assert!((e.by_key[&key(1, 48)] - 100.0).abs() < 1e-6);
        assert_eq!(e.unattributed_objects, 0);
        // Beyond `CLASS_REACH` it is unattributed.
        a.poll(ms(60_000), counters(100, 15, 0));
        a.poll(ms(60_020), counters(100, 18, 0));
        assert_eq!(a.snapshot().unattributed_objects, 3);
    }

    #[test]
    fn a_burst_in_a_class_seen_only_in_quiet_times_is_not_given_to_the_quiet_sites() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        let mut c48 = 0;
        a.poll(ms(0), counters(0, 0, 0));
        for t in (20..=1000).step_by(20) {
            c48 += 20;
            a.poll(ms(t), counters(c48, 0, 0));
        }
        a.window(ms(500), ms(520), HashMap::from([(key(1, 48), 20)]));
        // Six seconds later a burst of the same class, no window near it.
        a.poll(ms(7_000), counters(c48, 0, 0));
        for t in (7_020..=8_000).step_by(20) {
            c48 += 20_000;
            a.poll(ms(t), counters(c48, 0, 0));
        }
        let e = a.snapshot();
        assert!((e.by_key[&key(1, 48)] - 1000.0).abs() < 1e-3);
        assert_eq!(e.unattributed_objects, 50 * 20_000);
    }

    #[test]
    fn settled_slots_keep_their_attribution_and_old_windows_go() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Attributor::new();
        a.poll(ms(0), counters(0, 0, 0));
        a.window(ms(0), ms(10), HashMap::from([(key(1, 48), 5)]));
        a.poll(ms(20), counters(100, 0, 0));
        a.poll(ms(10_000), counters(100, 0, 0));
        a.poll(ms(10_020), counters(100, 0, 0));
        a.poll(ms(14_000), counters(100, 0, 0));
        // Only the last slot is unsettled, and no window is in its reach.
        assert!(a.windows.is_empty());
        assert_eq!(a.slots.len(), 1);
        let e = a.snapshot();
        assert!((e.by_key[&key(1, 48)] - 100.0).abs() < 1e-6);
        let rates = a.recent_rates(Duration::from_secs(1));
        assert!(rates.iter().sum::<f64>() < 1e-9);
    }
}
