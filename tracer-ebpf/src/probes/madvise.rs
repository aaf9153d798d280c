//! runtime.madvise: an ABI0 assembly function (NOSPLIT, no frame), probed
//! at its entry: addr at 8(SP), n at 16(SP), flags (int32) at 24(SP).
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{tracepoint, uprobe},
    programs::{ProbeContext, TracePointContext},
};
use tracer_common::{config, counter, kind, MadviseEvent};

use crate::{
    helpers::{atomic_add, bump, capture_stack, config, emit, read_u64},
    maps::COUNTERS,
};

#[uprobe]
pub fn madvise_entry(ctx: ProbeContext) -> u32 {
    bump(counter::PROBE_HITS);
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
    // syscalls/sys_enter_madvise/format: len_in at offset 24.
    let len: u64 = unsafe { ctx.read_at(24) }.unwrap_or(0);
    bump(counter::MADVISE_SYSCALLS);
    if let Some(p) = COUNTERS.get_ptr_mut(counter::MADVISE_SYSCALL_BYTES) {
        atomic_add(p, len);
    }
    0
}
