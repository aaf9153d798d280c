//! The Functions view: latency of the functions timed with --time.
use ratatui::{
    layout::{Constraint, Rect},
    text::Line,
    widgets::{Cell, Row, Table},
    Frame,
};

use super::{body_block, filter_note, message, sort_header, SELECTED};
use crate::tui::{
    app::App,
    format::{human_count, human_ns, short_function},
    functions::{FuncRow, FuncSort},
};

struct Column {
    name: &'static str,
    sort: FuncSort,
    width: Constraint,
    cell: fn(&FuncRow) -> String,
}

const COLUMNS: [Column; 7] = [
    Column {
        name: "calls/s",
        sort: FuncSort::CallsPerSec,
        width: Constraint::Length(8),
        cell: |r| human_count(r.calls_per_sec),
    },
    Column {
        name: "calls",
        sort: FuncSort::Calls,
        width: Constraint::Length(8),
        cell: |r| human_count(r.calls as f64),
    },
    Column {
        name: "p50",
        sort: FuncSort::P50,
        width: Constraint::Length(9),
        cell: |r| r.latency.show(r.latency.p50, human_ns),
    },
    Column {
        name: "p99",
        sort: FuncSort::P99,
        width: Constraint::Length(9),
        cell: |r| r.latency.show(r.latency.p99, human_ns),
    },
    Column {
        name: "max",
        sort: FuncSort::Max,
        width: Constraint::Length(9),
        cell: |r| r.latency.show(r.latency.max, human_ns),
    },
    Column {
        name: "mean",
        sort: FuncSort::Mean,
        width: Constraint::Length(9),
        cell: |r| r.latency.show(r.latency.mean.map(|m| m as u64), human_ns),
    },
    Column {
        name: "function",
        sort: FuncSort::Function,
        width: Constraint::Min(10),
        cell: |r| short_function(&r.function).to_string(),
    },
];

pub fn render_functions(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.functions;
    let title = format!(
        "Functions · {} timed · latency since start{}",
        t.rows.len(),
        filter_note(app)
    );
    let inner = body_block(f, area, title);
    if app.summary.is_none() {
        return message(f, inner, "waiting for the first report…".into());
    }
    if t.order.is_empty() {
        let why = if t.rows.is_empty() {
            "no functions timed: start tracer with --time FUNC (e.g. --time main.handle)".into()
        } else {
            format!(
                "no function matches \"{}\" (Esc clears the filter)",
                app.filter
            )
        };
        return message(f, inner, why);
    }
    let header = Row::new(COLUMNS.iter().map(|c| {
        let sorted = (c.sort == t.sort.column).then_some(t.sort.reversed);
        let line = sort_header(c.name, sorted);
        if c.sort == FuncSort::Function {
            Cell::from(line)
        } else {
            Cell::from(line.right_aligned())
        }
    }));
    let visible = inner.height.saturating_sub(1) as usize;
    let rows = t.window(visible).map(|(pos, r)| {
        let row = Row::new(COLUMNS.iter().map(|c| {
            let text = (c.cell)(r);
            if c.sort == FuncSort::Function {
                Cell::from(text)
            } else {
                Cell::from(Line::from(text).right_aligned())
            }
        }));
        if pos == t.selected {
            row.style(SELECTED)
        } else {
            row
        }
    });
    let table = Table::new(rows, COLUMNS.iter().map(|c| c.width))
        .header(header)
        .column_spacing(1);
    f.render_widget(table, inner);
}
