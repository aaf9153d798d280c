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
}

const _: () = assert!(core::mem::size_of::<AllocKey>() == 24);
const _: () = assert!(core::mem::size_of::<AllocEvent>() == 32);
const _: () = assert!(core::mem::size_of::<Stack>() == 8 * MAX_FRAMES);
