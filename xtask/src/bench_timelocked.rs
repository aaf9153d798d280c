//! The http section's time-locked measure: what the default mode's windows
//! cost the service, seen against its own pace around each window.
//!
//! wrk's totals compare runs seconds apart, and this host's speed drifts by
//! ±10–20 % over seconds, more than the 3 % budget. Here `loadgen`
//! (testdata/go/loadgen: closed loop, 8 connections) counts completed
//! requests per 10 ms while the tracer runs with `TRACER_DEBUG_WINDOWS=1`,
//! which prints, once each window's detach finished, its group (allocation
//! samples or map operations), when it opened, its hits and what the
//! governor charged it (hits × cost + the switch). The requests lost
//! around a window (from 10 ms before it opened to 250 ms after its detach
//! finished) against the pace of the bins away from every window are what
//! the window cost, per group. What is constant (on-CPU sampling, the
//! tracer's polls) is in the pace itself and not in this figure. The run
//! is 30 s: map windows start ~9 s after attach, one every ~5 s.
use std::{
    fs::File,
    path::Path,
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::{build, cmd, demo, prereqs, tracer_run};

pub(crate) const RUN: &str = "30s";
pub(crate) const BIN_MS: i64 = 10;
/// Around a window: from this long before it opened…
const BEFORE_MS: i64 = 10;
/// …to this long after its detach finished.
const AFTER_MS: i64 = 250;
/// Bins at least this far from every window make the pace.
const AWAY_MS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Group {
    Allocs,
    Maps,
}

struct Window {
    group: Group,
    open: i64,
    done: i64,
    hits: u64,
    charged_ms: f64,
}

/// Runs loadgen against `url`'s host under the default mode and prints
/// the windows' cost, time-locked.
pub fn run(go: &Path, version: &str, addr: &str, pid: u32) -> anyhow::Result<()> {
    // Past the first windows (their cost is first assumed, then measured).
    let (bins, log) = loadgen_under_tracer(
        go,
        version,
        (addr, pid),
        (&[], "TRACER_DEBUG_WINDOWS"),
        (Duration::from_secs(2), RUN),
    )?;
    print!("{}", summary(&bins, &parse_windows(&log))?);
    Ok(())
}

/// Attaches the tracer (not pinned, with `args` and the debug variable
/// `debug` set, its stderr kept), waits `settle` once it has attached, runs
/// loadgen against `addr` for `run` and stops the tracer: loadgen's bins
/// and the tracer's stderr.
pub(crate) fn loadgen_under_tracer(
    go: &Path,
    version: &str,
    (addr, pid): (&str, u32),
    (args, debug): (&[&str], &str),
    (settle, run): (Duration, &str),
) -> anyhow::Result<(Vec<(i64, f64)>, String)> {
    let loadgen = demo::build_go_program(go, "loadgen", &format!("loadgen-{version}"), &[])?;
    let log = prereqs::cache_dir().join(format!("{}-{version}.log", debug.to_lowercase()));
    // Not pinned: it places itself, as a user's `tracer attach` does.
    let mut tracer = Command::new(build::tracer_binary())
        .args(["attach", "--pid", &pid.to_string()])
        .args(args)
        .env(debug, "1")
        .stdout(Stdio::null())
        .stderr(File::create(&log)?)
        .spawn()?;
    let started = Instant::now();
    while !std::fs::read_to_string(&log)?.contains("attached") {
        if started.elapsed() > Duration::from_secs(30) || tracer.try_wait()?.is_some() {
            let _ = tracer.kill();
            bail!("tracer did not attach: {}", std::fs::read_to_string(&log)?);
        }
        sleep(Duration::from_millis(50));
    }
    sleep(settle);
    let bins = cmd::output(
        Command::new("taskset")
            .args(["-c", "1"])
            .arg(&loadgen)
            .args(["-addr", addr, "-d", run]),
    );
    tracer_run::unsafe_kill_int(tracer.id());
    tracer.wait()?;
    Ok((parse_bins(&bins?)?, std::fs::read_to_string(&log)?))
}

/// loadgen's `<unix µs> <count>` lines as (bin start ms, count).
pub(crate) fn parse_bins(out: &str) -> anyhow::Result<Vec<(i64, f64)>> {
    out.lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            let us: i64 = f.next().context("bin time")?.parse()?;
            let n: f64 = f.next().context("bin count")?.parse()?;
            Ok((us / 1000 - BIN_MS, n))
        })
        .collect()
}

/// A `key=value` field of a debug line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The windows in the tracer's debug lines: `<unix ms> window group=G
/// opened=<unix ms> hits=N charged_ns=C`, printed once a window's detach
/// finished, with what the governor charged it.
fn parse_windows(log: &str) -> Vec<Window> {
    log.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let done: i64 = words.next()?.parse().ok()?;
            if words.next()? != "window" {
                return None;
            }
            Some(Window {
                group: if field(line, "group")? == "maps" {
                    Group::Maps
                } else {
                    Group::Allocs
                },
                open: field(line, "opened")?.parse().ok()?,
                done,
                hits: field(line, "hits")?.parse().ok()?,
                charged_ms: field(line, "charged_ns")?.parse::<f64>().ok()? / 1e6,
            })
        })
        .collect()
}

