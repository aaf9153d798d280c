//! Maps grouped by creation site (`map_sites` in the report), whether each
//! map is still alive, and which maps deserve a row of their own in `maps`.
//!
//! A web server makes maps per request (Caddy: 38,903 in 10 s): listed one
//! by one, the top rows were identical 400 B maps. A site row says it once:
//! created in the window, tracked, alive, bytes, operations. Single maps are
//! listed only when they stand out: big, many entries, busy, long-lived and
//! one of few at their site, or in a finding.
//!
//! Liveness is what the tracer can know from outside, nothing more: a map
//! header is read at each report (read-only, one batched system call per
//! 1,024 maps); it is *alive* if the header still holds a map with the hash
//! seed first read there, *gone* if it does not (unreadable, implausible,
//! or a new seed with no delete or clear seen in exact mode), else
//! *unknown*. A map the GC freed keeps its header until the memory is
//! reused, so `alive` is an upper bound; the runtime draws a new seed when
//! a delete empties a map and on clear, so a new seed after one of those is
//! the same map.
use std::collections::{BTreeMap, HashMap};

use crate::{
    collect::aggregate::maps::{op_name, Identity},
    report::{MapReport, MapSite},
    tracee::gobin::Frame,
    tracee::golayout::{Layout, MapImpl},
    tracee::procmem::ProcMem,
};

/// A map gets a row of its own from this many bytes,
pub const LIST_BYTES: u64 = 64 << 10;
/// or this many live (sync.Map: held) entries,
pub const LIST_ENTRIES: u64 = 1_000;
/// or this many operations in the window,
pub const LIST_OPS: u64 = 1_000;
/// or alive for half the window or more while its site has at most this
/// many alive maps (more: the site row speaks for them), or in a finding.
pub const FEW_ALIVE: u64 = 4;

/// What groups maps: the frame, whether it is a first-seen site, the kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteKey {
    pub frame: Frame,
    pub first_seen_only: bool,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
    Unknown,
}

/// What a map header (classic `hmap`, swiss `maps.Map`) shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `len(m)`.
    pub live: u64,
    pub seed: u64,
    /// Rough slot count, to read the biggest maps first.
    pub est_slots: u64,
    /// The fields are consistent with a map.
    pub plausible: bool,
}

/// Where the header fields are, per implementation.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLayout {
    len: usize,
    count: usize,
    seed: usize,
    shape: Shape,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `hmap.flags`, `hmap.B` (uint8); `hash0` is a uint32.
    Classic { flags: usize, b: usize },
    /// `Map.dirPtr`, `Map.dirLen`, `globalDepth`, `globalShift`, `writing`;
    /// slots per group.
    Swiss {
        dir_ptr: usize,
        dir_len: usize,
        depth: usize,
        shift: usize,
        writing: usize,
        slots: u64,
    },
}

/// Slots of a swiss table at most (`maxTableCapacity`), and the share of
/// them a table fills before it grows (`maxAvgGroupLoad` / 8).
const SWISS_TABLE_SLOTS: u64 = 1024;
const SWISS_LOAD: (u64, u64) = (7, 8);

impl HeaderLayout {
    pub fn of(layout: &Layout, map_impl: MapImpl) -> Option<HeaderLayout> {
        let hl = match map_impl {
            MapImpl::Classic => {
                let h = layout.hmap.as_ref()?;
                HeaderLayout {
                    len: 0,
                    count: h.count as usize,
                    seed: h.hash0 as usize,
                    shape: Shape::Classic {
                        flags: h.flags as usize,
                        b: h.b as usize,
                    },
                }
            }
            MapImpl::Swiss => {
                let s = layout.swiss.as_ref()?;
                HeaderLayout {
                    len: 0,
                    count: s.map.used as usize,
                    seed: s.map.seed as usize,
                    shape: Shape::Swiss {
                        dir_ptr: s.map.dir_ptr as usize,
                        dir_len: s.map.dir_len as usize,
                        depth: s.map.global_depth as usize,
                        shift: s.map.global_shift as usize,
                        writing: s.map.writing as usize,
                        slots: s.group.slots,
                    },
                }
            }
        };
        Some(hl.sized())
    }

