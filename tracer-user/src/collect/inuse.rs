//! Who holds the memory: in-use heap by allocation site, from the
//! runtime's own heap profile when the program has it on (no probe), else
//! from sampled object liveness ([`super::liveness`]) in the default
//! mode's allocation windows.
//!
//! Each bucket's counts are scaled as `runtime/pprof` scales them
//! (`scaleHeapSample`: × 1 / (1 − e^(−size / MemProfileRate)), truncated
//! per bucket), so the figures equal what the process's own
//! `/debug/pprof/heap` says at the same moment: the heap as of the last
//! completed GC. Polled once a second, the profile also gives each site's
//! in-use bytes per GC cycle, from which `heap_growth` is found.
//!
//! When the profile is off (the linker switches it off unless something
//! can write heap profiles) the liveness samples stand in: each class's
//! allocations since attach times the share of its samples alive at each
//! stack. What they cannot place (objects from before attach, classes no
//! window sampled) is `unattributed`, never a site.
use std::collections::HashMap;
use std::time::Instant;

use aya::maps::{MapData, RingBuf};
use tracer_common::LiveEvent;

use super::gc_watch::GcWatch;
use super::liveness::{self, ClassCounts, Liveness, Snapshot};
use super::Collector;
use crate::report::{Finding, InuseReport, InuseSite, StackCount};
use crate::tracee::allocstats::AllocCounters;
use crate::tracee::gobin::{Frame, GoBinary};
use crate::tracee::golayout::HeapProfileLayout;
use crate::tracee::heapprof::{HeapProfile, HeapProfileReader};
use crate::tracee::procmem::ProcMem;
use crate::tracee::symbolize::{unknown_frame, Symbolizer};

/// GC cycles kept for growth (one point per poll that saw a new cycle).
const MAX_POINTS: usize = 900;
/// Sites remembered per point (by bytes).
const SITES_PER_POINT: usize = 200;
/// `heap_growth`: at least this many points over this many GC cycles, and
/// this much growth.
const GROWTH_POINTS: usize = 4;
const GROWTH_CYCLES: u32 = 3;
const GROWTH_MIN_BYTES: u64 = 1 << 20;

/// `runtime/pprof`'s `scaleHeapSample`: (objects, bytes) a bucket's sampled
/// `count` objects of `size` bytes stand for.
pub fn scale(count: u64, size: u64, rate: u64) -> (u64, u64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    let bytes = count.saturating_mul(size);
    if rate <= 1 {
        return (count, bytes);
    }
    let s = 1.0 / (1.0 - (-(size as f64) / rate as f64).exp());
    ((count as f64 * s) as u64, (bytes as f64 * s) as u64)
}

struct Point {
    cycle: u32,
    secs: f64,
    /// Bytes, and (sampled) the size classes its samples are in.
    by_site: HashMap<Frame, (u64, ClassSet)>,
    /// Sampled source: the live heap the last GC cycle marked
    /// (`gcController.heapMarked`), when it could be read.
    heap_marked: Option<u64>,
    /// Sampled source: the runtime's bytes per size class, when read.
    classes: Option<ClassBytes>,
}

/// Size classes as a bit set (bit 0: large objects; Go has 68 classes).
type ClassSet = u128;

/// The runtime's own figures per size class at one point (index = class,
/// 0 = large objects): bytes allocated so far, and allocated less freed
/// (live, plus garbage its sweep has not yet freed).
#[derive(Debug, Clone, PartialEq)]
struct ClassBytes {
    allocated: Vec<u64>,
    live: Vec<u64>,
}

impl ClassBytes {
    fn of(c: &AllocCounters) -> ClassBytes {
        let mut allocated = vec![c.large_bytes];
        let mut live = vec![c.large_bytes.saturating_sub(c.large_free_bytes)];
        for (class, &n) in c.small_by_class.iter().enumerate().skip(1) {
            let size = crate::tracee::sizeclass::class_size(class).unwrap_or(0);
            allocated.push(n.saturating_mul(size));
            live.push(c.small_live(class).saturating_mul(size));
        }
        ClassBytes { allocated, live }
    }

