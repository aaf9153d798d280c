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
//!
//! Every third session is a null one ([`Kind::Null`]): nothing starts, the
//! same timing. It is the method's own reading of an untraced stretch, and
//! the default mode is given against it too. By hand, null sessions among
//! the tracer's read 1.0008–1.0243× (1.012 ± 0.004 pooled over three runs;
//! here, in the first bench with them, 1.017× ± 0.017, Go 1.27.3);
//! on a 12-minute untraced run, null sessions laid at every phase of the
//! cycle read 1.0018 (0.993–1.011 by phase). The gaps are 4–6 s at random,
//! so that nothing periodic on the host keeps one phase of the cycle.
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
/// …and how long the service runs untraced between sessions: this, and
/// up to [`OFF_JITTER_MS`] more at random.
const OFF: Duration = Duration::from_secs(4);
const OFF_JITTER_MS: u64 = 2000;
/// Sessions of the default mode, and a null one after every
/// [`NULL_EVERY`] of them.
const CYCLES: u32 = 36;
const NULL_EVERY: u32 = 2;
/// A null session's stand-in for the start-up.
const NULL_START_MS: u64 = 700;
/// Bins this long after a session's exit are left out of the next gap (the
/// tracer's exit), and this long after "attached" out of its steady part.
const SETTLE_MS: i64 = 1000;

/// What ran in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    /// Nothing: the gaps' own reading.
    Null,
}

/// One session's times, unix ms.
#[derive(Debug, Clone, Copy)]
struct Session {
    kind: Kind,
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
    let sessions_n = CYCLES + CYCLES / NULL_EVERY;
    let run_secs =
        (ON.as_secs() + OFF.as_secs() + OFF_JITTER_MS / 1000) * u64::from(sessions_n) + 8;
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
    sleep(OFF + Duration::from_secs(2));
    let mut sessions = Vec::new();
    let mut rng = Jitter::seeded();
    for i in 1..=sessions_n {
        sessions.push(if i % (NULL_EVERY + 1) == 0 {
            null_session()
        } else {
            session(pid)?
        });
        if rx.try_recv().is_ok() {
            bail!("loadgen ended before the sessions");
        }
        sleep(OFF + Duration::from_millis(rng.below(OFF_JITTER_MS)));
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
        kind: Kind::Default,
        start,
        attached,
        stop,
        exited: unix_ms(),
    })
}

/// A null session: the same timing, nothing run.
fn null_session() -> Session {
    let start = unix_ms();
    sleep(Duration::from_millis(NULL_START_MS));
    let attached = unix_ms();
    sleep(ON.saturating_sub(Duration::from_millis(NULL_START_MS)));
    let stop = unix_ms();
    Session {
        kind: Kind::Null,
        start,
        attached,
        stop,
        exited: stop,
    }
}

/// The gaps' random part (xorshift, seeded from the clock).
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        Jitter(u64::from(nanos) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Mean requests per bin over bins wholly inside `[from, to)`: at least
/// half a second of them.
fn pace(bins: &[(i64, f64)], from: i64, to: i64) -> Option<f64> {
    mean_pace(bins, from, to, 50)
}

/// Each session's ratios (whole, attached) to the pace beside it, with
/// its kind; sessions without bins around them are left out.
fn ratios(bins: &[(i64, f64)], sessions: &[Session]) -> Vec<(Kind, f64, f64)> {
    let mut out = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let gap_before_from = if i == 0 {
            s.start - OFF.as_millis() as i64
        } else {
            sessions[i - 1].exited + SETTLE_MS
        };
        let gap_after_to = sessions
            .get(i + 1)
            .map_or(s.exited + OFF.as_millis() as i64, |n| n.start);
        let (Some(before), Some(after), Some(whole), Some(steady)) = (
            pace(bins, gap_before_from, s.start),
            pace(bins, s.exited + SETTLE_MS, gap_after_to),
            pace(bins, s.start, s.exited),
            pace(bins, s.attached + SETTLE_MS, s.stop),
        ) else {
            continue;
        };
        let base = (before + after) / 2.0;
        out.push((s.kind, whole / base, steady / base));
    }
    out
}

/// `a` over `b` (each a mean and its standard error), with the error.
fn over((a, a_se): (f64, f64), (b, b_se): (f64, f64)) -> (f64, f64) {
    let r = a / b;
    (r, r * ((a_se / a).powi(2) + (b_se / b).powi(2)).sqrt())
}

