//! The maps section of a report and its findings: joins what the probes
//! counted (`aggregate::maps`) with what the maps' memory shows now
//! (`mapmem`, read-only), ranks them, and sums the rest.
use std::collections::{BTreeMap, HashMap};

use crate::{
    aggregate::{
        goroutines::leak_rate,
        maps::{op_name, resolved_ops, MapStats, MapTable},
    },
    golayout::{Layout, MapImpl, SyncMapImpl},
    mapmem::{self, ScanBudget},
    procmem::ProcMem,
    report::{Finding, MapReport, MapTotals, Percentiles},
    session::percentiles,
    symbolize::{self, Symbolized},
};

/// Maps whose memory is read per report (the busiest in the window).
const READ_AT_MOST: usize = 256;

pub const DEFINITIONS: &str = "live = len(m); capacity_slots = slots allocated (classic: 8 per bucket incl. overflow; swiss: table capacities); \
tombstones = classic: slots deleted and not reused (tophash emptyOne); swiss: ctrlDeleted slots (capacity*7/8 - used - growthLeft per table); \
sync.Map held = entries still referenced incl. deleted ones (read/dirty), live = entries with a value";

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
}

/// Live entries of a map read from its header, for the growth timeline.
pub fn live_now(mem: &ProcMem, map: u64) -> Option<u64> {
    // hmap.count (int) and maps.Map.used (uint64) are both at offset 0.
    mem.read_u64(map).ok().filter(|&n| n < 1 << 40)
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
    pub totals: MapTotals,
    pub findings: Vec<Finding>,
}

/// `ops_from`: resolved op counts at the window start; `ops_to` now.
#[allow(clippy::too_many_arguments)]
pub fn build(
    ctx: &MapContext,
    table: &MapTable,
    ops_from: &HashMap<u64, BTreeMap<&'static str, u64>>,
    ops_to: &HashMap<u64, BTreeMap<&'static str, u64>>,
    secs: f64,
    ops_sampled: bool,
    top: usize,
    live_series: &HashMap<u64, Vec<(f64, u64)>>,
    stack_of: &mut dyn FnMut(u64) -> Option<Symbolized>,
) -> Built {
    let mem = ProcMem::new(ctx.pid);
    let budget = ScanBudget::default();
    let window_ops = |id: &u64| -> BTreeMap<&'static str, u64> {
        let now = ops_to.get(id).cloned().unwrap_or_default();
        let base = ops_from.get(id);
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
    let mut candidates: Vec<Candidate> = table
        .maps
        .iter()
        .map(|(id, m)| (*id, m, stack_of(m.stack_id), window_ops(id)))
        .filter(|(_, m, stack, _)| m.sync || !stack.as_ref().is_some_and(is_sync_internal))
        .collect();
    let total_ops = |ops: &BTreeMap<&str, u64>| -> u64 {
        ops.iter()
            .filter(|(k, _)| **k != op_name::LOAD_MISS)
            .map(|(_, v)| v)
            .sum()
    };
    candidates.sort_by_key(|(id, _, _, ops)| (std::cmp::Reverse(total_ops(ops)), *id));
    let mut reports: Vec<MapReport> = Vec::new();
    let mut totals = MapTotals {
        tracked: candidates.len() as u64,
        untracked_ops: table.untracked_ops,
        latency_floor_ns: table.floor_ns,
        probes: ctx.probes,
        ops_watched_ns: ops_sampled.then_some((secs * 1e9) as u64),
        definitions: DEFINITIONS,
        ..Default::default()
    };
    for (i, (id, m, stack, ops)) in candidates.into_iter().enumerate() {
        if i >= READ_AT_MOST {
            totals.other_maps += 1;
            totals.other_ops += total_ops(&ops);
            continue;
        }
        let mut r = map_report(ctx, &mem, &budget, id, m, stack, ops, secs);
        r.latency_ns = table
            .latencies
            .get(&id)
            .map(|l| {
                l.iter()
                    .map(|(k, h)| (*k, minus_floor(percentiles(h), table.floor_ns)))
                    .collect()
            })
            .unwrap_or_default();
        reports.push(r);
    }
    reports.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.ops_per_sec.total_cmp(&a.ops_per_sec))
            .then(a.id.cmp(&b.id))
    });
    let mut findings = Vec::new();
    for r in &reports {
        findings.extend(never_shrinks(r));
        findings.extend(residue(r));
        if let Some(series) = u64::from_str_radix(r.id.trim_start_matches("0x"), 16)
            .ok()
            .and_then(|id| live_series.get(&id))
        {
            findings.extend(growth(r, series));
        }
    }
    for r in reports.split_off(top.min(reports.len())) {
        totals.other_maps += 1;
        totals.other_bytes += r.bytes;
        totals.other_ops += total_ops(&r.ops);
    }
    Built {
        maps: reports,
        totals,
        findings,
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
    let n_ops: u64 = ops
        .iter()
        .filter(|(k, _)| **k != op_name::LOAD_MISS)
        .map(|(_, v)| v)
        .sum();
    let mut r = MapReport {
        id: format!("{id:#x}"),
        kind: if m.sync { "sync.Map" } else { "map" },
        implementation: match (m.sync, ctx.map_impl, ctx.sync_impl) {
            (false, MapImpl::Classic, _) => "classic",
            (false, MapImpl::Swiss, _) => "swiss",
            (true, _, SyncMapImpl::ReadDirty) => "read_dirty",
            (true, _, SyncMapImpl::HashTrie) => "hashtrie",
        },
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

/// Resolves sync.Map Store/Delete call sites (see `aggregate::maps`).
pub fn resolve_ops(
    table: &MapTable,
    is_call_of: &mut dyn FnMut(u64, &'static str) -> bool,
) -> HashMap<u64, BTreeMap<&'static str, u64>> {
    table
        .maps
        .iter()
        .map(|(k, m)| (*k, resolved_ops(m, is_call_of)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gobin::Frame;

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
