//! Builds testdata/go/gobin_fixture with every installed Go toolchain in
//! several flavours (once per test process) and collects the ground truth
//! printed by the Go tools themselves: `go version -m` and
//! `go tool objdump`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Lines of testdata/go/gobin_fixture/main.go the tests rely on (checked
/// against the file content in `fixture_dir`).
pub const LINE_NOINLINE_BODY: u32 = 13;
pub const LINE_ADD_SMALL_BODY: u32 = 19;
pub const LINE_SUMTO_CALL: u32 = 26;
pub const LINE_VIA_C_BODY: u32 = 14;

/// Functions whose every instruction is compared with `go tool objdump`:
/// the fixture's own plus two std packages with plenty of inlining.
const OBJDUMP_FUNCS: &str = "^(main|fmt|strconv)\\.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    Default,
    Stripped,
    Pie,
    PieStripped,
    /// ./cgo, external linking.
    Cgo,
    CgoPieStripped,
}

impl Flavour {
    pub const PURE: [Flavour; 4] = [
        Flavour::Default,
        Flavour::Stripped,
        Flavour::Pie,
        Flavour::PieStripped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flavour::Default => "default",
            Flavour::Stripped => "-s -w",
            Flavour::Pie => "pie",
            Flavour::PieStripped => "pie -s -w",
            Flavour::Cgo => "cgo",
            Flavour::CgoPieStripped => "cgo pie -s -w",
        }
    }

    fn build_args(self) -> &'static [&'static str] {
        match self {
            Flavour::Default | Flavour::Cgo => &[],
            Flavour::Stripped => &["-ldflags=-s -w"],
            Flavour::Pie => &["-buildmode=pie"],
            Flavour::PieStripped | Flavour::CgoPieStripped => &["-buildmode=pie", "-ldflags=-s -w"],
        }
    }

    fn package(self) -> &'static str {
        if self.is_cgo() {
            "./cgo"
        } else {
            "."
        }
    }

    pub fn is_cgo(self) -> bool {
        matches!(self, Flavour::Cgo | Flavour::CgoPieStripped)
    }

    pub fn is_pie(self) -> bool {
        matches!(
            self,
            Flavour::Pie | Flavour::PieStripped | Flavour::CgoPieStripped
        )
    }

    pub fn is_stripped(self) -> bool {
        matches!(
            self,
            Flavour::Stripped | Flavour::PieStripped | Flavour::CgoPieStripped
        )
    }

    /// The build of the same code and link mode with symbols, whose
    /// addresses are identical (`-s -w` only drops .symtab and DWARF).
    pub fn unstripped(self) -> Option<Flavour> {
        match self {
            Flavour::Stripped => Some(Flavour::Default),
            Flavour::PieStripped => Some(Flavour::Pie),
            // The cgo PIE is linked differently from the cgo exe, so there is
            // no same-address counterpart.
            Flavour::CgoPieStripped => None,
            other => Some(other),
        }
    }
}

pub struct Toolchain {
    pub go: PathBuf,
    /// `go env GOVERSION`, e.g. "go1.23.9".
    pub version: String,
    pub cgo_available: bool,
}

/// One instruction as printed by `go tool objdump`.
#[derive(Clone, Debug)]
pub struct Insn {
    /// Base name, as objdump prints it.
    pub file: String,
    pub line: u32,
    pub addr: u64,
    pub bytes: Vec<u8>,
    pub asm: String,
}

/// `go tool objdump` output: TEXT symbol name → its instructions.
pub type Disasm = HashMap<String, Vec<Insn>>;

/// What `go version -m` prints.
#[derive(Clone, Debug, Default)]
pub struct VersionM {
    pub go_version: String,
    pub path: String,
    pub module: String,
    /// "build" lines, still quoted as printed.
    pub settings: Vec<String>,
}

/// What the fixture prints when run as `fixture frames`: the stack of
/// `callersHere` (two inlined levels) from `runtime.Callers`, and the
/// runtime's own symbolization of it (`runtime.CallersFrames`).
#[derive(Clone, Debug, Default)]
pub struct RuntimeStack {
    /// Run-time entry of main.callersHere (differs from the link-time one
    /// by the load bias for PIE).
    pub entry: u64,
    /// Return addresses, with the runtime's extra pcs for inlined frames.
    pub pcs: Vec<u64>,
    /// (function, file, line) per logical frame.
    pub frames: Vec<(String, String, u32)>,
}

pub struct Build {
    pub toolchain: usize,
    pub flavour: Flavour,
    pub bytes: Vec<u8>,
    pub version_m: VersionM,
    /// Only for unstripped builds (objdump needs .symtab).
    pub disasm: Option<Disasm>,
    /// Not for the cgo program.
    pub runtime_stack: Option<RuntimeStack>,
}

pub struct Fixtures {
    pub toolchains: Vec<Toolchain>,
    pub builds: Vec<Build>,
}

