//! Sampled allocations (`--mode sampled`): one hit per span refill instead
//! of one per allocation. At `runtime.(*mcache).refill(c, spc)` (after the
//! prologue; RAX = c, BL = spc) the span being retired, `c.alloc[spc]`, is
//! full, and the allocations it served are exactly what the runtime itself
//! credits to its counters there: `s.allocCount - s.allocCountBeforeCache`,
//! plus `c.tinyAllocs` for the tiny span class. That count is the weight of
//! this sample, filed under the stack of the allocation that asked for the
//! refill and the class's slot size. Large objects
//! (`runtime.(*mcache).allocLarge(c, size, noscan)`) are each one sample of
//! weight 1.
use aya_ebpf::{
    helpers::generated::bpf_get_attach_cookie, macros::uprobe, programs::ProbeContext, EbpfContext,
};
use tracer_common::{config, counter, COOKIE_SAMPLE_LARGE};

use crate::{
    helpers::{bump, config, read_u64},
    probes::alloc::count_here,
};

#[uprobe(multi)]
pub fn alloc_sample(ctx: ProbeContext) -> u32 {
    bump(counter::PROBE_HITS);
    bump(counter::SAMPLES);
    let regs = unsafe { &*ctx.regs };
    let (c, arg) = (regs.rax, regs.rbx);
    let large = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } & COOKIE_SAMPLE_LARGE != 0;
    let (weight, size, scan) = if large {
        let noscan = regs.rcx & 0xff != 0;
        (1, arg, !noscan)
    } else {
        let spc = arg & 0xff;
        let Some(span) = read_u64(c + config(config::MCACHE_ALLOC_OFFSET) + spc * 8) else {
            return 0;
        };
        let u16_at = |off: u32| read_u64(span + config(off)).map(|v| v & 0xffff);
        let (Some(used), Some(before)) = (
            u16_at(config::MSPAN_ALLOC_COUNT_OFFSET),
            u16_at(config::MSPAN_BEFORE_CACHE_OFFSET),
        ) else {
            return 0;
        };
        let mut weight = used.saturating_sub(before);
        // A retired span is full (allocCount == nelems > 0); allocCount 0
        // is `emptymspan` (no span of this class yet), for which the
        // runtime credits nothing, not even tinyAllocs.
        if used > 0 && spc == config(config::TINY_SPAN_CLASS) {
            weight += read_u64(c + config(config::MCACHE_TINY_ALLOCS_OFFSET)).unwrap_or(0);
        }
        let elemsize = read_u64(span + config(config::MSPAN_ELEMSIZE_OFFSET)).unwrap_or(0);
        (weight, elemsize, spc & 1 == 0)
    };
    if weight == 0 || size == 0 {
        bump(counter::FILTERED);
        return 0;
    }
    count_here(&ctx, true, size, scan, weight);
    0
}
