//! The default sampled mode against a loop whose allocation mix is fixed by
//! its code (`testdata/go/bench`, allocLoop: per 8 iterations 8 nodes, 8
//! 64-byte slices, one 1 KiB slice): per-site shares, totals scaled to the
//! runtime's counters, the overhead it says it caused.
mod common;

use common::*;
use serde_json::Value;

fn source_line(needle: &str) -> u64 {
    let src = std::fs::read_to_string(workspace().join("testdata/go/bench/main.go")).unwrap();
    src.lines().position(|l| l.contains(needle)).expect(needle) as u64 + 1
}

fn check(go: &std::path::Path) {
    let bin = build_go(go, "bench", &[]);
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(prog.pid, &["--mode", "sampled", "--format", "json"]);
    let mut mallocs = 0;
    for _ in 0..3 {
        mallocs += prog.command("alloc-long")["mallocs"].as_u64().unwrap();
    }
    let reports = tracer.stop();
    prog.finish();
    let r = reports.last().unwrap();
    let label = r["target"]["go_version"].as_str().unwrap().to_string();
    let s = &r["window"]["sampling"];
    eprintln!("{label}: sampling {s}, overhead {}", r["overhead"]);
    assert_eq!(r["window"]["mode"], "sampled", "{label}");
    assert_eq!(s["totals_from"], "runtime counters", "{label}");
    assert!(s["samples"].as_u64().unwrap() >= 200, "{label}: {s}");
    assert!(s["est_error_pct"].as_f64().unwrap() < 10.0, "{label}: {s}");
    assert_eq!(r["overhead"]["lost_events"], 0, "{label}");
    // The governor's own estimate stays near the budget (3 %).
    let pct = r["overhead"]["est_target_slowdown_pct"].as_f64().unwrap();
    assert!(pct <= 4.5, "{label}: estimated slowdown {pct} %");
    // Totals are the runtime's: at least what the loops allocated.
    let objects = r["allocation_totals"]["objects"].as_u64().unwrap();
    assert!(
        objects >= mallocs && objects as f64 <= mallocs as f64 * 1.05,
        "{label}: {objects} objects vs {mallocs} allocated by the loops"
    );
    let sites = r["allocations"].as_array().unwrap();
    let share = |needle: &str| -> f64 {
        let line = source_line(needle);
        let n: u64 = sites
            .iter()
            .filter(|a| a["site"]["function"] == "main.allocLoop" && a["site"]["line"] == line)
            .map(|a| a["objects"].as_u64().unwrap())
            .sum();
        n as f64 / objects as f64
    };
    for (needle, truth, tolerance) in [
        ("sinkNode = &node{", 8.0 / 17.0, 0.10),
        ("sinkSmall = make(", 8.0 / 17.0, 0.10),
        ("sinkBig = make(", 1.0 / 17.0, 0.30),
    ] {
        let got = share(needle);
        eprintln!("{label}: {needle} share {got:.4} vs {truth:.4}");
        assert!(
            (got - truth).abs() <= truth * tolerance,
            "{label}: {needle}: share {got:.4}, code says {truth:.4}: {:#}",
            Value::Array(sites.clone())
        );
    }
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn sampled_shares_match_the_code() {
    let gos = go_bins();
    for go in [gos.first(), gos.last()].into_iter().flatten() {
        check(go);
    }
    assert_no_tracer_programs();
}
