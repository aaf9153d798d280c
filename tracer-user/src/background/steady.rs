//! The default mode's steady state yields its CPU: the run loop runs at
//! idle priority (`SCHED_IDLE`) while it only reads the runtime's
//! counters and memory, takes the once-a-second sample and drains
//! records. Attaching and detaching probes (the windows' and the GC
//! wakeup's) run at the thread's normal priority ([`foreground`]), and so
//! do the threads that detach, as they start there. Exact mode does not
//! yield: its ring buffer carries every allocation and must be drained.
//! Nor does the GC watch (`collect::gc_watch`): it must look within
//! ~1 ms of a cycle's start. Yielding too, on a target that was not
//! confined and kept both CPUs busy through back-to-back `runtime.GC()`
//! calls, it let every cycle pass unseen (the in-use test, Go 1.21: 0 of
//! 138 samples alive, 43 dropped). Nor may it wait for a lock the run
//! loop holds: preempted at idle priority, the loop held it through the
//! same calls (in CI, Go 1.22: 0 of 102 alive, 31 dropped); the two share
//! none now.
//!
//! Why: the tracer shares its CPUs with whatever else runs there: beside
//! a target confined to some CPUs, the target itself (the default mode
//! runs on them once attached, [`crate::tracee::cpus`]); else whatever
//! the scheduler puts beside it, on the http bench's first measures
//! `loadgen`, whose pace sets the service's. At normal priority each of
//! the run loop's wakeups (~100 a second) may preempt it. Measured with
//! `TRACER_DEBUG_YIELD_TOGGLE` (idle and normal priority alternating every
//! 600 ms; loadgen counting the service's requests per 10 ms; each phase
//! against the mean of its neighbours), Go 1.25: beside loadgen, the
//! service's pace while the run loop yields was 1.013× (± 0.008) its pace
//! at normal priority over 300 s (249 phases), 1.017× and 1.019× in two
//! runs when the GC watch yielded too; on the service's own CPU, 1.017×
//! (± 0.011) over 120 s (`cargo xtask bench`).
//!
//! A CPU kept busy by others would starve an idle-priority thread. So
//! each timed step measures how late it ran (past its due time, or past
//! when the thread began to wait for it); one more than [`LATE`] late
//! puts every yielding thread back at its normal priority for
//! [`BACK_OFF`] ([`BackOff`], the host's state, shared by the threads),
//! said once on stderr. On the http bench, at idle priority beside
//! loadgen, steps came at most ~15 ms late (two runs of 30 s); at normal
//! priority ~2 ms. Beside a confined target, on its own CPUs, while it
//! keeps them [`TARGET_BUSY`] busy, the limit is [`LATE_BESIDE_TARGET`]:
//! there the target is what delays the steps. With 25 ms there, under wrk
//! (the service ~99 % busy) a step came 26–33 ms late within seconds of
//! every run, and the whole tracer ran at normal priority from then on,
//! its ~6–8 ms of CPU a second taken from the service (whose own CPU time
//! fell by 0.8 % ± 0.1 % with the tracer's windows and on-CPU sampling
//! off: 16 runs of 8 s).
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Policy;

thread_local! {
    /// This thread's own policy while a [`Yielding`] holds it at idle
    /// priority.
    static YIELDED: Cell<Option<Policy>> = const { Cell::new(None) };
}

/// A timed step that came this late at idle priority (a whole poll of
/// the runtime's counters, `sampling::POLL`) means the tracer's CPUs are
/// kept busy by others: every yielding thread runs at its normal priority
/// again…
pub const LATE: Duration = Duration::from_millis(25);
/// …or this late when the tracer runs on the target's own CPUs
/// ([`beside_target`]) and the target keeps them at least
/// [`TARGET_BUSY`] busy: what delays its steps is then the target, which
/// is what yielding is for. A service kept ~99 % busy by wrk made steps
/// ~25–35 ms late there, now and then ~250 ms. So too there until the
/// target's CPU use is measured (its second poll): the first step after
/// attaching came ~100 ms late beside that service, and the back-off
/// kept the run loop at normal priority for the first 10 s, the seconds
/// a user measures right after attaching.
pub const LATE_BESIDE_TARGET: Duration = Duration::from_millis(500);
pub const TARGET_BUSY: f64 = 0.8;
/// The back-off lasts this long (from the last late step); then the
/// threads yield again.
pub const BACK_OFF: Duration = Duration::from_secs(10);

/// How many CPUs the target may use when the tracer's threads run on
/// them (0: elsewhere).
static BESIDE_TARGET: AtomicU64 = AtomicU64::new(0);

/// Says that the tracer's threads now run on the target's own `cpus` (a
/// target confined to some CPUs, `tracee::cpus::move_all`).
pub fn beside_target(cpus: usize) {
    BESIDE_TARGET.store(cpus as u64, Ordering::Relaxed);
}

