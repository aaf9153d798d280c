//! Folded stacks (`root;caller;leaf WEIGHT`, one line per stack): the
//! format inferno, flamegraph.pl and speedscope read.
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Report;
use crate::tracee::gobin::Frame;

/// What a stack (or an allocation site) is weighed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// Requested bytes.
    Bytes,
    /// Allocated objects.
    Objects,
    /// On-CPU time (ns) of the target's sampled stacks.
    Cpu,
    /// Bytes held now (after the last GC) by objects allocated at each stack.
    Inuse,
}

impl Weight {
    /// An allocation figure's weight (0 for `Cpu` and `Inuse`, which weigh
    /// other stacks).
    pub fn of(self, objects: u64, bytes: u64) -> u64 {
        match self {
            Weight::Bytes => bytes,
            Weight::Objects => objects,
            Weight::Cpu | Weight::Inuse => 0,
        }
    }

    /// The unit's name, as used in titles and column headers.
    pub fn unit(self) -> &'static str {
        match self {
            Weight::Bytes => "bytes",
            Weight::Objects => "objects",
            Weight::Cpu => "CPU nanoseconds",
            Weight::Inuse => "in-use bytes",
        }
    }
}

/// Every allocating stack of the window, root first, merged by function
/// names (so stacks differing only in line numbers become one line), sorted
/// so that the output is the same for the same report.
pub fn folded(report: &Report, weight: Weight) -> String {
    let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
    let alloc = report
        .alloc_stacks
        .iter()
        .map(|s| (&s.frames, weight.of(s.objects, s.bytes)));
    let cpu = report.cpu_stacks.iter().map(|s| (&s.frames, s.ns));
    let inuse = report.inuse_stacks.iter().map(|s| (&s.frames, s.bytes));
    let weighed: Box<dyn Iterator<Item = (&Vec<Frame>, u64)>> = match weight {
        Weight::Cpu => Box::new(cpu),
        Weight::Inuse => Box::new(inuse),
        _ => Box::new(alloc),
    };
    for (frames, w) in weighed {
        if w == 0 {
            continue;
        }
        let total = stacks.entry(stack_line(frames)).or_default();
        *total = total.saturating_add(w);
    }
    let mut out = String::new();
    for (stack, w) in &stacks {
        let _ = writeln!(out, "{stack} {w}");
    }
    out
}

fn stack_line(frames: &[Frame]) -> String {
    if frames.is_empty() {
        return "[unknown]".into();
    }
    let mut line = String::new();
    for (i, frame) in frames.iter().rev().enumerate() {
        if i > 0 {
            line.push(';');
        }
        line.push_str(&frame_name(frame));
    }
    line
}

/// The function name, made safe for the format: `;` separates frames and a
/// line break ends the stack, and Go's generic shape names can contain `;`
/// (`go.shape.struct { a int; b string }`).
fn frame_name(frame: &Frame) -> Cow<'_, str> {
    let name = frame.function.as_str();
    if name.is_empty() {
        return Cow::Borrowed("[unknown]");
    }
    if name.contains([';', '\n', '\r']) {
        return Cow::Owned(name.replace(';', ",").replace(['\n', '\r'], " "));
    }
    Cow::Borrowed(name)
}

/// A fixed report shared by the export tests: a gzip writer allocating
/// through an inlined call, a parser, a zero-byte allocation and a stack the
/// kernel could not keep. Public for the front ends' tests too.
#[doc(hidden)]
pub mod fixture {
    use crate::report::{AllocTotals, Overhead, Report, StackCount, TargetInfo, Window};
    use crate::tracee::gobin::Frame;

