//! On-CPU sampling and latency resolution against a program that times its
//! own phases (`testdata/go/cpuphases`): map loads on a 1,000,000-entry map,
//! arithmetic, small allocations, clone + clear of a 200,000-entry map.
//! Its own thread CPU per phase is the truth for the CPU split; its own
//! `clear` timings, untraced, for the clear latency.
mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const PHASES: [&str; 4] = ["loads", "arith", "alloc", "clone"];

fn function_total(cpu: &Value, function: &str) -> f64 {
    cpu["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == function)
        .map_or(0.0, |f| f["total_ns"].as_f64().unwrap())
}

fn go_tool_pprof(go: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(go)
        .args(["tool", "pprof"])
        .args(args)
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go tool pprof");
    assert!(
        out.status.success(),
        "go tool pprof {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Default mode: the CPU split by phase within ±5 points of the program's
/// own, and the CPU profile in the pprof and folded exports.
fn split(go: &Path) {
    let bin = build_go(go, "cpuphases", &[]);
    let dir = std::env::temp_dir().join(format!("tracer-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pprof, folded) = (dir.join("cpu.pb.gz"), dir.join("cpu.folded"));
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(
        prog.pid,
        &[
            "--mode",
            "sampled",
            "--format",
            "json",
            "--weight",
            "cpu",
            "--top",
            "100",
            "--pprof",
            pprof.to_str().unwrap(),
            "--folded",
            folded.to_str().unwrap(),
        ],
    );
    let truth = prog.command("run 5");
    let reports = tracer.stop();
    prog.finish();
    let r = reports.last().unwrap();
    let ver = truth["go_version"].as_str().unwrap().to_string();
    let cpu = &r["cpu"];
    eprintln!(
        "{ver}: cpu {} samples, by kind {}",
        cpu["samples"], cpu["by_kind"]
    );
    assert_eq!(cpu["frequency_hz"], 99, "{ver}");
    let samples = cpu["samples"].as_u64().unwrap();
    // 5 s on about one CPU at 99 Hz.
    assert!((350..=700).contains(&samples), "{ver}: {samples} samples");
    let cpu_ns = cpu["cpu_ns"].as_f64().unwrap();
    let process = truth["process_cpu_ns"].as_f64().unwrap();
    // The samples cover the whole window, a little more than the run.
    assert!(
        cpu_ns >= process * 0.85 && cpu_ns <= process * 1.3,
        "{ver}: {cpu_ns} ns sampled, the program used {process} ns"
    );
    for phase in PHASES {
        let own = truth["cpu_ns"][phase].as_f64().unwrap() / process * 100.0;
        let func = format!("main.phase{}{}", phase[..1].to_uppercase(), &phase[1..]);
        let seen = function_total(cpu, &func) / cpu_ns * 100.0;
        eprintln!("{ver}: {phase}: {seen:.1} % sampled, {own:.1} % by its own clock");
        assert!(
            (seen - own).abs() <= 5.0,
            "{ver}: {phase} {seen:.1} % vs {own:.1} %"
        );
    }
    // Map loads are map work; the allocation phase is allocation work.
    let kind = |k: &str| cpu["by_kind"][k].as_f64().unwrap() / cpu_ns * 100.0;
    let loads = truth["cpu_ns"]["loads"].as_f64().unwrap() / process * 100.0;
    assert!(kind("map") >= loads * 0.5, "{ver}: {}", cpu["by_kind"]);
    assert!(kind("alloc") >= 5.0, "{ver}: {}", cpu["by_kind"]);

    let folded = std::fs::read_to_string(&folded).unwrap();
    let arith: u64 = folded
        .lines()
        .filter(|l| l.contains("main.phaseArith"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let want = function_total(cpu, "main.phaseArith");
    assert!(
        arith > 0 && (arith as f64 - want).abs() <= want * 0.01,
        "{ver}: folded {arith} vs {want}"
    );
    let top = go_tool_pprof(go, &["-sample_index=cpu", "-top", pprof.to_str().unwrap()]);
    assert!(top.contains("main.phaseArith"), "{ver}: pprof -top:\n{top}");
    assert!(top.contains("Type: cpu"), "{ver}: pprof -top:\n{top}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exact mode: tiny operations' latencies are not measurable (null), a
/// `clear` of 200,000 entries is, within ±25 % of the program's own timing
/// of the same clears; a load's CPU cost is null or its interval holds the
/// program's own ns per load.
fn resolution(go: &Path) {
    let bin = build_go(go, "cpuphases", &[]);
    let mut prog = GoProgram::start(&bin);
    let native = prog.command("run 2");
    let tracer = Tracer::attach(prog.pid, &["--format", "json", "--top", "200"]);
    let truth = prog.command("run 3");
    let reports = tracer.stop();
    prog.finish();
    let r = reports.last().unwrap();
    let ver = truth["go_version"].as_str().unwrap().to_string();
    let res = r["map_totals"]["latency_resolution_ns"].as_u64().unwrap();
    assert!(res > 0, "{ver}");
    let maps = r["maps"].as_array().unwrap();
    let by_id = |addr: &Value| {
        let id = format!("{:#x}", addr.as_u64().unwrap());
        maps.iter().find(|m| m["id"] == id.as_str())
    };
    let big = by_id(&truth["big_addr"]).expect("the big map is listed");
    let load = &big["latency_ns"]["load"];
    eprintln!(
        "{ver}: resolution {res} ns; big map load {load}, cost {} {}",
        big["cost_ns"], big["cost_ns_ci95"]
    );
    assert!(
        load["p50"].is_null() && load["p99"].is_null(),
        "{ver}: {load}"
    );
    let native_load = native["load_ns_per_op"].as_f64().unwrap();
    match big["cost_ns"]["load"].as_f64() {
        Some(c) => assert!(
            (c - native_load).abs() <= native_load * 0.3,
            "{ver}: cost {c} ns vs {native_load} ns"
        ),
        None => {
            let ci = &big["cost_ns_ci95"]["load"];
            let hi = ci[1].as_f64().unwrap();
            assert!(hi >= native_load * 0.7, "{ver}: {ci} vs {native_load}");
        }
    }
    // Each round clears a new map once: the tracer's clears (those its
    // map windows saw), each beside the program's own timing of it.
    let own_ns = truth["clears_ns"].as_array().unwrap();
    let (mut clears, mut own_clears): (Vec<u64>, Vec<u64>) = truth["clear_addrs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(own_ns)
        .filter_map(|(addr, own)| {
            let traced = by_id(addr)?["latency_ns"]["clear"]["p50"].as_u64()?;
            Some((traced, own.as_u64()?))
        })
        .unzip();
    clears.sort_unstable();
    own_clears.sort_unstable();
    assert!(clears.len() >= 3, "{ver}: clears timed {clears:?}");
    let p50 = clears[clears.len() / 2] as f64;
    // The program's own timing of the same clears (it includes the two
    // probe hits; the tracer's, part of them), not of all its clears:
    // those vary ~4× over a run (CI: the tracer's 24 clears 690,901 ns
    // against 986,893 ns for all of them); untraced for the record.
    let own = own_clears[own_clears.len() / 2] as f64;
    let untraced = native["clear_p50_ns"].as_f64().unwrap();
    eprintln!(
        "{ver}: clear p50 {p50} ns traced, {own} ns by its own clock ({untraced} ns untraced) {clears:?}"
    );
    assert!(
        (p50 - own).abs() <= own * 0.25,
        "{ver}: clear p50 {p50} vs {own}"
    );
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn cpu_split_matches_the_programs_own() {
    for go in go_bins() {
        split(&go);
    }
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn latencies_below_the_resolution_are_not_numbers() {
    for go in go_bins() {
        resolution(&go);
    }
}

/// A program whose goroutines wake every millisecond and work ~40 µs (on
/// threads it starts after the attach): the CPU the samples stand for
/// within ±20 % of its own CPU time. Timer sampling reads such programs
/// somewhat low (0.89-0.94 of their own CPU here): time spent with
/// interrupts off around each switch is sampled as what runs next.
fn ticking(go: &Path) {
    let bin = build_go(go, "cpuphases", &[]);
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(prog.pid, &["--mode", "sampled", "--format", "json"]);
    let truth = prog.command("tick 8");
    let reports = tracer.stop();
    prog.finish();
    let cpu = &reports.last().unwrap()["cpu"];
    let sampled = cpu["cpu_ns"].as_f64().unwrap();
    let own = truth["process_cpu_ns"].as_f64().unwrap();
    eprintln!(
        "{}: ticking: {:.2} s sampled ({} samples), {:.2} s by its own clock over {:.1} s",
        go.display(),
        sampled / 1e9,
        cpu["samples"],
        own / 1e9,
        truth["wall_ns"].as_f64().unwrap() / 1e9
    );
    // ~2 s of CPU: ~200 samples, a 95 % interval of ±14 %; the window is
    // a little longer than the run.
    assert!(
        sampled >= own * 0.8 && sampled <= own * 1.2,
        "{}: {sampled} ns sampled, the program used {own} ns",
        go.display()
    );
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn a_program_waking_briefly_and_often_is_sampled() {
    for go in go_bins() {
        ticking(&go);
    }
}
