//! Goroutine census tests: testdata/go/goroutines built with every Go
//! toolchain (default, `-s -w`, PIE + `-s -w`), run as our child (so
//! `process_vm_readv` needs no root under the default Yama scope), read
//! from outside and compared with what the program reports about itself.
//!
//! Run with `--nocapture` for a per-toolchain summary.

pub mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harness::{Flavour, GoChild};

use super::locate::{self, Found};
use super::{list_goroutines, locate_allgs, wait_reason_name, GInfo};
use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::{layout_for, Layout};
use crate::tracee::procmem::ProcMem;
use crate::tracee::Target;

struct Build {
    go_version: String,
    /// One executable per `Flavour::ALL`.
    exes: Vec<(Flavour, PathBuf)>,
}

/// Every toolchain × flavour, built once per test process.
fn builds() -> &'static [Build] {
    static B: OnceLock<Vec<Build>> = OnceLock::new();
    B.get_or_init(|| {
        harness::toolchains()
            .iter()
            .map(|go| Build {
                go_version: harness::go_version(go),
                exes: Flavour::ALL
                    .iter()
                    .map(|&f| (f, harness::build(go, "goroutines", f)))
                    .collect(),
            })
            .collect()
    })
}

fn open(exe: &Path) -> (GoBinary, &'static Layout) {
    let bin = GoBinary::open(exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let (maj, min) = bin.build_info().version().expect("go version");
    let layout = layout_for(maj, min).unwrap_or_else(|| panic!("no layout for {maj}.{min}"));
    (bin, layout)
}

/// The code-based locator, used for stripped binaries, must agree with
/// `.symtab`: of the same build (default flags), and of the unstripped twin
/// of the `-s -w` build (see [`Flavour::Twin`]).
#[test]
fn code_locator_matches_symtab() {
    for b in builds() {
        let path = |f: Flavour| &b.exes.iter().find(|e| e.0 == f).expect("flavour").1;
        let read = |f: Flavour| std::fs::read(path(f)).expect("read exe");
        let sym = |f: Flavour| {
            let exe = read(f);
            assert!(locate::has_symtab(&exe), "{} {f:?}", b.go_version);
            locate::symtab_address(&exe, "runtime.allgs")
                .unwrap_or_else(|| panic!("{} {f:?}: no runtime.allgs", b.go_version))
        };
        let code = |f: Flavour| {
            let (bin, _) = open(path(f));
            let cands = locate::allgs_candidates_from_code(&bin);
            let first = cands.first().copied();
            assert_eq!(
                first.map(|c| c.1),
                Some(Found::Code("runtime.allgadd")),
                "{} {f:?}: {cands:x?}",
                b.go_version
            );
            first.map_or(0, |c| c.0)
        };
        let stripped = read(Flavour::Stripped);
        assert!(!locate::has_symtab(&stripped), "{}", b.go_version);
        assert_eq!(locate::symtab_address(&stripped, "runtime.allgs"), None);

        let (d_sym, d_code) = (sym(Flavour::Default), code(Flavour::Default));
        assert_eq!(d_code, d_sym, "{} default", b.go_version);
        let (t_sym, s_code) = (sym(Flavour::Twin), code(Flavour::Stripped));
        assert_eq!(
            s_code, t_sym,
            "{} -s -w vs its twin's .symtab",
            b.go_version
        );
        eprintln!(
            "{}: runtime.allgs default {d_sym:#x} (.symtab = code); \
             -s -w {s_code:#x} from code = twin .symtab {t_sym:#x}",
            b.go_version
        );
    }
}

/// What the fixture reports: NumGoroutine and per-kind (site, count).
struct Reported {
    num_goroutine: usize,
    sites: BTreeMap<String, (String, usize)>,
}

fn reported(v: &serde_json::Value) -> Reported {
    assert_eq!(
        v["num_goroutine"], v["expected"],
        "fixture not settled: {v}"
    );
    let sites = v["sites"]
        .as_object()
        .expect("sites")
        .iter()
        .map(|(kind, s)| {
            let site = s["site"].as_str().expect("site").to_string();
            let n = s["count"].as_u64().expect("count") as usize;
            (kind.clone(), (site, n))
        })
        .collect();
    Reported {
        num_goroutine: v["num_goroutine"].as_u64().expect("num_goroutine") as usize,
        sites,
    }
}

/// "main.go:64" for the `go` statement that created `g`.
fn creation_site(bin: &GoBinary, bias: u64, g: &GInfo) -> Option<String> {
    let f = bin.symbolize(g.creation_pc(bias)?).into_iter().next()?;
    let base = f.file.rsplit('/').next().unwrap_or(&f.file).to_string();
    Some(format!("{base}:{}", f.line))
}

/// Reads the child's goroutines and checks them against its report.
fn check_census(
    what: &str,
    pid: u32,
    bin: &GoBinary,
    layout: &Layout,
    bias: u64,
    want: &Reported,
) -> usize {
    let mem = ProcMem::new(pid);
    let gs = list_goroutines(&mem, bin, layout, bias).unwrap_or_else(|e| panic!("{what}: {e}"));
    let st = &layout.g.status;
    assert!(
        gs.iter().all(|g| g.status != st.dead),
        "{what}: dead g listed"
    );
    assert!(gs.iter().any(|g| g.goid == 1), "{what}: no main goroutine");
    let user: Vec<&GInfo> = gs.iter().filter(|g| !g.is_system(bin, bias)).collect();
    assert_eq!(
        user.len(),
        want.num_goroutine,
        "{what}: user goroutines vs runtime.NumGoroutine ({} listed in all)",
        gs.len()
    );

    let mut by_site: BTreeMap<String, Vec<&GInfo>> = BTreeMap::new();
    for g in &user {
        if let Some(site) = creation_site(bin, bias, g) {
            by_site.entry(site).or_default().push(g);
        }
    }
    let wr = &layout.wait_reasons;
    for (kind, (site, n)) in &want.sites {
        let expect_reason = match kind.as_str() {
            "ticker" | "worker" => wr.chan_receive,
            "select" => wr.select_no_cases,
            "sleep" => wr.sleep,
            other => panic!("unknown kind {other}"),
        };
        let got = by_site.get(site).map_or(&[][..], |v| v.as_slice());
        assert_eq!(
            got.len(),
            *n,
            "{what}: goroutines created at {site} ({kind})"
        );
        for g in got {
            assert_eq!(
                g.status, st.waiting,
                "{what}: {kind} goroutine {} status",
                g.goid
            );
            assert_eq!(
                wait_reason_name(layout, g.wait_reason),
                wait_reason_name(layout, expect_reason),
                "{what}: {kind} goroutine {}",
                g.goid
            );
        }
    }
    gs.len()
}

#[test]
fn census_matches_the_runtime() {
    for b in builds() {
        for (flavour, exe) in &b.exes {
            let what = format!("{} {flavour:?}", b.go_version);
            let (bin, layout) = open(exe);
            let mut child = GoChild::spawn(exe, &[]);
            let ready = child.line();
            assert_eq!(ready, format!("READY {}", child.pid()), "{what}");
            let first = reported(&child.json());

            let target = Target::open(child.pid()).expect("target");
            let bias = target
                .load_bias(bin.first_load_vaddr(), bin.is_pie())
                .expect("load bias");
            assert_eq!(
                bias != 0,
                *flavour == Flavour::PieStripped,
                "{what}: bias {bias:#x}"
            );
            let loc = locate_allgs(&ProcMem::new(child.pid()), &bin, layout, bias)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let want_found = match flavour {
                Flavour::Default | Flavour::Twin => Found::Symtab,
                _ => Found::Code("runtime.allgadd"),
            };
            assert_eq!(loc.found, want_found, "{what}");

            let all0 = check_census(&what, child.pid(), &bin, layout, bias, &first);

            // More leaks at the ticker site, some workers gone (their g's
            // stay in allgs as _Gdead and must not be listed).
            child.send("leak 7");
            let _ = child.json();
            child.send("exit 5");
            let second = reported(&child.json());
            assert_eq!(second.num_goroutine, first.num_goroutine + 7 - 5, "{what}");
            let all1 = check_census(
                &format!("{what} after leak 7, exit 5"),
                child.pid(),
                &bin,
                layout,
                bias,
                &second,
            );
            eprintln!(
                "{what}: allgs {:#x} via {:?}; {} user goroutines (= NumGoroutine), {} with system; \
                 after leak 7 / exit 5: {} user, {all1} with system",
                loc.addr, loc.found, first.num_goroutine, all0, second.num_goroutine
            );
        }
    }
}

#[test]
fn gone_process_is_an_error() {
    let b = builds().first().expect("a toolchain");
    let exe = &b.exes[0].1;
    let (bin, layout) = open(exe);
    let mut child = GoChild::spawn(exe, &[]);
    let _ = child.line();
    let pid = child.pid();
    drop(child);
    let r = list_goroutines(&ProcMem::new(pid), &bin, layout, 0);
    assert!(r.is_err(), "{r:?}");
}

/// Sampled mode's census: a reading at attach, then readings reconciled
/// with it count what was created and what exited at each site, `live`
/// matches `runtime.NumGoroutine`, the goid counter is found with
/// `.symtab` (not without), and the main goroutine has a name.
#[test]
fn snapshots_follow_the_runtime() {
    use std::time::Duration;

    use super::snapshot::{list_at_attach, GOID_BATCH};
    use super::{site_frame, SystemStarts};
    use crate::collect::aggregate::goroutines::GoroutineTable;
    use crate::tracee::symbolize::Symbolizer;

    let b = builds().last().expect("a toolchain");
    for (flavour, exe) in &b.exes {
        let what = format!("{} {flavour:?}", b.go_version);
        let (bin, layout) = open(exe);
        let bin = std::sync::Arc::new(bin);
        let mut child = GoChild::spawn(exe, &[]);
        let _ = child.line();
        let first = reported(&child.json());
        let target = Target::open(child.pid()).expect("target");
        let bias = target
            .load_bias(bin.first_load_vaddr(), bin.is_pie())
            .expect("load bias");
        let starts = SystemStarts::new(&bin, bias);
        let mut table = GoroutineTable::default();
        let mut snaps = list_at_attach(
            ProcMem::new(child.pid()),
            &bin,
            layout,
            bias,
            &mut table,
            &starts,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let user = |t: &GoroutineTable| t.live_by_site().values().sum::<u64>() as usize;
        assert_eq!(user(&table), first.num_goroutine, "{what}");
        let goid0 = snaps.goidgen();
        assert_eq!(goid0.is_some(), !bin.is_stripped(), "{what}: {goid0:?}");

        child.send("leak 7");
        let _ = child.json();
        child.send("exit 5");
        let second = reported(&child.json());
        assert!(
            !snaps.refresh(&mut table, &starts, Duration::from_secs(3600)),
            "{what}: a young reading is reused"
        );
        assert!(snaps.refresh(&mut table, &starts, Duration::ZERO), "{what}");
        assert_eq!(user(&table), second.num_goroutine, "{what}");
        let mut sym = Symbolizer::new(std::sync::Arc::clone(&bin), bias);
        let mut by_site: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
        let mut names = Vec::new();
        for (pc, c) in &table.sites {
            let f = site_frame(&mut sym, &bin, *pc, c.startpc);
            let live = table.live_by_site().get(pc).copied().unwrap_or(0);
            let base = f.file.rsplit('/').next().unwrap_or("").to_string();
            by_site.insert(
                format!("{base}:{}", f.line),
                (c.pre_existing, c.created, c.exited, live),
            );
            names.push(f.function);
        }
        let site = |kind: &str| by_site[&second.sites[kind].0];
        assert_eq!(site("ticker"), (50, 7, 0, 57), "{what}: {by_site:?}");
        assert_eq!(site("worker"), (15, 0, 5, 10), "{what}: {by_site:?}");
        assert!(
            names.iter().any(|n| n == "main goroutine"),
            "{what}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("runtime.")),
            "{what}: {names:?}"
        );
        if let Some(g0) = goid0 {
            let (created, err) = snaps
                .created_between(Some(g0), snaps.goidgen())
                .unwrap_or_else(|| panic!("{what}: no goid counter"));
            assert!(err >= GOID_BATCH, "{what}");
            assert!(
                created + err >= 7 && created <= 7 + err,
                "{what}: {created} ±{err} created, 7 expected"
            );
        }
        eprintln!(
            "{what}: {} goroutines read in {:?}; sites {by_site:?}",
            snaps.last.goroutines, snaps.last.took
        );
    }
}

/// What one reading costs with many goroutines, batched (as the session
/// reads) and one system call per `g` (as it read before):
/// `TRACER_SNAPSHOT_GOROUTINES=100000 cargo test snapshot_cost -- --ignored --nocapture`.
#[test]
#[ignore = "slow: starts up to 100,000 goroutines"]
fn snapshot_cost() {
    use std::time::Instant;

    use super::{read_list, MAX_READ_GS};

    let want: usize = std::env::var("TRACER_SNAPSHOT_GOROUTINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let b = builds().last().expect("a toolchain");
    let exe = &b.exes[0].1;
    let (bin, layout) = open(exe);
    let mut child = GoChild::spawn(exe, &[]);
    let _ = child.line();
    let mut have = reported(&child.json()).num_goroutine;
    let mem = ProcMem::new(child.pid());
    let loc = locate_allgs(&mem, &bin, layout, 0).expect("allgs");
    let mut n = 1_000;
    loop {
        n = n.min(want);
        if n > have {
            child.send(&format!("leak {}", n - have));
            have = reported(&child.json()).num_goroutine;
        }
        let mut best = (u128::MAX, u128::MAX);
        let (mut count, mut truncated) = (0, false);
        for _ in 0..5 {
            let t = Instant::now();
            let list = read_list(&mem, layout, loc.addr, MAX_READ_GS).expect("read");
            best.0 = best.0.min(t.elapsed().as_micros());
            (count, truncated) = (list.gs.len(), list.truncated);
            let t = Instant::now();
            let ptrs = {
                let hdr = mem.read_u64s(loc.addr, 2).expect("header");
                mem.read_u64s(hdr[0], hdr[1] as usize).expect("array")
            };
            let mut buf = vec![0u8; 320];
            for p in ptrs.iter().filter(|&&p| p != 0) {
                mem.read(*p, &mut buf).expect("g");
            }
            best.1 = best.1.min(t.elapsed().as_micros());
        }
        assert_eq!(
            truncated,
            have >= MAX_READ_GS,
            "{count} listed, {have} running"
        );
        assert!(
            count >= have.min(MAX_READ_GS - 100),
            "{count} listed, {have} running"
        );
        eprintln!(
            "{}: {have} goroutines ({count} read{}): batched {:.1} ms, one call per g {:.1} ms",
            b.go_version,
            if truncated {
                ", list truncated"
            } else {
                " with system"
            },
            best.0 as f64 / 1e3,
            best.1 as f64 / 1e3
        );
        if n >= want {
            break;
        }
        n *= 10;
    }
}

/// Runs merge neighbouring `g`s, never across a gap of a page, and never
/// longer than their bound.
#[test]
fn runs_merge_neighbours() {
    use super::{plan_runs, Run};
    let span = 300;
    let runs = plan_runs(&[0x1000, 0x11c0, 0x1380, 0x3000, 0x3000 + 300 + 2048], span);
    assert_eq!(
        runs,
        vec![
            Run {
                start: 0x1000,
                len: 0x380 + 300,
                gs: 0..3
            },
            Run {
                start: 0x3000,
                len: 2 * 300 + 2048,
                gs: 3..5
            },
        ]
    );
    assert_eq!(plan_runs(&[0x1000, 0x1000 + 300 + 2049], span).len(), 2);
    // 1,000 g's 448 bytes apart: runs of at most 64 KiB.
    let addrs: Vec<u64> = (0..1000).map(|i| 0x10_0000 + i * 448).collect();
    let runs = plan_runs(&addrs, span);
    assert!(runs.iter().all(|r| r.len <= 64 * 1024), "{runs:?}");
    assert_eq!(runs.len(), (1000 * 448usize).div_ceil(64 * 1024));
    assert_eq!(runs.last().map(|r| r.gs.end), Some(1000));
    assert!(plan_runs(&[], span).is_empty());
}

/// The batched reader on `g`s laid out in our own memory: neighbours,
/// strays, dead ones, a null entry; a bad pointer fails the whole read.
#[test]
fn reads_gs_in_runs() {
    use super::read_gs;
    let layout = layout_for(1, 25).expect("layout");
    let g = &layout.g;
    let size = 448usize;
    let put = |mem: &mut [u8], at: usize, goid: u64, status: u32| {
        let w64 = |m: &mut [u8], off: u64, v: u64| {
            m[at + off as usize..][..8].copy_from_slice(&v.to_le_bytes())
        };
        w64(mem, g.goid, goid);
        w64(mem, g.gopc, 0x1000 + goid);
        w64(mem, g.startpc, 0x2000 + goid);
        mem[at + g.atomicstatus as usize..][..4].copy_from_slice(&status.to_le_bytes());
        mem[at + g.waitreason as usize] = goid as u8;
    };
    let st = &g.status;
    // 300 neighbours in one block, every 7th dead; 3 strays elsewhere.
    let mut block = vec![0u8; 300 * size];
    for i in 0..300 {
        let status = if i % 7 == 0 {
            st.dead
        } else {
            st.waiting | st.scan
        };
        put(&mut block, i * size, 1000 + i as u64, status);
    }
    let mut strays: Vec<Vec<u8>> = (0..3).map(|_| vec![0u8; 64 * 1024]).collect();
    for (i, s) in strays.iter_mut().enumerate() {
        put(s, 4096, 1 + i as u64, st.running);
    }
    let base = block.as_ptr() as u64;
    let mut ptrs: Vec<u64> = (0..300).rev().map(|i| base + i * size as u64).collect();
    ptrs.insert(17, 0);
    ptrs.extend(strays.iter().map(|s| s.as_ptr() as u64 + 4096));
    let me = ProcMem::new(std::process::id());
    let mut gs = read_gs(&me, layout, &ptrs).expect("read");
    gs.sort_by_key(|g| g.goid);
    let want: Vec<u64> = (1..=3)
        .chain((0..300).filter(|i| i % 7 != 0).map(|i| 1000 + i))
        .collect();
    assert_eq!(gs.iter().map(|g| g.goid).collect::<Vec<_>>(), want);
    for x in &gs {
        assert_eq!(x.gopc, 0x1000 + x.goid);
        assert_eq!(x.startpc, 0x2000 + x.goid);
        assert_eq!(x.wait_reason, x.goid as u8);
        let want_status = if x.goid < 1000 {
            st.running
        } else {
            st.waiting
        };
        assert_eq!(x.status, want_status, "scan bit cleared");
    }
    assert_eq!(gs[3].addr, base + size as u64);
    // A pointer to nothing: an error, not a shorter list.
    ptrs.push(8);
    assert!(read_gs(&me, layout, &ptrs).is_err());
}
