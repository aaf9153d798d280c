//! Turns captured stacks (runtime PCs) into Go frames, and picks each
//! stack's allocation site: the first frame that belongs to the program
//! rather than to the runtime or the standard library's helpers.
use std::collections::HashMap;

use std::sync::Arc;

use crate::tracee::gobin::{Frame, GoBinary};

#[derive(Debug, Clone)]
pub struct Symbolized {
    /// Innermost first, inlined frames expanded.
    pub frames: Vec<Frame>,
    /// Index into `frames` of the allocation site.
    pub site: usize,
}

impl Symbolized {
    pub fn site(&self) -> Frame {
        self.frames
            .get(self.site)
            .cloned()
            .unwrap_or_else(unknown_frame)
    }
}

pub fn unknown_frame() -> Frame {
    Frame {
        function: "[unknown]".into(),
        file: String::new(),
        line: 0,
        inlined: false,
    }
}

pub struct Symbolizer {
    bin: Arc<GoBinary>,
    bias: u64,
    user_modules: Vec<String>,
    cache: HashMap<u64, Vec<Frame>>,
    /// Named mappings outside the executable ([`regions`]).
    regions: Vec<Region>,
}

/// A mapping of the target outside its executable that code runs in: the
/// vDSO (`time.Now` runs there), a shared library (cgo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// `vdso`, or the library's file name.
    pub name: String,
}

/// The target's executable mappings other than `exe` (its own file), from
/// its `/proc/PID/maps`.
pub fn regions(maps: &str, exe: &str) -> Vec<Region> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            let path = f.nth(3)?;
            if !perms.contains('x') || path == exe {
                return None;
            }
            let name = match path {
                "[vdso]" => "vdso".to_string(),
                p if p.starts_with('/') => p.rsplit('/').next()?.to_string(),
                // [uprobes] is named apart, [vsyscall] runs nothing.
                _ => return None,
            };
            let (a, b) = range.split_once('-')?;
            Some(Region {
                start: u64::from_str_radix(a, 16).ok()?,
                end: u64::from_str_radix(b, 16).ok()?,
                name,
            })
        })
        .collect()
}

impl Symbolizer {
    pub fn new(bin: Arc<GoBinary>, bias: u64) -> Self {
        let info = bin.build_info();
        let mut user_modules: Vec<String> = std::iter::once(info.main_module.clone())
            .chain(std::iter::once(info.main_path.clone()))
            .chain(info.deps.iter().cloned())
            .filter(|m| !m.is_empty() && m != "command-line-arguments")
            .collect();
        user_modules.sort();
        user_modules.dedup();
        Symbolizer {
            bin,
            bias,
            user_modules,
            cache: HashMap::new(),
            regions: Vec::new(),
        }
    }

    /// Names PCs outside the executable by their mapping from now on.
    pub fn set_regions(&mut self, regions: Vec<Region>) {
        if regions != self.regions {
            self.regions = regions;
            self.cache.retain(|_, f| !f[0].function.starts_with('['));
        }
    }

    /// The executable's load bias (runtime PC − link-time PC).
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// Frames of one return address (runtime PC), innermost first.
    fn frames_at(&mut self, pc: u64) -> Vec<Frame> {
        if let Some(f) = self.cache.get(&pc) {
            return f.clone();
        }
        // A return address points after the call: look up the call itself.
        let link_pc = pc.wrapping_sub(self.bias).wrapping_sub(1);
        let mut frames = self.bin.symbolize(link_pc);
        if frames.is_empty() {
            let region = self.regions.iter().find(|r| (r.start..r.end).contains(&pc));
            frames.push(Frame {
                function: region.map_or_else(|| format!("[{pc:#x}]"), |r| format!("[{}]", r.name)),
                file: String::new(),
                line: 0,
                inlined: false,
            });
        }
        self.cache.insert(pc, frames.clone());
        frames
    }

    /// An on-CPU sample's stack: the sampled instruction itself, then
    /// return addresses.
    pub fn sampled_stack(&mut self, pcs: &[u64]) -> Symbolized {
        let mut at_calls = pcs.to_vec();
        if let Some(ip) = at_calls.first_mut() {
            // `frames_at` looks one byte back, as for a return address.
            *ip = ip.wrapping_add(1);
        }
        self.stack(&at_calls)
    }

    /// The function (link-time entry) containing a runtime PC; a return
    /// address counts as its call.
    pub fn func_at(&self, pc: u64, is_return: bool) -> Option<crate::tracee::gobin::FuncInfo> {
        let link_pc = pc
            .wrapping_sub(self.bias)
            .wrapping_sub(u64::from(is_return));
        self.bin.func_at(link_pc)
    }