    /// Over `set`'s classes from `self` to `to`: how much their live bytes
    /// grew, and how much they allocated.
    fn change(&self, to: &ClassBytes, set: ClassSet) -> (i64, u64) {
        let (mut grew, mut allocated) = (0i64, 0u64);
        for c in (0..to.live.len().min(self.live.len()).min(128)).filter(|c| set >> c & 1 == 1) {
            grew += to.live[c] as i64 - self.live[c] as i64;
            allocated += to.allocated[c].saturating_sub(self.allocated[c]);
        }
        (grew, allocated)
    }
}

/// In-use figures of one report.
pub struct Inuse {
    pub report: InuseReport,
    /// (objects, bytes) per site, every site.
    pub by_site: HashMap<Frame, (u64, u64)>,
    /// In-use objects and bytes per stack (exports).
    pub stacks: Vec<StackCount>,
    pub findings: Vec<Finding>,
}

pub struct InuseTracker {
    reader: Result<HeapProfileReader, String>,
    mem: ProcMem,
    started: Instant,
    points: Vec<Point>,
    /// Sampled liveness, with the runtime's counters when it started.
    liveness: Option<(GcWatch, AllocCounters)>,
    /// Why sampled liveness did not start, when it could not.
    no_liveness: Option<String>,
    /// Address of `gcController.heapMarked`, for sampled growth.
    heap_marked: Option<u64>,
}

/// One reading of the best source: its GC cycle, sites, stacks and the
/// report's header.
struct Measured {
    cycle: u32,
    sites: HashMap<Frame, SiteAcc>,
    stacks: Vec<StackCount>,
    header: InuseReport,
}

/// What a sampled estimate needs from the session.
pub struct Inputs<'a> {
    pub symbolizer: &'a mut Symbolizer,
    pub collector: &'a Collector,
    /// The runtime's allocation counters now.
    pub counters: Option<AllocCounters>,
}

#[derive(Default)]
struct SiteAcc {
    objects: u64,
    bytes: u64,
    samples: u64,
    /// Sampled: variance of the bytes estimate (None: the runtime profile's
    /// own sampling error, 1.96 / √samples).
    variance: f64,
    alloc_objects: Option<u64>,
    alloc_bytes: Option<u64>,
    /// In-use bytes per stack (index into the symbolized stacks).
    stacks: HashMap<usize, u64>,
    /// Sampled: in-use bytes per size class (0: large objects).
    classes: HashMap<u8, u64>,
}

impl SiteAcc {
    /// The size classes that hold at least a tenth of its bytes.
    fn class_set(&self) -> ClassSet {
        self.classes
            .iter()
            .filter(|(&c, &b)| c < 128 && b * 10 >= self.bytes)
            .fold(0, |set, (&c, _)| set | 1 << c)
    }
}

impl InuseTracker {
    /// `exe`: the executable's bytes when it has a `.symtab`.
    pub fn new(
        pid: u32,
        bin: &GoBinary,
        layout: &HeapProfileLayout,
        exe: Option<&[u8]>,
        bias: u64,
    ) -> InuseTracker {
        let mem = ProcMem::new(pid);
        let reader = HeapProfileReader::locate(&mem, bin, layout, exe, bias)
            .map_err(|e| format!("cannot read the runtime's heap profile: {e:#}"));
        InuseTracker {
            reader,
            mem,
            started: Instant::now(),
            points: Vec::new(),
            liveness: None,
            no_liveness: None,
            heap_marked: None,
        }
    }

    /// Where the runtime keeps the live heap its last GC cycle marked:
    /// sampled growth is checked against it (see `Growth::finding`).
    pub fn heap_marked_at(&mut self, addr: u64) {
        self.heap_marked = Some(addr);
    }

