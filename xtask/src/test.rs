//! `cargo xtask test`: prerequisites, build, unit tests, then the root tests
//! that attach to real Go programs built with each Go version.
use std::process::Command;

use anyhow::bail;

use crate::{build, cmd, prereqs};

pub fn run(go: &[String]) -> anyhow::Result<()> {
    let versions: Vec<&str> = if go.is_empty() {
        prereqs::TEST_GO_VERSIONS.to_vec()
    } else {
        go.iter().map(String::as_str).collect()
    };
    let gos = prereqs::ensure_all(&versions)?;
    prereqs::ensure_tmux()?;
    if unsafe_geteuid() != 0 {
        bail!("the root tests attach uprobes: run `sudo -E cargo xtask test`");
    }
    build::all()?;
    let go_bins = gos
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let envs = [
        ("TRACER_GO_BINS", go_bins),
        ("TRACER_BIN", build::tracer_binary().display().to_string()),
        ("TRACER_BPF_OBJ", build::bpf_object().display().to_string()),
        (
            "GOCACHE",
            prereqs::cache_dir().join("gocache").display().to_string(),
        ),
        ("GOTOOLCHAIN", "local".to_string()),
    ];
    let ws = build::workspace();
    cmd::run(
        Command::new("cargo")
            .current_dir(&ws)
            .args(["test", "--release"])
            .envs(envs.clone()),
    )?;
    cmd::run(
        Command::new("cargo")
            .current_dir(&ws)
            .args([
                "test",
                "--release",
                "-p",
                "tracer-user",
                "--test",
                "attach",
                "--test",
                "tui",
                "--test",
                "inspect",
                "--",
                "--ignored",
                "--test-threads=1",
            ])
            .envs(envs),
    )
}

fn unsafe_geteuid() -> u32 {
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
