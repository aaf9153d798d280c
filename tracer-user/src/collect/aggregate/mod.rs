//! Turns raw kernel counts into per-site statistics.
pub mod allocs;
pub mod durations;
pub mod events;
pub mod goroutines;
pub mod madvise;
pub mod maps;
