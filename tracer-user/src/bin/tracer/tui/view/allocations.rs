//! The Allocations view: one row per allocation site.
use ratatui::{
    layout::{Constraint, Rect},
    text::{Line, Span},
    widgets::{Cell, Row, Table},
    Frame,
};

use super::{body_block, filter_note, message, sort_header, DIM, SELECTED, WIDE_TABLE};
use crate::tui::{
    app::App,
    format::{bytes_rate, human_bytes, human_count, short_function, site_place, sparkline},
    sites::{AllocSort, SiteRow},
};

/// A column: its header, the sort key it shows, its width, and its cell
/// (given the column's width when fixed, for the sparkline).
struct Column {
    name: &'static str,
    sort: Option<AllocSort>,
    width: Constraint,
    cell: fn(&SiteRow, &App, usize) -> Cell<'static>,
}

fn right(s: String) -> Cell<'static> {
    Cell::from(Line::from(s).right_aligned())
}

fn columns(wide: bool) -> Vec<Column> {
    let spark = if wide { 16 } else { 8 };
    let mut cols = vec![
        Column {
            name: "obj/s",
            sort: Some(AllocSort::ObjectsPerSec),
            width: Constraint::Length(7),
            cell: |r, _, _| right(human_count(r.objects_per_sec)),
        },
        Column {
            name: "bytes/s",
            sort: Some(AllocSort::BytesPerSec),
            width: Constraint::Length(12),
            cell: |r, _, _| right(bytes_rate(r.bytes_per_sec)),
        },
    ];
    if wide {
        cols.push(Column {
            name: "objects",
            sort: Some(AllocSort::Objects),
            width: Constraint::Length(8),
            cell: |r, _, _| right(human_count(r.total.objects as f64)),
        });
    }
    cols.push(Column {
        name: "bytes",
        sort: Some(AllocSort::Bytes),
        width: Constraint::Length(10),
        cell: |r, _, _| right(human_bytes(r.total.bytes as f64)),
    });
    if wide {
        cols.push(Column {
            name: "avg",
            sort: Some(AllocSort::AvgSize),
            width: Constraint::Length(10),
            cell: |r, _, _| right(human_bytes(r.total.avg_size)),
        });
    }
    cols.push(Column {
        name: if wide { "bytes/s history" } else { "history" },
        sort: None,
        width: Constraint::Length(spark),
        cell: |r, app, width| {
            let h = &app.history;
            Cell::from(sparkline(h.samples(&r.key), h.len(&r.key), width))
        },
    });
    cols.push(Column {
        name: "site",
        sort: Some(AllocSort::Site),
        width: Constraint::Min(10),
        cell: if wide {
            |r, _, _| site_cell(r, true)
        } else {
            |r, _, _| site_cell(r, false)
        },
    });
    cols
}

/// "pkg.(*T).Method  http/server.go:42  via io.ReadAll": the function
/// first, as Go engineers know sites by name; the file in grey for
/// locating it. Narrow screens get the file's base name and no "via".
fn site_cell(r: &SiteRow, wide: bool) -> Cell<'static> {
    let f = &r.total.site;
    let file = site_place(&f.file, f.line, wide);
    let mut spans = vec![
        Span::raw(short_function(&f.function).to_string()),
        Span::styled(format!("  {file}"), DIM),
    ];
    // The library that allocated on the site's behalf (io.ReadAll, …)
    // explains sites whose own line looks allocation-free.
    if let (true, Some(via)) = (wide, r.total.via.first()) {
        spans.push(Span::styled(format!("  via {}", short_function(via)), DIM));
    }
    Cell::from(Line::from(spans))
}

pub fn render_allocations(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.sites;
    let rates = app
        .summary
        .as_ref()
        .map(|s| {
            format!(
                " · {} · {} obj/s",
                bytes_rate(s.bytes_per_sec),
                human_count(s.objects_per_sec)
            )
        })
        .unwrap_or_default();
    let error = app
        .summary
        .as_ref()
        .and_then(|s| s.est_error_pct)
        .map(|e| format!(" · sampled, top share ±{e:.0}%"))
        .unwrap_or_default();
    let title = format!(
        "Allocations · {} sites{rates}{error}{}",
        t.rows.len(),
        filter_note(app)
    );
    let mut inner = body_block(f, area, title);
    // Allocations no sampling window saw: one line of its own under the
    // sites, never a site and never sorted among them.
    if let Some(s) = app
        .summary
        .as_ref()
        .filter(|s| s.unattributed_per_sec > 0.0)
    {
        if inner.height >= 3 {
            inner.height -= 1;
            let line = Line::from(Span::styled(
                format!(
                    "unattributed {} obj/s ({:.1}% of allocations: no sampling window saw them)",
                    human_count(s.unattributed_per_sec),
                    100.0 * s.unattributed_share
                ),
                DIM,
            ));
            let at = Rect {
                y: inner.y + inner.height,
                height: 1,
                ..inner
            };
            f.render_widget(line, at);
        }
    }
    if app.summary.is_none() {
        return message(f, inner, "waiting for the first report…".into());
    }
    if t.order.is_empty() {
        let why = if t.rows.is_empty() {
            "no allocations seen yet".to_string()
        } else {
            format!("no site matches \"{}\" (Esc clears the filter)", app.filter)
        };
        return message(f, inner, why);
    }
    let cols = columns(area.width >= WIDE_TABLE);
    let header = Row::new(cols.iter().map(|c| {
        let sorted = c
            .sort
            .filter(|&s| s == t.sort.column)
            .map(|_| t.sort.reversed);
        let line = sort_header(c.name, sorted);
        // Numbers are right-aligned; so are their headers.
        if c.sort.is_some() && c.sort != Some(AllocSort::Site) {
            Cell::from(line.right_aligned())
        } else {
            Cell::from(line)
        }
    }));
    let visible = inner.height.saturating_sub(1) as usize;
    let rows = t.window(visible).map(|(pos, r)| {
        let row = Row::new(cols.iter().map(|c| (c.cell)(r, app, fixed_width(c.width))));
        if pos == t.selected {
            row.style(SELECTED)
        } else {
            row
        }
    });
    let table = Table::new(rows, cols.iter().map(|c| c.width))
        .header(header)
        .column_spacing(1);
    f.render_widget(table, inner);
}

fn fixed_width(c: Constraint) -> usize {
    match c {
        Constraint::Length(n) => n as usize,
        _ => 0,
    }
}
