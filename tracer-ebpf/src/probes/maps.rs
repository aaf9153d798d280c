//! Map and sync.Map operations: `map_op_entry` on the prologue's push of each
//! runtime.map* function / sync.Map method, `map_op_exit` on each of its
//! RETs (no uretprobes: Go moves stacks). The attach cookie says which
//! operation it is and in which registers the map, its type, a stored value
//! and the boolean result are (`tracer_common::map_cookie`). Operations are
//! matched per goroutine; sync.Map methods and map functions have separate
//! slots because the former call the latter.
use aya_ebpf::{
    helpers::{bpf_ktime_get_ns, bpf_probe_read_user},
    macros::uprobe,
    programs::ProbeContext,
};
use tracer_common::{config, counter, kind, map_cookie as mc, map_op, FuncStartKey, MapEvent};

use crate::{
    helpers::{bump, capture_stack, config, emit, hit, read_u64, window_hit},
    maps::{MapInflight, MAP_INFLIGHT, MAP_SEEN},
};

/// The argument registers, loaded one by one: the verifier rejects a
/// context load at a computed offset, which a `match` on the context
/// fields compiles to.
#[derive(Clone, Copy)]
struct Args([u64; 8]);

impl Args {
    #[inline(always)]
    fn of(ctx: &ProbeContext) -> Args {
        let r = unsafe { &*ctx.regs };
        let v = |p: &u64| unsafe { core::ptr::read_volatile(p) };
        Args([
            v(&r.rax),
            v(&r.rbx),
            v(&r.rcx),
            v(&r.rdi),
            v(&r.rsi),
            v(&r.r8),
            v(&r.r9),
            0,
        ])
    }

    /// Register `n` (0 past the last): one load at a bounded offset of
    /// the copy on the BPF stack, not a branch per register (which
    /// multiplied the verifier's paths: 57-88 ms to verify map_op_entry).
    /// `min` sends an unknown register to the zero slot; `black_box` keeps
    /// LLVM from turning the load back into a switch, and `& 7` is the
    /// bound the verifier sees.
    #[inline(always)]
    fn get(&self, n: u64) -> u64 {
        let i = core::hint::black_box(n.min(7)) as usize & 7;
        unsafe { core::ptr::read_volatile(self.0.as_ptr().add(i)) }
    }
}

#[inline(always)]
fn slot(ctx: &ProbeContext, op: u32) -> Option<FuncStartKey> {
    let goid_off = config(config::G_GOID_OFFSET);
    let g = unsafe { &*ctx.regs }.r14;
    if g == 0 || goid_off == 0 {
        return None;
    }
    Some(FuncStartKey {
        goid: read_u64(g + goid_off)?,
        func_id: u32::from(op >= map_op::FIRST_SYNC),
        depth: 0,
    })
}

#[uprobe(multi)]
pub fn map_op_entry(ctx: ProbeContext) -> u32 {
    let c = hit(&ctx, Some(counter::MAP_OP_STEPPED));
    window_hit(counter::MAP_OP_HITS, config::MAP_OP_WAKE_AT);
    let op = (c & mc::OP_MASK) as u32;
    let after_prologue = c & mc::AFTER_PROLOGUE != 0;
    let args = Args::of(&ctx);
    let map = args.get(mc::reg(c, mc::MAP_REG_SHIFT));
    if map == 0 && op != map_op::MAKE {
        return 0; // nil map: reads return zero values, writes panic.
    }
    let regs = unsafe { &*ctx.regs };
    let ret_pc = if after_prologue {
        read_u64(regs.rbp + 8)
    } else {
        read_u64(regs.rsp)
    }
    .unwrap_or(0);
    let mut event = MapEvent {
        kind: kind::MAP_OP,
        op,
        map,
        map_type: args.get(mc::reg(c, mc::TYPE_REG_SHIFT)),
        duration_ns: 0,
        stack_id: 0,
        ret_pc,
        result: u64::MAX,
        value_type: 0,
        value_data: 0,
        // A failed read leaves a non-zero value: never a false "zero store".
        value_bytes: [u64::MAX; 2],
    };
    let now = unsafe { bpf_ktime_get_ns() };
    let instant = c & mc::INSTANT != 0;
    let key = slot(&ctx, op);
    if let (false, Some(key)) = (instant, &key) {
        if nested(key, map, op, now) {
            return 0;
        }
    }
    if op != map_op::MAKE && unsafe { MAP_SEEN.get(&map) }.is_none() {
        let _ = MAP_SEEN.insert(&map, &1, 0);
        event.stack_id = capture_stack(&ctx, after_prologue).0;
    }
    let value_reg = mc::reg(c, mc::VALUE_REG_SHIFT);
    if value_reg != mc::NONE {
        event.value_type = args.get(value_reg);
        event.value_data = args.get(value_reg + 1);
        if event.value_type != 0 && event.value_data != 0 {
            if let Ok(v) = unsafe { bpf_probe_read_user(event.value_data as *const [u64; 2]) } {
                event.value_bytes = v;
            }
        }
    }
    if instant {
        let _ = emit(event);
        return 0;
    }
    let Some(key) = key else { return 0 };
    let inflight = MapInflight {
        start_ns: now,
        event,
    };
    if MAP_INFLIGHT.insert(&key, &inflight, 0).is_err() {
        bump(counter::LOST);
    }
    0
}