    pub fn stack(&mut self, pcs: &[u64]) -> Symbolized {
        let frames: Vec<Frame> = pcs.iter().flat_map(|&pc| self.frames_at(pc)).collect();
        self.with_site(frames)
    }

    /// A stack the runtime itself recorded (`runtime.Callers`, heap
    /// profile buckets): one return PC per *logical* frame, the runtime
    /// having expanded inlined calls already. A PC followed by one in the
    /// same function stands for its innermost frame only (the next PCs are
    /// the functions it was inlined into).
    pub fn logical_stack(&mut self, pcs: &[u64]) -> Symbolized {
        let mut frames = Vec::with_capacity(pcs.len());
        for (i, &pc) in pcs.iter().enumerate() {
            let mut at = self.frames_at(pc);
            let same_func = pcs.get(i + 1).is_some_and(|&next| {
                let f = self.func_at(pc, true).map(|f| f.entry);
                f.is_some() && f == self.func_at(next, true).map(|f| f.entry)
            });
            if same_func {
                at.truncate(1);
            }
            frames.extend(at);
        }
        self.with_site(frames)
    }

    fn with_site(&self, frames: Vec<Frame>) -> Symbolized {
        // GC work done inside a program's call (an assist that allocates a
        // sudog, say) belongs to the GC, not to the program's line.
        let site = frames
            .iter()
            .position(|f| is_gc_work(&f.function) || self.is_program_code(&f.function))
            .or_else(|| frames.iter().position(|f| !is_runtime(&f.function)))
            .unwrap_or(0);
        Symbolized { frames, site }
    }

    /// Code of the program: package main, the main module or a dependency
    /// module (anything that is not the standard library).
    fn is_program_code(&self, function: &str) -> bool {
        let pkg = package_of(function);
        if pkg == "main" {
            return true;
        }
        if self
            .user_modules
            .iter()
            .any(|m| pkg == m || pkg.starts_with(&format!("{m}/")))
        {
            return true;
        }
        // Standard library import paths have no dot in their first element.
        let first = pkg.split('/').next().unwrap_or("");
        first.contains('.') && !function.starts_with('[')
    }
}

/// The garbage collector's entry points (gcAssistAlloc, gcMarkDone, gcStart…).
fn is_gc_work(function: &str) -> bool {
    function.starts_with("runtime.gc")
}

pub fn is_runtime(function: &str) -> bool {
    let pkg = package_of(function);
    pkg == "runtime"
        || pkg.starts_with("runtime/internal")
        || pkg.starts_with("internal/runtime")
        || function.starts_with('[')
}

/// Import path of a Go function name: "a/b/c.(*T).M" → "a/b/c".
pub fn package_of(function: &str) -> &str {
    let slash = function.rfind('/').map(|i| i + 1).unwrap_or(0);
    match function[slash..].find('.') {
        Some(dot) => &function[..slash + dot],
        None => function,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages() {
        assert_eq!(package_of("runtime.mallocgc"), "runtime");
        assert_eq!(package_of("main.main.func1"), "main");
        assert_eq!(package_of("github.com/a/b.(*T).M"), "github.com/a/b");
        assert_eq!(
            package_of("internal/runtime/maps.(*Map).putSlotSmall"),
            "internal/runtime/maps"
        );
        assert_eq!(package_of("io.ReadAll"), "io");
        assert!(is_runtime("internal/runtime/maps.newarray"));
        assert!(!is_runtime("bytes.growSlice"));
        assert!(is_gc_work("runtime.gcMarkDone"));
        assert!(!is_gc_work("runtime.growslice"));
    }

    #[test]
    fn regions_outside_the_executable() {
        let maps = "\
00400000-0067d000 r-xp 00000000 08:01 1234 /srv/api
7f10a0000000-7f10a0021000 rw-p 00000000 00:00 0 
7f10b0000000-7f10b0180000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7f10b0180000-7f10b01d8000 r--p 00180000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd5b1f0000-7ffd5b1f2000 r-xp 00000000 00:00 0                          [vdso]
7ffd5b1f3000-7ffd5b1f4000 r-xp 00000000 00:00 0                          [uprobes]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";
        assert_eq!(
            regions(maps, "/srv/api"),
            [
                Region {
                    start: 0x7f10b0000000,
                    end: 0x7f10b0180000,
                    name: "libc.so.6".into()
                },
                Region {
                    start: 0x7ffd5b1f0000,
                    end: 0x7ffd5b1f2000,
                    name: "vdso".into()
                },
            ]
        );
        // Our own process: its vDSO is found.
        let me = std::env::current_exe().unwrap();
        let own_maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mine = regions(&own_maps, &me.to_string_lossy());
        assert!(mine.iter().any(|r| r.name == "vdso"), "{mine:?}");
    }
}
