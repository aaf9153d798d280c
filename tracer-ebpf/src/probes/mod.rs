pub mod alloc;
pub mod timing;
pub mod goroutine;
pub mod madvise;
