//! Map names and capacities: one source of truth for both sides.

/// Frames captured per stack (return address first, then the frame-pointer chain).
pub const MAX_FRAMES: usize = 32;
/// Bytes of target memory the probes read at once for fields that lie
/// close together (`mspan.allocCount` … `limit`): each field within
/// `NEAR_BYTES - 8` of the first (the layout tables are tested for it).
pub const NEAR_BYTES: usize = 24;

/// Distinct stacks kept in the kernel.
pub const STACKS_CAPACITY: u32 = 32 * 1024;
/// Distinct (stack, requested size) pairs counted in the kernel.
pub const ALLOC_COUNTS_CAPACITY: u32 = 128 * 1024;
/// Ring buffer size in bytes (power of two, multiple of the page size).
pub const EVENTS_BYTES: u32 = 1 << 22;

pub const MAP_STACKS: &str = "STACKS";
pub const MAP_ALLOC_COUNTS: &str = "ALLOC_COUNTS";
pub const MAP_COUNTERS: &str = "COUNTERS";
pub const MAP_EVENTS: &str = "EVENTS";
pub const MAP_CONFIG: &str = "CONFIG";
pub const MAP_FUNC_STARTS: &str = "FUNC_STARTS";
pub const MAP_FUNC_DEPTHS: &str = "FUNC_DEPTHS";
pub const MAP_MAP_SEEN: &str = "MAP_SEEN";
/// madvise syscalls of the target by advice (tracepoint): calls at
/// `2 * advice`, bytes at `2 * advice + 1`, advice < MADVISE_ADVICES.
pub const MAP_MADVISE_BY_ADVICE: &str = "MADVISE_BY_ADVICE";
pub const MADVISE_ADVICES: u32 = 32;

/// On-CPU samples of the target: counts per (user stack, kernel mode) and
/// the kernel's stack-trace map of their user stacks.
pub const MAP_CPU_COUNTS: &str = "CPU_COUNTS";
pub const MAP_CPU_STACKS: &str = "CPU_STACKS";
pub const CPU_COUNTS_CAPACITY: u32 = 32 * 1024;
pub const CPU_STACKS_CAPACITY: u32 = 8 * 1024;
/// `CpuKey::stack_id` of a sample whose stack could not be stored.
pub const CPU_NO_STACK: u32 = u32::MAX;

/// Durations of the latency calibration's probe pair (`CALIBRATION`, an
/// array; its last slot counts the durations written).
pub const MAP_CALIBRATION: &str = "CALIBRATION";
pub const CALIBRATION_SLOTS: u32 = 1024;

/// Maps whose first-seen stack was captured (LRU: a forgotten map only
/// costs one more stack capture).
pub const MAP_SEEN_CAPACITY: u32 = 64 * 1024;

/// In-flight timed calls (goroutine, function); LRU so that calls that
/// never return (panic, Goexit) age out.
pub const FUNC_STARTS_CAPACITY: u32 = 64 * 1024;

/// Indexes into the `CONFIG` array, written by userspace before attaching.
pub mod config {
    /// Offset of `goid` in `runtime.g` for the target's Go version.
    pub const G_GOID_OFFSET: u32 = 0;
    /// Offset of `gopc` (the `go` statement's PC) in `runtime.g`.
    pub const G_GOPC_OFFSET: u32 = 1;
    /// Offset of `startpc` in `runtime.g`.
    pub const G_STARTPC_OFFSET: u32 = 2;
    /// The target's pid (thread-group id), for system-wide tracepoints.
    pub const TARGET_TGID: u32 = 3;
    /// Read/dirty `sync.Map` (Go ≤ 1.23): offset of `read`, of `readOnly.m`,
    /// and of `hmap.count`; 0 / unset on hash-trie versions.
    pub const SYNC_READ_OFFSET: u32 = 4;
    pub const READ_ONLY_M_OFFSET: u32 = 5;
    pub const HMAP_COUNT_OFFSET: u32 = 6;
    /// Sampled allocations (`runtime.(*mcache).refill`): offsets of
    /// `mcache.alloc`, `mcache.tinyAllocs`, `mspan.allocCount`,
    /// `mspan.allocCountBeforeCache` (both uint16), `mspan.elemsize`, and
    /// the tiny span class.
    pub const MCACHE_ALLOC_OFFSET: u32 = 7;
    pub const MCACHE_TINY_ALLOCS_OFFSET: u32 = 8;
    pub const MSPAN_ALLOC_COUNT_OFFSET: u32 = 9;
    pub const MSPAN_BEFORE_CACHE_OFFSET: u32 = 10;
    pub const MSPAN_ELEMSIZE_OFFSET: u32 = 11;
    pub const TINY_SPAN_CLASS: u32 = 12;
    /// Non-zero while the map-operation probes are attached.
    pub const MAPS_WATCHED: u32 = 13;
    /// Object liveness samples (`live_sample`): offsets of `mspan.startAddr`,
    /// `mspan.freeindex` (and its width in bytes: 8 in Go 1.21, else 2),
    /// `mspan.allocCache`, `mspan.spanclass`, and the address of
    /// `mheap_.sweepgen` in the target.
    pub const MSPAN_START_OFFSET: u32 = 14;
    pub const MSPAN_FREEINDEX_OFFSET: u32 = 15;
    pub const MSPAN_FREEINDEX_SIZE: u32 = 16;
    pub const MSPAN_ALLOC_CACHE_OFFSET: u32 = 17;
    pub const MSPAN_SPANCLASS_OFFSET: u32 = 18;
    pub const MHEAP_SWEEPGEN_ADDR: u32 = 19;
    /// Offset of `mspan.nelems` (same width as `freeindex`).
    pub const MSPAN_NELEMS_OFFSET: u32 = 20;
    /// Offset of `mspan.limit` (a large object: `startAddr + size`).
    pub const MSPAN_LIMIT_OFFSET: u32 = 21;
    /// While an allocation window is open: the `counter::SAMPLES` and
    /// `counter::LIVE_SAMPLES` counts at which it has spent its allowance.
    /// The program whose hit reaches one clears it and wakes the reader
    /// (`kind::WINDOW_SPENT`), which closes the window; 0: none.
    pub const SAMPLES_WAKE_AT: u32 = 22;
    pub const LIVE_SAMPLES_WAKE_AT: u32 = 23;
    /// The same for a map-operation window (`counter::MAP_OP_HITS`).
    pub const MAP_OP_WAKE_AT: u32 = 24;
    pub const COUNT: u32 = 25;
}

