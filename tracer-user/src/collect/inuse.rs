//! Who holds the memory: in-use heap by allocation site, from the
//! runtime's own heap profile when the program has it on (no probe).
//!
//! Each bucket's counts are scaled as `runtime/pprof` scales them
//! (`scaleHeapSample`: × 1 / (1 − e^(−size / MemProfileRate)), truncated
//! per bucket), so the figures equal what the process's own
//! `/debug/pprof/heap` says at the same moment: the heap as of the last
//! completed GC. Polled once a second, the profile also gives each site's
//! in-use bytes per GC cycle, from which `heap_growth` is found.
//!
//! When the profile is off (the linker switches it off unless something
//! can write heap profiles) there is no source yet: the report says so.
use std::collections::HashMap;
use std::time::Instant;

use crate::report::{Finding, InuseReport, InuseSite, StackCount};
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
    by_site: HashMap<Frame, u64>,
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
}

#[derive(Default)]
struct SiteAcc {
    objects: u64,
    bytes: u64,
    samples: u64,
    alloc_objects: u64,
    alloc_bytes: u64,
    /// In-use bytes per stack (index into the symbolized stacks).
    stacks: HashMap<usize, u64>,
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
                        runtime.MemProfile); sampled object liveness is not built yet"
                .into());
        }
        Ok(profile)
    }

    /// Once a second: remembers each site's in-use bytes when a GC cycle
    /// completed since the last poll.
    pub fn poll(&mut self, symbolizer: &mut Symbolizer) {
        let Ok(profile) = self.profile() else {
            return;
        };
        if self.points.last().is_some_and(|p| p.cycle == profile.cycle) {
            return;
        }
        let (sites, _) = aggregate(&profile, symbolizer);
        let mut by_site: Vec<(Frame, u64)> = sites.into_iter().map(|(f, a)| (f, a.bytes)).collect();
        by_site.sort_by_key(|s| std::cmp::Reverse(s.1));
        by_site.truncate(SITES_PER_POINT);
        if self.points.len() >= MAX_POINTS {
            // Keep the first point: growth is over the whole run.
            self.points.remove(1);
        }
        self.points.push(Point {
            cycle: profile.cycle,
            secs: self.started.elapsed().as_secs_f64(),
            by_site: by_site.into_iter().collect(),
        });
    }

    /// In-use by site now; `top` sites listed.
    pub fn build(&mut self, symbolizer: &mut Symbolizer, top: usize) -> Inuse {
        let profile = match self.profile() {
            Ok(p) => p,
            Err(why) => {
                return Inuse {
                    report: InuseReport {
                        unavailable: Some(why),
                        ..Default::default()
                    },
                    by_site: HashMap::new(),
                    stacks: Vec::new(),
                    findings: Vec::new(),
                }
            }
        };
        let (sites, stacks) = aggregate(&profile, symbolizer);
        let mut report = InuseReport {
            source: Some("runtime_profile"),
            unavailable: None,
            profile_rate: Some(profile.rate),
            gc_cycle: Some(profile.cycle),
            buckets: profile.records.len() as u64,
            truncated: profile.truncated,
            ..Default::default()
        };
        let by_site: HashMap<Frame, (u64, u64)> = sites
            .iter()
            .map(|(f, a)| (f.clone(), (a.objects, a.bytes)))
            .collect();
        let mut listed: Vec<(Frame, SiteAcc)> = sites.into_iter().collect();
        listed.sort_by(|a, b| {
            b.1.bytes
                .cmp(&a.1.bytes)
                .then(b.1.alloc_bytes.cmp(&a.1.alloc_bytes))
                .then(a.0.function.cmp(&b.0.function))
        });
        let mut findings = Vec::new();
        for (i, (site, acc)) in listed.into_iter().enumerate() {
            report.objects += acc.objects;
            report.bytes += acc.bytes;
            report.samples += acc.samples;
            report.alloc_objects += acc.alloc_objects;
            report.alloc_bytes += acc.alloc_bytes;
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
                est_error_pct: (acc.samples > 0).then(|| 196.0 / (acc.samples as f64).sqrt()),
                alloc_objects: acc.alloc_objects,
                alloc_bytes: acc.alloc_bytes,
                growth_bytes: growth.as_ref().map(|g| g.last as i64 - g.first as i64),
                growth_cycles: growth.as_ref().map(|g| g.cycles),
            });
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
            .map(|p| (p.cycle, p.secs, p.by_site.get(site).copied().unwrap_or(0)))
            .collect();
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
        })
    }
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
}

impl Growth {
    /// `heap_growth`: the site's in-use bytes grew across the GC cycles of
    /// the run (most steps up, few down, at least a MiB and a fifth more).
    fn finding(&self, site: &Frame) -> Option<Finding> {
        let grew = self.last.saturating_sub(self.first);
        let steps = self.points.saturating_sub(1);
        let steady = self.ups * 3 >= steps * 2 && self.downs * 4 <= steps;
        if self.points < GROWTH_POINTS
            || self.cycles < GROWTH_CYCLES
            || grew < GROWTH_MIN_BYTES
            || self.last * 5 < self.first * 6
            || !steady
        {
            return None;
        }
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        Some(Finding {
            kind: "heap_growth",
            severity: "warn",
            site: Some(site.clone()),
            message: format!(
                "{} holds {:.1} MiB after GC {}, up from {:.1} MiB at GC {} \
                 (+{:.1} MiB over {} GC cycles, {:.0} s); it grew at {} of the {} \
                 cycles observed and fell at {}",
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
            ),
        })
    }
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
        acc.alloc_objects += alloc_objects;
        acc.alloc_bytes += alloc_bytes;
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
}
