//! Views whose data source does not exist yet. Each gets its own render
//! function when its data arrives (see app.rs).
use ratatui::{layout::Rect, Frame};

use super::{body_block, message};
use crate::tui::app::View;

pub fn render_placeholder(f: &mut Frame, area: Rect, view: View) {
    let inner = body_block(f, area, view.title().to_string());
    message(
        f,
        inner,
        format!("{}: not collected yet in this version", view.title()),
    );
}