    /// Sampled liveness cannot run: `why` goes into the report.
    pub fn no_liveness(&mut self, why: String) {
        self.no_liveness = Some(why);
    }

    /// Whether the runtime's own profile is unavailable (then liveness
    /// samples are worth their probe hits).
    pub fn profile_off(&self) -> bool {
        self.profile().is_err()
    }

    /// Starts sampled liveness; `base`: the runtime's counters now.
    /// Its GC watch runs on a thread of its own ([`GcWatch`]), woken by
    /// `wake`'s records as each GC cycle starts, if given.
    pub fn start_liveness(
        &mut self,
        liveness: Liveness,
        base: AllocCounters,
        wake: Option<RingBuf<MapData>>,
    ) {
        self.liveness = Some((GcWatch::start(liveness, self.mem, wake), base));
    }

    /// Hands the samples the windows sent to the GC watch (every sampler
    /// poll); without its thread, the spans a GC may have decided are read
    /// again now.
    pub fn check(&mut self, events: &mut Vec<LiveEvent>) {
        if let Some((w, _)) = self.liveness.as_mut() {
            w.hand_over(events);
        } else {
            events.clear();
        }
    }

    /// The profile now, or why there is none.
    fn profile(&self) -> Result<HeapProfile, String> {
        let reader = self.reader.as_ref().map_err(Clone::clone)?;
        let profile = reader
            .read(&self.mem)
            .map_err(|e| format!("reading the runtime's heap profile failed: {e:#}"))?;
        if profile.rate == 0 {
            return Err("the runtime's heap profile is off in this binary \
                        (MemProfileRate = 0: the linker switches it off when nothing in the \
                        program can write a heap profile, e.g. net/http/pprof or \
                        runtime.MemProfile)"
                .into());
        }
        Ok(profile)
    }

    /// Once a second: remembers each site's in-use bytes when a GC cycle
    /// completed since the last poll.
    pub fn poll(&mut self, inputs: Inputs<'_>) {
        let classes = inputs.counters.as_ref().map(ClassBytes::of);
        let Some(Measured {
            cycle,
            sites,
            header,
            ..
        }) = self.measure(inputs)
        else {
            return;
        };
        if self.points.last().is_some_and(|p| p.cycle == cycle) {
            return;
        }
        let mut by_site: Vec<(Frame, (u64, ClassSet))> = sites
            .into_iter()
            .map(|(f, a)| {
                let set = a.class_set();
                (f, (a.bytes, set))
            })
            .collect();
        by_site.sort_by_key(|s| std::cmp::Reverse(s.1 .0));
        by_site.truncate(SITES_PER_POINT);
        if self.points.len() >= MAX_POINTS {
            // Keep the first point: growth is over the whole run.
            self.points.remove(1);
        }
        let sampled = header.source == Some("sampled");
        let heap_marked = match (sampled, self.heap_marked) {
            (true, Some(addr)) => self.mem.read_u64(addr).ok(),
            _ => None,
        };
        self.points.push(Point {
            cycle,
            secs: self.started.elapsed().as_secs_f64(),
            by_site: by_site.into_iter().collect(),
            heap_marked,
            classes: classes.filter(|_| sampled),
        });
    }

    /// (GC cycle, sites, stacks, report header) from the best source now.
    fn measure(&self, inputs: Inputs<'_>) -> Option<Measured> {
        match (self.profile(), &self.liveness) {
            (Ok(profile), _) => {
                let (sites, stacks) = aggregate(&profile, inputs.symbolizer);
                let header = InuseReport {
                    source: Some("runtime_profile"),
                    profile_rate: Some(profile.rate),
                    gc_cycle: Some(profile.cycle),
                    buckets: profile.records.len() as u64,
                    truncated: profile.truncated,
                    ..Default::default()
                };
                Some(Measured {
                    cycle: profile.cycle,
                    sites,
                    stacks,
                    header,
                })
            }
            (Err(_), Some((w, base))) => {
                let snapshot = w.snapshot();
                let (sites, stacks, header) = sampled(&snapshot, base, inputs);
                Some(Measured {
                    cycle: header.gc_cycle.unwrap_or(0),
                    sites,
                    stacks,
                    header,
                })
            }
            (Err(_), None) => None,
        }
    }

