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
    pub _pad: u32,
    pub key: AllocKey,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain old data, explicitly padded, no invalid bit patterns.
    unsafe impl aya::Pod for super::Stack {}
    unsafe impl aya::Pod for super::AllocKey {}
    unsafe impl aya::Pod for super::AllocEvent {}
    unsafe impl aya::Pod for super::FuncStartKey {}
    unsafe impl aya::Pod for super::FuncEvent {}
    unsafe impl aya::Pod for super::GoEvent {}
    unsafe impl aya::Pod for super::MadviseEvent {}
}

const _: () = assert!(core::mem::size_of::<AllocKey>() == 24);
const _: () = assert!(core::mem::size_of::<AllocEvent>() == 32);
const _: () = assert!(core::mem::size_of::<Stack>() == 8 * MAX_FRAMES);
const _: () = assert!(core::mem::size_of::<FuncStartKey>() == 16);
const _: () = assert!(core::mem::size_of::<FuncEvent>() == 24);
const _: () = assert!(core::mem::size_of::<GoEvent>() == 40);
const _: () = assert!(core::mem::size_of::<MadviseEvent>() == 32);
