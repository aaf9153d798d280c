//! The tracer's heavy start-up work runs at idle priority (`SCHED_IDLE`):
//! reading the target's binary, creating the BPF maps, the verifier, the
//! calibrations on the tracer's own functions. None of it touches the
//! target, and nothing waits for it but the tracer.
//!
//! Why: the tracer keeps off a confined target's CPUs
//! ([`crate::tracee::cpus`]), so it shares them with whatever else runs
//! there, a load generator or another service. Start-up takes ~120 ms of
//! CPU in ~300 ms. At normal priority the scheduler splits the CPU evenly
//! with that neighbour. On the http bench (service on CPU 0, `wrk` on
//! CPU 1, the tracer started on CPU 1 while `wrk` ran, 100 ms bins, six
//! runs), the service served 0.48× its req/s in the first 100 ms and
//! 0.57–0.72× for the next 300 ms. The same happened with the tracer
//! attaching to another, idle process: the cost came from the work on
//! `wrk`'s CPU, not from anything done to the target.
//!
//! At idle priority that work runs when its CPU is otherwise idle, and
//! `wrk` never waits for it (`perf sched`: its scheduling delay stayed 0).
//! The work still costs something there: a busy loop at idle priority on
//! `wrk`'s CPU cost the service 15 % (one at normal priority 67 %), so
//! this lowers the start-up's cost (0.21 s of the service's req/s lost
//! in the first 1.5 s, 0.15 s after; 12 runs each) and does not remove
//! it. On a
//! CPU busy all the time it would barely run at all, so idle priority
//! lasts [`AT_MOST`]; a watchdog thread, started at normal priority,
//! restores the normal one then. The previous policy comes back when the
//! [`Background`] is dropped, before the session attaches anything to the
//! target.
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Policy;

/// The longest the tracer runs at idle priority.
pub const AT_MOST: Duration = Duration::from_secs(1);

/// The calling thread at idle priority until dropped (or [`AT_MOST`]).
pub struct Background {
    policy: Policy,
    watchdog: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Background {
    /// `None` when the thread runs under a real-time or deadline policy
    /// (the user chose it: left alone) or the system refused.
    pub fn enter() -> Option<Background> {
        let policy = Policy::of_this_thread()?;
        if !policy.ordinary() {
            return None;
        }
        // Started first: a thread inherits the idle policy.
        let (tx, rx) = mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("tracer-bg-cap".into())
            .spawn(move || {
                if rx.recv_timeout(AT_MOST) == Err(RecvTimeoutError::Timeout) {
                    policy.restore();
                }
            })
            .ok()?;
        if !policy.set(libc::SCHED_IDLE, 0) {
            drop(tx);
            let _ = watchdog.join();
            return None;
        }
        Some(Background {
            policy,
            watchdog: Some((tx, watchdog)),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some((tx, watchdog)) = self.watchdog.take() {
            drop(tx);
            let _ = watchdog.join();
        }
        self.policy.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::policy_now;

    #[test]
    fn idle_until_dropped_then_as_before() {
        let before = policy_now();
        let bg = Background::enter();
        if before == libc::SCHED_OTHER {
            assert!(bg.is_some());
            assert_eq!(policy_now(), libc::SCHED_IDLE);
        }
        drop(bg);
        assert_eq!(policy_now(), before);
    }

    #[test]
    fn the_watchdog_ends_idle_priority_after_at_most() {
        let before = policy_now();
        let Some(bg) = Background::enter() else {
            return;
        };
        assert_eq!(policy_now(), libc::SCHED_IDLE);
        std::thread::sleep(AT_MOST + Duration::from_millis(300));
        assert_eq!(policy_now(), before);
        drop(bg);
        assert_eq!(policy_now(), before);
    }
}
