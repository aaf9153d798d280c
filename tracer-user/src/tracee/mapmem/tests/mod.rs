//! testdata/go/mapshapes built with every Go toolchain, run as our child
//! (so `process_vm_readv` needs no root under the default Yama scope), its
//! maps and `sync.Map`s read from outside and compared with:
//! - what the program says about them (`len`, its own live counts);
//! - slow independent recounts (`naive.rs`: every bucket / control byte);
//! - the heap each one keeps alive: `HeapAlloc` after `runtime.GC` with the
//!   structure, minus the same without it (the program drops it on
//!   request);
//! - and, in `wrong_offsets_fail_the_checks`, the same checks with one
//!   offset of the layout table wrong, which must fail.
//!
//! Run with `--nocapture` for the numbers per Go version.

mod naive;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use object::{Object, ObjectSymbol};
use serde_json::Value;

use super::{
    read_map, read_sync_map, MapDetail, MapShape, ScanBudget, SyncMapDetail, SyncMapShape,
};
use crate::tracee::golayout::{layout_for, Layout, MapImpl, SyncMapImpl};
use crate::tracee::goroutines::tests::harness::{self, Flavour, GoChild};
use crate::tracee::procmem::ProcMem;

/// testdata/go/mapshapes constants.
const SYNC_N: u64 = 10_000;
const SYNC_K: u64 = 100;
const BIG_N: u64 = 1_000_000;
const HALF_N: u64 = 100_000;

const MAP_NAMES: [&str; 6] = [
    "big",
    "half",
    "small",
    "indirect",
    "indirect_key",
    "growing",
];
const SYNC_NAMES: [&str; 3] = ["deleted", "promoted", "expunged"];

/// A budget small enough to sample every non-tiny fixture structure.
const SMALL_BUDGET: ScanBudget = ScanBudget {
    max_buckets: 512,
    max_nodes: 64,
};

struct Build {
    version: String,
    exe: PathBuf,
    layout: &'static Layout,
    /// Address of the `sync.expunged` variable (non-PIE build: no bias).
    expunged_var: Option<u64>,
}

/// The fixture built with every toolchain (in parallel), once per test process.
fn builds() -> &'static [Build] {
    static B: OnceLock<Vec<Build>> = OnceLock::new();
    B.get_or_init(|| {
        let gos = harness::toolchains();
        std::thread::scope(|s| {
            let jobs: Vec<_> = gos
                .iter()
                .map(|go| {
                    s.spawn(move || {
                        let version = harness::go_version(go);
                        let exe = harness::build(go, "mapshapes", Flavour::Default);
                        let minor: u32 = version
                            .strip_prefix("go1.")
                            .and_then(|r| r.split('.').next())
                            .and_then(|m| m.parse().ok())
                            .unwrap_or_else(|| panic!("GOVERSION {version:?}"));
                        let layout = layout_for(1, minor)
                            .unwrap_or_else(|| panic!("no layout for {version}"));
                        let data = std::fs::read(&exe).expect("read exe");
                        let elf = object::File::parse(&*data).expect("parse exe");
                        let expunged_var = elf
                            .symbols()
                            .find(|s| s.name() == Ok("sync.expunged"))
                            .map(|s| s.address());
                        Build {
                            version,
                            exe,
                            layout,
                            expunged_var,
                        }
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| j.join().expect("build thread"))
                .collect()
        })
    })
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("{path:?} missing in {v}"))
}

/// A running fixture and what it printed.
struct Run {
    child: GoChild,
    info: Value,
    mem: ProcMem,
    /// Independent recounts, with the real layout, by map name.
    naive: BTreeMap<&'static str, naive::Count>,
}

impl Run {
    fn start(b: &Build) -> Run {
        let mut child = GoChild::spawn(&b.exe, &[]);
        let info = child.json();
        assert_eq!(info["go_version"].as_str(), Some(&*b.version), "{info}");
        let mem = ProcMem::new(child.pid());
        let mut naive = BTreeMap::new();
        for name in MAP_NAMES {
            let (addr, typ) = (
                u(&info, &["maps", name, "addr"]),
                u(&info, &["maps", name, "type"]),
            );
            let c = match b.layout.map_impl {
                MapImpl::Classic => {
                    naive::classic(&mem, b.layout.hmap.as_ref().unwrap(), addr, typ)
                }
                MapImpl::Swiss => naive::swiss(&mem, b.layout.swiss.as_ref().unwrap(), addr, typ),
            };
            naive.insert(name, c);
        }
        Run {
            child,
            info,
            mem,
            naive,
        }
    }

    /// Heap kept alive by each structure: drops them one by one.
    fn ground_truth(&mut self) -> BTreeMap<&'static str, u64> {
        let mut t = BTreeMap::new();
        for name in MAP_NAMES.iter().chain(SYNC_NAMES.iter()) {
            self.child.send(&format!("drop {name}"));
            let r = self.child.json();
            assert_eq!(r["name"].as_str(), Some(*name), "{r}");
            let (with, without) = (u(&r, &["heap_with"]), u(&r, &["heap_without"]));
            t.insert(*name, with.saturating_sub(without));
        }
        t
    }
}

