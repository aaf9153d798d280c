//! Go 1.21 and 1.22: classic `runtime.hmap` maps, read/dirty `sync.Map`,
//! `newproc1(fn, callergp, callerpc)`.
//!
//! 1.22 vs 1.21: `runtime.g` grew (new fields in padding and after
//! `selectDone`, none of them moving the fields here), the map load factor
//! became 13/2, five wait reasons were appended, and `runtime.mspan`'s
//! `freeindex`/`nelems`/`freeIndexForScan` shrank to `uint16` (allocCount
//! 104 → 96).

use super::abi::{
    AbiInfo, MakemapArgs, MallocgcArgs, MapAccessArgs, Newproc1Args, Reg, INT_ARG_REGS,
};
use super::heapprof::HEAP_PROFILE_121;
use super::heapstats::{
    AllocLargeArgs, AllocStatsLayout, AllocStatsSymbols, HeapStatsLayout, McacheLayout,
    MheapLayout, MspanLayout, RefillArgs,
};
use super::layout::{AllgsInfo, GLayout, GStatus, Layout, MapImpl, SyncMapImpl};
use super::maps::{BucketLayout, ClassicMapTypeLayout, HmapLayout};
use super::pacer::PACER_121;
use super::syncmap::{ReadDirtyLayout, SyncMapLayout};
use super::wait_reason::WaitReasons;

/// `runtime.g`, `runtime.gobuf`, `runtime.stack` (`runtime/runtime2.go`) of 1.21.
pub const G_121: GLayout = GLayout {
    size: 408,
    stack: 0,
    stack_lo: 0,
    stack_hi: 8,
    stackguard0: 16,
    m: 48,
    sched: 56,
    gobuf_size: 56,
    gobuf_sp: 0,
    gobuf_pc: 8,
    gobuf_bp: 48,
    atomicstatus: 144,
    goid: 152,
    waitreason: 176,
    parent_goid: 272,
    gopc: 280,
    startpc: 296,
    waiting: 312,
    status: GStatus::GO121,
};

/// 1.22 added `inMarkAssist`, `coroexit`, `nocgocallback` (in padding) and
/// `coroarg` (after `selectDone`): only the size changed.
pub const G_122: GLayout = GLayout { size: 424, ..G_121 };

/// `runtime.hmap` / `runtime.mapextra` / bucket constants (`runtime/map.go`)
/// and `internal/abi.MapType` (`internal/abi/type.go`) of 1.22 (and 1.23).
pub const HMAP_122: HmapLayout = HmapLayout {
    size: 48,
    count: 0,
    flags: 8,
    b: 9,
    noverflow: 10,
    hash0: 12,
    buckets: 16,
    oldbuckets: 24,
    nevacuate: 32,
    extra: 40,
    extra_overflow: 0,
    extra_oldoverflow: 8,
    extra_next_overflow: 16,
    flag_iterator: 1,
    flag_old_iterator: 2,
    flag_hash_writing: 4,
    flag_same_size_grow: 8,
    bucket: BucketLayout {
        bucket_cnt: 8,
        data_offset: 8,
        empty_rest: 0,
        empty_one: 1,
        evacuated_x: 2,
        evacuated_y: 3,
        evacuated_empty: 4,
        min_top_hash: 5,
        load_factor_num: 13,
        load_factor_den: 2,
        max_key_bytes: 128,
        max_elem_bytes: 128,
    },
    map_type: ClassicMapTypeLayout {
        go_type: "internal/abi.MapType",
        size: 88,
        key: 48,
        elem: 56,
        bucket: 64,
        hasher: 72,
        key_size: 80,
        value_size: 81,
        bucket_size: 82,
        flags: 84,
        flag_indirect_key: 1,
        flag_indirect_elem: 2,
    },
};

/// 1.21: `loadFactorNum = (bucketCnt * 13 / 16) * loadFactorDen` truncates
/// to 12, a load factor of 6 instead of 6.5.
pub const HMAP_121: HmapLayout = HmapLayout {
    bucket: BucketLayout {
        load_factor_num: 12,
        ..HMAP_122.bucket
    },
    ..HMAP_122
};

/// `sync.Map`, `sync.readOnly`, `sync.entry` (`sync/map.go`), 1.21–1.23.
pub const SYNC_MAP_READ_DIRTY: SyncMapLayout = SyncMapLayout {
    size: 32,
    read_dirty: Some(ReadDirtyLayout {
        mu: 0,
        read: 8,
        dirty: 16,
        misses: 24,
        read_only_size: 16,
        read_only_m: 0,
        read_only_amended: 8,
        entry_p: 0,
        expunged_symbol: "sync.expunged",
    }),
    hash_trie: None,
};