    /// In-use by site now; `top` sites listed.
    pub fn build(&mut self, inputs: Inputs<'_>, top: usize) -> Inuse {
        let Some(Measured {
            sites,
            stacks,
            header: mut report,
            ..
        }) = self.measure(inputs)
        else {
            let why = match (self.profile(), &self.no_liveness) {
                (Err(why), Some(no)) => format!("{why}; {no}"),
                (Err(why), None) => why,
                _ => "no source".into(),
            };
            return Inuse {
                report: InuseReport {
                    unavailable: Some(why),
                    ..Default::default()
                },
                by_site: HashMap::new(),
                stacks: Vec::new(),
                findings: Vec::new(),
            };
        };
        let by_site: HashMap<Frame, (u64, u64)> = sites
            .iter()
            .map(|(f, a)| (f.clone(), (a.objects, a.bytes)))
            .collect();
        let mut listed: Vec<(Frame, SiteAcc)> = sites.into_iter().collect();
        listed.sort_by(|a, b| {
            b.1.bytes
                .cmp(&a.1.bytes)
                .then(b.1.samples.cmp(&a.1.samples))
                .then(a.0.function.cmp(&b.0.function))
        });
        let mut findings = Vec::new();
        let (mut objects, mut bytes, mut samples) = (0, 0, 0);
        let (mut alloc_objects, mut alloc_bytes) = (0, 0);
        for (i, (site, acc)) in listed.into_iter().enumerate() {
            objects += acc.objects;
            bytes += acc.bytes;
            samples += acc.samples;
            alloc_objects += acc.alloc_objects.unwrap_or(0);
            alloc_bytes += acc.alloc_bytes.unwrap_or(0);
            let growth = self.growth(&site);
            if let Some(f) = growth.as_ref().and_then(|g| g.finding(&site)) {
                findings.push(f);
            }
            if i >= top {
                report.other_objects += acc.objects;
                report.other_bytes += acc.bytes;
                continue;
            }
            let stack = acc
                .stacks
                .iter()
                .max_by_key(|(i, b)| (**b, std::cmp::Reverse(**i)))
                .and_then(|(i, _)| stacks.get(*i))
                .map(|s| s.frames.clone())
                .unwrap_or_default();
            report.sites.push(InuseSite {
                site,
                stack,
                inuse_objects: acc.objects,
                inuse_bytes: acc.bytes,
                samples: acc.samples,
                est_error_pct: match report.source {
                    Some("sampled") if acc.bytes > 0 => {
                        Some(196.0 * acc.variance.sqrt() / acc.bytes as f64)
                    }
                    _ => (acc.samples > 0).then(|| 196.0 / (acc.samples as f64).sqrt()),
                },
                alloc_objects: acc.alloc_objects,
                alloc_bytes: acc.alloc_bytes,
                growth_bytes: growth.as_ref().map(|g| g.last as i64 - g.first as i64),
                growth_cycles: growth.as_ref().map(|g| g.cycles),
            });
        }
        report.objects = objects;
        report.bytes = bytes;
        report.samples = samples;
        if report.source == Some("runtime_profile") {
            report.alloc_objects = Some(alloc_objects);
            report.alloc_bytes = Some(alloc_bytes);
        }
        Inuse {
            report,
            by_site,
            stacks: stacks.into_iter().filter(|s| s.bytes > 0).collect(),
            findings,
        }
    }