/// Attach cookies of the allocation probe: the low 32 bits are the smallest
/// size counted; this bit says BP already holds the probed function's own
/// frame there (past its prologue, or inside refill for `live_sample`)
/// rather than the caller's (at the entry or the prologue's push).
pub const COOKIE_AFTER_PROLOGUE: u64 = 1 << 32;
pub const COOKIE_MIN_SIZE_MASK: u64 = 0xffff_ffff;
/// Cookie of `alloc_sample` and `live_sample`: a large-object probe (else
/// a span refill).
pub const COOKIE_SAMPLE_LARGE: u64 = 1;
/// Set in the cookie of every probe point whose instruction the kernel
/// single-steps out of line (a second trap: ~9 µs a hit here) rather than
/// emulates (a `PUSH reg`, jump or call: ~0.7 µs). Every program counts
/// those hits apart (`counter::STEPPED_HITS`), so each kind is charged
/// what it costs.
pub const COOKIE_STEPPED: u64 = 1 << 62;

/// Indexes into the per-CPU `COUNTERS` array.
pub mod counter {
    /// Every probe hit, whatever it did.
    pub const PROBE_HITS: u32 = 0;
    /// Allocation events counted (size > 0 and above the probe's floor).
    pub const ALLOCS: u32 = 1;
    /// Events that could neither be counted in a map nor sent on the ring buffer.
    pub const LOST: u32 = 2;
    /// Allocations sent on the ring buffer because the count map was full.
    pub const OVERFLOW_SENT: u32 = 3;
    /// Stacks that could not be stored (stack map full); counted under an empty stack.
    pub const STACK_DROPS: u32 = 4;
    /// Stacks cut at MAX_FRAMES.
    pub const STACK_TRUNCATED: u32 = 5;
    /// Hits filtered out (size 0 or below the probe's floor).
    pub const FILTERED: u32 = 6;
    /// Timed-function exits without a recorded entry (attached mid-call).
    pub const UNMATCHED_EXITS: u32 = 7;
    /// madvise syscalls of the target (tracepoint cross-check of the probe).
    pub const MADVISE_SYSCALLS: u32 = 8;
    pub const MADVISE_SYSCALL_BYTES: u32 = 9;
    /// Sampled-mode probe hits (span refills and large allocations).
    pub const SAMPLES: u32 = 10;
    /// Hits of the map-operation probes (sampled mode governs them apart).
    pub const MAP_OP_HITS: u32 = 11;
    /// On-CPU samples of the target, and those whose stack was not stored.
    pub const CPU_SAMPLES: u32 = 12;
    pub const CPU_STACK_DROPS: u32 = 13;
    /// Objects sampled for liveness (`live_sample`).
    pub const LIVE_SAMPLES: u32 = 14;
    /// Hits at single-stepped points (`COOKIE_STEPPED`), of all probes;
    /// of those, the allocation group's (`SAMPLES` + `LIVE_SAMPLES`) and
    /// the map group's (`MAP_OP_HITS`).
    pub const STEPPED_HITS: u32 = 15;
    pub const SAMPLES_STEPPED: u32 = 16;
    pub const MAP_OP_STEPPED: u32 = 17;
    /// GC cycles seen starting (`gc_wake`, sampled liveness only).
    pub const GC_WAKES: u32 = 18;
    pub const COUNT: u32 = 19;
}
