//! The TUI's views, in tab order.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Allocations,
    Functions,
    Maps,
    Goroutines,
    Memory,
    Findings,
    Inuse,
}

impl View {
    /// In tab order; keys 1..7 index this.
    pub const ALL: [View; 7] = [
        View::Allocations,
        View::Functions,
        View::Maps,
        View::Goroutines,
        View::Memory,
        View::Findings,
        View::Inuse,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Allocations => "Allocations",
            View::Functions => "Functions",
            View::Maps => "Maps",
            View::Goroutines => "Goroutines",
            View::Memory => "Memory",
            View::Inuse => "In use",
            View::Findings => "Findings",
        }
    }

    pub fn index(self) -> usize {
        View::ALL.iter().position(|&v| v == self).unwrap_or(0)
    }

    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    pub fn prev(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}
