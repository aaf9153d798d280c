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
//! is off, and it looks every 2 ms again.
//!
//! The thread owns the [`Liveness`] and shares no lock with the run loop:
//! the loop runs at idle priority (`crate::background::steady`), and a
//! lock it held while preempted by a target busy collecting kept the
//! thread from every look until the target's GC calls were over (the
//! in-use test in CI, Go 1.22: 0 of 102 samples alive, 31 dropped). New
//! samples and requests for a [`Snapshot`] go to it by channel, with an
//! eventfd to wake it; it answers on a channel of the caller's. The thread
//! ends with the session (when the [`GcWatch`] is dropped).
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};
use tracer_common::LiveEvent;

use super::liveness::{Liveness, Snapshot};
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
/// How long a report waits for the thread's [`Snapshot`] (it answers
/// between looks: within ~20 ms, longer only while it reads many spans).
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

enum Msg {
    Samples(Vec<LiveEvent>),
    Snapshot(Sender<Snapshot>),
}

/// Wakes the thread: an eventfd it polls with the GC wakeup's ring.
struct Bell(OwnedFd);

impl Bell {
    fn new() -> std::io::Result<Bell> {
        // SAFETY: a plain system call; the descriptor is owned from here.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(Bell(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: 8 valid bytes, for the call's duration.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), 8) };
    }

    fn clear(&self) {
        let mut n = [0u8; 8];
        // SAFETY: 8 valid bytes, for the call's duration.
        unsafe { libc::read(self.0.as_raw_fd(), n.as_mut_ptr().cast(), 8) };
    }
}

pub struct GcWatch {
    inner: Inner,
    /// The last snapshot the thread gave, should it not answer in time.
    last: Mutex<Snapshot>,
}

enum Inner {
    Thread {
        to: Sender<Msg>,
        bell: Arc<Bell>,
    },
    /// The system refused a thread (or an eventfd): the owner's
    /// [`GcWatch::hand_over`] calls are the only looks.
    Here {
        liveness: Box<Liveness>,
        mem: ProcMem,
    },
}

impl GcWatch {
    /// Starts watching for `liveness`'s objects in `mem`; `wake`: the
    /// ring buffer whose records say a GC cycle is starting, if its probe
    /// could be attached.
    pub fn start(liveness: Liveness, mem: ProcMem, wake: Option<RingBuf<MapData>>) -> GcWatch {
        let last = Mutex::new(liveness.snapshot());
        let Ok(bell) = Bell::new().map(Arc::new) else {
            return GcWatch::here(liveness, mem, last);
        };
        let (to, from) = mpsc::channel();
        // Handed back should the thread not start.
        let slot = Arc::new(Mutex::new(Some(liveness)));
        let (theirs, their_bell) = (Arc::clone(&slot), Arc::clone(&bell));
        // At normal priority, whoever starts it: a late look lets a
        // cycle pass unseen (`crate::background::steady`).
        let started = crate::background::foreground(|| {
            thread::Builder::new()
                .name("tracer-gc-watch".into())
                .spawn(move || {
                    let taken = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                    if let Some(l) = taken {
                        run(l, &from, &their_bell, mem, wake);
                    }
                })
        });
        match started {
            Ok(_) => GcWatch {
                inner: Inner::Thread { to, bell },
                last,
            },
            Err(_) => {
                let l = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                GcWatch::here(l.expect("the thread never started"), mem, last)
            }
        }
    }

    fn here(liveness: Liveness, mem: ProcMem, last: Mutex<Snapshot>) -> GcWatch {
        GcWatch {
            inner: Inner::Here {
                liveness: Box::new(liveness),
                mem,
            },
            last,
        }
    }

    /// Hands over new samples: the thread follows them from its next look
    /// (woken at once); without a thread, they are added and the spans
    /// read now.
    pub fn hand_over(&mut self, events: &mut Vec<LiveEvent>) {
        match &mut self.inner {
            Inner::Thread { to, bell } => {
                if events.is_empty() {
                    return;
                }
                let _ = to.send(Msg::Samples(std::mem::take(events)));
                bell.ring();
            }
            Inner::Here { liveness, mem } => {
                for ev in events.drain(..) {
                    liveness.add(&ev);
                }
                liveness.check(mem);
            }
        }
    }

