//! Go 1.24: Swiss-table maps and the hash-trie `sync.Map` become the default
//! (`GOEXPERIMENT=swissmap,synchashtriemap` in the baseline,
//! `internal/buildcfg/exp.go`).
//!
//! vs 1.23: maps are `internal/runtime/maps.Map` with `abi.SwissMapType`;
//! `sync.Map` wraps `internal/sync.HashTrieMap[any, any]`; `runtime.g` grew
//! (`fipsIndicator` in padding, `syncGroup` near the end: no offset here moved);
//! wait reason `SyncWaitGroupWait` inserted at 24 (24.. shift by one) and
//! the synctest reasons appended; `runtime.mcache` gained `memProfRate`
//! after `nextSample` (tinyAllocs 32 → 40, alloc 40 → 48).

use super::go121::ALLOC_STATS_122;
use super::go123::{GO123, G_123};
use super::heapstats::{AllocStatsLayout, McacheLayout};
use super::layout::{GLayout, Layout, MapImpl, SyncMapImpl};
use super::maps::{
    SwissGroupLayout, SwissLayout, SwissMapHeaderLayout, SwissMapTypeLayout, SwissTableLayout,
};
use super::syncmap::{HashTrieEntryLayout, HashTrieIndirectLayout, HashTrieLayout, SyncMapLayout};
use super::wait_reason::WaitReasons;

/// `runtime.g` (`runtime/runtime2.go`).
pub const G_124: GLayout = GLayout { size: 440, ..G_123 };

/// `maps.Map` (`internal/runtime/maps/map.go`) of 1.24: no `tombstonePossible`.
pub const SWISS_MAP_124: SwissMapHeaderLayout = SwissMapHeaderLayout {
    size: 48,
    used: 0,
    seed: 8,
    dir_ptr: 16,
    dir_len: 24,
    global_depth: 32,
    global_shift: 33,
    writing: 34,
    tombstone_possible: None,
    clear_seq: 40,
};

/// `maps.table` (`internal/runtime/maps/table.go`) and `groupsReference`
/// (`group.go`), unchanged 1.24–1.27.
pub const SWISS_TABLE: SwissTableLayout = SwissTableLayout {
    size: 32,
    used: 0,
    capacity: 2,
    growth_left: 4,
    local_depth: 6,
    index: 8,
    groups: 16,
    groups_data: 0,
    groups_length_mask: 8,
    max_table_capacity: 1024,
};

/// Group constants (`internal/runtime/maps/group.go`, `internal/abi/map_swiss.go`),
/// 1.24–1.26: control word, then 8 interleaved key/elem slots.
pub const SWISS_GROUP_124: SwissGroupLayout = SwissGroupLayout {
    slots: 8,
    ctrl_word_size: 8,
    slots_offset: Some(8),
    ctrl_empty: 0x80,
    ctrl_deleted: 0xFE,
    max_avg_group_load: 7,
    max_key_bytes: 128,
    max_elem_bytes: 128,
};

/// `internal/abi.SwissMapType` (`internal/abi/map_swiss.go`), 1.24–1.25.
pub const SWISS_MAP_TYPE_124: SwissMapTypeLayout = SwissMapTypeLayout {
    go_type: "internal/abi.SwissMapType",
    size: 112,
    key: 48,
    elem: 56,
    group: 64,
    hasher: 72,
    group_size: 80,
    slot_size: Some(88),
    elem_off: 96,
    keys_off: None,
    key_stride: None,
    elems_off: None,
    elem_stride: None,
    flags: 104,
    flag_indirect_key: 4,
    flag_indirect_elem: 8,
};

pub const SWISS_124: SwissLayout = SwissLayout {
    map: SWISS_MAP_124,
    table: SWISS_TABLE,
    group: SWISS_GROUP_124,
    map_type: SWISS_MAP_TYPE_124,
};

