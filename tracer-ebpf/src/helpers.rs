//! Counters, user-memory reads and the frame-pointer stack walk.
use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_get_attach_cookie},
    programs::ProbeContext,
    EbpfContext,
};
use core::intrinsics::{atomic_xadd, AtomicOrdering};
use tracer_common::{
    counter, kind, Stack, WindowSpent, COOKIE_STEPPED, EVENTS_BYTES, MAX_FRAMES, NEAR_BYTES as NEAR,
};

use crate::maps::{CONFIG, COUNTERS, EVENTS, STACKS};

/// Adds `n` to a u64 in a shared map value (BPF atomic add).
#[inline(always)]
pub fn atomic_add(p: *mut u64, n: u64) {
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, n) };
}

#[inline(always)]
pub fn bump(index: u32) {
    if let Some(p) = COUNTERS.get_ptr_mut(index) {
        atomic_add(p, 1);
    }
}

/// Counts a hit of a windowed program at counter `index`; the hit that
/// reaches the count in `CONFIG[wake_at]` (set when its window opened)
/// clears it and wakes the reader at once, which closes the window: a
/// window opened in a quiet moment that a burst overtakes is closed within
/// a wakeup, not at the reader's next check (~1,000 hits later at 170,000 a
/// second).
#[inline(always)]
pub fn window_hit(index: u32, wake_at: u32) {
    let Some(n) = COUNTERS.get_ptr_mut(index) else {
        return;
    };
    atomic_add(n, 1);
    let Some(at) = CONFIG.get_ptr_mut(wake_at) else {
        return;
    };
    let limit = unsafe { core::ptr::read_volatile(at) };
    if limit != 0 && unsafe { core::ptr::read_volatile(n) } >= limit {
        unsafe { core::ptr::write_volatile(at, 0) };
        let spent = WindowSpent {
            kind: kind::WINDOW_SPENT,
            counter: index,
        };
        send(spent, true);
    }
}

/// Counts a probe hit (and, at a single-stepped point, a stepped hit of
/// all probes and of `group`'s counter when there is one); returns the
/// point's attach cookie.
#[inline(always)]
pub fn hit(ctx: &ProbeContext, group: Option<u32>) -> u64 {
    bump(counter::PROBE_HITS);
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    if cookie & COOKIE_STEPPED != 0 {
        bump(counter::STEPPED_HITS);
        if let Some(g) = group {
            bump(g);
        }
    }
    cookie
}

/// A setting written by userspace (`tracer_common::config`); 0 when unset.
#[inline(always)]
pub fn config(i: u32) -> u64 {
    CONFIG.get(i).copied().unwrap_or(0)
}

/// `bpf_ringbuf_query` / `bpf_ringbuf_submit` flags.
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// Records wake the reader only once this many bytes wait (a quarter of
/// the buffer); below it the run loop drains on its own at least every
/// 200 ms, and at every window close and report.
const WAKE_AT: u64 = EVENTS_BYTES as u64 / 4;

/// Streams one record on the ring buffer; a full buffer counts as LOST.
/// Returns whether it was sent.
///
/// A default submit wakes the reader whenever it has caught up, i.e. at
/// nearly every record of a probe that fires a few thousand times a
/// second: an irq_work and a cross-CPU wakeup in the probed thread's
/// context each time (in a VM, exits), which cost more than the program's
/// own work. The reader is woken only when the buffer fills up.
#[inline(always)]
pub fn emit<T: 'static>(record: T) -> bool {
    let sent = send(record, false);
    if !sent {
        bump(counter::LOST);
    }
    sent
}

/// Puts one record on the ring buffer, waking the reader if `now` or if
/// the buffer is filling up (see [`emit`]); whether there was room.
#[inline(always)]
fn send<T: 'static>(record: T, now: bool) -> bool {
    let Some(mut e) = EVENTS.reserve::<T>(0) else {
        return false;
    };
    e.write(record);
    let flags = if now || EVENTS.query(BPF_RB_AVAIL_DATA) >= WAKE_AT {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    e.submit(flags);
    true
}

