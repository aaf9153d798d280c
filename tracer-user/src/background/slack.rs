//! Timer slack for the default mode's run loop: its timed steps (the
//! counters' poll every 25 ms, a window's checks every few ms) may come
//! up to [`COARSE`] late, so that the kernel can fire them with a timer
//! interrupt that comes anyway (the scheduler's tick, every 4 ms at 250
//! Hz) instead of one of their own.
//!
//! Why: on these machines (a VM) a wakeup costs whatever shares the CPU
//! far more than the woken thread's own work. Measured on a Go loop
//! pinned to one CPU, beside a thread on the same CPU that only sleeps
//! and wakes, in 600 ms phases on and off (49 phases each): ~930
//! wakeups a second (1 ms sleeps, the default 50 µs slack) cost the loop
//! 2.65 % ± 0.26 % of its pace, ~28 µs a wakeup; with 2 ms of slack, ~400
//! a second cost it 0.43 % ± 0.20 %, ~11 µs a wakeup. The run loop wakes
//! ~50–100 times a second beside the target (the default mode runs on a
//! confined target's own CPUs, `crate::tracee::cpus`).
//!
//! The GC watch keeps the default slack ([`fine`]): it must look within
//! ~1 ms of a cycle's start (`crate::collect::gc_watch`), and a thread
//! inherits its creator's slack.

/// The run loop's slack, ns.
pub const COARSE: u64 = 2_000_000;
/// The kernel's default slack, ns (`PR_SET_TIMERSLACK` with 0 would reset
/// a thread to its creator's slack at its start, not to this).
pub const FINE: u64 = 50_000;

/// While held, the calling thread's timers have [`COARSE`] slack; dropping
/// it restores the slack it had.
pub struct Coarse {
    before: u64,
}

impl Coarse {
    /// `None` if the slack could not be read or set.
    pub fn start() -> Option<Coarse> {
        let before = slack_now()?;
        set(COARSE).then_some(Coarse { before })
    }
}

impl Drop for Coarse {
    fn drop(&mut self) {
        set(self.before);
    }
}

/// Gives the calling thread the kernel's default slack.
pub fn fine() {
    set(FINE);
}

fn slack_now() -> Option<u64> {
    // SAFETY: PR_GET_TIMERSLACK takes no pointer; it returns the slack.
    let ns = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    u64::try_from(ns).ok().filter(|&ns| ns > 0)
}

fn set(ns: u64) -> bool {
    // SAFETY: PR_SET_TIMERSLACK takes the slack by value.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slack_is_coarse_while_held_and_restored_after() {
        std::thread::spawn(|| {
            let before = slack_now().expect("slack");
            {
                let _c = Coarse::start().expect("settable");
                assert_eq!(slack_now(), Some(COARSE));
                // A thread started meanwhile inherits it; `fine` resets it.
                std::thread::spawn(|| {
                    assert_eq!(slack_now(), Some(COARSE));
                    fine();
                    assert_eq!(slack_now(), Some(FINE));
                })
                .join()
                .unwrap();
            }
            assert_eq!(slack_now(), Some(before));
        })
        .join()
        .unwrap();
    }
}
