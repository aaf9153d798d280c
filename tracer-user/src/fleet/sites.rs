//! Per-site figures of one process, read without a probe:
//! - in-use and allocated heap by allocation site, from the runtime's own
//!   heap profile when the program has it on (`MemProfileRate` > 0: the
//!   linker keeps it when something can write a heap profile, e.g.
//!   net/http/pprof), scaled as `runtime/pprof` scales;
//! - goroutines by creation site (the `go` statement), from the runtime's
//!   goroutine list.
//!
//! Stacks are symbolized once each and remembered per process (at most
//! [`MAX_NAMES`]); the executable is parsed only when new stacks show up
//! (see [`super::binaries`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::binaries::{Binaries, FileKey};
use crate::collect::inuse::scale;
use crate::tracee::gobin::{Frame, GoBinary};
use crate::tracee::goroutines::{site_frame, GInfo};
use crate::tracee::heapprof::{HeapProfile, HeapProfileReader, HeapRecord};
use crate::tracee::procmem::ProcMem;
use crate::tracee::symbolize::Symbolizer;
use crate::tracee::vitals::VitalsReader;

/// Stacks remembered per process before the memory is started afresh.
pub const MAX_NAMES: usize = 20_000;

/// A symbolized stack: its site's label and its frames (innermost first).
#[derive(Debug, Clone)]
pub struct Stack {
    pub site: String,
    pub frames: Vec<Frame>,
}

/// One site's figures: objects and bytes (heap), or goroutines (in
/// `objects`, `bytes` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    pub site: String,
    pub objects: u64,
    pub bytes: u64,
}

/// A process's sites, biggest first, the top N and then `other`.
#[derive(Debug, Clone, Default)]
pub struct Sites {
    /// `MemProfileRate` (0: the runtime's heap profile is off; `None`: not
    /// found).
    pub profile_rate: Option<u64>,
    pub inuse: Vec<SiteRow>,
    pub allocated: Vec<SiteRow>,
    pub goroutines: Vec<SiteRow>,
}

#[derive(Default)]
struct Names {
    stacks: HashMap<Vec<u64>, Arc<Stack>>,
    creators: HashMap<(u64, u64), Arc<Stack>>,
}

/// Where one process's heap profile is, and its symbolized stacks.
pub struct SiteReader {
    mem: ProcMem,
    heap: Option<HeapProfileReader>,
    bias: u64,
    file: FileKey,
    exe_path: PathBuf,
    names: Mutex<Names>,
}

impl std::fmt::Debug for SiteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SiteReader(pid {}, heap profile {})",
            self.mem.pid,
            self.heap.is_some()
        )
    }
}

/// A site's label: `function file:line` (the file's base name).
pub fn label(f: &Frame) -> String {
    let file = f.file.rsplit('/').next().unwrap_or(&f.file);
    if file.is_empty() {
        f.function.clone()
    } else {
        format!("{} {file}:{}", f.function, f.line)
    }
}

impl SiteReader {
    pub fn open(
        bin: &GoBinary,
        vitals: &VitalsReader,
        file: FileKey,
        exe_path: PathBuf,
    ) -> SiteReader {
        let mem = ProcMem::new(vitals.pid);
        let layout = &vitals.layout.heap_profile;
        let heap =
            HeapProfileReader::locate(&mem, bin, layout, bin.symtab_file(), vitals.bias).ok();
        SiteReader {
            mem,
            heap,
            bias: vitals.bias,
            file,
            exe_path,
            names: Mutex::new(Names::default()),
        }
    }

    /// The runtime's heap profile now (`None`: not found; the profile may
    /// be off: `rate` 0).
    pub fn heap_profile(&self) -> Option<HeapProfile> {
        self.heap.as_ref()?.read(&self.mem).ok()
    }

