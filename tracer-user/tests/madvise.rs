//! madvise by advice, RSS and LazyFree against the program's own numbers
//! (incident I4): a 256 MiB heap released with MADV_FREE
//! (GODEBUG=madvdontneed=0) stays in RSS as LazyFree; with MADV_DONTNEED it
//! leaves.
mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    thread::sleep,
    time::Duration,
};

use common::*;
use serde_json::Value;

fn within(a: u64, b: u64, pct: f64, slack: u64) -> bool {
    (a.abs_diff(b) as f64) <= (b as f64 * pct / 100.0).max(slack as f64)
}

fn check(bin: &std::path::Path, godebug: &str, mode: &str, label: &str) {
    let exact = mode == "exact";
    let mut child = Command::new(bin)
        .env("GODEBUG", godebug)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("READY"), "{line}");
    line.clear();
    out.read_line(&mut line).unwrap();
    let tracer = Tracer::attach(child.id(), &["--format", "json", "--mode", mode]);
    writeln!(stdin, "free").unwrap();
    stdin.flush().unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    let truth: Value = serde_json::from_str(&line).unwrap();
    // Let the run loop take an RSS sample after the release.
    sleep(Duration::from_millis(1500));
    let reports = tracer.stop();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let m = &reports.last().unwrap()["madvise"];
    let released = truth["heap_released_delta"].as_u64().unwrap();
    assert!(
        released >= 200 << 20,
        "{label}: program released only {released} bytes"
    );
    let (used, other) = if godebug.ends_with('0') {
        ("MADV_FREE", "MADV_DONTNEED")
    } else {
        ("MADV_DONTNEED", "MADV_FREE")
    };
    let bytes = |a: &str| m["by_advice"][a]["bytes"].as_u64().unwrap_or(0);
    // The default mode attaches nothing for madvise: bytes come from the
    // runtime's own counter, the advice from its GODEBUG, calls are null.
    assert_eq!(
        m["source"],
        if exact { "probes" } else { "runtime" },
        "{label}: {m}"
    );
    if !exact {
        assert!(
            m["syscall_calls"].is_null() && m["by_advice"][used]["calls"].is_null(),
            "{label}: the default mode counts no calls: {m}"
        );
    }
    assert!(
        within(bytes(used), released, 10.0, 0),
        "{label}: {used} {} bytes vs HeapReleased delta {released}: {m}",
        bytes(used)
    );
    assert!(
        bytes(other) < released / 10,
        "{label}: {other} {} bytes: {m}",
        bytes(other)
    );
    if exact {
        exact_checks(m, label);
    }
    let lazy = truth["after"]["lazy_free"].as_u64().unwrap();
    let reported = m["lazyfree_bytes"].as_u64().unwrap();
    assert!(
        within(reported, lazy, 10.0, 16 << 20),
        "{label}: LazyFree reported {reported}, smaps_rollup {lazy}"
    );
    let finding = reports.last().unwrap()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "madv_free_rss");
    assert_eq!(
        finding,
        used == "MADV_FREE",
        "{label}: madv_free_rss finding {finding}: {}",
        reports.last().unwrap()["findings"]
    );
}

/// Exact mode: initiators, and the tracepoint against the runtime probe.
fn exact_checks(m: &Value, label: &str) {
    // debug.FreeOSMemory released most of it (the background scavenger may
    // release some too): its entry point is named in the heaviest caller.
    let top = &m["callers"][0]["caller"];
    assert!(
        top.as_str()
            .is_some_and(|c| c.to_lowercase().contains("freeosmemory")),
        "{label}: callers {}",
        m["callers"]
    );
    // The tracepoint sees the same syscalls as the runtime probe.
    let probed: (u64, u64) =
        m["by_advice"]
            .as_object()
            .unwrap()
            .values()
            .fold((0, 0), |(c, b), v| {
                (
                    c + v["calls"].as_u64().unwrap(),
                    b + v["bytes"].as_u64().unwrap(),
                )
            });
    assert_eq!(
        (
            m["syscall_calls"].as_u64().unwrap(),
            m["syscall_bytes"].as_u64().unwrap()
        ),
        probed,
        "{label}: tracepoint vs probe: {m}"
    );
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn madvise_bytes_and_lazyfree_match() {
    for go in go_bins() {
        let bin = build_go(&go, "madvise", &[]);
        for godebug in ["madvdontneed=0", "madvdontneed=1"] {
            for mode in ["exact", "sampled"] {
                check(
                    &bin,
                    godebug,
                    mode,
                    &format!("{} {godebug} {mode}", go.display()),
                );
            }
        }
    }
}
