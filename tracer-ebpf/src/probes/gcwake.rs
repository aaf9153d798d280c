//! The GC watch's wakeup: a uprobe on `runtime.gcResetMarkState`, which
//! `gcStart` calls once a GC cycle, after it swept what the cycle before
//! left and before marking. A record on `GC_WAKE` wakes the tracer's GC
//! watch at once, so it looks while the new cycle marks: every span then
//! shows the bits of the cycle that just ended. One hit a GC cycle.
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::counter;

use crate::{
    helpers::{bump, hit},
    maps::GC_WAKE,
};

/// `BPF_RB_FORCE_WAKEUP`.
const FORCE_WAKEUP: u64 = 2;

#[uprobe(multi)]
pub fn gc_wake(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    bump(counter::GC_WAKES);
    if let Some(mut e) = GC_WAKE.reserve::<u32>(0) {
        e.write(0);
        e.submit(FORCE_WAKEUP);
    }
    0
}