/// Longest a probed map function takes to call another one it forwards
/// to (two traps and the code between them).
const NESTED_NS: u64 = 1_000_000;

/// A probed map function called by another on the same goroutine and map
/// (Go 1.27's `mapaccess1*` forward to `mapaccess2*`): the outer call is
/// the program's, with its call site and stack; the inner one is not
/// counted again, and the inner RET closes the outer's record. An older
/// record (an exit missed) is replaced as before.
#[inline(always)]
fn nested(key: &FuncStartKey, map: u64, op: u32, now: u64) -> bool {
    unsafe { MAP_INFLIGHT.get(key) }.is_some_and(|outer| {
        outer.event.map == map
            && outer.event.op == op
            && now.saturating_sub(outer.start_ns) < NESTED_NS
    })
}

#[uprobe(multi)]
pub fn map_op_exit(ctx: ProbeContext) -> u32 {
    let c = hit(&ctx, Some(counter::MAP_OP_STEPPED));
    window_hit(counter::MAP_OP_HITS, config::MAP_OP_WAKE_AT);
    let op = (c & mc::OP_MASK) as u32;
    let Some(key) = slot(&ctx, op) else { return 0 };
    let Some(inflight) = (unsafe { MAP_INFLIGHT.get(&key) }).copied() else {
        bump(counter::UNMATCHED_EXITS);
        return 0;
    };
    let _ = MAP_INFLIGHT.remove(&key);
    let mut event = inflight.event;
    if event.op != op {
        bump(counter::UNMATCHED_EXITS);
        return 0;
    }
    event.duration_ns = unsafe { bpf_ktime_get_ns() }.saturating_sub(inflight.start_ns);
    let result_reg = mc::reg(c, mc::RESULT_REG_SHIFT);
    if result_reg != mc::NONE {
        event.result = Args::of(&ctx).get(result_reg) & 0xff;
    }
    if op == map_op::MAKE {
        event.map = unsafe { &*ctx.regs }.rax;
        if event.map == 0 {
            return 0;
        }
        let _ = MAP_SEEN.insert(&event.map, &1, 0);
        // At a RET, SP points at the return address, as at an entry.
        event.stack_id = capture_stack(&ctx, false).0;
    }
    if c & mc::READ_LEN != 0 {
        event.result = read_len(event.map).unwrap_or(u64::MAX);
    }
    let _ = emit(event);
    0
}

/// `len(m.read.Load().m)` of a read/dirty sync.Map.
#[inline(always)]
fn read_len(sync_map: u64) -> Option<u64> {
    let read = read_u64(sync_map + config(config::SYNC_READ_OFFSET))?;
    if read == 0 {
        return Some(0);
    }
    let m = read_u64(read + config(config::READ_ONLY_M_OFFSET))?;
    if m == 0 {
        return Some(0);
    }
    read_u64(m + config(config::HMAP_COUNT_OFFSET))
}