fn summary(bins: &[(i64, f64)], windows: &[Window]) -> anyhow::Result<String> {
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        bail!("loadgen printed no bins");
    };
    let span_ms = (last.0 - first.0 + BIN_MS) as f64;
    let near = |t: i64, pad: i64| {
        windows
            .iter()
            .any(|w| t + BIN_MS > w.open - pad && t < w.done + pad)
    };
    let away: Vec<f64> = bins
        .iter()
        .filter(|b| !near(b.0, AWAY_MS))
        .map(|b| b.1)
        .collect();
    if away.len() < 50 {
        bail!(
            "only {} bins away from the {} windows",
            away.len(),
            windows.len()
        );
    }
    let pace = away.iter().sum::<f64>() / away.len() as f64;
    let inside = |w: &Window| {
        windows_bins(bins, w.open - BEFORE_MS, w.done + AFTER_MS)
            .map(|b| pace - b.1)
            .sum::<f64>()
            / pace
            * BIN_MS as f64
    };
    let mut s = format!(
        "  time-locked (loadgen, {BIN_MS} ms bins, {RUN}, default mode; pace {:.0} req/s away from windows):\n",
        pace * 1000.0 / BIN_MS as f64
    );
    for (group, what) in [
        (Group::Allocs, "allocation windows"),
        (Group::Maps, "map windows"),
    ] {
        let in_run: Vec<&Window> = windows
            .iter()
            .filter(|w| w.group == group)
            .filter(|w| w.open - BEFORE_MS >= first.0 && w.done + AFTER_MS <= last.0)
            .collect();
        let lost: f64 = in_run.iter().map(|w| inside(w)).sum();
        let charged: f64 = in_run.iter().map(|w| w.charged_ms).sum();
        let hits: u64 = in_run.iter().map(|w| w.hits).sum();
        s += &format!(
            "    {} {what}, {hits} hits: service time lost around them {lost:.0} ms ({:.2} % of the run), charged by the governor {charged:.0} ms ({:.2} %)\n",
            in_run.len(),
            100.0 * lost / span_ms,
            100.0 * charged / span_ms
        );
    }
    Ok(s)
}

fn windows_bins(bins: &[(i64, f64)], from: i64, to: i64) -> impl Iterator<Item = &(i64, f64)> {
    bins.iter()
        .filter(move |b| b.0 >= from && b.0 + BIN_MS <= to)
}

/// Mean requests per bin over the bins wholly inside `[from, to)`, if
/// there are at least `min` of them.
pub(crate) fn mean_pace(bins: &[(i64, f64)], from: i64, to: i64, min: usize) -> Option<f64> {
    let (sum, n) = windows_bins(bins, from, to).fold((0.0, 0), |(s, n), b| (s + b.1, n + 1));
    (n >= min && n > 0).then(|| sum / n as f64)
}

/// Mean, standard error and count of `v` (at least two values).
pub(crate) fn mean_se(v: &[f64]) -> (f64, f64, usize) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt(), v.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_their_cost_from_the_debug_lines() {
        let log = "tracer: attached …\n\
            1000 Open group=allocs hits=10 cost=20000 cores=1.00 burst=false\n\
            1030 Close group=allocs hits=110 cost=20000 cores=1.00 burst=false\n\
            1060 window group=allocs opened=1000 hits=104 charged_ns=4080000\n\
            1060 samples group=allocs 60ms..now [(48, 3)]\n\
            1500 window group=maps opened=1400 hits=7 charged_ns=1500000\n\
            2000 Open group=allocs hits=110 cost=20000 cores=0.50 burst=false\n";
        let w = parse_windows(log);
        assert_eq!(w.len(), 2, "an unfinished window is left out");
        assert_eq!(w[0].group, Group::Allocs);
        assert_eq!((w[0].open, w[0].done, w[0].hits), (1000, 1060, 104));
        assert!((w[0].charged_ms - 4.08).abs() < 1e-9);
        assert_eq!(w[1].group, Group::Maps);
        assert_eq!((w[1].open, w[1].done, w[1].hits), (1400, 1500, 7));
    }

    #[test]
    fn a_dip_around_a_window_is_its_cost() {
        // 100 per bin, a window at 2000..2040 where 3 bins lose half.
        let bins: Vec<(i64, f64)> = (0..400)
            .map(|i| {
                let t = i * BIN_MS;
                (
                    t,
                    if (2000..2030).contains(&t) {
                        50.0
                    } else {
                        100.0
                    },
                )
            })
            .collect();
        let w = [Window {
            group: Group::Allocs,
            open: 2000,
            done: 2040,
            hits: 10,
            charged_ms: 15.0,
        }];
        let s = summary(&bins, &w).unwrap();
        assert!(
            s.contains("1 allocation windows, 10 hits: service time lost around them 15 ms"),
            "{s}"
        );
        assert!(s.contains("0 map windows"), "{s}");
    }
}
