//! The GC watch's wakeup: a hardware watchpoint (a `mem:ADDR:w` perf event
//! on every CPU) on the target's `runtime.gcphase` runs `gc_phase` each
//! time the runtime changes phase (three times a GC cycle), in the writing
//! thread, after the write. When marking begins, a record on `GC_WAKE`
//! wakes the tracer's GC watch at once, so it looks while the cycle marks: every span then
//! shows the bits of the cycle that just ended. No probe, no trap on code;
//! the target's memory is only watched.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::perf_event,
    programs::PerfEventContext,
};
use tracer_common::config;

use crate::{helpers::config, maps::GC_WAKE};

/// `BPF_RB_FORCE_WAKEUP`.
const FORCE_WAKEUP: u64 = 2;

/// `runtime._GCmark`.
const GC_MARK: u32 = 1;

#[perf_event]
pub fn gc_phase(ctx: PerfEventContext) -> u32 {
    // A watchpoint on every CPU sees any process writing that address.
    if bpf_get_current_pid_tgid() >> 32 != config(config::TARGET_TGID) {
        return 0;
    }
    // Only the start of marking (once a cycle): the sweep of the cycle
    // before is done then.
    let addr = unsafe { (*ctx.ctx).addr };
    match unsafe { bpf_probe_read_user(addr as *const u32) } {
        Ok(GC_MARK) => {}
        _ => return 0,
    }
    if let Some(mut e) = GC_WAKE.reserve::<u32>(0) {
        e.write(0);
        e.submit(FORCE_WAKEUP);
    }
    0
}
