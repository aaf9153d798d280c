//! Building the Go fixtures with every toolchain and driving them as child
//! processes. Shared by the goroutine and memory tests.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Go toolchains to test with: $TRACER_GO_BINS (colon-separated `go`
/// binaries) or every ~/.cache/tracer/go/<ver>/go/bin/go.
pub fn toolchains() -> Vec<PathBuf> {
    crate::testgo::toolchains()
}

/// testdata/go/<name> of this repository.
pub fn fixture_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/go")
        .join(name);
    assert!(dir.join("main.go").is_file(), "{} missing", dir.display());
    dir.canonicalize().unwrap_or(dir)
}

/// How a fixture is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Default,
    /// `-ldflags=-s -w`: no .symtab, no DWARF.
    Stripped,
    /// `-buildmode=pie -ldflags=-s -w`: stripped and loaded at a bias.
    PieStripped,
    /// `-buildmode=pie`: loaded at a bias, with `.symtab` (not in `ALL`).
    Pie,
    /// `-ldflags=-w -w`: the unstripped twin of `Stripped`. The build
    /// flags are recorded in the binary (`runtime.modinfo`), so a plain
    /// default build has a string of another length and its data symbols
    /// sit a few bytes off; this one has the same length, hence the same
    /// data layout, and still has `.symtab`.
    Twin,
}

impl Flavour {
    pub const ALL: [Flavour; 4] = [
        Flavour::Default,
        Flavour::Stripped,
        Flavour::PieStripped,
        Flavour::Twin,
    ];

    fn args(self) -> &'static [&'static str] {
        match self {
            Flavour::Default => &[],
            Flavour::Stripped => &["-ldflags=-s -w"],
            Flavour::PieStripped => &["-buildmode=pie", "-ldflags=-s -w"],
            Flavour::Pie => &["-buildmode=pie"],
            Flavour::Twin => &["-ldflags=-w -w"],
        }
    }
}

/// `go version` of a toolchain, e.g. "go1.23.9".
pub fn go_version(go: &Path) -> String {
    let out = go_cmd(go, Path::new("/"))
        .arg("env")
        .arg("GOVERSION")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", go.display()));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn go_cmd(go: &Path, dir: &Path) -> Command {
    let mut c = Command::new(go);
    c.current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .env(
            "GOCACHE",
            std::env::var_os("GOCACHE")
                .unwrap_or_else(|| std::env::temp_dir().join("gocache").into()),
        );
    c
}

/// The per-test-process temp dir the fixtures are built into; the first
/// call removes those of test processes that have ended (~140 MB each).
fn out_dir() -> PathBuf {
    const PREFIX: &str = "tracer-g6-tests-";
    static PRUNED: std::sync::Once = std::sync::Once::new();
    let tmp = std::env::temp_dir();
    PRUNED.call_once(|| {
        let Ok(entries) = std::fs::read_dir(&tmp) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix(PREFIX));
            if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    tmp.join(format!("{PREFIX}{}", std::process::id()))
}

/// Builds testdata/go/`fixture` with `go` into a per-test-process temp dir
/// and returns the executable.
pub fn build(go: &Path, fixture: &str, flavour: Flavour) -> PathBuf {
    let dir = fixture_dir(fixture);
    let out_dir = out_dir();
    std::fs::create_dir_all(&out_dir).expect("create temp dir");
    let out = out_dir.join(format!(
        "{fixture}-{}-{flavour:?}",
        go_version(go).replace('/', "_")
    ));
    let res = go_cmd(go, &dir)
        .arg("build")
        .args(flavour.args())
        .arg("-o")
        .arg(&out)
        .arg(".")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", go.display()));
    assert!(
        res.status.success(),
        "go build {fixture} ({flavour:?}) with {}: {}",
        go.display(),
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// A fixture running as our child: line protocol on stdin/stdout. Killed
/// when dropped.
pub struct GoChild {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl GoChild {
    pub fn spawn(exe: &Path, env: &[(&str, &str)]) -> GoChild {
        let mut child = Command::new(exe)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        GoChild {
            child,
            stdin,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let n = self.stdout.read_line(&mut s).expect("read child stdout");
        assert!(n > 0, "child exited early");
        s.trim_end().to_string()
    }

    pub fn json(&mut self) -> serde_json::Value {
        let l = self.line();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}"))
    }

    pub fn send(&mut self, cmd: &str) {
        let w = self.stdin.as_mut().expect("stdin open");
        writeln!(w, "{cmd}").expect("write child stdin");
        w.flush().expect("flush child stdin");
    }
}

impl Drop for GoChild {
    fn drop(&mut self) {
        // Closing stdin is the fixtures' "exit"; kill in case it hangs.
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