type Read<T> = Result<T, String>;

struct MapReading {
    name: &'static str,
    /// `len(m)` and the program's own count.
    len: u64,
    live_go: u64,
    /// Default budget, unlimited budget, no map type, a small budget.
    typed: Read<MapShape>,
    full: Read<MapShape>,
    untyped: Read<MapShape>,
    sampled: Read<MapShape>,
    t_typed: Duration,
    t_full: Duration,
}

struct SyncReading {
    name: &'static str,
    live_go: u64,
    /// With the `sync.expunged` address, without it, with a small budget.
    with_var: Read<SyncMapShape>,
    inferred: Read<SyncMapShape>,
    sampled: Read<SyncMapShape>,
}

fn read_all(run: &Run, b: &Build, layout: &Layout) -> (Vec<MapReading>, Vec<SyncReading>) {
    let mem = &run.mem;
    let mut maps = Vec::new();
    for name in MAP_NAMES {
        let info = &run.info["maps"][name];
        let (addr, typ) = (u(info, &["addr"]), u(info, &["type"]));
        let rd = |t: Option<u64>, budget: &ScanBudget| {
            let t0 = Instant::now();
            let r =
                read_map(mem, layout, layout.map_impl, addr, t, budget).map_err(|e| e.to_string());
            (r, t0.elapsed())
        };
        let (typed, t_typed) = rd(Some(typ), &ScanBudget::default());
        let (full, t_full) = rd(Some(typ), &ScanBudget::UNLIMITED);
        maps.push(MapReading {
            name,
            len: u(info, &["len"]),
            live_go: u(info, &["live"]),
            typed,
            full,
            untyped: rd(None, &ScanBudget::default()).0,
            sampled: rd(Some(typ), &SMALL_BUDGET).0,
            t_typed,
            t_full,
        });
    }
    let mut syncs = Vec::new();
    for name in SYNC_NAMES {
        let info = &run.info["sync"][name];
        let addr = u(info, &["addr"]);
        let rd = |var: Option<u64>, budget: &ScanBudget| {
            read_sync_map(mem, layout, layout.sync_map_impl, addr, var, budget)
                .map_err(|e| e.to_string())
        };
        syncs.push(SyncReading {
            name,
            live_go: u(info, &["live"]),
            with_var: rd(b.expunged_var, &ScanBudget::default()),
            inferred: rd(None, &ScanBudget::default()),
            sampled: rd(b.expunged_var, &SMALL_BUDGET),
        });
    }
    (maps, syncs)
}

/// `a` within `frac` of `b` (plus `abs`).
fn near(a: u64, b: u64, frac: f64, abs: u64) -> bool {
    (a as f64 - b as f64).abs() <= frac * b as f64 + abs as f64
}

