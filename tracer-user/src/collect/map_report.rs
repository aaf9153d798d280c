//! The maps section of a report and its findings: joins what the probes
//! counted (`aggregate::maps`) with what the maps' memory shows now
//! (`mapmem`, read-only), groups the maps by creation site (`map_sites`),
//! lists the ones that stand out, and sums the rest.
use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use crate::{
    collect::aggregate::{
        goroutines::leak_rate,
        maps::{op_name, resolved_ops, MapStats, MapTable},
    },
    collect::map_sites::{self, Created, Header, HeaderLayout, Liveness, SiteKey, Tracked},
    report::{Finding, Latency, MapReport, MapSite, MapTotals, Percentiles},
    tracee::golayout::{Layout, MapImpl, SyncMapImpl},
    tracee::mapmem::{self, ScanBudget},
    tracee::procmem::ProcMem,
    tracee::symbolize::{self, Symbolized},
};

/// Maps whose memory is read in full per report: at least this many,
const READ_AT_LEAST: usize = 256;
/// then more while within `READ_TIME` (a small map is a few system calls),
const READ_TIME: Duration = Duration::from_millis(20);
/// up to this many. The largest (by their headers) and the busiest first.
const READ_AT_MOST: usize = 4096;

pub const DEFINITIONS: &str = "live = len(m); capacity_slots = slots allocated (classic: 8 per bucket incl. overflow; swiss: table capacities); \
tombstones = classic: slots deleted and not reused (tophash emptyOne); swiss: ctrlDeleted slots (capacity*7/8 - used - growthLeft per table); \
sync.Map held = entries still referenced incl. deleted ones (read/dirty), live = entries with a value; \
map_sites: alive = its header, read at this report, still holds a map with the hash seed first read there \
(an upper bound: a map the GC freed reads as itself until its memory is reused; a delete that empties a map, or a clear, draws a new seed); \
gone = unreadable, not a map, or a new seed with no delete or clear seen (exact mode); \
liveness_unknown = not known (sync.Map not read, new seed while operations were not all watched, memory not readable); \
bytes = of the alive maps read in full (bytes_maps); \
maps lists a map singly when >= 64 KiB, >= 1,000 live entries, >= 1,000 operations, \
alive >= half the window at a site with <= 4 alive maps, or in a finding";

/// What the session knows about the target's maps.
pub struct MapContext<'a> {
    pub layout: &'a Layout,
    pub map_impl: MapImpl,
    pub sync_impl: SyncMapImpl,
    /// The binary's map implementation differs from the layout table's
    /// (GOEXPERIMENT=noswissmap): memory cannot be read.
    pub memory_readable: bool,
    pub expunged: Option<u64>,
    pub pid: u32,
    pub probes: u64,
    /// The probe pair's noise width as calibrated at attach (ns).
    pub calibrated_resolution_ns: u64,
}

/// Operations timed at least this often count for [`resolution`].
const RESOLUTION_MIN_TIMINGS: u64 = 200;

/// The resolution latencies are shown at: twice the probe pair's noise
/// width, which is the wider of its spread as calibrated at attach and the
/// tightest spread (99th percentile above the floor) of an operation timed
/// often on the target itself, whose probes' jitter the calibration on the
/// tracer's own thread may not show. A figure within that is noise.
pub fn resolution(table: &MapTable, calibrated: u64) -> u64 {
    let tightest = table
        .latencies
        .values()
        .flat_map(|l| l.values())
        .filter(|h| h.len() >= RESOLUTION_MIN_TIMINGS)
        .map(|h| h.value_at_quantile(0.99).saturating_sub(table.floor_ns))
        .min();
    Latency::resolution_for(calibrated.max(tightest.unwrap_or(0)))
}

/// Live entries of a map read from its header, for the growth timeline.
pub fn live_now(mem: &ProcMem, map: u64) -> Option<u64> {
    // hmap.count (int) and maps.Map.used (uint64) are both at offset 0.
    mem.read_u64(map).ok().filter(|&n| n < 1 << 40)
}

/// What a mark keeps of the maps: operation counts per map (sync.Map
/// Store/Delete resolved) and makemap calls per creation stack, so far.
#[derive(Debug, Clone)]
pub struct MapMark {
    pub at: Instant,
    pub ops: HashMap<u64, BTreeMap<&'static str, u64>>,
    pub made: HashMap<u64, u64>,
}

