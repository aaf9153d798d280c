//! Big real-world Go binaries, if some are installed: parse time and
//! consistency of every lookup. Set TRACER_GOBIN_LARGE=path1:path2 to
//! choose them; by default a few known locations are tried.

use std::time::Instant;

use super::harness::drop_section_headers;
use crate::tracee::gobin::GoBinary;

const DEFAULT_CANDIDATES: &[&str] = &[
    "/usr/lib/google-cloud-sdk/bin/kubectl",
    "/usr/local/bin/kubectl",
    "/usr/bin/kubectl",
];

#[test]
fn large_binaries_parse_fast_and_consistently() {
    let paths: Vec<String> = match std::env::var("TRACER_GOBIN_LARGE") {
        Ok(list) => list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Err(_) => DEFAULT_CANDIDATES.iter().map(|s| s.to_string()).collect(),
    };
    let mut tested = 0;
    let mut seen = Vec::new();
    for path in paths.iter().filter(|p| std::path::Path::new(p).is_file()) {
        // The default candidates may be symlinks to one file.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        let data = std::fs::read(path).expect("read");
        let size = data.len();
        let t = Instant::now();
        let bin = GoBinary::parse(data).unwrap_or_else(|e| panic!("{path}: {e}"));
        let parse = t.elapsed();
        // Generous bound: this also runs unoptimized.
        assert!(parse.as_millis() < 1000, "{path}: parse took {parse:?}");
        let t = Instant::now();
        let funcs: Vec<_> = bin.functions().collect();
        assert!(funcs.len() > 10_000, "{path}: {} functions", funcs.len());
        assert!(bin.function("runtime.mallocgc").is_some(), "{path}");
        let index = t.elapsed();
        let t = Instant::now();
        let stride = (funcs.len() / 5000).max(1);
        let mut frames = 0;
        for f in funcs.iter().step_by(stride) {
            let at = bin.func_at(f.entry).expect("func_at(entry)");
            assert_eq!((at.entry, &at.name), (f.entry, &f.name), "{path}");
            assert_eq!(
                bin.function(&f.name).map(|g| g.name),
                Some(f.name.clone()),
                "{path}"
            );
            let mid = f.entry + (f.end - f.entry) / 2;
            for pc in [f.entry, mid] {
                let fr = bin.symbolize(pc);
                assert_eq!(
                    fr.last().map(|x| x.function.as_str()),
                    Some(f.name.as_str()),
                    "{path} {pc:#x}"
                );
                frames += fr.len();
            }
        }
        let sym = t.elapsed();
        // The same binary without section headers: everything is found by
        // scanning, and must come out identical.
        let bare_bytes = drop_section_headers(std::fs::read(path).expect("read"));
        let t = Instant::now();
        let bare = GoBinary::parse(bare_bytes)
            .unwrap_or_else(|e| panic!("{path} without section headers: {e}"));
        let bare_parse = t.elapsed();
        assert_eq!(bare.gofunc, bin.gofunc, "{path}");
        assert_eq!(bare.text_start, bin.text_start, "{path}");
        assert_eq!(
            bare.build_info().settings,
            bin.build_info().settings,
            "{path}"
        );
        assert!(
            bare.functions()
                .map(|f| (f.name, f.entry))
                .eq(funcs.iter().map(|f| (f.name.clone(), f.entry))),
            "{path}"
        );
        eprintln!(
            "{path}: {} MB, {} ({}), {} functions: parse {parse:?} ({bare_parse:?} without \
             section headers), name index+list {index:?}, {frames} frames for {} pcs in {sym:?}",
            size >> 20,
            bin.build_info().go_version,
            if bin.is_stripped() {
                "stripped"
            } else {
                "symbols"
            },
            funcs.len(),
            2 * funcs.len().div_ceil(stride),
        );
        tested += 1;
    }
    if tested == 0 {
        eprintln!("no large Go binary found; set TRACER_GOBIN_LARGE to test one");
    }
}
