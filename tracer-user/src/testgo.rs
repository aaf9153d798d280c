//! Go toolchains for the unit tests: $TRACER_GO_BINS (colon-separated `go`
//! binaries, set by `cargo xtask test`) or every
//! <cache>/go/<version>/go/bin/go under $TRACER_CACHE, ~/.cache/tracer and
//! /root/.cache/tracer.
use std::path::PathBuf;

pub fn toolchains() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("TRACER_GO_BINS") {
        let v: Vec<PathBuf> = list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        assert!(!v.is_empty(), "TRACER_GO_BINS is set but empty");
        return v;
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(c) = std::env::var_os("TRACER_CACHE") {
        roots.push(PathBuf::from(c).join("go"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(h).join(".cache/tracer/go"));
    }
    roots.push(PathBuf::from("/root/.cache/tracer/go"));
    let mut found: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::read_dir(r).ok())
        .flatten()
        .flatten()
        .map(|e| e.path().join("go/bin/go"))
        .filter(|p| p.is_file())
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    found.sort();
    found.dedup();
    assert!(
        !found.is_empty(),
        "no Go toolchain found: run `cargo xtask test` (installs them under ~/.cache/tracer/go) \
         or set TRACER_GO_BINS=/path/to/go[:/path/to/other/go]"
    );
    found
}
