//! `cargo xtask test`: prerequisites, build, unit tests, then the root tests
//! that attach to real Go programs built with each Go version.
//! `cargo xtask stress`: the attach/detach stress test at full length.
use std::process::Command;

use anyhow::bail;

use crate::{build, cmd, prereqs};

/// Root test files, run one test at a time (they attach to real processes).
const ROOT_TESTS: [&str; 12] = [
    "agent",
    "attach",
    "cpu",
    "inuse",
    "tui",
    "inspect",
    "goroutines",
    "madvise",
    "maps",
    "sampled",
    "default_mode",
    "stress",
];

/// The tests cover what is behind cargo features too.
const FEATURES: &str = "otlp";

/// Installs, builds, and returns the environment the root tests read.
fn prepare(go: &[String]) -> anyhow::Result<Vec<(&'static str, String)>> {
    let versions: Vec<&str> = if go.is_empty() {
        prereqs::TEST_GO_VERSIONS.to_vec()
    } else {
        go.iter().map(String::as_str).collect()
    };
    let gos = prereqs::ensure_all(&versions)?;
    prereqs::ensure_tmux()?;
    prereqs::ensure_wrk()?;
    let prometheus = prereqs::ensure_prometheus()?;
    let otlp_py = prereqs::ensure_otlp_py()?;
    if geteuid() != 0 {
        bail!("the root tests attach uprobes: run `sudo -E cargo xtask test`");
    }
    build::with_features(&[FEATURES.to_string()])?;
    let go_bins = gos
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    Ok(vec![
        ("TRACER_GO_BINS", go_bins),
        ("TRACER_BIN", build::tracer_binary().display().to_string()),
        ("TRACER_BPF_OBJ", build::bpf_object().display().to_string()),
        (
            "GOCACHE",
            prereqs::cache_dir().join("gocache").display().to_string(),
        ),
        ("GOTOOLCHAIN", "local".to_string()),
        ("TRACER_PROMETHEUS", prometheus.display().to_string()),
        ("TRACER_OTLP_PY", otlp_py.display().to_string()),
    ])
}

fn root_tests(tests: &[&str], envs: &[(&'static str, String)]) -> anyhow::Result<()> {
    let mut c = Command::new("cargo");
    c.current_dir(build::workspace()).args([
        "test",
        "--release",
        "-p",
        "tracer-user",
        "--features",
        FEATURES,
    ]);
    for t in tests {
        c.args(["--test", t]);
    }
    cmd::run(
        c.args(["--", "--ignored", "--test-threads=1"])
            .envs(envs.iter().cloned()),
    )
}

pub fn run(go: &[String]) -> anyhow::Result<()> {
    let envs = prepare(go)?;
    cmd::run(
        Command::new("cargo")
            .current_dir(build::workspace())
            .args(["test", "--release", "--features"])
            .arg(format!("tracer-user/{FEATURES}"))
            .envs(envs.iter().cloned()),
    )?;
    root_tests(&ROOT_TESTS, &envs)
}

pub fn stress(go: &[String], cycles: u32) -> anyhow::Result<()> {
    let mut envs = prepare(go)?;
    envs.push(("TRACER_STRESS_CYCLES", cycles.to_string()));
    root_tests(&["stress"], &envs)
}

fn geteuid() -> u32 {
    // No libc dependency for one call: /proc/self/status has the effective uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
