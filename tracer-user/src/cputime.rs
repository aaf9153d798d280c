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
