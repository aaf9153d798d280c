//! Rows of the Functions view: functions timed with --time.
use std::{cmp::Ordering, collections::HashMap};

use super::table::{SortColumn, TableRow};
use tracer::report::{Latency, Report};

pub struct FuncRow {
    pub function: String,
    /// Whole run.
    pub calls: u64,
    /// Last interval.
    pub calls_per_sec: f64,
    /// Latency over the whole run: an interval often holds too few calls
    /// for a meaningful p99.
    pub latency: Latency,
    haystack: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncSort {
    P99,
    P50,
    Max,
    Mean,
    CallsPerSec,
    Calls,
    Function,
}

impl SortColumn for FuncSort {
    fn next(self) -> Self {
        use FuncSort::*;
        match self {
            P99 => P50,
            P50 => Max,
            Max => Mean,
            Mean => CallsPerSec,
            CallsPerSec => Calls,
            Calls => Function,
            Function => P99,
        }
    }

    fn label(self) -> &'static str {
        use FuncSort::*;
        match self {
            P99 => "p99",
            P50 => "p50",
            Max => "max",
            Mean => "mean",
            CallsPerSec => "calls/s",
            Calls => "calls",
            Function => "function",
        }
    }
}

impl TableRow for FuncRow {
    type Column = FuncSort;

    fn compare(&self, other: &Self, col: FuncSort) -> Ordering {
        let (a, b) = (&self.latency, &other.latency);
        let primary = match col {
            FuncSort::P99 => b.p99.cmp(&a.p99),
            FuncSort::P50 => b.p50.cmp(&a.p50),
            FuncSort::Max => b.max.cmp(&a.max),
            FuncSort::Mean => b.mean.unwrap_or(0.0).total_cmp(&a.mean.unwrap_or(0.0)),
            FuncSort::CallsPerSec => other.calls_per_sec.total_cmp(&self.calls_per_sec),
            FuncSort::Calls => other.calls.cmp(&self.calls),
            FuncSort::Function => Ordering::Equal,
        };
        primary.then_with(|| self.function.cmp(&other.function))
    }

    fn matches(&self, needle: &str) -> bool {
        self.haystack.contains(needle)
    }
}

pub fn rows(interval: &Report, total: &Report) -> Vec<FuncRow> {
    let secs = (interval.window.duration_ns as f64 / 1e9).max(1e-9);
    let recent: HashMap<&str, u64> = interval
        .functions
        .iter()
        .map(|f| (f.function.as_str(), f.calls))
        .collect();
    total
        .functions
        .iter()
        .map(|f| FuncRow {
            function: f.function.clone(),
            calls: f.calls,
            calls_per_sec: recent.get(f.function.as_str()).copied().unwrap_or(0) as f64 / secs,
            latency: f.latency_ns.clone(),
            haystack: f.function.to_lowercase(),
        })
        .collect()
}
