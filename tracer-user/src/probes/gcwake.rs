//! The GC watch's wakeup: a hardware watchpoint on the target's
//! `runtime.gcphase` (a `mem:ADDR:w` perf event on each CPU the target may
//! use) runs `gc_phase`, which puts a record on `GC_WAKE` when a GC cycle
//! starts marking. Sampled liveness then looks at once, while the cycle
//! marks, instead of catching cycles by polling: a quiet program that runs
//! `runtime.GC()` twice in a row could pass a whole cycle between two
//! looks 10 ms apart, and every followed sample was then dropped. No code
//! is patched and nothing is written: a watchpoint traps only the write
//! it watches (three a cycle). The links live as long as the BPF object.
use aya::{
    maps::{MapData, RingBuf},
    programs::{
        perf_event::{
            BreakpointConfig, PerfBreakpointLength, PerfBreakpointType, PerfEventConfig,
            PerfEventScope, SamplePolicy,
        },
        PerfEvent,
    },
};

use super::{attach::Probes, oncpu};

const PROGRAM: &str = "gc_phase";
const MAP: &str = "GC_WAKE";

impl Probes {
    /// Watches `pid`'s writes to `gcphase_addr` (its `runtime.gcphase`);
    /// returns the ring buffer whose records say a cycle started marking.
    pub fn watch_gc_phase(
        &mut self,
        gcphase_addr: u64,
        pid: u32,
    ) -> Result<RingBuf<MapData>, String> {
        let cpus = oncpu::target_cpus(pid)?;
        let prog: &mut PerfEvent = self
            .ebpf
            .program_mut(PROGRAM)
            .ok_or("program gc_phase missing")?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| e.to_string())?;
        if prog.fd().is_err() {
            prog.load().map_err(|e| e.to_string())?;
        }
        for cpu in cpus {
            prog.attach(
                PerfEventConfig::Breakpoint(BreakpointConfig::Data {
                    r#type: PerfBreakpointType::Write,
                    address: gcphase_addr,
                    length: PerfBreakpointLength::Len4,
                }),
                PerfEventScope::AllProcessesOneCpu { cpu },
                SamplePolicy::Period(1),
                false,
            )
            .map_err(|e| format!("watchpoint on CPU {cpu}: {e}"))?;
        }
        let map = self.ebpf.take_map(MAP).ok_or("map GC_WAKE missing")?;
        RingBuf::try_from(map).map_err(|e| e.to_string())
    }
}
