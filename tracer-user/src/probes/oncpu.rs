//! On-CPU sampling: a `cpu-clock` perf event per CPU the target may run on
//! at a fixed period, running `cpu_sample` (which keeps only the target's
//! samples). The links live as long as the BPF object.
//!
//! A CPU outside every thread's affinity never runs the target: its timer
//! interrupts would only slow the other programs there (measured here: a
//! 99 Hz cpu-clock event per CPU costs a net/http service and its load
//! generator about 0.3–0.9 % of their requests). Threads the target starts
//! later inherit their creator's affinity; one that widens its own later
//! is sampled only on the CPUs chosen at attach.
use aya::programs::{
    perf_event::{PerfEventConfig, PerfEventLinkId, PerfEventScope, SamplePolicy, SoftwareEvent},
    PerfEvent,
};

use super::attach::Probes;
use crate::{
    error::UserError,
    tracee::cpus::{allowed_cpus, online_cpus},
};

const CPU_PROGRAM: &str = "cpu_sample";

/// The sampling frequency when none is asked for (per CPU): odd, so it
/// does not run in step with the many 100 Hz timers of a system.
pub const DEFAULT_CPU_HZ: u64 = 99;

/// The highest sampling frequency taken (`--cpu-hz`).
pub const MAX_CPU_HZ: u64 = 10_000;

/// `--cpu-hz` as a user gave it (0 = off): a usage error past
/// [`MAX_CPU_HZ`], before anything is attached.
pub fn check_cpu_hz(hz: u64) -> Result<(), UserError> {
    if hz > MAX_CPU_HZ {
        return Err(UserError::Usage(format!(
            "--cpu-hz must be in 0..={MAX_CPU_HZ}"
        )));
    }
    Ok(())
}

impl Probes {
    /// Cumulative (BPF run time ns, runs) of the on-CPU sampling program on
    /// every CPU sampled (the target's samples and the others'), while
    /// stats are on.
    pub fn cpu_sample_stats(&self) -> (u64, u64) {
        self.programs_stats(&[CPU_PROGRAM])
    }

    /// Starts sampling, `hz` times a second, every online CPU that one of
    /// `pid`'s threads may run on; returns the sampling period (ns of CPU
    /// time a sample stands for).
    pub fn attach_cpu_sampling(&mut self, hz: u64, pid: u32) -> Result<u64, String> {
        if hz == 0 || hz > MAX_CPU_HZ {
            return Err(format!(
                "sampling frequency {hz} Hz is outside 1..={MAX_CPU_HZ}"
            ));
        }
        let period_ns = 1_000_000_000 / hz;
        let mut cpus = online_cpus()?;
        if let Some(allowed) = allowed_cpus(pid) {
            cpus.retain(|c| allowed.contains(c));
        }
        if cpus.is_empty() {
            return Err(format!("process {pid} may run on no online CPU"));
        }
        let mut events = CpuEvents {
            period_ns,
            cpus,
            links: Vec::new(),
        };
        self.start_cpu_events(&mut events)?;
        self.cpu = Some(events);
        Ok(period_ns)
    }

    /// Whether the on-CPU sampling's perf events run.
    pub fn cpu_sampling(&self) -> bool {
        self.cpu.as_ref().is_some_and(|c| !c.links.is_empty())
    }

    /// Stops (`false`) or restarts (`true`) the on-CPU sampling's perf
    /// events, for measuring what they cost (the bench toggles them).
    pub fn set_cpu_sampling(&mut self, on: bool) -> Result<(), String> {
        let Some(mut events) = self.cpu.take() else {
            return Ok(());
        };
        let result = match (on, events.links.is_empty()) {
            (true, true) => self.start_cpu_events(&mut events),
            // The events are kept (paused) even when a detach fails.
            (false, false) => cpu_program(&mut self.ebpf).and_then(|prog| {
                events
                    .links
                    .drain(..)
                    .map(|link| prog.detach(link).map_err(|e| e.to_string()))
                    .fold(Ok(()), Result::and)
            }),
            _ => Ok(()),
        };
        self.cpu = Some(events);
        result
    }

    fn start_cpu_events(&mut self, events: &mut CpuEvents) -> Result<(), String> {
        let prog = cpu_program(&mut self.ebpf)?;
        if prog.fd().is_err() {
            prog.load().map_err(|e| e.to_string())?;
        }
        for &cpu in &events.cpus {
            let link = prog
                .attach(
                    PerfEventConfig::Software(SoftwareEvent::CpuClock),
                    PerfEventScope::AllProcessesOneCpu { cpu },
                    SamplePolicy::Period(events.period_ns),
                    false,
                )
                .map_err(|e| format!("perf event on CPU {cpu}: {e}"))?;
            events.links.push(link);
        }
        Ok(())
    }
}

/// The on-CPU sampling's perf events: one per CPU the target may use.
pub struct CpuEvents {
    period_ns: u64,
    cpus: Vec<u32>,
    /// Empty while paused.
    links: Vec<PerfEventLinkId>,
}

fn cpu_program(ebpf: &mut aya::Ebpf) -> Result<&mut PerfEvent, String> {
    ebpf.program_mut(CPU_PROGRAM)
        .ok_or("program cpu_sample missing")?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| e.to_string())
}
