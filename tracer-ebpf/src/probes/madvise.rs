//! runtime.madvise: an ABI0 assembly function (NOSPLIT, no frame), probed
//! at its entry: addr at 8(SP), n at 16(SP), flags (int32) at 24(SP).
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{tracepoint, uprobe},
    programs::{ProbeContext, TracePointContext},
};
use tracer_common::{config, counter, kind, MadviseEvent, MADVISE_ADVICES};

use crate::{
    helpers::{atomic_add, bump, capture_stack, config, emit, hit, read_u64},
    maps::{COUNTERS, MADVISE_BY_ADVICE},
};

#[uprobe(multi)]
pub fn madvise_entry(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    let sp = unsafe { &*ctx.regs }.rsp;
    let (Some(addr), Some(len), Some(flags)) =
        (read_u64(sp + 8), read_u64(sp + 16), read_u64(sp + 24))
    else {
        bump(counter::LOST);
        return 0;
    };
    let (stack_id, _) = capture_stack(&ctx, false);
    let _ = emit(MadviseEvent {
        kind: kind::MADVISE,
        advice: flags as u32,
        addr,
        len,
        stack_id,
    });
    0
}

/// Cross-check: every madvise syscall of the target (the runtime calls the
/// syscall itself, so both should agree unless C code calls madvise too).
#[tracepoint]
pub fn madvise_syscall(ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u64;
    if config(config::TARGET_TGID) != tgid {
        return 0;
    }
    // syscalls/sys_enter_madvise/format: len_in at 24, behavior at 32.
    let len: u64 = unsafe { ctx.read_at(24) }.unwrap_or(0);
    let advice: u64 = unsafe { ctx.read_at(32) }.unwrap_or(u64::MAX);
    bump(counter::MADVISE_SYSCALLS);
    if let Some(p) = COUNTERS.get_ptr_mut(counter::MADVISE_SYSCALL_BYTES) {
        atomic_add(p, len);
    }
    // Sampled mode has no runtime probe: advice counts come from here.
    if advice < u64::from(MADVISE_ADVICES) {
        let i = 2 * advice as u32;
        for (index, n) in [(i, 1), (i + 1, len)] {
            if let Some(p) = MADVISE_BY_ADVICE.get_ptr_mut(index) {
                atomic_add(p, n);
            }
        }
    }
    0
}

/// `tracer bench-aggregator`: a synthetic map-operation record per
/// getppid() syscall of the tracer itself, to drive the ring buffer and the
/// aggregator at a known rate (a uprobe hit is too slow to reach it).
#[tracepoint]
pub fn bench_emit(_ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u64;
    if config(config::TARGET_TGID) != tgid {
        return 0;
    }
    let now = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
    let _ = emit(tracer_common::MapEvent {
        kind: kind::MAP_OP,
        op: tracer_common::map_op::ACCESS,
        map: 0x10_0000 + ((now >> 4) & 1023) * 64,
        map_type: 0,
        duration_ns: 50 + (now & 0xfff),
        stack_id: 0,
        ret_pc: 0,
        result: now & 1,
        value_type: 0,
        value_data: 0,
        value_bytes: [0; 2],
    });
    0
}