/// `sync.Map` (`sync/hashtriemap.go` in 1.24–1.25, `sync/map.go` from 1.26)
/// over `internal/sync.HashTrieMap[any, any]` (`internal/sync/hashtriemap.go`),
/// unchanged 1.24–1.27.
pub const SYNC_MAP_HASH_TRIE: SyncMapLayout = SyncMapLayout {
    size: 48,
    read_dirty: None,
    hash_trie: Some(HashTrieLayout {
        m: 0,
        size: 48,
        inited: 0,
        init_mu: 4,
        root: 16,
        key_hash: 24,
        val_equal: 32,
        seed: 40,
        node_is_entry: 0,
        indirect: HashTrieIndirectLayout {
            size: 152,
            node: 0,
            dead: 4,
            mu: 8,
            parent: 16,
            children: 24,
            n_children_log2: 4,
            n_children: 16,
        },
        entry: HashTrieEntryLayout {
            size: 48,
            node: 0,
            overflow: 8,
            key: 16,
            value: 32,
        },
    }),
};

/// `runtime.mcache` gained `memProfRate int` (1.24–1.27).
pub const ALLOC_STATS_124: AllocStatsLayout = AllocStatsLayout {
    mcache: McacheLayout {
        tiny_allocs: 40,
        alloc: 48,
        ..ALLOC_STATS_122.mcache
    },
    ..ALLOC_STATS_122
};

/// `waitReasonStrings` of go1.24 (`runtime/runtime2.go`), indexed by value.
const NAMES_124: &[&str] = &[
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
    "sync.WaitGroup.Wait",     // 24 waitReasonSyncWaitGroupWait
    "trace reader (blocked)",  // 25 waitReasonTraceReaderBlocked
    "wait for GC cycle",       // 26 waitReasonWaitForGCCycle
    "GC worker (idle)",        // 27 waitReasonGCWorkerIdle
    "GC worker (active)",      // 28 waitReasonGCWorkerActive
    "preempted",               // 29 waitReasonPreempted
    "debug call",              // 30 waitReasonDebugCall
    "GC mark termination",     // 31 waitReasonGCMarkTermination
    "stopping the world",      // 32 waitReasonStoppingTheWorld
    "flushing proc caches",    // 33 waitReasonFlushProcCaches
    "trace goroutine status",  // 34 waitReasonTraceGoroutineStatus
    "trace proc status",       // 35 waitReasonTraceProcStatus
    "page trace flush",        // 36 waitReasonPageTraceFlush
    "coroutine",               // 37 waitReasonCoroutine
    "GC weak to strong wait",  // 38 waitReasonGCWeakToStrongWait
    "synctest.Run",            // 39 waitReasonSynctestRun
    "synctest.Wait",           // 40 waitReasonSynctestWait
    "chan receive (synctest)", // 41 waitReasonSynctestChanReceive
    "chan send (synctest)",    // 42 waitReasonSynctestChanSend
    "select (synctest)",       // 43 waitReasonSynctestSelect
];

pub const WAIT_124: WaitReasons = WaitReasons {
    names: NAMES_124,
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
    sync_wait_group_wait: Some(24),
    synctest_chan_receive: Some(41),
    synctest_chan_send: Some(42),
    synctest_select: Some(43),
    garbage_collection: 6,
    gc_assist_marking: 1,
    gc_assist_wait: 11,
    gc_sweep_wait: 12,
    gc_worker_idle: 27,
    gc_worker_active: 28,
    finalizer_wait: 16,
    preempted: 29,
};

pub const GO124: Layout = Layout {
    go_minor: 24,
    g: G_124,
    map_impl: MapImpl::Swiss,
    hmap: None,
    swiss: Some(SWISS_124),
    sync_map_impl: SyncMapImpl::HashTrie,
    sync_map: SYNC_MAP_HASH_TRIE,
    wait_reasons: WAIT_124,
    alloc_stats: ALLOC_STATS_124,
    ..GO123
};
