//! `tracer diff BEFORE.json AFTER.json`: what allocates more in the second
//! report than in the first, per site, the way `pprof -base` subtracts one
//! profile from another. Typical use: two windows a while apart, to find
//! the site whose allocations keep growing (a leak, a pool that never
//! reuses).
use std::{collections::BTreeMap, fmt::Write as _, io::Write as _, path::PathBuf};

use serde::{Deserialize, Serialize};

use tracer::{
    error::UserError,
    report::{folded::Weight, text::human_bytes},
};

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The earlier report (`tracer attach --format json` output).
    pub before: PathBuf,
    /// The later report.
    pub after: PathBuf,
    /// Write the comparison as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Sites shown in the table (the JSON has all of them).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Rank sites by the growth of this.
    #[arg(long, value_enum, default_value = "bytes")]
    pub weight: crate::weight::Weight,
}

pub fn run(args: &DiffArgs) -> anyhow::Result<()> {
    if args.weight == crate::weight::Weight::Cpu {
        return Err(tracer::error::UserError::Usage(
            "diff ranks allocation sites: --weight bytes, objects or inuse".into(),
        )
        .into());
    }
    let before = load(&args.before)?;
    let after = load(&args.after)?;
    if args.weight == crate::weight::Weight::Inuse {
        for i in [&before, &after] {
            if i.report.inuse.source.is_none() {
                let why = i
                    .report
                    .inuse
                    .unavailable
                    .as_deref()
                    .unwrap_or("no in-use figures");
                return Err(
                    UserError::Usage(format!("{}: no in-use figures: {why}", i.path)).into(),
                );
            }
        }
    }
    let diff = compare(&before, &after, args.weight.into());
    let out = if args.json {
        serde_json::to_string(&diff)? + "\n"
    } else {
        render_text(&diff, args.top)
    };
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        // `tracer diff … | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The parts of a JSON report line the comparison uses; other fields are
/// ignored, so newer reports still load.
#[derive(Debug, Deserialize)]
struct ReportLine {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: TargetLine,
    window: WindowLine,
    allocations: Vec<SiteLine>,
    #[serde(default)]
    inuse: InuseLine,
}

#[derive(Debug, Default, Deserialize)]
struct InuseLine {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    unavailable: Option<String>,
    #[serde(default)]
    sites: Vec<InuseSiteLine>,
}

#[derive(Debug, Deserialize)]
struct InuseSiteLine {
    site: SiteKey,
    inuse_objects: u64,
    inuse_bytes: u64,
}

#[derive(Debug, Default, Deserialize)]
struct TargetLine {
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    go_version: String,
}

#[derive(Debug, Deserialize)]
struct WindowLine {
    #[serde(default)]
    start_unix_ns: u64,
    duration_ns: u64,
}

#[derive(Debug, Deserialize)]
struct SiteLine {
    site: SiteKey,
    objects: u64,
    bytes: u64,
}

/// Sites match on position, not on the `inlined` flag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
struct SiteKey {
    function: String,
    file: String,
    line: u32,
}

/// One input: the report chosen from a file.
#[derive(Debug)]
struct Input {
    path: String,
    report: ReportLine,
}

/// Reads a JSON Lines file of reports and keeps the last "final" one (the
/// whole run), or else the last one. Everything that can be wrong with the
/// file is a usage error: one line, exit code 2.
fn load(path: &std::path::Path) -> Result<Input, UserError> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| UserError::Usage(format!("cannot read {shown}: {e}")))?;
    let report = parse(&bytes).map_err(|why| UserError::Usage(format!("{shown}: {why}")))?;
    Ok(Input {
        path: shown,
        report,
    })
}

