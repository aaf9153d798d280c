//! `cargo xtask bench --only http`: a Go net/http JSON API
//! (testdata/go/httpapi, pinned to CPU 0) under wrk (pinned to CPU 1),
//! alternating untraced runs with runs under the tracer's default mode (the
//! load as soon as it attached, and 3 s later: attached to the idle
//! service, as a user tries it) and under `--mode exact` (the tracer not pinned: it starts up on CPU 1, the
//! default mode then runs on CPU 0, exact mode on CPU 1), and with a 1 % CPU hog
//! beside wrk (`testdata/go/spin`: what a little CPU taken on wrk's CPU
//! costs the measured req/s, the tracer's own work included). Per traced run, the
//! kernel's own run time of each of the tracer's BPF programs (BPF stats
//! on for that run only), then the windows' cost time-locked
//! (`bench_timelocked`), parts of the tracer toggled (`bench_toggled`) and
//! whole sessions against the pace beside them (`bench_sessions`). Prints
//! what it measured; asserts nothing.
use std::{
    collections::HashSet,
    fmt,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::Context;
use serde_json::Value;

use crate::{
    bench_sessions, bench_timelocked, bench_toggled, build, cmd, demo, prereqs, tracer_run,
};

/// Rounds of (untraced, default, idle first, exact, hog): five, so that one
/// drifting run (this host: ±5–10 % over seconds) moves no median.
const ROUNDS: usize = 5;
const WRK_ARGS: [&str; 4] = ["-t1", "-c8", "-d5s", "--latency"];
/// The tracer's BPF programs; the kernel keeps 15 characters of a name.
const TRACER_PROGS: [&str; 14] = [
    "alloc_sample",
    "live_sample",
    "cpu_sample",
    "gc_wake",
    "malloc_entry",
    "map_op_entry",
    "map_op_exit",
    "go_created",
    "go_exited",
    "madvise_entry",
    "madvise_syscall",
    "func_entry",
    "func_exit",
    "bare_count",
];
const BPF_STATS: &str = "kernel.bpf_stats_enabled";
/// How long [`Mode::IdleFirst`] leaves the service idle once attached.
const IDLE_FIRST: std::time::Duration = std::time::Duration::from_secs(3);

/// The modes each round runs after its untraced run, and compares with it.
const COMPARED: [Mode; 4] = [Mode::Default, Mode::IdleFirst, Mode::Exact, Mode::Hog];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Untraced,
    Default,
    /// The default mode attached to the idle service, the load starting
    /// [`IDLE_FIRST`] later: how a user tries it (start the service,
    /// attach, then load it). Its windows meet a load none of them saw.
    IdleFirst,
    Exact,
    /// Untraced, with `testdata/go/spin` taking 1 % of wrk's CPU: how much
    /// a little CPU taken beside the load generator (where the tracer
    /// runs here) costs the measured req/s.
    Hog,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.pad(match self {
            Mode::Untraced => "untraced",
            Mode::Default => "default",
            Mode::IdleFirst => "idle 3 s",
            Mode::Exact => "exact",
            Mode::Hog => "1 % hog",
        })
    }
}

/// What one wrk run measured.
struct Wrk {
    rps: f64,
    p99_us: f64,
    /// wrk's "Socket errors" / "Non-2xx" lines, if any.
    errors: Vec<String>,
}

struct Tools<'a> {
    wrk: &'a Path,
    spin: PathBuf,
    bpftool: &'a Path,
    url: String,
    pid: u32,
}

/// Builds and starts the service with `go`, benchmarks it, stops it.
pub fn run(go: &Path, version: &str, wrk: &Path, bpftool: &Path) -> anyhow::Result<()> {
    let bin = demo::build_go_program(go, "httpapi", &format!("httpapi-{version}"), &[])?;
    let mut service = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&bin)
        .stdout(Stdio::piped())
        .spawn()?;
    let result: anyhow::Result<_> = (|| {
        let mut ready = String::new();
        BufReader::new(service.stdout.take().context("stdout")?).read_line(&mut ready)?;
        // "READY <pid> <port>"; taskset execs, so the pid is the child's.
        let port = ready
            .split_whitespace()
            .nth(2)
            .with_context(|| format!("httpapi printed {ready:?}"))?;
        let tools = Tools {
            wrk,
            spin: demo::build_go_program(go, "spin", &format!("spin-{version}"), &[])?,
            bpftool,
            url: format!("http://127.0.0.1:{port}/order"),
            pid: service.id(),
        };
        rounds(&tools, version)?;
        let addr = format!("127.0.0.1:{port}");
        bench_timelocked::run(go, version, &addr, service.id())?;
        bench_toggled::run(go, version, &addr, service.id())?;
        bench_sessions::run(go, version, &addr, service.id())
    })();
    let _ = service.kill();
    let _ = service.wait();
    result
}