    /// The site's in-use bytes over the GC cycles polled.
    fn growth(&self, site: &Frame) -> Option<Growth> {
        let series: Vec<(u32, f64, u64)> = self
            .points
            .iter()
            .map(|p| (p.cycle, p.secs, p.by_site.get(site).map_or(0, |s| s.0)))
            .collect();
        let mut growth = Growth::of(&series)?;
        // Sampled, the site's points are those since its first sample.
        let points = &self.points[self.points.len() - growth.points..];
        let marked: Option<Vec<u64>> = points.iter().map(|p| p.heap_marked).collect();
        growth.heap_marked = marked.and_then(|m| Some((*m.first()?, *m.last()?)));
        if let (Some(first), Some(last)) = (points.first(), points.last()) {
            let set = last.by_site.get(site).map_or(0, |s| s.1);
            if let (Some(a), Some(b), true) = (&first.classes, &last.classes, set != 0) {
                growth.classes = Some(a.change(b, set));
            }
        }
        Some(growth)
    }
}

/// `heap_growth` for a site whose in-use bytes were `series` (GC cycle,
/// seconds, bytes) at successive GC cycles, if they grew steadily.
pub fn heap_growth_finding(series: &[(u32, f64, u64)], site: &Frame) -> Option<Finding> {
    Growth::of(series)?.finding(site)
}

struct Growth {
    first: u64,
    last: u64,
    first_cycle: u32,
    cycles: u32,
    secs: f64,
    points: usize,
    ups: usize,
    downs: usize,
    /// Sampled: the live heap the GC marked at the series' first and last
    /// points (exact per cycle: the marked bytes, not the heap between
    /// cycles with its garbage).
    heap_marked: Option<(u64, u64)>,
    /// Sampled: over the same points, how much the live bytes of the
    /// site's size classes grew, and what those classes allocated.
    classes: Option<(i64, u64)>,
}

impl Growth {
    fn of(series: &[(u32, f64, u64)]) -> Option<Growth> {
        // From the site's first appearance: before it, nothing of it was
        // seen (or, sampled, no object of it decided yet).
        let series: Vec<(u32, f64, u64)> =
            series.iter().copied().skip_while(|p| p.2 == 0).collect();
        let (first, last) = (series.first()?, series.last()?);
        let ups = series.windows(2).filter(|w| w[1].2 > w[0].2).count();
        let downs = series.windows(2).filter(|w| w[1].2 < w[0].2).count();
        Some(Growth {
            first: first.2,
            last: last.2,
            first_cycle: first.0,
            cycles: last.0.saturating_sub(first.0),
            secs: last.1 - first.1,
            points: series.len(),
            ups,
            downs,
            heap_marked: None,
            classes: None,
        })
    }

