//! The top-level [`Layout`] and the goroutine (`runtime.g`) part of it.
//!
//! All offsets are bytes from the start of the named Go struct, for
//! linux/amd64 (8-byte pointers).

use serde::Serialize;

use super::abi::AbiInfo;
use super::heapprof::HeapProfileLayout;
use super::heapstats::AllocStatsLayout;
use super::maps::{HmapLayout, SwissLayout};
use super::pacer::PacerLayout;
use super::syncmap::SyncMapLayout;
use super::wait_reason::WaitReasons;

/// Which Go map implementation the runtime of a version uses by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MapImpl {
    /// Bucket hash map `runtime.hmap` (`runtime/map.go`), Go ≤ 1.23.
    Classic,
    /// Swiss table `internal/runtime/maps.Map`, Go ≥ 1.24.
    Swiss,
}

/// Which `sync.Map` implementation the runtime of a version uses by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncMapImpl {
    /// `read` (atomic `readOnly`) + `dirty` map with `*entry` values (`sync/map.go`), Go ≤ 1.23.
    ReadDirty,
    /// Concurrent hash-trie `internal/sync.HashTrieMap[any, any]`, Go ≥ 1.24.
    HashTrie,
}

/// Every runtime layout the tracer relies on, for one Go minor version.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Layout {
    /// Go 1.`go_minor` this table is for.
    pub go_minor: u32,
    /// `runtime.g` (goroutine descriptor).
    pub g: GLayout,
    pub map_impl: MapImpl,
    /// Set iff `map_impl == Classic`.
    pub hmap: Option<HmapLayout>,
    /// Set iff `map_impl == Swiss`.
    pub swiss: Option<SwissLayout>,
    pub sync_map_impl: SyncMapImpl,
    pub sync_map: SyncMapLayout,
    /// How to enumerate all goroutines.
    pub allgs: AllgsInfo,
    /// Registers holding the arguments of the probed runtime functions.
    pub abi: AbiInfo,
    /// Numeric `runtime.waitReason` values (renumbered in 1.22, 1.24, 1.25, 1.26).
    pub wait_reasons: WaitReasons,
    /// Offset of `PtrBytes` in `internal/abi.Type` (`internal/abi/type.go`):
    /// 0 means the type holds no pointers ("noscan").
    pub type_ptrbytes: u64,
    /// The runtime's allocation counters (`memstats.heapStats`) and what a
    /// sampling probe on `(*mcache).refill` / `allocLarge` reads.
    pub alloc_stats: AllocStatsLayout,
    /// The runtime's own heap profile (`runtime/mprof.go` buckets).
    pub heap_profile: HeapProfileLayout,
    /// The GC count, `GOGC`, `GOMEMLIMIT` and released heap bytes.
    pub pacer: PacerLayout,
}

/// `runtime.g` (`runtime/runtime2.go`) and the structs embedded in it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GLayout {
    /// `unsafe.Sizeof(runtime.g{})`.
    pub size: u64,
    /// `g.stack`, a `runtime.stack` (`runtime/runtime2.go`).
    pub stack: u64,
    /// `runtime.stack.lo`: lowest address of the goroutine stack.
    pub stack_lo: u64,
    /// `runtime.stack.hi`: one past the highest address.
    pub stack_hi: u64,
    /// `g.stackguard0`.
    pub stackguard0: u64,
    /// `g.m`: the `*runtime.m` running this goroutine, nil when not running.
    pub m: u64,
    /// `g.sched`, a `runtime.gobuf`: saved registers of a descheduled goroutine.
    pub sched: u64,
    /// `unsafe.Sizeof(runtime.gobuf{})` (56 until 1.24, 48 once `ret` was dropped in 1.25).
    pub gobuf_size: u64,
    /// `runtime.gobuf.sp`.
    pub gobuf_sp: u64,
    /// `runtime.gobuf.pc`.
    pub gobuf_pc: u64,
    /// `runtime.gobuf.bp` (frame pointer).
    pub gobuf_bp: u64,
    /// `g.atomicstatus` (`atomic.Uint32`, values in [`GStatus`]).
    pub atomicstatus: u64,
    /// `g.goid` (uint64).
    pub goid: u64,
    /// `g.waitreason` (uint8 `runtime.waitReason`, meaningful when status is waiting).
    pub waitreason: u64,
    /// `g.parentGoid` (uint64): goid of the goroutine that ran the `go` statement.
    pub parent_goid: u64,
    /// `g.gopc` (uintptr): PC of the `go` statement.
    pub gopc: u64,
    /// `g.startpc` (uintptr): entry PC of the goroutine function.
    pub startpc: u64,
    /// `g.waiting` (`*runtime.sudog`): channel wait queue entries while blocked.
    pub waiting: u64,
    /// Values of `g.atomicstatus`.
    pub status: GStatus,
}