fn rounds(t: &Tools, version: &str) -> anyhow::Result<()> {
    println!(
        "== go{version}: net/http JSON API (pid {}, CPU 0) under `wrk {}` (CPU 1; the tracer places itself)",
        t.pid,
        WRK_ARGS.join(" ")
    );
    cmd::output(
        Command::new("taskset")
            .args(["-c", "1"])
            .arg(t.wrk)
            .args(["-t1", "-c8", "-d2s", &t.url]),
    )?;
    let order = (0..ROUNDS)
        .flat_map(|_| std::iter::once(Mode::Untraced).chain(COMPARED))
        .chain([Mode::Untraced]);
    let mut runs: Vec<(Mode, Wrk)> = Vec::new();
    for (i, mode) in order.enumerate() {
        let (w, details) = match mode {
            Mode::Untraced => (wrk(t)?, String::new()),
            Mode::Hog => (beside_a_hog(t)?, String::new()),
            _ => traced(
                t,
                mode,
                &prereqs::cache_dir().join(format!(
                    "httpapi-{version}-{}.jsonl",
                    mode.to_string().replace(' ', "-")
                )),
            )?,
        };
        println!(
            "  run {:>2} {mode:<8} {:>9.0} req/s  p99 {:>8.0} µs{}",
            i + 1,
            w.rps,
            w.p99_us,
            w.errors
                .iter()
                .map(|e| format!("  [{e}]"))
                .collect::<String>()
        );
        print!("{details}");
        runs.push((mode, w));
    }
    let medians = |mode: Mode| {
        let of = |f: fn(&Wrk) -> f64| {
            let mut v: Vec<f64> = runs
                .iter()
                .filter(|r| r.0 == mode)
                .map(|r| f(&r.1))
                .collect();
            tracer_run::median(&mut v)
        };
        (of(|w| w.rps), of(|w| w.p99_us))
    };
    let (base_rps, base_p99) = medians(Mode::Untraced);
    println!("  medians:");
    println!("    untraced {base_rps:>9.0} req/s                    p99 {base_p99:>8.0} µs");
    for mode in COMPARED {
        let (rps, p99) = medians(mode);
        println!(
            "    {mode:<8} {rps:>9.0} req/s ({:>5.3}× untraced)  p99 {p99:>8.0} µs ({:>5.2}× untraced)",
            rps / base_rps,
            p99 / base_p99
        );
    }
    // The host's speed drifts over a run (±20 % here): each traced run
    // against the untraced runs just before and after it.
    println!("  paired (each traced run over the mean of the untraced runs beside it):");
    for mode in COMPARED {
        let mut ratios = paired_ratios(&runs, mode);
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "    {mode:<8} median {:.3}× untraced ({})",
            tracer_run::median(&mut ratios),
            each.join(", ")
        );
    }
    Ok(())
}

/// Each `mode` run's req/s over the mean of the nearest untraced runs
/// before and after it.
fn paired_ratios(runs: &[(Mode, Wrk)], mode: Mode) -> Vec<f64> {
    let untraced = |r: &&(Mode, Wrk)| r.0 == Mode::Untraced;
    runs.iter()
        .enumerate()
        .filter(|(_, r)| r.0 == mode)
        .filter_map(|(i, r)| {
            let before = runs[..i].iter().rev().find(untraced)?;
            let after = runs[i + 1..].iter().find(untraced)?;
            Some(r.1.rps / ((before.1.rps + after.1.rps) / 2.0))
        })
        .collect()
}

/// One wrk run with `spin` taking 1 % of wrk's CPU meanwhile.
fn beside_a_hog(t: &Tools) -> anyhow::Result<Wrk> {
    let mut spin = Command::new("taskset")
        .args(["-c", "1"])
        .arg(&t.spin)
        .spawn()?;
    let w = wrk(t);
    let _ = spin.kill();
    let _ = spin.wait();
    w
}

/// One wrk run against the service.
fn wrk(t: &Tools) -> anyhow::Result<Wrk> {
    let out = cmd::output(
        Command::new("taskset")
            .args(["-c", "1"])
            .arg(t.wrk)
            .args(WRK_ARGS)
            .arg(&t.url),
    )?;
    let value = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no {prefix:?} in wrk's output:\n{out}"))
    };
    Ok(Wrk {
        rps: value("Requests/sec:")?.parse()?,
        p99_us: micros(value("99%")?)?,
        errors: out
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Socket errors") || l.starts_with("Non-2xx"))
            .map(String::from)
            .collect(),
    })
}

/// wrk's latency ("812.00us", "1.23ms", "2.01s") in microseconds.
fn micros(s: &str) -> anyhow::Result<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else {
        anyhow::bail!("latency {s:?} has no unit")
    };
    Ok(num.parse::<f64>()? * scale)
}

