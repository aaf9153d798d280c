//! On-CPU sampling: a `cpu-clock` perf event per online CPU at a fixed
//! period, running `cpu_sample` (which keeps only the target's samples).
//! The links live as long as the BPF object.
use aya::programs::{
    perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
    PerfEvent,
};

use super::attach::Probes;

const CPU_PROGRAM: &str = "cpu_sample";

/// The sampling frequency when none is asked for (per CPU): odd, so it
/// does not run in step with the many 100 Hz timers of a system.
pub const DEFAULT_CPU_HZ: u64 = 99;

impl Probes {
    /// Starts sampling every online CPU `hz` times a second; returns the
    /// sampling period (ns of CPU time a sample stands for).
    pub fn attach_cpu_sampling(&mut self, hz: u64) -> Result<u64, String> {
        if hz == 0 || hz > 10_000 {
            return Err(format!("sampling frequency {hz} Hz is outside 1..=10000"));
        }
        let period_ns = 1_000_000_000 / hz;
        let cpus = online_cpus()?;
        let prog: &mut PerfEvent = self
            .ebpf
            .program_mut(CPU_PROGRAM)
            .ok_or("program cpu_sample missing")?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| e.to_string())?;
        prog.load().map_err(|e| e.to_string())?;
        for cpu in cpus {
            prog.attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu },
                SamplePolicy::Period(period_ns),
                false,
            )
            .map_err(|e| format!("perf event on CPU {cpu}: {e}"))?;
        }
        Ok(period_ns)
    }
}

/// `/sys/devices/system/cpu/online` ("0-3,5").
fn online_cpus() -> Result<Vec<u32>, String> {
    let path = "/sys/devices/system/cpu/online";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    parse_cpu_list(text.trim()).ok_or_else(|| format!("{path}: unreadable list {text:?}"))
}

fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
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
    }
}