fn summary(bins: &[(i64, f64)], sessions: &[Session]) -> anyhow::Result<String> {
    let measured = ratios(bins, sessions);
    let of = |kind: Kind| -> (Vec<f64>, Vec<f64>) {
        measured
            .iter()
            .filter(|m| m.0 == kind)
            .map(|m| (m.1, m.2))
            .unzip()
    };
    let (whole, steady) = of(Kind::Default);
    if whole.len() < 3 {
        bail!(
            "only {} of {} sessions had loadgen bins around them",
            measured.len(),
            sessions.len()
        );
    }
    let (w, w_se, n) = mean_se(&whole);
    let (st, st_se, _) = mean_se(&steady);
    let mut sorted = whole.clone();
    let median = tracer_run::median(&mut sorted);
    let mut attach_ms: Vec<f64> = sessions
        .iter()
        .filter(|s| s.kind == Kind::Default)
        .map(|s| (s.attached - s.start) as f64)
        .collect();
    let attach = tracer_run::median(&mut attach_ms);
    let (null_whole, null_steady) = of(Kind::Null);
    let mut out = format!(
        "  whole sessions (loadgen, {BIN_MS} ms bins; {n} sessions of {} s and {} null ones, {}–{} s apart; each over the untraced pace just before and after it):\n    \
         from start to exit (start-up {attach:.0} ms to \"attached\", detach included): {w:.4}× untraced (±{w_se:.4}, 1 s.e.; median {median:.4}×)\n    \
         attached (from 1 s after \"attached\" to the stop): {st:.4}× untraced (±{st_se:.4}, 1 s.e.)\n",
        ON.as_secs(),
        null_whole.len(),
        OFF.as_secs(),
        OFF.as_secs() + OFF_JITTER_MS / 1000,
    );
    if null_whole.len() < 3 {
        out += "    null sessions: too few measured to compare\n";
        return Ok(out);
    }
    let (nw, nw_se, _) = mean_se(&null_whole);
    let (ns, ns_se, _) = mean_se(&null_steady);
    let (rw, rw_se) = over((w, w_se), (nw, nw_se));
    let (rs, rs_se) = over((st, st_se), (ns, ns_se));
    out += &format!(
        "    null sessions (nothing run, the same timing): {nw:.4}× from start to exit (±{nw_se:.4}), {ns:.4}× \"attached\" (±{ns_se:.4})\n    \
         the default mode over the null sessions: {rw:.4}× from start to exit (±{rw_se:.4}), {rs:.4}× attached (±{rs_se:.4})\n"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 requests a bin; during sessions, `traced` in the default
    /// mode's and `null` in the null ones.
    fn bins(sessions: &[Session], traced: f64, null: f64, until: i64) -> Vec<(i64, f64)> {
        (0..until / BIN_MS)
            .map(|i| {
                let t = i * BIN_MS;
                let on = sessions.iter().find(|s| t >= s.start && t < s.exited);
                let n = match on.map(|s| s.kind) {
                    Some(Kind::Default) => traced,
                    Some(Kind::Null) => null,
                    None => 100.0,
                };
                (t, n)
            })
            .collect()
    }

    fn sessions(n: i64) -> Vec<Session> {
        (0..n)
            .map(|i| {
                let start = 6_000 + i * 16_000;
                Session {
                    kind: if i % 3 == 2 {
                        Kind::Null
                    } else {
                        Kind::Default
                    },
                    start,
                    attached: start + 700,
                    stop: start + 10_000,
                    exited: start + 10_200,
                }
            })
            .collect()
    }

    #[test]
    fn a_session_is_set_against_the_gaps_beside_it() {
        let sessions = sessions(9);
        let b = bins(&sessions, 97.0, 100.0, 160_000);
        let s = summary(&b, &sessions).unwrap();
        assert!(s.contains("6 sessions of 10 s and 3 null ones"), "{s}");
        assert!(s.contains("to exit (start-up 700 ms"), "{s}");
        assert!(s.contains(": 0.9700× untraced (±0.0000"), "{s}");
        assert!(s.contains("null ones, 4–6 s apart"), "{s}");
        assert!(
            s.contains("null sessions (nothing run, the same timing): 1.0000×"),
            "{s}"
        );
        // Sessions without bins around them measure nothing.
        assert!(summary(&b[..100], &sessions).is_err());
    }

    /// Null sessions that read 1 % fast: the default mode's figure over
    /// theirs is 1 % lower than its own.
    #[test]
    fn the_default_mode_is_given_over_the_null_sessions() {
        let sessions = sessions(9);
        let b = bins(&sessions, 97.0, 101.0, 160_000);
        let s = summary(&b, &sessions).unwrap();
        assert!(s.contains("1.0100× from start to exit (±0.0000)"), "{s}");
        assert!(
            s.contains(
                "over the null sessions: 0.9604× from start to exit (±0.0000), 0.9604× attached"
            ),
            "{s}"
        );
        // Too few null sessions: said, not compared.
        let few = &sessions[..4];
        let s = summary(&bins(few, 97.0, 101.0, 70_000), few).unwrap();
        assert!(s.contains("too few measured"), "{s}");
    }
}