/// Everything except bytes. Returns the failures.
fn judge_structure(
    run: &Run,
    b: &Build,
    maps: &[MapReading],
    syncs: &[SyncReading],
) -> Vec<String> {
    let mut f = Vec::new();
    let classic = b.layout.map_impl == MapImpl::Classic;
    macro_rules! check {
        ($cond:expr, $($msg:tt)*) => {
            let ok: bool = $cond;
            if !ok {
                f.push(format!($($msg)*));
            }
        };
    }
    for m in maps {
        let n = m.name;
        let naive = run.naive[n];
        let (typed, full, untyped) = match (&m.typed, &m.full, &m.untyped) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (a, b, c) => {
                f.push(format!(
                    "{n}: read failed: {:?} / {:?} / {:?}",
                    a.as_ref().err(),
                    b.as_ref().err(),
                    c.as_ref().err()
                ));
                continue;
            }
        };
        check!(
            m.len == m.live_go,
            "{n}: fixture: len {} != own count {}",
            m.len,
            m.live_go
        );
        check!(
            naive.full == m.len,
            "{n}: naive recount: {} slots in use, len {}",
            naive.full,
            m.len
        );
        for (what, s) in [("default", typed), ("full", full), ("untyped", untyped)] {
            check!(
                s.live == m.len,
                "{n} {what}: live {} != len {}",
                s.live,
                m.len
            );
            check!(!s.torn, "{n} {what}: torn");
            check!(
                s.growing == (classic && n == "growing"),
                "{n} {what}: growing {}",
                s.growing
            );
        }
        check!(
            full.scanned_fraction == 1.0,
            "{n}: full scan fraction {}",
            full.scanned_fraction
        );
        check!(
            full.tombstones == naive.tombstones,
            "{n}: tombstones {} != recount {}",
            full.tombstones,
            naive.tombstones
        );
        check!(
            full.capacity_slots == naive.capacity,
            "{n}: capacity {} != recount {}",
            full.capacity_slots,
            naive.capacity
        );
        check!(
            full.tombstones + full.live <= full.capacity_slots,
            "{n}: tombstones + live > capacity"
        );
        if typed.scanned_fraction == 1.0 {
            check!(
                typed == full,
                "{n}: default budget read {typed:?} != full {full:?}"
            );
        } else {
            check!(
                near(
                    typed.tombstones,
                    full.tombstones,
                    0.10,
                    full.capacity_slots / 100
                ),
                "{n}: sampled tombstones {} vs {}",
                typed.tombstones,
                full.tombstones
            );
            check!(
                near(typed.capacity_slots, full.capacity_slots, 0.02, 0),
                "{n}: sampled capacity {} vs {}",
                typed.capacity_slots,
                full.capacity_slots
            );
        }
        match &m.sampled {
            Ok(s) => {
                check!(s.live == m.len, "{n} small budget: live {}", s.live);
                check!(
                    near(
                        s.tombstones,
                        full.tombstones,
                        0.15,
                        full.capacity_slots / 50
                    ),
                    "{n} small budget: tombstones {} vs {}",
                    s.tombstones,
                    full.tombstones
                );
                check!(
                    near(s.capacity_slots, full.capacity_slots, 0.05, 0),
                    "{n} small budget: capacity {} vs {}",
                    s.capacity_slots,
                    full.capacity_slots
                );
                check!(
                    near(s.bytes, full.bytes, 0.05, 0),
                    "{n} small budget: bytes {} vs {}",
                    s.bytes,
                    full.bytes
                );
            }
            Err(e) => f.push(format!("{n} small budget: {e}")),
        }
        check!(
            !untyped.type_known && untyped.bytes == 0,
            "{n}: untyped read has bytes"
        );
        check!(
            typed.type_known && full.type_known,
            "{n}: typed read without type"
        );
        let exact_untyped = match full.detail {
            MapDetail::Classic { b, .. } => b < 16,
            MapDetail::Swiss { .. } => true,
        };
        if exact_untyped {
            check!(
                untyped.capacity_slots == full.capacity_slots,
                "{n}: untyped capacity {} != {}",
                untyped.capacity_slots,
                full.capacity_slots
            );
        } else {
            check!(
                near(untyped.capacity_slots, full.capacity_slots, 0.05, 0),
                "{n}: untyped capacity {} vs {}",
                untyped.capacity_slots,
                full.capacity_slots
            );
        }
        if !classic {
            check!(
                untyped.tombstones == full.tombstones,
                "{n}: untyped tombstones"
            );
        }
        match n {
            "big" => {
                check!(full.live == 0, "big: live {}", full.live);
                check!(
                    full.capacity_slots >= BIG_N,
                    "big: capacity {}",
                    full.capacity_slots
                );
            }
            "half" => {
                check!(full.live == HALF_N / 2, "half: live {}", full.live);
                if classic {
                    check!(full.tombstones > 0, "half: no emptyOne slot");
                }
            }
            "small" => {
                check!(
                    full.capacity_slots == 8,
                    "small: capacity {}",
                    full.capacity_slots
                );
                let small = matches!(
                    full.detail,
                    MapDetail::Swiss { dir_len: 0, .. } | MapDetail::Classic { b: 0, .. }
                );
                check!(small, "small: {:?}", full.detail);
            }
            _ => {}
        }
    }
    for s in syncs {
        let n = s.name;
        let (v, i, sm) = match (&s.with_var, &s.inferred, &s.sampled) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (a, b, c) => {
                f.push(format!(
                    "sync {n}: read failed: {:?} / {:?} / {:?}",
                    a.as_ref().err(),
                    b.as_ref().err(),
                    c.as_ref().err()
                ));
                continue;
            }
        };
        let k = if n == "expunged" { SYNC_K + 1 } else { SYNC_K };
        check!(s.live_go == k, "sync {n}: fixture live {}", s.live_go);
        check!(v.live == k, "sync {n}: live {} != {k}", v.live);
        check!(
            !v.torn && v.scanned_fraction == 1.0,
            "sync {n}: torn or partial"
        );
        check!(
            (i.live, i.held, i.bytes) == (v.live, v.held, v.bytes),
            "sync {n}: inferred sentinel read {i:?} != {v:?}"
        );
        match (&v.detail, &i.detail) {
            (
                SyncMapDetail::ReadDirty {
                    deleted,
                    expunged,
                    sentinel,
                    ..
                },
                SyncMapDetail::ReadDirty {
                    sentinel: inferred, ..
                },
            ) => {
                // Every stored key was promoted to the read map, so the read map still holds all of them.
                let (held, want_deleted, want_expunged) = if n == "expunged" {
                    (SYNC_N + 1, 0, SYNC_N - SYNC_K)
                } else {
                    (SYNC_N, SYNC_N - SYNC_K, 0)
                };
                check!(v.held == held, "sync {n}: held {} != {held}", v.held);
                check!(
                    (*deleted, *expunged) == (want_deleted, want_expunged),
                    "sync {n}: deleted/expunged {deleted}/{expunged}"
                );
                check!(
                    sentinel.is_some() == b.expunged_var.is_some(),
                    "sync {n}: sentinel {sentinel:?}"
                );
                if n == "expunged" {
                    check!(
                        inferred == sentinel,
                        "sync {n}: inferred sentinel {inferred:?} != {sentinel:?}"
                    );
                }
                check!(
                    near(sm.held, v.held, 0.10, 0),
                    "sync {n} small budget: held {} vs {}",
                    sm.held,
                    v.held
                );
                check!(
                    near(sm.live, v.live, 0.6, 10),
                    "sync {n} small budget: live {} vs {}",
                    sm.live,
                    v.live
                );
            }
            (SyncMapDetail::HashTrie { entries, .. }, _) => {
                check!(
                    v.held == v.live && *entries == v.live,
                    "sync {n}: held {} live {}",
                    v.held,
                    v.live
                );
                check!(
                    sm.scanned_fraction < 1.0,
                    "sync {n}: small budget read everything"
                );
                check!(
                    near(sm.live, v.live, 1.0, 0),
                    "sync {n} small budget: live {} vs {}",
                    sm.live,
                    v.live
                );
            }
            (d, _) => f.push(format!("sync {n}: unexpected detail {d:?}")),
        }
    }
    f
}