fn parse(bytes: &[u8]) -> Result<ReportLine, String> {
    let mut last = None;
    let mut last_final = None;
    // A stream of JSON values: JSON Lines, but also a report pretty-printed
    // by jq.
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<ReportLine>() {
        let report = value.map_err(|e| {
            format!("not a tracer JSON report (`tracer attach --format json`): {e}")
        })?;
        if report.kind == "final" {
            last_final = Some(report);
        } else {
            last = Some(report);
        }
    }
    last_final.or(last).ok_or_else(|| {
        "no reports in the file (expected `tracer attach --format json` output)".to_string()
    })
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
struct Amounts {
    objects: u64,
    bytes: u64,
    objects_per_sec: f64,
    bytes_per_sec: f64,
}

/// after − before.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
struct Growth {
    objects: i64,
    bytes: i64,
    objects_per_sec: f64,
    bytes_per_sec: f64,
}

#[derive(Debug, Serialize)]
struct SiteDiff {
    site: SiteKey,
    before: Amounts,
    after: Amounts,
    growth: Growth,
}

#[derive(Debug, Serialize)]
struct Side {
    path: String,
    kind: String,
    pid: u32,
    go_version: String,
    start_unix_ns: u64,
    duration_ns: u64,
}

#[derive(Debug, Serialize)]
struct Diff {
    /// What `sites` is ranked by.
    weight: &'static str,
    before: Side,
    after: Side,
    total: SiteTotals,
    /// Largest growth of `weight` first; a site missing from one report
    /// counts as zero there.
    sites: Vec<SiteDiff>,
}

#[derive(Debug, Serialize)]
struct SiteTotals {
    before: Amounts,
    after: Amounts,
    growth: Growth,
}

fn compare(before: &Input, after: &Input, weight: Weight) -> Diff {
    let mut counts: BTreeMap<SiteKey, [(u64, u64); 2]> = BTreeMap::new();
    for (side, input) in [before, after].into_iter().enumerate() {
        for (site, objects, bytes) in site_figures(&input.report, weight) {
            let c = &mut counts.entry(site.clone()).or_default()[side];
            c.0 = c.0.saturating_add(objects);
            c.1 = c.1.saturating_add(bytes);
        }
    }
    // Held memory is a level, not a flow: no rates.
    let secs = |i: &Input| match weight {
        Weight::Inuse => 0.0,
        _ => i.report.window.duration_ns as f64 / 1e9,
    };
    let (secs_b, secs_a) = (secs(before), secs(after));
    let mut sites: Vec<SiteDiff> = counts
        .into_iter()
        .map(|(site, [b, a])| {
            let before = amounts(b, secs_b);
            let after = amounts(a, secs_a);
            SiteDiff {
                site,
                before,
                after,
                growth: growth(&before, &after),
            }
        })
        .collect();
    // Stable sort over the BTreeMap order: ties stay sorted by site.
    sites.sort_by(|x, y| {
        let (gx, gy) = (pick(weight, &x.growth), pick(weight, &y.growth));
        gy.0.cmp(&gx.0).then(gy.1.total_cmp(&gx.1))
    });
    let sum = |side: usize| {
        let (o, b) = site_figures(&[before, after][side].report, weight)
            .fold((0u64, 0u64), |(o, b), (_, objects, bytes)| {
                (o.saturating_add(objects), b.saturating_add(bytes))
            });
        amounts((o, b), [secs_b, secs_a][side])
    };
    let (tb, ta) = (sum(0), sum(1));
    Diff {
        weight: weight.unit(),
        before: side(before),
        after: side(after),
        total: SiteTotals {
            before: tb,
            after: ta,
            growth: growth(&tb, &ta),
        },
        sites,
    }
}

/// (site, objects, bytes) of a report: allocated in its window, or held
/// after its last GC for `--weight inuse`.
fn site_figures(
    r: &ReportLine,
    weight: Weight,
) -> Box<dyn Iterator<Item = (&SiteKey, u64, u64)> + '_> {
    match weight {
        Weight::Inuse => Box::new(
            r.inuse
                .sites
                .iter()
                .map(|s| (&s.site, s.inuse_objects, s.inuse_bytes)),
        ),
        _ => Box::new(r.allocations.iter().map(|s| (&s.site, s.objects, s.bytes))),
    }
}

