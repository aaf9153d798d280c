//! runtime.madvise: an ABI0 assembly function (NOSPLIT, no frame), probed
//! at its entry: addr at 8(SP), n at 16(SP), flags (int32) at 24(SP).
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use tracer_common::{counter, kind, MadviseEvent};

use crate::{
    helpers::{bump, capture_stack, read_u64},
    maps::EVENTS,
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
    match EVENTS.reserve::<MadviseEvent>(0) {
        Some(mut e) => {
            e.write(MadviseEvent {
                kind: kind::MADVISE,
                advice: flags as u32,
                addr,
                len,
                stack_id,
            });
            e.submit(0);
        }
        None => bump(counter::LOST),
    }
    0
}
