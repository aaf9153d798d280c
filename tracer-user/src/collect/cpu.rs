//! On-CPU samples of the target: the in-kernel counts per (user stack,
//! mode, watched) and the kernel's stack map, read at each mark; and what a
//! window's samples add up to (`build`): CPU by function, by kind of work
//! (map operations, allocation, GC assists) and by program site, plus the
//! CPU spent in each map operation per call site, for `cost_ns`.
use std::collections::{BTreeMap, HashMap};

use aya::maps::{HashMap as BpfHashMap, MapData, StackTraceMap};
use tracer_common::{cpu_flags, CpuKey, MAP_CPU_COUNTS, MAP_CPU_STACKS};

use crate::{
    error::UserError,
    probes::attach::Probes,
    report::{CpuFunction, CpuReport, CpuSite, CpuStack},
    tracee::symbolize::{is_runtime, Symbolizer},
};

/// Cumulative sample counts per key.
pub type CpuCounts = HashMap<CpuKey, u64>;

pub struct CpuSampler {
    counts: BpfHashMap<MapData, CpuKey, u64>,
    stacks: StackTraceMap<MapData>,
    pub hz: u64,
    pub period_ns: u64,
}

impl CpuSampler {
    /// Takes the sample maps and starts the per-CPU perf events on the CPUs
    /// `pid` may run on.
    pub fn start(probes: &mut Probes, hz: u64, pid: u32) -> Result<CpuSampler, UserError> {
        let take = |probes: &mut Probes, name: &str| {
            probes
                .ebpf
                .take_map(name)
                .ok_or_else(|| UserError::Kernel(format!("map {name} missing")))
        };
        let counts = BpfHashMap::try_from(take(probes, MAP_CPU_COUNTS)?)
            .map_err(|e| UserError::Kernel(format!("map {MAP_CPU_COUNTS}: {e}")))?;
        let stacks = StackTraceMap::try_from(take(probes, MAP_CPU_STACKS)?)
            .map_err(|e| UserError::Kernel(format!("map {MAP_CPU_STACKS}: {e}")))?;
        let period_ns = probes
            .attach_cpu_sampling(hz, pid)
            .map_err(|e| UserError::Kernel(format!("on-CPU sampling: {e}")))?;
        Ok(CpuSampler {
            counts,
            stacks,
            hz,
            period_ns,
        })
    }

    pub fn counts(&self) -> CpuCounts {
        self.counts.iter().flatten().collect()
    }

    /// The user stack of `id`: the sampled instruction, then return addresses.
    pub fn stack(&self, id: u32) -> Option<Vec<u64>> {
        let s = self.stacks.get(&id, 0).ok()?;
        Some(s.frames().iter().map(|f| f.ip).collect())
    }
}

/// The window's samples: `to − from`.
pub fn delta(to: &CpuCounts, from: &CpuCounts) -> CpuCounts {
    to.iter()
        .filter_map(|(k, &n)| {
            let d = n.saturating_sub(from.get(k).copied().unwrap_or(0));
            (d > 0).then_some((*k, d))
        })
        .collect()
}

/// What kind of work a sample is in: the innermost frame that says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Work {
    GcAssist,
    Alloc,
    Map,
    Other,
    /// The kernel single-stepping a probed instruction out of line (the
    /// target's `[uprobes]` page): the tracer's own cost.
    ProbeStep,
}

/// Frame name of a sample in the `[uprobes]` page.
pub const PROBE_STEP: &str = "[uprobe single-step]";

