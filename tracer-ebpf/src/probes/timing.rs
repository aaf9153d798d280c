//! Function timing without uretprobes: `func_entry` on the prologue's push,
//! `func_exit` on each RET instruction. Calls are matched per goroutine
//! (goid read through R14, the g register), not per thread: goroutines
//! migrate between threads. The attach cookie is the function's id.
use aya_ebpf::{
    helpers::{bpf_ktime_get_ns, generated::bpf_get_attach_cookie},
    macros::uprobe,
    programs::ProbeContext,
    EbpfContext,
};
use tracer_common::{config, counter, kind, FuncEvent, FuncStartKey, CALIBRATION_SLOTS};

use crate::{
    helpers::{bump, config, emit, hit, read_u64},
    maps::{CALIBRATION, CALIBRATION_STARTS, FUNC_DEPTHS, FUNC_STARTS},
};

#[inline(always)]
fn key(ctx: &ProbeContext) -> Option<FuncStartKey> {
    let goid_off = config(config::G_GOID_OFFSET);
    let g = unsafe { &*ctx.regs }.r14;
    if g == 0 || goid_off == 0 {
        return None;
    }
    let goid = read_u64(g + goid_off)?;
    let func_id = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } as u32;
    Some(FuncStartKey {
        goid,
        func_id,
        depth: 0,
    })
}

#[uprobe(multi)]
pub fn func_entry(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    if let Some(k) = key(&ctx) {
        let depth = unsafe { FUNC_DEPTHS.get(&k) }.copied().unwrap_or(0);
        let now = unsafe { bpf_ktime_get_ns() };
        let at = FuncStartKey { depth, ..k };
        if FUNC_STARTS.insert(&at, &now, 0).is_err()
            || FUNC_DEPTHS.insert(&k, &(depth + 1), 0).is_err()
        {
            bump(counter::LOST);
        }
    }
    0
}

#[uprobe(multi)]
pub fn func_exit(ctx: ProbeContext) -> u32 {
    hit(&ctx, None);
    let Some(k) = key(&ctx) else { return 0 };
    let depth = match unsafe { FUNC_DEPTHS.get(&k) }.copied() {
        Some(d) if d > 0 => d - 1,
        _ => {
            bump(counter::UNMATCHED_EXITS);
            return 0;
        }
    };
    if depth == 0 {
        let _ = FUNC_DEPTHS.remove(&k);
    } else {
        let _ = FUNC_DEPTHS.insert(&k, &depth, 0);
    }
    let at = FuncStartKey { depth, ..k };
    let Some(start) = (unsafe { FUNC_STARTS.get(&at) }).copied() else {
        bump(counter::UNMATCHED_EXITS);
        return 0;
    };
    let _ = FUNC_STARTS.remove(&at);
    let now = unsafe { bpf_ktime_get_ns() };
    let _ = emit(FuncEvent {
        kind: kind::FUNC_TIME,
        func_id: k.func_id,
        goid: k.goid,
        duration_ns: now.saturating_sub(start),
    });
    0
}

/// Latency calibration, on a function of the tracer's own (one thread
/// calls it): the same entry/RET probe pair as the timed and map probes,
/// keyed by thread. Each duration goes to the next `CALIBRATION` slot.
#[uprobe(multi)]
pub fn calib_entry(_ctx: ProbeContext) -> u32 {
    let tid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let now = unsafe { bpf_ktime_get_ns() };
    let _ = CALIBRATION_STARTS.insert(&tid, &now, 0);
    0
}

#[uprobe(multi)]
pub fn calib_exit(_ctx: ProbeContext) -> u32 {
    let tid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let Some(start) = (unsafe { CALIBRATION_STARTS.get(&tid) }).copied() else {
        return 0;
    };
    let now = unsafe { bpf_ktime_get_ns() };
    let _ = CALIBRATION_STARTS.remove(&tid);
    let Some(n) = CALIBRATION.get(CALIBRATION_SLOTS).copied() else {
        return 0;
    };
    if n < u64::from(CALIBRATION_SLOTS) {
        let _ = CALIBRATION.set(n as u32, &now.saturating_sub(start), 0);
        let _ = CALIBRATION.set(CALIBRATION_SLOTS, &(n + 1), 0);
    }
    0
}