    /// `heap_growth`: the site's in-use bytes grew across the GC cycles of
    /// the run (most steps up, few down, at least a MiB and a fifth more).
    ///
    /// Sampled liveness sees only objects allocated since it started, so a
    /// site whose long-lived objects turn over (a bounded cache replacing
    /// its entries) also looks like growth until it has turned over once.
    /// So, sampled, the live heap the GC marked must have grown by at least
    /// half the site's growth over the same cycles: a leak grows the heap,
    /// a turnover does not. And so must the live bytes of the site's own
    /// size classes (the runtime's allocated less freed), give or take a
    /// cycle's allocations of them (garbage not yet swept): a cache that
    /// turns over while another site leaks grows the heap, not its class.
    fn finding(&self, site: &Frame) -> Option<Finding> {
        let grew = self.last.saturating_sub(self.first);
        let steps = self.points.saturating_sub(1);
        let steady = self.ups * 3 >= steps * 2 && self.downs * 4 <= steps;
        let heap_grew = self.heap_marked.map(|(a, b)| b as i64 - a as i64);
        if self.points < GROWTH_POINTS
            || self.cycles < GROWTH_CYCLES
            || grew < GROWTH_MIN_BYTES
            || self.last * 5 < self.first * 6
            || !steady
            || heap_grew.is_some_and(|h| h.saturating_mul(2) < grew as i64)
            || self.classes.is_some_and(|(g, allocated)| {
                let per_cycle = allocated / u64::from(self.cycles.max(1));
                g.saturating_add(per_cycle as i64).saturating_mul(2) < grew as i64
            })
        {
            return None;
        }
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let heap = match (heap_grew, self.heap_marked) {
            (Some(h), Some((_, now))) => format!(
                "; the live heap the GC marked grew {:+.1} MiB meanwhile, to {:.1} MiB",
                h as f64 / (1 << 20) as f64,
                mib(now)
            ),
            _ => String::new(),
        };
        let classes = self.classes.map_or(String::new(), |(g, _)| {
            format!(
                ", its size classes' live bytes {:+.1} MiB",
                g as f64 / (1 << 20) as f64
            )
        });
        Some(Finding {
            kind: "heap_growth",
            severity: "warn",
            site: Some(site.clone()),
            message: format!(
                "{} holds {:.1} MiB after GC {}, up from {:.1} MiB at GC {} \
                 (+{:.1} MiB over {} GC cycles, {:.0} s); it grew at {} of the {} \
                 cycles observed and fell at {}{heap}",
                site.function,
                mib(self.last),
                self.first_cycle + self.cycles,
                mib(self.first),
                self.first_cycle,
                mib(grew),
                self.cycles,
                self.secs,
                self.ups,
                steps,
                self.downs
            ) + &classes,
        })
    }
}

/// Sites, stacks and the report header from the liveness samples.
fn sampled(
    l: &Snapshot,
    base: &AllocCounters,
    inputs: Inputs<'_>,
) -> (HashMap<Frame, SiteAcc>, Vec<StackCount>, InuseReport) {
    let fates = &l.fates;
    // Each class's counts since liveness started (class 0: large).
    let mut by_class: HashMap<u8, ClassCounts> = HashMap::new();
    let mut live = None;
    if let Some(now) = &inputs.counters {
        for (i, (&n, &b)) in now
            .small_by_class
            .iter()
            .zip(&base.small_by_class)
            .enumerate()
            .skip(1)
        {
            by_class.insert(
                i as u8,
                ClassCounts {
                    allocated: n.saturating_sub(b),
                    live: now.small_live(i),
                    live_at_start: base.small_live(i),
                    bytes: None,
                },
            );
        }
        by_class.insert(
            0,
            ClassCounts {
                allocated: now.large_objects.saturating_sub(base.large_objects),
                live: now.large_objects.saturating_sub(now.large_free_objects),
                live_at_start: base.large_objects.saturating_sub(base.large_free_objects),
                bytes: Some((
                    now.large_bytes.saturating_sub(base.large_bytes),
                    now.large_bytes.saturating_sub(now.large_free_bytes),
                    base.large_bytes.saturating_sub(base.large_free_bytes),
                )),
            },
        );
        live = Some((
            now.objects().saturating_sub(now.frees()),
            now.bytes().saturating_sub(now.freed_bytes()),
        ));
    }
    let mut sites: HashMap<Frame, SiteAcc> = HashMap::new();
    let mut stacks: Vec<StackCount> = Vec::new();
    let mut symbolized: HashMap<u64, crate::tracee::symbolize::Symbolized> = HashMap::new();
    let (mut objects, mut bytes) = (0u64, 0u64);
    for e in liveness::estimate(fates, &by_class) {
        let sym = symbolized
            .entry(e.key.stack_id)
            .or_insert_with(|| {
                let frames = inputs
                    .collector
                    .stack(e.key.stack_id)
                    .map(|s| s.frames().to_vec())
                    .unwrap_or_default();
                inputs.symbolizer.stack(&frames)
            })
            .clone();
        let site = if sym.frames.is_empty() {
            unknown_frame()
        } else {
            sym.site()
        };
        let (o, b) = (e.objects.round() as u64, e.bytes.round() as u64);
        objects += o;
        bytes += b;
        let acc = sites.entry(site).or_default();
        acc.objects += o;
        acc.bytes += b;
        acc.samples += e.alive_samples;
        // Absolute variance of the bytes, summed over the site's keys.
        acc.variance += (e.bytes * e.rel_error_95 / 1.96).powi(2);
        *acc.stacks.entry(stacks.len()).or_default() += b;
        *acc.classes.entry(e.key.class).or_default() += b;
        stacks.push(StackCount {
            frames: sym.frames,
            objects: o,
            bytes: b,
        });
    }
    let header = InuseReport {
        source: Some("sampled"),
        gc_cycle: Some(l.sweepgen / 2),
        sampled_objects: Some(l.sampled),
        pending_samples: Some(l.pending),
        dropped_samples: Some(l.dropped),
        untracked_samples: Some(l.untracked),
        unattributed_objects: live.map(|(o, _)| o.saturating_sub(objects)),
        unattributed_bytes: live.map(|(_, b)| b.saturating_sub(bytes)),
        ..Default::default()
    };
    (sites, stacks, header)
}