    fn sized(mut self) -> HeaderLayout {
        self.len = match self.shape {
            Shape::Classic { flags, b } => (self.count + 8)
                .max(self.seed + 4)
                .max(flags + 1)
                .max(b + 1),
            Shape::Swiss {
                dir_ptr,
                dir_len,
                depth,
                shift,
                writing,
                ..
            } => (self.count + 8)
                .max(self.seed + 8)
                .max(dir_ptr + 8)
                .max(dir_len + 8)
                .max(depth + 1)
                .max(shift + 1)
                .max(writing + 1),
        };
        self
    }

    /// The checks are what the runtime keeps true between operations, so
    /// that memory reused by another object rarely passes for a map.
    pub fn parse(&self, b: &[u8]) -> Header {
        let u64_at = |off: usize| {
            b.get(off..off + 8)
                .map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        };
        let u8_at = |off: usize| b.get(off).copied().unwrap_or(u8::MAX);
        let live = u64_at(self.count);
        match self.shape {
            Shape::Classic { flags, b: b_off } => {
                let bits = u8_at(b_off);
                let seed = b
                    .get(self.seed..self.seed + 4)
                    .map_or(0, |s| u32::from_le_bytes(s.try_into().unwrap_or([0; 4])));
                // Four flag bits; the load factor (6.5 per bucket) makes
                // a map grow long before 8 entries per bucket.
                let plausible = u8_at(flags) & 0xf0 == 0 && bits <= 60 && live <= 8u64 << bits;
                Header {
                    live,
                    seed: u64::from(seed),
                    est_slots: if plausible { 8u64 << bits } else { 0 },
                    plausible,
                }
            }
            Shape::Swiss {
                dir_ptr,
                dir_len,
                depth,
                shift,
                writing,
                slots,
            } => {
                let (ptr, len) = (u64_at(dir_ptr), u64_at(dir_len));
                let (depth, shift) = (u8_at(depth), u8_at(shift));
                let small = len == 0 && depth == 0 && live <= slots && (ptr != 0 || live == 0);
                // The directory has 2^globalDepth entries, each table at
                // most 1,024 slots filled to 7/8.
                let table = len > 0
                    && len <= 1 << 30
                    && len == 1 << depth.min(63)
                    && u64::from(shift) == 64 - u64::from(depth)
                    && ptr != 0
                    && ptr % 8 == 0
                    && live <= len * SWISS_TABLE_SLOTS * SWISS_LOAD.0 / SWISS_LOAD.1;
                let plausible = u8_at(writing) <= 1 && (small || table);
                Header {
                    live,
                    seed: u64_at(self.seed),
                    // A table holds up to 1,024 slots; a directory entry
                    // stands for about half of one.
                    est_slots: match (plausible, len) {
                        (false, _) => 0,
                        (true, 0) => slots,
                        (true, n) => (live * 8 / 7).max(n * 512),
                    },
                    plausible,
                }
            }
        }
    }
}

/// Reads the headers at `ids`, 1,024 to a system call (None: unreadable).
pub fn read_headers(mem: &ProcMem, hl: &HeaderLayout, ids: &[u64]) -> Vec<Option<Header>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut buf = Vec::new();
    for chunk in ids.chunks(1024) {
        let ranges: Vec<(u64, usize)> = chunk.iter().map(|&id| (id, hl.len)).collect();
        buf.clear();
        buf.resize(hl.len * chunk.len(), 0);
        if mem.read_ranges(&ranges, &mut buf).is_ok() {
            out.extend(buf.chunks_exact(hl.len).map(|b| Some(hl.parse(b))));
        } else {
            // One of them is unreadable: find which, one by one.
            let mut one = vec![0u8; hl.len];
            out.extend(
                chunk
                    .iter()
                    .map(|&id| mem.read(id, &mut one).ok().map(|_| hl.parse(&one))),
            );
        }
    }
    out
}

/// Judges a map from its header and the identity learned before (which
/// this updates). `resets`: deletes + clears seen on it so far (each may
/// draw a new seed); `all_ops_seen`: exact mode, every operation probed.
pub fn judge(header: Option<&Header>, id: &Identity, resets: u64, all_ops_seen: bool) -> Liveness {
    let Some(h) = header.filter(|h| h.plausible && h.seed != 0) else {
        return Liveness::Gone;
    };
    match id.get() {
        None => {
            id.set(h.seed, resets);
            Liveness::Alive
        }
        Some((seed, then)) if seed == h.seed || resets > then => {
            id.set(h.seed, resets);
            Liveness::Alive
        }
        Some(_) if all_ops_seen => Liveness::Gone,
        Some(_) => Liveness::Unknown,
    }
}

