//! The target: the traced process and what can be read of it without a
//! probe — its executable (Go build info, symbols, pclntab), the runtime's
//! data layouts per Go version, its memory, the runtime's own counters, its
//! maps and goroutines.
mod process;

pub use process::*;

pub mod allocstats;
pub mod cpus;
pub mod disasm;
pub mod gobin;
pub mod golayout;
pub mod goroutines;
pub mod heapprof;
pub mod mapmem;
pub mod memory;
pub mod mheap;
pub mod procmem;
pub mod sizeclass;
pub mod symbolize;
pub mod vitals;
