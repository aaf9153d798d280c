//! Collection and aggregation: the collector drains the BPF ring buffer
//! and in-kernel counters (re-exported here); the aggregators turn events
//! into per-site allocations, maps, goroutines and madvise calls; the map
//! report and map sites are built from them.
mod collector;
mod counter_page;

pub use collector::*;

pub mod aggregate;
pub mod cpu;
pub mod gc_watch;
pub mod inuse;
pub mod liveness;
pub mod map_cost;
pub mod map_report;
pub mod map_sites;
