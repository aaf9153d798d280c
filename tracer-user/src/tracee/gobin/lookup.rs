//! Function lookup by address and by name.

use std::sync::OnceLock;

use super::bytes::string_lossy;
use super::{FuncInfo, GoBinary};

/// Function indexes sorted by name, built on first name lookup (4 bytes per
/// function) so that parsing stays cheap for callers that only symbolize.
#[derive(Default)]
pub(super) struct NameIndex(OnceLock<Vec<u32>>);

impl GoBinary {
    /// Every function in the pclntab, in address order.
    pub fn functions(&self) -> impl Iterator<Item = FuncInfo> + '_ {
        (0..self.pcln().nfunc()).filter_map(move |i| self.func_info(i))
    }

    /// The function with exactly this name (e.g. "runtime.mallocgc"),
    /// O(log n) after a one-time sort.
    pub fn function(&self, name: &str) -> Option<FuncInfo> {
        let idx = self.sorted_names();
        let t = self.pcln();
        let key = |i: &u32| t.func_name(*i as usize).unwrap_or_default();
        let pos = idx.partition_point(|i| key(i) < name.as_bytes());
        let &i = idx.get(pos)?;
        (key(&i) == name.as_bytes())
            .then(|| self.func_info(i as usize))
            .flatten()
    }

    /// All functions whose name starts with `prefix`, sorted by name.
    pub fn functions_with_prefix(&self, prefix: &str) -> Vec<FuncInfo> {
        let idx = self.sorted_names();
        let t = self.pcln();
        let key = |i: &u32| t.func_name(*i as usize).unwrap_or_default();
        let start = idx.partition_point(|i| key(i) < prefix.as_bytes());
        idx.get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|i| key(i).starts_with(prefix.as_bytes()))
            .filter_map(|&i| self.func_info(i as usize))
            .collect()
    }

    /// The function containing `pc` (a link-time virtual address).
    #[allow(dead_code)] // public API, not used by every caller
    pub fn func_at(&self, pc: u64) -> Option<FuncInfo> {
        self.func_info(self.func_index(pc)?)
    }

    pub(super) fn func_index(&self, pc: u64) -> Option<usize> {
        self.pcln().find(pc.checked_sub(self.text_start)?)
    }

    pub(super) fn func_info(&self, i: usize) -> Option<FuncInfo> {
        let t = self.pcln();
        Some(FuncInfo {
            name: string_lossy(t.func_name(i)?),
            entry: self.text_start.checked_add(u64::from(t.entry_off(i)?))?,
            end: self.text_start.checked_add(u64::from(t.end_off(i)?))?,
        })
    }

    fn sorted_names(&self) -> &[u32] {
        self.names.0.get_or_init(|| {
            let t = self.pcln();
            let mut v: Vec<(&[u8], u32)> = (0..t.nfunc())
                .filter_map(|i| Some((t.func_name(i)?, u32::try_from(i).ok()?)))
                .collect();
            // Stable sort keeps address order among duplicate names, so the
            // lowest-addressed one wins in `function`.
            v.sort_by(|a, b| a.0.cmp(b.0));
            v.into_iter().map(|(_, i)| i).collect()
        })
    }
}
