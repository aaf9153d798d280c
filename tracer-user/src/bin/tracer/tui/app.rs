//! All TUI state and every transition of it. Owned by `Tui`; the render
//! functions only read it.
//!
//! Adding a data source (maps, goroutines, …) means: a field here, filled
//! in `update` from the reports, and a render function in view/. A table
//! view also implements `TableRow` for its rows and returns its table from
//! `current_table`, which gives it sorting, filtering and the cursor.
use std::time::{Duration, Instant};

use super::{
    functions::{self, FuncRow, FuncSort},
    history::History,
    input::Action,
    map_sites::{self, MapSiteKey, MapSiteRow, MapSiteSort},
    sites::{self, AllocSort, SiteKey, SiteRow},
    summary::Summary,
    table::{Table, TableNav},
    TuiCommand,
};
use tracer::report::Report;

pub use super::views::View;

/// What the drill-down shows. Keyed, not positional, so it stays on the
/// same site while refreshes re-sort the table underneath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drill {
    Site(SiteKey),
    Function(String),
    /// A map creation site: its numbers, its maps listed singly, its stack.
    MapSite(MapSiteKey),
}

#[derive(Clone, Copy)]
enum Move {
    By(isize),
    Home,
    End,
}

/// How long a status message stays in the footer.
const STATUS_FOR: Duration = Duration::from_secs(10);

pub struct App {
    pub view: View,
    /// None until the first update.
    pub summary: Option<Summary>,
    pub sites: Table<SiteRow>,
    pub history: History,
    pub functions: Table<FuncRow>,
    /// Maps by creation site, in the report's order.
    pub map_sites: Table<MapSiteRow>,
    /// The applied filter; shared by all views.
    pub filter: String,
    /// Some while a filter is being typed (applied on Enter).
    pub filter_input: Option<String>,
    /// Keep showing the last data: updates are dropped, not queued.
    pub paused: bool,
    pub drill: Option<Drill>,
    /// First stack frame shown in the drill-down.
    pub drill_scroll: usize,
    pub help: bool,
    status: Option<(String, Instant)>,
    /// Table rows that fit on screen, set before each draw; the page size
    /// for PgUp/PgDn.
    pub page: usize,
    /// The last whole-run report (for the list views).
    pub latest: Option<Report>,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    pub fn new() -> App {
        App {
            view: View::Allocations,
            summary: None,
            sites: Table::new(AllocSort::BytesPerSec),
            history: History::default(),
            functions: Table::new(FuncSort::P99),
            map_sites: Table::new(MapSiteSort::Report),
            filter: String::new(),
            filter_input: None,
            paused: false,
            drill: None,
            drill_scroll: 0,
            help: false,
            status: None,
            page: 10,
            latest: None,
        }
    }

    /// New data: `interval` for rates, `total` (the run so far) for totals.
    pub fn update(&mut self, interval: &Report, total: &Report) {
        if self.paused {
            return;
        }
        self.summary = Some(Summary::new(interval, total));
        self.latest = Some(total.clone());
        let rows = sites::rows(interval, total);
        self.history
            .record(rows.iter().map(|r| (&r.key, r.bytes_per_sec)));
        self.sites.set_rows(rows, &self.filter);
        self.functions
            .set_rows(functions::rows(interval, total), &self.filter);
        self.map_sites
            .set_rows(map_sites::rows(total), &self.filter);
        self.drill_scroll = self.drill_scroll.min(self.drill_scroll_max());
    }

    pub fn typing(&self) -> bool {
        self.filter_input.is_some()
    }

    pub fn set_status(&mut self, msg: String) {
        self.status = Some((msg, Instant::now()));
    }

    /// The status message, while it is recent.
    pub fn status(&self) -> Option<&str> {
        self.status
            .as_ref()
            .filter(|(_, at)| at.elapsed() < STATUS_FOR)
            .map(|(m, _)| m.as_str())
    }

    /// Records how many table rows fit, and scrolls the cursor into them.
    pub fn set_page(&mut self, rows: usize) {
        self.page = rows.max(1);
        let page = self.page;
        if let Some(t) = self.current_table() {
            t.scroll_into_view(page);
        }
    }

    /// The current view's table, for views that are tables.
    fn current_table(&mut self) -> Option<&mut dyn TableNav> {
        match self.view {
            View::Allocations => Some(&mut self.sites),
            View::Functions => Some(&mut self.functions),
            // A cursor for Enter, no sorting: the report's order.
            View::Maps => Some(&mut self.map_sites),
            _ => None,
        }
    }

