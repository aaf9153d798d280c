//! Builds the BPF object with the pinned nightly, then the tracer with the
//! stable toolchain, embedding the object.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    cmd::run,
    prereqs::{self, NIGHTLY},
};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn bpf_object() -> PathBuf {
    workspace().join("target/bpfel-unknown-none/release/tracer-ebpf")
}

pub fn tracer_binary() -> PathBuf {
    workspace().join("target/release/tracer")
}

/// PATH with `dir` first (bpf-linker is looked up on PATH).
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap_or_default()
}

pub fn bpf() -> anyhow::Result<()> {
    run(Command::new("cargo")
        .current_dir(workspace().join("tracer-ebpf"))
        .arg(format!("+{NIGHTLY}"))
        .args([
            "build",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--release",
        ])
        .env("PATH", path_with(&prereqs::cargo_bin_dir()))
        // Make sure the stable toolchain's settings do not leak into the nightly build.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO"))
}

pub fn all() -> anyhow::Result<()> {
    with_features(&[])
}

/// [`all`] with cargo features of `tracer-user` (`otlp`).
pub fn with_features(features: &[String]) -> anyhow::Result<()> {
    bpf()?;
    let mut c = Command::new("cargo");
    c.current_dir(workspace())
        .args(["build", "--release", "-p", "tracer-user"]);
    if !features.is_empty() {
        c.args(["--features", &features.join(",")]);
    }
    run(c.env("TRACER_BPF_OBJ", bpf_object()))
}