/// Probe argument registers of 1.21–1.22: every probed argument is one word,
/// so argument n is in `INT_ARG_REGS[n]`.
pub const ABI_121: AbiInfo = AbiInfo {
    int_arg_regs: INT_ARG_REGS,
    g_reg: Reg::R14,
    mallocgc: MallocgcArgs {
        size: Reg::Rax,
        typ: Reg::Rbx,
        needzero: Reg::Rcx,
    },
    makemap: MakemapArgs {
        t: Reg::Rax,
        hint: Reg::Rbx,
        m: Reg::Rcx,
    },
    map_access: MapAccessArgs {
        t: Reg::Rax,
        m: Reg::Rbx,
        key: Reg::Rcx,
    },
    newproc1: Newproc1Args {
        fn_: Reg::Rax,
        callergp: Reg::Rbx,
        callerpc: Reg::Rcx,
        parked: None,
        waitreason: None,
    },
};

/// `runtime.mcache`, `runtime.mspan` and `memstats.heapStats` of 1.21.
pub const ALLOC_STATS_121: AllocStatsLayout = AllocStatsLayout {
    mcache: McacheLayout {
        tiny_allocs: 32,
        alloc: 40,
        num_span_classes: 136,
        tiny_span_class: 5,
    },
    mspan: MspanLayout {
        nelems: 56,
        nelems_size: 8,
        alloc_count: 104,
        alloc_count_before_cache: 110,
        elemsize: 112,
        spanclass: 106,
        start_addr: 24,
        limit: 120,
        freeindex: 48,
        alloc_cache: 64,
        alloc_bits: 72,
        sweepgen: 96,
        state: 107,
        state_in_use: 1,
    },
    mheap: MheapLayout { sweepgen: 65856 },
    heap_stats: HeapStatsLayout {
        memstats_heap_stats: 0,
        stats: 0,
        generations: 3,
        gen: 3528,
        delta_size: 1176,
        committed: 0,
        released: 8,
        tiny_alloc_count: 48,
        large_alloc: 56,
        large_alloc_count: 64,
        small_alloc_count: 72,
        large_free: 616,
        large_free_count: 624,
        small_free_count: 632,
        num_size_classes: 68,
    },
    symbols: AllocStatsSymbols::ALL,
    refill: RefillArgs {
        c: Reg::Rax,
        spc: Reg::Rbx,
    },
    alloc_large: AllocLargeArgs {
        c: Reg::Rax,
        size: Reg::Rbx,
        noscan: Reg::Rcx,
    },
};

/// 1.22: `mspan.freeindex`, `nelems` and `freeIndexForScan` shrank from
/// `uintptr` to `uint16` (nelems 56 → 50), moving the fields after them
/// back by 8 (allocCount 104 → 96).
pub const ALLOC_STATS_122: AllocStatsLayout = AllocStatsLayout {
    mspan: MspanLayout {
        nelems: 50,
        nelems_size: 2,
        alloc_count: 96,
        alloc_count_before_cache: 102,
        elemsize: 104,
        spanclass: 98,
        start_addr: 24,
        limit: 112,
        freeindex: 48,
        alloc_cache: 56,
        alloc_bits: 64,
        sweepgen: 88,
        state: 99,
        state_in_use: 1,
    },
    ..ALLOC_STATS_121
};

/// `waitReasonStrings` of go1.21 (`runtime/runtime2.go`), indexed by value.
const NAMES_121: &[&str] = &[
    "",                        // 0 waitReasonZero
    "GC assist marking",       // 1 waitReasonGCAssistMarking
    "IO wait",                 // 2 waitReasonIOWait
    "chan receive (nil chan)", // 3 waitReasonChanReceiveNilChan
    "chan send (nil chan)",    // 4 waitReasonChanSendNilChan
    "dumping heap",            // 5 waitReasonDumpingHeap
    "garbage collection",      // 6 waitReasonGarbageCollection
    "garbage collection scan", // 7 waitReasonGarbageCollectionScan
    "panicwait",               // 8 waitReasonPanicWait
    "select",                  // 9 waitReasonSelect
    "select (no cases)",       // 10 waitReasonSelectNoCases
    "GC assist wait",          // 11 waitReasonGCAssistWait
    "GC sweep wait",           // 12 waitReasonGCSweepWait
    "GC scavenge wait",        // 13 waitReasonGCScavengeWait
    "chan receive",            // 14 waitReasonChanReceive
    "chan send",               // 15 waitReasonChanSend
    "finalizer wait",          // 16 waitReasonFinalizerWait
    "force gc (idle)",         // 17 waitReasonForceGCIdle
    "semacquire",              // 18 waitReasonSemacquire
    "sleep",                   // 19 waitReasonSleep
    "sync.Cond.Wait",          // 20 waitReasonSyncCondWait
    "sync.Mutex.Lock",         // 21 waitReasonSyncMutexLock
    "sync.RWMutex.RLock",      // 22 waitReasonSyncRWMutexRLock
    "sync.RWMutex.Lock",       // 23 waitReasonSyncRWMutexLock
    "trace reader (blocked)",  // 24 waitReasonTraceReaderBlocked
    "wait for GC cycle",       // 25 waitReasonWaitForGCCycle
    "GC worker (idle)",        // 26 waitReasonGCWorkerIdle
    "GC worker (active)",      // 27 waitReasonGCWorkerActive
    "preempted",               // 28 waitReasonPreempted
    "debug call",              // 29 waitReasonDebugCall
    "GC mark termination",     // 30 waitReasonGCMarkTermination
    "stopping the world",      // 31 waitReasonStoppingTheWorld
];