fn side(i: &Input) -> Side {
    let r = &i.report;
    Side {
        path: i.path.clone(),
        kind: r.kind.clone(),
        pid: r.target.pid,
        go_version: r.target.go_version.clone(),
        start_unix_ns: r.window.start_unix_ns,
        duration_ns: r.window.duration_ns,
    }
}

/// Rates over a zero-length window are reported as 0, not infinity (JSON
/// has no representation for it).
fn amounts((objects, bytes): (u64, u64), secs: f64) -> Amounts {
    let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    Amounts {
        objects,
        bytes,
        objects_per_sec: rate(objects),
        bytes_per_sec: rate(bytes),
    }
}

fn growth(b: &Amounts, a: &Amounts) -> Growth {
    let sub = |a: u64, b: u64| {
        let d = i128::from(a) - i128::from(b);
        i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
    };
    Growth {
        objects: sub(a.objects, b.objects),
        bytes: sub(a.bytes, b.bytes),
        objects_per_sec: a.objects_per_sec - b.objects_per_sec,
        bytes_per_sec: a.bytes_per_sec - b.bytes_per_sec,
    }
}

/// (growth, growth of the rate) of the chosen weight.
fn pick(weight: Weight, g: &Growth) -> (i64, f64) {
    match weight {
        Weight::Bytes | Weight::Inuse => (g.bytes, g.bytes_per_sec),
        Weight::Objects | Weight::Cpu => (g.objects, g.objects_per_sec),
    }
}

fn render_text(d: &Diff, top: usize) -> String {
    let mut s = String::new();
    let describe = |x: &Side| {
        format!(
            "{} (pid {} {}, {} report, {:.1}s)",
            x.path,
            x.pid,
            x.go_version,
            x.kind,
            x.duration_ns as f64 / 1e9
        )
    };
    let _ = writeln!(s, "== tracer diff by {}", d.weight);
    let _ = writeln!(s, "before: {}", describe(&d.before));
    let _ = writeln!(s, "after:  {}", describe(&d.after));
    let (db, da) = (d.before.duration_ns as f64, d.after.duration_ns as f64);
    if (db - da).abs() > 0.1 * db.max(da) {
        let _ = writeln!(
            s,
            "note: the windows differ in length; the /s columns compare like with like"
        );
    }
    let t = &d.total;
    if d.weight == Weight::Inuse.unit() {
        let _ = writeln!(
            s,
            "total held: {} → {} ({}); {} → {} objects ({:+})",
            human_bytes(t.before.bytes as f64),
            human_bytes(t.after.bytes as f64),
            signed_bytes(t.growth.bytes as f64),
            t.before.objects,
            t.after.objects,
            t.growth.objects,
        );
    } else {
        let _ = writeln!(
            s,
            "total: {} → {} ({}), {} → {} ({}); {} → {} objects ({:+})",
            human_bytes(t.before.bytes as f64),
            human_bytes(t.after.bytes as f64),
            signed_bytes(t.growth.bytes as f64),
            human_bytes(t.before.bytes_per_sec) + "/s",
            human_bytes(t.after.bytes_per_sec) + "/s",
            signed_bytes(t.growth.bytes_per_sec) + "/s",
            t.before.objects,
            t.after.objects,
            t.growth.objects,
        );
    }
    let by_bytes = d.weight == Weight::Bytes.unit() || d.weight == Weight::Inuse.unit();
    let held = d.weight == Weight::Inuse.unit();
    let _ = writeln!(
        s,
        "{:>10} {:>10} {:>11} {:>12} {:>12} {:>13} {:>11}  site",
        "before",
        "after",
        "growth",
        "before/s",
        "after/s",
        "growth/s",
        if by_bytes { "objects Δ" } else { "bytes Δ" }
    );
    for row in d.sites.iter().take(top) {
        let (b, a, g) = (&row.before, &row.after, &row.growth);
        let mut cols = if by_bytes {
            [
                human_bytes(b.bytes as f64),
                human_bytes(a.bytes as f64),
                signed_bytes(g.bytes as f64),
                human_bytes(b.bytes_per_sec) + "/s",
                human_bytes(a.bytes_per_sec) + "/s",
                signed_bytes(g.bytes_per_sec) + "/s",
                format!("{:+}", g.objects),
            ]
        } else {
            [
                b.objects.to_string(),
                a.objects.to_string(),
                format!("{:+}", g.objects),
                format!("{:.1}/s", b.objects_per_sec),
                format!("{:.1}/s", a.objects_per_sec),
                format!("{:+.1}/s", g.objects_per_sec),
                signed_bytes(g.bytes as f64),
            ]
        };
        if held {
            // Bytes held are a level: per-second columns do not apply.
            for c in &mut cols[3..6] {
                *c = "-".into();
            }
        }
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>11} {:>12} {:>12} {:>13} {:>11}  {} {}:{}",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
            cols[6],
            row.site.function,
            short_path(&row.site.file),
            row.site.line
        );
    }
    if d.sites.len() > top {
        let _ = writeln!(
            s,
            "… {} more sites (--top N, or --json for all)",
            d.sites.len() - top
        );
    }
    s
}

