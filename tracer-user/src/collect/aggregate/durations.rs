//! One operation's durations on one map: the values themselves while
//! there are few, a histogram once there are more.
//!
//! A latency histogram over 1 ns … 60 s at two significant digits is
//! ~30 KB. Most maps of a service live for one request and see a handful
//! of operations: in exact mode a net/http service's first 4,096 maps,
//! each timed for ~3 kinds of operation, held ~380 MB of histograms
//! (`overhead.tracer_max_rss_bytes` 439 MB). Kept as values, such a map
//! costs a few hundred bytes, and its percentiles are exact.
use hdrhistogram::Histogram;

use crate::report::{percentiles, Percentiles};

/// Values kept as such; the next one moves them into a histogram.
const FEW: usize = 32;

#[derive(Debug, Clone)]
pub enum Durations {
    Few(Vec<u64>),
    Many(Box<Histogram<u64>>),
}

impl Default for Durations {
    fn default() -> Self {
        Durations::Few(Vec::new())
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("static bounds are valid")
}

impl Durations {
    pub fn record(&mut self, ns: u64) {
        match self {
            Durations::Few(v) if v.len() < FEW => v.push(ns),
            Durations::Few(v) => {
                let mut h = histogram();
                for &x in v.iter().chain([&ns]) {
                    h.saturating_record(x);
                }
                *self = Durations::Many(Box::new(h));
            }
            Durations::Many(h) => h.saturating_record(ns),
        }
    }

    /// Durations recorded.
    pub fn len(&self) -> u64 {
        match self {
            Durations::Few(v) => v.len() as u64,
            Durations::Many(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at quantile `q`, as a histogram gives it: the smallest
    /// value with at least `q` of the values at or below it.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        match self {
            Durations::Few(v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                rank_value(&sorted, q)
            }
            Durations::Many(h) => h.value_at_quantile(q),
        }
    }

    /// p50, p90, p99, max and mean (zeros when empty).
    pub fn percentiles(&self) -> Percentiles {
        match self {
            Durations::Few(v) if v.is_empty() => Percentiles::default(),
            Durations::Few(v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                Percentiles {
                    p50: rank_value(&sorted, 0.5),
                    p90: rank_value(&sorted, 0.9),
                    p99: rank_value(&sorted, 0.99),
                    max: sorted[sorted.len() - 1],
                    mean: sorted.iter().sum::<u64>() as f64 / sorted.len() as f64,
                }
            }
            Durations::Many(h) => percentiles(h),
        }
    }
}

/// Of sorted values: the one at rank ⌈q·n⌉ (at least the first).
fn rank_value(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_values_give_exact_percentiles() {
        let mut d = Durations::default();
        for v in [500, 100, 400, 200, 300] {
            d.record(v);
        }
        assert!(matches!(d, Durations::Few(_)));
        let p = d.percentiles();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (300, 500, 500, 500));
        assert_eq!(p.mean, 300.0);
        assert_eq!(d.value_at_quantile(0.2), 100);
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn many_values_move_into_a_histogram_and_agree_with_it() {
        let mut d = Durations::default();
        let mut h = histogram();
        for i in 1..=1000u64 {
            d.record(i * 1000);
            h.record(i * 1000).unwrap();
        }
        let Durations::Many(ref inner) = d else {
            panic!("still kept as values")
        };
        assert_eq!(inner.len(), 1000);
        assert_eq!(d.len(), 1000);
        assert_eq!(d.percentiles(), percentiles(&h));
        assert_eq!(d.value_at_quantile(0.99), h.value_at_quantile(0.99));
    }

    #[test]
    fn the_switch_keeps_every_value() {
        let mut d = Durations::default();
        for i in 0..=FEW as u64 {
            d.record(1_000 + i);
        }
        assert!(matches!(d, Durations::Many(_)));
        assert_eq!(d.len(), FEW as u64 + 1);
        // The histogram's max is the top of the largest value's bucket.
        let max = d.percentiles().max;
        assert!((1_000 + FEW as u64..=1_050).contains(&max), "{max}");
    }

    #[test]
    fn empty_is_zeros() {
        assert!(Durations::default().is_empty());
        assert_eq!(Durations::default().percentiles(), Percentiles::default());
        assert_eq!(Durations::default().value_at_quantile(0.5), 0);
    }
}
