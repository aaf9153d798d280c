//! Tests of the gobin module. Most of them build
//! testdata/go/gobin_fixture with every installed Go toolchain (see
//! `harness`) and compare with what the Go tools print.
//!
//! Run with `--nocapture` to see a per-toolchain, per-flavour summary.

mod go_builds;
mod harness;
mod large;
mod robustness;

use super::{GoBinError, GoBinary};

#[test]
fn rejects_non_go_inputs() {
    assert!(matches!(
        GoBinary::parse(Vec::new()),
        Err(GoBinError::NotElf)
    ));
    assert!(matches!(
        GoBinary::parse(b"#!/bin/sh\n".to_vec()),
        Err(GoBinError::NotElf)
    ));
    // This test binary is a Rust ELF that even contains the build info magic
    // (as a constant of the buildinfo module).
    let exe = std::env::current_exe().expect("current_exe");
    match GoBinary::open(&exe) {
        Err(GoBinError::NotGo(why)) => eprintln!("{}: not Go ({why})", exe.display()),
        other => panic!("{}: expected NotGo, got {other:?}", exe.display()),
    }
    for path in ["/bin/ls", "/usr/bin/env"] {
        let p = std::path::Path::new(path);
        if p.is_file() {
            assert!(
                matches!(GoBinary::open(p), Err(GoBinError::NotGo(_))),
                "{path}"
            );
        }
    }
    let missing = GoBinary::open(std::path::Path::new("/nonexistent/gobin"));
    assert!(matches!(missing, Err(GoBinError::Io(..))));
    // Messages are single lines.
    if let Err(e) = missing {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

#[test]
fn go_binary_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<GoBinary>();
}
