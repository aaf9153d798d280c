//! The runtime's own allocation counters and the structures a sampled
//! allocation probe reads to weight its samples.
//!
//! How the runtime counts (`runtime/mcache.go`, same in Go 1.21–1.27):
//! - small objects are counted per span, not per allocation: when
//!   `(*mcache).refill(c, spc)` retires the full span `s := c.alloc[spc]`
//!   (and in `releaseAll`, when every mcache is flushed: GC, `ReadMemStats`)
//!   it adds `s.allocCount - s.allocCountBeforeCache` to
//!   `memstats.heapStats` `smallAllocCount[spc.sizeclass()]`; when
//!   `spc == tinySpanClass` refill also moves `c.tinyAllocs` into
//!   `tinyAllocCount` and zeroes it. `s == &emptymspan` (a zeroed span,
//!   `nelems == 0`: the mcache had no span of that class yet) credits
//!   nothing, not even `tinyAllocs`;
//! - large objects: `(*mcache).allocLarge(c, size, noscan)` adds one to
//!   `largeAllocCount` and `npages * 8192` to `largeAlloc` at once.
//!
//! `memstats.heapStats` is a `consistentHeapStats`: three `heapStatsDelta`
//! generations whose sum is the total (`unsafeRead`, what `ReadMemStats`
//! uses under stop-the-world). `runtime/metrics.Read` rotates them (see
//! `crate::tracee::allocstats` for reading them from outside).

use serde::Serialize;

use super::abi::Reg;

/// Everything about allocation counting, for one Go version.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AllocStatsLayout {
    pub mcache: McacheLayout,
    pub mspan: MspanLayout,
    pub heap_stats: HeapStatsLayout,
    pub mheap: MheapLayout,
    pub symbols: AllocStatsSymbols,
    /// `func (c *mcache) refill(spc spanClass)`.
    pub refill: RefillArgs,
    /// `func (c *mcache) allocLarge(size uintptr, noscan bool) *mspan`.
    pub alloc_large: AllocLargeArgs,
}

/// `runtime.mcache` (`runtime/mcache.go`): the per-P allocation cache.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct McacheLayout {
    /// `tinyAllocs uintptr`: tiny allocations not yet flushed to
    /// `heapStats.tinyAllocCount`.
    pub tiny_allocs: u64,
    /// `alloc [numSpanClasses]*mspan`, indexed by span class.
    pub alloc: u64,
    /// `numSpanClasses` (`_NumSizeClasses << 1`): entries of `alloc`.
    pub num_span_classes: u64,
    /// `tinySpanClass = spanClass(tinySizeClass<<1 | 1)`: size class 2
    /// (16 B), noscan.
    pub tiny_span_class: u8,
}

/// `runtime.mspan` (`runtime/mheap.go`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MspanLayout {
    /// `nelems`: number of object slots in the span; 0 only for
    /// `runtime.emptymspan`.
    pub nelems: u64,
    /// Byte width of `nelems`: 8 (`uintptr`) in 1.21, 2 (`uint16`) from 1.22.
    pub nelems_size: u64,
    /// `allocCount uint16`: slots allocated.
    pub alloc_count: u64,
    /// `allocCountBeforeCache uint16`: `allocCount` when the mcache took the
    /// span; refill credits the difference.
    pub alloc_count_before_cache: u64,
    /// `elemsize uintptr`: slot size (the size class's size for small spans).
    pub elemsize: u64,
    /// `spanclass spanClass` (uint8: `sizeclass << 1 | noscan`).
    pub spanclass: u64,
    /// `startAddr uintptr`: the span's first byte (slot 0).
    pub start_addr: u64,
    /// `limit uintptr`: end of the data; for a large object `allocLarge`
    /// sets it to `startAddr + size` (the requested size).
    pub limit: u64,
    /// `freeindex`: the slot the next allocation scan starts at (`uintptr`
    /// in 1.21, `uint16` from 1.22: same width as `nelems`).
    pub freeindex: u64,
    /// `allocCache uint64`: free slots from `freeindex` on, as set bits.
    pub alloc_cache: u64,
    /// `allocBits *gcBits`: after a sweep, the slots that survived the GC.
    pub alloc_bits: u64,
    /// `sweepgen uint32`, against `mheap_.sweepgen`.
    pub sweepgen: u64,
    /// `state mSpanStateBox` (an atomic uint8).
    pub state: u64,
    /// `mSpanInUse`.
    pub state_in_use: u8,
}

/// `runtime.mheap` (`var mheap_ mheap`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MheapLayout {
    /// `sweepgen uint32`: +2 at each GC cycle.
    pub sweepgen: u64,
}

/// `runtime.memstats` (`var memstats mstats`, `runtime/mstats.go`) down to
/// the counters of one `heapStatsDelta`. All counters are `uint64`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HeapStatsLayout {
    /// Offset of `heapStats consistentHeapStats` in `runtime.mstats`.
    pub memstats_heap_stats: u64,
    /// Offset of `stats [3]heapStatsDelta` in `consistentHeapStats`.
    pub stats: u64,
    /// Number of generations in `stats`.
    pub generations: u64,
    /// Offset of `gen atomic.Uint32` (the generation writers add to) in
    /// `consistentHeapStats`.
    pub gen: u64,
    /// `unsafe.Sizeof(heapStatsDelta{})` (the stride of `stats`).
    pub delta_size: u64,
    /// Offsets in `heapStatsDelta`:
    /// `committed int64`: heap memory committed (in use by the OS's
    /// count); only the scavenger lowers it.
    pub committed: u64,
    /// `released int64`: heap bytes returned to the OS (`HeapReleased`);
    /// also raised when the heap grows into fresh address space.
    pub released: u64,
    /// `tinyAllocCount`: tiny objects (each counted, though they share blocks).
    pub tiny_alloc_count: u64,
    /// `largeAlloc`: bytes of large objects (whole pages).
    pub large_alloc: u64,
    /// `largeAllocCount`: large objects.
    pub large_alloc_count: u64,
    /// `smallAllocCount [_NumSizeClasses]uint64`: small objects by size class.
    pub small_alloc_count: u64,
    /// `largeFree`: bytes of large objects freed.
    pub large_free: u64,
    /// `largeFreeCount`: large objects freed.
    pub large_free_count: u64,
    /// `smallFreeCount [_NumSizeClasses]uint64`: small objects freed by class.
    pub small_free_count: u64,
    /// `_NumSizeClasses` (`internal/runtime/gc.NumSizeClasses` from 1.25).
    pub num_size_classes: u64,
}