/// Deletes and clears in cumulative op counts: what may change the seed.
pub fn resets(ops: &BTreeMap<&'static str, u64>) -> u64 {
    ops.get(op_name::DELETE).copied().unwrap_or(0) + ops.get(op_name::CLEAR).copied().unwrap_or(0)
}

/// Operations that count as work (a miss is also counted as a load).
pub fn total_ops(ops: &BTreeMap<&'static str, u64>) -> u64 {
    ops.iter()
        .filter(|(k, _)| **k != op_name::LOAD_MISS)
        .map(|(_, v)| v)
        .sum()
}

/// Memory read order: the largest (by their headers) and the busiest
/// alternately, so that neither a big idle map nor a hot small one waits.
/// `maps[i] = (estimated slots, operations in the window, id)`.
pub fn read_order(maps: &[(u64, u64, u64)]) -> Vec<usize> {
    let mut by_size: Vec<usize> = (0..maps.len()).collect();
    by_size.sort_by_key(|&i| (std::cmp::Reverse(maps[i].0), maps[i].2));
    let mut by_ops: Vec<usize> = (0..maps.len()).collect();
    by_ops.sort_by_key(|&i| (std::cmp::Reverse(maps[i].1), maps[i].2));
    let mut taken = vec![false; maps.len()];
    let mut out = Vec::with_capacity(maps.len());
    let (mut a, mut b) = (by_size.into_iter(), by_ops.into_iter());
    loop {
        let mut progressed = false;
        for it in [&mut a, &mut b] {
            if let Some(i) = it.find(|&i| !taken[i]) {
                taken[i] = true;
                out.push(i);
                progressed = true;
            }
        }
        if !progressed {
            return out;
        }
    }
}

/// One tracked map, as the grouping sees it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub id: u64,
    pub site: SiteKey,
    pub implementation: &'static str,
    pub stack: Vec<Frame>,
    /// Operations in the window.
    pub ops: BTreeMap<&'static str, u64>,
    pub liveness: Liveness,
    /// `len(m)` from its header (sync.Map: from the full read).
    pub live_entries: u64,
    /// Since the tracer first saw it.
    pub age_secs: f64,
    /// Its memory read in full at this report.
    /// Boxed: most tracked maps have none (a net/http service's ~17,000
    /// per-request maps), and a report is ~1 KB.
    pub report: Option<Box<MapReport>>,
    /// It has a finding.
    pub finding: bool,
}

/// makemap calls of one site in the window, and a stack of it.
#[derive(Debug, Clone)]
pub struct Created {
    pub site: SiteKey,
    pub count: u64,
    pub stack: Vec<Frame>,
}

/// What is not listed singly, summed (for `map_totals`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unlisted {
    pub maps: u64,
    pub bytes: u64,
    pub ops: u64,
}

pub struct Grouped {
    pub sites: Vec<MapSite>,
    pub listed: Vec<MapReport>,
    pub unlisted: Unlisted,
}

