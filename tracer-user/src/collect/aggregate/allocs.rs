//! Per-site allocation statistics from (stack, size) counts.
use std::collections::HashMap;

use hdrhistogram::Histogram;
use tracer_common::AllocKey;

use crate::{
    report::{AllocSite, AllocTotals, HistBucket, SizeCount, StackCount},
    tracee::gobin::Frame,
    tracee::sizeclass,
    tracee::symbolize::{unknown_frame, Symbolized},
};

/// Counts per key over a window: `now - base`.
pub fn delta(
    now: &HashMap<AllocKey, u64>,
    base: &HashMap<AllocKey, u64>,
) -> HashMap<AllocKey, u64> {
    now.iter()
        .filter_map(|(k, &n)| {
            let d = n.saturating_sub(base.get(k).copied().unwrap_or(0));
            (d > 0).then_some((*k, d))
        })
        .collect()
}

/// Multiplies sampled counts so that they sum to exactly `total` (the
/// runtime's own count for the window): each key keeps its share, and the
/// rounding remainders go to the largest fractions.
pub fn scale_to(counts: &mut HashMap<AllocKey, u64>, total: u64) -> f64 {
    let sampled: u64 = counts.values().sum();
    if sampled == 0 {
        return 0.0;
    }
    let factor = total as f64 / sampled as f64;
    let exact = counts
        .iter()
        .map(|(k, &n)| (*k, n as f64 * factor))
        .collect();
    *counts = round_to_total(&exact, total);
    factor
}

/// Whole counts per key from estimates, summing to exactly `total` (the
/// estimates are first scaled to it): floors, then the remainders to the
/// largest fractions.
pub fn round_to_total(estimates: &HashMap<AllocKey, f64>, total: u64) -> HashMap<AllocKey, u64> {
    let sum: f64 = estimates.values().filter(|v| **v > 0.0).sum();
    if sum <= 0.0 {
        return HashMap::new();
    }
    let factor = total as f64 / sum;
    let mut out = HashMap::with_capacity(estimates.len());
    let mut fractions: Vec<(f64, AllocKey)> = Vec::with_capacity(estimates.len());
    let mut assigned = 0u64;
    for (key, &v) in estimates.iter().filter(|(_, v)| **v > 0.0) {
        let exact = v * factor;
        let n = exact.floor() as u64;
        assigned += n;
        out.insert(*key, n);
        fractions.push((exact - exact.floor(), *key));
    }
    fractions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, key) in fractions
        .iter()
        .take(total.saturating_sub(assigned) as usize)
    {
        *out.get_mut(key).expect("key from estimates") += 1;
    }
    out.retain(|_, n| *n > 0);
    out
}

#[derive(Default)]
struct SiteAcc {
    objects: u64,
    bytes: u64,
    slot_bytes: u64,
    /// bytes per stack id
    stacks: HashMap<u64, u64>,
    sizes: HashMap<u64, u64>,
}

/// Allocation counts per stack, heaviest first.
pub fn by_stack(
    counts: &HashMap<AllocKey, u64>,
    mut stack_of: impl FnMut(u64) -> Option<Symbolized>,
) -> Vec<StackCount> {
    let mut per: HashMap<u64, (u64, u64)> = HashMap::new();
    for (key, &n) in counts {
        let e = per.entry(key.stack_id).or_default();
        e.0 += n;
        e.1 += key.size * n;
    }
    let mut out: Vec<StackCount> = per
        .into_iter()
        .map(|(id, (objects, bytes))| StackCount {
            frames: stack_of(id)
                .map(|s| s.frames)
                .unwrap_or_else(|| vec![unknown_frame()]),
            objects,
            bytes,
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.objects.cmp(&a.objects)));
    out
}

/// Groups counts by allocation site. `stack_of` resolves a stack id to its
/// symbolized frames (None for id 0 or a stack the kernel could not keep).
pub fn by_site(
    counts: &HashMap<AllocKey, u64>,
    go_minor: u32,
    secs: f64,
    mut stack_of: impl FnMut(u64) -> Option<Symbolized>,
) -> (Vec<AllocSite>, AllocTotals) {
    let mut sites: HashMap<Frame, SiteAcc> = HashMap::new();
    let mut symbolized: HashMap<u64, Option<Symbolized>> = HashMap::new();
    let mut totals = AllocTotals::default();
    for (key, &n) in counts {
        let sym = symbolized
            .entry(key.stack_id)
            .or_insert_with(|| stack_of(key.stack_id));
        let site = sym
            .as_ref()
            .map(Symbolized::site)
            .unwrap_or_else(unknown_frame);
        let acc = sites.entry(site).or_default();
        let bytes = key.size * n;
        let slot = sizeclass::slot_size(key.size, key.scan != 0, go_minor) * n;
        acc.objects += n;
        acc.bytes += bytes;
        acc.slot_bytes += slot;
        *acc.stacks.entry(key.stack_id).or_default() += bytes;
        *acc.sizes.entry(key.size).or_default() += n;
        totals.objects += n;
        totals.bytes += bytes;
        totals.slot_bytes += slot;
    }
    totals.sites = sites.len();
    let secs = secs.max(1e-9);
    let mut out: Vec<AllocSite> = sites
        .into_iter()
        .map(|(site, acc)| {
            let top = acc
                .stacks
                .iter()
                .max_by_key(|(id, b)| (**b, std::cmp::Reverse(**id)))
                .map(|(id, _)| *id);
            let sym = top.and_then(|id| symbolized.get(&id).cloned().flatten());
            let via = sym.as_ref().map(via_frames).unwrap_or_default();
            let (hist, p50, p99, max) = size_stats(&acc.sizes);
            let mut sizes: Vec<SizeCount> = acc
                .sizes
                .iter()
                .map(|(&size, &count)| SizeCount { size, count })
                .collect();
            sizes.sort_by(|a, b| b.count.cmp(&a.count).then(a.size.cmp(&b.size)));
            sizes.truncate(16);
            AllocSite {
                site,
                stack: sym.map(|s| s.frames).unwrap_or_default(),
                stacks: acc.stacks.len(),
                via,
                objects: acc.objects,
                bytes: acc.bytes,
                slot_bytes: acc.slot_bytes,
                objects_per_sec: acc.objects as f64 / secs,
                bytes_per_sec: acc.bytes as f64 / secs,
                avg_size: acc.bytes as f64 / acc.objects.max(1) as f64,
                size_p50: p50,
                size_p99: p99,
                size_max: max,
                size_histogram: hist,
                sizes,
                inuse_objects: None,
                inuse_bytes: None,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.objects.cmp(&a.objects))
            .then(a.site.function.cmp(&b.site.function))
    });
    (out, totals)
}

