//! Sampled allocations (`--mode sampled`): one hit per span refill instead
//! of one per allocation. At `runtime.(*mcache).refill(c, spc)` (its
//! prologue's push; RAX = c, BL = spc) the span being retired, `c.alloc[spc]`, is
//! full, and the allocations it served are exactly what the runtime itself
//! credits to its counters there: `s.allocCount - s.allocCountBeforeCache`,
//! plus `c.tinyAllocs` for the tiny span class. That count is the weight of
//! this sample, filed under the stack of the allocation that asked for the
//! refill and the class's slot size. Large objects
//! (`runtime.(*mcache).allocLarge(c, size, noscan)`) are each one sample of
//! weight 1.
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::{config, counter, COOKIE_AFTER_PROLOGUE, COOKIE_SAMPLE_LARGE};

use crate::{
    helpers::{bump, config, hit, read_u64, window_hit, Near},
    probes::alloc::count_here,
};

#[uprobe(multi)]
pub fn alloc_sample(ctx: ProbeContext) -> u32 {
    let cookie = hit(&ctx, Some(counter::SAMPLES_STEPPED));
    window_hit(counter::SAMPLES, config::SAMPLES_WAKE_AT);
    let regs = unsafe { &*ctx.regs };
    let (c, arg) = (regs.rax, regs.rbx);
    let large = cookie & COOKIE_SAMPLE_LARGE != 0;
    let (weight, size, scan) = if large {
        let noscan = regs.rcx & 0xff != 0;
        (1, arg, !noscan)
    } else {
        let spc = arg & 0xff;
        let Some(span) = read_u64(c + config(config::MCACHE_ALLOC_OFFSET) + spc * 8) else {
            return 0;
        };
        // allocCount, allocCountBeforeCache and elemsize: one read.
        let Some(f) = Near::read(span, config::MSPAN_ALLOC_COUNT_OFFSET) else {
            return 0;
        };
        let (used, before) = (
            f.field(config::MSPAN_ALLOC_COUNT_OFFSET) & 0xffff,
            f.field(config::MSPAN_BEFORE_CACHE_OFFSET) & 0xffff,
        );
        let mut weight = used.saturating_sub(before);
        // A retired span is full (allocCount == nelems > 0); allocCount 0
        // is `emptymspan` (no span of this class yet), for which the
        // runtime credits nothing, not even tinyAllocs.
        if used > 0 && spc == config(config::TINY_SPAN_CLASS) {
            weight += read_u64(c + config(config::MCACHE_TINY_ALLOCS_OFFSET)).unwrap_or(0);
        }
        let elemsize = f.field(config::MSPAN_ELEMSIZE_OFFSET);
        (weight, elemsize, spc & 1 == 0)
    };
    if weight == 0 || size == 0 {
        bump(counter::FILTERED);
        return 0;
    }
    count_here(
        &ctx,
        cookie & COOKIE_AFTER_PROLOGUE != 0,
        size,
        scan,
        weight,
    );
    0
}
