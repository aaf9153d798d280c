//! Turns raw kernel counts into per-site statistics.
pub mod allocs;