    /// (sort column, reversed) of the current view, if it sorts.
    pub fn sort_label(&self) -> Option<(&'static str, bool)> {
        match self.view {
            View::Allocations => Some(self.sites.sort_label()),
            View::Functions => Some(self.functions.sort_label()),
            _ => None,
        }
    }

    pub fn drilled_site(&self) -> Option<&SiteRow> {
        match &self.drill {
            Some(Drill::Site(key)) => self.sites.rows.iter().find(|r| &r.key == key),
            _ => None,
        }
    }

    pub fn drilled_function(&self) -> Option<&FuncRow> {
        match &self.drill {
            Some(Drill::Function(name)) => self.functions.rows.iter().find(|r| &r.function == name),
            _ => None,
        }
    }

    pub fn drilled_map_site(&self) -> Option<&MapSiteRow> {
        match &self.drill {
            Some(Drill::MapSite(key)) => self.map_sites.rows.iter().find(|r| &r.key == key),
            _ => None,
        }
    }

    fn drill_scroll_max(&self) -> usize {
        let stack = match &self.drill {
            Some(Drill::MapSite(_)) => self.drilled_map_site().map(|r| r.site.stack.len()),
            _ => self.drilled_site().map(|s| s.total.stack.len()),
        };
        stack.map_or(0, |n| n.saturating_sub(1))
    }

    pub fn apply(&mut self, action: Action) -> Option<TuiCommand> {
        if self.help {
            // The overlay hides the table: only close it, or quit.
            match action {
                Action::Quit => return Some(TuiCommand::Quit),
                Action::ToggleHelp | Action::Back => self.help = false,
                _ => {}
            }
            return None;
        }
        if self.typing() {
            self.edit_filter(action);
            return match action {
                Action::Quit => Some(TuiCommand::Quit),
                _ => None,
            };
        }
        match action {
            Action::Quit => return Some(TuiCommand::Quit),
            Action::Flamegraph => return Some(TuiCommand::WriteFlamegraph),
            Action::ToggleHelp => self.help = true,
            Action::ShowView(v) => self.show(v),
            Action::NextView => self.show(self.view.next()),
            Action::PrevView => self.show(self.view.prev()),
            Action::TogglePause => self.paused = !self.paused,
            Action::StartFilter => self.filter_input = Some(self.filter.clone()),
            Action::CycleSort | Action::ReverseSort if self.sort_label().is_none() => {}
            Action::CycleSort => {
                let filter = self.filter.clone();
                if let Some(t) = self.current_table() {
                    t.cycle_sort(&filter);
                }
            }
            Action::ReverseSort => {
                let filter = self.filter.clone();
                if let Some(t) = self.current_table() {
                    t.reverse(&filter);
                }
            }
            Action::Back => {
                if self.drill.take().is_none() && !self.filter.is_empty() {
                    self.set_filter(String::new());
                }
            }
            Action::Open => self.open(),
            Action::Up => self.move_cursor(Move::By(-1)),
            Action::Down => self.move_cursor(Move::By(1)),
            Action::PageUp => self.move_cursor(Move::By(-(self.page as isize))),
            Action::PageDown => self.move_cursor(Move::By(self.page as isize)),
            Action::Home => self.move_cursor(Move::Home),
            Action::End => self.move_cursor(Move::End),
            // Only meaningful while typing.
            Action::FilterChar(_) | Action::FilterBackspace | Action::ApplyFilter => {}
        }
        None
    }

