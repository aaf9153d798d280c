//! The Maps view: one row per map creation site (the report's
//! `map_sites`), and on Enter the site's numbers, its maps listed singly
//! and its stack.
use ratatui::{
    layout::{Constraint, Layout, Rect},
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Borders, Cell, Paragraph, Row, Table},
    Frame,
};

use super::{
    body_block, filter_note, message, stack::render_stack_titled, COLUMN_HEADER, DIM, SELECTED,
    WIDE_TABLE,
};
use crate::tui::{
    app::App,
    format::{human_bytes, human_count, map_costs, map_numbers, short_function, site_place},
    map_sites::MapSiteRow,
};
use tracer::report::MapSite;

const SITE: Style = Style::new().add_modifier(Modifier::BOLD);

struct Column {
    name: &'static str,
    width: u16,
    cell: fn(&MapSite) -> String,
}

/// "≥ 1.2 MiB" when some alive maps were not read in full.
fn site_bytes(s: &MapSite) -> String {
    let b = human_bytes(s.bytes as f64);
    if s.bytes_maps < s.alive {
        format!("≥{b}")
    } else {
        b
    }
}

fn columns(wide: bool) -> Vec<Column> {
    let mut cols = vec![Column {
        name: "created",
        width: 8,
        cell: |s| human_count(s.created as f64),
    }];
    if wide {
        cols.push(Column {
            name: "tracked",
            width: 8,
            cell: |s| human_count(s.tracked as f64),
        });
    }
    cols.push(Column {
        name: "alive",
        width: 7,
        cell: |s| human_count(s.alive as f64),
    });
    if wide {
        cols.push(Column {
            name: "unknown",
            width: 7,
            cell: |s| human_count(s.liveness_unknown as f64),
        });
    }
    cols.extend([
        Column {
            name: "bytes",
            width: 10,
            cell: site_bytes,
        },
        Column {
            name: "live",
            width: 7,
            cell: |s| human_count(s.live_entries as f64),
        },
        Column {
            name: "ops/s",
            width: 7,
            cell: |s| human_count(s.ops_per_sec),
        },
    ]);
    if wide {
        cols.push(Column {
            name: "grows",
            width: 6,
            cell: |s| human_count(s.grows as f64),
        });
    }
    cols
}

/// "swiss    (first seen) pkg.f  dir/file.go:12 · 2 listed": the function
/// first, the file in grey; the kind only when wide.
fn site_cell(s: &MapSite, wide: bool) -> Cell<'static> {
    let f = &s.created_at;
    let file = site_place(&f.file, f.line, wide);
    let mut spans = vec![
        Span::raw(if wide {
            format!("{:<8} ", s.kind_label())
        } else {
            String::new()
        }),
        Span::raw(if s.first_seen_only {
            "(first seen) "
        } else {
            ""
        }),
        Span::raw(short_function(&f.function).to_string()),
        Span::styled(format!("  {file}"), DIM),
    ];
    if s.listed > 0 {
        spans.push(Span::styled(format!(" · {} listed", s.listed), DIM));
    }
    Cell::from(Line::from(spans))
}

pub fn render_map_sites(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.map_sites;
    let (seen, listed) = app
        .latest
        .as_ref()
        .map_or((0, 0), |r| (r.map_totals.tracked, r.maps.len()));
    let title = format!(
        "Maps by creation site · {} sites · {} maps seen · {} listed singly{}",
        t.rows.len(),
        seen,
        listed,
        filter_note(app)
    );
    let inner = body_block(f, area, title);
    if t.order.is_empty() {
        return message(
            f,
            inner,
            format!(
                "no map site matches \"{}\" (Esc clears the filter)",
                app.filter
            ),
        );
    }
    let wide = area.width >= WIDE_TABLE;
    let cols = columns(wide);
    let header = Row::new(
        cols.iter()
            .map(|c| Cell::from(Line::styled(c.name, COLUMN_HEADER).right_aligned()))
            .chain([Cell::from(Line::styled(
                if wide {
                    "kind     created at (Enter: its maps)"
                } else {
                    "created at (Enter: its maps)"
                },
                COLUMN_HEADER,
            ))]),
    );
    let visible = inner.height.saturating_sub(1) as usize;
    let rows = t.window(visible).map(|(pos, r)| {
        let row = Row::new(
            cols.iter()
                .map(|c| Cell::from(Line::from((c.cell)(&r.site)).right_aligned()))
                .chain([site_cell(&r.site, wide)]),
        );
        if pos == t.selected {
            row.style(SELECTED)
        } else {
            row
        }
    });
    let widths = cols
        .iter()
        .map(|c| Constraint::Length(c.width))
        .chain([Constraint::Min(10)]);
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    f.render_widget(table, inner);
}

