//! The http section's measures of what one part of the tracer costs the
//! service, by toggling it while `loadgen` counts the service's requests
//! per 10 ms: each phase with the part on is set against the mean of the
//! phases off on either side of it, so the host's drift over seconds
//! cancels.
//! - On-CPU sampling: the tracer runs with (next to) no sampling windows
//!   and `TRACER_DEBUG_CPU_TOGGLE=1`, which stops and restarts the
//!   sampling's perf events every 0.6 s and prints each switch.
//! - Yielding: the default mode as shipped, with
//!   `TRACER_DEBUG_YIELD_TOGGLE=1`: its run loop alternates
//!   between idle priority ("on") and normal priority every 0.6 s.
use std::{path::Path, time::Duration};

use anyhow::bail;

use crate::bench_timelocked::{loadgen_under_tracer, mean_pace, mean_se, RUN};

/// Bins this long after a switch are left out (the switch itself).
const SETTLE_MS: i64 = 50;
/// Yielding is worth ~1–2 %: a longer run than [`RUN`] to see it.
const YIELD_RUN: &str = "120s";

/// One toggled part: its debug variable, the word of its switch lines
/// (`<unix ms> WORD on|off`), the tracer's arguments, how long loadgen runs.
struct Toggle {
    debug: &'static str,
    word: &'static str,
    args: &'static [&'static str],
    run: &'static str,
}

const CPU: Toggle = Toggle {
    debug: "TRACER_DEBUG_CPU_TOGGLE",
    word: "cpu",
    // A budget this small opens no sampling window in the run.
    args: &[
        "--max-overhead",
        "0.01",
        "--format",
        "json",
        "--output",
        "/dev/null",
    ],
    run: RUN,
};

const YIELD: Toggle = Toggle {
    debug: "TRACER_DEBUG_YIELD_TOGGLE",
    word: "yield",
    args: &["--format", "json", "--output", "/dev/null"],
    run: YIELD_RUN,
};

/// Runs loadgen against `addr` while the tracer toggles its on-CPU
/// sampling, then its yielding, and prints each one's pace on against off.
pub fn run(go: &Path, version: &str, addr: &str, pid: u32) -> anyhow::Result<()> {
    for t in [CPU, YIELD] {
        let (bins, log) = loadgen_under_tracer(
            go,
            version,
            (addr, pid),
            (t.args, t.debug),
            (Duration::from_secs(1), t.run),
        )?;
        let (mean, se, n) = pace(&bins, &parse_switches(&log, t.word))?;
        if t.word == "cpu" {
            println!(
                "  on-CPU sampling (default 99 Hz), toggled every 0.6 s ({}, loadgen, no sampling windows): \
                 the service's pace with it on is {mean:.4}× its pace off (±{se:.4}, 1 s.e., {n} phases): \
                 it costs {:.2} %",
                t.run,
                100.0 * (1.0 - mean)
            );
        } else {
            println!(
                "  yielding (the default mode's run loop at idle priority), toggled every 0.6 s \
                 ({}, loadgen, windows as shipped): the service's pace while the tracer yields is {mean:.4}× \
                 its pace with the tracer at normal priority (±{se:.4}, 1 s.e., {n} phases): {:+.2} %",
                t.run,
                100.0 * (mean - 1.0)
            );
        }
    }
    Ok(())
}

/// The `<unix ms> WORD on|off` lines: (ms, on).
fn parse_switches(log: &str, word: &str) -> Vec<(i64, bool)> {
    log.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ms = w.next()?.parse().ok()?;
            (w.next()? == word).then_some(())?;
            match w.next()? {
                "on" => Some((ms, true)),
                "off" => Some((ms, false)),
                _ => None,
            }
        })
        .collect()
}

/// The pace of phases on against their neighbours off: mean, standard
/// error, phases.
fn pace(bins: &[(i64, f64)], switches: &[(i64, bool)]) -> anyhow::Result<(f64, f64, usize)> {
    // Mean requests per bin of each whole phase.
    let phases: Vec<(bool, f64)> = switches
        .windows(2)
        .filter_map(|w| {
            let (from, on) = w[0];
            mean_pace(bins, from + SETTLE_MS, w[1].0, 5).map(|p| (on, p))
        })
        .collect();
    let ratios: Vec<f64> = phases
        .windows(3)
        .filter(|p| p[1].0 && !p[0].0 && !p[2].0)
        .map(|p| p[1].1 / ((p[0].1 + p[2].1) / 2.0))
        .collect();
    if ratios.len() < 8 {
        bail!(
            "only {} phases on between two off ({} switches)",
            ratios.len(),
            switches.len()
        );
    }
    Ok(mean_se(&ratios))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_timelocked::BIN_MS;

    #[test]
    fn switches_from_the_debug_lines() {
        let log =
            "tracer: attached …\n1000 cpu off\n1600 cpu on\n1700 Open hits=1\n1800 yield on\n";
        assert_eq!(
            parse_switches(log, "cpu"),
            vec![(1000, false), (1600, true)]
        );
        assert_eq!(parse_switches(log, "yield"), vec![(1800, true)]);
    }

    #[test]
    fn a_slower_pace_while_on_is_its_cost() {
        // 600 ms phases, off first; 100 requests per bin off, 98 on.
        let switches: Vec<(i64, bool)> = (0..40).map(|i| (i * 600, i % 2 == 1)).collect();
        let bins: Vec<(i64, f64)> = (0..2400)
            .map(|i| {
                let t = i * BIN_MS;
                (t, if (t / 600) % 2 == 1 { 98.0 } else { 100.0 })
            })
            .collect();
        let (mean, se, n) = pace(&bins, &switches).unwrap();
        assert!((mean - 0.98).abs() < 1e-9, "{mean}");
        assert!(se < 1e-9 && n == 19, "{se} {n}");
        assert!(pace(&bins[..100], &switches).is_err());
    }
}
