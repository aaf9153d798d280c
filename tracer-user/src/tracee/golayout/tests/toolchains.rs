//! Finding Go toolchains and building the layout fixture with each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct Toolchain {
    pub go: PathBuf,
    /// `go env GOVERSION`, e.g. "go1.24.11".
    pub version: String,
    pub minor: u32,
    /// `$GOROOT/src`: the runtime sources the constants are checked against.
    pub src: PathBuf,
}

/// The toolchains listed in `TRACER_GO_BINS` (set by `cargo xtask test`) plus
/// every one installed under `$TRACER_CACHE/go` (default `~/.cache/tracer/go`),
/// one per Go version. Both, because xtask lists only the versions its root
/// tests attach to, and each installed version is one more table checked.
pub fn find() -> Result<Vec<Toolchain>, String> {
    let mut bins: Vec<PathBuf> = std::env::var("TRACER_GO_BINS")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    let cache = std::env::var_os("TRACER_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tracer")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache/tracer"));
    if let Ok(dir) = std::fs::read_dir(cache.join("go")) {
        let mut found: Vec<PathBuf> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("go/bin/go"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        bins.extend(found);
    }
    let mut out: Vec<Toolchain> = Vec::new();
    for go in bins {
        let tc = describe(&go)?;
        if !out.iter().any(|t| t.version == tc.version) {
            out.push(tc);
        }
    }
    out.sort_by_key(|t| t.minor);
    Ok(out)
}

fn describe(go: &Path) -> Result<Toolchain, String> {
    let out = Command::new(go)
        .args(["env", "GOVERSION", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|e| format!("run {}: {e}", go.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} env failed: {}",
            go.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    let goroot = lines.next().unwrap_or_default().trim().to_string();
    let minor = version
        .strip_prefix("go1.")
        .and_then(|r| r.split(['.', '-', 'r']).next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("{}: unexpected GOVERSION {version:?}", go.display()))?;
    Ok(Toolchain {
        go: go.to_path_buf(),
        version,
        minor,
        src: PathBuf::from(goroot).join("src"),
    })
}

/// Part of the cache directory name: change it when the build command below
/// changes, so binaries built the old way are not reused.
const BUILD_KEY: &str = "nocompressdwarf";

/// Builds `fixture` with `tc` into `out_dir/<version>-<BUILD_KEY>/layout_fixture`
/// (reused while newer than the fixture sources and the toolchain).
pub fn build_fixture(tc: &Toolchain, fixture: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let dir = out_dir.join(format!("{}-{BUILD_KEY}", tc.version));
    let bin = dir.join("layout_fixture");
    let inputs = [
        fixture.join("main.go"),
        fixture.join("go.mod"),
        tc.go.clone(),
    ];
    if is_newer_than(&bin, &inputs) {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    // Built under a temporary name and renamed, so a concurrent test run
    // never reads a half-written binary.
    let tmp = dir.join(format!("layout_fixture.tmp{}", std::process::id()));
    let gocache = std::env::var_os("GOCACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gocache-layout"));
    let out = Command::new(&tc.go)
        .current_dir(fixture)
        // Uncompressed DWARF: reading zlib sections would need another crate.
        .args(["build", "-ldflags=-compressdwarf=false", "-o"])
        .arg(&tmp)
        .arg(".")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", gocache)
        .env("GOOS", "linux")
        .env("GOARCH", "amd64")
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        // The tables describe the default build: no experiments, no -race.
        .env_remove("GOEXPERIMENT")
        .env_remove("GOFLAGS")
        .output()
        .map_err(|e| format!("run {}: {e}", tc.go.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} build of {} failed:\n{}",
            tc.version,
            fixture.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&tmp, &bin).map_err(|e| format!("rename to {}: {e}", bin.display()))?;
    Ok(bin)
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn is_newer_than(target: &Path, inputs: &[PathBuf]) -> bool {
    let Some(t) = mtime(target) else {
        return false;
    };
    inputs.iter().all(|i| mtime(i).is_some_and(|m| m <= t))
}
