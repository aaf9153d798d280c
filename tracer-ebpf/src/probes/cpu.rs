//! On-CPU sampling: a `cpu-clock` perf event on every CPU runs `cpu_sample`
//! at a fixed period; when the target is on that CPU, its user stack (the
//! kernel's frame-pointer walk, which Go's frame pointers serve) is stored
//! in `CPU_STACKS` and counted in `CPU_COUNTS`, apart for samples taken in
//! the kernel. A sample costs a timer interrupt, never a trap.
use aya_ebpf::{
    bindings::BPF_F_USER_STACK,
    helpers::bpf_get_current_pid_tgid,
    macros::perf_event,
    programs::{tracing::StackIdContext, PerfEventContext},
};
use tracer_common::{config, counter, cpu_flags, CpuKey, CPU_NO_STACK};

use crate::{
    helpers::{atomic_add, bump, config},
    maps::{CPU_COUNTS, CPU_STACKS},
};

#[perf_event]
pub fn cpu_sample(ctx: PerfEventContext) -> u32 {
    let tgid = bpf_get_current_pid_tgid() >> 32;
    if tgid != config(config::TARGET_TGID) {
        return 0;
    }
    bump(counter::CPU_SAMPLES);
    // The interrupted registers: CPL 3 in CS is user mode.
    let cs = unsafe { (*ctx.ctx).regs.cs };
    let stack_id = match ctx.get_stackid(&CPU_STACKS, u64::from(BPF_F_USER_STACK)) {
        Ok(id) => id as u32,
        Err(_) => {
            bump(counter::CPU_STACK_DROPS);
            CPU_NO_STACK
        }
    };
    let mut flags = 0;
    if cs & 3 == 0 {
        flags |= cpu_flags::KERNEL;
    }
    if config(config::MAPS_WATCHED) != 0 {
        flags |= cpu_flags::MAPS_WATCHED;
    }
    let key = CpuKey { stack_id, flags };
    if let Some(p) = CPU_COUNTS.get_ptr_mut(&key) {
        atomic_add(p, 1);
    } else if CPU_COUNTS.insert(&key, &1, 1 /* BPF_NOEXIST */).is_err() {
        // Inserted meanwhile by another CPU, or the map is full.
        match CPU_COUNTS.get_ptr_mut(&key) {
            Some(p) => atomic_add(p, 1),
            None => bump(counter::LOST),
        }
    }
    0
}
