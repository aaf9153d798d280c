//! Reads what the BPF side accumulated: cumulative allocation counts per
//! (stack, size), stacks, counters, and the ring buffer of overflow events.
use std::collections::HashMap;

use aya::maps::{Array, HashMap as BpfHashMap, MapData, RingBuf};
use hdrhistogram::Histogram;
use tracer_common::{
    counter, kind, AllocEvent, AllocKey, FuncEvent, GoEvent, MadviseEvent, MapEvent, Stack,
    MAP_ALLOC_COUNTS, MAP_COUNTERS, MAP_EVENTS, MAP_STACKS,
};

use crate::{
    aggregate::{
        goroutines::{GoroutineTable, LiveG},
        madvise::MadviseTable,
        maps::{MapTable, MemTypes},
    },
    attach::Probes,
    error::UserError,
    goroutines::SystemStarts,
};

/// Cumulative counters since load.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub probe_hits: u64,
    pub allocs: u64,
    pub lost: u64,
    pub overflow_sent: u64,
    pub stack_drops: u64,
    pub stack_truncated: u64,
    pub filtered: u64,
    pub madvise_syscalls: u64,
    pub madvise_syscall_bytes: u64,
    pub samples: u64,
}

impl Counters {
    pub fn since(&self, base: &Counters) -> Counters {
        Counters {
            probe_hits: self.probe_hits.saturating_sub(base.probe_hits),
            allocs: self.allocs.saturating_sub(base.allocs),
            lost: self.lost.saturating_sub(base.lost),
            overflow_sent: self.overflow_sent.saturating_sub(base.overflow_sent),
            stack_drops: self.stack_drops.saturating_sub(base.stack_drops),
            stack_truncated: self.stack_truncated.saturating_sub(base.stack_truncated),
            filtered: self.filtered.saturating_sub(base.filtered),
            madvise_syscalls: self.madvise_syscalls.saturating_sub(base.madvise_syscalls),
            madvise_syscall_bytes: self
                .madvise_syscall_bytes
                .saturating_sub(base.madvise_syscall_bytes),
            samples: self.samples.saturating_sub(base.samples),
        }
    }
}

pub struct Collector {
    counts: BpfHashMap<MapData, AllocKey, u64>,
    stacks: BpfHashMap<MapData, u64, Stack>,
    counters: Array<MapData, u64>,
    events: RingBuf<MapData>,
    /// Allocations that arrived on the ring buffer (cumulative), at most
    /// OVERFLOW_KEYS distinct keys.
    overflow: HashMap<AllocKey, u64>,
    /// Events dropped in userspace (overflow table full).
    dropped: u64,
    /// Durations of timed functions, by function id (cumulative).
    pub latencies: Vec<Histogram<u64>>,
    pub goroutines: GoroutineTable,
    /// Classifies new goroutines as the runtime's own (set by the session).
    pub system_starts: SystemStarts,
    pub madvise: MadviseTable,
    pub maps: MapTable,
    /// Reads the types of values stored in sync.Maps (zero-value stores).
    types: MemTypes,
}

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

fn take<T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>>(
    probes: &mut Probes,
    name: &str,
) -> Result<T, UserError> {
    let map = probes
        .ebpf
        .take_map(name)
        .ok_or_else(|| UserError::Kernel(format!("map {name} missing")))?;
    T::try_from(map).map_err(|e| UserError::Kernel(format!("map {name}: {e}")))
}

impl Collector {
    pub fn new(
        probes: &mut Probes,
        timed_funcs: usize,
        pid: u32,
        go_minor: u32,
    ) -> Result<Collector, UserError> {
        Ok(Collector {
            counts: take(probes, MAP_ALLOC_COUNTS)?,
            stacks: take(probes, MAP_STACKS)?,
            counters: take(probes, MAP_COUNTERS)?,
            events: take(probes, MAP_EVENTS)?,
            overflow: HashMap::new(),
            dropped: 0,
            latencies: (0..timed_funcs).map(|_| latency_histogram()).collect(),
            goroutines: GoroutineTable::default(),
            system_starts: SystemStarts::default(),
            madvise: MadviseTable::default(),
            maps: MapTable::default(),
            types: MemTypes::new(pid, go_minor),
        })
    }

    pub fn counters(&self) -> Counters {
        let get = |i: u32| -> u64 { self.counters.get(&i, 0).unwrap_or(0) };
        Counters {
            probe_hits: get(counter::PROBE_HITS),
            allocs: get(counter::ALLOCS),
            lost: get(counter::LOST) + self.dropped,
            overflow_sent: get(counter::OVERFLOW_SENT),
            stack_drops: get(counter::STACK_DROPS),
            stack_truncated: get(counter::STACK_TRUNCATED),
            filtered: get(counter::FILTERED),
            madvise_syscalls: get(counter::MADVISE_SYSCALLS),
            madvise_syscall_bytes: get(counter::MADVISE_SYSCALL_BYTES),
            samples: get(counter::SAMPLES),
        }
    }

    /// Drains the ring buffer into the cumulative overflow counts.
    pub fn drain_events(&mut self) {
        while let Some(item) = self.events.next() {
            match read::<u32>(&item) {
                Some(kind::ALLOC) => {
                    if let Some(ev) = read::<AllocEvent>(&item) {
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
                    if let Some(ev) = read::<GoEvent>(&item) {
                        let system = self.system_starts.contains(ev.startpc);
                        self.goroutines.created(
                            ev.goid,
                            LiveG {
                                gopc: ev.gopc,
                                g: ev.g,
                                system,
                            },
                        );
                    }
                }
                Some(kind::GO_EXIT) => {
                    if let Some(ev) = read::<GoEvent>(&item) {
                        self.goroutines.exited(ev.goid);
                    }
                }
                Some(kind::MADVISE) => {
                    if let Some(ev) = read::<MadviseEvent>(&item) {
                        self.madvise.record(ev.advice, ev.len, ev.stack_id);
                    }
                }
                Some(kind::MAP_OP) => {
                    if let Some(ev) = read::<MapEvent>(&item) {
                        self.maps.record(&ev, &mut self.types);
                    }
                }
                Some(kind::FUNC_TIME) => {
                    if let Some(ev) = read::<FuncEvent>(&item) {
                        if let Some(h) = self.latencies.get_mut(ev.func_id as usize) {
                            h.saturating_record(ev.duration_ns.max(1));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Cumulative allocation counts per key: kernel map plus ring-buffer overflow.
    pub fn alloc_counts(&mut self) -> HashMap<AllocKey, u64> {
        self.drain_events();
        let mut out = self.overflow.clone();
        for (key, n) in self.counts.iter().flatten() {
            *out.entry(key).or_default() += n;
        }
        out
    }

    pub fn stack(&self, id: u64) -> Option<Stack> {
        self.stacks.get(&id, 0).ok()
    }
}
