//! Enter on a row: everything known about one site (or timed function).
use ratatui::{
    layout::{Constraint, Layout, Rect},
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Borders, Paragraph},
    Frame,
};

use super::{body_block, message, stack::render_stack_titled, COLUMN_HEADER, DIM, WIDE};
use crate::tui::{
    app::{App, Drill},
    format::{bar, bytes_rate, human_bytes, human_count, human_ns},
    functions::FuncRow,
    sites::SiteRow,
};
use tracer::tracee::gobin::Frame as GoFrame;

const SITE: Style = Style::new().add_modifier(Modifier::BOLD);

pub fn render_drill(f: &mut Frame, area: Rect, app: &App) {
    match &app.drill {
        Some(Drill::Site(key)) => match app.drilled_site() {
            Some(site) => render_site(f, area, app, site),
            None => {
                let inner = body_block(f, area, format!("Allocations › {}", key.function));
                message(f, inner, "this site is no longer reported".into());
            }
        },
        Some(Drill::Function(name)) => match app.drilled_function() {
            Some(func) => render_function(f, area, func),
            None => {
                let inner = body_block(f, area, format!("Functions › {name}"));
                message(f, inner, "this function is no longer reported".into());
            }
        },
        Some(Drill::MapSite(key)) => match app.drilled_map_site() {
            Some(site) => super::maps::render_map_site(f, area, app, site),
            None => {
                let inner = body_block(f, area, format!("Maps › {}", key.function));
                message(f, inner, "this map site is no longer reported".into());
            }
        },
        None => {}
    }
}

fn render_site(f: &mut Frame, area: Rect, app: &App, r: &SiteRow) {
    let s = &r.total;
    let inner = body_block(f, area, format!("Allocations › {}", s.site.function));
    let mut info = vec![
        Line::from(vec![
            Span::styled(s.site.function.clone(), SITE),
            Span::styled(format!("  {}:{}", s.site.file, s.site.line), DIM),
        ]),
        Line::raw(format!(
            "now    {} · {} obj/s",
            bytes_rate(r.bytes_per_sec),
            human_count(r.objects_per_sec),
        )),
        Line::raw(format!(
            "total  {} · {} objects · {} in size classes",
            human_bytes(s.bytes as f64),
            human_count(s.objects as f64),
            human_bytes(s.slot_bytes as f64),
        )),
        Line::raw(format!(
            "size   avg {} · p50 {} · p99 {} · max {}   {} distinct stack{}",
            human_bytes(s.avg_size),
            human_bytes(s.size_p50 as f64),
            human_bytes(s.size_p99 as f64),
            human_bytes(s.size_max as f64),
            s.stacks,
            if s.stacks == 1 { "" } else { "s" },
        )),
    ];
    if !s.via.is_empty() {
        info.push(Line::raw(format!("via {}", s.via.join(" ← "))));
    }
    let [info_area, rest] =
        Layout::vertical([Constraint::Length(info.len() as u16), Constraint::Min(0)]).areas(inner);
    f.render_widget(Paragraph::new(info), info_area);

    // Side by side when wide; else the stack above the sizes, which get
    // just enough lines for their buckets.
    let hist_lines = (s.size_histogram.len() as u16 + 1).min(8);
    let [stack_area, hist_area] = if area.width >= WIDE {
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(rest)
    } else {
        Layout::vertical([Constraint::Min(3), Constraint::Length(hist_lines)]).areas(rest)
    };
    render_stack(f, stack_area, &s.stack, &s.site, app.drill_scroll);
    render_sizes(f, hist_area, r);
}

/// The heaviest stack, innermost first, the site's frame marked.
fn render_stack(f: &mut Frame, area: Rect, stack: &[GoFrame], site: &GoFrame, scroll: usize) {
    render_stack_titled(f, area, stack, site, scroll, "heaviest");
}

/// Requested sizes over Go's size classes, as horizontal bars.
fn render_sizes(f: &mut Frame, area: Rect, r: &SiteRow) {
    let block = Block::new().borders(Borders::TOP).title(Line::styled(
        "Sizes (requested, ≤ size class)",
        COLUMN_HEADER,
    ));
    let hist = &r.total.size_histogram;
    let max = hist.iter().map(|b| b.count).max().unwrap_or(0);
    let all: u64 = hist.iter().map(|b| b.count).sum();
    let labels: Vec<String> = hist
        .iter()
        .map(|b| format!("≤{}", human_bytes(b.le as f64)))
        .collect();
    let label_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let counts: Vec<String> = hist.iter().map(|b| human_count(b.count as f64)).collect();
    let count_w = counts.iter().map(|c| c.len()).max().unwrap_or(0);
    // label, space, bar, space, count, " 100%"
    let bar_w = (area.width as usize).saturating_sub(label_w + count_w + 8);
    let lines: Vec<Line> = hist
        .iter()
        .zip(labels.iter().zip(&counts))
        .map(|(b, (label, count))| {
            let pct = 100.0 * b.count as f64 / all.max(1) as f64;
            Line::from(vec![
                Span::raw(format!("{label:>label_w$} ")),
                Span::styled(
                    format!("{:<bar_w$}", bar(b.count, max, bar_w)),
                    Style::new().fg(ratatui::style::Color::Cyan),
                ),
                Span::raw(format!(" {count:>count_w$} {pct:>3.0}%")),
            ])
        })
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::styled("no sizes recorded", DIM)]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_function(f: &mut Frame, area: Rect, r: &FuncRow) {
    let inner = body_block(f, area, format!("Functions › {}", r.function));
    let l = &r.latency;
    let show = |v: Option<u64>| l.show(v, human_ns);
    let lines = vec![
        Line::styled(r.function.clone(), SITE),
        Line::raw(format!(
            "calls {} since start · {}/s now",
            r.calls,
            human_count(r.calls_per_sec)
        )),
        Line::raw(format!(
            "latency since start: p50 {} · p90 {} · p99 {} · max {} · mean {}",
            show(l.p50),
            show(l.p90),
            show(l.p99),
            show(l.max),
            show(l.mean.map(|m| m as u64)),
        )),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}
