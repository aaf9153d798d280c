//! Attach/detach cycles against a Go program under load: it must never
//! crash and its own checksums must equal an untraced run's. The suite runs
//! a few cycles per Go version; `cargo xtask stress` runs 1,000.
mod common;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use common::*;

/// Runs the stress program: a fixed number of rounds, or with None until
/// `during` returns. Returns round number → checksum.
fn run_program(
    bin: &std::path::Path,
    rounds: Option<u32>,
    during: impl FnOnce(u32),
) -> BTreeMap<u32, String> {
    let mut cmd = Command::new(bin);
    if let Some(n) = rounds {
        cmd.arg(n.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut sums = BTreeMap::new();
        for line in out.lines().map_while(Result::ok) {
            if line.starts_with("READY") {
                let _ = tx.send(());
                continue;
            }
            if let [_, n, _, sum] = line.split_whitespace().collect::<Vec<_>>()[..] {
                sums.insert(n.parse().unwrap(), sum.to_string());
            }
        }
        sums
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("stress program started");
    during(child.id());
    // Closing stdin ends an open-ended run.
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "stress program died: {status}");
    reader.join().unwrap()
}

fn cycles() -> u32 {
    std::env::var("TRACER_STRESS_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

#[test]
#[ignore = "root; run with `cargo xtask test` (or `cargo xtask stress` for 1,000 cycles)"]
fn attach_detach_cycles_never_change_the_target() {
    let n = cycles();
    for go in go_bins() {
        let label = go.display().to_string();
        let bin = build_go(&go, "stress", &[]);
        // A round's checksum depends on its seed (round % 10) only.
        let reference = run_program(&bin, Some(10), |_| {});
        assert_eq!(reference.len(), 10, "{label}");
        let traced = run_program(&bin, None, |pid| {
            for i in 0..n {
                // Both modes: exact attaches everything once, sampled
                // opens and closes windows within the cycle.
                let mode = if i % 2 == 0 { "exact" } else { "sampled" };
                let out = run_tracer(&[
                    "attach",
                    "--mode",
                    mode,
                    "--pid",
                    &pid.to_string(),
                    "--duration",
                    "150ms",
                    "--format",
                    "json",
                ]);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{label}: cycle {i}: {err}");
                let last = json_lines(&out.stdout).pop().unwrap();
                assert_eq!(last["overhead"]["lost_events"], 0, "{label}: cycle {i}");
                let objects = last["allocation_totals"]["objects"].as_u64().unwrap();
                assert!(
                    objects > 0,
                    "{label}: cycle {i} ({mode}): no allocations seen"
                );
            }
            assert_no_tracer_programs();
        });
        assert!(traced.len() >= 2, "{label}: only {} rounds", traced.len());
        for (round, sum) in &traced {
            assert_eq!(
                sum,
                &reference[&(round % 10)],
                "{label}: round {round} checksum changed under tracing"
            );
        }
        eprintln!(
            "{label}: {n} attach/detach cycles, {} rounds, checksums unchanged",
            traced.len()
        );
    }
}
