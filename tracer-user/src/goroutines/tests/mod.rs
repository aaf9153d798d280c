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
use crate::gobin::GoBinary;
use crate::golayout::{layout_for, Layout};
use crate::procmem::ProcMem;
use crate::target::Target;

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