    fn edit_filter(&mut self, action: Action) {
        let Some(input) = self.filter_input.as_mut() else {
            return;
        };
        match action {
            Action::FilterChar(c) => input.push(c),
            Action::FilterBackspace => {
                input.pop();
            }
            Action::ApplyFilter => {
                let text = std::mem::take(input);
                self.filter_input = None;
                self.set_filter(text.trim().to_string());
            }
            Action::Back => {
                self.filter_input = None;
                self.set_filter(String::new());
            }
            _ => {}
        }
    }

    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        for t in [
            &mut self.sites as &mut dyn TableNav,
            &mut self.functions as &mut dyn TableNav,
            &mut self.map_sites as &mut dyn TableNav,
        ] {
            t.reorder(&self.filter);
            t.home();
        }
    }

    fn show(&mut self, view: View) {
        self.view = view;
        self.drill = None;
    }

    fn open(&mut self) {
        self.drill = match self.view {
            View::Allocations => self
                .sites
                .selected_row()
                .map(|r| Drill::Site(r.key.clone())),
            View::Functions => self
                .functions
                .selected_row()
                .map(|r| Drill::Function(r.function.clone())),
            View::Maps => self
                .map_sites
                .selected_row()
                .map(|r| Drill::MapSite(r.key.clone())),
            _ => None,
        };
        self.drill_scroll = 0;
    }

    /// Moves the table cursor, or scrolls the stack when drilled in.
    fn move_cursor(&mut self, m: Move) {
        if self.drill.is_some() {
            let max = self.drill_scroll_max();
            self.drill_scroll = match m {
                Move::By(d) => self.drill_scroll.saturating_add_signed(d).min(max),
                Move::Home => 0,
                Move::End => max,
            };
        } else if let Some(t) = self.current_table() {
            match m {
                Move::By(d) => t.move_by(d),
                Move::Home => t.home(),
                Move::End => t.end(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{pair, report, site};

    fn app() -> App {
        let mut app = App::new();
        let (interval, total) = pair(0);
        app.update(&interval, &total);
        app
    }

    fn functions_of(app: &App) -> Vec<&str> {
        app.sites
            .order
            .iter()
            .map(|&i| app.sites.rows[i].key.function.as_str())
            .collect()
    }

    fn type_filter(app: &mut App, text: &str) {
        app.apply(Action::StartFilter);
        for c in text.chars() {
            app.apply(Action::FilterChar(c));
        }
    }

    #[test]
    fn rates_come_from_the_interval_totals_from_the_run() {
        let app = app();
        let top = app.sites.selected_row().expect("a row");
        assert_eq!(top.key.function, "main.(*Server).handle");
        assert_eq!(top.bytes_per_sec, 2048.0 * 1024.0);
        assert_eq!(top.total.objects, 194_560);
        let idle = app
            .sites
            .rows
            .iter()
            .find(|r| r.key.function == "main.loadConfig");
        assert_eq!(idle.map(|r| r.bytes_per_sec), Some(0.0));
        let s = app.summary.as_ref().expect("summary");
        assert_eq!((s.pid, s.uptime_ns), (1234, 95_000_000_000));
    }

    #[test]
    fn sort_cycles_and_reverses() {
        let mut app = app();
        assert_eq!(app.sort_label(), Some(("bytes/s", false)));
        app.apply(Action::CycleSort);
        assert_eq!(app.sort_label(), Some(("obj/s", false)));
        app.apply(Action::ReverseSort);
        assert_eq!(app.sort_label(), Some(("obj/s", true)));
        assert_eq!(functions_of(&app)[0], "main.loadConfig");
        for _ in 0..5 {
            app.apply(Action::CycleSort);
        }
        assert_eq!(app.sort_label(), Some(("bytes/s", false)));
        // Each view keeps its own sort.
        app.apply(Action::ShowView(View::Functions));
        assert_eq!(app.sort_label(), Some(("p99", false)));
        app.apply(Action::CycleSort);
        assert_eq!(app.sort_label(), Some(("p50", false)));
        app.apply(Action::ShowView(View::Maps));
        assert_eq!(app.sort_label(), None);
        app.apply(Action::CycleSort);
        app.apply(Action::ShowView(View::Allocations));
        assert_eq!(app.sort_label(), Some(("bytes/s", false)));
    }

    #[test]
    fn filter_applies_on_enter_and_esc_clears() {
        let mut app = app();
        type_filter(&mut app, "PARSE");
        assert!(app.typing());
        // Not applied while typing.
        assert_eq!(app.sites.order.len(), 4);
        // Keys that are commands otherwise are text now.
        assert_eq!(app.apply(Action::FilterChar('q')), None);
        app.apply(Action::FilterBackspace);
        app.apply(Action::ApplyFilter);
        assert!(!app.typing());
        assert_eq!(app.filter, "PARSE");
        assert_eq!(functions_of(&app), ["main.parse"]);
        // Matches file names too, and survives updates.
        type_filter(&mut app, "");
        app.apply(Action::FilterBackspace);
        for _ in 0..5 {
            app.apply(Action::FilterBackspace);
        }
        for c in "config.go".chars() {
            app.apply(Action::FilterChar(c));
        }
        app.apply(Action::ApplyFilter);
        let (interval, total) = pair(0);
        app.update(&interval, &total);
        assert_eq!(functions_of(&app), ["main.loadConfig"]);
        // Esc outside the prompt clears the filter.
        app.apply(Action::Back);
        assert_eq!(app.filter, "");
        assert_eq!(app.sites.order.len(), 4);
        // Esc in the prompt clears it too.
        type_filter(&mut app, "json");
        app.apply(Action::Back);
        assert!(!app.typing());
        assert_eq!(app.filter, "");
        // Ctrl-C still quits mid-filter.
        type_filter(&mut app, "x");
        assert_eq!(app.apply(Action::Quit), Some(TuiCommand::Quit));
    }

    #[test]
    fn pause_ignores_updates() {
        let mut app = app();
        app.apply(Action::TogglePause);
        assert!(app.paused);
        let idle = report(1.0, vec![], 5);
        let only = report(
            200.0,
            vec![site("main.other", "/app/o.go", 1, 1, 8, 200.0)],
            5,
        );
        app.update(&idle, &only);
        assert_eq!(app.sites.rows.len(), 4);
        assert_eq!(app.summary.as_ref().map(|s| s.lost_events), Some(0));
        assert_eq!(app.history.len(&app.sites.rows[0].key), 1);
        app.apply(Action::TogglePause);
        app.update(&idle, &only);
        assert_eq!(functions_of(&app), ["main.other"]);
        assert_eq!(app.summary.as_ref().map(|s| s.lost_events), Some(5));
    }

    #[test]
    fn selection_stays_in_bounds() {
        let mut app = app();
        app.apply(Action::Up);
        assert_eq!(app.sites.selected, 0);
        app.apply(Action::PageDown);
        assert_eq!(app.sites.selected, 3);
        app.apply(Action::Down);
        assert_eq!(app.sites.selected, 3);
        app.apply(Action::PageUp);
        assert_eq!(app.sites.selected, 0);
        app.apply(Action::End);
        assert_eq!(app.sites.selected, 3);
        // Fewer rows after an update: the cursor moves onto the last one.
        let (interval, _) = pair(0);
        app.update(&interval, &interval);
        assert_eq!(app.sites.selected, 2);
        app.apply(Action::Home);
        assert_eq!(app.sites.selected, 0);
        // Selection on an empty table is harmless.
        let empty = report(1.0, vec![], 0);
        app.update(&empty, &empty);
        app.apply(Action::Down);
        app.apply(Action::Open);
        assert_eq!(app.drill, None);
    }

    #[test]
    fn drill_down_follows_the_site_not_the_row() {
        let mut app = app();
        app.apply(Action::Down);
        app.apply(Action::Open);
        let key = match &app.drill {
            Some(Drill::Site(k)) => k.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(key.function, "encoding/json.Marshal");
        // Re-sorting underneath does not change what is open.
        app.apply(Action::ReverseSort);
        assert_eq!(app.drilled_site().map(|r| &r.key), Some(&key));
        // Arrows scroll the stack (4 frames) instead of moving the cursor.
        let cursor = app.sites.selected;
        for _ in 0..10 {
            app.apply(Action::Down);
        }
        assert_eq!(app.drill_scroll, 3);
        assert_eq!(app.sites.selected, cursor);
        app.apply(Action::Home);
        assert_eq!(app.drill_scroll, 0);
        // Esc closes it; a second Esc with no filter does nothing.
        app.apply(Action::Back);
        assert_eq!(app.drill, None);
        app.apply(Action::Back);
        // Switching views closes it too.
        app.apply(Action::Open);
        assert!(app.drill.is_some());
        app.apply(Action::NextView);
        assert_eq!((app.view, app.drill.clone()), (View::Functions, None));
        app.apply(Action::Open);
        assert_eq!(
            app.drill,
            Some(Drill::Function("main.(*Server).handle".into()))
        );
    }

    #[test]
    fn views_commands_and_help() {
        let mut app = app();
        app.apply(Action::PrevView);
        assert_eq!(app.view, View::Inuse);
        app.apply(Action::NextView);
        assert_eq!(app.view, View::Allocations);
        assert_eq!(
            app.apply(Action::Flamegraph),
            Some(TuiCommand::WriteFlamegraph)
        );
        assert_eq!(app.apply(Action::Quit), Some(TuiCommand::Quit));
        app.apply(Action::ToggleHelp);
        assert!(app.help);
        // Help swallows other keys (the table is hidden) but not quit.
        app.apply(Action::ShowView(View::Memory));
        assert_eq!(app.view, View::Allocations);
        assert_eq!(app.apply(Action::Quit), Some(TuiCommand::Quit));
        app.apply(Action::Back);
        assert!(!app.help);
    }

    #[test]
    fn status_is_shown_while_fresh() {
        let mut app = App::new();
        assert_eq!(app.status(), None);
        app.set_status("flamegraph written to a.svg".into());
        assert_eq!(app.status(), Some("flamegraph written to a.svg"));
    }
}
