//! Rows of the Allocations view: one per site, whole-run totals joined
//! with the last interval's rates.
use std::{cmp::Ordering, collections::HashMap};

use super::table::{SortColumn, TableRow};
use tracer::{
    report::{AllocSite, Report},
    tracee::gobin::Frame,
};

/// Identifies a site across reports: sites are rebuilt every interval,
/// but the source position is stable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteKey {
    pub function: String,
    pub file: String,
    pub line: u32,
}

impl SiteKey {
    pub fn of(f: &Frame) -> SiteKey {
        SiteKey {
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
        }
    }
}

pub struct SiteRow {
    pub key: SiteKey,
    /// Whole-run numbers, stack and size distribution.
    pub total: AllocSite,
    /// Rates over the last interval (0 when the site was idle).
    pub objects_per_sec: f64,
    pub bytes_per_sec: f64,
    /// "function file" in lower case, built once per refresh so that
    /// filtering thousands of rows does not allocate.
    haystack: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocSort {
    BytesPerSec,
    ObjectsPerSec,
    Bytes,
    Objects,
    AvgSize,
    Site,
}

impl SortColumn for AllocSort {
    fn next(self) -> Self {
        use AllocSort::*;
        match self {
            BytesPerSec => ObjectsPerSec,
            ObjectsPerSec => Bytes,
            Bytes => Objects,
            Objects => AvgSize,
            AvgSize => Site,
            Site => BytesPerSec,
        }
    }

    fn label(self) -> &'static str {
        use AllocSort::*;
        match self {
            BytesPerSec => "bytes/s",
            ObjectsPerSec => "obj/s",
            Bytes => "bytes",
            Objects => "objects",
            AvgSize => "avg",
            Site => "site",
        }
    }
}

impl TableRow for SiteRow {
    type Column = AllocSort;

    fn compare(&self, other: &Self, col: AllocSort) -> Ordering {
        let (a, b) = (&self.total, &other.total);
        let primary = match col {
            AllocSort::BytesPerSec => other.bytes_per_sec.total_cmp(&self.bytes_per_sec),
            AllocSort::ObjectsPerSec => other.objects_per_sec.total_cmp(&self.objects_per_sec),
            AllocSort::Bytes => b.bytes.cmp(&a.bytes),
            AllocSort::Objects => b.objects.cmp(&a.objects),
            AllocSort::AvgSize => b.avg_size.total_cmp(&a.avg_size),
            AllocSort::Site => Ordering::Equal,
        };
        // Ties (idle sites all at 0/s) fall back to the run's heaviest
        // first, then position, so the order is stable between refreshes.
        primary
            .then_with(|| match col {
                AllocSort::Site => Ordering::Equal,
                _ => b.bytes.cmp(&a.bytes),
            })
            .then_with(|| self.key.function.cmp(&other.key.function))
            .then_with(|| self.key.file.cmp(&other.key.file))
            .then_with(|| self.key.line.cmp(&other.key.line))
    }

    fn matches(&self, needle: &str) -> bool {
        self.haystack.contains(needle)
    }
}

/// Joins the run's sites with the interval's rates. A site only in the
/// interval (the two reports are cut at slightly different moments) is
/// kept with its interval numbers as totals.
pub fn rows(interval: &Report, total: &Report) -> Vec<SiteRow> {
    let mut rates: HashMap<(&str, &str, u32), &AllocSite> = interval
        .allocations
        .iter()
        .map(|s| {
            (
                (s.site.function.as_str(), s.site.file.as_str(), s.site.line),
                s,
            )
        })
        .collect();
    let mut out: Vec<SiteRow> = total
        .allocations
        .iter()
        .map(|t| {
            let f = &t.site;
            let rate = rates.remove(&(f.function.as_str(), f.file.as_str(), f.line));
            row(t, rate)
        })
        .collect();
    // Leftovers, in the interval's (deterministic) order.
    out.extend(
        interval
            .allocations
            .iter()
            .filter(|s| {
                rates.contains_key(&(s.site.function.as_str(), s.site.file.as_str(), s.site.line))
            })
            .map(|s| row(s, Some(s))),
    );
    out
}

fn row(total: &AllocSite, rate: Option<&AllocSite>) -> SiteRow {
    let f = &total.site;
    SiteRow {
        key: SiteKey::of(f),
        haystack: format!("{} {}:{}", f.function, f.file, f.line).to_lowercase(),
        objects_per_sec: rate.map_or(0.0, |r| r.objects_per_sec),
        bytes_per_sec: rate.map_or(0.0, |r| r.bytes_per_sec),
        total: total.clone(),
    }
}
