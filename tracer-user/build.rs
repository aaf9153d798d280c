//! Embeds the BPF object built by `cargo xtask build` (nightly, bpfel target).
//! Without it the binary still builds (for unit tests and clippy) but
//! `tracer attach` explains how to build it.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("tracer-ebpf.o");
    let obj = env::var("TRACER_BPF_OBJ")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap())
                .join("../target/bpfel-unknown-none/release/tracer-ebpf")
        });
    println!("cargo:rerun-if-env-changed=TRACER_BPF_OBJ");
    println!("cargo:rerun-if-changed={}", obj.display());
    match fs::read(&obj) {
        Ok(bytes) => fs::write(&out, bytes).unwrap(),
        Err(_) => {
            println!(
                "cargo:warning=BPF object {} not found: `tracer attach` will not work; build with `cargo xtask build`",
                obj.display()
            );
            fs::write(&out, b"").unwrap();
        }
    }
}
