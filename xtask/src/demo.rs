//! `cargo xtask demo`: trace the bundled demo workload for a while.
use std::{
    process::{Command, Stdio},
    thread::sleep,
    time::Duration,
};

use anyhow::Context;

use crate::{build, cmd, prereqs};

/// Builds `testdata/go/<name>` with `go` (and `flags`) into the cache as
/// `out_name`.
pub fn build_go_program(
    go: &std::path::Path,
    name: &str,
    out_name: &str,
    flags: &[&str],
) -> anyhow::Result<std::path::PathBuf> {
    let out = prereqs::cache_dir().join(out_name);
    cmd::run(
        Command::new(go)
            .current_dir(build::workspace().join("testdata/go").join(name))
            .arg("build")
            .args(flags)
            .arg("-o")
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
    let demo = build_go_program(&go, "demo", "demo-workload", &[])?;
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
    // The default mode first (what a production process can afford), then
    // a short exact run: every allocation and map operation counted.
    for (mode, how_long) in [("sampled", duration), ("exact", "5s")] {
        eprintln!("xtask: tracing pid {pid} in {mode} mode for {how_long}");
        cmd::run(Command::new(build::tracer_binary()).args([
            "attach",
            "--mode",
            mode,
            "--pid",
            &pid.to_string(),
            "--duration",
            how_long,
            "--top",
            "12",
        ]))?;
    }
    Ok(())
}