impl Fixtures {
    pub fn get(&self, toolchain: usize, flavour: Flavour) -> Option<&Build> {
        self.builds
            .iter()
            .find(|b| b.toolchain == toolchain && b.flavour == flavour)
    }

    pub fn label(&self, b: &Build) -> String {
        format!(
            "{} [{}]",
            self.toolchains[b.toolchain].version,
            b.flavour.name()
        )
    }

    /// The objdump of `b` or of its unstripped twin.
    pub fn disasm_for(&self, b: &Build) -> Option<&Disasm> {
        let twin = self.get(b.toolchain, b.flavour.unstripped()?)?;
        twin.disasm.as_ref()
    }
}

/// Builds everything once per test process (the tests share it).
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build_all)
}

fn go_cmd(tc_go: &Path, dir: &Path) -> Command {
    let mut c = Command::new(tc_go);
    c.current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env(
            "GOCACHE",
            std::env::var_os("GOCACHE")
                .unwrap_or_else(|| std::env::temp_dir().join("gocache").into()),
        );
    c
}

fn run(mut c: Command) -> String {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Go toolchains to test with: $TRACER_GO_BINS (colon-separated `go`
/// binaries) or every ~/.cache/tracer/go/<ver>/go/bin/go.
pub fn toolchain_paths() -> Vec<PathBuf> {
    crate::testgo::toolchains()
}

/// testdata/go/gobin_fixture, found relative to the crate or this file.
pub fn fixture_dir() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("TRACER_GOBIN_FIXTURE") {
        candidates.push(PathBuf::from(d));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    candidates.push(manifest.join("../testdata/go/gobin_fixture"));
    // file!() is tracer-user/src/gobin/tests/harness.rs relative to the
    // workspace, or absolute when compiled through a #[path] include.
    let this = Path::new(file!());
    for base in [Path::new("/"), manifest.as_path(), &manifest.join("..")] {
        if let Some(tests) = base.join(this).parent() {
            candidates.push(tests.join("../../../../testdata/go/gobin_fixture"));
        }
    }
    let dir = candidates
        .into_iter()
        .find(|d| d.join("main.go").is_file())
        .expect("testdata/go/gobin_fixture not found (set TRACER_GOBIN_FIXTURE)");
    let dir = dir.canonicalize().unwrap_or(dir);
    // The tests hard-code line numbers: make sure the file still matches.
    let src = std::fs::read_to_string(dir.join("main.go")).expect("read fixture main.go");
    let line = |n: u32| {
        src.lines()
            .nth(n as usize - 1)
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line(LINE_NOINLINE_BODY).contains("return x*3 + 1"),
        "fixture main.go line numbers changed"
    );
    assert!(
        line(LINE_ADD_SMALL_BODY).contains("return a + b*2"),
        "fixture main.go line numbers changed"
    );
    assert!(
        line(LINE_SUMTO_CALL).contains("addSmall(s, i)"),
        "fixture main.go line numbers changed"
    );
    dir
}

fn build_all() -> Fixtures {
    let fixture_dir = fixture_dir();
    let out_dir = std::env::temp_dir().join(format!("gobin-tests-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("create temp dir");

    let mut toolchains: Vec<Toolchain> = toolchain_paths()
        .into_iter()
        .map(|go| {
            let env = run({
                let mut c = go_cmd(&go, &fixture_dir);
                c.args(["env", "GOVERSION", "CGO_ENABLED", "CC"]);
                c
            });
            let mut lines = env.lines();
            let version = lines.next().unwrap_or_default().trim().to_string();
            let cgo_enabled = lines.next().unwrap_or_default().trim() == "1";
            let cc = lines.next().unwrap_or_default().trim().to_string();
            let cc_found = !cc.is_empty() && Command::new(&cc).arg("--version").output().is_ok();
            Toolchain {
                go,
                version,
                cgo_available: cgo_enabled && cc_found,
            }
        })
        .collect();
    toolchains.sort_by_key(|t| version_key(&t.version));

    // cgo builds are slow (external linker): only the oldest and newest
    // toolchain build them.
    let mut jobs: Vec<(usize, Flavour)> = Vec::new();
    for (i, tc) in toolchains.iter().enumerate() {
        for f in Flavour::PURE {
            jobs.push((i, f));
        }
        if tc.cgo_available && (i == 0 || i + 1 == toolchains.len()) {
            jobs.push((i, Flavour::Cgo));
            jobs.push((i, Flavour::CgoPieStripped));
        }
    }

    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    // Two workers: the machine has few cores shared with other builds.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(&(tc, flavour)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let b = build_one(&toolchains[tc], tc, flavour, &fixture_dir, &out_dir);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push(b);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut builds = results.into_inner().unwrap_or_else(|p| p.into_inner());
    builds.sort_by_key(|b| (b.toolchain, b.flavour as u8));
    Fixtures { toolchains, builds }
}

/// "go1.23.9" → [1, 23, 9] for ordering.
fn version_key(v: &str) -> Vec<u32> {
    v.trim_start_matches("go")
        .split(|c: char| !c.is_ascii_digit())
        .map_while(|n| n.parse().ok())
        .collect()
}

fn build_one(tc: &Toolchain, idx: usize, flavour: Flavour, dir: &Path, out_dir: &Path) -> Build {
    let out = out_dir.join(format!(
        "{}-{}",
        tc.version,
        flavour.name().replace([' ', '-'], "")
    ));
    let mut c = go_cmd(&tc.go, dir);
    c.args(["build", "-buildvcs=false", "-o"])
        .arg(&out)
        .args(flavour.build_args())
        .arg(flavour.package());
    if flavour.is_cgo() {
        c.env("CGO_ENABLED", "1");
    }
    run(c);
    let version_m = parse_version_m(&run({
        let mut c = go_cmd(&tc.go, dir);
        c.args(["version", "-m"]).arg(&out);
        c
    }));
    let disasm = (!flavour.is_stripped()).then(|| {
        parse_objdump(&run({
            let mut c = go_cmd(&tc.go, dir);
            c.args(["tool", "objdump", "-s", OBJDUMP_FUNCS]).arg(&out);
            c
        }))
    });
    let runtime_stack = (!flavour.is_cgo()).then(|| {
        parse_runtime_stack(&run({
            let mut c = Command::new(&out);
            c.arg("frames");
            c
        }))
    });
    let bytes = std::fs::read(&out).expect("read built binary");
    Build {
        toolchain: idx,
        flavour,
        bytes,
        version_m,
        disasm,
        runtime_stack,
    }
}

fn parse_runtime_stack(out: &str) -> RuntimeStack {
    let hex = |s: &str| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).expect("hex");
    let mut st = RuntimeStack::default();
    for line in out.lines() {
        if let Some(v) = line.strip_prefix("entry ") {
            st.entry = hex(v);
        } else if let Some(v) = line.strip_prefix("pc ") {
            st.pcs.push(hex(v));
        } else if let Some(v) = line.strip_prefix("frame ") {
            let cols: Vec<&str> = v.split('\t').collect();
            assert_eq!(cols.len(), 3, "bad frame line {line:?}");
            st.frames.push((
                cols[0].to_string(),
                cols[1].to_string(),
                cols[2].parse().expect("line"),
            ));
        }
    }
    assert!(
        st.entry != 0 && !st.pcs.is_empty() && !st.frames.is_empty(),
        "bad `frames` output: {out}"
    );
    st
}

fn parse_version_m(out: &str) -> VersionM {
    let mut v = VersionM::default();
    for (i, line) in out.lines().enumerate() {
        if i == 0 {
            // "<path>: go1.23.9"
            v.go_version = line
                .rsplit(": ")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            continue;
        }
        let cols: Vec<&str> = line.trim_start_matches('\t').splitn(2, '\t').collect();
        match (cols.first().copied(), cols.get(1)) {
            (Some("path"), Some(p)) => v.path = p.to_string(),
            (Some("mod"), Some(rest)) => {
                v.module = rest.split('\t').next().unwrap_or_default().to_string()
            }
            (Some("build"), Some(kv)) => v.settings.push(kv.to_string()),
            _ => {}
        }
    }
    v
}

/// Parses lines like
/// `  main.go:13\t\t0x499de0\t\t488d0440\t\tLEAQ 0(AX)(AX*2), AX\t`
/// under `TEXT main.noInlineLeaf(SB) /path/main.go` headers.
pub fn parse_objdump(out: &str) -> Disasm {
    let mut d: Disasm = HashMap::new();
    let mut current: Option<String> = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("TEXT ") {
            let sym = rest.split_whitespace().next().unwrap_or_default();
            current = Some(sym.trim_end_matches("(SB)").to_string());
            continue;
        }
        let Some(func) = &current else { continue };
        let cols: Vec<&str> = line
            .split('\t')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if cols.len() < 3 {
            continue;
        }
        let Some((file, lineno)) = cols[0].rsplit_once(':') else {
            continue;
        };
        let (Ok(line), Ok(addr)) = (
            lineno.parse(),
            u64::from_str_radix(cols[1].trim_start_matches("0x"), 16),
        ) else {
            continue;
        };
        let bytes = (0..cols[2].len() / 2)
            .filter_map(|i| u8::from_str_radix(cols[2].get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        d.entry(func.clone()).or_default().push(Insn {
            file: file.to_string(),
            line,
            addr,
            bytes,
            asm: cols.get(3).copied().unwrap_or_default().to_string(),
        });
    }
    d
}

/// Removes the section header table reference from the ELF header, as
/// sstrip-like tools do: the loader only needs program headers.
pub fn drop_section_headers(mut bytes: Vec<u8>) -> Vec<u8> {
    for r in [0x28..0x30, 0x3c..0x40] {
        if let Some(b) = bytes.get_mut(r) {
            b.fill(0);
        }
    }
    bytes
}