    /// Symbolized stacks of heap records and goroutine creators, parsing
    /// the executable only for ones not seen before.
    pub fn stacks(
        &self,
        binaries: &Mutex<Binaries>,
        records: &[HeapRecord],
        goroutines: &[GInfo],
    ) -> (Vec<Arc<Stack>>, Vec<Arc<Stack>>) {
        let creators: Vec<(u64, u64)> = goroutines.iter().map(|g| (g.gopc, g.startpc)).collect();
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.stacks.len() + names.creators.len() > MAX_NAMES {
            *names = Names::default();
        }
        let missing = records.iter().any(|r| !names.stacks.contains_key(&r.stack))
            || creators.iter().any(|c| !names.creators.contains_key(c));
        if missing {
            let bin = binaries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(self.file, &self.exe_path);
            if let Some(bin) = bin {
                let mut sym = Symbolizer::new(Arc::clone(&bin), self.bias);
                for s in records.iter().map(|r| &r.stack) {
                    if !names.stacks.contains_key(s) {
                        let st = sym.logical_stack(s);
                        let stack = Stack {
                            site: label(&st.site()),
                            frames: st.frames,
                        };
                        names.stacks.insert(s.clone(), Arc::new(stack));
                    }
                }
                for &(gopc, startpc) in &creators {
                    names.creators.entry((gopc, startpc)).or_insert_with(|| {
                        let f = site_frame(&mut sym, &bin, gopc, startpc);
                        Arc::new(Stack {
                            site: label(&f),
                            frames: vec![f],
                        })
                    });
                }
            }
        }
        let unknown = || {
            Arc::new(Stack {
                site: "[unknown]".into(),
                frames: Vec::new(),
            })
        };
        (
            records
                .iter()
                .map(|r| names.stacks.get(&r.stack).cloned().unwrap_or_else(unknown))
                .collect(),
            creators
                .iter()
                .map(|c| names.creators.get(c).cloned().unwrap_or_else(unknown))
                .collect(),
        )
    }

    /// The process's sites now, `top` per kind plus `other`.
    pub fn sites(&self, binaries: &Mutex<Binaries>, goroutines: &[GInfo], top: usize) -> Sites {
        let profile = self.heap_profile();
        let records = profile.as_ref().map_or(&[][..], |p| &p.records[..]);
        let (heap_names, go_names) = self.stacks(binaries, records, goroutines);
        let profile_rate = profile.as_ref().map(|p| p.rate);
        let rate = profile_rate.unwrap_or(0);
        let mut inuse: HashMap<&str, (u64, u64)> = HashMap::new();
        let mut allocated: HashMap<&str, (u64, u64)> = HashMap::new();
        for (r, name) in records.iter().zip(&heap_names) {
            let site = name.site.as_str();
            let (o, b) = scale(r.inuse(), r.size, rate);
            let e = inuse.entry(site).or_insert((0, 0));
            (e.0, e.1) = (e.0 + o, e.1 + b);
            let (o, b) = scale(r.allocs, r.size, rate);
            let e = allocated.entry(site).or_insert((0, 0));
            (e.0, e.1) = (e.0 + o, e.1 + b);
        }
        let mut by_creator: HashMap<&str, (u64, u64)> = HashMap::new();
        for name in &go_names {
            by_creator.entry(name.site.as_str()).or_insert((0, 0)).0 += 1;
        }
        Sites {
            profile_rate,
            inuse: top_rows(inuse, top, |r| r.bytes),
            allocated: top_rows(allocated, top, |r| r.bytes),
            goroutines: top_rows(by_creator, top, |r| r.objects),
        }
    }
}

/// The `top` biggest rows by `key`, then one `other` row for the rest.
fn top_rows(m: HashMap<&str, (u64, u64)>, top: usize, key: fn(&SiteRow) -> u64) -> Vec<SiteRow> {
    let mut rows: Vec<SiteRow> = m
        .into_iter()
        .map(|(site, (objects, bytes))| SiteRow {
            site: site.to_string(),
            objects,
            bytes,
        })
        .filter(|r| r.objects > 0 || r.bytes > 0)
        .collect();
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.site.cmp(&b.site)));
    if rows.len() > top {
        let rest = rows.split_off(top);
        rows.push(SiteRow {
            site: "other".into(),
            objects: rest.iter().map(|r| r.objects).sum(),
            bytes: rest.iter().map(|r| r.bytes).sum(),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_rows_then_other() {
        let m = HashMap::from([
            ("a", (1, 100)),
            ("b", (2, 300)),
            ("c", (3, 200)),
            ("d", (0, 0)),
        ]);
        let rows = top_rows(m, 2, |r| r.bytes);
        let names: Vec<&str> = rows.iter().map(|r| r.site.as_str()).collect();
        assert_eq!(names, ["b", "c", "other"]);
        assert_eq!((rows[2].objects, rows[2].bytes), (1, 100));
        let m = HashMap::from([("a", (5, 0))]);
        assert_eq!(top_rows(m, 2, |r| r.objects).len(), 1);
    }

    #[test]
    fn labels_use_the_file_name() {
        let f = Frame {
            function: "main.grow".into(),
            file: "/src/fleet/main.go".into(),
            line: 42,
            inlined: false,
        };
        assert_eq!(label(&f), "main.grow main.go:42");
    }
}
