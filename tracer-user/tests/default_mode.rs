//! The default (sampled) mode against programs that count their own
//! allocations per site (`testdata/go/mix`): a steady mix of four sites in
//! four size classes, two sites sharing one class, and bursts of a site
//! that runs alone for two seconds. The report's per-site counts are the
//! runtime's own counts split by the windows' samples; they must match
//! what the program counted.
mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// Objects per `main.*` function in the last report, and the report.
fn sites(reports: &[Value]) -> (BTreeMap<String, u64>, Value) {
    let r = reports.last().expect("a final report").clone();
    let mut out = BTreeMap::new();
    for a in r["allocations"].as_array().unwrap() {
        let f = a["site"]["function"].as_str().unwrap().to_string();
        *out.entry(f).or_default() += a["objects"].as_u64().unwrap();
    }
    (out, r)
}

/// The program's own counts per site, as `main.<site>`.
fn truth(answers: &[Value]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for a in answers {
        for (k, v) in a["sites"].as_object().unwrap() {
            *out.entry(format!("main.{k}")).or_default() += v.as_u64().unwrap();
        }
    }
    out
}

fn label(r: &Value) -> String {
    r["target"]["go_version"].as_str().unwrap().to_string()
}

/// What one run of `testdata/go/mix` under the default mode gives: the
/// program runs `commands` from the moment the tracer is attached. The
/// tracer's objects per site, the program's own, the last report and the
/// Go version.
struct MixRun {
    got: BTreeMap<String, u64>,
    want: BTreeMap<String, u64>,
    r: Value,
    label: String,
}

fn run_mix(go: &std::path::Path, commands: &[&str]) -> MixRun {
    let bin = build_go(go, "mix", &[]);
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(prog.pid, &["--mode", "sampled", "--format", "json"]);
    let answers: Vec<Value> = commands.iter().map(|c| prog.command(c)).collect();
    let reports = tracer.stop();
    prog.finish();
    let (got, r) = sites(&reports);
    MixRun {
        got,
        want: truth(&answers),
        label: label(&r),
        r,
    }
}

/// Steady mix: shares within ±10 % (sites ≥ 5 %) and ±30 % (≥ 1 %),
/// counts within ±15 %, totals from the runtime.
fn steady(go: &std::path::Path) {
    let MixRun {
        got,
        want,
        r,
        label,
    } = run_mix(go, &["steady 6", "same 4"]);
    let s = &r["window"]["sampling"];
    eprintln!("{label}: got {got:?}\n{label}: program counted {want:?}\n{label}: {s}");
    assert_eq!(s["totals_from"], "runtime counters", "{label}");
    assert!(s["windows"].as_u64().unwrap() >= 5, "{label}: {s}");
    let pct = r["overhead"]["est_target_slowdown_pct"].as_f64().unwrap();
    assert!(pct <= 3.0, "{label}: estimated slowdown {pct} %");
    let unattributed = r["unattributed"]["share"].as_f64().unwrap();
    assert!(
        unattributed < 0.02,
        "{label}: unattributed {}",
        r["unattributed"]
    );
    // Shares within each command's sites (the two commands ran apart).
    for group in [
        &["main.siteA", "main.siteB", "main.siteC", "main.siteD"][..],
        &["main.sameX", "main.sameY"][..],
    ] {
        let t: u64 = group.iter().map(|s| want[*s]).sum();
        let g: u64 = group
            .iter()
            .map(|s| got.get(*s).copied().unwrap_or(0))
            .sum();
        for site in group {
            let (w, n) = (want[*site], got.get(*site).copied().unwrap_or(0));
            let (ws, gs) = (w as f64 / t as f64, n as f64 / g.max(1) as f64);
            // Sites of one size class each are split by the runtime's own
            // per-class counts (the targets: ±10 % from 5 % of objects).
            // Two sites sharing a class are split by window samples alone,
            // fewer on a target that keeps every CPU busy (runs: within
            // 5 % of the share): ±15 % for that pair.
            let same_class = group.len() == 2;
            let tolerance = match (same_class, ws >= 0.05) {
                (true, _) => 0.15,
                (false, true) => 0.10,
                (false, false) => 0.30,
            };
            eprintln!("{label}: {site}: share {gs:.4} vs {ws:.4}, count {n} vs {w}");
            assert!(
                (gs - ws).abs() <= ws * tolerance,
                "{label}: {site}: share {gs:.4}, program's {ws:.4}"
            );
            assert!(
                (n as f64 - w as f64).abs() <= w as f64 * 0.15,
                "{label}: {site}: {n} objects, program counted {w}"
            );
        }
    }
}