    pub fn frame(function: &str, file: &str, line: u32, inlined: bool) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
            inlined,
        }
    }

    const FLATE: &str = "/usr/local/go/src/compress/flate";

    /// newDeflateFast inlined into (*compressor).init, and
    /// (*handler).serve inlined into worker; `worker_line` varies so that
    /// two stacks differ only in a line number.
    fn gzip_stack(worker_line: u32) -> Vec<Frame> {
        vec![
            frame(
                "compress/flate.newDeflateFast",
                &format!("{FLATE}/deflatefast.go"),
                64,
                true,
            ),
            frame(
                "compress/flate.(*compressor).init",
                &format!("{FLATE}/deflate.go"),
                590,
                false,
            ),
            frame(
                "compress/flate.NewWriter",
                &format!("{FLATE}/deflate.go"),
                667,
                false,
            ),
            frame(
                "compress/gzip.(*Writer).Write",
                "/usr/local/go/src/compress/gzip/gzip.go",
                191,
                false,
            ),
            frame("main.(*handler).serve", "/src/app/main.go", 42, true),
            frame("main.worker", "/src/app/main.go", worker_line, false),
            frame(
                "runtime.goexit",
                "/usr/local/go/src/runtime/asm_amd64.s",
                1700,
                false,
            ),
        ]
    }

    fn parse_stack(leaf: Frame, parse_line: u32) -> Vec<Frame> {
        vec![
            leaf,
            frame("main.parse", "/src/app/main.go", parse_line, false),
            frame("main.worker", "/src/app/main.go", 33, false),
            frame(
                "runtime.goexit",
                "/usr/local/go/src/runtime/asm_amd64.s",
                1700,
                false,
            ),
        ]
    }

    pub fn report() -> Report {
        let alloc_stacks = vec![
            StackCount {
                frames: gzip_stack(30),
                objects: 50,
                bytes: 4_000_000,
            },
            StackCount {
                frames: gzip_stack(31),
                objects: 50,
                bytes: 1_000_000,
            },
            StackCount {
                frames: parse_stack(
                    frame(
                        "runtime.makeslice",
                        "/usr/local/go/src/runtime/slice.go",
                        116,
                        false,
                    ),
                    55,
                ),
                objects: 8,
                bytes: 65_536,
            },
            StackCount {
                frames: parse_stack(
                    frame(
                        "runtime.newobject",
                        "/usr/local/go/src/runtime/malloc.go",
                        1710,
                        false,
                    ),
                    57,
                ),
                objects: 3,
                bytes: 0,
            },
            StackCount {
                frames: vec![frame("[unknown]", "", 0, false)],
                objects: 1,
                bytes: 4096,
            },
        ];
        Report {
            schema: 1,
            kind: "final",
            target: TargetInfo {
                pid: 4242,
                exe: "/srv/app".into(),
                go_version: "go1.23.9".into(),
                stripped: false,
                pie: false,
                cgo: false,
                exited: false,
            },
            window: Window {
                start_unix_ns: 1_700_000_000_000_000_000,
                duration_ns: 10_000_000_000,
                mode: "exact",
                sample_rate: 1,
                alloc_probes: "mallocgc".into(),
                attach_ns: 0,
                sampling: None,
                inuse_source: None,
            },
            overhead: Overhead {
                probe_hits: 112,
                lost_events: 0,
                stack_drops: 1,
                stacks_truncated: 0,
                cost_per_hit_ns: 12_000.0,
                stepped_hit_ns: 9_000.0,
                stepped_hits: 0,
                bpf_ns_per_hit: None,
                est_target_slowdown_pct: 0.1,
                est_target_slowdown_lower_bound: false,
                probe_ns: 0,
                target_cpu_ns: 1_000_000_000,
                tracer_cpu_ns: 0,
                tracer_taken_ns: 0,
                tracer_max_rss_bytes: 0,
            },
            allocations: Vec::new(),
            allocation_totals: AllocTotals {
                objects: 112,
                bytes: 5_069_632,
                slot_bytes: 5_069_632,
                sites: 4,
            },
            unattributed: Default::default(),
            functions: Vec::new(),
            alloc_stacks,
            goroutines: Vec::new(),
            goroutine_totals: Default::default(),
            madvise: Default::default(),
            map_sites: Vec::new(),
            maps: Vec::new(),
            map_totals: Default::default(),
            cpu: None,
            inuse: Default::default(),
            findings: Vec::new(),
            cpu_stacks: Vec::new(),
            inuse_stacks: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{frame, report};
    use super::*;

    #[test]
    fn golden_bytes() {
        assert_eq!(
            folded(&report(), Weight::Bytes),
            include_str!("testdata/folded_bytes.txt")
        );
    }

    #[test]
    fn golden_objects() {
        assert_eq!(
            folded(&report(), Weight::Objects),
            include_str!("testdata/folded_objects.txt")
        );
    }

    #[test]
    fn names_cannot_break_lines() {
        let mut r = report();
        r.alloc_stacks = vec![crate::report::StackCount {
            frames: vec![
                frame("main.f[go.shape.struct { a int; b string }]", "", 1, false),
                frame("", "", 0, false),
            ],
            objects: 1,
            bytes: 8,
        }];
        assert_eq!(
            folded(&r, Weight::Bytes),
            "[unknown];main.f[go.shape.struct { a int, b string }] 8\n"
        );
    }

    #[test]
    fn empty_window_is_empty() {
        let mut r = report();
        r.alloc_stacks.clear();
        assert_eq!(folded(&r, Weight::Objects), "");
    }
}
