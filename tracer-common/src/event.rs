//! Wire types: map keys, map values and ring-buffer events.

use crate::maps::MAX_FRAMES;

/// A user stack: PCs innermost first. Unused slots are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Stack {
    pub pcs: [u64; MAX_FRAMES],
}

impl Stack {
    pub const fn zeroed() -> Self {
        Stack {
            pcs: [0; MAX_FRAMES],
        }
    }

    /// The captured frames (up to the first zero PC).
    pub fn frames(&self) -> &[u64] {
        let n = self
            .pcs
            .iter()
            .position(|&pc| pc == 0)
            .unwrap_or(MAX_FRAMES);
        &self.pcs[..n]
    }
}

/// Key of the in-kernel allocation counts: one per (stack, requested size, scan).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllocKey {
    /// Hash of the stack; the stack itself is in `STACKS` under this id. 0 = stack not stored.
    pub stack_id: u64,
    /// Requested size in bytes (the `size` argument of the allocation function).
    pub size: u64,
    /// 1 if the allocated type contains pointers (changes the size class rounding).
    pub scan: u32,
    pub _pad: u32,
}

/// Key of the in-kernel on-CPU sample counts.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuKey {
    /// Id in the `CPU_STACKS` stack-trace map (`CPU_NO_STACK`: not stored).
    pub stack_id: u32,
    /// `cpu_flags` bits.
    pub flags: u32,
}

/// Bits of `CpuKey::flags`.
pub mod cpu_flags {
    /// The target was in the kernel (a syscall, a fault, a probe's trap).
    pub const KERNEL: u32 = 1;
    /// Map operations were watched (their probes attached): the operation
    /// counts cover this sample's moment.
    pub const MAPS_WATCHED: u32 = 2;
}

/// Event kinds carried on the ring buffer.
pub mod kind {
    /// An allocation that could not be counted in the kernel map (map full).
    pub const ALLOC: u32 = 1;
    /// A timed function returned.
    pub const FUNC_TIME: u32 = 2;
    /// runtime.newproc1 returned a new goroutine.
    pub const GO_CREATE: u32 = 3;
    /// A goroutine exited (runtime.goexit1).
    pub const GO_EXIT: u32 = 4;
    /// The runtime called madvise.
    pub const MADVISE: u32 = 5;
    /// A map or sync.Map operation returned (or a growth started).
    pub const MAP_OP: u32 = 6;
    /// An object sampled for liveness (`LiveEvent`).
    pub const LIVE_SAMPLE: u32 = 7;
    /// A window's hits reached its allowance (`config::SAMPLES_WAKE_AT`,
    /// `config::MAP_OP_WAKE_AT`; a `WindowSpent`).
    pub const WINDOW_SPENT: u32 = 8;
}

/// Ring-buffer record: a sampling window has spent its allowance (sent
/// with a forced wakeup, so that the reader closes the window at once).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WindowSpent {
    pub kind: u32,
    pub counter: u32,
}

/// Ring-buffer record: one map or sync.Map operation, entry to RET.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MapEvent {
    pub kind: u32,
    /// `map_op::*`.
    pub op: u32,
    /// Map header (`*hmap`, `*maps.Map`) or `*sync.Map`.
    pub map: u64,
    /// `*abi.MapType` when the function takes it, else 0.
    pub map_type: u64,
    /// Entry (after the prologue) to RET; 0 for entry-only points.
    pub duration_ns: u64,
    /// Stack at creation (makemap) or at the first operation seen on this
    /// map; 0 when the map was seen before.
    pub stack_id: u64,
    /// Return address of the probed call: its inline tree tells
    /// `sync.(*Map).Store` from `Swap`, `Delete` from `LoadAndDelete`.
    pub ret_pc: u64,
    /// Boolean result (`ok`, `loaded`) for the points that have one, else
    /// u64::MAX; for a read/dirty `sync.Map` Range, `len(read.m)`.
    pub result: u64,
    /// Stored value of a sync.Map store: interface type word, data word, and
    /// the first 16 bytes the data word points to (zero-value detection).
    pub value_type: u64,
    pub value_data: u64,
    pub value_bytes: [u64; 2],
}

/// Operations of `MapEvent::op` (and of attach cookies, `map_cookie`).
pub mod map_op {
    pub const ACCESS: u32 = 1;
    pub const ASSIGN: u32 = 2;
    pub const DELETE: u32 = 3;
    pub const ITERATE: u32 = 4;
    pub const CLEAR: u32 = 5;
    /// makemap*: `map` is the returned header.
    pub const MAKE: u32 = 6;
    /// The map starts growing (hashGrow, rehash, growToSmall/Table).
    pub const GROW: u32 = 7;
    pub const SYNC_LOAD: u32 = 16;
    /// sync.Map Swap, or Store (told apart by `ret_pc`).
    pub const SYNC_SWAP: u32 = 17;
    pub const SYNC_LOAD_OR_STORE: u32 = 18;
    /// LoadAndDelete, or Delete (told apart by `ret_pc`).
    pub const SYNC_LOAD_AND_DELETE: u32 = 19;
    pub const SYNC_RANGE: u32 = 20;
    /// Operations at or above this are sync.Map ones.
    pub const FIRST_SYNC: u32 = 16;
}

