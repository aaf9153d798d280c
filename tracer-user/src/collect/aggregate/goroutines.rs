//! Goroutines by creation site (the `go` statement's PC): created, exited
//! and live. Exact mode: from creation/exit events plus the list read at
//! attach. Sampled mode: from readings of the runtime's list alone
//! ([`GoroutineTable::reconcile`], see `goroutines::snapshot`).
use std::collections::{BTreeMap, HashMap};

/// One live goroutine.
#[derive(Debug, Clone, Copy)]
pub struct LiveG {
    /// Runtime PC of the `go` statement (0 = unknown).
    pub gopc: u64,
    /// Address of its `runtime.g` (to read its state at report time).
    pub g: u64,
    /// Runtime PC of the function it started in (names sites that no `go`
    /// statement of Go code made, like the main goroutine's).
    pub startpc: u64,
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
    /// Start function (runtime PC) of the first goroutine seen here.
    pub startpc: u64,
}

impl SiteCounts {
    fn seen(&mut self, live: &LiveG) -> &mut SiteCounts {
        if self.startpc == 0 {
            self.startpc = live.startpc;
        }
        self
    }
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
            self.sites.entry(live.gopc).or_default().seen(&live).created += 1;
        }
    }

    /// A goroutine that existed before the tracer attached.
    pub fn pre_existing(&mut self, goid: u64, live: LiveG) {
        if self.live.insert(goid, live).is_none() && !live.system {
            self.sites
                .entry(live.gopc)
                .or_default()
                .seen(&live)
                .pre_existing += 1;
        }
    }

    /// Replaces the live goroutines with a new reading of the runtime's
    /// list (goid → goroutine): goids not live before are counted as
    /// created at their site, live goids missing from it as exited.
    /// Goroutines that started and ended between two readings are not
    /// counted. Returns (created, exited) of user goroutines.
    ///
    /// Both sides are sorted by goid and walked together, so the map is
    /// only touched for what changed (100,000 goroutines: a few ms).
    pub fn reconcile(&mut self, now: impl IntoIterator<Item = (u64, LiveG)>) -> (u64, u64) {
        let mut now: Vec<(u64, LiveG)> = now.into_iter().collect();
        now.sort_unstable_by_key(|e| e.0);
        now.dedup_by_key(|e| e.0);
        let mut before: Vec<u64> = self.live.keys().copied().collect();
        before.sort_unstable();
        let mut gone: Vec<u64> = Vec::new();
        let mut before = before.into_iter().peekable();
        let mut created = 0;
        for (goid, g) in now {
            while let Some(old) = before.next_if(|&old| old < goid) {
                gone.push(old);
            }
            if before.next_if_eq(&goid).is_some() {
                continue;
            }
            self.live.insert(goid, g);
            if !g.system {
                self.sites.entry(g.gopc).or_default().seen(&g).created += 1;
                created += 1;
            }
        }
        gone.extend(before);
        let mut exited = 0;
        for goid in gone {
            match self.live.remove(&goid) {
                Some(g) if !g.system => {
                    self.sites.entry(g.gopc).or_default().exited += 1;
                    exited += 1;
                }
                _ => {}
            }
        }
        (created, exited)
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
            startpc: gopc + 1,
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
                pre_existing: 1,
                startpc: 0x501,
            }
        );
        assert_eq!(
            t.sites[&0x600],
            SiteCounts {
                created: 2,
                exited: 1,
                pre_existing: 0,
                startpc: 0x601,
            }
        );
        assert_eq!(t.unknown_exits, 1);
        assert_eq!(t.live_by_site(), BTreeMap::from([(0x500, 1), (0x600, 1)]));
    }

    fn user(gopc: u64) -> LiveG {
        LiveG {
            gopc,
            g: gopc << 8,
            startpc: gopc + 1,
            system: false,
        }
    }

    #[test]
    fn reconcile_counts_what_readings_differ_by() {
        let mut t = GoroutineTable::default();
        let sys = LiveG {
            system: true,
            ..user(0x900)
        };
        // At attach: goids 1..=3 at 0x500, a system goroutine.
        for goid in 1..=3 {
            t.pre_existing(goid, user(0x500));
        }
        t.pre_existing(10, sys);
        // Next reading: 2 exited, 4 and 5 created at 0x600, 6 at 0x500,
        // another system goroutine appeared, 10 is still there.
        let r = [
            (1, user(0x500)),
            (3, user(0x500)),
            (4, user(0x600)),
            (5, user(0x600)),
            (6, user(0x500)),
            (10, sys),
            (11, sys),
        ];
        assert_eq!(t.reconcile(r), (3, 1));
        assert_eq!(t.live.len(), 7);
        assert_eq!(t.system_live(), 2);
        let counts = |t: &GoroutineTable, pc: u64| {
            let s = t.sites[&pc];
            (s.pre_existing, s.created, s.exited)
        };
        assert_eq!(counts(&t, 0x500), (3, 1, 1));
        assert_eq!(counts(&t, 0x600), (0, 2, 0));
        assert_eq!(t.sites[&0x600].startpc, 0x601);
        assert!(!t.sites.contains_key(&0x900));
        assert_eq!(t.live_by_site(), BTreeMap::from([(0x500, 3), (0x600, 2)]));
        // The same reading again changes nothing.
        assert_eq!(t.reconcile(r), (0, 0));
        assert_eq!(counts(&t, 0x500), (3, 1, 1));
        // Everything but the system goroutines gone (a system goroutine
        // exiting is not an exit at any site); then an empty reading.
        assert_eq!(t.reconcile([(10, sys)]), (0, 5));
        assert_eq!(counts(&t, 0x500), (3, 1, 4));
        assert_eq!(counts(&t, 0x600), (0, 2, 2));
        assert_eq!(t.reconcile([]), (0, 0));
        assert!(t.live.is_empty() && t.live_by_site().is_empty());
        assert_eq!(t.unknown_exits, 0);
    }

    #[test]
    fn reconcile_keeps_the_first_start_function_of_a_site() {
        let mut t = GoroutineTable::default();
        t.reconcile([(
            7,
            LiveG {
                startpc: 0xaaa,
                ..user(0x500)
            },
        )]);
        t.reconcile([(8, user(0x500))]);
        assert_eq!(t.sites[&0x500].startpc, 0xaaa);
        assert_eq!(t.sites[&0x500].created, 2);
        assert_eq!(t.sites[&0x500].exited, 1);
    }

    #[test]
    fn leaks_only_grow() {
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 12), (2.0, 14)]), Some(2.0));
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 9), (2.0, 14)]), None);
        assert_eq!(leak_rate(&[(0.0, 10), (1.0, 10), (2.0, 10)]), None);
        assert_eq!(leak_rate(&[(0.0, 10), (2.0, 14)]), None);
    }
}