/// One wrk run under `tracer attach` in `mode`, with BPF stats on; returns
/// it with lines on the tracer's report and its BPF programs.
fn traced(t: &Tools, mode: Mode, out: &Path) -> anyhow::Result<(Wrk, String)> {
    let _ = std::fs::remove_file(out);
    let previous = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")?;
    cmd::output(Command::new("sysctl").args(["-w", &format!("{BPF_STATS}=1")]))?;
    let result: anyhow::Result<_> = (|| {
        // Not pinned: the tracer places itself beside a confined target
        // (start-up off its CPU, the default mode's steady work on it), as
        // a user's `tracer attach` does.
        let mut tracer = Command::new(build::tracer_binary());
        tracer.args(["attach", "--pid", &t.pid.to_string()]);
        if mode == Mode::Exact {
            tracer.args(["--mode", "exact"]);
        }
        tracer.args(["--format", "json", "--output"]).arg(out);
        let tracer = tracer_run::start_tracer_cmd(&mut tracer)?;
        if mode == Mode::IdleFirst {
            std::thread::sleep(IDLE_FIRST);
        }
        // The programs go with the tracer: read them before stopping it.
        let measured = wrk(t).and_then(|w| Ok((w, bpf_programs(t.bpftool, tracer.id())?)));
        tracer_run::finish(tracer, true)?;
        let (w, progs) = measured?;
        Ok((w, progs, std::fs::read_to_string(out)?))
    })();
    cmd::output(Command::new("sysctl").args(["-w", &format!("{BPF_STATS}={}", previous.trim())]))?;
    let (w, progs, report) = result?;
    Ok((w, report_lines(&report)? + &progs))
}

/// The final report's overhead and sampling fields, as lines.
fn report_lines(report: &str) -> anyhow::Result<String> {
    let last: Value = serde_json::from_str(report.lines().last().context("empty report")?)?;
    let o = &last["overhead"];
    let mut s = format!(
        "      report: overhead.est_target_slowdown_pct {:.1}, overhead.probe_hits {}",
        o["est_target_slowdown_pct"].as_f64().unwrap_or(f64::NAN),
        o["probe_hits"]
    );
    if !o["bpf_ns_per_hit"].is_null() {
        s += &format!(", overhead.bpf_ns_per_hit {}", o["bpf_ns_per_hit"]);
    }
    s += "\n";
    if !last["window"]["sampling"].is_null() {
        s += &format!("      window.sampling {}\n", last["window"]["sampling"]);
    }
    Ok(s)
}

/// The kernel's run count and time of the tracer's BPF programs, as lines.
/// Only `pid`'s programs when bpftool lists owners (`pids`) or the tracer's
/// fdinfo names them; else every program with one of the tracer's names.
fn bpf_programs(bpftool: &Path, pid: u32) -> anyhow::Result<String> {
    let all: Value = serde_json::from_str(&cmd::output(
        Command::new(bpftool).args(["-j", "prog", "show"]),
    )?)?;
    let named: Vec<&Value> = all
        .as_array()
        .context("bpftool -j prog show: not an array")?
        .iter()
        .filter(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            TRACER_PROGS
                .iter()
                .any(|t| *t == name || (name.len() == 15 && t.starts_with(name)))
        })
        .collect();
    let fd_ids = prog_ids_of(pid);
    let owned = |p: &&&Value| {
        let by_pids = p["pids"]
            .as_array()
            .is_some_and(|v| v.iter().any(|o| o["pid"].as_u64() == Some(pid.into())));
        by_pids || p["id"].as_u64().is_some_and(|id| fd_ids.contains(&id))
    };
    let ours: Vec<&&Value> = named.iter().filter(owned).collect();
    let (progs, whose) = if ours.is_empty() {
        (
            named.iter().collect(),
            "every program with the tracer's names",
        )
    } else {
        (ours, "the tracer's own")
    };
    let mut s = format!("      BPF programs ({whose}):\n");
    for p in progs {
        // bpftool leaves both out while a program has not run.
        let cnt = p["run_cnt"].as_u64().unwrap_or(0);
        let ns = p["run_time_ns"].as_u64().unwrap_or(0);
        if p["name"] == "cpu_sample" {
            // Runs at 99 Hz on each CPU the service may run on (CPU 0
            // here), for the tracer's whole life: its share of that time.
            let cpu_secs = cnt as f64 / 99.0;
            s += &format!(
                "        on-CPU sampling: {:.3} % of the sampled CPUs' time in its program over ~{cpu_secs:.1} CPU-s (plus the timer interrupt itself)\n",
                100.0 * ns as f64 / (cpu_secs.max(1e-9) * 1e9)
            );
        }
        s += &format!(
            "        {:<16} id {:>6}  run_cnt {cnt:>10}  run_time_ns {ns:>13}  {:>8.0} ns/run\n",
            p["name"].as_str().unwrap_or_default(),
            p["id"],
            ns as f64 / cnt.max(1) as f64
        );
    }
    Ok(s)
}

/// Ids of the BPF programs `pid` holds open (`prog_id:` in its fdinfo).
fn prog_ids_of(pid: u32) -> HashSet<u64> {
    let dir = PathBuf::from(format!("/proc/{pid}/fdinfo"));
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|id| id.trim().parse().ok())
        })
        .collect()
}