#[inline(always)]
pub fn read_u64(addr: u64) -> Option<u64> {
    unsafe { bpf_probe_read_user(addr as *const u64) }.ok()
}

/// A frame's two words at `bp`, the saved BP and the return address, in
/// one read: half the helper calls of a walk that reads them one by one.
#[inline(always)]
fn read_frame(bp: u64) -> Option<[u64; 2]> {
    unsafe { bpf_probe_read_user(bp as *const [u64; 2]) }.ok()
}

/// Walks the Go frame-pointer chain of the probed goroutine and stores the
/// stack in `STACKS`. Returns the stack id (0 when it could not be stored) and
/// whether it was truncated. The stack is built on the BPF stack (256 bytes):
/// a per-CPU buffer could be overwritten by another thread preempting us.
///
/// After the prologue (`PUSHQ BP; MOVQ SP, BP`) BP is the probed function's
/// frame: its return address is `*(BP+8)` and the caller's frame `*BP`. At
/// the very entry BP still holds the caller's frame and the return address
/// is at `*SP`. Go stacks grow down, so a valid chain strictly increases;
/// anything else ends the walk.
#[inline(always)]
pub fn capture_stack(ctx: &ProbeContext, after_prologue: bool) -> (u64, bool) {
    let regs = unsafe { &*ctx.regs };
    let mut stack = Stack::zeroed();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut bp = regs.rbp;
    let mut pc = if after_prologue {
        let [next, ret] = read_frame(bp).unwrap_or([0, 0]);
        bp = if next > bp { next } else { 0 };
        ret
    } else {
        read_u64(regs.rsp).unwrap_or(0)
    };
    let mut truncated = false;
    let mut i = 0;
    while i < MAX_FRAMES {
        stack.pcs[i] = pc;
        if pc != 0 {
            hash = (hash ^ pc).wrapping_mul(0x0100_0000_01b3);
            pc = 0;
            if bp != 0 {
                if let Some([next, ret]) = read_frame(bp) {
                    pc = ret;
                    bp = if next > bp { next } else { 0 };
                }
                if i == MAX_FRAMES - 1 && pc != 0 {
                    truncated = true;
                }
            }
        }
        i += 1;
    }
    let id = hash | 1;
    if STACKS.get_ptr(&id).is_some() || STACKS.insert(&id, &stack, 0).is_ok() {
        (id, truncated)
    } else {
        (0, truncated)
    }
}

/// Fields of a struct in target memory that lie within `NEAR_BYTES` of
/// one another, read with one helper call (each read of target memory is
/// a helper call; read one by one, a span's fields were a quarter of
/// `live_sample`'s run time). The layout tables keep the fields read
/// together within reach of the first (`golayout` tests it per Go
/// version); a field out of reach reads 0.
pub struct Near {
    first: u64,
    bytes: [u8; NEAR],
}

impl Near {
    /// The bytes at `addr` + the offset in config entry `first`.
    #[inline(always)]
    pub fn read(addr: u64, first: u32) -> Option<Near> {
        let first = config(first);
        let bytes = unsafe { bpf_probe_read_user((addr + first) as *const [u8; NEAR]) }.ok()?;
        Some(Near { first, bytes })
    }

    /// The u64 at the offset in config entry `index` (a narrower field is
    /// in its low bytes). One load at a bounded offset: `black_box` keeps
    /// it a load the verifier can bound.
    #[inline(always)]
    pub fn field(&self, index: u32) -> u64 {
        // The first test is the one that matters (a field before the
        // first wraps to a large offset); the verifier does not see it
        // through `black_box`, so the mask and the second test bound the
        // load for it.
        let rel = config(index).wrapping_sub(self.first);
        if rel > (NEAR - 8) as u64 {
            return 0;
        }
        let rel = core::hint::black_box(rel) as usize & 0x1f;
        if rel > NEAR - 8 {
            return 0;
        }
        unsafe { core::ptr::read_unaligned(self.bytes.as_ptr().add(rel) as *const u64) }
    }
}
