//! Command line.
use std::{path::PathBuf, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};

pub use crate::weight::Weight;

#[derive(Parser, Debug)]
#[command(
    name = "tracer",
    version,
    about = "Live allocation, map and goroutine tracing for running Go programs (eBPF uprobes)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attach to a running Go process and report what it allocates.
    Attach(AttachArgs),
    /// Show what the tracer finds in a Go binary and what will not work.
    Inspect(crate::inspect::InspectArgs),
    /// Check the kernel, privileges, uprobes and BPF on this machine.
    Doctor,
    /// Count-only probes on the allocation points (the benchmark's reference).
    #[command(hide = true)]
    BareProbe(crate::bare::BareArgs),
    /// Aggregator throughput and ring-buffer losses at a given rate (the benchmark's).
    #[command(hide = true)]
    BenchAggregator(crate::bench_agg::BenchAggArgs),
    /// Compare two `--format json` reports: which allocation sites grew (like `pprof -base`).
    Diff(crate::diff::DiffArgs),
    /// Watch every Go process on this host (no probes) and serve their
    /// heap, GC and goroutine figures to Prometheus at /metrics.
    Agent(crate::agent::AgentArgs),
}

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Process to trace.
    #[arg(long)]
    pub pid: u32,
    /// Stop after this long (e.g. 10s, 2m); without it, run until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Also report every interval (e.g. 1s); the whole-run report is always written at exit.
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// sampled: span refills are sampled in short windows, scaled to the
    /// runtime's own counters, within --max-overhead. exact: every
    /// allocation and map operation is counted (each costs the target
    /// uprobe hits: ~2 µs an allocation, ~12 µs a map operation here).
    #[arg(long, value_enum, default_value_t = Mode::Sampled)]
    pub mode: Mode,
    /// Sampled mode: keep the target's estimated slowdown under this percentage.
    #[arg(long, default_value_t = 3.0, value_name = "PCT")]
    pub max_overhead: f64,
    /// Output: the live TUI (default when stdout is a terminal), a text report, or JSON Lines.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write reports to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Time calls of this Go function (entry to every RET, per goroutine); repeatable.
    /// Full name as in a stack trace, e.g. main.handle or net/http.(*conn).serve.
    #[arg(long = "time", value_name = "FUNC")]
    pub time: Vec<String>,
    /// Do not trace maps and sync.Maps (each map operation costs two probe hits).
    #[arg(long)]
    pub no_maps: bool,
    /// Allocation sites shown in the text report.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// On-CPU samples per second on each CPU (a timer interrupt each, no
    /// probe); 0 switches on-CPU sampling off.
    #[arg(long, default_value_t = tracer::probes::oncpu::DEFAULT_CPU_HZ, value_name = "HZ")]
    pub cpu_hz: u64,
    /// Also write a flame graph (SVG) of the allocation stacks at exit.
    #[arg(long, value_name = "FILE.svg")]
    pub flamegraph: Option<PathBuf>,
    /// Also write folded stacks (`root;…;leaf WEIGHT`, for inferno, flamegraph.pl, speedscope).
    #[arg(long, value_name = "FILE")]
    pub folded: Option<PathBuf>,
    /// Also write a gzipped pprof profile (alloc_objects, alloc_space; samples, cpu with on-CPU sampling) for `go tool pprof`.
    #[arg(long, value_name = "FILE.pb.gz")]
    pub pprof: Option<PathBuf>,
    /// What folded stacks and flame graphs are weighed by.
    #[arg(long, value_enum, default_value_t = Weight::Bytes)]
    pub weight: Weight,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Exact,
    Sampled,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Tui,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = match s.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("'{s}' is not a duration (seconds, at least 0, in range)"))?,
        Err(_) => humantime::parse_duration(s)
            .map_err(|e| format!("'{s}': {e} (use e.g. 10s, 500ms, 2m)"))?,
    };
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
        for bad in ["1e30", "inf", "NaN", "-0.5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
