//! madvise calls by advice and by runtime caller.
use std::collections::BTreeMap;

/// Linux MADV_* names for the values the Go runtime uses.
pub fn advice_name(advice: u32) -> String {
    match advice {
        0 => "MADV_NORMAL".into(),
        4 => "MADV_DONTNEED".into(),
        8 => "MADV_FREE".into(),
        14 => "MADV_HUGEPAGE".into(),
        15 => "MADV_NOHUGEPAGE".into(),
        25 => "MADV_COLLAPSE".into(),
        other => format!("MADV_{other}"),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallsBytes {
    pub calls: u64,
    pub bytes: u64,
}

#[derive(Debug, Default, Clone)]
pub struct MadviseTable {
    pub by_advice: BTreeMap<u32, CallsBytes>,
    /// By (advice, stack id of the runtime caller).
    pub by_caller: BTreeMap<(u32, u64), CallsBytes>,
}

impl MadviseTable {
    pub fn record(&mut self, advice: u32, len: u64, stack_id: u64) {
        for e in [
            self.by_advice.entry(advice).or_default(),
            self.by_caller.entry((advice, stack_id)).or_default(),
        ] {
            e.calls += 1;
            e.bytes += len;
        }
    }

    /// Counts since `base`.
    pub fn since(&self, base: &MadviseTable) -> MadviseTable {
        let sub = |a: &CallsBytes, b: Option<&CallsBytes>| CallsBytes {
            calls: a.calls - b.map_or(0, |b| b.calls),
            bytes: a.bytes - b.map_or(0, |b| b.bytes),
        };
        MadviseTable {
            by_advice: self
                .by_advice
                .iter()
                .map(|(k, v)| (*k, sub(v, base.by_advice.get(k))))
                .filter(|(_, v)| v.calls > 0)
                .collect(),
            by_caller: self
                .by_caller
                .iter()
                .map(|(k, v)| (*k, sub(v, base.by_caller.get(k))))
                .filter(|(_, v)| v.calls > 0)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_windows() {
        let mut t = MadviseTable::default();
        t.record(8, 4096, 1);
        let base = t.clone();
        t.record(8, 8192, 1);
        t.record(4, 100, 2);
        let w = t.since(&base);
        assert_eq!(
            w.by_advice[&8],
            CallsBytes {
                calls: 1,
                bytes: 8192
            }
        );
        assert_eq!(
            w.by_advice[&4],
            CallsBytes {
                calls: 1,
                bytes: 100
            }
        );
        assert_eq!(advice_name(8), "MADV_FREE");
    }
}