/// The target's `[uprobes]` page (where the kernel single-steps probed
/// instructions), if it has one yet, from its `/proc/PID/maps`.
pub fn probe_page(maps: &str) -> Option<(u64, u64)> {
    let line = maps.lines().find(|l| l.ends_with("[uprobes]"))?;
    let (a, b) = line.split_whitespace().next()?.split_once('-')?;
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

pub fn work_of(function: &str) -> Option<Work> {
    if function.starts_with("runtime.gcAssistAlloc") {
        return Some(Work::GcAssist);
    }
    if function.starts_with("runtime.mallocgc")
        || matches!(
            function,
            "runtime.newobject"
                | "runtime.newarray"
                | "runtime.makeslice"
                | "runtime.growslice"
                | "runtime.(*mcache).refill"
                | "internal/runtime/maps.newobject"
                | "internal/runtime/maps.newarray"
        )
    {
        return Some(Work::Alloc);
    }
    let map = (function.starts_with("runtime.map") && !function.starts_with("runtime.mapinit"))
        || function.starts_with("runtime.makemap")
        || function.starts_with("runtime.evacuate")
        || function.starts_with("runtime.growWork")
        || function == "runtime.hashGrow"
        || function.starts_with("internal/runtime/maps.")
        || function.starts_with("sync.(*Map).")
        || function.starts_with("internal/sync.(*HashTrieMap");
    map.then_some(Work::Map)
}

/// Samples and CPU time in one map operation at one call site.
#[derive(Clone, Copy, Default, Debug)]
pub struct OpCpu {
    pub samples: u64,
    pub ns: u64,
}

/// User-mode CPU in map operations since attach, per (map_op, call site):
/// all of it, and what was sampled while operations were counted.
#[derive(Default)]
pub struct MapOpsCpu {
    pub all: HashMap<(u32, u64), OpCpu>,
    pub watched: HashMap<(u32, u64), OpCpu>,
}

pub struct Built {
    pub report: CpuReport,
    pub stacks: Vec<CpuStack>,
}

/// How the samples were taken and how much of them to list.
#[derive(Clone, Copy)]
pub struct Params {
    pub hz: u64,
    pub period_ns: u64,
    /// The target's `[uprobes]` page ([`probe_page`]).
    pub probe_page: Option<(u64, u64)>,
    /// Samples whose stack was not stored.
    pub stack_drops: u64,
    /// Functions and sites listed.
    pub top: usize,
}

/// The sample's user stack, when it was stored and read.
fn pcs_of(key: &CpuKey, stack_of: &mut dyn FnMut(u32) -> Option<Vec<u64>>) -> Option<Vec<u64>> {
    (key.stack_id != tracer_common::CPU_NO_STACK)
        .then(|| stack_of(key.stack_id))
        .flatten()
        .filter(|p| !p.is_empty())
}

/// The sample was taken in the target's `[uprobes]` page.
fn stepping(pcs: &[u64], probe_page: Option<(u64, u64)>) -> bool {
    probe_page.is_some_and(|(a, b)| (a..b).contains(&pcs[0]))
}

/// Where the samples went; `stack_of` reads a stack by id.
pub fn build(
    samples: &CpuCounts,
    params: Params,
    symbolizer: &mut Symbolizer,
    stack_of: &mut dyn FnMut(u32) -> Option<Vec<u64>>,
) -> Built {
    let Params {
        hz,
        period_ns,
        probe_page,
        stack_drops: drops,
        top,
    } = params;
    let mut functions: HashMap<String, (u64, u64)> = HashMap::new();
    let mut sites: HashMap<crate::tracee::gobin::Frame, [u64; 5]> = HashMap::new();
    let mut by_work = [0u64; 5];
    let mut stacks = Vec::new();
    let (mut total, mut kernel) = (0u64, 0u64);
    for (key, &n) in samples {
        total += n;
        if key.flags & cpu_flags::KERNEL != 0 {
            kernel += n;
        }
        let ns = n * period_ns;
        let Some(pcs) = pcs_of(key, stack_of) else {
            functions.entry("[unknown]".into()).or_default().0 += ns;
            continue;
        };
        let stepping = stepping(&pcs, probe_page);
        let sym = if stepping {
            // The chain above is the probed function's caller's: the
            // probed function's own frame is not in it.
            let mut sym = symbolizer.stack(&pcs[1..]);
            sym.frames.insert(0, step_frame());
            sym.site += 1;
            sym
        } else {
            symbolizer.sampled_stack(&pcs)
        };
        let work = if stepping {
            Work::ProbeStep
        } else {
            sym.frames
                .iter()
                .find_map(|f| work_of(&f.function))
                .unwrap_or(Work::Other)
        };
        let w = work as usize;
        by_work[w] += ns;
        let site = sites.entry(sym.site()).or_default();
        site[w] += ns;
        if let Some(f) = sym.frames.first() {
            functions.entry(f.function.clone()).or_default().0 += ns;
        }
        let mut seen: Vec<&str> = Vec::new();
        for f in &sym.frames {
            if !seen.contains(&f.function.as_str()) {
                seen.push(&f.function);
                functions.entry(f.function.clone()).or_default().1 += ns;
            }
        }
        stacks.push(CpuStack {
            frames: sym.frames,
            samples: n,
            ns,
        });
    }
    let mut functions: Vec<CpuFunction> = functions
        .into_iter()
        .map(|(function, (self_ns, total_ns))| CpuFunction {
            function,
            self_ns,
            total_ns,
        })
        .collect();
    // The top by self time and the top by total time (callers whose
    // callees do the work), heaviest self time first.
    functions.sort_by(|a, b| (b.total_ns, &a.function).cmp(&(a.total_ns, &b.function)));
    let by_total: Vec<String> = functions
        .iter()
        .take(top)
        .map(|f| f.function.clone())
        .collect();
    functions.sort_by(|a, b| {
        (b.self_ns, b.total_ns, &a.function).cmp(&(a.self_ns, a.total_ns, &b.function))
    });
    let mut kept = 0;
    functions.retain(|f| {
        kept += 1;
        kept <= top || by_total.contains(&f.function)
    });
    let mut sites: Vec<CpuSite> = sites
        .into_iter()
        .map(|(site, w)| CpuSite {
            site,
            total_ns: w.iter().sum(),
            map_ns: w[Work::Map as usize],
            alloc_ns: w[Work::Alloc as usize],
            gc_assist_ns: w[Work::GcAssist as usize],
        })
        .collect();
    sites.sort_by(|a, b| (b.total_ns, &a.site.function).cmp(&(a.total_ns, &b.site.function)));
    sites.truncate(top);
    let mut by_kind = BTreeMap::new();
    for (name, w) in [
        ("map", Work::Map),
        ("alloc", Work::Alloc),
        ("gc_assist", Work::GcAssist),
        ("other", Work::Other),
        ("probe_single_step", Work::ProbeStep),
    ] {
        by_kind.insert(name, by_work[w as usize]);
    }
    Built {
        report: CpuReport {
            frequency_hz: hz,
            period_ns,
            samples: total,
            kernel_samples: kernel,
            stack_drops: drops,
            cpu_ns: total * period_ns,
            by_kind,
            functions,
            sites,
        },
        stacks,
    }
}

/// User-mode CPU in map operations per (map_op, call site), all of it and
/// what was sampled while operations were counted. `map_funcs` maps the
/// link-time entry of each probed map function to its `map_op`. Only the
/// return addresses are looked up: nothing is symbolized.
pub fn map_ops(
    samples: &CpuCounts,
    period_ns: u64,
    probe_page: Option<(u64, u64)>,
    symbolizer: &Symbolizer,
    map_funcs: &HashMap<u64, u32>,
    stack_of: &mut dyn FnMut(u32) -> Option<Vec<u64>>,
) -> MapOpsCpu {
    let mut out = MapOpsCpu::default();
    for (key, &n) in samples {
        if key.flags & cpu_flags::KERNEL != 0 {
            continue;
        }
        let Some(pcs) = pcs_of(key, stack_of) else {
            continue;
        };
        if stepping(&pcs, probe_page) {
            continue;
        }
        let Some(op) = map_operation(&pcs, symbolizer, map_funcs) else {
            continue;
        };
        let watched = key.flags & cpu_flags::MAPS_WATCHED != 0;
        let into = [Some(&mut out.all), watched.then_some(&mut out.watched)];
        for e in into.into_iter().flatten() {
            let e = e.entry(op).or_default();
            e.samples += n;
            e.ns += n * period_ns;
        }
    }
    out
}

fn step_frame() -> crate::tracee::gobin::Frame {
    crate::tracee::gobin::Frame {
        function: PROBE_STEP.into(),
        file: String::new(),
        line: 0,
        inlined: false,
    }
}

/// The map operation a stack is in: the outermost probed map function of
/// the innermost run of map code, and the return address of its call
/// (what the map probes record as `ret_pc`).
fn map_operation(
    pcs: &[u64],
    symbolizer: &Symbolizer,
    map_funcs: &HashMap<u64, u32>,
) -> Option<(u32, u64)> {
    let mut found = None;
    for (i, &pc) in pcs.iter().enumerate() {
        let func = symbolizer.func_at(pc, i > 0);
        match func.as_ref().and_then(|f| map_funcs.get(&f.entry)) {
            Some(&op) => found = Some((op, pcs.get(i + 1).copied().unwrap_or(0))),
            None if found.is_some() && !func.is_some_and(|f| is_runtime(&f.name)) => break,
            None => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_work() {
        assert_eq!(work_of("runtime.gcAssistAlloc1"), Some(Work::GcAssist));
        assert_eq!(work_of("runtime.mallocgcSmallNoScanSC4"), Some(Work::Alloc));
        assert_eq!(work_of("runtime.growslice"), Some(Work::Alloc));
        assert_eq!(work_of("runtime.mapaccess1_fast64"), Some(Work::Map));
        assert_eq!(
            work_of("internal/runtime/maps.(*table).clone"),
            Some(Work::Map)
        );
        assert_eq!(work_of("sync.(*Map).Load"), Some(Work::Map));
        assert_eq!(work_of("runtime.mapinitnoop"), None);
        assert_eq!(work_of("main.phaseArith"), None);
        assert_eq!(work_of("runtime.memmove"), None);
    }

    #[test]
    fn deltas_keep_what_grew() {
        let key = |id| CpuKey {
            stack_id: id,
            flags: 0,
        };
        let from: CpuCounts = [(key(1), 5), (key(2), 3)].into();
        let to: CpuCounts = [(key(1), 9), (key(2), 3), (key(3), 1)].into();
        let d = delta(&to, &from);
        assert_eq!(d.len(), 2);
        assert_eq!(d[&key(1)], 4);
        assert_eq!(d[&key(3)], 1);
    }

    #[test]
    fn no_probe_page_for_a_missing_process() {
        assert_eq!(probe_page(""), None);
        let maps = "7ffd5b1f3000-7ffd5b1f4000 r-xp 00000000 00:00 0  [uprobes]\n";
        assert_eq!(probe_page(maps), Some((0x7ffd5b1f3000, 0x7ffd5b1f4000)));
    }
}