/// Functions between the runtime frames and the site, innermost first.
fn via_frames(s: &Symbolized) -> Vec<String> {
    s.frames[..s.site.min(s.frames.len())]
        .iter()
        .map(|f| f.function.clone())
        .filter(|f| {
            let pkg = crate::tracee::symbolize::package_of(f);
            pkg != "runtime"
                && !pkg.starts_with("internal/runtime")
                && !pkg.starts_with("runtime/internal")
        })
        .collect()
}

/// Histogram over Go size-class edges, plus p50/p99/max of requested sizes.
fn size_stats(sizes: &HashMap<u64, u64>) -> (Vec<HistBucket>, u64, u64, u64) {
    let mut h: Histogram<u64> = match Histogram::new(3) {
        Ok(h) => h,
        Err(_) => return (Vec::new(), 0, 0, 0),
    };
    for (&size, &count) in sizes {
        let _ = h.record_n(size.max(1), count);
    }
    let mut buckets = Vec::new();
    let mut below = 0u64;
    for le in sizeclass::histogram_edges() {
        let upto = h.count_between(0, le);
        if upto > below {
            buckets.push(HistBucket {
                le,
                count: upto - below,
            });
            below = upto;
        }
        if below >= h.len() {
            break;
        }
    }
    (
        buckets,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_shares_and_hits_the_total() {
        let key = |size| AllocKey {
            stack_id: 1,
            size,
            scan: 0,
            _pad: 0,
        };
        let mut counts: HashMap<AllocKey, u64> = [(key(8), 1), (key(16), 1), (key(32), 1)]
            .into_iter()
            .collect();
        let f = scale_to(&mut counts, 1000);
        assert!((f - 1000.0 / 3.0).abs() < 1e-9);
        assert_eq!(counts.values().sum::<u64>(), 1000);
        assert!(counts.values().all(|&n| n == 333 || n == 334));
        let mut empty = HashMap::new();
        assert_eq!(scale_to(&mut empty, 10), 0.0);
    }

    fn frame(f: &str, line: u32) -> Frame {
        Frame {
            function: f.into(),
            file: "/src/main.go".into(),
            line,
            inlined: false,
        }
    }

    #[test]
    fn groups_by_site_and_keeps_exact_sizes() {
        let mut counts = HashMap::new();
        counts.insert(
            AllocKey {
                stack_id: 1,
                size: 512,
                scan: 0,
                _pad: 0,
            },
            100,
        );
        counts.insert(
            AllocKey {
                stack_id: 1,
                size: 1536,
                scan: 0,
                _pad: 0,
            },
            100,
        );
        counts.insert(
            AllocKey {
                stack_id: 3,
                size: 64,
                scan: 1,
                _pad: 0,
            },
            10,
        );
        let (sites, totals) = by_site(&counts, 23, 2.0, |id| {
            let frames = match id {
                1 => vec![
                    frame("runtime.growslice", 1),
                    frame("io.ReadAll", 2),
                    frame("main.read", 42),
                ],
                _ => vec![frame("runtime.newobject", 1), frame("main.other", 7)],
            };
            let site = frames
                .iter()
                .position(|f| f.function.starts_with("main."))
                .unwrap();
            Some(Symbolized { frames, site })
        });
        assert_eq!(totals.objects, 210);
        assert_eq!(totals.bytes, 100 * 512 + 100 * 1536 + 640);
        assert_eq!(sites[0].site.function, "main.read");
        assert_eq!(sites[0].via, vec!["io.ReadAll".to_string()]);
        assert_eq!(sites[0].objects_per_sec, 100.0);
        assert_eq!(
            sites[0].size_histogram,
            vec![
                HistBucket {
                    le: 512,
                    count: 100
                },
                HistBucket {
                    le: 1536,
                    count: 100
                }
            ]
        );
        assert_eq!(sites[1].site.function, "main.other");
        assert_eq!(sites[1].slot_bytes, 640);
    }

    #[test]
    fn delta_drops_unchanged_keys() {
        let k = AllocKey {
            stack_id: 1,
            size: 8,
            scan: 0,
            _pad: 0,
        };
        let k2 = AllocKey {
            stack_id: 2,
            size: 8,
            scan: 0,
            _pad: 0,
        };
        let now = HashMap::from([(k, 10), (k2, 5)]);
        let base = HashMap::from([(k, 4), (k2, 5)]);
        assert_eq!(delta(&now, &base), HashMap::from([(k, 6)]));
    }
}