pub const WAIT_121: WaitReasons = WaitReasons {
    names: NAMES_121,
    io_wait: 2,
    chan_receive: 14,
    chan_send: 15,
    chan_receive_nil_chan: 3,
    chan_send_nil_chan: 4,
    select: 9,
    select_no_cases: 10,
    sleep: 19,
    semacquire: 18,
    sync_cond_wait: 20,
    sync_mutex_lock: 21,
    sync_rwmutex_rlock: 22,
    sync_rwmutex_lock: 23,
    sync_wait_group_wait: None,
    synctest_chan_receive: None,
    synctest_chan_send: None,
    synctest_select: None,
    garbage_collection: 6,
    gc_assist_marking: 1,
    gc_assist_wait: 11,
    gc_sweep_wait: 12,
    gc_worker_idle: 26,
    gc_worker_active: 27,
    finalizer_wait: 16,
    preempted: 28,
};

/// `waitReasonStrings` of go1.22 (`runtime/runtime2.go`), indexed by value.
const NAMES_122: &[&str] = &[
    "",                        // 0 waitReasonZero
    "GC assist marking",       // 1 waitReasonGCAssistMarking
    "IO wait",                 // 2 waitReasonIOWait
    "chan receive (nil chan)", // 3 waitReasonChanReceiveNilChan
    "chan send (nil chan)",    // 4 waitReasonChanSendNilChan
    "dumping heap",            // 5 waitReasonDumpingHeap
    "garbage collection",      // 6 waitReasonGarbageCollection
    "garbage collection scan", // 7 waitReasonGarbageCollectionScan
    "panicwait",               // 8 waitReasonPanicWait
    "select",                  // 9 waitReasonSelect
    "select (no cases)",       // 10 waitReasonSelectNoCases
    "GC assist wait",          // 11 waitReasonGCAssistWait
    "GC sweep wait",           // 12 waitReasonGCSweepWait
    "GC scavenge wait",        // 13 waitReasonGCScavengeWait
    "chan receive",            // 14 waitReasonChanReceive
    "chan send",               // 15 waitReasonChanSend
    "finalizer wait",          // 16 waitReasonFinalizerWait
    "force gc (idle)",         // 17 waitReasonForceGCIdle
    "semacquire",              // 18 waitReasonSemacquire
    "sleep",                   // 19 waitReasonSleep
    "sync.Cond.Wait",          // 20 waitReasonSyncCondWait
    "sync.Mutex.Lock",         // 21 waitReasonSyncMutexLock
    "sync.RWMutex.RLock",      // 22 waitReasonSyncRWMutexRLock
    "sync.RWMutex.Lock",       // 23 waitReasonSyncRWMutexLock
    "trace reader (blocked)",  // 24 waitReasonTraceReaderBlocked
    "wait for GC cycle",       // 25 waitReasonWaitForGCCycle
    "GC worker (idle)",        // 26 waitReasonGCWorkerIdle
    "GC worker (active)",      // 27 waitReasonGCWorkerActive
    "preempted",               // 28 waitReasonPreempted
    "debug call",              // 29 waitReasonDebugCall
    "GC mark termination",     // 30 waitReasonGCMarkTermination
    "stopping the world",      // 31 waitReasonStoppingTheWorld
    "flushing proc caches",    // 32 waitReasonFlushProcCaches
    "trace goroutine status",  // 33 waitReasonTraceGoroutineStatus
    "trace proc status",       // 34 waitReasonTraceProcStatus
    "page trace flush",        // 35 waitReasonPageTraceFlush
    "coroutine",               // 36 waitReasonCoroutine
];

/// 1.22 appended 32–36 (flushing proc caches … coroutine); values unchanged.
pub const WAIT_122: WaitReasons = WaitReasons {
    names: NAMES_122,
    ..WAIT_121
};

pub const GO121: Layout = Layout {
    go_minor: 21,
    g: G_121,
    map_impl: MapImpl::Classic,
    hmap: Some(HMAP_121),
    swiss: None,
    sync_map_impl: SyncMapImpl::ReadDirty,
    sync_map: SYNC_MAP_READ_DIRTY,
    allgs: AllgsInfo::AMD64,
    abi: ABI_121,
    wait_reasons: WAIT_121,
    type_ptrbytes: 8,
    alloc_stats: ALLOC_STATS_121,
    heap_profile: HEAP_PROFILE_121,
    pacer: PACER_121,
};

pub const GO122: Layout = Layout {
    go_minor: 22,
    g: G_122,
    hmap: Some(HMAP_122),
    wait_reasons: WAIT_122,
    alloc_stats: ALLOC_STATS_122,
    ..GO121
};
