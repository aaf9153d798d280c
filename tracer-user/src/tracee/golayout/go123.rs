//! Go 1.23: last version with the classic map and read/dirty `sync.Map`.
//!
//! vs 1.22: `runtime.g` gained `syscallbp` after `syscallpc`, moving every
//! field from `stktopsp` on by 8 (goid 152 → 160); `newproc1` gained
//! `parked bool, waitreason waitReason`; wait reason 37 (GC weak to strong
//! wait) appended; a heap-profile bucket holds up to `maxProfStackDepth`
//! (1024) PCs instead of `maxStack` (32). Maps and `sync.Map` are as in 1.22.

use super::abi::{AbiInfo, Newproc1Args, Reg};
use super::go121::{ABI_121, GO122, G_122, WAIT_122};
use super::heapprof::HEAP_PROFILE_123;
use super::layout::{GLayout, Layout};
use super::wait_reason::WaitReasons;

/// `runtime.g` (`runtime/runtime2.go`), 1.23 and 1.24.
pub const G_123: GLayout = GLayout {
    size: 432,
    atomicstatus: 152,
    goid: 160,
    waitreason: 184,
    parent_goid: 280,
    gopc: 288,
    startpc: 304,
    waiting: 320,
    ..G_122
};

/// `newproc1(fn, callergp, callerpc, parked, waitreason)` (`runtime/proc.go`), 1.23+.
pub const ABI_123: AbiInfo = AbiInfo {
    newproc1: Newproc1Args {
        parked: Some(Reg::Rdi),
        waitreason: Some(Reg::Rsi),
        ..ABI_121.newproc1
    },
    ..ABI_121
};

/// `waitReasonStrings` of go1.23 (`runtime/runtime2.go`), indexed by value.
const NAMES_123: &[&str] = &[
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
    "GC weak to strong wait",  // 37 waitReasonGCWeakToStrongWait
];

/// 1.23 appended 37 (GC weak to strong wait); values unchanged.
pub const WAIT_123: WaitReasons = WaitReasons {
    names: NAMES_123,
    ..WAIT_122
};

pub const GO123: Layout = Layout {
    go_minor: 23,
    g: G_123,
    abi: ABI_123,
    wait_reasons: WAIT_123,
    heap_profile: HEAP_PROFILE_123,
    ..GO122
};
