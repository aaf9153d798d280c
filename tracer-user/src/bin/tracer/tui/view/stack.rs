//! A stack panel, innermost frame first: shared by the drill-downs.
use ratatui::{
    layout::Rect,
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Borders, Paragraph},
    Frame,
};

use super::{COLUMN_HEADER, DIM};
use tracer::tracee::gobin::Frame as GoFrame;

use crate::tui::format::file_line;

const SITE: Style = Style::new().add_modifier(Modifier::BOLD);

/// A stack, innermost first, the site's frame marked; `which` says which
/// of the site's stacks it is.
pub(super) fn render_stack_titled(
    f: &mut Frame,
    area: Rect,
    stack: &[GoFrame],
    site: &GoFrame,
    scroll: usize,
    which: &str,
) {
    let block = Block::new().borders(Borders::TOP).title(Line::styled(
        format!("Stack ({} frames, {which}, innermost first)", stack.len()),
        COLUMN_HEADER,
    ));
    let lines: Vec<Line> = if stack.is_empty() {
        vec![Line::styled("no stack recorded for this site", DIM)]
    } else {
        stack
            .iter()
            .skip(scroll)
            .take(area.height as usize)
            .map(|fr| {
                let is_site = fr == site;
                let runtime = fr.function.starts_with("runtime.");
                let name_style = match (is_site, runtime) {
                    (true, _) => SITE,
                    (false, true) => DIM,
                    _ => Style::new(),
                };
                Line::from(vec![
                    Span::raw(if is_site { "▶ " } else { "  " }),
                    Span::styled(fr.function.clone(), name_style),
                    Span::styled(
                        format!(
                            "  {}{}",
                            file_line(&fr.file, fr.line),
                            if fr.inlined { " (inlined)" } else { "" }
                        ),
                        DIM,
                    ),
                ])
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines).block(block), area);
}
