//! The three header lines: what is traced, what tracing costs, which view.
use ratatui::{
    layout::Rect,
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::Paragraph,
    Frame,
};

use super::{
    app::{App, View},
    format::{human_count, uptime},
    summary::Summary,
};

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const ALERT: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
const PAUSED: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
const TAB: Style = Style::new().fg(Color::Gray);
const CURRENT_TAB: Style = Style::new()
    .add_modifier(Modifier::REVERSED)
    .add_modifier(Modifier::BOLD);

pub fn render_header(f: &mut Frame, area: Rect, app: &App) {
    let (target, cost) = match &app.summary {
        Some(s) => (target_line(s, app.paused), cost_line(s)),
        None => (
            Line::from(vec![
                Span::styled("tracer", BOLD),
                Span::raw("  waiting for the first report…"),
            ]),
            Line::default(),
        ),
    };
    let tabs = tabs_line(app, area.width);
    f.render_widget(Paragraph::new(vec![target, cost, tabs]), area);
}

/// "tracer  pid 1234  server go1.22.3  mode exact  up 3m07s  PAUSED"
fn target_line(s: &Summary, paused: bool) -> Line<'static> {
    // The exe's base name: full paths would push everything else off an
    // 80-column screen, and the pid identifies the process anyway.
    let exe = s.exe.rsplit('/').next().unwrap_or(&s.exe).to_string();
    let mode = if s.sample_rate > 1 {
        format!("mode {} 1/{}", s.mode, s.sample_rate)
    } else {
        format!("mode {}", s.mode)
    };
    let mut spans = vec![
        Span::styled("tracer", BOLD),
        Span::raw("  "),
        Span::styled(format!("pid {}", s.pid), BOLD),
        Span::raw(format!("  {exe} {}", s.go_version)),
        Span::raw(if s.stripped { " (stripped)" } else { "" }),
        Span::raw(format!("  {mode}  up {}", uptime(s.uptime_ns))),
    ];
    if paused {
        spans.extend([Span::raw("  "), Span::styled(" PAUSED ", PAUSED)]);
    }
    if s.exited {
        spans.extend([Span::raw("  "), Span::styled("TARGET EXITED", ALERT)]);
    }
    Line::from(spans)
}

/// "probes 46.1k hits/s  est. slowdown 2.1%  tracer 0.6% CPU  lost events 0"
fn cost_line(s: &Summary) -> Line<'static> {
    let loss = |n: u64| if n > 0 { ALERT } else { Style::new() };
    let governor = match s.governor {
        Some((budget, duty)) => format!(
            " (budget {budget:.0}%, probes on {duty:.1}% of the time{})",
            if s.shed.is_empty() {
                String::new()
            } else {
                format!("; shed: {}", s.shed.join(", "))
            }
        ),
        None => String::new(),
    };
    // A nearly idle target's CPU time is tiny: a percentage of it says
    // little; its budget is that of 1 % of a CPU.
    let cost = match s.target_cpus {
        Some(cpus) if cpus < tracer::sampling::IDLE_FLOOR => format!(
            "near idle ({:.2}% of a CPU): probes {:.2} ms/s",
            100.0 * cpus,
            s.probe_ms_per_sec
        ),
        _ => format!(
            "est. slowdown {}{:.1}%",
            if s.slowdown_lower_bound { "≥ " } else { "" },
            s.slowdown_pct
        ),
    };
    let mut spans = vec![
        Span::raw(format!(
            "probes {} hits/s  {cost}{governor}  tracer {:.1}% CPU  ",
            human_count(s.probe_hits_per_sec),
            s.tracer_cpu_pct,
        )),
        Span::styled(
            format!("lost events {}", s.lost_events),
            loss(s.lost_events),
        ),
    ];
    // Only worth the space when it happened.
    if s.stack_drops > 0 {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!("stack drops {}", s.stack_drops),
            ALERT,
        ));
    }
    Line::from(spans)
}

/// "1 Allocations  2 Functions  …  sort bytes/s ↓". When that does not fit,
/// other views shrink to "2 Func": the current one keeps its full title.
fn tabs_line(app: &App, width: u16) -> Line<'static> {
    let sort = match app.sort_label() {
        Some((col, reversed)) => format!("  sort {col} {}", if reversed { "↑" } else { "↓" }),
        None => String::new(),
    };
    let tab = |v: View, short: bool| {
        let title = v.title();
        let title = if short && v != app.view {
            &title[..4]
        } else {
            title
        };
        format!("{} {title}", v.index() + 1)
    };
    let full: usize = View::ALL
        .iter()
        .map(|&v| tab(v, false).chars().count() + 2)
        .sum::<usize>()
        + sort.chars().count();
    let short = full > width as usize;
    let mut spans = Vec::new();
    for v in View::ALL {
        let style = if v == app.view { CURRENT_TAB } else { TAB };
        spans.push(Span::styled(format!(" {} ", tab(v, short)), style));
    }
    spans.push(Span::styled(sort, BOLD));
    Line::from(spans)
}
