//! The bottom line: the filter being typed, else a fresh status message,
//! else the keys.
use ratatui::{
    layout::Rect,
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::Paragraph,
    Frame,
};

use super::DIM;
use crate::tui::app::App;

const PROMPT: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
const STATUS: Style = Style::new().fg(Color::Green);

pub fn render_footer(f: &mut Frame, area: Rect, app: &App) {
    let line = if let Some(input) = &app.filter_input {
        Line::from(vec![
            Span::styled("filter: ", PROMPT),
            Span::raw(input.clone()),
            // A block cursor: the terminal's own is hidden.
            Span::styled("█", PROMPT),
            Span::styled("  Enter apply · Esc clear", DIM),
        ])
    } else if let Some(status) = app.status() {
        Line::styled(status.to_string(), STATUS)
    } else if app.drill.is_some() {
        Line::styled(
            "Esc back · ↑↓ scroll stack · f flamegraph · ? help · q quit",
            DIM,
        )
    } else {
        Line::styled(
            "? help  q quit  s sort  r reverse  / filter  p pause  Enter drill  f flamegraph",
            DIM,
        )
    };
    f.render_widget(Paragraph::new(line), area);
}
