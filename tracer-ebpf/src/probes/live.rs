//! Object liveness samples (in-use heap when the runtime's own heap profile
//! is off). Where `(*mcache).refill` tests the span
//! `runtime.(*mcentral).cacheSpan` returned (`TESTQ AX, AX; JE` after the
//! call; else at each RET of `cacheSpan`) RAX is the span just taken,
//! ready to allocate from:
//! the object the refill's allocation gets is slot `freeindex +
//! trailing_zeros(allocCache)` — computed in userspace from the fields sent
//! here. At each RET of `(*mcache).allocLarge` RAX is the large object's
//! span (cookie `COOKIE_SAMPLE_LARGE`): the object is slot 0. The record
//! carries `mheap_.sweepgen` of the moment, the allocating stack (in
//! refill BP is refill's own frame, cookie `COOKIE_AFTER_PROLOGUE`; at a
//! RET `[SP]` is the return into the caller, BP the caller's frame), and
//! the span as read, which userspace checks again after each GC.
//!
//! In the windows that sample liveness this probe also stands for the
//! allocation sample (`alloc_sample` is not attached then, so a refill or a
//! large object costs one hit either way): the new span's free slots,
//! `nelems - allocCount`, are the allocations it will serve, filed under
//! this stack and the class's slot size; a large object counts once, at
//! its requested size (`limit - startAddr`, which `allocLarge` sets).
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::{
    config, counter, kind, AllocKey, LiveEvent, COOKIE_AFTER_PROLOGUE, COOKIE_SAMPLE_LARGE,
};

use crate::{
    helpers::{bump, capture_stack, config, emit, hit, read_u64, window_hit, Near},
    probes::alloc::count,
};

#[uprobe(multi)]
pub fn live_sample(ctx: ProbeContext) -> u32 {
    let cookie = hit(&ctx, Some(counter::SAMPLES_STEPPED));
    window_hit(counter::LIVE_SAMPLES, config::LIVE_SAMPLES_WAKE_AT);
    let span = unsafe { &*ctx.regs }.rax;
    if span == 0 {
        return 0;
    }
    let large = cookie & COOKIE_SAMPLE_LARGE != 0;
    // allocCount…limit in one read (the BPF stack has no room for a
    // second such buffer beside the stack walk's and the record).
    let field = |off: u32| read_u64(span + config(off));
    let (Some(start), Some(freeindex), Some(alloc_cache), Some(counts)) = (
        field(config::MSPAN_START_OFFSET),
        field(config::MSPAN_FREEINDEX_OFFSET),
        field(config::MSPAN_ALLOC_CACHE_OFFSET),
        Near::read(span, config::MSPAN_ALLOC_COUNT_OFFSET),
    ) else {
        return 0;
    };
    let elemsize = counts.field(config::MSPAN_ELEMSIZE_OFFSET);
    let spanclass = counts.field(config::MSPAN_SPANCLASS_OFFSET);
    let freeindex = if config(config::MSPAN_FREEINDEX_SIZE) == 8 {
        freeindex
    } else {
        freeindex & 0xffff
    };
    let sweepgen = read_u64(config(config::MHEAP_SWEEPGEN_ADDR)).unwrap_or(0) & 0xffff_ffff;
    let (stack_id, truncated) = capture_stack(&ctx, cookie & COOKIE_AFTER_PROLOGUE != 0);
    if truncated {
        bump(counter::STACK_TRUNCATED);
    }
    let scan = (spanclass & 1 == 0) as u32;
    if large {
        let limit = counts.field(config::MSPAN_LIMIT_OFFSET);
        let size = if limit > start {
            limit - start
        } else {
            elemsize
        };
        let key = AllocKey {
            stack_id,
            size,
            scan,
            _pad: 0,
        };
        count(&key, 1);
    } else {
        let wide = config(config::MSPAN_FREEINDEX_SIZE) == 8;
        let nelems = field(config::MSPAN_NELEMS_OFFSET).unwrap_or(0);
        let nelems = if wide { nelems } else { nelems & 0xffff };
        let used = counts.field(config::MSPAN_ALLOC_COUNT_OFFSET) & 0xffff;
        let key = AllocKey {
            stack_id,
            size: elemsize,
            scan,
            _pad: 0,
        };
        if nelems > used && elemsize > 0 {
            count(&key, nelems - used);
        }
    }
    emit(LiveEvent {
        kind: kind::LIVE_SAMPLE,
        large: large as u32,
        span,
        start,
        freeindex,
        alloc_cache,
        elemsize,
        spanclass: spanclass & 0xff,
        sweepgen,
        stack_id,
    });
    0
}
