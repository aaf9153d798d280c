//! Where the tracer's own work runs at idle priority (`SCHED_IDLE`), so
//! that whatever shares its CPUs keeps them: the start-up ([`startup`]),
//! and the default mode's run loop ([`steady`]: it reads the target's
//! memory at idle priority). No probe is attached or detached at idle
//! priority: that stalls the target while the kernel holds its memory
//! map, and must not wait behind another process.
pub mod startup;
pub mod steady;

pub use startup::{Background, AT_MOST};
pub use steady::{beside_target, foreground, Yielding};

/// A thread's scheduling policy, to restore it.
#[derive(Clone, Copy)]
struct Policy {
    /// The thread it was read from.
    tid: libc::pid_t,
    policy: libc::c_int,
    priority: libc::c_int,
}

impl Policy {
    fn of_this_thread() -> Option<Policy> {
        // SAFETY: plain system calls on this thread's own id.
        let tid = unsafe { libc::gettid() };
        let policy = unsafe { libc::sched_getscheduler(tid) };
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is valid for the call.
        (policy >= 0 && unsafe { libc::sched_getparam(tid, &mut param) } == 0).then_some(Policy {
            tid,
            policy,
            priority: param.sched_priority,
        })
    }

    fn set(&self, policy: libc::c_int, priority: libc::c_int) -> bool {
        let param = libc::sched_param {
            sched_priority: priority,
        };
        // SAFETY: `param` is valid for the call.
        unsafe { libc::sched_setscheduler(self.tid, policy, &param) == 0 }
    }

    /// SCHED_OTHER or SCHED_BATCH: a real-time or deadline policy was
    /// chosen by the user and is left alone.
    fn ordinary(&self) -> bool {
        self.policy == libc::SCHED_OTHER || self.policy == libc::SCHED_BATCH
    }

    fn restore(&self) {
        self.set(self.policy, self.priority);
    }
}

/// The calling thread's policy (tests).
#[cfg(test)]
fn policy_now() -> libc::c_int {
    Policy::of_this_thread().unwrap().policy
}