impl HeapStatsLayout {
    /// Offset of `stats[gen]` from the start of `runtime.memstats`.
    pub const fn delta_in_memstats(&self, gen: u64) -> u64 {
        self.memstats_heap_stats + self.stats + gen * self.delta_size
    }
    /// Offset of `heapStats.gen` from the start of `runtime.memstats`.
    pub const fn gen_in_memstats(&self) -> u64 {
        self.memstats_heap_stats + self.gen
    }
}

/// Symbols (data in `.symtab`, functions in the pclntab).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AllocStatsSymbols {
    /// `var memstats mstats`.
    pub memstats: &'static str,
    /// `var emptymspan mspan`: the placeholder in an empty mcache slot.
    pub empty_mspan: &'static str,
    pub refill: &'static str,
    pub alloc_large: &'static str,
    /// `(*mcache).releaseAll`: flushes every class of one mcache.
    pub release_all: &'static str,
    /// `(*consistentHeapStats).acquire`: called as
    /// `memstats.heapStats.acquire()` (`LEAQ runtime.memstats+heapStats(SB),
    /// AX` right before the CALL), which finds `memstats` in stripped binaries.
    pub heap_stats_acquire: &'static str,
    /// `(*consistentHeapStats).release`, called the same way.
    pub heap_stats_release: &'static str,
    /// `var mheap_ mheap`.
    pub mheap: &'static str,
    /// `(*mheap).alloc`, called as `mheap_.alloc(…)` (`LEAQ
    /// runtime.mheap_(SB), AX` before the CALL) from `(*mcentral).grow`,
    /// which finds `mheap_` in stripped binaries.
    pub mheap_alloc: &'static str,
    pub mcentral_grow: &'static str,
    /// `(*mcentral).cacheSpan`: returns the span a refill allocates from.
    pub cache_span: &'static str,
    /// `var gcphase uint32` (`_GCmark` = 1 while marking: every span has
    /// been swept for the cycle that is ending).
    pub gcphase: &'static str,
    /// Functions that all compare `gcphase` (32-bit operands), which finds
    /// it in stripped binaries.
    pub gcphase_users: [&'static str; 3],
}

/// Argument registers of `refill` at its entry (ABIInternal).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RefillArgs {
    /// Receiver `c *mcache`.
    pub c: Reg,
    /// `spc spanClass` (uint8: low byte only).
    pub spc: Reg,
}

/// Argument registers of `allocLarge` at its entry (ABIInternal).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AllocLargeArgs {
    /// Receiver `c *mcache`.
    pub c: Reg,
    /// Requested size in bytes; the runtime counts `ceil(size / 8192)` pages.
    pub size: Reg,
    /// bool (low byte only).
    pub noscan: Reg,
}

impl AllocStatsSymbols {
    /// Same names in every supported version.
    pub const ALL: AllocStatsSymbols = AllocStatsSymbols {
        memstats: "runtime.memstats",
        empty_mspan: "runtime.emptymspan",
        refill: "runtime.(*mcache).refill",
        alloc_large: "runtime.(*mcache).allocLarge",
        release_all: "runtime.(*mcache).releaseAll",
        heap_stats_acquire: "runtime.(*consistentHeapStats).acquire",
        heap_stats_release: "runtime.(*consistentHeapStats).release",
        mheap: "runtime.mheap_",
        mheap_alloc: "runtime.(*mheap).alloc",
        mcentral_grow: "runtime.(*mcentral).grow",
        cache_span: "runtime.(*mcentral).cacheSpan",
        gcphase: "runtime.gcphase",
        gcphase_users: [
            "runtime.gcTrigger.test",
            "runtime.gcSweep",
            "runtime.queuefinalizer",
        ],
    };
}

#[cfg(test)]
mod tests {
    use crate::tracee::golayout::{layout_for, SUPPORTED_MINORS};

    /// The allocation probes read `allocCount` … `limit` of a span with
    /// one read of `NEAR_BYTES` (`tracer-ebpf` helpers `Near`).
    #[test]
    fn span_fields_read_together_are_near() {
        let reach = (tracer_common::NEAR_BYTES - 8) as u64;
        for minor in SUPPORTED_MINORS {
            let s = &layout_for(1, minor).unwrap().alloc_stats.mspan;
            for (name, off) in [
                ("allocCountBeforeCache", s.alloc_count_before_cache),
                ("elemsize", s.elemsize),
                ("spanclass", s.spanclass),
                ("limit", s.limit),
            ] {
                assert!(
                    off >= s.alloc_count && off - s.alloc_count <= reach,
                    "go1.{minor}: mspan.{name} at {off}, allocCount at {}",
                    s.alloc_count
                );
            }
        }
    }
}
