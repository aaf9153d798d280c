//! The budget a target's windows had left, carried from one default-mode
//! session to the next on the same process (the fleet agent's slices).
//!
//! A session's buckets start empty and fill with the target's CPU time. A
//! quiet process (a twentieth of a CPU) fills the map group's bucket to
//! what a first map window costs in ~17 s, so a 20 s slice opened one at
//! its end or not at all, and the agent named a map that never shrinks in
//! one process of two within 100 s (CI, Go 1.27.3). Carried over, the
//! buckets keep what the earlier slices left (debt included) and gain the
//! budget of the CPU time the process spent between slices, as they would
//! have in one long session: still at most what a bucket holds.
use std::time::Instant;

use super::SampledState;

/// What the buckets held, and the target's CPU time then.
#[derive(Debug, Clone, Copy)]
pub struct Carry {
    /// (allocation group, map group), ns of probe time.
    tokens: (f64, f64),
    /// When, and the target's CPU time then, ns.
    cpu: (Instant, u64),
}

impl Carry {
    /// Empty buckets as of the target's CPU time `cpu_ns` now: its budget
    /// accrues from here (a process the agent just found).
    pub fn empty(cpu_ns: u64) -> Carry {
        Carry {
            tokens: (0.0, 0.0),
            cpu: (Instant::now(), cpu_ns),
        }
    }
}

impl SampledState {
    /// What this session leaves for the next on the target (`None` before
    /// its CPU time was read).
    pub fn carry(&self) -> Option<Carry> {
        self.last_cpu.map(|cpu| Carry {
            tokens: (self.allocs.governor.tokens(), self.maps.governor.tokens()),
            cpu,
        })
    }

    /// Starts from what an earlier session left: its buckets, and the
    /// target's CPU time since then accrues at the next poll.
    pub fn resume(&mut self, carry: Carry) {
        self.allocs.governor.set_tokens(carry.tokens.0);
        self.maps.governor.set_tokens(carry.tokens.1);
        self.last_cpu = Some(carry.cpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::calibrate::Traps;
    use crate::sampling::tests::state;

    #[test]
    fn a_resumed_session_accrues_the_time_between() {
        let mut s = state();
        s.resume(Carry {
            tokens: (1_000.0, -500.0),
            cpu: (Instant::now(), 1_000_000_000),
        });
        // The target spent 1 s of CPU since: 0.3 and 0.1 of 3 % of it.
        let traps = Traps {
            emulated_ns: 3_000.0,
            stepped_ns: 20_000.0,
        };
        s.poll(None, Some((Instant::now(), 2_000_000_000)), traps);
        let (a, m) = s.carry().unwrap().tokens;
        assert!((a - (1_000.0 + 9_000_000.0)).abs() < 1.0, "{a}");
        assert!((m - (-500.0 + 3_000_000.0)).abs() < 1.0, "{m}");
    }

    #[test]
    fn a_carry_holds_at_most_a_bucket() {
        let mut s = state();
        s.resume(Carry {
            tokens: (1e12, 1e12),
            cpu: (Instant::now(), 0),
        });
        let (a, m) = s.carry().unwrap().tokens;
        // 8 s and 20 s of one CPU's budget.
        assert!((a - 72_000_000.0).abs() < 1.0, "{a}");
        assert!((m - 60_000_000.0).abs() < 1.0, "{m}");
    }
}