/// Bytes against the heap the program freed when dropping each structure.
fn judge_bytes(
    maps: &[MapReading],
    syncs: &[SyncReading],
    truth: &BTreeMap<&str, u64>,
) -> Vec<String> {
    let mut f = Vec::new();
    for m in maps {
        if let Ok(s) = &m.full {
            let t = truth[m.name];
            // HeapAlloc moves by a few hundred bytes now and then (runtime
            // background allocations): the floor for tiny maps.
            if !near(s.bytes, t, 0.10, 256) {
                f.push(format!("{}: bytes {} vs heap freed {t}", m.name, s.bytes));
            }
        }
    }
    for s in syncs {
        if let Ok(v) = &s.with_var {
            // Ours leaves out the boxed keys and values and the sync.Map
            // itself. HeapAlloc noise (runtime background allocations
            // between the two readings) reached 4.4 KB once: 8 KiB slack.
            let t = truth[s.name];
            if v.bytes > t + 8192 || (v.bytes as f64) < 0.5 * t as f64 {
                f.push(format!(
                    "sync {}: bytes {} vs heap freed {t}",
                    s.name, v.bytes
                ));
            }
        }
    }
    f
}

fn summary(
    b: &Build,
    maps: &[MapReading],
    syncs: &[SyncReading],
    truth: &BTreeMap<&str, u64>,
) -> String {
    let mut s = format!("{}:\n", b.version);
    for m in maps {
        let Ok(r) = &m.full else { continue };
        s += &format!(
            "  map {:<12} live {:>7} cap {:>8} tomb {:>6} bytes {:>10} freed {:>10} ({:+.2} %)  {:?}",
            m.name,
            r.live,
            r.capacity_slots,
            r.tombstones,
            r.bytes,
            truth[m.name],
            100.0 * (r.bytes as f64 / truth[m.name].max(1) as f64 - 1.0),
            r.detail
        );
        if let Ok(t) = &m.typed {
            if t.scanned_fraction < 1.0 {
                s += &format!(
                    "\n      default budget: {:.1} % scanned, tomb {}, cap {}, bytes {}",
                    100.0 * t.scanned_fraction,
                    t.tombstones,
                    t.capacity_slots,
                    t.bytes
                );
            }
        }
        if m.name == "big" {
            s += &format!(
                "\n      read time: default budget {:.1} ms, full scan {:.1} ms",
                m.t_typed.as_secs_f64() * 1e3,
                m.t_full.as_secs_f64() * 1e3
            );
        }
        s += "\n";
    }
    for y in syncs {
        let Ok(r) = &y.with_var else { continue };
        let small = y.sampled.as_ref().map_or(0, |s| s.live);
        s += &format!(
            "  sync {:<9} live {:>5} (small budget {small:>5}) held {:>6} bytes {:>8} freed {:>8}  {:?}\n",
            y.name, r.live, r.held, r.bytes, truth[y.name], r.detail
        );
    }
    s
}

