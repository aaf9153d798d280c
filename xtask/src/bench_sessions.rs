//! The http section's whole-session measure: what attaching the default
//! mode costs the service, start-up and detach included, against the
//! service's own pace just before and just after.
//!
//! wrk's totals compare runs seconds apart, and this host's speed drifts
//! by ±10–20 % over seconds: its paired ratios put a 1 % CPU hog on wrk's
//! CPU anywhere from 0.74× to 0.98×. Here `loadgen` (closed loop, 8
//! connections, CPU 1) counts the service's requests per 10 ms for the
//! whole run while the tracer is attached ([`ON`]) and gone ([`OFF`]) in
//! turn, [`CYCLES`] times. Each session's pace (from the tracer's start to
//! its exit, and from [`SETTLE_MS`] after "attached" to the stop) is set
//! against the mean of the pace in the gaps before and after it, so the
//! drift cancels, and the sessions' ratios are averaged: their standard
//! error says how far the figure can be trusted.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    thread::sleep,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context};

use crate::{
    bench_timelocked::{mean_pace, mean_se, BIN_MS},
    build, cmd, demo, tracer_run,
};

/// How long each session stays attached…
const ON: Duration = Duration::from_secs(10);
/// …and how long the service runs untraced between sessions.
const OFF: Duration = Duration::from_secs(5);
const CYCLES: u32 = 36;
/// Bins this long after a session's exit are left out of the next gap (the
/// tracer's exit), and this long after "attached" out of its steady part.
const SETTLE_MS: i64 = 1000;

/// One session's times, unix ms.
#[derive(Debug, Clone, Copy)]
struct Session {
    start: i64,
    attached: i64,
    stop: i64,
    exited: i64,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs the sessions against the service at `addr` (pid `pid`) while
/// loadgen counts its requests, and prints the ratios.
pub fn run(go: &Path, version: &str, addr: &str, pid: u32) -> anyhow::Result<()> {
    let loadgen = demo::build_go_program(go, "loadgen", &format!("loadgen-{version}"), &[])?;
    let run_secs = (ON + OFF).as_secs() * u64::from(CYCLES) + OFF.as_secs() + 2;
    let (tx, rx) = mpsc::channel();
    let counter = std::thread::spawn({
        let addr = addr.to_string();
        move || {
            let out = cmd::output(
                Command::new("taskset")
                    .args(["-c", "1"])
                    .arg(&loadgen)
                    .args(["-addr", &addr, "-d", &format!("{run_secs}s")]),
            );
            let _ = tx.send(());
            out
        }
    });
    sleep(OFF + Duration::from_secs(1));
    let mut sessions = Vec::new();
    for _ in 0..CYCLES {
        sessions.push(session(pid)?);
        if rx.try_recv().is_ok() {
            bail!("loadgen ended before the sessions");
        }
        sleep(OFF);
    }
    let out = counter
        .join()
        .map_err(|_| anyhow::anyhow!("loadgen thread"))??;
    let bins = crate::bench_timelocked::parse_bins(&out)?;
    print!("{}", summary(&bins, &sessions)?);
    Ok(())
}

/// One session: the tracer started (not pinned, as a user starts it),
/// attached for [`ON`], interrupted, gone.
fn session(pid: u32) -> anyhow::Result<Session> {
    let start = unix_ms();
    let mut child = Command::new(build::tracer_binary())
        .args(["attach", "--pid", &pid.to_string()])
        .args(["--format", "json", "--output", "/dev/null"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut err = BufReader::new(child.stderr.take().context("stderr")?);
    let mut line = String::new();
    let attached = loop {
        line.clear();
        if err.read_line(&mut line)? == 0 {
            let _ = child.wait();
            bail!("tracer did not attach");
        }
        if line.contains("attached") {
            break unix_ms();
        }
    };
    let drain = std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    sleep(ON.saturating_sub(Duration::from_millis((attached - start).max(0) as u64)));
    let stop = unix_ms();
    tracer_run::unsafe_kill_int(child.id());
    child.wait()?;
    let _ = drain.join();
    Ok(Session {
        start,
        attached,
        stop,
        exited: unix_ms(),
    })
}

/// Mean requests per bin over bins wholly inside `[from, to)`: at least
/// half a second of them.
fn pace(bins: &[(i64, f64)], from: i64, to: i64) -> Option<f64> {
    mean_pace(bins, from, to, 50)
}

fn summary(bins: &[(i64, f64)], sessions: &[Session]) -> anyhow::Result<String> {
    let mut whole = Vec::new();
    let mut steady = Vec::new();
    let mut attach_ms = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let gap_before_from = if i == 0 {
            s.start - OFF.as_millis() as i64
        } else {
            sessions[i - 1].exited + SETTLE_MS
        };
        let gap_after_to = sessions
            .get(i + 1)
            .map_or(s.exited + OFF.as_millis() as i64, |n| n.start);
        let (Some(before), Some(after)) = (
            pace(bins, gap_before_from, s.start),
            pace(bins, s.exited + SETTLE_MS, gap_after_to),
        ) else {
            continue;
        };
        let base = (before + after) / 2.0;
        if let Some(p) = pace(bins, s.start, s.exited) {
            whole.push(p / base);
        }
        if let Some(p) = pace(bins, s.attached + SETTLE_MS, s.stop) {
            steady.push(p / base);
        }
        attach_ms.push((s.attached - s.start) as f64);
    }
    if whole.len() < 3 || steady.len() < 3 {
        bail!(
            "only {} of {} sessions had loadgen bins around them",
            whole.len(),
            sessions.len()
        );
    }
    let (w, w_se, n) = mean_se(&whole);
    let (st, st_se, _) = mean_se(&steady);
    let mut sorted = whole.clone();
    let median = tracer_run::median(&mut sorted);
    let attach = tracer_run::median(&mut attach_ms);
    Ok(format!(
        "  whole sessions (loadgen, {BIN_MS} ms bins; {n} sessions of {} s, {} s apart; each over the untraced pace just before and after it):\n    \
         from start to exit (start-up {attach:.0} ms to \"attached\", detach included): {w:.4}× untraced (±{w_se:.4}, 1 s.e.; median {median:.4}×)\n    \
         attached (from 1 s after \"attached\" to the stop): {st:.4}× untraced (±{st_se:.4}, 1 s.e.)\n",
        ON.as_secs(),
        OFF.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 requests a bin, `traced` while a session is on.
    fn bins(sessions: &[Session], traced: f64, until: i64) -> Vec<(i64, f64)> {
        (0..until / BIN_MS)
            .map(|i| {
                let t = i * BIN_MS;
                let on = sessions.iter().any(|s| t >= s.start && t < s.exited);
                (t, if on { traced } else { 100.0 })
            })
            .collect()
    }

    #[test]
    fn a_session_is_set_against_the_gaps_beside_it() {
        let sessions: Vec<Session> = (0..4)
            .map(|i| {
                let start = 6_000 + i * 16_000;
                Session {
                    start,
                    attached: start + 700,
                    stop: start + 10_000,
                    exited: start + 10_200,
                }
            })
            .collect();
        let b = bins(&sessions, 97.0, 70_000);
        let s = summary(&b, &sessions).unwrap();
        assert!(s.contains("4 sessions"), "{s}");
        assert!(s.contains("to exit (start-up 700 ms"), "{s}");
        assert!(s.contains(": 0.9700× untraced (±0.0000"), "{s}");
        // Sessions without bins around them measure nothing.
        assert!(summary(&b[..100], &sessions).is_err());
    }
}
