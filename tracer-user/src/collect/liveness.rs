//! Sampled object liveness: who holds the heap when the runtime's own heap
//! profile is off.
//!
//! In the allocation windows, `live_sample` (at the RETs of
//! `(*mcentral).cacheSpan` and `(*mcache).allocLarge`) reports the object
//! each span refill or large allocation hands out, with its span and the
//! heap's `sweepgen` of the moment. After each GC the span is read again,
//! read-only: the object is alive as of that GC when its span still holds
//! the same memory in the same size class, is in use, and has been swept
//! for that cycle with the object's bit set in `allocBits` (a sweep makes
//! the GC's mark bits the span's `allocBits`; a span allocated since has
//! them all clear). A span's `sweepgen` says which GC its bits are from:
//! `mheap_.sweepgen` (or +3, swept then cached) for the last one, −2 (or
//! +1, cached before the sweep) for the one before, −1 while it is swept.
//! An object is decided at the first GC after its allocation, then at each
//! GC; if a GC cycle went unobserved and the bit is set, the slot may have
//! been freed and reused meanwhile, so the sample is dropped and counted.
//! The current cycle's mark bits are never read (Go ≥ 1.26 keeps some
//! inline at the span's end until the sweep).
//!
//! Estimates scale by size class to the runtime's own counts
//! ([`estimate`]): the class's objects allocated since attach that are live
//! now, shared among stacks by their alive samples.
use std::collections::HashMap;

use tracer_common::LiveEvent;

use crate::tracee::golayout::MspanLayout;
use crate::tracee::procmem::ProcMem;

/// Objects followed at most (alive, or waiting for their first GC).
const MAX_TRACKED: usize = 200_000;
/// Bytes of a span read per object: every field used, in every version.
const SPAN_READ: usize = 112;
/// Spans read per system call batch.
const BATCH: usize = 512;

/// Stack and size class (0: a large object) of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleKey {
    pub stack_id: u64,
    pub class: u8,
}

#[derive(Debug, Clone)]
struct Obj {
    key: SampleKey,
    span: u64,
    start: u64,
    spanclass: u8,
    slot: u64,
    bytes: u64,
    /// `sweepgen` of the last sweep that showed it alive, or of its
    /// allocation until the first.
    verified: u32,
    /// Seen alive after at least one GC.
    decided: bool,
}

/// What the samples of one key say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fates {
    pub alive: u64,
    pub alive_bytes: u64,
    pub dead: u64,
    /// Allocated since the last GC its span was swept for: not decided.
    pub pending: u64,
}

/// One key's estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub key: SampleKey,
    pub objects: f64,
    pub bytes: f64,
    pub alive_samples: u64,
    /// 95 % relative error of the estimate: the class's allocations are
    /// the runtime's own count, so only the key's share of the class's
    /// decided samples is uncertain (binomial: 1.96·√((1−p)/(n·p))).
    pub rel_error_95: f64,
}

/// The samples' fates and counts at one moment ([`Liveness::snapshot`]).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub fates: HashMap<SampleKey, Fates>,
    /// `mheap_.sweepgen` at the last check.
    pub sweepgen: u32,
    pub sampled: u64,
    pub pending: u64,
    pub dropped: u64,
    pub untracked: u64,
}

pub struct Liveness {
    mspan: MspanLayout,
    sweepgen_addr: u64,
    objs: Vec<Obj>,
    dead: HashMap<SampleKey, u64>,
    /// Samples whose fate could not be told (a GC went unobserved).
    pub dropped: u64,
    /// Samples not followed: more than `MAX_TRACKED` at once.
    pub untracked: u64,
    pub sampled: u64,
    /// `mheap_.sweepgen` at the last check.
    pub sweepgen: u32,
    /// `runtime.gcphase`, and the `sweepgen` of the last check made while
    /// the GC was marking.
    gcphase_addr: Option<u64>,
    marked_at: u32,
}

impl Liveness {
    /// `sweepgen_addr`: the target's `mheap_.sweepgen`; `gcphase_addr`:
    /// its `runtime.gcphase`, if found.
    pub fn new(mspan: MspanLayout, sweepgen_addr: u64, gcphase_addr: Option<u64>) -> Liveness {
        Liveness {
            mspan,
            sweepgen_addr,
            objs: Vec::new(),
            dead: HashMap::new(),
            dropped: 0,
            untracked: 0,
            sampled: 0,
            sweepgen: 0,
            gcphase_addr,
            marked_at: 0,
        }
    }