#[test]
fn shapes_match_go_programs() {
    let mut failures = Vec::new();
    for b in builds() {
        let mut run = Run::start(b);
        let (maps, syncs) = read_all(&run, b, b.layout);
        let mut f = judge_structure(&run, b, &maps, &syncs);
        let truth = run.ground_truth();
        f.extend(judge_bytes(&maps, &syncs, &truth));
        eprint!("{}", summary(b, &maps, &syncs, &truth));
        failures.extend(f.into_iter().map(|x| format!("{}: {x}", b.version)));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One wrong number in the layout table.
type Mutation = (&'static str, fn(&mut Layout) -> bool);

const MUTATIONS: &[Mutation] = &[
    ("hmap.count", |l| {
        l.hmap.as_mut().map(|h| h.count = 8).is_some()
    }),
    ("hmap.b", |l| l.hmap.as_mut().map(|h| h.b = 10).is_some()),
    ("hmap.buckets", |l| {
        l.hmap.as_mut().map(|h| h.buckets = 24).is_some()
    }),
    ("hmap.bucket.empty_one", |l| {
        l.hmap.as_mut().map(|h| h.bucket.empty_one = 0).is_some()
    }),
    ("hmap.map_type.bucket_size", |l| {
        l.hmap
            .as_mut()
            .map(|h| h.map_type.bucket_size = 84)
            .is_some()
    }),
    ("hmap.map_type.flags", |l| {
        l.hmap.as_mut().map(|h| h.map_type.flags = 80).is_some()
    }),
    ("read_dirty.read", |l| {
        l.sync_map
            .read_dirty
            .as_mut()
            .map(|r| r.read = 16)
            .is_some()
    }),
    ("read_dirty.read_only_m", |l| {
        l.sync_map
            .read_dirty
            .as_mut()
            .map(|r| r.read_only_m = 8)
            .is_some()
    }),
    ("read_dirty.entry_p", |l| {
        l.sync_map
            .read_dirty
            .as_mut()
            .map(|r| r.entry_p = 8)
            .is_some()
    }),
    ("swiss.map.used", |l| {
        l.swiss.as_mut().map(|s| s.map.used = 8).is_some()
    }),
    ("swiss.map.dir_len", |l| {
        l.swiss.as_mut().map(|s| s.map.dir_len = 32).is_some()
    }),
    ("swiss.table.used", |l| {
        l.swiss.as_mut().map(|s| s.table.used = 4).is_some()
    }),
    ("swiss.table.growth_left", |l| {
        l.swiss.as_mut().map(|s| s.table.growth_left = 0).is_some()
    }),
    ("swiss.table.groups_length_mask", |l| {
        l.swiss
            .as_mut()
            .map(|s| s.table.groups_length_mask = 0)
            .is_some()
    }),
    ("swiss.map_type.group_size", |l| {
        l.swiss
            .as_mut()
            .map(|s| s.map_type.group_size = 96)
            .is_some()
    }),
    ("swiss.map_type.flags", |l| {
        l.swiss.as_mut().map(|s| s.map_type.flags = 96).is_some()
    }),
    ("hash_trie.root", |l| {
        l.sync_map.hash_trie.as_mut().map(|h| h.root = 24).is_some()
    }),
    ("hash_trie.indirect.children", |l| {
        l.sync_map
            .hash_trie
            .as_mut()
            .map(|h| h.indirect.children = 32)
            .is_some()
    }),
    ("hash_trie.entry.overflow", |l| {
        l.sync_map
            .hash_trie
            .as_mut()
            .map(|h| h.entry.overflow = 16)
            .is_some()
    }),
    ("hash_trie.indirect.parent", |l| {
        l.sync_map
            .hash_trie
            .as_mut()
            .map(|h| h.indirect.parent = 8)
            .is_some()
    }),
];

/// The checks above must notice any of these wrong offsets.
#[test]
fn wrong_offsets_fail_the_checks() {
    let mut missed = Vec::new();
    for b in builds() {
        let mut run = Run::start(b);
        let mut readings = Vec::new();
        for (name, mutate) in MUTATIONS {
            let mut l = *b.layout;
            if !mutate(&mut l) {
                continue;
            }
            let (maps, syncs) = read_all(&run, b, &l);
            let f = judge_structure(&run, b, &maps, &syncs);
            readings.push((name, maps, syncs, f));
        }
        let truth = run.ground_truth();
        for (name, maps, syncs, mut f) in readings {
            f.extend(judge_bytes(&maps, &syncs, &truth));
            eprintln!(
                "{} {name}: {} failures, e.g. {:?}",
                b.version,
                f.len(),
                f.first()
            );
            if f.is_empty() {
                missed.push(format!("{} {name}", b.version));
            }
        }
    }
    assert!(missed.is_empty(), "wrong offsets not caught: {missed:?}");
}

#[test]
fn sync_map_impl_matches_layout() {
    // The reader dispatches on these; a table that mixes them up would
    // read one implementation's memory as the other's.
    for b in builds() {
        let l = b.layout;
        assert_eq!(
            l.sync_map.read_dirty.is_some(),
            l.sync_map_impl == SyncMapImpl::ReadDirty,
            "{}",
            b.version
        );
        assert_eq!(
            l.hmap.is_some(),
            l.map_impl == MapImpl::Classic,
            "{}",
            b.version
        );
        assert_eq!(
            b.expunged_var.is_some(),
            l.sync_map_impl == SyncMapImpl::ReadDirty,
            "{}: sync.expunged",
            b.version
        );
    }
}
