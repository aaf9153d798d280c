//! Goroutines by creation site against the program's own count
//! (`runtime.NumGoroutine()` and per-`go`-statement counts), with the
//! stopped-ticker leak (incident I5) found as a leak.
mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    thread::sleep,
    time::Duration,
};

use common::*;
use serde_json::Value;

struct Census {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: u32,
}

impl Census {
    fn start(bin: &std::path::Path) -> (Census, Value) {
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("READY"), "{line}");
        let pid = child.id();
        let mut c = Census {
            child,
            stdin,
            stdout,
            pid,
        };
        let stats = c.read();
        (c, stats)
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn cmd(&mut self, c: &str) -> Value {
        writeln!(self.stdin, "{c}").unwrap();
        self.stdin.flush().unwrap();
        self.read()
    }

    fn finish(self) {
        let Census {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        assert!(child.wait().unwrap().success());
    }
}

/// "file.go:LINE" of a report frame.
fn file_line(f: &Value) -> String {
    format!(
        "{}:{}",
        f["file"].as_str().unwrap().rsplit('/').next().unwrap(),
        f["line"]
    )
}

fn check(bin: &std::path::Path, label: &str) {
    let (mut prog, _) = Census::start(bin);
    let tracer = Tracer::attach(prog.pid, &["--format", "json"]);
    prog.cmd("leak 7");
    prog.cmd("exit 5");
    // Three more leaks a second apart: the ticker site only grows.
    let mut stats = Value::Null;
    for _ in 0..3 {
        sleep(Duration::from_millis(1100));
        stats = prog.cmd("leak 3");
    }
    sleep(Duration::from_millis(300));
    let reports = tracer.stop();
    prog.finish();
    let r = reports.last().unwrap();
    let totals = &r["goroutine_totals"];
    assert_eq!(totals["pre_existing_unknown"], false, "{label}: {totals}");
    assert_eq!(
        totals["live"], stats["num_goroutine"],
        "{label}: live vs runtime.NumGoroutine(): {totals}"
    );
    let sites = r["goroutines"].as_array().unwrap();
    let site = |where_: &str| {
        sites
            .iter()
            .find(|s| file_line(&s["created_at"]) == where_)
            .unwrap_or_else(|| panic!("{label}: no site {where_} in {sites:?}"))
    };
    for (kind, want) in stats["sites"].as_object().unwrap() {
        let s = site(want["site"].as_str().unwrap());
        assert_eq!(
            s["live"], want["count"],
            "{label}: {kind} at {}",
            want["site"]
        );
    }
    let ticker = site(stats["sites"]["ticker"]["site"].as_str().unwrap());
    assert_eq!(ticker["pre_existing"], 50, "{label}");
    assert_eq!(
        ticker["created"], 16,
        "{label}: 7 + 3×3 created while traced"
    );
    assert_eq!(
        ticker["blocked_on"]["chan receive"], 66,
        "{label}: {}",
        ticker["blocked_on"]
    );
    let worker = site(stats["sites"]["worker"]["site"].as_str().unwrap());
    assert_eq!(worker["exited"], 5, "{label}");
    let sleepers = site(stats["sites"]["sleep"]["site"].as_str().unwrap());
    assert_eq!(
        sleepers["blocked_on"]["sleep"], 10,
        "{label}: {}",
        sleepers["blocked_on"]
    );
    let leak = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "goroutine_leak")
        .unwrap_or_else(|| panic!("{label}: no goroutine_leak finding: {}", r["findings"]));
    assert_eq!(
        file_line(&leak["site"]),
        stats["sites"]["ticker"]["site"].as_str().unwrap(),
        "{label}: {leak}"
    );
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn goroutines_by_site_match_the_runtime() {
    let gos = go_bins();
    for go in &gos {
        check(&build_go(go, "goroutines", &[]), &go.display().to_string());
    }
    let newest = gos.last().unwrap();
    check(
        &build_go(newest, "goroutines", &["-buildmode=pie", "-ldflags=-s -w"]),
        "stripped PIE",
    );
}
