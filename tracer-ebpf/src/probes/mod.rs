pub mod alloc;
pub mod cpu;
pub mod goroutine;
pub mod live;
pub mod madvise;
pub mod maps;
pub mod sample;
pub mod timing;
