//! BPF programs of `tracer`. Thin wrappers that never panic: every error is
//! counted in `COUNTERS` and the probe returns 0.
#![no_std]
#![no_main]
// Atomic adds: probes are preemptible, so per-CPU read-modify-write races.
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod helpers;
mod maps;
mod probes;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";
