//! Maps, Goroutines, Memory, In use and Findings: read-only lists from the whole-run
//! report (the filter applies to the lines shown).
use ratatui::{layout::Rect, text::Line, widgets::Paragraph, Frame};

use super::{body_block, message};
use crate::tui::{
    app::{App, View},
    format::map_numbers,
};
use tracer::report::{text::human_bytes, Report};

fn lines_for(view: View, r: &Report) -> (String, Vec<String>) {
    match view {
        View::Goroutines => {
            let t = &r.goroutine_totals;
            // Sampled mode: created/exited are what the snapshots saw.
            let note = t.snapshot_note();
            let title = format!(
                "Goroutines · {} live · {} created · {} exited{}{}",
                t.live,
                t.created,
                t.exited,
                note.as_ref().map_or(String::new(), |n| format!(" ({n})")),
                if t.pre_existing_unknown {
                    " · pre-attach not counted"
                } else {
                    ""
                }
            );
            let mut lines = Vec::new();
            if !r.goroutines.is_empty() {
                lines.push(format!(
                    "{:>7} {:>8} {:>7}  created at  [blocked on]{}",
                    "live",
                    "created",
                    "exited",
                    if note.is_some() {
                        "  (created/exited: seen by snapshots)"
                    } else {
                        ""
                    }
                ));
            }
            lines.extend(r.goroutines.iter().map(|g| {
                let blocked = g
                    .blocked_on
                    .iter()
                    .map(|(k, v)| format!("{k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{:>7} {:>8} {:>7}  {} {}:{}  {}",
                    g.live,
                    g.created,
                    g.exited,
                    g.created_at.function,
                    g.created_at.file.rsplit('/').next().unwrap_or(""),
                    g.created_at.line,
                    blocked
                )
            }));
            (title, lines)
        }
        View::Memory => {
            let m = &r.madvise;
            let title = format!(
                "Memory · RSS {} · LazyFree {}",
                human_bytes(m.rss_bytes as f64),
                human_bytes(m.lazyfree_bytes as f64)
            );
            let mut lines: Vec<String> = m
                .by_advice
                .iter()
                .map(|(k, v)| {
                    let calls = v.calls.map_or("n/a".to_string(), |c| c.to_string());
                    format!(
                        "{k:<16} {calls:>8} calls {:>12}",
                        human_bytes(v.bytes as f64)
                    )
                })
                .collect();
            if m.source == "runtime" {
                lines.push(
                    "released bytes from the runtime's counters; calls and callers: --mode exact"
                        .to_string(),
                );
            }
            lines.extend(m.callers.iter().map(|c| {
                format!(
                    "  {} {} by {}",
                    c.advice,
                    human_bytes(c.bytes as f64),
                    c.caller
                )
            }));
            if let (Some(first), Some(last)) = (m.timeline.first(), m.timeline.last()) {
                lines.push(format!(
                    "RSS {} → {}, LazyFree {} → {} over {} samples",
                    human_bytes(first.rss_bytes as f64),
                    human_bytes(last.rss_bytes as f64),
                    human_bytes(first.lazyfree_bytes as f64),
                    human_bytes(last.lazyfree_bytes as f64),
                    m.timeline.len()
                ));
            }
            (title, lines)
        }
        View::Inuse => inuse_lines(r),
        View::Maps => {
            let t = &r.map_totals;
            let title = format!(
                "Maps · {} seen · {} more summed ({})",
                t.tracked,
                t.other_maps,
                human_bytes(t.other_bytes as f64)
            );
            let mut lines = Vec::new();
            if !r.maps.is_empty() {
                lines.push(format!(
                    "{:>10} {:>9} {:>10} {:>8} {:>9}  kind      created at  [ops]",
                    "bytes", "live", "cap/held", "tombst.", "ops/s"
                ));
            }
            lines.extend(r.maps.iter().map(|m| {
                let ops = m
                    .ops
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{}  {:<9} {}{} {}:{}  [{}]",
                    map_numbers(m),
                    m.kind_label(),
                    if m.first_seen_only {
                        "(first seen) "
                    } else {
                        ""
                    },
                    m.created_at.function,
                    m.created_at.file.rsplit('/').next().unwrap_or(""),
                    m.created_at.line,
                    ops
                )
            }));
            (title, lines)
        }
        _ => (
            format!("Findings · {}", r.findings.len()),
            r.findings
                .iter()
                .map(|f| format!("[{}] {}: {}", f.severity, f.kind, f.message))
                .collect(),
        ),
    }
}

/// Held memory by site: the largest holders, then the fastest growing.
fn inuse_lines(r: &Report) -> (String, Vec<String>) {
    let u = &r.inuse;
    let Some(source) = u.source else {
        return (
            "In use · not measured".into(),
            u.unavailable.iter().cloned().collect(),
        );
    };
    let title = format!(
        "In use after GC {} · {} in {} objects · {source}",
        u.gc_cycle.unwrap_or(0),
        human_bytes(u.bytes as f64),
        u.objects
    );
    let row = |s: &tracer::report::InuseSite| {
        format!(
            "{:>10} {:>10} {:>6} {:>20}  {} {}:{}",
            human_bytes(s.inuse_bytes as f64),
            s.inuse_objects,
            s.error_label(),
            s.growth_label(),
            s.site.function,
            s.site.file.rsplit('/').next().unwrap_or(""),
            s.site.line
        )
    };
    let held: Vec<&tracer::report::InuseSite> =
        u.sites.iter().filter(|s| s.inuse_bytes > 0).collect();
    if held.is_empty() {
        return (title, Vec::new());
    }
    let header = format!(
        "{:>10} {:>10} {:>6} {:>20}  site",
        "bytes", "objects", "err", "growth"
    );
    let mut lines = vec!["by bytes held".to_string(), header.clone()];
    lines.extend(held.iter().map(|s| row(s)));
    if let Some(b) = u.unattributed_bytes.filter(|b| *b > 0) {
        lines.push(format!(
            "{:>10} {:>10}  unattributed (allocated before attach, or in classes no window sampled)",
            human_bytes(b as f64),
            u.unattributed_objects.unwrap_or(0)
        ));
    }
    let mut growing: Vec<&&tracer::report::InuseSite> = held
        .iter()
        .filter(|s| s.growth_bytes.is_some_and(|g| g > 0))
        .collect();
    growing.sort_by_key(|s| std::cmp::Reverse(s.growth_bytes));
    if !growing.is_empty() {
        lines.push(String::new());
        lines.push("by growth".into());
        lines.push(header);
        lines.extend(growing.iter().take(10).map(|s| row(s)));
    }
    (title, lines)
}

pub fn render_list(f: &mut Frame, area: Rect, app: &App) {
    let Some(r) = app.latest.as_ref() else {
        let inner = body_block(f, area, app.view.title().to_string());
        message(f, inner, "waiting for data".into());
        return;
    };
    let (title, lines) = lines_for(app.view, r);
    let inner = body_block(f, area, title);
    let shown: Vec<Line> = lines
        .into_iter()
        .filter(|l| app.filter.is_empty() || l.to_lowercase().contains(&app.filter.to_lowercase()))
        .map(Line::from)
        .collect();
    if shown.is_empty() {
        message(
            f,
            inner,
            format!("{}: nothing in this run yet", app.view.title()),
        );
    } else {
        f.render_widget(Paragraph::new(shown), inner);
    }
}
