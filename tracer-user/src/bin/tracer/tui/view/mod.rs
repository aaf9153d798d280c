//! Drawing: one pure function per pane, reading `App` only. The screen is
//! header (3 lines), body (the current view or a drill-down), footer (1
//! line); help is an overlay.
mod allocations;
mod drill;
mod footer;
mod functions;
mod help;
mod lists;
mod maps;
mod stack;

use ratatui::{
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, Borders, Paragraph},
    Frame,
};

use super::{
    app::{App, View},
    header::render_header,
};

const HEADER_LINES: u16 = 3;

pub fn render(f: &mut Frame, app: &App) {
    let [header, body, footer] = layout(f.area());
    render_header(f, header, app);
    if app.drill.is_some() {
        drill::render_drill(f, body, app);
    } else {
        match app.view {
            View::Allocations => allocations::render_allocations(f, body, app),
            View::Functions => functions::render_functions(f, body, app),
            // Reports without sites (older JSON) keep the per-map list.
            View::Maps if !app.map_sites.rows.is_empty() => maps::render_map_sites(f, body, app),
            View::Maps | View::Goroutines | View::Memory | View::Inuse | View::Findings => {
                lists::render_list(f, body, app)
            }
        }
    }
    footer::render_footer(f, footer, app);
    if app.help {
        help::render_help(f, f.area());
    }
}

fn layout(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(HEADER_LINES),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Data rows a table view shows in a screen of `area`: the body less its
/// title line and the column header. Must match what the table renders.
pub fn table_rows(area: Rect) -> usize {
    let [_, body, _] = layout(area);
    body.height.saturating_sub(2) as usize
}

/// Wide enough to put drill-down panes side by side.
const WIDE: u16 = 100;
/// Wide enough for every allocation column with room left for the site;
/// below it the table drops total objects and average size.
const WIDE_TABLE: u16 = 120;

const DIM: Style = Style::new().fg(Color::DarkGray);
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const COLUMN_HEADER: Style = Style::new().add_modifier(Modifier::BOLD);
const SORTED_HEADER: Style = Style::new()
    .fg(Color::Cyan)
    .add_modifier(Modifier::BOLD.union(Modifier::UNDERLINED));

/// The body's frame: a title line naming the view (stable text that tests
/// and users grep for), then the content area it returns.
fn body_block(f: &mut Frame, area: Rect, title: String) -> Rect {
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::styled(title, COLUMN_HEADER));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// A one-line explanation in place of an empty table.
fn message(f: &mut Frame, area: Rect, text: String) {
    f.render_widget(Paragraph::new(Line::styled(text, DIM)), area);
}

/// " · filter "x"" for titles, so a filtered table never looks complete.
fn filter_note(app: &App) -> String {
    if app.filter.is_empty() {
        String::new()
    } else {
        format!(" · filter \"{}\"", app.filter)
    }
}

/// Header cell for a sortable column, marked when it is the sort key.
fn sort_header(name: &'static str, sorted: Option<bool>) -> Line<'static> {
    match sorted {
        None => Line::styled(name, COLUMN_HEADER),
        Some(reversed) => Line::styled(
            format!("{name}{}", if reversed { "↑" } else { "↓" }),
            SORTED_HEADER,
        ),
    }
}

#[cfg(test)]
mod tests;
