//! Go 1.26 and 1.27.
//!
//! 1.26 vs 1.25: the classic map and the old `sync.Map` are gone from the
//! source tree; `abi.SwissMapType` renamed `abi.MapType` (same layout);
//! `runtime.g` gained `secret int32` after `sig`, moving `writebuf` and
//! everything after it by 8 (parentGoid 272 → 280; `fipsOnlyBypass` and
//! `ditWanted` fill padding, `xRegs` sits near the end), plus statuses
//! `_Gleaked`/`_Gdeadextra`; the wait reasons were regrouped (all channel
//! reasons now 15–20).
//!
//! 1.27 vs 1.26: `abi.MapType` replaced `SlotSize` with
//! `KeysOff/KeyStride/ElemsOff/ElemStride` (size 112 → 136) so that
//! `GOEXPERIMENT=mapsplitgroup` can store keys and elems in separate arrays;
//! `groupSlotsOffset` is gone; `memRecordCycle` lost `alloc_bytes` and
//! `free_bytes` (16 bytes, was 32). Everything else is as in 1.26.

use super::go125::{GO125, G_125, SWISS_125};
use super::heapprof::HEAP_PROFILE_127;
use super::layout::{GLayout, GStatus, Layout};
use super::maps::{SwissGroupLayout, SwissLayout, SwissMapTypeLayout};
use super::wait_reason::WaitReasons;

/// `runtime.g` (`runtime/runtime2.go`), 1.26–1.27.
pub const G_126: GLayout = GLayout {
    size: 456,
    parent_goid: 280,
    gopc: 288,
    startpc: 304,
    waiting: 320,
    status: GStatus::GO126,
    ..G_125
};

/// `internal/abi.MapType` (`internal/abi/map.go`) of 1.26: `SwissMapType` renamed.
pub const SWISS_MAP_TYPE_126: SwissMapTypeLayout = SwissMapTypeLayout {
    go_type: "internal/abi.MapType",
    ..SWISS_125.map_type
};

pub const SWISS_126: SwissLayout = SwissLayout {
    map_type: SWISS_MAP_TYPE_126,
    ..SWISS_125
};

/// `internal/abi.MapType` (`internal/abi/map.go`) of 1.27. In the default
/// (interleaved) group layout `KeysOff` is the slot array offset and
/// `KeyStride == ElemStride` the slot size.
pub const SWISS_MAP_TYPE_127: SwissMapTypeLayout = SwissMapTypeLayout {
    size: 136,
    slot_size: None,
    keys_off: Some(88),
    key_stride: Some(96),
    elems_off: Some(104),
    elem_stride: Some(112),
    elem_off: 120,
    flags: 128,
    ..SWISS_MAP_TYPE_126
};

/// 1.27 group: slot positions come from the map type, not `groupSlotsOffset`.
pub const SWISS_GROUP_127: SwissGroupLayout = SwissGroupLayout {
    slots_offset: None,
    ..SWISS_125.group
};

pub const SWISS_127: SwissLayout = SwissLayout {
    group: SWISS_GROUP_127,
    map_type: SWISS_MAP_TYPE_127,
    ..SWISS_126
};

/// `waitReasonStrings` of go1.26 and go1.27 (`runtime/runtime2.go`), indexed by value.
const NAMES_126: &[&str] = &[
    "",                              // 0 waitReasonZero
    "GC assist marking",             // 1 waitReasonGCAssistMarking
    "IO wait",                       // 2 waitReasonIOWait
    "dumping heap",                  // 3 waitReasonDumpingHeap
    "garbage collection",            // 4 waitReasonGarbageCollection
    "garbage collection scan",       // 5 waitReasonGarbageCollectionScan
    "panicwait",                     // 6 waitReasonPanicWait
    "GC assist wait",                // 7 waitReasonGCAssistWait
    "GC sweep wait",                 // 8 waitReasonGCSweepWait
    "GC scavenge wait",              // 9 waitReasonGCScavengeWait
    "finalizer wait",                // 10 waitReasonFinalizerWait
    "force gc (idle)",               // 11 waitReasonForceGCIdle
    "GOMAXPROCS updater (idle)",     // 12 waitReasonUpdateGOMAXPROCSIdle
    "semacquire",                    // 13 waitReasonSemacquire
    "sleep",                         // 14 waitReasonSleep
    "chan receive (nil chan)",       // 15 waitReasonChanReceiveNilChan
    "chan send (nil chan)",          // 16 waitReasonChanSendNilChan
    "select (no cases)",             // 17 waitReasonSelectNoCases
    "select",                        // 18 waitReasonSelect
    "chan receive",                  // 19 waitReasonChanReceive
    "chan send",                     // 20 waitReasonChanSend
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

pub const WAIT_126: WaitReasons = WaitReasons {
    names: NAMES_126,
    io_wait: 2,
    chan_receive: 19,
    chan_send: 20,
    chan_receive_nil_chan: 15,
    chan_send_nil_chan: 16,
    select: 18,
    select_no_cases: 17,
    sleep: 14,
    semacquire: 13,
    sync_cond_wait: 21,
    sync_mutex_lock: 22,
    sync_rwmutex_rlock: 23,
    sync_rwmutex_lock: 24,
    sync_wait_group_wait: Some(25),
    synctest_chan_receive: Some(42),
    synctest_chan_send: Some(43),
    synctest_select: Some(44),
    garbage_collection: 4,
    gc_assist_marking: 1,
    gc_assist_wait: 7,
    gc_sweep_wait: 8,
    gc_worker_idle: 28,
    gc_worker_active: 29,
    finalizer_wait: 10,
    preempted: 30,
};

pub const GO126: Layout = Layout {
    go_minor: 26,
    g: G_126,
    swiss: Some(SWISS_126),
    wait_reasons: WAIT_126,
    ..GO125
};

pub const GO127: Layout = Layout {
    go_minor: 27,
    swiss: Some(SWISS_127),
    heap_profile: HEAP_PROFILE_127,
    ..GO126
};