    /// What a report needs, as of now: the thread's answer (it has taken
    /// every sample handed over before), or its last should it not answer
    /// within `ANSWER_WITHIN` (1 s).
    pub fn snapshot(&self) -> Snapshot {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &self.inner {
            Inner::Thread { to, bell } => {
                let (reply, answer) = mpsc::channel();
                if to.send(Msg::Snapshot(reply)).is_ok() {
                    bell.ring();
                    if let Ok(s) = answer.recv_timeout(ANSWER_WITHIN) {
                        *last = s;
                    }
                }
            }
            Inner::Here { liveness, .. } => *last = liveness.snapshot(),
        }
        last.clone()
    }
}

impl Drop for GcWatch {
    fn drop(&mut self) {
        // Closed first, so that the thread, woken, sees it closed and ends.
        if let Inner::Thread { to, bell } = &mut self.inner {
            drop(std::mem::replace(to, mpsc::channel().0));
            bell.ring();
        }
    }
}

/// Waits until the bell rang, `ring` (if any) has a record, or `timeout`
/// passed; whether `ring` has one.
fn wait(bell: &Bell, ring: Option<&RingBuf<MapData>>, timeout: Duration) -> bool {
    let fd = |fd: libc::c_int| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [
        fd(bell.0.as_raw_fd()),
        fd(ring.map_or(-1, |r| r.as_fd().as_raw_fd())),
    ];
    let ms = timeout.as_millis().clamp(1, 1_000) as libc::c_int;
    // SAFETY: two valid pollfds (a negative fd is ignored), for the
    // call's duration.
    unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    fds[1].revents & libc::POLLIN != 0
}

fn run(
    mut l: Liveness,
    from: &Receiver<Msg>,
    bell: &Bell,
    mem: ProcMem,
    mut wake: Option<RingBuf<MapData>>,
) {
    let mut last_gc = Instant::now();
    // The last record of the wakeup probe: cycles seen without records
    // lately mean it is detached (GC cycles too frequent for it).
    let mut last_wake: Option<Instant> = None;
    let mut answers = Vec::new();
    loop {
        let following = l.following();
        let probed = last_wake.is_some_and(|t| t.elapsed() < QUIET_AFTER);
        let every = if !following {
            IDLE
        } else if !probed && last_gc.elapsed() < QUIET_AFTER {
            WATCH_EVERY
        } else {
            WATCH_QUIET
        };
        let ring = wake.as_mut().filter(|_| following);
        let mut started = false;
        if wait(bell, ring.as_deref(), every) {
            if let Some(ring) = ring {
                while ring.next().is_some() {
                    started = true;
                }
            }
            if started {
                last_wake = Some(Instant::now());
            }
        }
        bell.clear();
        let mut added = false;
        loop {
            match from.try_recv() {
                Ok(Msg::Samples(events)) => {
                    for ev in &events {
                        l.add(ev);
                    }
                    added = true;
                }
                Ok(Msg::Snapshot(reply)) => answers.push(reply),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        if added {
            l.check(&mem);
        }
        // A cycle is starting: it marks within a few hundred µs, once
        // the world is stopped and started again.
        let until = Instant::now() + SETTLE_MAX;
        loop {
            if l.watch(&mem) {
                last_gc = Instant::now();
            }
            if !started || !l.following() || l.saw_marking() || Instant::now() >= until {
                break;
            }
            thread::sleep(SETTLE_EVERY);
        }
        for reply in answers.drain(..) {
            let _ = reply.send(l.snapshot());
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
        let mut w = GcWatch::start(
            Liveness::new(m, &*sweepgen as *const AtomicU32 as u64, None),
            mem,
            None,
        );
        assert!(matches!(w.inner, Inner::Thread { .. }));
        w.hand_over(&mut vec![ev]);
        // Answered after the samples handed over before.
        assert_eq!(w.snapshot().sampled, 1, "the sample is followed");
        let alive = || w.snapshot().fates.values().map(|f| f.alive).sum::<u64>();
        assert_eq!(alive(), 0, "no GC yet");
        sweepgen.store(12, Ordering::SeqCst);
        let start = Instant::now();
        while alive() == 0 && start.elapsed() < Duration::from_secs(2) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(alive(), 1, "the thread judged the object");
        assert_eq!(w.snapshot().sweepgen, 12);
    }
}
