//! The runtime's own heap profile (`runtime/mprof.go`): what a reader of
//! the profile's buckets needs, read-only, from outside the process.
//!
//! `runtime.mbuckets` heads a list (linked by `allnext`) of `bucket`s:
//! a header, then `nstk` return PCs, then a `memRecord { active
//! memRecordCycle; future [3]memRecordCycle }`. Go 1.27 dropped the byte
//! fields of `memRecordCycle` (bytes are the counts × the bucket's `size`,
//! as they always were). `runtime.mProfCycle` holds the cycle number
//! (`value >> 1`) and whether it was flushed (bit 0).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct HeapProfileLayout {
    /// `bucket.allnext` (`*bucket`).
    pub bucket_allnext: u64,
    /// `bucket.typ` (`bucketType`, an int).
    pub bucket_typ: u64,
    /// `bucket.size` (`uintptr`): the object size of this bucket's samples.
    pub bucket_size: u64,
    /// `bucket.nstk` (`uintptr`).
    pub bucket_nstk: u64,
    /// `unsafe.Sizeof(bucket{})`: the stack starts here.
    pub bucket_header: u64,
    /// `memProfile` (`bucketType` constant).
    pub mem_profile: u64,
    /// `maxStack` (1.21–1.22) / `maxProfStackDepth` (1.23+): most PCs a
    /// bucket holds.
    pub max_stack: u64,
    /// `memRecord.active`, `memRecord.future` (`[futures]memRecordCycle`).
    pub record_active: u64,
    pub record_future: u64,
    pub futures: u64,
    /// `unsafe.Sizeof(memRecordCycle{})`.
    pub cycle_size: u64,
    /// `memRecordCycle.allocs`, `.frees` (`uintptr`).
    pub cycle_allocs: u64,
    pub cycle_frees: u64,
    /// `mProfCycleHolder.value` (`atomic.Uint32`).
    pub cycle_holder_value: u64,
    pub symbols: HeapProfileSymbols,
}

/// Symbols (data in `.symtab`, functions in the pclntab).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HeapProfileSymbols {
    /// `var mbuckets atomic.UnsafePointer` (`*bucket`).
    pub mbuckets: &'static str,
    /// `var MemProfileRate int`: 0 when the linker switched profiling off.
    pub mem_profile_rate: &'static str,
    /// `var mProfCycle mProfCycleHolder`.
    pub mprof_cycle: &'static str,
    /// Functions that all use `mbuckets` (stripped binaries: the
    /// operands they share).
    pub bucket_users: [&'static str; 2],
    /// Functions that all read `mProfCycle` with 32-bit operations.
    pub cycle_users: [&'static str; 3],
    /// Functions that all read or write `MemProfileRate` (64-bit).
    pub rate_users: [&'static str; 3],
}

impl HeapProfileSymbols {
    /// Same names in every supported version.
    pub const ALL: HeapProfileSymbols = HeapProfileSymbols {
        mbuckets: "runtime.mbuckets",
        mem_profile_rate: "runtime.MemProfileRate",
        mprof_cycle: "runtime.mProfCycle",
        bucket_users: ["runtime.mProf_FlushLocked", "runtime.stkbucket"],
        cycle_users: [
            "runtime.mProf_Free",
            "runtime.mProf_Flush",
            "runtime.gcSweep",
        ],
        rate_users: [
            "runtime.profilealloc",
            "runtime.schedinit",
            "runtime.allocmcache",
        ],
    };
}

/// Go 1.21–1.22 (`maxStack = 32`).
pub const HEAP_PROFILE_121: HeapProfileLayout = HeapProfileLayout {
    bucket_allnext: 8,
    bucket_typ: 16,
    bucket_size: 32,
    bucket_nstk: 40,
    bucket_header: 48,
    mem_profile: 1,
    max_stack: 32,
    record_active: 0,
    record_future: 32,
    futures: 3,
    cycle_size: 32,
    cycle_allocs: 0,
    cycle_frees: 8,
    cycle_holder_value: 0,
    symbols: HeapProfileSymbols::ALL,
};

/// Go 1.23–1.26: `maxProfStackDepth = 1024`.
pub const HEAP_PROFILE_123: HeapProfileLayout = HeapProfileLayout {
    max_stack: 1024,
    ..HEAP_PROFILE_121
};

/// Go 1.27: `memRecordCycle` is `{allocs, frees}` (16 bytes).
pub const HEAP_PROFILE_127: HeapProfileLayout = HeapProfileLayout {
    record_future: 16,
    cycle_size: 16,
    ..HEAP_PROFILE_123
};
