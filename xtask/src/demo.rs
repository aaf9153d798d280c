//! `cargo xtask demo`: trace the bundled demo workload for a while.
use std::{
    process::{Command, Stdio},
    thread::sleep,
    time::Duration,
};

use anyhow::Context;

use crate::{build, cmd, prereqs};

pub fn run_demo_workload(go: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let out = prereqs::cache_dir().join("demo-workload");
    cmd::run(
        Command::new(go)
            .current_dir(build::workspace().join("testdata/go/demo"))
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", prereqs::cache_dir().join("gocache")),
    )?;
    Ok(out)
}

pub fn run(duration: &str) -> anyhow::Result<()> {
    let go = prereqs::ensure_all(&[prereqs::DEMO_GO_VERSION])?.remove(0);
    build::all()?;
    let demo = run_demo_workload(&go)?;
    let mut child = Command::new(&demo)
        .stdout(Stdio::null())
        .spawn()
        .context("starting the demo workload")?;
    sleep(Duration::from_millis(300));
    eprintln!(
        "xtask: demo workload (Go {}) running as pid {}",
        prereqs::DEMO_GO_VERSION,
        child.id()
    );
    let result = trace(child.id(), duration);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn trace(pid: u32, duration: &str) -> anyhow::Result<()> {
    cmd::run(Command::new(build::tracer_binary()).args([
        "attach",
        "--pid",
        &pid.to_string(),
        "--duration",
        duration,
        "--top",
        "12",
    ]))
}
