//! Goroutine lifetimes: `go_created` on each RET of runtime.newproc1 (RAX =
//! the new g), `go_exited` on the prologue's push of runtime.goexit1 (R14 = the
//! exiting g). Both stream an event; userspace keeps the per-site counts.
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::{config, counter, kind, GoEvent};

use crate::helpers::{bump, config, emit, hit, read_u64};

#[uprobe(multi)]
pub fn go_created(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    let g = unsafe { &*ctx.regs }.rax;
    let goid_off = config(config::G_GOID_OFFSET);
    if g == 0 || goid_off == 0 {
        return 0;
    }
    let (Some(goid), Some(gopc), Some(startpc)) = (
        read_u64(g + goid_off),
        read_u64(g + config(config::G_GOPC_OFFSET)),
        read_u64(g + config(config::G_STARTPC_OFFSET)),
    ) else {
        bump(counter::LOST);
        return 0;
    };
    let _ = emit(GoEvent {
        kind: kind::GO_CREATE,
        _pad: 0,
        goid,
        g,
        gopc,
        startpc,
    });
    0
}

#[uprobe(multi)]
pub fn go_exited(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    let g = unsafe { &*ctx.regs }.r14;
    let goid_off = config(config::G_GOID_OFFSET);
    if g == 0 || goid_off == 0 {
        return 0;
    }
    let Some(goid) = read_u64(g + goid_off) else {
        bump(counter::LOST);
        return 0;
    };
    let _ = emit(GoEvent {
        kind: kind::GO_EXIT,
        _pad: 0,
        goid,
        g,
        gopc: 0,
        startpc: 0,
    });
    0
}