/// Scaled figures per site, and per stack (in-use).
fn aggregate(
    profile: &HeapProfile,
    symbolizer: &mut Symbolizer,
) -> (HashMap<Frame, SiteAcc>, Vec<StackCount>) {
    let mut sites: HashMap<Frame, SiteAcc> = HashMap::new();
    let mut stacks: Vec<StackCount> = Vec::with_capacity(profile.records.len());
    for rec in &profile.records {
        let sym = symbolizer.logical_stack(&rec.stack);
        let site = if sym.frames.is_empty() {
            unknown_frame()
        } else {
            sym.site()
        };
        let (objects, bytes) = scale(rec.inuse(), rec.size, profile.rate);
        let (alloc_objects, alloc_bytes) = scale(rec.allocs, rec.size, profile.rate);
        let acc = sites.entry(site).or_default();
        acc.objects += objects;
        acc.bytes += bytes;
        acc.samples += rec.inuse();
        *acc.alloc_objects.get_or_insert(0) += alloc_objects;
        *acc.alloc_bytes.get_or_insert(0) += alloc_bytes;
        *acc.stacks.entry(stacks.len()).or_default() += bytes;
        stacks.push(StackCount {
            frames: sym.frames,
            objects,
            bytes,
        });
    }
    (sites, stacks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_as_pprof() {
        // 1 KiB objects at the default rate: 1 / (1 − e^(−1024/524288)).
        let (o, b) = scale(100, 1024, 512 * 1024);
        assert_eq!(o, 51250);
        assert_eq!(b, 52480016); // what Go computes (go run)
        assert_eq!(scale(7, 48, 1), (7, 336));
        assert_eq!(scale(0, 48, 512 * 1024), (0, 0));
    }

    fn growth(series: &[u64]) -> Growth {
        let ups = series.windows(2).filter(|w| w[1] > w[0]).count();
        let downs = series.windows(2).filter(|w| w[1] < w[0]).count();
        Growth {
            first: series[0],
            last: *series.last().unwrap(),
            first_cycle: 2,
            cycles: series.len() as u32 * 3,
            secs: series.len() as f64,
            points: series.len(),
            ups,
            downs,
            heap_marked: None,
            classes: None,
        }
    }

    #[test]
    fn growth_needs_a_steady_rise() {
        let site = unknown_frame();
        let mib = 1 << 20;
        let rising = growth(&[mib, 2 * mib, 3 * mib, 4 * mib, 5 * mib]);
        let f = rising.finding(&site).expect("rising site");
        assert_eq!(f.kind, "heap_growth");
        assert!(f.message.contains("5.0 MiB"), "{}", f.message);
        // Up and down again (a site that keeps, then lets go).
        assert!(growth(&[mib, 5 * mib, 9 * mib, 2 * mib, mib])
            .finding(&site)
            .is_none());
        // Flat, or a small rise.
        assert!(growth(&[mib; 6]).finding(&site).is_none());
        assert!(
            growth(&[10 * mib, 10 * mib + 1, 10 * mib + 2, 10 * mib + 3])
                .finding(&site)
                .is_none()
        );
        // Too few cycles seen.
        assert!(growth(&[mib, 4 * mib]).finding(&site).is_none());
    }

    /// Sampled: a site whose long-lived objects turn over rises from zero
    /// like a leak; only a leak also grows the heap the GC marks.
    #[test]
    fn sampled_growth_must_grow_the_marked_heap() {
        let site = unknown_frame();
        let mib = 1 << 20;
        let rising = || growth(&[mib, 2 * mib, 3 * mib, 4 * mib, 5 * mib]);
        let turnover = Growth {
            heap_marked: Some((50 * mib, 50 * mib + mib / 2)),
            ..rising()
        };
        assert!(turnover.finding(&site).is_none());
        let leak = Growth {
            heap_marked: Some((50 * mib, 54 * mib)),
            ..rising()
        };
        let f = leak.finding(&site).expect("a leak grows the heap");
        assert!(
            f.message.contains("+4.0 MiB meanwhile, to 54.0 MiB"),
            "{}",
            f.message
        );
        // Half the site's growth is enough (scaling error, other sites
        // freeing meanwhile).
        let half = Growth {
            heap_marked: Some((50 * mib, 52 * mib)),
            ..rising()
        };
        assert!(half.finding(&site).is_some());
    }

    /// Sampled: a cache turning over while another site leaks grows the
    /// marked heap, but not its own size class.
    #[test]
    fn sampled_growth_must_grow_the_sites_classes() {
        let site = unknown_frame();
        let mib: u64 = 1 << 20;
        let grown = |classes| Growth {
            heap_marked: Some((50 * mib, 60 * mib)),
            classes,
            ..growth(&[mib, 2 * mib, 3 * mib, 4 * mib, 5 * mib])
        };
        // Its class flat, 1.5 MiB allocated a cycle (15 cycles): turnover.
        assert!(grown(Some((0, 15 * 3 * mib / 2))).finding(&site).is_none());
        // Its class grew as it did: a leak.
        let f = grown(Some((4 * mib as i64, 15 * mib)))
            .finding(&site)
            .expect("a leak grows its classes");
        assert!(
            f.message.ends_with("its size classes' live bytes +4.0 MiB"),
            "{}",
            f.message
        );
        // A swing of garbage not yet swept (up to a cycle's allocations)
        // is not held against it.
        assert!(grown(Some((mib as i64, 15 * mib))).finding(&site).is_some());
        // Not read: the marked heap decides alone.
        assert!(grown(None).finding(&site).is_some());
    }

    #[test]
    fn class_bytes_per_class_and_large() {
        let c = AllocCounters {
            small_by_class: vec![0, 10, 4],
            small_frees_by_class: vec![0, 3, 4],
            large_objects: 2,
            large_bytes: 65_536,
            large_free_objects: 1,
            large_free_bytes: 32_768,
            ..Default::default()
        };
        let b = ClassBytes::of(&c);
        // Class 1 holds 8-byte objects, class 2 16-byte ones.
        assert_eq!(b.allocated, [65_536, 80, 64]);
        assert_eq!(b.live, [32_768, 56, 0]);
        let later = ClassBytes {
            allocated: vec![65_536, 160, 64],
            live: vec![32_768, 136, 0],
        };
        assert_eq!(b.change(&later, 0b010), (80, 80));
        assert_eq!(b.change(&later, 0b101), (0, 0));
    }
}