/// A map, its probe statistics, its stack, its operations in the window.
type Candidate<'t> = (
    u64,
    &'t MapStats,
    Option<Symbolized>,
    BTreeMap<&'static str, u64>,
);

pub struct Built {
    pub maps: Vec<MapReport>,
    pub sites: Vec<MapSite>,
    pub totals: MapTotals,
    pub findings: Vec<Finding>,
}

/// `from`, `to`: the marks at the window's start and end. `secs`: how long
/// operations were watched (sampled mode) or the window.
#[allow(clippy::too_many_arguments)]
pub fn build(
    ctx: &MapContext,
    table: &MapTable,
    from: &MapMark,
    to: &MapMark,
    secs: f64,
    ops_sampled: bool,
    top: usize,
    live_series: &HashMap<u64, Vec<(f64, u64)>>,
    stack_of: &mut dyn FnMut(u64) -> Option<Symbolized>,
) -> Built {
    let mem = ProcMem::new(ctx.pid);
    let budget = ScanBudget::default();
    let resolution_ns = resolution(table, ctx.calibrated_resolution_ns);
    let window_secs = to.at.saturating_duration_since(from.at).as_secs_f64();
    let window_ops = |id: &u64| -> BTreeMap<&'static str, u64> {
        let now = to.ops.get(id).cloned().unwrap_or_default();
        let base = from.ops.get(id);
        now.into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v - base.and_then(|b| b.get(k)).copied().unwrap_or(0).min(v),
                )
            })
            .filter(|(_, v)| *v > 0)
            .collect()
    };
    // Internal maps of sync.Map (read/dirty) belong to their sync.Map.
    let candidates: Vec<Candidate> = table
        .maps
        .iter()
        .map(|(id, m)| (*id, m, stack_of(m.stack_id), window_ops(id)))
        .filter(|(_, m, stack, _)| m.sync || !stack.as_ref().is_some_and(is_sync_internal))
        .collect();

    // Every plain map's header: is it still there, how big is it.
    let headers_layout = ctx
        .memory_readable
        .then(|| HeaderLayout::of(ctx.layout, ctx.map_impl))
        .flatten();
    let mut plain: Vec<u64> = candidates
        .iter()
        .filter(|(_, m, _, _)| !m.sync)
        .map(|(id, ..)| *id)
        .collect();
    // In address order: neighbours share pages.
    plain.sort_unstable();
    let headers: HashMap<u64, Option<Header>> = match &headers_layout {
        Some(hl) => plain
            .iter()
            .copied()
            .zip(map_sites::read_headers(&mem, hl, &plain))
            .collect(),
        None => HashMap::new(),
    };
    let header = |id: &u64| headers.get(id).copied().flatten();
    let mut liveness: Vec<Liveness> = candidates
        .iter()
        .map(|(id, m, _, _)| match (&headers_layout, m.sync) {
            (Some(_), false) => map_sites::judge(
                header(id).as_ref(),
                &m.identity,
                map_sites::resets(&m.ops),
                !ops_sampled,
            ),
            _ => Liveness::Unknown,
        })
        .collect();

    // Full reads: sync.Maps and the plain maps still there (all of them
    // when headers cannot be checked), largest and busiest first.
    let readable: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            candidates[i].1.sync
                || liveness[i] == Liveness::Alive
                || (headers_layout.is_none() && liveness[i] == Liveness::Unknown)
        })
        .collect();
    let keys: Vec<(u64, u64, u64)> = readable
        .iter()
        .map(|&i| {
            let (id, _, _, ops) = &candidates[i];
            let size = header(id).map_or(0, |h| h.est_slots);
            (size, map_sites::total_ops(ops), *id)
        })
        .collect();
    let started = Instant::now();
    let mut reports: Vec<Option<Box<MapReport>>> = vec![None; candidates.len()];
    for (k, j) in map_sites::read_order(&keys).into_iter().enumerate() {
        if k >= READ_AT_MOST || (k >= READ_AT_LEAST && started.elapsed() >= READ_TIME) {
            break;
        }
        let i = readable[j];
        let (id, m, stack, ops) = &candidates[i];
        let mut r = map_report(ctx, &mem, &budget, *id, m, stack.clone(), ops.clone(), secs);
        r.latency_ns = table
            .latencies
            .get(id)
            .map(|l| {
                l.iter()
                    .map(|(k, h)| {
                        let p = minus_floor(h.percentiles(), table.floor_ns);
                        (*k, Latency::resolved(&p, resolution_ns))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if m.sync && r.memory_error.is_none() {
            liveness[i] = Liveness::Alive;
        }
        reports[i] = Some(Box::new(r));
    }

    // Findings, heaviest map first.
    let mut read: Vec<usize> = (0..candidates.len())
        .filter(|&i| reports[i].is_some())
        .collect();
    read.sort_by(|&a, &b| {
        let (ra, rb) = (reports[a].as_deref(), reports[b].as_deref());
        let bytes = |r: Option<&MapReport>| r.map_or(0, |r| r.bytes);
        bytes(rb)
            .cmp(&bytes(ra))
            .then(candidates[a].0.cmp(&candidates[b].0))
    });
    let mut findings = Vec::new();
    let mut has_finding = vec![false; candidates.len()];
    for i in read {
        let Some(r) = reports[i].as_deref() else {
            continue;
        };
        let before = findings.len();
        findings.extend(never_shrinks(r));
        findings.extend(residue(r));
        if let Some(series) = live_series.get(&candidates[i].0) {
            findings.extend(growth(r, series));
        }
        has_finding[i] = findings.len() > before;
    }

    let tracked_n = candidates.len() as u64;
    let tracked: Vec<Tracked> = candidates
        .into_iter()
        .zip(reports)
        .enumerate()
        .map(|(i, ((id, m, stack, ops), report))| {
            let (frame, frames) = match stack {
                Some(s) => (s.site(), s.frames),
                None => (symbolize::unknown_frame(), Vec::new()),
            };
            let live_entries = match (&report, header(&id)) {
                (Some(r), _) if m.sync => r.live,
                (_, Some(h)) => h.live,
                _ => 0,
            };
            Tracked {
                id,
                site: SiteKey {
                    frame,
                    first_seen_only: !m.created,
                    kind: kind_of(m.sync),
                },
                implementation: impl_of(ctx, m.sync),
                stack: frames,
                ops,
                liveness: liveness[i],
                live_entries,
                age_secs: m
                    .seen_at
                    .map_or(0.0, |t| to.at.saturating_duration_since(t).as_secs_f64()),
                report,
                finding: has_finding[i],
            }
        })
        .collect();

    // makemap calls in the window, per creation site.
    let mut created = Vec::new();
    for (&stack_id, &now) in &to.made {
        let n = now - from.made.get(&stack_id).copied().unwrap_or(0).min(now);
        if n == 0 {
            continue;
        }
        let stack = stack_of(stack_id);
        if stack.as_ref().is_some_and(is_sync_internal) {
            continue;
        }
        let (frame, frames) = match stack {
            Some(s) => (s.site(), s.frames),
            None => (symbolize::unknown_frame(), Vec::new()),
        };
        created.push(Created {
            site: SiteKey {
                frame,
                first_seen_only: false,
                kind: kind_of(false),
            },
            count: n,
            stack: frames,
        });
    }

    let grouped = map_sites::group(
        tracked,
        created,
        impl_of(ctx, false),
        secs,
        window_secs,
        top,
    );
    let totals = MapTotals {
        tracked: tracked_n,
        other_maps: grouped.unlisted.maps,
        other_bytes: grouped.unlisted.bytes,
        other_ops: grouped.unlisted.ops,
        untracked_ops: table.untracked_ops,
        latency_floor_ns: table.floor_ns,
        latency_resolution_ns: resolution_ns,
        probes: ctx.probes,
        ops_watched_ns: ops_sampled.then_some((secs * 1e9) as u64),
        definitions: DEFINITIONS,
    };
    Built {
        maps: grouped.listed,
        sites: grouped.sites,
        totals,
        findings,
    }
}

fn kind_of(sync: bool) -> &'static str {
    if sync {
        "sync.Map"
    } else {
        "map"
    }
}

fn impl_of(ctx: &MapContext, sync: bool) -> &'static str {
    match (sync, ctx.map_impl, ctx.sync_impl) {
        (false, MapImpl::Classic, _) => "classic",
        (false, MapImpl::Swiss, _) => "swiss",
        (true, _, SyncMapImpl::ReadDirty) => "read_dirty",
        (true, _, SyncMapImpl::HashTrie) => "hashtrie",
    }
}

fn is_sync_internal(s: &Symbolized) -> bool {
    s.frames
        .iter()
        .any(|f| f.function.starts_with("sync.(*Map)") || f.function.starts_with("sync.(*entry)"))
}

fn minus_floor(p: Percentiles, floor: u64) -> Percentiles {
    let f = |v: u64| v.saturating_sub(floor).max(1);
    Percentiles {
        p50: f(p.p50),
        p90: f(p.p90),
        p99: f(p.p99),
        max: f(p.max),
        mean: (p.mean - floor as f64).max(1.0),
    }
}

#[allow(clippy::too_many_arguments)]
fn map_report(
    ctx: &MapContext,
    mem: &ProcMem,
    budget: &ScanBudget,
    id: u64,
    m: &MapStats,
    stack: Option<Symbolized>,
    ops: BTreeMap<&'static str, u64>,
    secs: f64,
) -> MapReport {
    let (created_at, frames) = match stack {
        Some(s) => (s.site(), s.frames),
        None => (symbolize::unknown_frame(), Vec::new()),
    };
    let n_ops = map_sites::total_ops(&ops);
    let mut r = MapReport {
        id: format!("{id:#x}"),
        kind: kind_of(m.sync),
        implementation: impl_of(ctx, m.sync),
        created_at,
        first_seen_only: !m.created,
        stack: frames,
        live: 0,
        held: 0,
        capacity_slots: 0,
        tombstones: 0,
        tombstone_ratio: 0.0,
        bytes: 0,
        scanned_fraction: 0.0,
        memory_error: None,
        ops_per_sec: if secs > 0.0 { n_ops as f64 / secs } else { 0.0 },
        ops,
        latency_ns: BTreeMap::new(),
        cost_ns: BTreeMap::new(),
        cost_ns_ci95: BTreeMap::new(),
        cost_samples: BTreeMap::new(),
        cpu_ns: None,
        zero_value_stores: m.zero_stores,
        range_visited_mean: (m.range_visited_calls > 0)
            .then(|| m.range_visited_sum as f64 / m.range_visited_calls as f64),
        range_visited_max: (m.range_visited_calls > 0).then_some(m.range_visited_max),
    };
    if !ctx.memory_readable {
        r.memory_error =
            Some("this binary's map implementation has no layout table (GOEXPERIMENT)".into());
        return r;
    }
    if m.sync {
        match mapmem::read_sync_map(mem, ctx.layout, ctx.sync_impl, id, ctx.expunged, budget) {
            Ok(s) => {
                r.live = s.live;
                r.held = s.held;
                r.bytes = s.bytes;
                r.scanned_fraction = s.scanned_fraction;
            }
            Err(e) => r.memory_error = Some(e.to_string()),
        }
    } else {
        let typ = (m.map_type != 0).then_some(m.map_type);
        match mapmem::read_map(mem, ctx.layout, ctx.map_impl, id, typ, budget) {
            Ok(s) => {
                r.live = s.live;
                r.held = s.live;
                r.capacity_slots = s.capacity_slots;
                r.tombstones = s.tombstones;
                r.tombstone_ratio = if s.capacity_slots > 0 {
                    s.tombstones as f64 / s.capacity_slots as f64
                } else {
                    0.0
                };
                r.bytes = s.bytes;
                r.scanned_fraction = s.scanned_fraction;
            }
            Err(e) => r.memory_error = Some(e.to_string()),
        }
    }
    r
}

fn where_(r: &MapReport) -> String {
    let f = &r.created_at;
    let how = if r.first_seen_only {
        "first seen at"
    } else {
        "created at"
    };
    format!("{how} {} ({}:{})", f.function, f.file, f.line)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// Capacity ≫ live: a Go map keeps its buckets/tables after deletes.
/// After any growth a map is at least ~40 % full, so ≤ 12.5 % means deletes.
fn never_shrinks(r: &MapReport) -> Option<Finding> {
    (r.kind == "map"
        && r.memory_error.is_none()
        && r.capacity_slots >= 1024
        && r.live * 8 <= r.capacity_slots
        && r.bytes >= 1 << 20)
        .then(|| Finding {
            kind: "map_never_shrinks",
            severity: if r.bytes >= 64 << 20 { "critical" } else { "warn" },
            site: Some(r.created_at.clone()),
            message: format!(
                "map {} holds {:.1} MiB in {} slots for {} live entries ({:.1} % used, {} tombstones): \
                 Go maps never shrink after deletes; copy the live entries into a new map to release the memory",
                where_(r),
                mib(r.bytes),
                r.capacity_slots,
                r.live,
                100.0 * r.live as f64 / r.capacity_slots as f64,
                r.tombstones
            ),
        })
}

/// sync.Map holding far more entries than are live.
fn residue(r: &MapReport) -> Option<Finding> {
    (r.kind == "sync.Map"
        && r.memory_error.is_none()
        && r.held >= 2 * r.live.max(1)
        && r.held - r.live >= 1000)
        .then(|| Finding {
            kind: "syncmap_residue",
            severity: if r.held - r.live >= 100_000 { "critical" } else { "warn" },
            site: Some(r.created_at.clone()),
            message: format!(
                "sync.Map {} still references {} entries but only {} are live: {} deleted keys (and what they point to) \
                 stay in its read map until the dirty map is promoted (sync.Map before Go 1.24); \
                 a Range walked up to {} entries",
                where_(r),
                r.held,
                r.live,
                r.held - r.live,
                r.range_visited_max.unwrap_or(r.held)
            ),
        })
}

/// Live entries only grow over the window, and stores outpace deletes.
fn growth(r: &MapReport, series: &[(f64, u64)]) -> Option<Finding> {
    let rate = leak_rate(series)?;
    let (first, last) = (series[0].1, series[series.len() - 1].1);
    let stores = r.ops.get(op_name::STORE).copied().unwrap_or(0);
    let deletes = r.ops.get(op_name::DELETE).copied().unwrap_or(0);
    (r.kind == "map" && stores > deletes && last >= first + 100).then(|| Finding {
        kind: "map_growth",
        severity: if rate >= 1000.0 { "critical" } else { "warn" },
        site: Some(r.created_at.clone()),
        message: format!(
            "map {} only grows: {} → {} live entries over {:.0} s (+{:.1}/s); {} stores vs {} deletes, {:.1} MiB held",
            where_(r),
            first,
            last,
            series[series.len() - 1].0 - series[0].0,
            rate,
            stores,
            deletes,
            mib(r.bytes)
        ),
    })
}

/// The maps' part of a mark: operation counts with sync.Map Store/Delete
/// call sites resolved (see `aggregate::maps`), makemap calls per stack.
pub fn resolve_ops(
    table: &MapTable,
    is_call_of: &mut dyn FnMut(u64, &'static str) -> bool,
) -> MapMark {
    MapMark {
        at: Instant::now(),
        ops: table
            .maps
            .iter()
            .map(|(k, m)| (*k, resolved_ops(m, is_call_of)))
            .collect(),
        made: table.made.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracee::gobin::Frame;

    fn report(kind: &'static str, live: u64, held: u64, cap: u64, bytes: u64) -> MapReport {
        MapReport {
            id: "0x1".into(),
            kind,
            implementation: "swiss",
            created_at: Frame {
                function: "main.f".into(),
                file: "main.go".into(),
                line: 3,
                inlined: false,
            },
            first_seen_only: false,
            stack: vec![],
            live,
            held,
            capacity_slots: cap,
            tombstones: 0,
            tombstone_ratio: 0.0,
            bytes,
            scanned_fraction: 1.0,
            memory_error: None,
            ops: BTreeMap::from([(op_name::STORE, 500), (op_name::DELETE, 10)]),
            ops_per_sec: 0.0,
            latency_ns: BTreeMap::new(),
            cost_ns: BTreeMap::new(),
            cost_ns_ci95: BTreeMap::new(),
            cost_samples: BTreeMap::new(),
            cpu_ns: None,
            zero_value_stores: 0,
            range_visited_mean: None,
            range_visited_max: None,
        }
    }

    #[test]
    fn findings_fire_on_their_thresholds_only() {
        assert!(never_shrinks(&report("map", 0, 0, 1 << 20, 300 << 20)).is_some());
        assert!(never_shrinks(&report("map", 1 << 18, 0, 1 << 20, 300 << 20)).is_none());
        assert!(never_shrinks(&report("map", 0, 0, 512, 300 << 20)).is_none());
        assert!(residue(&report("sync.Map", 150, 2050, 0, 1)).is_some());
        assert!(residue(&report("sync.Map", 150, 160, 0, 1)).is_none());
        let grow = [(0.0, 10), (1.0, 200), (2.0, 400)];
        assert!(growth(&report("map", 400, 0, 1024, 1), &grow).is_some());
        let flat = [(0.0, 10), (1.0, 200), (2.0, 100)];
        assert!(growth(&report("map", 400, 0, 1024, 1), &flat).is_none());
    }
}