fn signed_bytes(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", human_bytes(v))
    } else if v < 0.0 {
        format!("-{}", human_bytes(-v))
    } else {
        "0 B".into()
    }
}

/// The last two path elements, as the text report shows files.
fn short_path(path: &str) -> &str {
    match path.rmatch_indices('/').nth(1) {
        Some((i, _)) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/testdata");

    fn fixture(name: &str) -> Input {
        load(&std::path::Path::new(DIR).join(name)).expect("fixture loads")
    }

    fn usage_error(result: Result<Input, UserError>) -> String {
        match result {
            Err(e @ UserError::Usage(_)) => {
                assert_eq!(e.exit_code(), 2);
                e.to_string()
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn takes_the_final_report() {
        let b = fixture("diff_before.jsonl");
        assert_eq!(b.report.kind, "final");
        assert_eq!(b.report.window.duration_ns, 10_000_000_000);
        // No "final" line: the last line.
        let r = parse(
            br#"{"kind":"interval","window":{"duration_ns":1},"allocations":[]}
{"kind":"interval","window":{"duration_ns":2},"allocations":[]}
"#,
        )
        .expect("parses");
        assert_eq!(r.window.duration_ns, 2);
    }

    #[test]
    fn gzip_writer_leak_ranks_first() {
        let d = compare(
            &fixture("diff_before.jsonl"),
            &fixture("diff_after.jsonl"),
            Weight::Bytes,
        );
        let first = &d.sites[0];
        assert_eq!(first.site.function, "main.compressResponse");
        assert_eq!(first.growth.bytes, 737_280_000 - 81_920_000);
        assert_eq!(first.growth.objects, 800);
        assert_eq!(first.before.bytes_per_sec, 8_192_000.0);
        assert_eq!(first.after.bytes_per_sec, 73_728_000.0);
        // Only in one report: zero in the other.
        let only_after = d
            .sites
            .iter()
            .find(|s| s.site.function == "main.(*cache).grow")
            .expect("new site");
        assert_eq!(only_after.before, Amounts::default());
        let only_before = d.sites.last().expect("sites");
        assert_eq!(only_before.site.function, "main.readBody");
        let gone = d
            .sites
            .iter()
            .find(|s| s.site.function == "main.warmup")
            .expect("gone site");
        assert_eq!(gone.after, Amounts::default());
        assert_eq!(gone.growth.bytes, -40_960);
    }

    #[test]
    fn rank_by_objects() {
        let d = compare(
            &fixture("diff_before.jsonl"),
            &fixture("diff_after.jsonl"),
            Weight::Objects,
        );
        let order: Vec<&str> = d.sites.iter().map(|s| s.site.function.as_str()).collect();
        assert_eq!(
            order,
            [
                "main.compressResponse",
                "main.parse",
                "main.(*cache).grow",
                "main.warmup",
                "main.readBody"
            ]
        );
    }

    #[test]
    fn golden_text() {
        let d = compare(
            &fixture("diff_before.jsonl"),
            &fixture("diff_after.jsonl"),
            Weight::Bytes,
        );
        // Paths vary with the checkout; the golden file names them by file name.
        let text = render_text(&d, 4).replace(&format!("{DIR}/"), "");
        assert_eq!(text, include_str!("../../report/testdata/diff_bytes.txt"));
    }

    #[test]
    fn windows_of_different_length_are_flagged() {
        let before = fixture("diff_before.jsonl");
        let mut after = fixture("diff_after.jsonl");
        let d = compare(&before, &after, Weight::Bytes);
        assert!(!render_text(&d, 20).contains("note:"));
        after.report.window.duration_ns *= 6;
        let d = compare(&before, &after, Weight::Bytes);
        assert!(render_text(&d, 20).contains("note: the windows differ in length"));
        assert_eq!(d.sites[0].after.bytes_per_sec, 73_728_000.0 / 6.0);
    }

    #[test]
    fn json_output_has_every_site() {
        let d = compare(
            &fixture("diff_before.jsonl"),
            &fixture("diff_after.jsonl"),
            Weight::Bytes,
        );
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&d).expect("serialize")).expect("json");
        assert_eq!(v["weight"], "bytes");
        assert_eq!(v["sites"].as_array().map(Vec::len), Some(5));
        assert_eq!(v["sites"][0]["growth"]["bytes"], 655_360_000);
        assert_eq!(v["total"]["before"]["objects"], 5_410);
    }

    #[test]
    fn zero_length_window_has_zero_rates() {
        assert_eq!(amounts((5, 10), 0.0).bytes_per_sec, 0.0);
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        let missing = usage_error(load(std::path::Path::new("/nonexistent/before.json")));
        assert!(
            missing.starts_with("cannot read /nonexistent/before.json"),
            "{missing}"
        );
        let text = usage_error(load(&std::path::Path::new(DIR).join("folded_bytes.txt")));
        assert!(text.contains("not a tracer JSON report"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
        for (bytes, want) in [
            (&b""[..], "no reports"),
            (b"  \n\n", "no reports"),
            (b"{\"kind\":\"final\"}", "missing field"),
            (b"[1,2]", "not a tracer JSON report"),
            (b"\x1f\x8b\x08\x00", "not a tracer JSON report"),
        ] {
            let err = parse(bytes).expect_err("bad input");
            assert!(err.contains(want), "{bytes:?}: {err}");
        }
    }

    /// What `tracer attach --format json` writes must load here.
    #[test]
    fn reads_what_the_json_sink_writes() {
        use tracer::report::{json::JsonSink, AllocSite, Sink};
        let mut r = tracer::report::folded::fixture::report();
        let site =
            tracer::report::folded::fixture::frame("main.parse", "/src/app/main.go", 55, false);
        r.allocations.push(AllocSite {
            site: site.clone(),
            stack: vec![site],
            stacks: 1,
            via: Vec::new(),
            objects: 8,
            bytes: 65_536,
            slot_bytes: 65_536,
            objects_per_sec: 0.8,
            bytes_per_sec: 6553.6,
            avg_size: 8192.0,
            size_p50: 8192,
            size_p99: 8192,
            size_max: 8192,
            size_histogram: Vec::new(),
            sizes: Vec::new(),
            inuse_objects: None,
            inuse_bytes: None,
        });
        let mut out = Vec::new();
        JsonSink::new(&mut out).write(&r).expect("write");
        let line = parse(&out).expect("parses");
        assert_eq!(line.kind, "final");
        assert_eq!(line.target.pid, 4242);
        assert_eq!(line.allocations.len(), 1);
        assert_eq!(line.allocations[0].site.line, 55);
        assert_eq!(line.allocations[0].bytes, 65_536);
    }
}
