//! Short, fixed-style number and name formatting for table cells. The
//! byte and duration units are the text report's, so both outputs read alike.
pub use tracer::report::text::{human_bytes, human_ns};

/// Counts and rates: "950", "12.3k", "4.1M". Columns stay narrow at 80 wide.
pub fn human_count(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.1}G", n / 1e9),
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

pub fn bytes_rate(bytes_per_sec: f64) -> String {
    format!("{}/s", human_bytes(bytes_per_sec))
}

/// Uptime as a top-style clock: "45s", "3m07s", "2h05m09s".
pub fn uptime(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// The last two path components ("http/server.go"): enough to find the
/// file, short enough for a table column.
pub fn short_path(path: &str) -> &str {
    let mut parts = path.rsplitn(3, '/');
    let _ = parts.next();
    let _ = parts.next();
    match parts.next() {
        Some(prefix) => &path[prefix.len() + 1..],
        None => path,
    }
}

/// Drops the import path, keeping the package name Go prints in stack
/// traces: "github.com/a/b/pkg.(*T).M" → "pkg.(*T).M". Only slashes before
/// any '[' count: type arguments of generic functions may hold paths.
pub fn short_function(name: &str) -> &str {
    let head = name.find('[').unwrap_or(name.len());
    match name[..head].rfind('/') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

pub fn file_line(file: &str, line: u32) -> String {
    format!("{}:{line}", short_path(file))
}

/// A map row's numbers under "bytes live cap/held tombst. ops/s": a
/// sync.Map's capacity column is the entries it still holds.
pub fn map_numbers(m: &tracer::report::MapReport) -> String {
    format!(
        "{:>10} {:>9} {:>10} {:>8} {:>9.1}",
        human_bytes(m.bytes as f64),
        m.live,
        if m.kind == "sync.Map" {
            m.held
        } else {
            m.capacity_slots
        },
        m.tombstones,
        m.ops_per_sec
    )
}

/// A listed map's latency and CPU per operation: "load p50 < 12µs p99
/// < 12µs, CPU/op n/a (≤ 1.2µs) · store …", then its CPU in operations.
pub fn map_costs(m: &tracer::report::MapReport) -> String {
    let mut parts = Vec::new();
    for op in m.ops.keys() {
        let mut p = Vec::new();
        if let Some(l) = m.latency_ns.get(op) {
            let show = |v: Option<u64>| l.show(v, human_ns);
            p.push(format!("p50 {} p99 {}", show(l.p50), show(l.p99)));
        }
        match (m.cost_ns.get(op), m.cost_ns_ci95.get(op)) {
            (Some(Some(c)), Some([lo, hi])) => p.push(format!(
                "CPU/op {} ({}–{})",
                human_ns(*c),
                human_ns(*lo),
                human_ns(*hi)
            )),
            (Some(None), Some([_, hi])) => p.push(format!("CPU/op n/a (≤ {})", human_ns(*hi))),
            _ => {}
        }
        if !p.is_empty() {
            parts.push(format!("{op} {}", p.join(", ")));
        }
    }
    if let Some(ns) = m.cpu_ns {
        parts.push(format!("CPU in its operations {}", human_ns(ns as f64)));
    }
    parts.join(" · ")
}

/// A site's place: `dir/file.go:12` when wide, `file.go:12` when narrow.
pub fn site_place(file: &str, line: u32, wide: bool) -> String {
    if wide {
        file_line(file, line)
    } else {
        format!("{}:{line}", file.rsplit('/').next().unwrap_or(file))
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` values, right-aligned so that the
/// newest sample is always in the last column and every row shares a time
/// axis. Scaled to the row's own maximum (the table already shows absolute
/// rates); zero is blank so idle periods stand out.
pub fn sparkline<I>(values: I, len: usize, width: usize) -> String
where
    I: Iterator<Item = f64> + Clone,
{
    let skip = len.saturating_sub(width);
    let max = values.clone().skip(skip).fold(0.0f64, f64::max);
    let mut out = String::with_capacity(width * 3);
    for _ in len.min(width)..width {
        out.push(' ');
    }
    for v in values.skip(skip) {
        if v <= 0.0 || max <= 0.0 {
            out.push(' ');
        } else {
            let i = ((v / max) * (BARS.len() - 1) as f64).round() as usize;
            out.push(BARS[i.min(BARS.len() - 1)]);
        }
    }
    out
}

/// A horizontal bar of `width` cells for `value / max`, with eighth-cell
/// resolution so small buckets remain visible.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    if max == 0 || width == 0 {
        return String::new();
    }
    let eighths = ((value as f64 / max as f64) * (width * 8) as f64).round() as usize;
    let eighths = if value > 0 { eighths.max(1) } else { 0 };
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let mut out = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        out.push(PARTIAL[eighths % 8]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clock() {
        assert_eq!(human_count(950.0), "950");
        assert_eq!(human_count(12_345.0), "12.3k");
        assert_eq!(human_count(4_100_000.0), "4.1M");
        assert_eq!(uptime(45_000_000_000), "45s");
        assert_eq!(uptime(187_000_000_000), "3m07s");
        assert_eq!(uptime(7_509_000_000_000), "2h05m09s");
        assert_eq!(bytes_rate(2048.0), "2.0 KiB/s");
    }

    #[test]
    fn names() {
        assert_eq!(short_function("github.com/a/b/pkg.(*T).M"), "pkg.(*T).M");
        assert_eq!(short_function("main.main"), "main.main");
        assert_eq!(short_function("a/p.F[b/q.T]"), "p.F[b/q.T]");
        assert_eq!(file_line("/src/net/http/server.go", 7), "http/server.go:7");
    }

    #[test]
    fn sparkline_is_right_aligned_and_scaled() {
        let v = [0.0, 1.0, 8.0];
        let s = sparkline(v.iter().copied(), v.len(), 5);
        assert_eq!(s.chars().count(), 5);
        assert_eq!(s.chars().last(), Some('█'));
        assert_eq!(s.chars().nth(2), Some(' '));
        // Longer history than width keeps only the newest values.
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(
            sparkline(v.iter().copied(), v.len(), 10).chars().count(),
            10
        );
        assert_eq!(sparkline(std::iter::empty(), 0, 4), "    ");
    }

    #[test]
    fn bars() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(0, 10, 4), "");
        assert_eq!(bar(1, 1000, 4), "▏");
        assert_eq!(bar(5, 0, 4), "");
    }
}