/// Bursts of two seconds between idle spells: ≥ 80 % of each burst's
/// allocations at its own site, its count within ±15 %.
fn bursts(go: &std::path::Path) {
    let MixRun {
        got,
        want,
        r,
        label,
    } = run_mix(
        go,
        &[
            "idle 1.5",
            "burst b1 2",
            // A new regime between two bursts: a window watches it.
            "steady 1.3 200000",
            "burst b2 2",
            "idle 1",
        ],
    );
    eprintln!(
        "{label}: got {got:?}\n{label}: program counted {want:?}\n{label}: {}\n{label}: unattributed {}",
        r["window"]["sampling"], r["unattributed"]
    );
    for site in ["main.burst1", "main.burst2"] {
        let (w, n) = (want[site], got.get(site).copied().unwrap_or(0));
        assert!(
            n as f64 >= 0.8 * w as f64 && (n as f64 - w as f64).abs() <= 0.15 * w as f64,
            "{label}: {site}: {n} objects attributed, the burst made {w}"
        );
    }
    // The burst of 48-byte objects shares its class with the steady
    // site A: neither takes the other's, and the steady spell between
    // the bursts (a new regime) gets a window of its own.
    let a = (
        want["main.siteA"],
        got.get("main.siteA").copied().unwrap_or(0),
    );
    let unattributed = r["unattributed"]["share"].as_f64().unwrap();
    assert!(unattributed < 0.02, "{label}: unattributed {unattributed}");
    // The steady sites of classes no burst uses keep their own window's
    // split through the slots where the bursts begin and end (with one
    // regime rate for all classes those slots went unattributed: -5.7 %).
    for site in ["main.siteB", "main.siteC", "main.siteD"] {
        let (w, n) = (want[site], got.get(site).copied().unwrap_or(0));
        assert!(
            (n as f64 - w as f64).abs() <= 0.05 * w as f64,
            "{label}: {site}: {n} objects, program counted {w}"
        );
    }
    assert!(
        (a.1 as f64 - a.0 as f64).abs() <= 0.3 * a.0 as f64,
        "{label}: main.siteA: {} objects, program counted {}",
        a.1,
        a.0
    );
}

/// A short burst as soon as the tracer is attached, the program idle
/// until then (its bucket empty): ≥ 80 % of it at its own site. Before a
/// burst window could borrow, none of a 0.2–0.5 s burst was attributed.
fn short_burst_at_attach(go: &std::path::Path) {
    let m = run_mix(go, &["burst b1 0.3", "idle 1"]);
    let w = m.want["main.burst1"];
    let n = m.got.get("main.burst1").copied().unwrap_or(0);
    eprintln!(
        "{}: short burst {n} of {w}; {}",
        m.label, m.r["unattributed"]
    );
    assert!(
        n as f64 >= 0.8 * w as f64 && n as f64 <= 1.15 * w as f64,
        "{}: main.burst1: {n} objects attributed, the burst made {w}",
        m.label
    );
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn steady_mixes_match_the_programs_own_counts() {
    for go in go_bins() {
        steady(&go);
    }
    assert_no_tracer_programs();
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn bursts_are_attributed_to_their_sites() {
    let gos = go_bins();
    for go in [gos.first(), gos.last()].into_iter().flatten() {
        bursts(go);
        short_burst_at_attach(go);
    }
    assert_no_tracer_programs();
}

/// GET `path` from 127.0.0.1:`port`; the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

/// A net/http JSON API under wrk: the default mode stays within its
/// budget by its own accounting, names the handler's sites, and the
/// service answers every request.
fn http_service(go: &std::path::Path) {
    let bin = build_go(go, "httpapi", &[]);
    let prog = GoProgram::start(&bin);
    let port: u16 = prog
        .ready
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    let tracer = Tracer::attach(prog.pid, &["--mode", "sampled", "--format", "json"]);
    let wrk = std::process::Command::new("wrk")
        .args(["-t1", "-c8", "-d8s"])
        .arg(format!("http://127.0.0.1:{port}/order"))
        .output()
        .expect("wrk (installed by cargo xtask test)");
    let wrk_out = String::from_utf8_lossy(&wrk.stdout).to_string();
    let stats: Value = serde_json::from_str(&http_get(port, "/stats")).unwrap();
    let reports = tracer.stop();
    prog.kill();
    let r = reports.last().unwrap();
    let label = label(r);
    let s = &r["window"]["sampling"];
    eprintln!(
        "{label}: wrk: {wrk_out}\n{label}: {s}\n{label}: overhead {}",
        r["overhead"]
    );
    assert!(wrk_out.contains("Requests/sec"), "{label}: {wrk_out}");
    assert!(
        stats["requests"].as_u64().unwrap() > 10_000,
        "{label}: {stats}"
    );
    assert_eq!(r["window"]["mode"], "sampled");
    let pct = r["overhead"]["est_target_slowdown_pct"].as_f64().unwrap();
    assert!(pct <= 3.0, "{label}: estimated slowdown {pct} %");
    // The tracer's own CPU is said, and small beside a busy service (~0.5 %
    // of a CPU here): it polls counters and reads memory, it does not spin.
    let secs = r["window"]["duration_ns"].as_f64().unwrap() / 1e9;
    let tracer_cpu = r["overhead"]["tracer_cpu_ns"].as_f64().unwrap() / 1e9 / secs;
    assert!(
        tracer_cpu > 0.0 && tracer_cpu < 0.05,
        "{label}: the tracer used {:.1}% of a CPU",
        100.0 * tracer_cpu
    );
    // Probes were attached only in windows: well under half the time.
    assert!(s["duty_cycle_pct"].as_f64().unwrap() < 50.0, "{label}: {s}");
    assert!(s["bpf_ns_per_hit"].as_f64().is_some(), "{label}: {s}");
    let (got, _) = sites(&reports);
    let handler: u64 = got
        .iter()
        .filter(|(f, _)| f.starts_with("main.handleOrder"))
        .map(|(_, n)| n)
        .sum();
    let total = r["allocation_totals"]["objects"].as_u64().unwrap();
    assert!(
        handler as f64 >= 0.2 * total as f64,
        "{label}: main.handleOrder {handler} of {total}: {got:?}"
    );
    assert!(
        r["unattributed"]["share"].as_f64().unwrap() < 0.05,
        "{label}"
    );
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn an_http_service_under_load_stays_within_the_budget() {
    let gos = go_bins();
    for go in [gos.first(), gos.last()].into_iter().flatten() {
        http_service(go);
    }
    assert_no_tracer_programs();
}
