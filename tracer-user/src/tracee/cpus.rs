//! The CPUs the target may run on, and where the tracer's own threads run
//! when the target is confined to some (`taskset`, a cpuset, a Kubernetes
//! pod with dedicated CPUs).
//!
//! A service given CPUs of its own is one whose every millisecond there
//! counts, and so may be the other CPUs' work: on the http bench they run
//! the load generator. Start-up (hundreds of ms of parsing) keeps off the
//! target's CPUs ([`stay_off`]): there it would take the target's own time
//! at once. Once attached, the default mode's steady work (5–10 ms of CPU
//! a second, ~60 wakeups of the run loop and ~60 of the GC watch, on the
//! net/http bench) runs on the target's CPUs at idle priority
//! ([`move_all`]; `crate::background::steady`): there it costs the target
//! only what it takes, while on the other CPUs, even at idle priority, it
//! filled their idle gaps, and each wakeup of what ran there then cost an
//! interrupt. Measured on the http bench (service on CPU 0, wrk on CPU 1,
//! 6 alternating runs each, Go 1.25.5): the steady tracer on CPU 0 kept
//! 0.996× ± 0.018 of the untraced req/s, on CPU 1 0.872× ± 0.029; a
//! spinner at idle priority on CPU 1 alone cost the service 10–40 %.
//! (Before the run loop yielded, the tracer on CPU 0 cost it ~14 %.)
//! Exact mode keeps off the target's CPUs: its ring buffer must be drained
//! at normal priority.

/// `/sys/devices/system/cpu/online` ("0-3,5").
pub fn online_cpus() -> Result<Vec<u32>, String> {
    let path = "/sys/devices/system/cpu/online";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    parse_cpu_list(text.trim()).ok_or_else(|| format!("{path}: unreadable list {text:?}"))
}

/// The union of the CPUs `pid`'s threads may run on (`Cpus_allowed_list`
/// of each `/proc/PID/task/TID/status`); `None` when it cannot be read.
pub fn allowed_cpus(pid: u32) -> Option<Vec<u32>> {
    let mut all: Vec<u32> = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .and_then(|v| parse_cpu_list(v.trim()))?;
        all.extend(list);
    }
    all.sort_unstable();
    all.dedup();
    (!all.is_empty()).then_some(all)
}

pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// Of the CPUs the tracer may use (`own`), those the target cannot
/// (`target`); `None` when the target may use all of `own`.
pub fn outside(own: &[u32], target: &[u32]) -> Option<Vec<u32>> {
    let rest: Vec<u32> = own
        .iter()
        .copied()
        .filter(|c| !target.contains(c))
        .collect();
    (!rest.is_empty()).then_some(rest)
}

/// Where the target and the tracer run after [`stay_off`] moved the tracer.
#[derive(Debug)]
pub struct Moved {
    pub target: Vec<u32>,
    pub tracer: Vec<u32>,
}

/// When `pid` is confined to some of the CPUs this process may use, moves
/// every thread of this process (and so those it starts later) to the
/// others; returns where each runs, or `None` when
/// nothing changed (the target may run anywhere the tracer may, or its
/// CPUs cannot be read). Errors only when the kernel refuses the move.
pub fn stay_off(pid: u32) -> Result<Option<Moved>, String> {
    let (Some(own), Some(target)) = (allowed_cpus(std::process::id()), allowed_cpus(pid)) else {
        return Ok(None);
    };
    let Some(rest) = outside(&own, &target) else {
        return Ok(None);
    };
    if own.iter().all(|c| rest.contains(c)) {
        return Ok(None); // already off them
    }
    move_all(&rest)?;
    Ok(Some(Moved {
        target,
        tracer: rest,
    }))
}

/// Lets every thread of this process (and so those it starts later) run
/// on `cpus` only. Errors only when the kernel refuses the move.
pub fn move_all(cpus: &[u32]) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO / CPU_SET stay within it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c as usize, &mut set) };
    }
    let tasks =
        std::fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: a valid set of the size given.
        let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(format!("sched_setaffinity: {e}"));
            }
        }
    }
    Ok(())
}

/// "0-3,5" from [0, 1, 2, 3, 5].
pub fn format_cpu_list(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", cpus[i], cpus[j])
        } else {
            cpus[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0-2,5,7-8"), Some(vec![0, 1, 2, 5, 7, 8]));
        assert_eq!(parse_cpu_list("3"), Some(vec![3]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_cpu_list(&[3]), "3");
    }

    #[test]
    fn the_cpus_outside_the_target() {
        assert_eq!(outside(&[0, 1], &[0]), Some(vec![1]));
        assert_eq!(outside(&[0, 1, 2, 3], &[1, 2]), Some(vec![0, 3]));
        // Anywhere the tracer may run, or a tracer confined to the
        // target's CPUs: nowhere else to go.
        assert_eq!(outside(&[0, 1], &[0, 1]), None);
        assert_eq!(outside(&[0], &[0, 1]), None);
    }

    #[test]
    fn the_allowed_cpus_of_a_process_are_its_threads_union() {
        let me = allowed_cpus(std::process::id()).expect("own affinity");
        let online = online_cpus().unwrap();
        assert!(me.iter().all(|c| online.contains(c)), "{me:?} ⊄ {online:?}");
        // A child pinned to one CPU is sampled there only.
        let cpu = online[online.len() - 1];
        let mut child = std::process::Command::new("taskset")
            .args(["-c", &cpu.to_string(), "sleep", "5"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let theirs = allowed_cpus(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(theirs, Some(vec![cpu]));
        assert_eq!(allowed_cpus(u32::MAX), None);
    }
}
