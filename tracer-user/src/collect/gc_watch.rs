//! The GC watch of sampled liveness on its own thread: every
//! [`WATCH_EVERY`] while objects are followed (every 10 ms once no cycle
//! came for a second) it looks for a GC cycle that
//! ended or started marking ([`Liveness::watch`]: two words, one read) and
//! reads the spans then. A cycle that passes unobserved makes the fate of
//! every object it could have freed unknown (dropped samples), and the
//! session's loop blocks for 5–15 ms at a time while it attaches or
//! detaches probes (up to ~300 ms for the map group): watched from that
//! loop, a target that collects every few ms (a small heap, a burst, two
//! `runtime.GC()` calls in a row) lost a cycle in about 1 run in 10 of the
//! in-use test. While `runtime.gcResetMarkState` is probed
//! (`Probes::attach_gc_wake`: one hit a GC cycle, as it starts; the
//! sampler detaches it when cycles are too frequent), the thread also wakes
//! as each cycle starts and looks every 100 µs until it marks, so no cycle
//! passes unseen between looks (a quiet program's `runtime.GC()` twice in a
//! row did, between two looks 10 ms apart: 1 run in 6), and it looks every
//! 10 ms besides; cycles seen with no wakeup for a second mean the probe
//! is off, and it looks every 2 ms again. The thread ends with the session
//! (when the last [`GcWatch`] is dropped).
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use super::liveness::Liveness;
use crate::tracee::procmem::ProcMem;

/// How often the thread looks while objects are followed and GC cycles
/// came lately (they come in runs: a target that allocates fast, two
/// `runtime.GC()` calls)…
pub const WATCH_EVERY: Duration = Duration::from_millis(2);
/// …and once no cycle came for [`QUIET_AFTER`]: a look costs the tracer
/// ~15 µs of CPU (a wakeup, a read), 7–10 ms a second at 2 ms.
const WATCH_QUIET: Duration = Duration::from_millis(10);
const QUIET_AFTER: Duration = Duration::from_secs(1);
/// Woken as a GC cycle starts (before it stops the world), it looks this
/// often until the cycle marks, for at most [`SETTLE_MAX`].
const SETTLE_EVERY: Duration = Duration::from_micros(100);
const SETTLE_MAX: Duration = Duration::from_millis(20);
/// How long it sleeps with nothing to follow, unless woken by new samples.
const IDLE: Duration = Duration::from_millis(200);

pub struct GcWatch {
    liveness: Arc<Mutex<Liveness>>,
    thread: Option<Thread>,
}

impl GcWatch {
    /// Starts watching for `liveness`'s objects in `mem`; `wake`: the
    /// ring buffer whose records say a GC cycle is starting, if its probe
    /// could be attached. Without a thread (the system refused one)
    /// the owner's [`GcWatch::check`] calls are the only looks.
    pub fn start(liveness: Liveness, mem: ProcMem, wake: Option<RingBuf<MapData>>) -> GcWatch {
        let liveness = Arc::new(Mutex::new(liveness));
        let weak = Arc::downgrade(&liveness);
        // At normal priority, whoever starts it: a late look lets a
        // cycle pass unseen (`crate::background::steady`).
        let thread = crate::background::foreground(|| {
            thread::Builder::new()
                .name("tracer-gc-watch".into())
                .spawn(move || run(&weak, mem, wake))
        })
        .ok()
        .map(|h| h.thread().clone());
        GcWatch { liveness, thread }
    }

    pub fn lock(&self) -> MutexGuard<'_, Liveness> {
        lock(&self.liveness)
    }

    /// Takes new samples and checks now; wakes the thread when they are
    /// the first it has to follow (it sleeps `IDLE` meanwhile).
    pub fn check(&self, add: impl FnOnce(&mut Liveness), mem: &ProcMem) {
        let mut l = self.lock();
        let was_following = l.following();
        add(&mut l);
        l.check(mem);
        let following = l.following();
        drop(l);
        if following && !was_following {
            if let Some(t) = &self.thread {
                t.unpark();
            }
        }
    }
}