/// Sites, the maps listed singly (up to `top`), and the rest summed.
/// `ops_secs`: how long operations were watched; `window_secs`: the
/// report window; `map_impl`: the implementation of plain maps.
pub fn group(
    maps: Vec<Tracked>,
    created: Vec<Created>,
    map_impl: &'static str,
    ops_secs: f64,
    window_secs: f64,
    top: usize,
) -> Grouped {
    let mut alive_at: HashMap<&SiteKey, u64> = HashMap::new();
    for m in maps.iter().filter(|m| m.liveness == Liveness::Alive) {
        *alive_at.entry(&m.site).or_default() += 1;
    }
    let worth: Vec<bool> = maps
        .iter()
        .map(|m| {
            let site_alive = alive_at.get(&m.site).copied().unwrap_or(0);
            m.report
                .as_ref()
                .is_some_and(|r| worth_listing(m, r, site_alive, window_secs))
        })
        .collect();
    // Up to `top`: maps with a finding first, then by bytes, then ops.
    let mut picks: Vec<usize> = (0..maps.len()).filter(|&i| worth[i]).collect();
    picks.sort_by(|&a, &b| {
        maps[b]
            .finding
            .cmp(&maps[a].finding)
            .then_with(|| by_weight(maps[a].report.as_deref(), maps[b].report.as_deref()))
    });
    picks.truncate(top);
    let mut listed_flag = vec![false; maps.len()];
    for &i in &picks {
        listed_flag[i] = true;
    }

    let mut sites: HashMap<SiteKey, MapSite> = HashMap::new();
    let new_site = |key: &SiteKey, implementation: &'static str| MapSite {
        created_at: key.frame.clone(),
        first_seen_only: key.first_seen_only,
        kind: key.kind,
        implementation,
        stack: Vec::new(),
        created: 0,
        tracked: 0,
        alive: 0,
        gone: 0,
        liveness_unknown: 0,
        live_entries: 0,
        bytes: 0,
        bytes_maps: 0,
        ops: BTreeMap::new(),
        ops_per_sec: 0.0,
        grows: 0,
        largest_map: None,
        largest_bytes: 0,
        listed: 0,
    };
    let mut unlisted = Unlisted::default();
    let mut listed = Vec::new();
    // Largest first, so each site's stack is its largest map's.
    let mut order: Vec<usize> = (0..maps.len()).collect();
    order.sort_by(|&a, &b| {
        let bytes = |i: usize| maps[i].report.as_ref().map_or(0, |r| r.bytes);
        bytes(b).cmp(&bytes(a)).then(maps[a].id.cmp(&maps[b].id))
    });
    let mut maps: Vec<Option<Tracked>> = maps.into_iter().map(Some).collect();
    for i in order {
        let Some(m) = maps[i].take() else { continue };
        let s = sites
            .entry(m.site.clone())
            .or_insert_with(|| new_site(&m.site, m.implementation));
        s.tracked += 1;
        match m.liveness {
            Liveness::Alive => {
                s.alive += 1;
                s.live_entries += m.live_entries;
            }
            Liveness::Gone => s.gone += 1,
            Liveness::Unknown => s.liveness_unknown += 1,
        }
        for (k, v) in &m.ops {
            *s.ops.entry(k).or_default() += v;
        }
        if s.stack.is_empty() {
            s.stack = m.stack.clone();
        }
        let n_ops = total_ops(&m.ops);
        if let Some(r) = &m.report {
            if m.liveness == Liveness::Alive && r.memory_error.is_none() {
                s.bytes += r.bytes;
                s.bytes_maps += 1;
            }
            if r.memory_error.is_none() && (s.largest_map.is_none() || r.bytes > s.largest_bytes) {
                s.largest_map = Some(r.id.clone());
                s.largest_bytes = r.bytes;
            }
        }
        if listed_flag[i] {
            s.listed += 1;
            listed.extend(m.report.map(|r| *r));
        } else {
            unlisted.maps += 1;
            unlisted.ops += n_ops;
            unlisted.bytes += m.report.map_or(0, |r| r.bytes);
        }
    }
    for c in created {
        let s = sites
            .entry(c.site.clone())
            .or_insert_with(|| new_site(&c.site, map_impl));
        s.created += c.count;
        if s.stack.is_empty() {
            s.stack = c.stack;
        }
    }
    let mut sites: Vec<MapSite> = sites.into_values().collect();
    for s in &mut sites {
        s.grows = s.ops.get(op_name::GROW).copied().unwrap_or(0);
        s.ops_per_sec = if ops_secs > 0.0 {
            total_ops(&s.ops) as f64 / ops_secs
        } else {
            0.0
        };
    }
    sites.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| total_ops(&b.ops).cmp(&total_ops(&a.ops)))
            .then(b.created.cmp(&a.created))
            .then(b.tracked.cmp(&a.tracked))
            .then_with(|| a.created_at.function.cmp(&b.created_at.function))
            .then(a.created_at.line.cmp(&b.created_at.line))
            .then(a.first_seen_only.cmp(&b.first_seen_only))
            .then(a.kind.cmp(b.kind))
    });
    listed.sort_by(|a, b| by_weight(Some(a), Some(b)));
    Grouped {
        sites,
        listed,
        unlisted,
    }
}

