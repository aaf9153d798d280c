//! The GC watch's wakeup: `gc_wake` on `runtime.gcResetMarkState` (once a
//! GC cycle, after the cycle before was swept, before marking) puts a
//! record on `GC_WAKE`. Sampled liveness then looks at once, while the
//! cycle marks, instead of catching cycles by polling alone: a quiet
//! program that runs `runtime.GC()` twice in a row could pass a whole cycle
//! between two looks 10 ms apart, and every followed sample was then
//! dropped. One hit a GC cycle (a net/http service under load: ~57 a
//! second); its hits are counted in `counter::GC_WAKES` and charged to the
//! allocation group's budget, and the sampler attaches it only while GC
//! cycles are rare enough (`sampling::gcwake`).
use std::path::Path;

use aya::maps::{MapData, RingBuf};

use super::{
    attach::{point, LinkHandle, Probes},
    plan,
};
use crate::tracee::gobin::GoBinary;

pub(super) const PROGRAM: &str = "gc_wake";
const MAP: &str = "GC_WAKE";

impl Probes {
    /// Cumulative (BPF run time ns, runs) of the wakeup probe's program,
    /// while stats are on.
    pub fn gc_wake_stats(&self) -> (u64, u64) {
        self.programs_stats(&[PROGRAM])
    }

    /// The ring buffer that gets a record per GC cycle started while the
    /// probe is attached (taken once).
    pub fn gc_wake_ring(&mut self) -> Result<RingBuf<MapData>, String> {
        let map = self.ebpf.take_map(MAP).ok_or("map GC_WAKE missing")?;
        RingBuf::try_from(map).map_err(|e| e.to_string())
    }

    /// Probes the start of each of `pid`'s GC cycles; detach with
    /// `close_samples`.
    pub fn attach_gc_wake(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
    ) -> Result<LinkHandle, String> {
        let addr = plan::gc_start_point(bin).ok_or("runtime.gcResetMarkState not found")?;
        let p =
            point(bin, PROGRAM, addr, 0, "runtime.gcResetMarkState").map_err(|e| e.to_string())?;
        let handles = self.attach(exe, pid, &[p]).map_err(|e| e.to_string())?;
        handles.first().copied().ok_or_else(|| "no link".into())
    }
}
