//! What the ring buffer's events add up to: allocation overflow counts,
//! goroutine lifetimes, madvise calls, timed-function and map-operation
//! latencies. Owns no BPF object, so it can be tested and benchmarked on
//! synthetic records (`tracer bench-aggregator`).
use std::collections::HashMap;

use hdrhistogram::Histogram;
use tracer_common::{
    kind, AllocEvent, AllocKey, FuncEvent, GoEvent, LiveEvent, MadviseEvent, MapEvent,
};

use super::{
    goroutines::{GoroutineTable, LiveG},
    madvise::MadviseTable,
    maps::{MapTable, TypeReader},
};
use crate::tracee::goroutines::SystemStarts;

/// Distinct (stack, size) keys kept for allocations that overflowed the
/// kernel's count map (~40 MB at most); beyond it events count as lost.
pub const OVERFLOW_KEYS: usize = 1 << 20;

/// A latency histogram: 1 ns to 1 hour, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static bounds are valid")
}

/// A wire record from a ring-buffer item, if it is long enough.
fn read<T: aya::Pod>(bytes: &[u8]) -> Option<T> {
    // SAFETY: T is plain old data; the read is unaligned and bounds-checked.
    (bytes.len() >= std::mem::size_of::<T>())
        .then(|| unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) })
}

pub struct Aggregator {
    /// Allocations that arrived on the ring buffer (cumulative), at most
    /// OVERFLOW_KEYS distinct keys.
    pub overflow: HashMap<AllocKey, u64>,
    /// Events dropped in userspace (overflow table full).
    pub dropped: u64,
    /// Durations of timed functions, by function id (cumulative).
    pub latencies: Vec<Histogram<u64>>,
    pub goroutines: GoroutineTable,
    /// Classifies new goroutines as the runtime's own (set by the session).
    pub system_starts: SystemStarts,
    pub madvise: MadviseTable,
    pub maps: MapTable,
    /// Objects sampled for liveness, until the session takes them.
    pub live: Vec<LiveEvent>,
    /// Records handled.
    pub events: u64,
    /// A sampling window (allocations or map operations) spent its
    /// allowance (`kind::WINDOW_SPENT`) since the run loop last looked.
    pub window_spent: bool,
    /// Reads the types of values stored in sync.Maps (zero-value stores).
    types: Box<dyn TypeReader>,
}

impl Aggregator {
    pub fn new(timed_funcs: usize, types: Box<dyn TypeReader>) -> Aggregator {
        Aggregator {
            overflow: HashMap::new(),
            dropped: 0,
            latencies: (0..timed_funcs).map(|_| latency_histogram()).collect(),
            goroutines: GoroutineTable::default(),
            system_starts: SystemStarts::default(),
            madvise: MadviseTable::default(),
            maps: MapTable::default(),
            live: Vec::new(),
            events: 0,
            window_spent: false,
            types,
        }
    }

    /// One ring-buffer record.
    pub fn handle(&mut self, item: &[u8]) {
        self.events += 1;
        match read::<u32>(item) {
            Some(kind::ALLOC) => {
                if let Some(ev) = read::<AllocEvent>(item) {
                    let full = self.overflow.len() >= OVERFLOW_KEYS;
                    let w = u64::from(ev.weight.max(1));
                    match self.overflow.get_mut(&ev.key) {
                        Some(n) => *n += w,
                        None if !full => {
                            self.overflow.insert(ev.key, w);
                        }
                        None => self.dropped += 1,
                    }
                }
            }
            Some(kind::GO_CREATE) => {
                if let Some(ev) = read::<GoEvent>(item) {
                    let system = self.system_starts.contains(ev.startpc);
                    self.goroutines.created(
                        ev.goid,
                        LiveG {
                            gopc: ev.gopc,
                            g: ev.g,
                            startpc: ev.startpc,
                            system,
                        },
                    );
                }
            }
            Some(kind::GO_EXIT) => {
                if let Some(ev) = read::<GoEvent>(item) {
                    self.goroutines.exited(ev.goid);
                }
            }
            Some(kind::MADVISE) => {
                if let Some(ev) = read::<MadviseEvent>(item) {
                    self.madvise.record(ev.advice, ev.len, ev.stack_id);
                }
            }
            Some(kind::LIVE_SAMPLE) => {
                // Bounded: the session takes them at every sampler step.
                if let (Some(ev), true) = (read::<LiveEvent>(item), self.live.len() < 1 << 20) {
                    self.live.push(ev);
                }
            }
            Some(kind::MAP_OP) => {
                if let Some(ev) = read::<MapEvent>(item) {
                    self.maps.record(&ev, self.types.as_mut());
                }
            }
            Some(kind::WINDOW_SPENT) => self.window_spent = true,
            Some(kind::FUNC_TIME) => {
                if let Some(ev) = read::<FuncEvent>(item) {
                    if let Some(h) = self.latencies.get_mut(ev.func_id as usize) {
                        h.saturating_record(ev.duration_ns.max(1));
                    }
                }
            }
            _ => {}
        }
    }
}
