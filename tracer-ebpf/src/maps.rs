//! Every BPF map, in one place. Names and sizes come from `tracer_common::maps`.
//!
//! Shared (not per-CPU) maps with atomic adds: uprobe programs run with
//! migration disabled but are preemptible, so two threads of the target
//! can interleave inside a probe on one CPU and per-CPU read-modify-write
//! (or a per-CPU scratch buffer) would race.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, RingBuf, StackTrace},
};
use tracer_common::{
    config, counter, AllocKey, CpuKey, FuncStartKey, Stack, ALLOC_COUNTS_CAPACITY,
    CALIBRATION_SLOTS, CPU_COUNTS_CAPACITY, CPU_STACKS_CAPACITY, EVENTS_BYTES,
    FUNC_STARTS_CAPACITY, STACKS_CAPACITY,
};

#[map]
pub static STACKS: HashMap<u64, Stack> = HashMap::with_max_entries(STACKS_CAPACITY, 0);

#[map]
pub static ALLOC_COUNTS: HashMap<AllocKey, u64> =
    HashMap::with_max_entries(ALLOC_COUNTS_CAPACITY, 0);

/// `BPF_F_MMAPABLE`: userspace maps the counters and reads them without
/// a syscall (the governors check three every 10 ms in a window).
const BPF_F_MMAPABLE: u32 = 1 << 10;

#[map]
pub static COUNTERS: Array<u64> = Array::with_max_entries(counter::COUNT, BPF_F_MMAPABLE);

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

/// Target-specific settings (`tracer_common::config`).
#[map]
pub static CONFIG: Array<u64> = Array::with_max_entries(config::COUNT, 0);

/// Calls in flight per (goroutine, function), key depth 0.
#[map]
pub static FUNC_DEPTHS: LruHashMap<FuncStartKey, u32> =
    LruHashMap::with_max_entries(FUNC_STARTS_CAPACITY, 0);

/// Entry timestamps of in-flight timed calls.
#[map]
pub static FUNC_STARTS: LruHashMap<FuncStartKey, u64> =
    LruHashMap::with_max_entries(FUNC_STARTS_CAPACITY, 0);

/// An in-flight map or sync.Map operation, by (goroutine, class): class 0
/// for map functions, 1 for sync.Map methods (which call map functions).
#[derive(Clone, Copy)]
pub struct MapInflight {
    pub start_ns: u64,
    pub event: tracer_common::MapEvent,
}

#[map]
pub static MAP_INFLIGHT: LruHashMap<FuncStartKey, MapInflight> =
    LruHashMap::with_max_entries(FUNC_STARTS_CAPACITY, 0);

/// Maps already seen (their stack was captured once).
#[map]
pub static MAP_SEEN: LruHashMap<u64, u8> =
    LruHashMap::with_max_entries(tracer_common::MAP_SEEN_CAPACITY, 0);

/// The target's madvise syscalls by advice (`tracer_common::MAP_MADVISE_BY_ADVICE`).
#[map]
pub static MADVISE_BY_ADVICE: Array<u64> =
    Array::with_max_entries(2 * tracer_common::MADVISE_ADVICES, 0);

/// On-CPU samples per (user stack, kernel mode).
#[map]
pub static CPU_COUNTS: HashMap<CpuKey, u64> = HashMap::with_max_entries(CPU_COUNTS_CAPACITY, 0);

/// User stacks of the on-CPU samples (the kernel's frame-pointer walk).
#[map]
pub static CPU_STACKS: StackTrace = StackTrace::with_max_entries(CPU_STACKS_CAPACITY, 0);

/// The latency calibration: entry time by thread, then each duration; the
/// last slot counts the durations written.
#[map]
pub static CALIBRATION: Array<u64> = Array::with_max_entries(CALIBRATION_SLOTS + 1, 0);

#[map]
pub static CALIBRATION_STARTS: HashMap<u64, u64> = HashMap::with_max_entries(64, 0);

/// One empty record per GC cycle the target starts (`gc_wake`): it wakes
/// the GC watch of sampled liveness, which reads it apart from `EVENTS`.
#[map]
pub static GC_WAKE: RingBuf = RingBuf::with_byte_size(4096, 0);