    /// Called every few ms (by [`super::gc_watch`]). Checks at once when a
    /// GC cycle ended since the last look (spans not swept again yet still
    /// show that cycle's bits), and once per cycle while the GC marks:
    /// sweep termination has just swept every span for the cycle that is
    /// ending, and none for the next one yet, so each object's bits of that
    /// cycle are there even where the program sweeps its spans again right
    /// after the GC. Returns whether it checked. Both words are read in one
    /// system call.
    pub fn watch(&mut self, mem: &ProcMem) -> bool {
        if self.objs.is_empty() {
            return false;
        }
        let mut words = [0u8; 8];
        let read = match self.gcphase_addr {
            Some(a) => mem.read_ranges(&[(self.sweepgen_addr, 4), (a, 4)], &mut words),
            None => mem.read(self.sweepgen_addr, &mut words[..4]),
        };
        if read.is_err() {
            return false;
        }
        let word = |at: usize| {
            u32::from_le_bytes([words[at], words[at + 1], words[at + 2], words[at + 3]])
        };
        let sg = word(0);
        let marking = self.gcphase_addr.is_some() && word(4) == 1;
        if sg != self.sweepgen || (marking && sg != self.marked_at) {
            if marking {
                self.marked_at = sg;
            }
            self.check(mem);
            return true;
        }
        false
    }

    /// The last look saw the current cycle marking (and checked then).
    pub fn saw_marking(&self) -> bool {
        self.gcphase_addr.is_none() || self.marked_at == self.sweepgen
    }

    pub fn add(&mut self, ev: &LiveEvent) {
        let large = ev.large != 0;
        let slot = if large {
            0
        } else if ev.alloc_cache == 0 {
            return;
        } else {
            ev.freeindex + u64::from(ev.alloc_cache.trailing_zeros())
        };
        self.sampled += 1;
        if self.objs.len() >= MAX_TRACKED {
            self.untracked += 1;
            return;
        }
        self.objs.push(Obj {
            key: SampleKey {
                stack_id: ev.stack_id,
                class: if large { 0 } else { (ev.spanclass >> 1) as u8 },
            },
            span: ev.span,
            start: ev.start,
            spanclass: ev.spanclass as u8,
            slot,
            bytes: ev.elemsize,
            verified: ev.sweepgen as u32,
            decided: false,
        });
    }

    /// Reads again the spans of the objects a GC may have decided.
    pub fn check(&mut self, mem: &ProcMem) {
        let Ok(sg) = mem.read_u32(self.sweepgen_addr) else {
            return;
        };
        self.sweepgen = sg;
        let due: Vec<usize> = (0..self.objs.len())
            .filter(|&i| sg >= self.objs[i].verified.wrapping_add(2))
            .collect();
        let mut fate: Vec<(usize, Verdict)> = Vec::new();
        for chunk in due.chunks(BATCH) {
            let spans = read_all(mem, chunk.iter().map(|&i| (self.objs[i].span, SPAN_READ)));
            let mut bit_reads = Vec::new();
            for (&i, span) in chunk.iter().zip(&spans) {
                let Some(span) = span else { continue };
                match self.judge_span(&self.objs[i], span, sg) {
                    SpanSays::Gone => fate.push((i, Verdict::Dead)),
                    SpanSays::Wait => {}
                    SpanSays::Bits { epoch, bits } => {
                        let o = &self.objs[i];
                        bit_reads.push((i, epoch, bits + o.slot / 8, (o.slot % 8) as u32));
                    }
                }
            }
            let bytes = read_all(mem, bit_reads.iter().map(|r| (r.2, 1)));
            for ((i, epoch, _, bit), byte) in bit_reads.into_iter().zip(bytes) {
                let Some(byte) = byte else { continue };
                let set = byte[0] >> bit & 1 == 1;
                let o = &self.objs[i];
                let verdict = if !set {
                    Verdict::Dead
                } else if epoch == o.verified.wrapping_add(2) {
                    Verdict::Alive(epoch)
                } else {
                    // Set, but a GC went unobserved: maybe another object
                    // in a reused slot.
                    if std::env::var_os("TRACER_DEBUG_LIVE").is_some() {
                        eprintln!("live: drop {o:?} epoch {epoch} sg {sg}");
                    }
                    Verdict::Dropped
                };
                fate.push((i, verdict));
            }
        }
        let mut gone = vec![false; self.objs.len()];
        for (i, v) in fate {
            match v {
                Verdict::Alive(epoch) => {
                    self.objs[i].verified = epoch;
                    self.objs[i].decided = true;
                }
                Verdict::Dead => {
                    *self.dead.entry(self.objs[i].key).or_default() += 1;
                    gone[i] = true;
                }
                Verdict::Dropped => {
                    self.dropped += 1;
                    gone[i] = true;
                }
            }
        }
        let mut i = 0;
        self.objs.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }

    fn judge_span(&self, o: &Obj, span: &[u8], sg: u32) -> SpanSays {
        let m = &self.mspan;
        let word = |off: u64| {
            span.get(off as usize..off as usize + 8)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let byte = |off: u64| span.get(off as usize).copied().unwrap_or(0);
        if word(m.start_addr) != o.start
            || byte(m.spanclass) != o.spanclass
            || byte(m.state) != m.state_in_use
        {
            // Freed (all its objects dead) and maybe reused.
            return SpanSays::Gone;
        }
        let ssg = word(m.sweepgen) as u32;
        let epoch = if ssg == sg || ssg == sg.wrapping_add(3) {
            sg
        } else if ssg == sg.wrapping_sub(2) || ssg == sg.wrapping_add(1) {
            sg.wrapping_sub(2)
        } else {
            return SpanSays::Wait;
        };
        if epoch < o.verified.wrapping_add(2) {
            return SpanSays::Wait;
        }
        SpanSays::Bits {
            epoch,
            bits: word(m.alloc_bits),
        }
    }

    /// Each key's samples: alive, dead, pending.
    pub fn fates(&self) -> HashMap<SampleKey, Fates> {
        let mut out: HashMap<SampleKey, Fates> = HashMap::new();
        for o in &self.objs {
            let f = out.entry(o.key).or_default();
            if o.decided {
                f.alive += 1;
                f.alive_bytes += o.bytes;
            } else {
                f.pending += 1;
            }
        }
        for (k, &n) in &self.dead {
            out.entry(*k).or_default().dead += n;
        }
        out
    }

    /// What a report needs, taken at once (the GC watch waits meanwhile).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            fates: self.fates(),
            sweepgen: self.sweepgen,
            sampled: self.sampled,
            pending: self.pending(),
            dropped: self.dropped,
            untracked: self.untracked,
        }
    }

    /// Objects are followed (alive, or waiting for their first GC).
    pub fn following(&self) -> bool {
        !self.objs.is_empty()
    }

    /// Objects waiting for their first GC.
    pub fn pending(&self) -> u64 {
        self.objs.iter().filter(|o| !o.decided).count() as u64
    }
}

enum SpanSays {
    Gone,
    Wait,
    Bits { epoch: u32, bits: u64 },
}

enum Verdict {
    Alive(u32),
    Dead,
    Dropped,
}

/// Reads each range; a range that cannot be read is `None` (a batch read
/// first, one by one if the batch fails).
fn read_all(mem: &ProcMem, ranges: impl Iterator<Item = (u64, usize)>) -> Vec<Option<Vec<u8>>> {
    let ranges: Vec<(u64, usize)> = ranges.collect();
    let total: usize = ranges.iter().map(|r| r.1).sum();
    let mut buf = vec![0u8; total];
    if mem.read_ranges(&ranges, &mut buf).is_ok() {
        let mut at = 0;
        return ranges
            .iter()
            .map(|&(_, len)| {
                at += len;
                Some(buf[at - len..at].to_vec())
            })
            .collect();
    }
    ranges
        .iter()
        .map(|&(addr, len)| {
            let mut b = vec![0u8; len];
            mem.read(addr, &mut b).ok().map(|()| b)
        })
        .collect()
}

/// The runtime's own counts of one class, since liveness started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// Objects allocated since.
    pub allocated: u64,
    /// Live now, and live when liveness started (allocated − freed).
    pub live: u64,
    pub live_at_start: u64,
    /// The same in bytes (allocated, live, live at start), where the
    /// runtime counts them per object: large objects, whose sizes differ
    /// by orders of magnitude (a slice's backing array beside a 32 KiB
    /// buffer).
    pub bytes: Option<(u64, u64, u64)>,
}

