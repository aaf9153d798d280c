//! Go 1.25.
//!
//! vs 1.24: `runtime.gobuf` lost `ret` (56 → 48 bytes, `bp` 48 → 40), which
//! moves every `runtime.g` field after `sched` back by 8 (goid 160 → 152);
//! `maps.Map` gained `tombstonePossible` (in padding, offset 35); wait reason
//! `UpdateGOMAXPROCSIdle` inserted at 18 (18.. shift by one), plus
//! `SynctestWaitGroupWait` and `CleanupWait` appended; `heapStatsDelta`
//! lost `inPtrScalarBits` (size 1176 → 1168, every counter back by 8;
//! `memstats.numgc` back by 24).

use super::go124::{ALLOC_STATS_124, GO124, G_124, SWISS_124, SWISS_MAP_124};
use super::heapstats::{AllocStatsLayout, HeapStatsLayout};
use super::layout::{GLayout, Layout};
use super::maps::{SwissLayout, SwissMapHeaderLayout};
use super::pacer::PACER_125;
use super::wait_reason::WaitReasons;

/// `runtime.g` and `runtime.gobuf` (`runtime/runtime2.go`).
pub const G_125: GLayout = GLayout {
    size: 440,
    gobuf_size: 48,
    gobuf_bp: 40,
    atomicstatus: 144,
    goid: 152,
    waitreason: 176,
    parent_goid: 272,
    gopc: 280,
    startpc: 296,
    waiting: 312,
    ..G_124
};

/// `maps.Map` (`internal/runtime/maps/map.go`), 1.25–1.27.
pub const SWISS_MAP_125: SwissMapHeaderLayout = SwissMapHeaderLayout {
    tombstone_possible: Some(35),
    ..SWISS_MAP_124
};

pub const SWISS_125: SwissLayout = SwissLayout {
    map: SWISS_MAP_125,
    ..SWISS_124
};

/// `heapStatsDelta` without `inPtrScalarBits` (`runtime/mstats.go`), 1.25–1.27.
pub const ALLOC_STATS_125: AllocStatsLayout = AllocStatsLayout {
    heap_stats: HeapStatsLayout {
        gen: 3504,
        delta_size: 1168,
        committed: 0,
        released: 8,
        tiny_alloc_count: 40,
        large_alloc: 48,
        large_alloc_count: 56,
        small_alloc_count: 64,
        large_free: 608,
        large_free_count: 616,
        small_free_count: 624,
        ..ALLOC_STATS_124.heap_stats
    },
    ..ALLOC_STATS_124
};

/// `waitReasonStrings` of go1.25 (`runtime/runtime2.go`), indexed by value.
const NAMES_125: &[&str] = &[
    "",                              // 0 waitReasonZero
    "GC assist marking",             // 1 waitReasonGCAssistMarking
    "IO wait",                       // 2 waitReasonIOWait
    "chan receive (nil chan)",       // 3 waitReasonChanReceiveNilChan
    "chan send (nil chan)",          // 4 waitReasonChanSendNilChan
    "dumping heap",                  // 5 waitReasonDumpingHeap
    "garbage collection",            // 6 waitReasonGarbageCollection
    "garbage collection scan",       // 7 waitReasonGarbageCollectionScan
    "panicwait",                     // 8 waitReasonPanicWait
    "select",                        // 9 waitReasonSelect
    "select (no cases)",             // 10 waitReasonSelectNoCases
    "GC assist wait",                // 11 waitReasonGCAssistWait
    "GC sweep wait",                 // 12 waitReasonGCSweepWait
    "GC scavenge wait",              // 13 waitReasonGCScavengeWait
    "chan receive",                  // 14 waitReasonChanReceive
    "chan send",                     // 15 waitReasonChanSend
    "finalizer wait",                // 16 waitReasonFinalizerWait
    "force gc (idle)",               // 17 waitReasonForceGCIdle
    "GOMAXPROCS updater (idle)",     // 18 waitReasonUpdateGOMAXPROCSIdle
    "semacquire",                    // 19 waitReasonSemacquire
    "sleep",                         // 20 waitReasonSleep
    "sync.Cond.Wait",                // 21 waitReasonSyncCondWait
    "sync.Mutex.Lock",               // 22 waitReasonSyncMutexLock
    "sync.RWMutex.RLock",            // 23 waitReasonSyncRWMutexRLock
    "sync.RWMutex.Lock",             // 24 waitReasonSyncRWMutexLock
    "sync.WaitGroup.Wait",           // 25 waitReasonSyncWaitGroupWait
    "trace reader (blocked)",        // 26 waitReasonTraceReaderBlocked
    "wait for GC cycle",             // 27 waitReasonWaitForGCCycle
    "GC worker (idle)",              // 28 waitReasonGCWorkerIdle
    "GC worker (active)",            // 29 waitReasonGCWorkerActive
    "preempted",                     // 30 waitReasonPreempted
    "debug call",                    // 31 waitReasonDebugCall
    "GC mark termination",           // 32 waitReasonGCMarkTermination
    "stopping the world",            // 33 waitReasonStoppingTheWorld
    "flushing proc caches",          // 34 waitReasonFlushProcCaches
    "trace goroutine status",        // 35 waitReasonTraceGoroutineStatus
    "trace proc status",             // 36 waitReasonTraceProcStatus
    "page trace flush",              // 37 waitReasonPageTraceFlush
    "coroutine",                     // 38 waitReasonCoroutine
    "GC weak to strong wait",        // 39 waitReasonGCWeakToStrongWait
    "synctest.Run",                  // 40 waitReasonSynctestRun
    "synctest.Wait",                 // 41 waitReasonSynctestWait
    "chan receive (durable)",        // 42 waitReasonSynctestChanReceive
    "chan send (durable)",           // 43 waitReasonSynctestChanSend
    "select (durable)",              // 44 waitReasonSynctestSelect
    "sync.WaitGroup.Wait (durable)", // 45 waitReasonSynctestWaitGroupWait
    "cleanup wait",                  // 46 waitReasonCleanupWait
];

pub const WAIT_125: WaitReasons = WaitReasons {
    names: NAMES_125,
    io_wait: 2,
    chan_receive: 14,
    chan_send: 15,
    chan_receive_nil_chan: 3,
    chan_send_nil_chan: 4,
    select: 9,
    select_no_cases: 10,
    sleep: 20,
    semacquire: 19,
    sync_cond_wait: 21,
    sync_mutex_lock: 22,
    sync_rwmutex_rlock: 23,
    sync_rwmutex_lock: 24,
    sync_wait_group_wait: Some(25),
    synctest_chan_receive: Some(42),
    synctest_chan_send: Some(43),
    synctest_select: Some(44),
    garbage_collection: 6,
    gc_assist_marking: 1,
    gc_assist_wait: 11,
    gc_sweep_wait: 12,
    gc_worker_idle: 28,
    gc_worker_active: 29,
    finalizer_wait: 16,
    preempted: 30,
};

pub const GO125: Layout = Layout {
    go_minor: 25,
    g: G_125,
    swiss: Some(SWISS_125),
    wait_reasons: WAIT_125,
    alloc_stats: ALLOC_STATS_125,
    pacer: PACER_125,
    ..GO124
};