/// Bytes, then operations per second, then id.
fn by_weight(a: Option<&MapReport>, b: Option<&MapReport>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b
            .bytes
            .cmp(&a.bytes)
            .then(b.ops_per_sec.total_cmp(&a.ops_per_sec))
            .then(a.id.cmp(&b.id)),
        (a, b) => b.is_some().cmp(&a.is_some()),
    }
}

/// Whether a map stands out from its site: see the `LIST_*` constants.
fn worth_listing(m: &Tracked, r: &MapReport, site_alive: u64, window_secs: f64) -> bool {
    let long_lived = m.liveness == Liveness::Alive
        && window_secs > 0.0
        && m.age_secs >= window_secs / 2.0
        && site_alive <= FEW_ALIVE;
    m.finding
        || r.bytes >= LIST_BYTES
        || r.live.max(r.held) >= LIST_ENTRIES
        || total_ops(&m.ops) >= LIST_OPS
        || long_lived
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: "/app/main.go".into(),
            line,
            inlined: false,
        }
    }

    fn key(function: &str, line: u32) -> SiteKey {
        SiteKey {
            frame: frame(function, line),
            first_seen_only: false,
            kind: "map",
        }
    }

    fn report(id: u64, site: &SiteKey, live: u64, bytes: u64, ops: u64) -> MapReport {
        MapReport {
            id: format!("{id:#x}"),
            kind: site.kind,
            implementation: "swiss",
            created_at: site.frame.clone(),
            first_seen_only: site.first_seen_only,
            stack: vec![site.frame.clone()],
            live,
            held: live,
            capacity_slots: 8,
            tombstones: 0,
            tombstone_ratio: 0.0,
            bytes,
            scanned_fraction: 1.0,
            memory_error: None,
            ops: BTreeMap::from([(op_name::STORE, ops)]),
            ops_per_sec: ops as f64,
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

    /// A map at `site`, alive for `age` s, its memory read if `read`.
    fn tracked(id: u64, site: &SiteKey, live: u64, bytes: u64, ops: u64, age: f64) -> Tracked {
        Tracked {
            id,
            site: site.clone(),
            implementation: "swiss",
            stack: vec![site.frame.clone()],
            ops: BTreeMap::from([(op_name::STORE, ops), (op_name::GROW, 0)]),
            liveness: Liveness::Alive,
            live_entries: live,
            age_secs: age,
            report: Some(Box::new(report(id, site, live, bytes, ops))),
            finding: false,
        }
    }

    #[test]
    fn many_small_maps_of_one_site_are_one_row_a_big_map_is_listed() {
        let per_request = key("main.(*Server).handle", 42);
        let cache = key("main.newCache", 7);
        // 5,000 requests' maps of 400 B, 3 operations each, a second old.
        let mut maps: Vec<Tracked> = (0..5000)
            .map(|i| tracked(0x1000 + i * 64, &per_request, 3, 400, 3, 1.0))
            .collect();
        // 3,000 of them were freed and their memory reused, 1,000 unknown.
        for m in &mut maps[..3000] {
            m.liveness = Liveness::Gone;
            m.report = None;
        }
        for m in &mut maps[3000..4000] {
            m.liveness = Liveness::Unknown;
            m.report = None;
        }
        maps.push(tracked(0xc000_0000, &cache, 20_000, 2 << 20, 10, 9.0));
        let created = vec![Created {
            site: per_request.clone(),
            count: 38_903,
            stack: vec![per_request.frame.clone()],
        }];
        let g = group(maps, created, "swiss", 10.0, 10.0, 20);

        assert_eq!(g.sites.len(), 2);
        let (big, many) = (&g.sites[0], &g.sites[1]);
        assert_eq!(big.created_at.function, "main.newCache");
        assert_eq!((big.tracked, big.alive, big.listed), (1, 1, 1));
        assert_eq!(big.largest_map.as_deref(), Some("0xc0000000"));
        assert_eq!(big.bytes, 2 << 20);

        assert_eq!(many.created_at.function, "main.(*Server).handle");
        assert_eq!(many.created, 38_903);
        assert_eq!(many.tracked, 5000);
        assert_eq!(
            (many.alive, many.gone, many.liveness_unknown),
            (1000, 3000, 1000)
        );
        assert_eq!(many.live_entries, 3000);
        assert_eq!((many.bytes, many.bytes_maps), (400_000, 1000));
        assert_eq!(many.ops[op_name::STORE], 15_000);
        assert_eq!(many.ops_per_sec, 1500.0);
        assert_eq!(many.listed, 0, "small per-request maps stay in the row");

        assert_eq!(g.listed.len(), 1);
        assert_eq!(g.listed[0].id, "0xc0000000");
        assert_eq!(
            g.unlisted,
            Unlisted {
                maps: 5000,
                bytes: 400_000,
                ops: 15_000
            }
        );
    }

    #[test]
    fn what_stands_out_is_listed_up_to_top() {
        let s = key("main.f", 1);
        let few = key("main.config", 2);
        let many = key("main.conn", 3);
        let mut maps = vec![
            tracked(1, &s, 1500, 30_000, 0, 0.1), // entries
            tracked(2, &s, 10, 1000, 5000, 0.1),  // busy
            tracked(3, &s, 10, 1000, 5, 0.1),     // nothing special
            tracked(4, &few, 3, 500, 0, 8.0),     // long-lived, alone at its site
        ];
        let mut finding = tracked(5, &s, 0, 500, 0, 0.1);
        finding.finding = true;
        maps.push(finding);
        // Long-lived, but one of many at their site.
        maps.extend((0..10).map(|i| tracked(100 + i, &many, 2, 400, 1, 8.0)));
        let g = group(maps.clone(), Vec::new(), "swiss", 10.0, 10.0, 20);
        let ids: Vec<&str> = g.listed.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["0x1", "0x2", "0x4", "0x5"]);
        assert_eq!(g.unlisted.maps, 11);
        // Up to `top`, the finding first.
        let g = group(maps, Vec::new(), "swiss", 10.0, 10.0, 2);
        let ids: Vec<&str> = g.listed.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["0x1", "0x5"]);
        let site = g.sites.iter().find(|s| s.created_at.function == "main.f");
        assert_eq!(site.map(|s| (s.listed, s.tracked)), Some((2, 4)));
    }

    #[test]
    fn sites_with_only_creations_and_first_seen_sites_are_rows() {
        let made = key("main.tmp", 9);
        let mut old = key("main.touch", 4);
        old.first_seen_only = true;
        let mut m = tracked(7, &old, 5, 300, 2, 1.0);
        m.report = None;
        m.liveness = Liveness::Unknown;
        let created = vec![Created {
            site: made.clone(),
            count: 12,
            stack: vec![made.frame.clone(), frame("main.main", 1)],
        }];
        let g = group(vec![m], created, "classic", 2.0, 2.0, 10);
        assert_eq!(g.sites.len(), 2);
        let tmp = g.sites.iter().find(|s| s.created_at.function == "main.tmp");
        let tmp = tmp.expect("a row for a site whose maps are all gone");
        assert_eq!(
            (tmp.created, tmp.tracked, tmp.implementation),
            (12, 0, "classic")
        );
        assert_eq!(tmp.stack.len(), 2);
        let touch = g.sites.iter().find(|s| s.first_seen_only).expect("row");
        assert_eq!(
            (touch.tracked, touch.liveness_unknown, touch.bytes),
            (1, 1, 0)
        );
        assert!(g.listed.is_empty());
    }

    #[test]
    fn liveness_follows_the_seed() {
        let h = |seed| Header {
            live: 3,
            seed,
            est_slots: 8,
            plausible: true,
        };
        let id = Identity::default();
        assert_eq!(judge(Some(&h(77)), &id, 0, true), Liveness::Alive);
        assert_eq!(judge(Some(&h(77)), &id, 0, true), Liveness::Alive);
        // Another object (or map) now: gone in exact mode, unknown when
        // operations are only sampled (a delete may have emptied it).
        assert_eq!(judge(Some(&h(99)), &id, 0, true), Liveness::Gone);
        assert_eq!(judge(Some(&h(99)), &id, 0, false), Liveness::Unknown);
        // A delete or clear since: the runtime drew a new seed.
        assert_eq!(judge(Some(&h(99)), &id, 1, true), Liveness::Alive);
        assert_eq!(id.get(), Some((99, 1)));
        assert_eq!(judge(None, &id, 1, true), Liveness::Gone);
        let bad = Header {
            plausible: false,
            ..h(99)
        };
        assert_eq!(judge(Some(&bad), &id, 1, true), Liveness::Gone);
        assert_eq!(
            judge(Some(&h(0)), &Identity::default(), 0, true),
            Liveness::Gone
        );
    }

    #[test]
    fn headers_parse_per_implementation() {
        let classic = HeaderLayout {
            len: 0,
            count: 0,
            seed: 12,
            shape: Shape::Classic { flags: 8, b: 9 },
        }
        .sized();
        assert_eq!(classic.len, 16);
        let mut b = vec![0u8; 16];
        b[..8].copy_from_slice(&5u64.to_le_bytes());
        b[9] = 4;
        b[12..16].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        let h = classic.parse(&b);
        assert_eq!(
            (h.live, h.seed, h.est_slots, h.plausible),
            (5, 0xdead_beef, 128, true)
        );
        b[8] = 0x40;
        assert!(!classic.parse(&b).plausible, "unknown flag");
        b[8] = 0;
        b[..8].copy_from_slice(&0xc000_1234_5678u64.to_le_bytes());
        assert!(!classic.parse(&b).plausible, "a pointer for a count");
        b[..8].copy_from_slice(&5u64.to_le_bytes());
        b[9] = 200;
        assert!(!classic.parse(&b).plausible);

        let swiss = swiss_header();
        assert_eq!(swiss.len, 35);
        // used, seed, dirPtr, dirLen, then globalDepth, globalShift, writing.
        let words = |w: [u64; 5]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let small = swiss.parse(&words([3, 42, 0xc000_1000, 0, 0]));
        assert_eq!(
            (small.live, small.seed, small.est_slots, small.plausible),
            (3, 42, 8, true)
        );
        // 2,048 = 2^11 directory entries: globalShift 64 - 11 = 53.
        let big = swiss.parse(&words([0, 42, 0xc000_1000, 2048, 11 | 53 << 8]));
        assert_eq!((big.est_slots, big.plausible), (2048 * 512, true));
        for bad in [
            // 9 entries in one group; 3 directory entries; entries but no
            // group; depth 10 for 2,048 entries; writing 2; a pointer for
            // a count.
            [9, 42, 0xc000_1000, 0, 0],
            [1, 42, 0xc000_1000, 3, 0],
            [1, 42, 0, 0, 0],
            [1, 42, 0xc000_1000, 2048, 10 | 54 << 8],
            [1, 42, 0xc000_1000, 2048, 11 | 53 << 8 | 2 << 16],
            [0xc000_1234_5678, 42, 0xc000_1000, 1, 64 << 8],
        ] {
            assert!(!swiss.parse(&words(bad)).plausible, "{bad:x?}");
        }
    }

    /// A swiss map header: used, seed, dirPtr, dirLen, then globalDepth,
    /// globalShift, writing.
    fn swiss_header() -> HeaderLayout {
        HeaderLayout {
            len: 0,
            count: 0,
            seed: 8,
            shape: Shape::Swiss {
                dir_ptr: 16,
                dir_len: 24,
                depth: 32,
                shift: 33,
                writing: 34,
                slots: 8,
            },
        }
        .sized()
    }

    #[test]
    fn headers_are_read_in_batches_and_failures_are_per_map() {
        // Our own memory: two fake swiss headers and an unmapped address.
        let a: [u64; 5] = [2, 11, 0x1000, 0, 0];
        let b: [u64; 5] = [0, 12, 0, 0, 0];
        let hl = swiss_header();
        let mem = ProcMem::new(std::process::id());
        let ids = [a.as_ptr() as u64, 8, b.as_ptr() as u64];
        let got = read_headers(&mem, &hl, &ids);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].map(|h| (h.live, h.seed)), Some((2, 11)));
        assert_eq!(got[1], None);
        assert_eq!(got[2].map(|h| (h.live, h.seed)), Some((0, 12)));
    }

    #[test]
    fn read_order_alternates_size_and_ops() {
        // (est. slots, ops, id)
        let maps = [(8, 100, 1), (1 << 20, 0, 2), (8, 50, 3), (4096, 1, 4)];
        assert_eq!(read_order(&maps), [1, 0, 3, 2]);
    }
}
