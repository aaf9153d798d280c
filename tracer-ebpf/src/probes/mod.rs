pub mod alloc;
pub mod goroutine;
pub mod madvise;
pub mod timing;
