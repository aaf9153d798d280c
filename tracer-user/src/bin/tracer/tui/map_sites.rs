//! Rows of the Maps view: one per creation site (the report's
//! `map_sites`), in the report's order (bytes, then operations).
use std::cmp::Ordering;

use super::table::{SortColumn, TableRow};
use tracer::report::{MapReport, MapSite, Report};

/// Identifies a map site across reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapSiteKey {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub first_seen_only: bool,
    pub kind: &'static str,
}

impl MapSiteKey {
    pub fn of(s: &MapSite) -> MapSiteKey {
        MapSiteKey {
            function: s.created_at.function.clone(),
            file: s.created_at.file.clone(),
            line: s.created_at.line,
            first_seen_only: s.first_seen_only,
            kind: s.kind,
        }
    }

    /// The map is one of this site's.
    pub fn holds(&self, m: &MapReport) -> bool {
        m.created_at.function == self.function
            && m.created_at.file == self.file
            && m.created_at.line == self.line
            && m.first_seen_only == self.first_seen_only
            && m.kind == self.kind
    }
}

pub struct MapSiteRow {
    pub key: MapSiteKey,
    pub site: MapSite,
    /// Position in the report (its order: bytes, then operations).
    rank: usize,
    haystack: String,
}

/// The report's order is the only one: it is what the text report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapSiteSort {
    Report,
}

impl SortColumn for MapSiteSort {
    fn next(self) -> Self {
        self
    }

    fn label(self) -> &'static str {
        "bytes"
    }
}

impl TableRow for MapSiteRow {
    type Column = MapSiteSort;

    fn compare(&self, other: &Self, _: MapSiteSort) -> Ordering {
        self.rank.cmp(&other.rank)
    }

    fn matches(&self, needle: &str) -> bool {
        self.haystack.contains(needle)
    }
}

/// From the whole-run report: sites hold maps, which outlive an interval.
pub fn rows(total: &Report) -> Vec<MapSiteRow> {
    total
        .map_sites
        .iter()
        .enumerate()
        .map(|(rank, s)| MapSiteRow {
            key: MapSiteKey::of(s),
            site: s.clone(),
            rank,
            haystack: format!(
                "{} {} {}",
                s.created_at.function,
                s.created_at.file,
                s.kind_label()
            )
            .to_lowercase(),
        })
        .collect()
}
