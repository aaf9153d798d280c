//! Types shared by the BPF programs and the userspace tracer.
//!
//! Everything here is `#[repr(C)]`, `Copy` and padded explicitly so both
//! sides agree on the layout byte for byte.
#![no_std]

pub mod event;
pub mod maps;

pub use event::*;
pub use maps::*;
