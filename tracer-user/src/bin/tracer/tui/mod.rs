//! The live, top-style terminal UI (`--format tui`).
//!
//! The run loop owns the `Tui`: it calls `update` with each interval's
//! reports, feeds it terminal events from `spawn_input`, calls `draw`
//! after either, and carries out the `TuiCommand`s `on_event` returns.
//! All state is in `App`, changed only through `update` and `on_event`;
//! the view functions draw it without changing it.
mod app;
mod format;
mod functions;
mod header;
mod history;
mod input;
mod map_sites;
mod reader;
mod sites;
mod summary;
mod table;
mod terminal;
mod view;
mod views;

use std::io::{self, Stdout};

use crossterm::event::Event;
use ratatui::{
    backend::{Backend, CrosstermBackend},
    layout::Rect,
    Terminal,
};

pub use reader::spawn_input;

use app::App;
use terminal::TerminalGuard;
use tracer::report::Report;

/// What the run loop must do on the TUI's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuiCommand {
    /// `q` or Ctrl-C (raw mode delivers it as a key, not SIGINT).
    Quit,
    /// `f`: write a flame graph of the run's allocations; report where with
    /// `set_status`.
    WriteFlamegraph,
}

pub struct Tui {
    // Declared before the guard: the terminal is dropped first, while the
    // screen is still ours.
    terminal: Terminal<CrosstermBackend<Stdout>>,
    app: App,
    _guard: TerminalGuard,
}

impl Tui {
    /// Raw mode, alternate screen, hidden cursor; all undone when the `Tui`
    /// is dropped or the process panics.
    pub fn start() -> io::Result<Tui> {
        let guard = TerminalGuard::enter()?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Tui {
            terminal,
            app: App::new(),
            _guard: guard,
        })
    }

    /// New data: `interval` for rates and history, `total` (the run so far)
    /// for totals. Ignored while paused.
    pub fn update(&mut self, interval: &Report, total: &Report) {
        self.app.update(interval, total);
    }

    /// Keys change the state; resizes need nothing here, as `draw` adapts
    /// to the new size. Either way, call `draw` after.
    pub fn on_event(&mut self, ev: Event) -> Option<TuiCommand> {
        match ev {
            Event::Key(key) => {
                let action = input::map_key(key, self.app.typing())?;
                self.app.apply(action)
            }
            _ => None,
        }
    }

    pub fn draw(&mut self) -> io::Result<()> {
        draw(&mut self.terminal, &mut self.app)
    }

    /// One line in the footer for a few seconds, e.g. where the flame
    /// graph went.
    pub fn set_status(&mut self, msg: String) {
        self.app.set_status(msg);
    }
}

/// Fits the scroll position to the screen, then draws. Generic so tests
/// draw the same way on a `TestBackend`.
fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> io::Result<()> {
    let size = terminal.size()?;
    app.set_page(view::table_rows(Rect::new(0, 0, size.width, size.height)));
    terminal.draw(|f| view::render(f, app))?;
    Ok(())
}

#[cfg(test)]
mod fixtures;
