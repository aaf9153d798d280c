//! Allocation entry probes: `runtime.mallocgc` and the size-specialised
//! `runtime.mallocgc*SC*` functions (Go >= 1.27). All share the register ABI
//! RAX = size, RBX = *_type. The attach cookie holds the smallest size this
//! probe point counts (on Go 1.27 mallocgc forwards sizes < 81 to an SC
//! function that has its own probe, so mallocgc's floor is 81 there) and
//! whether BP already holds the function's own frame there. The probe sits
//! on the prologue's `PUSHQ BP` (or past the prologue): past the stack
//! check, which matters: when it fails (stack growth, or a preemption
//! request) morestack re-runs the function from its entry, so an entry
//! probe would count that call twice.
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::{
    counter, kind, AllocEvent, AllocKey, COOKIE_AFTER_PROLOGUE, COOKIE_MIN_SIZE_MASK,
};

use crate::{
    helpers::{atomic_add, bump, capture_stack, emit, hit, read_u64},
    maps::ALLOC_COUNTS,
};

/// Offset of `PtrBytes` in `internal/abi.Type` (unchanged 1.21..1.27).
const TYPE_PTRBYTES: u64 = 8;

#[uprobe(multi)]
pub fn malloc_entry(ctx: ProbeContext) -> u32 {
    let cookie = hit(&ctx, None);
    let regs = unsafe { &*ctx.regs };
    let size = regs.rax;
    let floor = (cookie & COOKIE_MIN_SIZE_MASK).max(1);
    if size < floor {
        bump(counter::FILTERED);
        return 0;
    }
    let typ = regs.rbx;
    let scan = typ != 0 && read_u64(typ + TYPE_PTRBYTES).unwrap_or(0) != 0;
    bump(counter::ALLOCS);
    count_here(&ctx, cookie & COOKIE_AFTER_PROLOGUE != 0, size, scan, 1);
    0
}

/// Counts `n` allocations of `size` bytes under the probed goroutine's stack.
#[inline(always)]
pub fn count_here(ctx: &ProbeContext, after_prologue: bool, size: u64, scan: bool, n: u64) {
    let (stack_id, truncated) = capture_stack(ctx, after_prologue);
    if truncated {
        bump(counter::STACK_TRUNCATED);
    }
    if stack_id == 0 {
        bump(counter::STACK_DROPS);
    }
    let key = AllocKey {
        stack_id,
        size,
        scan: scan as u32,
        _pad: 0,
    };
    count(&key, n);
}

/// Adds `n` allocations (n > 1: a sample's weight) under `key`.
#[inline(always)]
pub fn count(key: &AllocKey, n: u64) {
    if let Some(p) = ALLOC_COUNTS.get_ptr_mut(key) {
        atomic_add(p, n);
        return;
    }
    // BPF_NOEXIST: another thread may have inserted the key meanwhile.
    if ALLOC_COUNTS.insert(key, &n, 1).is_ok() {
        return;
    }
    if let Some(p) = ALLOC_COUNTS.get_ptr_mut(key) {
        atomic_add(p, n);
        return;
    }
    // The map is full: stream the allocation instead.
    if emit(AllocEvent {
        kind: kind::ALLOC,
        weight: n.min(u64::from(u32::MAX)) as u32,
        key: *key,
    }) {
        bump(counter::OVERFLOW_SENT);
    }
}

/// The benchmark's reference: a probe that only counts its hits, on the
/// same points as `malloc_entry` (`tracer bare-probe`).
#[uprobe(multi)]
pub fn bare_count(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    0
}
