//! The `?` overlay: every key, in one box.
use ratatui::{
    layout::{Constraint, Flex, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, Clear, Paragraph},
    Frame,
};

use super::COLUMN_HEADER;

const KEYS: [(&str, &str); 14] = [
    ("1-7, Tab", "switch view (Shift-Tab: back)"),
    ("s", "sort by the next column"),
    ("r", "reverse the sort"),
    ("/", "filter by text (Enter apply, Esc clear)"),
    ("p", "pause / resume updates"),
    ("↑ ↓ PgUp PgDn", "select a row (also j k, g G)"),
    ("Enter", "details: stack, sizes, latency"),
    ("", "in Maps: a creation site's maps"),
    ("Esc", "close details / clear filter"),
    ("f", "write a flame graph of allocations"),
    ("?", "show / hide this help"),
    ("q, Ctrl-C", "quit"),
    ("", ""),
    ("", "rates: last interval · totals: since start"),
];

pub fn render_help(f: &mut Frame, area: Rect) {
    let width = 60.min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<14}"), COLUMN_HEADER),
                Span::raw(*what),
            ])
        })
        .collect();
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Help — keys ")),
        popup,
    );
}