impl Drop for GcWatch {
    fn drop(&mut self) {
        // The thread sees the liveness gone at its next look.
        if let Some(t) = &self.thread {
            t.unpark();
        }
    }
}

/// Waits until `ring` has a record or `timeout` passed.
fn wait_readable(ring: &RingBuf<MapData>, timeout: Duration) {
    let mut fd = libc::pollfd {
        fd: ring.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, 1_000) as libc::c_int;
    // SAFETY: one valid pollfd, for the call's duration.
    unsafe { libc::poll(&mut fd, 1, ms) };
}

fn lock(l: &Mutex<Liveness>) -> MutexGuard<'_, Liveness> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(liveness: &Weak<Mutex<Liveness>>, mem: ProcMem, mut wake: Option<RingBuf<MapData>>) {
    let mut following = false;
    let mut last_gc = Instant::now();
    // The last record of the wakeup probe: cycles seen without records
    // lately mean it is detached (GC cycles too frequent for it).
    let mut last_wake: Option<Instant> = None;
    loop {
        let probed = last_wake.is_some_and(|t| t.elapsed() < QUIET_AFTER);
        let every = if !following {
            IDLE
        } else if !probed && last_gc.elapsed() < QUIET_AFTER {
            WATCH_EVERY
        } else {
            WATCH_QUIET
        };
        let mut started = false;
        match wake.as_mut().filter(|_| following) {
            Some(ring) => {
                wait_readable(ring, every);
                while ring.next().is_some() {
                    started = true;
                }
                if started {
                    last_wake = Some(Instant::now());
                }
            }
            // New samples unpark it.
            None => thread::park_timeout(every),
        }
        // A cycle is starting: it marks within a few hundred µs, once
        // the world is stopped and started again.
        let until = Instant::now() + SETTLE_MAX;
        loop {
            let Some(l) = liveness.upgrade() else { return };
            let mut l = lock(&l);
            if l.watch(&mem) {
                last_gc = Instant::now();
            }
            following = l.following();
            if !started || !following || l.saw_marking() || Instant::now() >= until {
                break;
            }
            drop(l);
            thread::sleep(SETTLE_EVERY);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use tracer_common::LiveEvent;

    use super::*;

    /// A fake heap in this process: the thread, not its owner, sees a GC
    /// end and decides the object's fate.
    #[test]
    fn the_thread_sees_a_gc_its_owner_never_looked_at() {
        let m = crate::tracee::golayout::layout_for(1, 25)
            .unwrap()
            .alloc_stats
            .mspan;
        let sweepgen = Box::new(AtomicU32::new(10));
        let bits = Box::new([0u8, 0b10, 0, 0, 0, 0, 0, 0]);
        // Swept for sweepgen 12, slot 9 marked: the bits of the next GC.
        let mut span = vec![0u8; 256];
        span[m.start_addr as usize..][..8].copy_from_slice(&0xc000_0000u64.to_le_bytes());
        span[m.spanclass as usize] = 10;
        span[m.state as usize] = m.state_in_use;
        span[m.sweepgen as usize..][..4].copy_from_slice(&12u32.to_le_bytes());
        span[m.alloc_bits as usize..][..8].copy_from_slice(&(bits.as_ptr() as u64).to_le_bytes());
        let mem = ProcMem::new(std::process::id());
        let ev = LiveEvent {
            kind: 0,
            large: 0,
            span: span.as_ptr() as u64,
            start: 0xc000_0000,
            freeindex: 9,
            alloc_cache: 1,
            elemsize: 64,
            spanclass: 10,
            sweepgen: 10,
            stack_id: 7,
        };
        let w = GcWatch::start(
            Liveness::new(m, &*sweepgen as *const AtomicU32 as u64, None),
            mem,
            None,
        );
        w.check(|l| l.add(&ev), &mem);
        let alive = || w.lock().fates().values().map(|f| f.alive).sum::<u64>();
        assert_eq!(alive(), 0, "no GC yet");
        sweepgen.store(12, Ordering::SeqCst);
        let start = Instant::now();
        while alive() == 0 && start.elapsed() < Duration::from_secs(2) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(alive(), 1, "the thread judged the object");
        assert_eq!(w.lock().sweepgen, 12);
    }
}
