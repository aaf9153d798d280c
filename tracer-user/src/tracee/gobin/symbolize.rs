//! PC → source frames, with inlined calls expanded.
//!
//! Follows the runtime's `inlineUnwinder` (go1.27.3
//! `runtime/symtabinl.go`): at a pc, `pcdata[PCDATA_InlTreeIndex]` gives the
//! index of the innermost inlined call (or -1 for the physical function).
//! That frame is named by the inline tree entry and its file:line is the
//! physical function's pcfile/pcln at the pc. The next (outer) frame is
//! looked up the same way at `entry + parentPc`, which is an instruction
//! whose position is the call site. The last frame is the physical function.
//!
//! Decoded pc-value tables are cached per function, so repeated lookups in
//! the same function are binary searches instead of table walks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::bytes::string_lossy;
use super::pclntab::{Func, InlinedCall, Pclntab, Run, FUNCDATA_INL_TREE, PCDATA_INL_TREE_INDEX};
use super::{Frame, GoBinary};

/// Guards against inline trees whose parentPc links form a cycle.
const MAX_INLINE_DEPTH: usize = 256;
/// Upper bound on runs decoded per pc-value table (a corrupt table cannot
/// make us allocate more than this).
const MAX_RUNS_PER_TABLE: usize = 1 << 20;
/// Total runs kept in the cache (8 bytes each → at most 16 MiB, about what
/// all functions of a 50 MB binary need); the cache is simply emptied when
/// full.
const CACHE_MAX_RUNS: usize = 2 << 20;

/// Decoded pc-value tables of one function.
struct Decoded {
    file: Vec<Run>,
    line: Vec<Run>,
    inline: Vec<Run>,
}

impl Decoded {
    fn runs(&self) -> usize {
        self.file.len() + self.line.len() + self.inline.len()
    }
}

#[derive(Default)]
pub(super) struct FrameCache {
    funcs: HashMap<usize, Arc<Decoded>>,
    runs: usize,
}

/// Value of a decoded table at `pc` (`runtime.pcvalue` semantics).
fn value_at(runs: &[Run], entry: u64, pc: u64) -> Option<i32> {
    let off = pc.checked_sub(entry)?;
    runs.get(runs.partition_point(|r| u64::from(r.end) <= off))
        .map(|r| r.value)
}

fn lock(c: &Mutex<FrameCache>) -> MutexGuard<'_, FrameCache> {
    // A panic while holding the lock cannot leave the cache in a state worse
    // than "some entries missing", so poisoning is ignored.
    c.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GoBinary {
    /// Source frames at `pc` (a link-time virtual address), innermost first;
    /// inlined calls come first with `inlined: true`, the physical function
    /// last. Empty if `pc` is in no function. Pass a *call* pc: for a return
    /// address use `ret - 1`, as the runtime's traceback does.
    ///
    /// If the inline tree cannot be located (stripped binary whose
    /// moduledata was not found), the result is the physical function with
    /// the innermost file:line, like `go tool objdump` shows.
    pub fn symbolize(&self, pc: u64) -> Vec<Frame> {
        let t = self.pcln();
        let Some(idx) = self.func_index(pc) else {
            return Vec::new();
        };
        let Some(f) = t.func(idx) else {
            return Vec::new();
        };
        let Some(entry) = self.text_start.checked_add(u64::from(f.entry_off)) else {
            return Vec::new();
        };
        let dec = self.decoded(&t, idx, &f);
        let tree = self.inline_tree(&f);
        let name_of = |off: i32| t.name(off).map_or_else(|| "?".to_string(), string_lossy);

        let mut frames = Vec::new();
        let mut cur = pc;
        loop {
            let fileno = value_at(&dec.file, entry, cur);
            let line = value_at(&dec.line, entry, cur);
            // runtime.funcline1: a missing file or line makes both unknown.
            let (file, line) = match (fileno.and_then(|n| t.file(f.cu_off, n)), line) {
                (Some(file), Some(line)) if line >= 0 => (string_lossy(file), line as u32),
                _ => ("?".to_string(), 0),
            };
            let call = value_at(&dec.inline, entry, cur)
                .filter(|&i| i >= 0)
                .zip(tree)
                .and_then(|(i, tree)| InlinedCall::read(tree, i));
            match call {
                Some(call) if frames.len() < MAX_INLINE_DEPTH => {
                    frames.push(Frame {
                        function: name_of(call.name_off),
                        file,
                        line,
                        inlined: true,
                    });
                    cur = entry.wrapping_add(i64::from(call.parent_pc) as u64);
                }
                _ => {
                    frames.push(Frame {
                        function: name_of(f.name_off),
                        file,
                        line,
                        inlined: false,
                    });
                    return frames;
                }
            }
        }
    }

    /// Bytes of the inline tree of `f`: gofunc + funcdata[FUNCDATA_InlTree]
    /// to the end of its segment (entries are bounds-checked on read).
    fn inline_tree(&self, f: &Func<'_>) -> Option<&[u8]> {
        let off = f.funcdata(FUNCDATA_INL_TREE)?;
        let addr = self.gofunc?.checked_add(u64::from(off))?;
        self.elf.bytes_from(&self.data, addr)
    }

    fn decoded(&self, t: &Pclntab<'_>, idx: usize, f: &Func<'_>) -> Arc<Decoded> {
        if let Some(d) = lock(&self.cache).funcs.get(&idx) {
            return Arc::clone(d);
        }
        let table = |off: Option<u32>| off.map_or_else(Vec::new, |o| t.runs(o, MAX_RUNS_PER_TABLE));
        let d = Arc::new(Decoded {
            file: table(Some(f.pcfile)),
            line: table(Some(f.pcln)),
            inline: table(f.pcdata(PCDATA_INL_TREE_INDEX)),
        });
        let mut cache = lock(&self.cache);
        if cache.runs + d.runs() > CACHE_MAX_RUNS {
            cache.funcs.clear();
            cache.runs = 0;
        }
        cache.runs += d.runs();
        cache.funcs.insert(idx, Arc::clone(&d));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_at_runs() {
        let run = |end, value| Run { end, value };
        let runs = [run(4, 3), run(4, 9), run(0x10, 4)];
        assert_eq!(value_at(&runs, 0x10, 0x0f), None);
        assert_eq!(value_at(&runs, 0x10, 0x10), Some(3));
        assert_eq!(value_at(&runs, 0x10, 0x14), Some(4));
        assert_eq!(value_at(&runs, 0x10, 0x1f), Some(4));
        assert_eq!(value_at(&runs, 0x10, 0x20), None);
    }
}
