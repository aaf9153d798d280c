//! Per-site bytes/s over the last intervals, for the sparkline column.
use std::collections::{HashMap, VecDeque};

use super::sites::SiteKey;

/// One minute at the run loop's one-second refresh.
pub const HISTORY_LEN: usize = 60;

#[derive(Default)]
pub struct History {
    series: HashMap<SiteKey, Series>,
    /// Incremented per `record`; a series not touched in the latest one
    /// belongs to a site no longer reported and is dropped, which bounds
    /// memory by the number of live sites.
    generation: u64,
}

struct Series {
    samples: VecDeque<f64>,
    generation: u64,
}

impl History {
    /// Appends one interval's value for every current site. Sites missing
    /// from the interval must be passed with 0 so all series stay aligned.
    pub fn record<'a>(&mut self, values: impl Iterator<Item = (&'a SiteKey, f64)>) {
        self.generation += 1;
        let generation = self.generation;
        for (key, v) in values {
            // get_mut first: cloning the key only for new sites keeps a
            // refresh of thousands of sites allocation-free.
            let series = match self.series.get_mut(key) {
                Some(s) => s,
                None => self.series.entry(key.clone()).or_insert(Series {
                    samples: VecDeque::with_capacity(HISTORY_LEN),
                    generation,
                }),
            };
            if series.samples.len() == HISTORY_LEN {
                series.samples.pop_front();
            }
            series.samples.push_back(v);
            series.generation = generation;
        }
        self.series.retain(|_, s| s.generation == generation);
    }

    /// Oldest first; empty for an unknown site.
    pub fn samples(&self, key: &SiteKey) -> impl Iterator<Item = f64> + Clone + '_ {
        self.series
            .get(key)
            .into_iter()
            .flat_map(|s| s.samples.iter().copied())
    }

    pub fn len(&self, key: &SiteKey) -> usize {
        self.series.get(key).map_or(0, |s| s.samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(f: &str) -> SiteKey {
        SiteKey {
            function: f.into(),
            file: "main.go".into(),
            line: 1,
        }
    }

    #[test]
    fn keeps_last_sixty_and_forgets_gone_sites() {
        let (a, b) = (key("a"), key("b"));
        let mut h = History::default();
        for i in 0..70 {
            h.record([(&a, i as f64), (&b, 1.0)].into_iter());
        }
        assert_eq!(h.len(&a), HISTORY_LEN);
        assert_eq!(h.samples(&a).next(), Some(10.0));
        assert_eq!(h.samples(&a).last(), Some(69.0));
        h.record([(&a, 0.0)].into_iter());
        assert_eq!(h.len(&b), 0);
        assert_eq!(h.samples(&a).last(), Some(0.0));
    }
}