/// A small-object class with fewer alive samples than this places none
/// (its young objects stay unattributed): one sample alive among a
/// churning class's many dead ones (the object a global still points at)
/// stood for 1/n of the class's allocations, megabytes at a site that
/// holds one object. Large objects are few and each sample is one: one
/// suffices.
pub const MIN_ALIVE: u64 = 2;

/// Per key, scaled by class. A class's objects allocated since the start
/// that are live now lie between `live − live_at_start` (every older one
/// still alive) and `min(live, allocated)`; within that the decided
/// samples' survival places them. The key gets its share of the class's
/// alive samples. Where older objects are few the bounds pin the figure
/// to the runtime's live count, whatever the sampling noise; but a rise
/// of the live count that the samples cannot have survived is garbage not
/// yet swept, no floor.
pub fn estimate(
    fates: &HashMap<SampleKey, Fates>,
    counts: &HashMap<u8, ClassCounts>,
) -> Vec<Estimate> {
    // (decided, alive, alive bytes) per class.
    let mut class: HashMap<u8, (u64, u64, u64)> = HashMap::new();
    for (k, f) in fates {
        let c = class.entry(k.class).or_default();
        c.0 += f.alive + f.dead;
        c.1 += f.alive;
        c.2 += f.alive_bytes;
    }
    let binomial = |p: f64, n: f64| 1.96 * ((1.0 - p).max(0.0) / (n * p)).sqrt();
    let mut out: Vec<Estimate> = fates
        .iter()
        .filter(|(_, f)| f.alive > 0)
        .filter_map(|(k, f)| {
            let &(decided, alive, alive_bytes) = class.get(&k.class)?;
            if alive < MIN_ALIVE && k.class != 0 {
                return None;
            }
            let cc = counts.get(&k.class)?;
            let survival = alive as f64 / decided as f64;
            // The most the samples allow to have survived (95 %, and a
            // couple of samples' worth for small counts).
            let n = decided as f64;
            let survival_hi =
                (survival + 1.96 * (survival * (1.0 - survival) / n).sqrt() + 2.0 / n).min(1.0);
            let young_of = |allocated: u64, live: u64, live_at_start: u64| {
                // The runtime's live count includes garbage its sweep has
                // not freed yet: a churning class's rises and falls by up
                // to a GC cycle's allocations. A rise the samples cannot
                // have survived is that, not a floor (one sample of a
                // churning class, alive by chance, got the whole rise).
                let rise = live.saturating_sub(live_at_start) as f64;
                let lo = if rise <= allocated as f64 * survival_hi {
                    rise
                } else {
                    0.0
                };
                let hi = live.min(allocated) as f64;
                ((allocated as f64 * survival).clamp(lo, hi.max(lo)), lo, hi)
            };
            let (young, lo, hi) = young_of(cc.allocated, cc.live, cc.live_at_start);
            let share = f.alive as f64 / alive as f64;
            let objects = young * share;
            // Objects of one size class weigh alike; where the runtime
            // counts bytes (large objects), the key's share of the alive
            // samples' bytes splits the young bytes instead.
            let bytes = match cc.bytes {
                Some((allocated, live, at_start)) if alive_bytes > 0 => {
                    young_of(allocated, live, at_start).0 * f.alive_bytes as f64
                        / alive_bytes as f64
                }
                _ => objects * f.alive_bytes as f64 / f.alive as f64,
            };
            // The bounds' width, or the survival's own error if smaller.
            let young_err = if young > 0.0 {
                ((hi - lo) / 2.0 / young).min(binomial(survival, decided as f64))
            } else {
                0.0
            };
            Some(Estimate {
                key: *k,
                objects,
                bytes,
                alive_samples: f.alive,
                rel_error_95: (binomial(share, alive as f64).powi(2) + young_err.powi(2)).sqrt(),
            })
        })
        .collect();
    out.sort_by_key(|e| e.key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stack_id: u64, class: u8) -> SampleKey {
        SampleKey { stack_id, class }
    }

    fn counts(allocated: u64, live: u64, live_at_start: u64) -> ClassCounts {
        ClassCounts {
            allocated,
            live,
            live_at_start,
            bytes: None,
        }
    }

    #[test]
    fn scales_each_class_within_the_runtimes_counts() {
        let fates: HashMap<SampleKey, Fates> = [
            // Class 5: 100 decided samples, 30 alive at stack 1, 10 alive
            // at stack 4, 60 dead at stack 2.
            (
                key(1, 5),
                Fates {
                    alive: 30,
                    alive_bytes: 30 * 64,
                    dead: 0,
                    pending: 3,
                },
            ),
            (
                key(4, 5),
                Fates {
                    alive: 10,
                    alive_bytes: 10 * 64,
                    dead: 0,
                    pending: 0,
                },
            ),
            (
                key(2, 5),
                Fates {
                    alive: 0,
                    alive_bytes: 0,
                    dead: 60,
                    pending: 0,
                },
            ),
            // Large: 2 of 4 alive.
            (
                key(3, 0),
                Fates {
                    alive: 2,
                    alive_bytes: 2 * 40960,
                    dead: 2,
                    pending: 0,
                },
            ),
        ]
        .into_iter()
        .collect();
        // Class 5: 10,000 allocated, 4,100 live now, 100 of them may be
        // older: 4,000–4,100 young, survival says 4,000. Large: 50
        // allocated, 30 live, 20 live at the start: 10–30 young, survival
        // says 25.
        let by_class: HashMap<u8, ClassCounts> =
            [(5, counts(10_000, 4_100, 100)), (0, counts(50, 30, 20))]
                .into_iter()
                .collect();
        let est = estimate(&fates, &by_class);
        // Sorted by key (stack, class); dead-only keys hold nothing.
        let keys: Vec<SampleKey> = est.iter().map(|e| e.key).collect();
        assert_eq!(keys, [key(1, 5), key(3, 0), key(4, 5)]);
        assert_eq!((est[0].objects, est[0].bytes), (3000.0, 3000.0 * 64.0));
        assert_eq!(est[2].objects, 1000.0);
        assert_eq!((est[1].objects, est[1].bytes), (25.0, 25.0 * 40960.0));
        // No older objects: the live count pins the class, whatever the
        // survival of the samples says.
        let pinned: HashMap<u8, ClassCounts> =
            [(5, counts(10_000, 4_100, 0))].into_iter().collect();
        let est = estimate(&fates, &pinned);
        assert_eq!(est[0].objects, 4_100.0 * 0.75);
        // The only key of its class, all alive, pinned: exact.
        let alone: HashMap<SampleKey, Fates> = [(
            key(1, 5),
            Fates {
                alive: 7,
                alive_bytes: 7 * 64,
                dead: 0,
                pending: 0,
            },
        )]
        .into_iter()
        .collect();
        let est = estimate(&alone, &pinned);
        assert_eq!((est[0].objects, est[0].rel_error_95), (4_100.0, 0.0));
        // A class without the runtime's counts: nothing.
        assert!(estimate(&fates, &HashMap::new()).is_empty());
    }

    fn layout() -> MspanLayout {
        crate::tracee::golayout::layout_for(1, 25)
            .unwrap()
            .alloc_stats
            .mspan
    }

    /// A span as `judge_span` reads it.
    fn span(start: u64, spanclass: u8, state: u8, sweepgen: u32, bits: u64) -> Vec<u8> {
        let m = layout();
        let mut s = vec![0u8; SPAN_READ];
        s[m.start_addr as usize..][..8].copy_from_slice(&start.to_le_bytes());
        s[m.spanclass as usize] = spanclass;
        s[m.state as usize] = state;
        s[m.sweepgen as usize..][..4].copy_from_slice(&sweepgen.to_le_bytes());
        s[m.alloc_bits as usize..][..8].copy_from_slice(&bits.to_le_bytes());
        s
    }

    #[test]
    fn a_churning_class_rise_is_unswept_garbage() {
        // 512-byte class: 440,000 allocated over a 10 s slice, 2,200
        // samples decided, one alive (the object a global still points
        // at); the live count is up 15,360 on the start (garbage the sweep
        // has not freed yet).
        let fates: HashMap<SampleKey, Fates> = [(
            key(1, 20),
            Fates {
                alive: 1,
                alive_bytes: 512,
                dead: 2_199,
                pending: 0,
            },
        )]
        .into_iter()
        .collect();
        let est = estimate(
            &fates,
            &[(20, counts(440_000, 16_000, 640))].into_iter().collect(),
        );
        // One alive sample places nothing (not the rise, nor 1/2,200 of
        // the allocations); two place 2/2,200 of them, not the rise.
        assert!(est.is_empty(), "{est:?}");
        let two: HashMap<SampleKey, Fates> = [(
            key(1, 20),
            Fates {
                alive: 2,
                alive_bytes: 1024,
                dead: 2_198,
                pending: 0,
            },
        )]
        .into_iter()
        .collect();
        let est = estimate(
            &two,
            &[(20, counts(440_000, 16_000, 640))].into_iter().collect(),
        );
        assert!((est[0].objects - 400.0).abs() < 1.0, "{}", est[0].objects);
        // A class whose samples survive keeps the rise as a floor.
        let kept: HashMap<SampleKey, Fates> = [(
            key(2, 20),
            Fates {
                alive: 5,
                alive_bytes: 5 * 512,
                dead: 5,
                pending: 0,
            },
        )]
        .into_iter()
        .collect();
        let est = estimate(
            &kept,
            &[(20, counts(20_000, 16_000, 0))].into_iter().collect(),
        );
        assert_eq!(est[0].objects, 16_000.0);
    }

    #[test]
    fn large_objects_split_by_bytes() {
        // Three large objects alive, 20 MiB in all, since the start; one
        // alive sample: a 2 MiB slice's backing array. By count and its
        // own size it would stand for 3 × 2 MiB, whatever the other two
        // weigh; by bytes its site gets the runtime's live large bytes
        // (it is the only site seen holding any).
        let fates: HashMap<SampleKey, Fates> = [(
            key(9, 0),
            Fates {
                alive: 1,
                alive_bytes: 2 << 20,
                dead: 0,
                pending: 0,
            },
        )]
        .into_iter()
        .collect();
        let mut large = counts(3, 3, 0);
        large.bytes = Some((20 << 20, 20 << 20, 0));
        let est = estimate(&fates, &[(0, large)].into_iter().collect());
        assert_eq!(est[0].objects, 3.0);
        assert_eq!(est[0].bytes, (20 << 20) as f64);
        // Two sites alive: 1:3 by their samples' bytes.
        let two: HashMap<SampleKey, Fates> = [
            (
                key(9, 0),
                Fates {
                    alive: 1,
                    alive_bytes: 1 << 20,
                    dead: 0,
                    pending: 0,
                },
            ),
            (
                key(10, 0),
                Fates {
                    alive: 1,
                    alive_bytes: 3 << 20,
                    dead: 0,
                    pending: 0,
                },
            ),
        ]
        .into_iter()
        .collect();
        let est = estimate(&two, &[(0, large)].into_iter().collect());
        assert_eq!(est[0].bytes, (5 << 20) as f64);
        assert_eq!(est[1].bytes, (15 << 20) as f64);
    }

    #[test]
    fn a_span_tells_which_gc_its_bits_are_from() {
        let l = Liveness::new(layout(), 0, None);
        let o = Obj {
            key: key(1, 5),
            span: 0x1000,
            start: 0xc000_0000,
            spanclass: 10,
            slot: 9,
            bytes: 64,
            verified: 10,
            decided: false,
        };
        let judge = |s: &[u8], sg| l.judge_span(&o, s, sg);
        // Same span, swept for sweepgen 12 (or swept and cached: 15).
        for ssg in [12, 15] {
            match judge(&span(0xc000_0000, 10, 1, ssg, 0xbeef), 12) {
                SpanSays::Bits {
                    epoch: 12,
                    bits: 0xbeef,
                } => {}
                _ => panic!("swept at {ssg}"),
            }
        }
        // Not swept yet for 14: its bits are from 12.
        for ssg in [12, 15] {
            assert!(matches!(
                judge(&span(0xc000_0000, 10, 1, ssg, 1), 14),
                SpanSays::Bits { epoch: 12, .. }
            ));
        }
        // Being swept, or bits from the allocation's own cycle: wait.
        assert!(matches!(
            judge(&span(0xc000_0000, 10, 1, 13, 1), 14),
            SpanSays::Wait
        ));
        assert!(matches!(
            judge(&span(0xc000_0000, 10, 1, 10, 1), 12),
            SpanSays::Wait
        ));
        // Freed, reused for another class or elsewhere: gone.
        assert!(matches!(
            judge(&span(0xc000_0000, 10, 0, 12, 1), 12),
            SpanSays::Gone
        ));
        assert!(matches!(
            judge(&span(0xc000_0000, 12, 1, 12, 1), 12),
            SpanSays::Gone
        ));
        assert!(matches!(
            judge(&span(0xc000_2000, 10, 1, 12, 1), 12),
            SpanSays::Gone
        ));
    }
}
