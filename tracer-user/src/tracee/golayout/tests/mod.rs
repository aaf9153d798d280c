//! Tests of the layout tables.
//!
//! `tables_match_dwarf_of_each_go_toolchain` builds
//! `testdata/go/layout_fixture` (unstripped) with every Go toolchain found
//! (see [`toolchains::find`]) and compares each number of
//! `layout_for(1, minor)` with the binary's DWARF (struct member offsets,
//! struct sizes, constants, variables, function parameters) and, for what
//! DWARF lacks (wait reason strings, flag bits, register ABI), with that
//! toolchain's `$GOROOT/src`.

mod checker;
mod checks;
mod dwarf;
mod source;
mod toolchains;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{layout_for, MapImpl, SyncMapImpl, SUPPORTED_MINORS};
use checker::Checker;
use toolchains::Toolchain;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/go/layout_fixture")
}

struct Outcome {
    version: String,
    checked: usize,
    failures: Vec<String>,
}

fn check_toolchain(tc: &Toolchain, out_dir: &Path) -> Outcome {
    let mut outcome = Outcome {
        version: tc.version.clone(),
        checked: 0,
        failures: Vec::new(),
    };
    let Some(layout) = layout_for(1, tc.minor) else {
        outcome.failures.push(format!(
            "{}: no table (layout_for(1, {}) is None): add one to golayout",
            tc.version, tc.minor
        ));
        return outcome;
    };
    let dwarf =
        toolchains::build_fixture(tc, &fixture_dir(), out_dir).and_then(|bin| dwarf::load(&bin));
    match dwarf {
        Ok(dwarf) => {
            let mut c = Checker::new(&tc.version, &dwarf);
            checks::check_layout(&mut c, layout, tc.minor, &tc.src);
            outcome.checked = c.checked;
            outcome.failures = c.failures;
        }
        Err(e) => outcome.failures.push(format!("{}: {e}", tc.version)),
    }
    outcome
}

#[test]
fn tables_match_dwarf_of_each_go_toolchain() {
    let toolchains = toolchains::find().unwrap_or_else(|e| panic!("finding Go toolchains: {e}"));
    // Older toolchains have no table by design; a newer one must get one.
    let (toolchains, too_old): (Vec<Toolchain>, Vec<Toolchain>) = toolchains
        .into_iter()
        .partition(|t| t.minor >= *SUPPORTED_MINORS.start());
    assert!(
        !toolchains.is_empty(),
        "no Go toolchain >= 1.{} found (TRACER_GO_BINS or ~/.cache/tracer/go/*/go/bin/go): \
         run `cargo xtask test`, which installs them",
        SUPPORTED_MINORS.start()
    );
    for t in &too_old {
        eprintln!(
            "golayout: {} is older than any table, not checked",
            t.version
        );
    }

    let out_dir = std::env::temp_dir().join("tracer-golayout-fixture");
    // A few workers: `go build` is parallel itself and the machine may be small.
    let queue = Mutex::new(toolchains.iter());
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some(tc) = next else { break };
                let outcome = check_toolchain(tc, &out_dir);
                if let Ok(mut r) = results.lock() {
                    r.push(outcome);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.version.cmp(&b.version));

    let mut failures = Vec::new();
    for r in &results {
        eprintln!(
            "golayout: {}: {} checks, {} failed",
            r.version,
            r.checked,
            r.failures.len()
        );
        failures.extend(r.failures.iter().cloned());
    }
    assert_eq!(results.len(), toolchains.len(), "a worker thread died");
    let tested: HashSet<u32> = toolchains.iter().map(|t| t.minor).collect();
    let untested: Vec<String> = SUPPORTED_MINORS
        .filter(|m| !tested.contains(m))
        .map(|m| format!("1.{m}"))
        .collect();
    if !untested.is_empty() {
        eprintln!("golayout: tables not checked (no toolchain): {untested:?}");
    }
    assert!(
        failures.is_empty(),
        "{} layout mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn layout_for_covers_exactly_the_supported_versions() {
    for minor in 0..40 {
        let l = layout_for(1, minor);
        assert_eq!(
            l.is_some(),
            SUPPORTED_MINORS.contains(&minor),
            "go1.{minor}"
        );
        if let Some(l) = l {
            assert_eq!(l.go_minor, minor);
        }
    }
    assert!(layout_for(2, 21).is_none());
    assert!(layout_for(0, 21).is_none());
}

#[test]
fn optional_parts_match_the_implementation() {
    for minor in SUPPORTED_MINORS {
        let Some(l) = layout_for(1, minor) else {
            panic!("no table for go1.{minor}");
        };
        assert_eq!(
            l.hmap.is_some(),
            l.map_impl == MapImpl::Classic,
            "go1.{minor}"
        );
        assert_eq!(
            l.swiss.is_some(),
            l.map_impl == MapImpl::Swiss,
            "go1.{minor}"
        );
        let sm = &l.sync_map;
        assert_eq!(
            sm.read_dirty.is_some(),
            l.sync_map_impl == SyncMapImpl::ReadDirty,
            "go1.{minor}"
        );
        assert_eq!(
            sm.hash_trie.is_some(),
            l.sync_map_impl == SyncMapImpl::HashTrie,
            "go1.{minor}"
        );
    }
}

#[test]
fn wait_reason_names_and_channel_set() {
    let Some(l121) = layout_for(1, 21) else {
        panic!("no go1.21 table")
    };
    let Some(l126) = layout_for(1, 26) else {
        panic!("no go1.26 table")
    };
    let (w121, w126) = (&l121.wait_reasons, &l126.wait_reasons);
    assert_eq!(w121.name(w121.chan_receive), "chan receive");
    assert_eq!(w126.name(w126.chan_receive), "chan receive");
    assert_ne!(w121.chan_receive, w126.chan_receive);
    assert_eq!(w126.name(w126.select), "select");
    assert_eq!(w126.name(255), "unknown wait reason");
    assert!(w126.is_channel(w126.chan_send));
    assert!(!w126.is_channel(w126.sleep));
    assert!(!w121.is_channel(w121.sync_mutex_lock));
}

#[test]
fn describe_lists_unique_names() {
    for minor in SUPPORTED_MINORS {
        let Some(l) = layout_for(1, minor) else {
            panic!("no table for go1.{minor}");
        };
        let d = l.describe();
        let mut seen = HashSet::new();
        for (k, _) in &d {
            assert!(seen.insert(k.clone()), "go1.{minor}: duplicate {k}");
        }
        assert!(d
            .iter()
            .any(|(k, v)| k == "g.goid" && v == &l.g.goid.to_string()));
    }
}
