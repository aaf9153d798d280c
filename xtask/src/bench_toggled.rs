//! The http section's measure of what on-CPU sampling costs the service:
//! the tracer runs with (next to) no sampling windows and
//! `TRACER_DEBUG_CPU_TOGGLE=1`, which stops and restarts the sampling's
//! perf events every 0.6 s and prints each switch; `loadgen` counts the
//! service's requests per 10 ms meanwhile. Each phase with sampling on is
//! set against the mean of the phases off on either side of it, so the
//! host's drift over seconds cancels.
use std::{path::Path, time::Duration};

use anyhow::bail;

use crate::bench_timelocked::{loadgen_under_tracer, BIN_MS, RUN};

/// Bins this long after a switch are left out (the switch itself).
const SETTLE_MS: i64 = 50;

/// Runs loadgen against `addr` while the tracer toggles its on-CPU
/// sampling, and prints the pace with it on against off.
pub fn run(go: &Path, version: &str, addr: &str, pid: u32) -> anyhow::Result<()> {
    // A budget this small opens no sampling window in the run.
    let args = [
        "--max-overhead",
        "0.01",
        "--format",
        "json",
        "--output",
        "/dev/null",
    ];
    let (bins, log) = loadgen_under_tracer(
        go,
        version,
        (addr, pid),
        (&args, "TRACER_DEBUG_CPU_TOGGLE"),
        Duration::from_secs(1),
    )?;
    print!("{}", summary(&bins, &parse_switches(&log))?);
    Ok(())
}

/// The "<unix ms> cpu on|off" lines: (ms, on).
fn parse_switches(log: &str) -> Vec<(i64, bool)> {
    log.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ms = w.next()?.parse().ok()?;
            (w.next()? == "cpu").then_some(())?;
            match w.next()? {
                "on" => Some((ms, true)),
                "off" => Some((ms, false)),
                _ => None,
            }
        })
        .collect()
}

fn summary(bins: &[(i64, f64)], switches: &[(i64, bool)]) -> anyhow::Result<String> {
    // Mean requests per bin of each whole phase.
    let phases: Vec<(bool, f64)> = switches
        .windows(2)
        .filter_map(|w| {
            let (from, on) = w[0];
            let to = w[1].0;
            let v: Vec<f64> = bins
                .iter()
                .filter(|b| b.0 >= from + SETTLE_MS && b.0 + BIN_MS <= to)
                .map(|b| b.1)
                .collect();
            (v.len() >= 5).then(|| (on, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect();
    let ratios: Vec<f64> = phases
        .windows(3)
        .filter(|p| p[1].0 && !p[0].0 && !p[2].0)
        .map(|p| p[1].1 / ((p[0].1 + p[2].1) / 2.0))
        .collect();
    if ratios.len() < 8 {
        bail!(
            "only {} phases with sampling on between two off ({} switches)",
            ratios.len(),
            switches.len()
        );
    }
    let n = ratios.len() as f64;
    let mean = ratios.iter().sum::<f64>() / n;
    let sd = (ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    Ok(format!(
        "  on-CPU sampling (default 99 Hz), toggled every 0.6 s ({RUN}, loadgen, no sampling windows): \
         the service's pace with it on is {mean:.4}× its pace off (±{:.4}, 1 s.e., {} phases): \
         it costs {:.2} %\n",
        sd / n.sqrt(),
        ratios.len(),
        100.0 * (1.0 - mean)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_from_the_debug_lines() {
        let log = "tracer: attached …\n1000 cpu off\n1600 cpu on\n1700 Open hits=1\n";
        assert_eq!(parse_switches(log), vec![(1000, false), (1600, true)]);
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
        let s = summary(&bins, &switches).unwrap();
        assert!(s.contains("0.9800×"), "{s}");
        assert!(s.contains("costs 2.00 %"), "{s}");
        assert!(summary(&bins[..100], &switches).is_err());
    }
}
