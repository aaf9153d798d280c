//! The tracer's own CPU time: what work on a thread cost, whatever time it
//! spent descheduled (the default mode's run loop runs at idle priority,
//! where wall time counts every wait behind the target), and what the
//! whole process used (the report's `overhead.tracer_cpu_ns`).

use std::time::Duration;

/// CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time this process has used, every thread, user and system
/// (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu_time() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// What `tracer_ns` of the tracer's CPU time took from the target: the
/// part that ran on CPUs the target may use (`overlap`, the share of the
/// tracer's CPUs that are also the target's), at the share of those CPUs
/// the target kept busy (`target_busy`): on a CPU the target leaves idle the
/// tracer takes nothing from it, on one it keeps busy each ns is its. On
/// the net/http bench (the service on CPU 0 at ~99 %, the default mode's
/// threads beside it at idle priority, `perf record -C 0` over 10 s of
/// wrk): the tracer had 0.49 % of CPU 0's samples and the service 0.44 %
/// fewer than untraced.
pub fn taken_from_target(tracer_ns: f64, overlap: f64, target_busy: f64) -> f64 {
    tracer_ns.max(0.0) * overlap.clamp(0.0, 1.0) * target_busy.clamp(0.0, 1.0)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_work_and_not_sleep() {
        let t = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_time() - t;
        assert!(slept < Duration::from_millis(10), "{slept:?}");
        let t = thread_cpu_time();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            std::hint::black_box(0);
        }
        let worked = thread_cpu_time() - t;
        assert!(worked >= Duration::from_millis(10), "{worked:?}");
    }

    #[test]
    fn the_tracer_takes_from_the_target_only_where_it_keeps_cpus_busy() {
        // Beside a target that keeps its one CPU busy: all of it.
        assert_eq!(taken_from_target(8e6, 1.0, 0.99), 8e6 * 0.99);
        // Beside a nearly idle one: next to nothing.
        assert_eq!(taken_from_target(8e6, 1.0, 0.01), 8e6 * 0.01);
        // Kept off its CPUs (exact mode beside a confined target): nothing.
        assert_eq!(taken_from_target(8e6, 0.0, 1.0), 0.0);
        // A target on both of 2 CPUs, busy half of the time: half.
        assert_eq!(taken_from_target(8e6, 1.0, 0.5), 4e6);
        // A busy share read above 1 (clock granularity) counts as 1.
        assert_eq!(taken_from_target(8e6, 1.0, 1.3), 8e6);
    }

    #[test]
    fn the_process_counts_its_other_threads() {
        let t = process_cpu_time();
        std::thread::spawn(|| {
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(20) {
                std::hint::black_box(0);
            }
        })
        .join()
        .unwrap();
        let used = process_cpu_time() - t;
        assert!(used >= Duration::from_millis(10), "{used:?}");
    }
}