/// How late a step may come at idle priority before the back-off, with
/// the target keeping `cores` CPUs busy (if known).
fn late_limit(cores: Option<f64>) -> Duration {
    late_limit_beside(BESIDE_TARGET.load(Ordering::Relaxed), cores)
}

fn late_limit_beside(cpus: u64, cores: Option<f64>) -> Duration {
    match cores {
        _ if cpus == 0 => LATE,
        None => LATE_BESIDE_TARGET,
        Some(c) if c >= TARGET_BUSY * cpus as f64 => LATE_BESIDE_TARGET,
        Some(_) => LATE,
    }
}

/// Until when the tracer's threads run at normal priority: the host's
/// state, not a thread's, so shared by all of them and kept across the
/// run loop's re-entries.
pub struct BackOff {
    until: Mutex<Option<Instant>>,
    length: Duration,
    /// Said once, on stderr, the first time.
    said: AtomicBool,
}

impl BackOff {
    pub const fn new(length: Duration) -> BackOff {
        BackOff {
            until: Mutex::new(None),
            length,
            said: AtomicBool::new(false),
        }
    }

    fn until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn in_force(&self, now: Instant) -> bool {
        self.until().is_some_and(|t| now < t)
    }
}

/// The tracer's: [`BACK_OFF`] long.
pub static BACKED_OFF: BackOff = BackOff::new(BACK_OFF);

/// The default mode's steady state on one thread (the run loop): idle
/// priority while it only reads counters and memory and
/// drains records; its normal priority for every probe it attaches or
/// detaches ([`foreground`]), and while [`BackOff`] says the CPUs are
/// busy. Dropping it restores the policy.
pub struct Yielding {
    normal: Policy,
    back_off: &'static BackOff,
    /// Times this thread went back to normal priority.
    pub starved: u64,
}

impl Yielding {
    /// `None` under a real-time or deadline policy (left alone), when the
    /// thread already yields, or when the system refused.
    pub fn start() -> Option<Yielding> {
        Yielding::sharing(&BACKED_OFF)
    }

    fn sharing(back_off: &'static BackOff) -> Option<Yielding> {
        if YIELDED.with(Cell::get).is_some() {
            return None;
        }
        let normal = Policy::of_this_thread()?;
        if !normal.ordinary() {
            return None;
        }
        let y = Yielding {
            normal,
            back_off,
            starved: 0,
        };
        if !back_off.in_force(Instant::now()) && !y.lower() {
            return None;
        }
        Some(y)
    }

    fn lower(&self) -> bool {
        let ok = self.normal.set(libc::SCHED_IDLE, 0);
        if ok {
            YIELDED.with(|c| c.set(Some(self.normal)));
        }
        ok
    }

    fn raise(&self) {
        YIELDED.with(|c| c.set(None));
        self.normal.restore();
    }

    /// Whether the thread is at idle priority now.
    pub fn yielding(&self) -> bool {
        YIELDED.with(Cell::get).is_some()
    }

    /// A timed step ran `late` after it was due (or after the thread
    /// started waiting for it), the target keeping `target_cores` CPUs
    /// busy lately (the sampler's measure, if any). More than the limit
    /// ([`LATE`], or [`LATE_BESIDE_TARGET`]; at idle priority) starts or
    /// extends the back-off; the thread follows it.
    pub fn woke(&mut self, late: Duration, target_cores: Option<f64>) {
        if let Some(phase) = debug_toggle() {
            match (phase, self.yielding()) {
                (true, false) => drop(self.lower()),
                (false, true) => self.raise(),
                _ => {}
            }
            return;
        }
        let now = Instant::now();
        let limit = late_limit(target_cores);
        if late > limit && self.yielding() {
            *self.back_off.until() = Some(now + self.back_off.length);
            if !self.back_off.said.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "tracer: its CPUs are busy (a step came {} ms late at idle priority): \
                     back at normal priority for {} s at a time",
                    late.as_millis(),
                    self.back_off.length.as_secs()
                );
            }
        }
        match (self.back_off.in_force(now), self.yielding()) {
            (true, true) => {
                self.raise();
                self.starved += 1;
            }
            (false, false) => {
                self.lower();
            }
            _ => {}
        }
    }
}

impl Drop for Yielding {
    fn drop(&mut self) {
        if self.yielding() {
            self.raise();
        }
    }
}