impl GLayout {
    /// Offset of `g.sched.sp` in `runtime.g`.
    pub const fn sched_sp(&self) -> u64 {
        self.sched + self.gobuf_sp
    }
    /// Offset of `g.sched.pc` in `runtime.g`.
    pub const fn sched_pc(&self) -> u64 {
        self.sched + self.gobuf_pc
    }
    /// Offset of `g.sched.bp` in `runtime.g`.
    pub const fn sched_bp(&self) -> u64 {
        self.sched + self.gobuf_bp
    }
    /// Offset of `g.stack.lo` in `runtime.g`.
    pub const fn stack_lo_in_g(&self) -> u64 {
        self.stack + self.stack_lo
    }
    /// Offset of `g.stack.hi` in `runtime.g`.
    pub const fn stack_hi_in_g(&self) -> u64 {
        self.stack + self.stack_hi
    }
}

/// `_G*` goroutine status constants (`runtime/runtime2.go`). `scan` is a bit
/// OR-ed into the others while the GC scans the stack.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GStatus {
    pub idle: u32,
    pub runnable: u32,
    pub running: u32,
    pub syscall: u32,
    pub waiting: u32,
    pub dead: u32,
    pub copystack: u32,
    pub preempted: u32,
    /// `_Gleaked` (goroutine leak detector), 1.26+.
    pub leaked: Option<u32>,
    /// `_Gdeadextra` (dead g kept for cgo callbacks), 1.26+.
    pub deadextra: Option<u32>,
    /// `_Gscan` bit.
    pub scan: u32,
}

impl GStatus {
    /// Statuses of Go 1.21–1.25.
    pub const GO121: GStatus = GStatus {
        idle: 0,
        runnable: 1,
        running: 2,
        syscall: 3,
        waiting: 4,
        dead: 6,
        copystack: 8,
        preempted: 9,
        leaked: None,
        deadextra: None,
        scan: 0x1000,
    };
    /// Statuses of Go 1.26+: `_Gleaked` and `_Gdeadextra` appended.
    pub const GO126: GStatus = GStatus {
        leaked: Some(10),
        deadextra: Some(11),
        ..GStatus::GO121
    };
}

/// Where the list of all goroutines is (`runtime/proc.go`: `var allgs []*g`,
/// `allglen uintptr`, `allgptr **g`). Same in every supported version.
///
/// The runtime's lock-free reader (`atomicAllG`) loads `allglen` first, then
/// `allgptr` (`&allgs[0]`); `allgadd` stores them in the opposite order, so
/// `allgptr[0..allglen]` is always valid. An external reader should do the
/// same rather than read the `allgs` slice header, which `append` rewrites.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AllgsInfo {
    /// Symbol of the `[]*runtime.g` slice header.
    pub allgs_symbol: &'static str,
    /// Symbol of the `uintptr` count of valid entries.
    pub allglen_symbol: &'static str,
    /// Symbol of the `**runtime.g` pointer to the first entry.
    pub allgptr_symbol: &'static str,
    /// Offsets in a Go slice header.
    pub slice_array: u64,
    pub slice_len: u64,
    pub slice_cap: u64,
    /// Size of one element (`*runtime.g`).
    pub elem_size: u64,
}

impl AllgsInfo {
    pub const AMD64: AllgsInfo = AllgsInfo {
        allgs_symbol: "runtime.allgs",
        allglen_symbol: "runtime.allglen",
        allgptr_symbol: "runtime.allgptr",
        slice_array: 0,
        slice_len: 8,
        slice_cap: 16,
        elem_size: 8,
    };
}
