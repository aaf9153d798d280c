//! Flame graph SVG of the allocating stacks, rendered by inferno from the
//! folded stacks.
use anyhow::Context as _;
use inferno::flamegraph::{
    self,
    color::{BasicPalette, Palette},
    Options,
};

use super::{
    folded::{folded, Weight},
    Report,
};

pub fn flamegraph_svg(report: &Report, weight: Weight) -> anyhow::Result<Vec<u8>> {
    let stacks = folded(report, weight);
    let title = title(report, weight);
    // inferno refuses an empty input (and its fallback SVG says ERROR); a
    // quiet window is not an error.
    if stacks.is_empty() {
        return Ok(empty_svg(&title).into_bytes());
    }
    let mut opts = Options::default();
    opts.title = title;
    opts.subtitle = Some(subtitle(report));
    opts.count_name = weight.unit().into();
    // The memory palette, colored by a hash of the function name: the same
    // report always gives the same SVG, and a function keeps its color
    // across reports.
    opts.colors = Palette::Basic(BasicPalette::Mem);
    opts.deterministic = true;
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, stacks.lines(), &mut svg)
        .context("rendering the flame graph")?;
    Ok(svg)
}

fn title(r: &Report, weight: Weight) -> String {
    let what = match weight {
        Weight::Cpu => "on-CPU time in",
        Weight::Inuse => "held in the heap:",
        _ => "allocations by",
    };
    format!(
        "tracer: {what} {} — pid {} {}",
        weight.unit(),
        r.target.pid,
        r.target.go_version
    )
}

fn subtitle(r: &Report) -> String {
    format!(
        "{} — {} window of {:.1}s, {} mode",
        r.target.exe,
        r.kind,
        r.window.duration_ns as f64 / 1e9,
        r.window.mode
    )
}

fn empty_svg(title: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" standalone="no"?>"#,
            "\n",
            r#"<svg version="1.1" width="1200" height="80" xmlns="http://www.w3.org/2000/svg">"#,
            r#"<text x="600" y="24" text-anchor="middle" font-family="Verdana" font-size="17">{}</text>"#,
            r#"<text x="600" y="56" text-anchor="middle" font-family="Verdana" font-size="12">no allocations in this window</text>"#,
            "</svg>\n"
        ),
        xml_escape(title)
    )
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::folded::fixture::report;

    fn svg(weight: Weight) -> String {
        String::from_utf8(flamegraph_svg(&report(), weight).expect("render")).expect("utf-8 svg")
    }

    #[test]
    fn bytes_graph_names_functions_and_totals() {
        let s = svg(Weight::Bytes);
        assert!(s.starts_with("<?xml"), "{}", &s[..s.len().min(200)]);
        assert!(s.contains("tracer: allocations by bytes — pid 4242 go1.23.9"));
        // The root frame carries the total; the two gzip stacks are one frame.
        assert!(s.contains("all (5,069,632 bytes, 100%)"), "no total");
        assert!(s.contains("compress/flate.newDeflateFast (5,000,000 bytes, 98.63%)"));
        for f in [
            "runtime.goexit",
            "main.worker",
            "main.(*handler).serve",
            "compress/gzip.(*Writer).Write",
            "compress/flate.NewWriter",
            "compress/flate.(*compressor).init",
            "main.parse",
            "runtime.makeslice",
            "[unknown]",
        ] {
            assert!(s.contains(f), "{f} missing");
        }
        // Zero-byte allocations have no width in a graph by bytes.
        assert!(!s.contains("runtime.newobject"));
    }

    #[test]
    fn objects_graph_counts_objects() {
        let s = svg(Weight::Objects);
        assert!(s.contains("all (112 objects, 100%)"), "no total");
        assert!(s.contains("runtime.newobject (3 objects, 2.68%)"));
    }

    #[test]
    fn same_report_same_svg() {
        assert_eq!(svg(Weight::Bytes), svg(Weight::Bytes));
    }

    #[test]
    fn empty_window_is_a_valid_svg() {
        let mut r = report();
        r.alloc_stacks.clear();
        r.target.go_version = "go1.23<&>".into();
        let s = String::from_utf8(flamegraph_svg(&r, Weight::Bytes).expect("render"))
            .expect("utf-8 svg");
        assert!(s.contains("no allocations in this window"));
        assert!(s.contains("go1.23&lt;&amp;&gt;"));
        assert!(s.trim_end().ends_with("</svg>"));
    }
}
