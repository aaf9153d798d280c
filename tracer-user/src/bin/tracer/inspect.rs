//! `tracer inspect`: what the tracer sees in a Go binary and what will or
//! will not work on it. The first thing to run when something looks wrong.
use std::path::PathBuf;

use serde::Serialize;

use tracer::{
    error::UserError,
    probes,
    session::open_binary,
    tracee::gobin::GoBinary,
    tracee::golayout::{self, MapImpl, SyncMapImpl},
    tracee::Target,
};

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A Go executable.
    #[arg(required_unless_present = "pid", conflicts_with = "pid")]
    pub binary: Option<PathBuf>,
    /// Inspect the executable of this running process instead.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub path: String,
    pub go_version: String,
    pub main_module: String,
    pub stripped: bool,
    pub pie: bool,
    pub cgo: bool,
    pub build_settings: Vec<(String, String)>,
    pub functions: usize,
    pub map_impl: Option<MapImpl>,
    pub sync_map_impl: Option<SyncMapImpl>,
    pub probe_points: Vec<ProbePointInfo>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProbePointInfo {
    pub purpose: &'static str,
    pub function: String,
    pub address: String,
    pub found: bool,
    pub note: String,
}

/// Runtime functions later features hook, by purpose: (purpose, names, required).
const HOOKS: &[(&str, &[&str])] = &[
    ("map create", &["runtime.makemap", "runtime.makemap_small"]),
    (
        "map assign",
        &[
            "runtime.mapassign",
            "runtime.mapassign_fast64",
            "runtime.mapassign_faststr",
        ],
    ),
    (
        "map delete",
        &[
            "runtime.mapdelete",
            "runtime.mapdelete_fast64",
            "runtime.mapdelete_faststr",
        ],
    ),
    ("goroutine create", &["runtime.newproc1"]),
    ("goroutine exit", &["runtime.goexit1", "runtime.goexit0"]),
    ("madvise", &["runtime.madvise.abi0", "runtime.madvise"]),
];

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let (path, bin) = match (&args.binary, args.pid) {
        (_, Some(pid)) => {
            let target = Target::open(pid)?;
            (target.exe.clone(), open_binary(&target)?)
        }
        (Some(path), None) => (path.display().to_string(), open_path(path)?),
        (None, None) => return Err(UserError::Usage("give a binary or --pid".into()).into()),
    };
    let report = inspect(&path, &bin);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn open_path(path: &std::path::Path) -> Result<GoBinary, UserError> {
    if !path.exists() {
        return Err(UserError::Usage(format!(
            "{}: no such file",
            path.display()
        )));
    }
    GoBinary::open(path).map_err(|e| UserError::NotGoFile {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

pub fn inspect(path: &str, bin: &GoBinary) -> Inspection {
    let info = bin.build_info();
    let mut problems = Vec::new();
    let minor = match probes::go_minor(bin) {
        Ok(m) => Some(m),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let layout = minor.and_then(|m| golayout::layout_for(1, m));
    let mut probe_points = Vec::new();
    match probes::alloc_plan(bin) {
        Ok(plan) => {
            for p in &plan.points {
                probe_points.push(ProbePointInfo {
                    purpose: "allocation",
                    function: p.func.name.clone(),
                    address: format!("{:#x}", p.addr),
                    found: true,
                    note: format!(
                        "sizes >= {}, {} ({})",
                        p.min_size,
                        match (p.once, p.after_prologue) {
                            (true, false) => "at the prologue's PUSHQ BP",
                            (true, true) => "after the prologue",
                            (false, _) => "at entry (prologue not recognised)",
                        },
                        if bin
                            .text_bytes(p.addr, 15)
                            .is_some_and(tracer::tracee::disasm::emulated)
                        {
                            "emulated by the kernel"
                        } else {
                            "single-stepped by the kernel"
                        }
                    ),
                });
            }
        }
        Err(e) => problems.push(format!("allocations cannot be traced: {e}")),
    }
    for (purpose, names) in HOOKS {
        let found: Vec<_> = names.iter().filter_map(|n| bin.function(n)).collect();
        if found.is_empty() {
            probe_points.push(ProbePointInfo {
                purpose,
                function: names.join(" | "),
                address: String::new(),
                found: false,
                note: "not in this binary (unused by the program, or renamed)".into(),
            });
        }
        for f in found {
            probe_points.push(ProbePointInfo {
                purpose,
                function: f.name.clone(),
                address: format!("{:#x}", f.entry),
                found: true,
                note: String::new(),
            });
        }
    }
    if bin.has_cgo() {
        problems.push("cgo: stacks that pass through C code end at the C frame".into());
    }
    Inspection {
        path: path.to_string(),
        go_version: info.go_version.clone(),
        main_module: info.main_module.clone(),
        stripped: bin.is_stripped(),
        pie: bin.is_pie(),
        cgo: bin.has_cgo(),
        build_settings: info.settings.clone(),
        functions: bin.functions().count(),
        map_impl: layout.map(|l| golayout::map_impl(l, bin)),
        sync_map_impl: layout.map(|l| golayout::sync_map_impl(l, bin)),
        probe_points,
        problems,
    }
}

pub fn render(r: &Inspection) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(s, "binary:        {}", r.path);
    let _ = writeln!(s, "go version:    {}", r.go_version);
    let _ = writeln!(s, "main module:   {}", r.main_module);
    let _ = writeln!(
        s,
        "stripped:      {}   PIE: {}   cgo: {}",
        yes(r.stripped),
        yes(r.pie),
        yes(r.cgo)
    );
    let _ = writeln!(s, "functions:     {} (from .gopclntab)", r.functions);
    let _ = writeln!(
        s,
        "maps:          {}",
        match r.map_impl {
            Some(MapImpl::Classic) => "classic buckets (runtime.hmap)",
            Some(MapImpl::Swiss) => "swiss tables (internal/runtime/maps)",
            None => "unknown",
        }
    );
    let _ = writeln!(
        s,
        "sync.Map:      {}",
        match r.sync_map_impl {
            Some(SyncMapImpl::ReadDirty) => "read-only + dirty maps",
            Some(SyncMapImpl::HashTrie) => "HashTrieMap",
            None => "unknown",
        }
    );
    for (k, v) in r.build_settings.iter().filter(|(k, _)| {
        matches!(
            k.as_str(),
            "GOEXPERIMENT" | "CGO_ENABLED" | "-ldflags" | "-buildmode"
        )
    }) {
        let _ = writeln!(s, "build:         {k}={v}");
    }
    let _ = writeln!(s, "probe points:");
    for p in &r.probe_points {
        let _ = writeln!(
            s,
            "  {:<17} {:<3} {:<45} {:>10}  {}",
            p.purpose,
            if p.found { "ok" } else { "--" },
            p.function,
            p.address,
            p.note
        );
    }
    if r.problems.is_empty() {
        let _ = writeln!(s, "problems:      none");
    } else {
        for p in &r.problems {
            let _ = writeln!(s, "problem:       {p}");
        }
    }
    s
}
