//! In-use heap by allocation site against a program that keeps known
//! objects at known sites and reports its own heap profile
//! (`testdata/go/inuse`): the tracer's figures, read from the runtime's
//! profile in the process's memory, must equal what the process itself
//! computes from `runtime.MemProfile` as `/debug/pprof/heap` does.
mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const SITES: [&str; 4] = [
    "main.keepBig",
    "main.keepSmall",
    "main.keepTemp",
    "main.churn",
];

fn inuse_site<'a>(r: &'a Value, function: &str) -> Option<&'a Value> {
    r["inuse"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"]["function"] == function)
}

fn own(truth: &Value, function: &str, field: &str) -> u64 {
    truth["profile"][function][field].as_u64().unwrap_or(0)
}

/// `go tool pprof -sample_index=inuse_space -top` reads the export and
/// lists the biggest holder.
fn assert_pprof_inuse(go: &Path, pprof: &Path, what: &str) {
    let out = std::process::Command::new(go)
        .args(["tool", "pprof", "-sample_index=inuse_space", "-top"])
        .arg(pprof)
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go tool pprof");
    let top = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && top.contains("main.keepBig"),
        "{what}: go tool pprof: {top} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check(go: &Path, flags: &[&str]) {
    let bin = build_go(go, "inuse", flags);
    let dir = std::env::temp_dir().join(format!(
        "tracer-inuse-{}-{}",
        std::process::id(),
        flags.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (pprof, folded) = (dir.join("heap.pb.gz"), dir.join("heap.folded"));
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(
        prog.pid,
        &[
            "--mode",
            "sampled",
            "--format",
            "json",
            "--weight",
            "inuse",
            "--pprof",
            pprof.to_str().unwrap(),
            "--folded",
            folded.to_str().unwrap(),
        ],
    );
    prog.command("keep big 40000");
    prog.command("keep small 200000");
    prog.command("keep temp 20000");
    prog.command("churn 300000");
    // 2,000 more 1 KiB objects every 100 ms, a GC after each: held memory
    // that grows across GC cycles.
    prog.command("grow 4");
    prog.command("release temp");
    prog.command("gc");
    let truth = prog.command("report");
    let reports = tracer.stop();
    prog.finish();
    let r = reports.last().unwrap();
    let what = format!("{} {flags:?}", r["target"]["go_version"]);
    assert_eq!(r["window"]["inuse_source"], "runtime_profile", "{what}");
    let inuse = &r["inuse"];
    assert_eq!(
        inuse["profile_rate"], truth["profile_rate"],
        "{what}: {inuse}"
    );
    let total = inuse["bytes"].as_u64().unwrap();
    for f in SITES {
        let site = inuse_site(r, f);
        let (objects, bytes) = site.map_or((0, 0), |s| {
            (
                s["inuse_objects"].as_u64().unwrap(),
                s["inuse_bytes"].as_u64().unwrap(),
            )
        });
        let (own_objects, own_bytes) = (
            own(&truth, f, "inuse_objects"),
            own(&truth, f, "inuse_bytes"),
        );
        eprintln!(
            "{what} {f}: tracer {objects} objects {bytes} B, own profile {own_objects} / {own_bytes} B, kept {}",
            truth["kept"][f]
        );
        // Same profile, same moment (the program is idle after its GC):
        // equal up to the ±3 % the issue allows for timing.
        let close = |a: u64, b: u64| a.abs_diff(b) as f64 <= 0.03 * b.max(1) as f64;
        // One sample published between the two readings (the old backing
        // array of `append` at the same line, freed by a GC the final
        // report's own allocations caused) moves the bytes by about one
        // profile rate but the objects by rate / size: a 112 B sample
        // stands for 4,681 objects (seen once on Go 1.27).
        let rate = truth["profile_rate"].as_u64().unwrap_or(0);
        let one_sample = bytes.abs_diff(own_bytes) <= rate + rate / 8;
        assert!(
            close(bytes, own_bytes) && (close(objects, own_objects) || one_sample),
            "{what} {f}: tracer {objects}/{bytes} vs own {own_objects}/{own_bytes}"
        );
        if let Some(s) = site {
            let alloc = s["alloc_bytes"].as_u64().unwrap();
            let own_alloc = own(&truth, f, "alloc_bytes");
            assert!(
                close(alloc, own_alloc),
                "{what} {f}: alloc {alloc} vs {own_alloc}"
            );
        }
    }
    // Kept sites hold what they keep (within the profile's own sampling
    // error); released and churned sites hold nothing.
    let big = own(&truth, "main.keepBig", "inuse_bytes");
    assert!(big > 0 && total > 0, "{what}: {inuse}");
    for f in ["main.keepTemp", "main.churn"] {
        let held = inuse_site(r, f).map_or(0, |s| s["inuse_bytes"].as_u64().unwrap());
        assert!(
            held as f64 <= 0.02 * total as f64,
            "{what}: {f} holds {held} of {total}"
        );
    }
    // The allocation sites carry the same figures.
    let big_site = inuse_site(r, "main.keepBig").unwrap();
    for a in r["allocations"].as_array().unwrap() {
        if a["site"]["function"] == "main.keepBig" {
            assert_eq!(a["inuse_bytes"], big_site["inuse_bytes"], "{what}");
        }
    }
    // Growth: the kept-and-growing site, and no other.
    let growth: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "heap_growth")
        .collect();
    assert!(
        growth
            .iter()
            .any(|f| f["site"]["function"] == "main.keepBig"),
        "{what}: no heap_growth for main.keepBig: {:?} / {}",
        r["findings"],
        big_site
    );
    for f in &growth {
        assert_eq!(f["site"]["function"], "main.keepBig", "{what}: {f}");
    }
    // Exports: go tool pprof reads the in-use sample types, and the folded
    // stacks weigh held bytes.
    assert_pprof_inuse(go, &pprof, &what);
    let folded = std::fs::read_to_string(&folded).unwrap();
    let big_folded: u64 = folded
        .lines()
        .filter(|l| l.contains("main.keepBig"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        big_folded,
        big_site["inuse_bytes"].as_u64().unwrap(),
        "{what}: folded {folded}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn inuse_equals_the_programs_own_heap_profile() {
    for go in go_bins() {
        check(&go, &[]);
        check(&go, &["-ldflags=-s -w"]);
    }
}

/// The heap profile switched off by the linker: the default mode samples
/// objects' liveness in its allocation windows. Sites holding ≥ 5 % of the
/// live heap within ±15 % of what the program keeps; sites that churn, or
/// keep and then let go, ≤ 2 % of the in-use total.
fn sampled(go: &Path, flags: &[&str]) {
    let bin = build_go(go, "inuse", flags);
    let dir = std::env::temp_dir().join(format!(
        "tracer-inuse-sampled-{}-{}",
        std::process::id(),
        flags.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pprof = dir.join("heap.pb.gz");
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(
        prog.pid,
        &[
            "--mode",
            "sampled",
            "--format",
            "json",
            "--pprof",
            pprof.to_str().unwrap(),
        ],
    );
    prog.command("mix 8");
    prog.command("release temp");
    // A quiet second, then GC cycles back to back (four `runtime.GC()`
    // pairs): looks 10 ms apart let a cycle pass unseen in about half the
    // runs, and every followed sample was dropped; the probe on
    // runtime.gcResetMarkState wakes the tracer as each cycle starts.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for _ in 0..4 {
        prog.command("gc");
    }
    let truth = prog.command("report");
    let reports = tracer.stop();
    prog.finish();
    assert_eq!(truth["profile_rate"], 0, "the profile must be off");
    let r = reports.last().unwrap();
    let what = format!("{} {flags:?}", r["target"]["go_version"]);
    let inuse = &r["inuse"];
    assert_eq!(r["window"]["inuse_source"], "sampled", "{what}: {inuse}");
    let total = inuse["bytes"].as_u64().unwrap();
    let held = |f: &str| inuse_site(r, f).map_or(0, |s| s["inuse_bytes"].as_u64().unwrap());
    eprintln!(
        "{what}: sampled {} objects, {} alive, {} dropped, {} pending; in use {total} B, unattributed {} B",
        inuse["sampled_objects"], inuse["samples"], inuse["dropped_samples"], inuse["pending_samples"],
        inuse["unattributed_bytes"]
    );
    let live_heap = total + inuse["unattributed_bytes"].as_u64().unwrap();
    for f in ["main.keepBig", "main.keepSmall"] {
        let kept = truth["kept"][f]["bytes"].as_u64().unwrap();
        let got = held(f);
        eprintln!(
            "{what} {f}: tracer {got} B (±{:.1} %), kept {kept} B ({:.1} % of the live heap)",
            inuse_site(r, f).map_or(f64::NAN, |s| s["est_error_pct"]
                .as_f64()
                .unwrap_or(f64::NAN)),
            100.0 * kept as f64 / live_heap as f64
        );
        assert!(
            kept as f64 >= 0.05 * live_heap as f64,
            "{what}: {f} is a big holder"
        );
        assert!(
            (got as f64 - kept as f64).abs() <= 0.15 * kept as f64,
            "{what} {f}: {got} vs kept {kept}"
        );
    }
    // A churning site holds little, but not nothing: churnBig's last
    // object stays in `sink`, and a sample of it alive at a GC is really
    // alive (seen once in CI: one sample, 1.2 MB at ±100 %, Go 1.24). Its
    // estimate's 95 % interval must reach down to 2 % of the heap.
    for f in ["main.keepTemp", "main.churn", "main.churnBig"] {
        let err = inuse_site(r, f).map_or(0.0, |s| s["est_error_pct"].as_f64().unwrap_or(0.0));
        let least = held(f) as f64 * (1.0 - err / 100.0).max(0.0);
        assert!(
            least <= 0.02 * total as f64,
            "{what}: {f} holds {} of {total} (±{err:.1} %)",
            held(f)
        );
    }
    let dropped = inuse["dropped_samples"].as_u64().unwrap();
    let sampled = inuse["sampled_objects"].as_u64().unwrap();
    assert!(
        sampled > 0 && dropped * 10 <= sampled,
        "{what}: {dropped} of {sampled} dropped"
    );
    assert_pprof_inuse(go, &pprof, &what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn inuse_sampled_when_the_profile_is_off() {
    for go in go_bins() {
        sampled(&go, &["-tags", "noprofile"]);
        sampled(&go, &["-tags", "noprofile", "-ldflags=-s -w"]);
    }
}

/// Exact mode without the heap profile: no figures, and the report says
/// why (never zeros that look measured).
#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn inuse_says_why_when_there_is_no_source() {
    let go = go_bins().into_iter().last().expect("a Go toolchain");
    let bin = build_go(&go, "inuse", &["-tags", "noprofile"]);
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(prog.pid, &["--format", "json"]);
    prog.command("keep big 20000");
    let truth = prog.command("report");
    let reports = tracer.stop();
    prog.finish();
    assert_eq!(truth["profile_rate"], 0);
    let r = reports.last().unwrap();
    assert!(r["window"]["inuse_source"].is_null(), "{}", r["window"]);
    let why = r["inuse"]["unavailable"].as_str().unwrap();
    assert!(why.contains("MemProfileRate = 0"), "{why}");
    assert!(why.contains("default mode only"), "{why}");
    for a in r["allocations"].as_array().unwrap() {
        assert!(a["inuse_bytes"].is_null(), "{a}");
    }
    // diff --weight inuse refuses such a report with one line.
    let dir = std::env::temp_dir().join(format!("tracer-inuse-off-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("off.json");
    std::fs::write(&file, serde_json::to_string(r).unwrap()).unwrap();
    let out = run_tracer(&[
        "diff",
        "--weight",
        "inuse",
        file.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, 2, "no in-use figures");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sampled growth: a site whose long-lived objects turn over (a bounded
/// cache replacing its entries) rises from zero in the samples, as a leak
/// does, since only objects allocated after attach are followed; only the
/// leak also grows the live heap the GC marks. Two sessions on one
/// program: the turnover must give no `heap_growth`, the leak one for its
/// site.
fn sampled_growth(go: &Path, flags: &[&str]) {
    let bin = build_go(go, "inuse", flags);
    let mut prog = GoProgram::start(&bin);
    prog.command("fill 20000");
    prog.command("gc");
    let pid = prog.pid;
    let attach = || Tracer::attach(pid, &["--mode", "sampled", "--format", "json"]);
    let growth = |r: &Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "heap_growth")
            .map(|f| f["site"]["function"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let tracer = attach();
    prog.command("turn 7");
    let turnover = tracer.stop();
    let r = turnover.last().unwrap();
    let what = format!("{} {flags:?}", r["target"]["go_version"]);
    assert_eq!(r["window"]["inuse_source"], "sampled", "{what}");
    // The turnover looks like growth in the samples: what the test
    // guards against is there to be found.
    let field = |s: &Value, f: &str| s[f].as_u64().unwrap_or(0);
    let (cache, cycles) = inuse_site(r, "main.keepCache").map_or((0, 0), |s| {
        (field(s, "inuse_bytes"), field(s, "growth_cycles"))
    });
    eprintln!(
        "{what}: turnover: main.keepCache {cache} B sampled in use over {cycles} GC cycles; findings {:?}",
        r["findings"]
    );
    assert!(
        cache >= 4 << 20 && cycles >= 3,
        "{what}: the cache's new objects {cache} B over {cycles} cycles"
    );
    assert!(
        growth(r).is_empty(),
        "{what}: turnover is not growth: {:?}",
        r["findings"]
    );

    let tracer = attach();
    prog.command("leak 7");
    let leak = tracer.stop();
    let r = leak.last().unwrap();
    let (big, big_growth) = inuse_site(r, "main.keepBig").map_or((0, 0), |s| {
        (
            field(s, "inuse_bytes"),
            s["growth_bytes"].as_i64().unwrap_or(0),
        )
    });
    eprintln!(
        "{what}: leak: main.keepBig {big} B sampled in use, growth {big_growth} B; findings {:?}",
        r["findings"]
    );
    assert_eq!(growth(r), ["main.keepBig"], "{what}: {:?}", r["findings"]);

    // The cache turns over while keepTemp leaks 4 KiB objects: the heap
    // the GC marks grows, but not the cache's size class.
    let tracer = attach();
    prog.command("turnleak 7");
    let both = tracer.stop();
    prog.finish();
    let r = both.last().unwrap();
    let cache = inuse_site(r, "main.keepCache").map_or(0, |s| field(s, "inuse_bytes"));
    eprintln!(
        "{what}: turnover beside a leak: main.keepCache {cache} B sampled in use; findings {:?}",
        r["findings"]
    );
    assert!(
        cache >= 4 << 20,
        "{what}: the cache's new objects {cache} B"
    );
    assert_eq!(growth(r), ["main.keepTemp"], "{what}: {:?}", r["findings"]);
}

#[test]
#[ignore = "needs root (uprobes, perf events) and Go toolchains"]
fn sampled_growth_is_a_leak_not_a_turnover() {
    let bins = go_bins();
    for go in &bins {
        sampled_growth(go, &["-tags", "noprofile"]);
    }
    if let Some(go) = bins.last() {
        sampled_growth(go, &["-tags", "noprofile", "-ldflags=-s -w"]);
    }
}
