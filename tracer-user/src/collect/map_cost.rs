//! CPU per map operation (`maps[].cost_ns`): the on-CPU samples taken in a
//! map operation's code at a call site, while operations were counted,
//! shared among the maps operated on from that call site by their counts,
//! over those counts. Since attach, with a 95 % interval from the samples.
use std::collections::{BTreeMap, HashMap};

use super::{
    aggregate::maps::{op_name_of, MapStats, MapTable},
    cpu::{MapOpsCpu, OpCpu},
};
use crate::report::MapReport;

/// Fewer samples than this behind an operation's cost: not measurable.
pub const MIN_COST_SAMPLES: f64 = 10.0;
/// A cost under this many times the probe pair's own resolution is not
/// measurable either: the samples are taken while the probes count the
/// operations, and what they add to each one (two traps' cache and TLB
/// misses) is then more than the operation (a load from a 1M-entry map:
/// ~70 ns on its own, 2,055 ns measured on Go 1.27.3).
pub const MIN_COST_RESOLUTIONS: f64 = 2.0;

/// One map's CPU per operation, by operation name (null below
/// [`MIN_COST_SAMPLES`]), and its CPU in operations.
#[derive(Debug, Default, PartialEq)]
pub struct Cost {
    pub ns: BTreeMap<&'static str, Option<f64>>,
    pub ci95: BTreeMap<&'static str, [f64; 2]>,
    pub samples: BTreeMap<&'static str, f64>,
}

/// Operations per call site over every map.
pub fn site_totals(table: &MapTable) -> HashMap<(u32, u64), u64> {
    let mut totals: HashMap<(u32, u64), u64> = HashMap::new();
    for m in table.maps.values() {
        for (k, n) in &m.op_sites {
            *totals.entry(*k).or_default() += n;
        }
    }
    totals
}

/// `resolution_ns`: the probe pair's own jitter (`latency_resolution_ns`).
pub fn cost(
    m: &MapStats,
    totals: &HashMap<(u32, u64), u64>,
    cpu: &HashMap<(u32, u64), OpCpu>,
    period_ns: u64,
    resolution_ns: u64,
) -> Cost {
    // Per operation name: (ns, samples, operations).
    let mut acc: BTreeMap<&'static str, (f64, f64, u64)> = BTreeMap::new();
    for (&(op, pc), &n) in &m.op_sites {
        let Some(name) = op_name_of(op) else { continue };
        let all = totals.get(&(op, pc)).copied().unwrap_or(n).max(1);
        let share = n as f64 / all as f64;
        let c = cpu.get(&(op, pc)).copied().unwrap_or_default();
        let e = acc.entry(name).or_default();
        e.0 += c.ns as f64 * share;
        e.1 += c.samples as f64 * share;
        e.2 += n;
    }
    let mut out = Cost::default();
    for (name, (ns, samples, ops)) in acc {
        if ops == 0 {
            continue;
        }
        let per_op = ns / ops as f64;
        // Poisson counts: ±1.96·√n samples; with none, up to 3.
        let unit = period_ns as f64 / ops as f64;
        let (lo, hi) = if samples >= 1.0 {
            let half = 1.96 * samples.sqrt();
            (((samples - half).max(0.0)) * unit, (samples + half) * unit)
        } else {
            (0.0, 3.0 * unit)
        };
        let measurable =
            samples >= MIN_COST_SAMPLES && per_op >= MIN_COST_RESOLUTIONS * resolution_ns as f64;
        out.ns.insert(name, measurable.then_some(per_op));
        out.ci95.insert(name, [lo, hi]);
        out.samples.insert(name, samples);
    }
    out
}

/// User-mode CPU in a map's operations since attach: each call site's
/// samples shared by the operation counts there.
pub fn cpu_ns(
    m: &MapStats,
    totals: &HashMap<(u32, u64), u64>,
    cpu: &HashMap<(u32, u64), OpCpu>,
) -> u64 {
    m.op_sites
        .iter()
        .map(|(k, &n)| {
            let all = totals.get(k).copied().unwrap_or(n).max(1);
            cpu.get(k)
                .map_or(0.0, |c| c.ns as f64 * n as f64 / all as f64)
        })
        .sum::<f64>() as u64
}

/// Fills `cost_ns` and `cpu_ns` of the listed maps.
pub fn fill(
    maps: &mut [MapReport],
    table: &MapTable,
    cpu: &MapOpsCpu,
    period_ns: u64,
    resolution_ns: u64,
) {
    let totals = site_totals(table);
    for r in maps {
        let id = u64::from_str_radix(r.id.trim_start_matches("0x"), 16).unwrap_or(0);
        if let Some(m) = table.maps.get(&id) {
            let c = cost(m, &totals, &cpu.watched, period_ns, resolution_ns);
            r.cost_ns = c.ns;
            r.cost_ns_ci95 = c.ci95;
            r.cost_samples = c.samples;
            r.cpu_ns = Some(cpu_ns(m, &totals, &cpu.all));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracer_common::map_op;

    fn stats(sites: &[((u32, u64), u64)]) -> MapStats {
        MapStats {
            op_sites: sites.iter().copied().collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_call_site_shared_by_two_maps_splits_its_samples() {
        let a = stats(&[((map_op::ACCESS, 0x10), 300), ((map_op::ASSIGN, 0x20), 10)]);
        let b = stats(&[((map_op::ACCESS, 0x10), 100)]);
        let mut totals = HashMap::new();
        totals.insert((map_op::ACCESS, 0x10), 400);
        totals.insert((map_op::ASSIGN, 0x20), 10);
        let mut cpu = HashMap::new();
        // 40 samples of 10 µs at the shared load site: 400 µs over 400 loads.
        cpu.insert(
            (map_op::ACCESS, 0x10),
            OpCpu {
                samples: 40,
                ns: 400_000,
            },
        );
        let ca = cost(&a, &totals, &cpu, 10_000, 400);
        let cb = cost(&b, &totals, &cpu, 10_000, 400);
        assert!((ca.ns["load"].unwrap() - 1000.0).abs() < 1e-6);
        assert!((cb.ns["load"].unwrap() - 1000.0).abs() < 1e-6);
        assert!((ca.samples["load"] - 30.0).abs() < 1e-6);
        assert_eq!(cpu_ns(&a, &totals, &cpu), 300_000);
        // No sample at the store site: not measurable, bounded by 3 samples' worth.
        assert_eq!(ca.ns["store"], None);
        assert_eq!(ca.ci95["store"], [0.0, 3.0 * 10_000.0 / 10.0]);
        let [lo, hi] = ca.ci95["load"];
        assert!(
            lo < 1000.0 && hi > 1000.0 && lo > 500.0 && hi < 1500.0,
            "{lo} {hi}"
        );
        // Under twice the probes' resolution: not a number, the interval
        // stays.
        let c = cost(&a, &totals, &cpu, 10_000, 501);
        assert_eq!(c.ns["load"], None);
        assert_eq!(c.ci95["load"], ca.ci95["load"]);
    }
}