/// With `TRACER_DEBUG_YIELD_TOGGLE` set (the bench's measure of what
/// yielding is worth), yielding threads ignore lateness and alternate
/// every [`TOGGLE_MS`] of the wall clock: idle priority in even phases,
/// normal in odd ones; each phase's start is printed on stderr once,
/// `<unix ms> yield on|off`. Returns whether to yield now.
fn debug_toggle() -> Option<bool> {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    static LAST: AtomicU64 = AtomicU64::new(u64::MAX);
    if !*ON.get_or_init(|| std::env::var_os("TRACER_DEBUG_YIELD_TOGGLE").is_some()) {
        return None;
    }
    let ms = crate::session::unix_ns() / 1_000_000;
    let phase = ms / TOGGLE_MS;
    let on = phase.is_multiple_of(2);
    if LAST.swap(phase, Ordering::Relaxed) != phase {
        eprintln!(
            "{} yield {}",
            phase * TOGGLE_MS,
            if on { "on" } else { "off" }
        );
    }
    Some(on)
}

/// The phase of `TRACER_DEBUG_YIELD_TOGGLE`.
pub const TOGGLE_MS: u64 = 600;

/// Runs `f` at the thread's normal priority if a [`Yielding`] lowered it
/// (attaching or detaching probes: the target stalls meanwhile, and must
/// not wait behind another process); threads `f` starts inherit it.
pub fn foreground<T>(f: impl FnOnce() -> T) -> T {
    let Some(policy) = YIELDED.with(Cell::take) else {
        return f();
    };
    policy.restore();
    let out = f();
    if policy.set(libc::SCHED_IDLE, 0) {
        YIELDED.with(|c| c.set(Some(policy)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::policy_now;

    #[test]
    fn yielding_is_idle_but_for_what_runs_in_the_foreground() {
        let before = policy_now();
        let Some(y) = Yielding::start() else {
            assert_ne!(before, libc::SCHED_OTHER, "refused under SCHED_OTHER");
            return;
        };
        assert_eq!(policy_now(), libc::SCHED_IDLE);
        assert!(Yielding::start().is_none(), "already yielding");
        let (inside, spawned) = foreground(|| {
            let t = std::thread::spawn(policy_now);
            (policy_now(), t.join().unwrap())
        });
        assert_eq!((inside, spawned), (before, before));
        assert_eq!(policy_now(), libc::SCHED_IDLE);
        // Nested: the inner call leaves the outer one at normal priority.
        assert_eq!(
            foreground(|| (foreground(policy_now), policy_now())),
            (before, before)
        );
        assert!(y.yielding());
        drop(y);
        assert_eq!(policy_now(), before);
        assert_eq!(foreground(policy_now), before, "a no-op without a Yielding");
    }

    #[test]
    fn beside_a_busy_target_steps_may_come_later() {
        let ms = |d: Duration| d.as_millis();
        // Elsewhere, or the target's CPU use low: others keep the CPUs
        // busy.
        assert_eq!(ms(late_limit_beside(0, Some(1.0))), ms(LATE));
        assert_eq!(ms(late_limit_beside(0, None)), ms(LATE));
        assert_eq!(ms(late_limit_beside(1, Some(0.5))), ms(LATE));
        assert_eq!(ms(late_limit_beside(2, Some(1.0))), ms(LATE));
        // The target keeps its CPUs busy, or its use is not measured yet
        // (just attached): it is what delays the steps.
        assert_eq!(ms(late_limit_beside(1, None)), ms(LATE_BESIDE_TARGET));
        assert_eq!(ms(late_limit_beside(1, Some(0.95))), ms(LATE_BESIDE_TARGET));
        assert_eq!(ms(late_limit_beside(2, Some(1.7))), ms(LATE_BESIDE_TARGET));
    }

    #[test]
    fn a_late_step_brings_the_normal_priority_back_for_a_while() {
        static SHORT: BackOff = BackOff::new(Duration::from_millis(300));
        let before = policy_now();
        let Some(mut y) = Yielding::sharing(&SHORT) else {
            return;
        };
        y.woke(LATE / 2, None);
        assert_eq!((policy_now(), y.starved), (libc::SCHED_IDLE, 0));
        y.woke(LATE + Duration::from_millis(1), None);
        assert_eq!((policy_now(), y.starved), (before, 1));
        assert!(!y.yielding());
        // Another thread starting meanwhile starts at normal priority, and
        // follows the back-off's end.
        let other = std::thread::spawn(|| {
            let mut y = Yielding::sharing(&SHORT).unwrap();
            let first = (y.yielding(), policy_now());
            std::thread::sleep(Duration::from_millis(400));
            y.woke(Duration::ZERO, None);
            (first, (y.yielding(), policy_now()))
        });
        // On time again, but within the back-off: still normal.
        y.woke(Duration::ZERO, None);
        assert_eq!((policy_now(), y.starved), (before, 1));
        std::thread::sleep(Duration::from_millis(350));
        y.woke(Duration::ZERO, None);
        assert_eq!(policy_now(), libc::SCHED_IDLE);
        assert!(y.yielding());
        let (first, then) = other.join().unwrap();
        assert_eq!(first, (false, before));
        assert_eq!(then, (true, libc::SCHED_IDLE));
        drop(y);
        assert_eq!(policy_now(), before);
    }
}
