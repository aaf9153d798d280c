//! `tracer inspect` on every Go version and build flavour, and on broken
//! inputs (truncated, corrupted, not Go): a clear line, never a panic.
mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn inspect(path: &std::path::Path) -> std::process::Output {
    Command::new(tracer_bin())
        .arg("inspect")
        .arg(path)
        .arg("--json")
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs the built tracer and Go; run with `cargo xtask test`"]
fn inspect_every_version_and_flavour() {
    for go in go_bins() {
        for flags in [&[][..], &["-buildmode=pie", "-ldflags=-s -w"][..]] {
            let bin = build_go(&go, "allocs", flags);
            let out = inspect(&bin);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            let version = String::from_utf8_lossy(
                &Command::new(&go)
                    .arg("env")
                    .arg("GOVERSION")
                    .output()
                    .unwrap()
                    .stdout,
            )
            .trim()
            .to_string();
            assert_eq!(r["go_version"], version.as_str());
            assert_eq!(r["stripped"], !flags.is_empty(), "{r}");
            assert_eq!(r["pie"], !flags.is_empty(), "{r}");
            let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
            assert_eq!(
                r["map_impl"],
                if minor <= 23 { "Classic" } else { "Swiss" },
                "{version}"
            );
            assert_eq!(
                r["sync_map_impl"],
                if minor <= 23 { "ReadDirty" } else { "HashTrie" },
                "{version}"
            );
            let points = r["probe_points"].as_array().unwrap();
            let alloc: Vec<_> = points
                .iter()
                .filter(|p| p["purpose"] == "allocation")
                .collect();
            // Past the stack check; entries on the emulated frame push
            // (Go 1.27's mallocgc is probed past its size dispatch instead).
            let note = |p: &&Value| p["note"].as_str().unwrap().to_string();
            assert!(
                alloc.iter().all(|p| p["found"] == true
                    && (note(p).contains("at the prologue's PUSHQ BP (emulated")
                        || note(p).contains("after the prologue"))),
                "{alloc:?}"
            );
            assert!(
                alloc
                    .iter()
                    .filter(|p| p["function"] != "runtime.mallocgc" || minor < 27)
                    .all(|p| note(p).contains("PUSHQ BP")),
                "{alloc:?}"
            );
            // Go 1.27 calls size-specialised allocators directly.
            assert_eq!(alloc.len() > 1, minor >= 27, "{version}: {alloc:?}");
            assert!(r["problems"].as_array().unwrap().is_empty(), "{r}");
        }
    }
}

#[test]
#[ignore = "needs the built tracer and Go; run with `cargo xtask test`"]
fn inspect_broken_inputs_fail_cleanly() {
    let go = go_bins().pop().unwrap();
    let bin = build_go(&go, "allocs", &["-ldflags=-s -w"]);
    let data = std::fs::read(&bin).unwrap();
    let dir = std::env::temp_dir().join("tracer-tests");
    let case = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = inspect(&p);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        (out.status.code(), err.trim_end().to_string())
    };
    let (code, err) = case("truncated.bin", &data[..data.len() / 3]);
    assert_eq!(code, Some(4), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = case("text.bin", b"#!/bin/sh\necho hi\n");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("not a usable Go binary"), "{err}");
    // Corrupt the pclntab header magic: still one line or a degraded report, never a panic.
    let mut bad = data.clone();
    let magic = [0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8];
    let at = bad.windows(8).position(|w| w == magic).unwrap();
    bad[at] = 0x00;
    let (code, err) = case("badmagic.bin", &bad);
    assert!(code == Some(4) || code == Some(0), "{code:?} {err}");
    // Random byte flips all over the file.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for round in 0..20 {
        let mut bad = data.clone();
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % bad.len();
            bad[i] ^= (x >> 32) as u8 | 1;
        }
        let (code, err) = case(&format!("flipped-{round}.bin"), &bad);
        assert!(code.is_some(), "round {round}: killed by a signal: {err}");
        assert!(err.lines().count() <= 1, "round {round}: {err}");
    }
    let out = Command::new(tracer_bin())
        .args(["inspect", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "no such file");
}