/// Attach cookie of the map probes: which operation, and where its
/// arguments and result are (register numbers of `map_cookie::REGS`).
pub mod map_cookie {
    /// Register numbers, in Go's ABIInternal argument order.
    pub const RAX: u64 = 0;
    pub const RBX: u64 = 1;
    pub const RCX: u64 = 2;
    pub const RDI: u64 = 3;
    pub const RSI: u64 = 4;
    pub const R8: u64 = 5;
    pub const NONE: u64 = 0xf;
    pub const OP_MASK: u64 = 0xff;
    pub const MAP_REG_SHIFT: u32 = 8;
    pub const TYPE_REG_SHIFT: u32 = 12;
    /// Interface value stored (type word; data word in the next register).
    pub const VALUE_REG_SHIFT: u32 = 16;
    /// Boolean result register at RET.
    pub const RESULT_REG_SHIFT: u32 = 20;
    /// This probe is on a RET (else: after the prologue, or at the entry).
    pub const AT_RET: u64 = 1 << 24;
    /// The entry probe sits after the prologue.
    pub const AFTER_PROLOGUE: u64 = 1 << 25;
    /// Entry only: send the event at once, no RET probe (growth points).
    pub const INSTANT: u64 = 1 << 26;
    /// At RET of a read/dirty sync.Map Range: read len(read.m).
    pub const READ_LEN: u64 = 1 << 27;

    pub const fn reg(cookie: u64, shift: u32) -> u64 {
        (cookie >> shift) & 0xf
    }
}

/// Ring-buffer record: a goroutine created or exited.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GoEvent {
    pub kind: u32,
    pub _pad: u32,
    pub goid: u64,
    /// Address of the `runtime.g` (creation only).
    pub g: u64,
    /// PC of the `go` statement (runtime address; creation only).
    pub gopc: u64,
    /// Entry PC of the goroutine's function (creation only).
    pub startpc: u64,
}

/// Ring-buffer record: one madvise call by the Go runtime.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MadviseEvent {
    pub kind: u32,
    /// MADV_* value.
    pub advice: u32,
    pub addr: u64,
    pub len: u64,
    /// The runtime's caller stack (scavenger, debug.FreeOSMemory, GC...).
    pub stack_id: u64,
}

/// Key of an in-flight timed call: recursion nests by `depth`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncStartKey {
    pub goid: u64,
    pub func_id: u32,
    pub depth: u32,
}

/// Ring-buffer record: one timed call, entry (after the prologue) to RET.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncEvent {
    pub kind: u32,
    pub func_id: u32,
    pub goid: u64,
    pub duration_ns: u64,
}

/// Ring-buffer record for an allocation the kernel could not aggregate.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AllocEvent {
    pub kind: u32,
    /// Allocations this record stands for (a sample's weight; 1 in exact mode).
    pub weight: u32,
    pub key: AllocKey,
}

/// Ring-buffer record: the object a span refill (or a large allocation)
/// hands out, sampled for liveness. Small objects: the slot is
/// `freeindex + trailing_zeros(alloc_cache)` of the span; large: slot 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LiveEvent {
    pub kind: u32,
    /// 1: a large object.
    pub large: u32,
    /// The `*mspan` and its fields as the probe read them.
    pub span: u64,
    pub start: u64,
    pub freeindex: u64,
    pub alloc_cache: u64,
    pub elemsize: u64,
    pub spanclass: u64,
    /// `mheap_.sweepgen` when the object was handed out.
    pub sweepgen: u64,
    pub stack_id: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain old data, explicitly padded, no invalid bit patterns.
    unsafe impl aya::Pod for super::Stack {}
    unsafe impl aya::Pod for super::AllocKey {}
    unsafe impl aya::Pod for super::CpuKey {}
    unsafe impl aya::Pod for super::AllocEvent {}
    unsafe impl aya::Pod for super::FuncStartKey {}
    unsafe impl aya::Pod for super::FuncEvent {}
    unsafe impl aya::Pod for super::GoEvent {}
    unsafe impl aya::Pod for super::MadviseEvent {}
    unsafe impl aya::Pod for super::MapEvent {}
    unsafe impl aya::Pod for super::LiveEvent {}
}

const _: () = assert!(core::mem::size_of::<AllocKey>() == 24);
const _: () = assert!(core::mem::size_of::<AllocEvent>() == 32);
const _: () = assert!(core::mem::size_of::<CpuKey>() == 8);
const _: () = assert!(core::mem::size_of::<Stack>() == 8 * MAX_FRAMES);
const _: () = assert!(core::mem::size_of::<FuncStartKey>() == 16);
const _: () = assert!(core::mem::size_of::<FuncEvent>() == 24);
const _: () = assert!(core::mem::size_of::<GoEvent>() == 40);
const _: () = assert!(core::mem::size_of::<MadviseEvent>() == 32);
const _: () = assert!(core::mem::size_of::<MapEvent>() == 88);
