//! Goroutines by creation site (the `go` statement's PC): created, exited
//! and live, from creation/exit events plus the list read at attach.
use std::collections::{BTreeMap, HashMap};

/// One live goroutine.
#[derive(Debug, Clone, Copy)]
pub struct LiveG {
    /// Runtime PC of the `go` statement (0 = unknown).
    pub gopc: u64,
    /// Address of its `runtime.g` (to read its state at report time).
    pub g: u64,
    /// Started by the runtime for itself (GC workers…): not in any site,
    /// not in `runtime.NumGoroutine()`.
    pub system: bool,
}

/// Cumulative counts of one creation site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteCounts {
    pub created: u64,
    pub exited: u64,
    /// Alive when the tracer attached.
    pub pre_existing: u64,
}

#[derive(Debug, Default, Clone)]
pub struct GoroutineTable {
    pub live: HashMap<u64, LiveG>,
    /// By gopc.
    pub sites: HashMap<u64, SiteCounts>,
    /// Exits of goroutines the tracer never saw start.
    pub unknown_exits: u64,
}

impl GoroutineTable {
    pub fn created(&mut self, goid: u64, live: LiveG) {
        // Listed at attach and created just before: count once.
        if self.live.insert(goid, live).is_none() && !live.system {
            self.sites.entry(live.gopc).or_default().created += 1;
        }
    }

    /// A goroutine that existed before the tracer attached.
    pub fn pre_existing(&mut self, goid: u64, live: LiveG) {
        if self.live.insert(goid, live).is_none() && !live.system {
            self.sites.entry(live.gopc).or_default().pre_existing += 1;
        }
    }

    pub fn exited(&mut self, goid: u64) {
        match self.live.remove(&goid) {
            Some(g) if g.system => {}
            Some(g) => self.sites.entry(g.gopc).or_default().exited += 1,
            None => self.unknown_exits += 1,
        }
    }

    /// Live user goroutines per site.
    pub fn live_by_site(&self) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for g in self.live.values().filter(|g| !g.system) {
            *out.entry(g.gopc).or_default() += 1;
        }
        out
    }

    pub fn system_live(&self) -> u64 {
        self.live.values().filter(|g| g.system).count() as u64
    }
}

/// A site leaks when its live count never went down over the samples and
/// ended higher than it started. Returns the growth per second.
pub fn leak_rate(samples: &[(f64, u64)]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let monotone = samples.windows(2).all(|w| w[1].1 >= w[0].1);
    let span = last.0 - first.0;
    (samples.len() >= 3 && monotone && last.1 > first.1 && span > 0.0)
        .then(|| (last.1 - first.1) as f64 / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_dedup() {
        let mut t = GoroutineTable::default();
        let g = |gopc, system| LiveG {
            gopc,
            g: 0x10,
            system,
        };
        t.pre_existing(1, g(0x500, false));
        t.created(1, g(0x500, false));
        t.created(2, g(0x600, false));
        t.created(3, g(0x600, false));
        t.created(4, g(0x700, true));
        t.exited(2);
        t.exited(99);
        t.exited(4);
        assert_eq!(t.system_live(), 0);
        assert!(!t.sites.contains_key(&0x700));
        assert_eq!(
            t.sites[&0x500],
            SiteCounts {
                created: 0,
                exited: 0,
                pre_existing: 1
            }
        );
        assert_eq!(
            t.sites[&0x600],
            SiteCounts {
                created: 2,
                exited: 1,
                pre_existing: 0
            }
        );
        assert_eq!(t.unknown_exits, 1);
        assert_eq!(t.live_by_site(), BTreeMap::from([(0x500, 1), (0x600, 1)]));
    }

    #[test]
    fn leaks_only_grow() {
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 12), (2.0, 14)]), Some(2.0));
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 9), (2.0, 14)]), None);
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 10), (2.0, 10)]), None);
        assert_eq!(leak_rate(&[(0.0, 10), (2.0, 14)]), None);
    }
}