/// Enter on a site: its numbers, its maps listed singly, its stack.
pub fn render_map_site(f: &mut Frame, area: Rect, app: &App, r: &MapSiteRow) {
    let s = &r.site;
    let inner = body_block(f, area, format!("Maps › {}", s.created_at.function));
    let ops = s
        .ops
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let info = vec![
        Line::from(vec![
            Span::styled(s.created_at.function.clone(), SITE),
            Span::styled(
                format!(
                    "  {}:{}  {}{}",
                    s.created_at.file,
                    s.created_at.line,
                    s.kind_label(),
                    if s.first_seen_only {
                        " · first seen here (created before attach)"
                    } else {
                        ""
                    }
                ),
                DIM,
            ),
        ]),
        Line::raw(format!(
            "created {} · tracked {}: alive {} · gone {} · unknown {}",
            s.created, s.tracked, s.alive, s.gone, s.liveness_unknown
        )),
        Line::raw(format!(
            "bytes {} ({} of {} alive read) · {} live entries{}",
            site_bytes(s),
            s.bytes_maps,
            s.alive,
            s.live_entries,
            match &s.largest_map {
                Some(id) => format!(" · largest {id} {}", human_bytes(s.largest_bytes as f64)),
                None => String::new(),
            }
        )),
        Line::raw(format!(
            "ops {}/s · grows {}{}",
            human_count(s.ops_per_sec),
            s.grows,
            if ops.is_empty() {
                String::new()
            } else {
                format!(" · {ops}")
            }
        )),
    ];
    let maps: Vec<Line> = app
        .latest
        .as_ref()
        .map(|rep| {
            rep.maps
                .iter()
                .filter(|m| r.key.holds(m))
                .flat_map(|m| {
                    let costs = map_costs(m);
                    let mut lines = vec![Line::raw(format!("{}  {}", map_numbers(m), m.id))];
                    if !costs.is_empty() {
                        lines.push(Line::styled(format!("           {costs}"), DIM));
                    }
                    lines
                })
                .collect()
        })
        .unwrap_or_default();
    let list_title = if maps.is_empty() {
        "Maps listed singly: none (none ≥ 64 KiB, ≥ 1,000 entries or ops, long-lived, or in a finding)"
            .to_string()
    } else {
        format!("Maps listed singly ({})", maps.len())
    };
    let mut maps = maps;
    if !maps.is_empty() {
        maps.insert(
            0,
            Line::styled(
                format!(
                    "{:>10} {:>9} {:>10} {:>8} {:>9}  id",
                    "bytes", "live", "cap/held", "tombst.", "ops/s"
                ),
                DIM,
            ),
        );
    }
    let list_lines = 1 + maps.len().min(9) as u16;
    let [info_area, list_area, stack_area] = Layout::vertical([
        Constraint::Length(info.len() as u16),
        Constraint::Length(list_lines),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(info), info_area);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::styled(list_title, COLUMN_HEADER));
    f.render_widget(Paragraph::new(maps).block(block), list_area);
    render_stack_titled(
        f,
        stack_area,
        &s.stack,
        &s.created_at,
        app.drill_scroll,
        "its largest map's",
    );
}
