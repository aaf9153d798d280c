//! A sortable, filterable list with a cursor: the state behind every table
//! view. Rows are replaced each interval; the order (filter + sort) is
//! computed then, so drawing only slices the visible window out of it.
use std::cmp::Ordering;

/// A column a table can be sorted by.
pub trait SortColumn: Copy + Eq + std::fmt::Debug {
    /// The column `s` moves to next (wraps around).
    fn next(self) -> Self;
    /// As shown in the header ("sort bytes/s").
    fn label(self) -> &'static str;
}

pub trait TableRow {
    type Column: SortColumn;
    /// Natural order for `col`: most interesting first (largest numbers,
    /// names A→Z). Must be total and deterministic, so that equal rates do
    /// not swap places on every refresh.
    fn compare(&self, other: &Self, col: Self::Column) -> Ordering;
    /// Whether the row matches a filter, given in lower case.
    fn matches(&self, needle: &str) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<C> {
    pub column: C,
    /// Flips the natural order (`r`).
    pub reversed: bool,
}

pub struct Table<R: TableRow> {
    pub rows: Vec<R>,
    /// Indices into `rows`: those matching the filter, in sort order.
    pub order: Vec<usize>,
    pub sort: Sort<R::Column>,
    /// Cursor, as a position in `order`.
    pub selected: usize,
    /// First position in `order` on screen.
    pub offset: usize,
}

impl<R: TableRow> Table<R> {
    pub fn new(column: R::Column) -> Self {
        Table {
            rows: Vec::new(),
            order: Vec::new(),
            sort: Sort {
                column,
                reversed: false,
            },
            selected: 0,
            offset: 0,
        }
    }

    pub fn set_rows(&mut self, rows: Vec<R>, filter: &str) {
        self.rows = rows;
        self.reorder(filter);
    }

    pub fn selected_row(&self) -> Option<&R> {
        self.order.get(self.selected).map(|&i| &self.rows[i])
    }

    /// The rows on screen: (position in `order`, row), at most `visible`.
    pub fn window(&self, visible: usize) -> impl Iterator<Item = (usize, &R)> {
        let start = self.offset.min(self.order.len());
        let end = (start + visible).min(self.order.len());
        self.order[start..end]
            .iter()
            .enumerate()
            .map(move |(k, &i)| (start + k, &self.rows[i]))
    }
}

/// What the app does to whichever table the current view shows, without
/// knowing its row type: a new table view only implements `TableRow`.
pub trait TableNav {
    /// Recomputes the order after the rows, sort or filter changed. The
    /// cursor keeps its position (top-style), clamped to the new length.
    fn reorder(&mut self, filter: &str);
    fn cycle_sort(&mut self, filter: &str);
    fn reverse(&mut self, filter: &str);
    /// Moves the cursor by `delta` rows, stopping at either end.
    fn move_by(&mut self, delta: isize);
    fn home(&mut self);
    fn end(&mut self);
    /// Scrolls the least needed for the cursor to be among `visible` rows.
    fn scroll_into_view(&mut self, visible: usize);
    /// (column label, reversed), for the header.
    fn sort_label(&self) -> (&'static str, bool);
}

impl<R: TableRow> TableNav for Table<R> {
    fn reorder(&mut self, filter: &str) {
        let needle = filter.to_lowercase();
        let rows = &self.rows;
        self.order = (0..rows.len())
            .filter(|&i| needle.is_empty() || rows[i].matches(&needle))
            .collect();
        let Sort { column, reversed } = self.sort;
        self.order.sort_by(|&a, &b| {
            let o = rows[a].compare(&rows[b], column);
            if reversed {
                o.reverse()
            } else {
                o
            }
        });
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
        self.offset = self.offset.min(self.selected);
    }

    fn cycle_sort(&mut self, filter: &str) {
        self.sort.column = self.sort.column.next();
        self.sort.reversed = false;
        self.reorder(filter);
    }

    fn reverse(&mut self, filter: &str) {
        self.sort.reversed = !self.sort.reversed;
        self.reorder(filter);
    }

    fn move_by(&mut self, delta: isize) {
        let last = self.order.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    fn home(&mut self) {
        self.selected = 0;
    }

    fn end(&mut self) {
        self.selected = self.order.len().saturating_sub(1);
    }

    fn scroll_into_view(&mut self, visible: usize) {
        let visible = visible.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + visible {
            self.offset = self.selected + 1 - visible;
        }
        // After a shrink, show a full page rather than a tail of blanks.
        self.offset = self
            .offset
            .min(self.order.len().saturating_sub(visible))
            .min(self.selected);
    }

    fn sort_label(&self) -> (&'static str, bool) {
        (self.sort.column.label(), self.sort.reversed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Col {
        Value,
        Name,
    }

    impl SortColumn for Col {
        fn next(self) -> Self {
            match self {
                Col::Value => Col::Name,
                Col::Name => Col::Value,
            }
        }
        fn label(self) -> &'static str {
            match self {
                Col::Value => "value",
                Col::Name => "name",
            }
        }
    }

    struct Row(&'static str, u64);

    impl TableRow for Row {
        type Column = Col;
        fn compare(&self, other: &Self, col: Col) -> Ordering {
            match col {
                Col::Value => other.1.cmp(&self.1),
                Col::Name => self.0.cmp(other.0),
            }
        }
        fn matches(&self, needle: &str) -> bool {
            self.0.contains(needle)
        }
    }

    fn names(t: &Table<Row>) -> Vec<&'static str> {
        t.order.iter().map(|&i| t.rows[i].0).collect()
    }

    fn table() -> Table<Row> {
        let mut t = Table::new(Col::Value);
        t.set_rows(
            vec![Row("b", 1), Row("a", 3), Row("ab", 2), Row("c", 0)],
            "",
        );
        t
    }

    #[test]
    fn sort_cycle_and_reverse() {
        let mut t = table();
        assert_eq!(names(&t), ["a", "ab", "b", "c"]);
        t.reverse("");
        assert_eq!(names(&t), ["c", "b", "ab", "a"]);
        t.cycle_sort("");
        assert_eq!(t.sort.column, Col::Name);
        assert!(!t.sort.reversed, "a new column starts in its natural order");
        assert_eq!(names(&t), ["a", "ab", "b", "c"]);
    }

    #[test]
    fn filter_is_case_insensitive_and_clamps_cursor() {
        let mut t = table();
        t.end();
        assert_eq!(t.selected, 3);
        t.reorder("A");
        assert_eq!(names(&t), ["a", "ab"]);
        assert_eq!(t.selected, 1);
        t.reorder("zzz");
        assert!(t.order.is_empty());
        assert_eq!(t.selected, 0);
        assert!(t.selected_row().is_none());
    }

    #[test]
    fn cursor_bounds_and_scrolling() {
        let mut t = table();
        t.move_by(-5);
        assert_eq!(t.selected, 0);
        t.move_by(100);
        assert_eq!(t.selected, 3);
        t.scroll_into_view(2);
        assert_eq!(t.offset, 2);
        let shown: Vec<_> = t.window(2).map(|(pos, r)| (pos, r.0)).collect();
        assert_eq!(shown, [(2, "b"), (3, "c")]);
        t.home();
        t.scroll_into_view(2);
        assert_eq!(t.offset, 0);
        // A window larger than the data shows it all, from the top.
        t.end();
        t.scroll_into_view(10);
        assert_eq!(t.offset, 0);
        assert_eq!(t.window(10).count(), 4);
    }
}
