//! What the runtime's GC pacer and statistics say about a process, read
//! without a probe: the GC cycle count (`memstats.numgc`), `GOGC`
//! (`gcController.gcPercent`), `GOMEMLIMIT` (`gcController.memoryLimit`)
//! and the live heap the last cycle marked (`gcController.heapMarked`).
//!
//! `runtime/mgcpacer.go`: `gcControllerState` starts with
//! `gcPercent atomic.Int32` then `memoryLimit atomic.Int64` in Go 1.21–1.27
//! (the value `debug.SetGCPercent` / `SetMemoryLimit` and the environment
//! set; -1 is `GOGC=off`, `math.MaxInt64` no limit).

use serde::Serialize;

/// Where the pacer's settings and the GC count are.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PacerLayout {
    /// Offset of `numgc uint32` in `runtime.mstats` (`var memstats`).
    pub memstats_numgc: u64,
    /// Offset of `gcPercent atomic.Int32` in `runtime.gcControllerState`.
    pub gc_percent: u64,
    /// Offset of `memoryLimit atomic.Int64` in `runtime.gcControllerState`.
    pub memory_limit: u64,
    /// Offset of `heapMarked uint64` in `runtime.gcControllerState`: the
    /// bytes the last GC cycle marked (the live heap after it).
    pub heap_marked: u64,
    pub symbols: PacerSymbols,
}

/// The names a reader looks up.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PacerSymbols {
    /// `var gcController gcControllerState`.
    pub gc_controller: &'static str,
    /// `func (c *gcControllerState) commit(isSweepDone bool)`: its callers
    /// pass `&gcController` in RAX (how a stripped binary gives it away).
    pub commit: &'static str,
    /// Functions that call `gcController.commit(…)`.
    pub commit_callers: [&'static str; 3],
}

pub const PACER_SYMBOLS: PacerSymbols = PacerSymbols {
    gc_controller: "runtime.gcController",
    commit: "runtime.(*gcControllerState).commit",
    commit_callers: [
        "runtime.gcControllerCommit",
        "runtime.setGCPercent.func1",
        "runtime.setMemoryLimit.func1",
    ],
};

/// Go 1.21–1.24.
pub const PACER_121: PacerLayout = PacerLayout {
    memstats_numgc: 7704,
    gc_percent: 0,
    memory_limit: 8,
    heap_marked: 152,
    symbols: PACER_SYMBOLS,
};

/// Go 1.25–1.27: `heapStatsDelta` lost `inPtrScalarBits`, and the three
/// generations before `numgc` moved it back by 24.
pub const PACER_125: PacerLayout = PacerLayout {
    memstats_numgc: 7680,
    ..PACER_121
};
