//! pprof export: a gzipped `perftools.profiles.Profile` (profile.proto)
//! with the sample types of Go's own allocation profile, so `go tool pprof`
//! (and `-base` diffs against it) work on what the tracer saw.
use std::collections::HashMap;
use std::io::Write as _;

use flate2::{write::GzEncoder, Compression};
use prost::Message as _;

use super::Report;
use crate::tracee::gobin::Frame;

/// Every figure of the report: allocations, then in-use and on-CPU
/// samples when it has them (`tracer attach --pprof`).
pub fn pprof_gz(report: &Report) -> anyhow::Result<Vec<u8>> {
    build(report, Parts::ALL).gz()
}

/// The allocations alone (`alloc_objects`, `alloc_space`).
pub fn alloc_pprof_gz(report: &Report) -> anyhow::Result<Vec<u8>> {
    build(report, Parts::ALLOC).gz()
}

/// The on-CPU samples alone, shaped as Go's CPU profile (`samples`, `cpu`
/// nanoseconds, period in cpu nanoseconds, runtime frames kept); `None`
/// when the report has no on-CPU sampling.
pub fn cpu_pprof_gz(report: &Report) -> Option<anyhow::Result<Vec<u8>>> {
    report.cpu.as_ref()?;
    Some(build(report, Parts::CPU).gz())
}

/// The in-use figures alone (`inuse_objects`, `inuse_space`, Go's heap
/// profile's in-use columns); `None` when the report has none.
pub fn inuse_pprof_gz(report: &Report) -> Option<anyhow::Result<Vec<u8>>> {
    report.inuse.source?;
    Some(build(report, Parts::INUSE).gz())
}

/// Sample types (type, unit) of each kind of figure, as Go's own
/// profiles name them.
pub const ALLOC_TYPES: &[(&str, &str)] = &[("alloc_objects", "count"), ("alloc_space", "bytes")];
pub const INUSE_TYPES: &[(&str, &str)] = &[("inuse_objects", "count"), ("inuse_space", "bytes")];
pub const CPU_TYPES: &[(&str, &str)] = &[("samples", "count"), ("cpu", "nanoseconds")];

/// Which of a report's figures a profile carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    alloc: bool,
    inuse: bool,
    cpu: bool,
}

impl Parts {
    const ALL: Parts = Parts {
        alloc: true,
        inuse: true,
        cpu: true,
    };
    const ALLOC: Parts = Parts {
        alloc: true,
        inuse: false,
        cpu: false,
    };
    const INUSE: Parts = Parts {
        alloc: false,
        inuse: true,
        cpu: false,
    };
    const CPU: Parts = Parts {
        alloc: false,
        inuse: false,
        cpu: true,
    };
}

/// The one mapping: the target's executable.
const MAPPING_ID: u64 = 1;

/// pprof values are int64; counts beyond that cannot occur in practice.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A Go profile being built: sample types, then samples (symbolized
/// stacks, leaf first, with one value per sample type).
pub struct Pprof {
    b: Builder,
    sample_type: Vec<proto::ValueType>,
    sample: Vec<proto::Sample>,
}

/// What a profile says about itself.
pub struct PprofMeta<'a> {
    /// The executable (the mapping's file name).
    pub exe: &'a str,
    pub time_nanos: u64,
    pub duration_nanos: u64,
    /// (type, unit) of `period`.
    pub period_type: (&'a str, &'a str),
    pub period: u64,
    pub comments: Vec<String>,
    pub default_sample_type: &'a str,
    /// Hide the runtime's frames below the program's (heap and goroutine
    /// profiles, as Go's own); a CPU profile keeps them.
    pub drop_runtime: bool,
}

impl Pprof {
    /// A profile with these (type, unit) sample types, in order.
    pub fn new(types: &[(&str, &str)]) -> Pprof {
        let mut b = Builder::default();
        // Index 0 must be the empty string.
        b.string("");
        let sample_type = types.iter().map(|(t, u)| b.value_type(t, u)).collect();
        Pprof {
            b,
            sample_type,
            sample: Vec::new(),
        }
    }

    pub fn width(&self) -> usize {
        self.sample_type.len()
    }

    /// One sample: its stack (leaf first) and one value per sample type.
    pub fn add(&mut self, frames: &[Frame], value: Vec<i64>) {
        let location_id = self.b.locations(frames);
        self.sample.push(proto::Sample {
            location_id,
            value,
            label: Vec::new(),
        });
    }

    /// The finished profile, gzipped as `go tool pprof` reads it.
    pub fn finish(mut self, meta: PprofMeta<'_>) -> anyhow::Result<Vec<u8>> {
        let b = &mut self.b;
        let comment = meta.comments.iter().map(|c| b.string(c)).collect();
        let period_type = Some(b.value_type(meta.period_type.0, meta.period_type.1));
        let default_sample_type = b.string(meta.default_sample_type);
        // Stacks start inside the runtime's allocator (runtime.newobject,
        // makeslice…), which Go's own heap profile leaves out. pprof hides
        // these frames below the first non-runtime one when it loads the
        // file, so flat values land on the allocating function; these are
        // the expressions pprof itself applies to Go heap profiles.
        let (drop_frames, keep_frames) = if meta.drop_runtime {
            (
                b.string(r"runtime\..*"),
                b.string(r"runtime\.panic|runtime\.reflectcall|runtime\.call[0-9]*"),
            )
        } else {
            (0, 0)
        };
        // The executable, so pprof's header names it; addresses are unknown
        // (stacks are kept symbolized) and every location is fully resolved.
        let mapping = vec![proto::Mapping {
            id: MAPPING_ID,
            filename: b.string(meta.exe),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
            ..Default::default()
        }];
        let profile = proto::Profile {
            sample_type: self.sample_type,
            sample: self.sample,
            mapping,
            location: self.b.location,
            function: self.b.function,
            string_table: self.b.strings,
            drop_frames,
            keep_frames,
            time_nanos: int(meta.time_nanos),
            duration_nanos: int(meta.duration_nanos),
            period_type,
            period: int(meta.period),
            comment,
            default_sample_type,
        };
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&profile.encode_to_vec())?;
        Ok(gz.finish()?)
    }
}

struct Built<'r> {
    pprof: Pprof,
    report: &'r Report,
    parts: Parts,
}

impl Built<'_> {
    fn gz(self) -> anyhow::Result<Vec<u8>> {
        let report = self.report;
        let t = &report.target;
        let comments = vec![
            format!(
                "tracer: pid {} {} {} ({} report)",
                t.pid, t.exe, t.go_version, report.kind
            ),
            format!(
                "{} mode, sample rate {}, probes: {}",
                report.window.mode, report.window.sample_rate, report.window.alloc_probes
            ),
        ];
        let meta = PprofMeta {
            exe: &t.exe,
            time_nanos: report.window.start_unix_ns,
            duration_nanos: report.window.duration_ns,
            // One recorded allocation stands for `sample_rate` allocations
            // (1 in exact mode), which is what period means for an event
            // count.
            period_type: ("allocations", "count"),
            period: report.window.sample_rate,
            comments,
            default_sample_type: "alloc_space",
            drop_runtime: true,
        };
        match (self.parts, &report.cpu) {
            // In-use figures alone, as the in-use half of Go's heap profile.
            (Parts::INUSE, _) => self.pprof.finish(PprofMeta {
                period_type: ("space", "bytes"),
                period: 0,
                default_sample_type: "inuse_space",
                ..meta
            }),
            // A CPU profile as Go writes one: one sample per period.
            (Parts::CPU, Some(cpu)) => self.pprof.finish(PprofMeta {
                period_type: ("cpu", "nanoseconds"),
                period: cpu.period_ns,
                default_sample_type: "cpu",
                drop_runtime: false,
                ..meta
            }),
            _ => self.pprof.finish(meta),
        }
    }
}

fn build(report: &Report, parts: Parts) -> Built<'_> {
    // With in-use figures, Go's heap profile types follow
    // (`-sample_index=inuse_space`), then with on-CPU samples the CPU
    // profile's (`-sample_index=cpu`). Each sample carries one kind of
    // value, zero in the other columns.
    let with_inuse = parts.inuse && report.inuse.source.is_some();
    let with_cpu = parts.cpu && report.cpu.is_some();
    let mut types = Vec::new();
    if parts.alloc {
        types.extend_from_slice(ALLOC_TYPES);
    }
    let inuse_at = types.len();
    if with_inuse {
        types.extend_from_slice(INUSE_TYPES);
    }
    let cpu_at = types.len();
    if with_cpu {
        types.extend_from_slice(CPU_TYPES);
    }
    let mut p = Pprof::new(&types);
    let width = p.width();
    let row = |at: usize, pair: [u64; 2]| {
        let mut v = vec![0; width];
        v[at] = int(pair[0]);
        v[at + 1] = int(pair[1]);
        v
    };
    let allocs = report.alloc_stacks.iter().filter(|_| parts.alloc);
    for stack in allocs {
        if stack.objects == 0 && stack.bytes == 0 {
            continue;
        }
        p.add(&stack.frames, row(0, [stack.objects, stack.bytes]));
    }
    if with_inuse {
        for stack in &report.inuse_stacks {
            p.add(&stack.frames, row(inuse_at, [stack.objects, stack.bytes]));
        }
    }
    if with_cpu {
        for stack in &report.cpu_stacks {
            p.add(&stack.frames, row(cpu_at, [stack.samples, stack.ns]));
        }
    }
    Built {
        pprof: p,
        report,
        parts,
    }
}

/// Interns strings, functions and locations; ids are 1-based as pprof
/// requires (0 means "none").
#[derive(Default)]
struct Builder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    function: Vec<proto::Function>,
    function_ids: HashMap<(String, String), u64>,
    location: Vec<proto::Location>,
    /// (function id, line) per inlining level, innermost first.
    location_ids: HashMap<Vec<(u64, i64)>, u64>,
}

impl Builder {
    fn string(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = int(self.strings.len() as u64);
        self.strings.push(s.to_owned());
        self.string_ids.insert(s.to_owned(), id);
        id
    }

    fn value_type(&mut self, ty: &str, unit: &str) -> proto::ValueType {
        proto::ValueType {
            r#type: self.string(ty),
            unit: self.string(unit),
        }
    }

    fn function(&mut self, f: &Frame) -> u64 {
        let key = (f.function.clone(), f.file.clone());
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        let id = self.function.len() as u64 + 1;
        let name = self.string(&f.function);
        let filename = self.string(&f.file);
        self.function.push(proto::Function {
            id,
            name,
            system_name: name,
            filename,
            start_line: 0,
        });
        self.function_ids.insert(key, id);
        id
    }

    /// Location ids of a stack, leaf first. A Go return address stands for
    /// a physical function plus the calls inlined into it, so each run of
    /// `inlined` frames and the frame they were inlined into form one
    /// Location whose Lines are innermost first, as in Go's own profiles;
    /// pprof then shows them as `(inline)` frames.
    fn locations(&mut self, frames: &[Frame]) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut lines: Vec<(u64, i64)> = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            lines.push((self.function(frame), i64::from(frame.line)));
            // A stack cut short after an inlined frame still ends a location.
            if !frame.inlined || i + 1 == frames.len() {
                ids.push(self.location(std::mem::take(&mut lines)));
            }
        }
        if ids.is_empty() {
            let unknown = crate::tracee::symbolize::unknown_frame();
            ids = self.locations(std::slice::from_ref(&unknown));
        }
        ids
    }

    fn location(&mut self, lines: Vec<(u64, i64)>) -> u64 {
        if let Some(&id) = self.location_ids.get(&lines) {
            return id;
        }
        let id = self.location.len() as u64 + 1;
        self.location.push(proto::Location {
            id,
            mapping_id: MAPPING_ID,
            address: 0,
            line: lines
                .iter()
                .map(|&(function_id, line)| proto::Line {
                    function_id,
                    line,
                    column: 0,
                })
                .collect(),
            is_folded: false,
        });
        self.location_ids.insert(lines, id);
        id
    }
}

/// A gzipped pprof read back (the OTLP export translates the agent's).
#[cfg_attr(not(any(feature = "otlp", test)), allow(dead_code))]
pub(crate) fn decode_gz(gz: &[u8]) -> anyhow::Result<proto::Profile> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut raw)?;
    Ok(proto::Profile::decode(raw.as_slice())?)
}

/// The messages of profile.proto that the export writes (field numbers as
/// in github.com/google/pprof/proto/profile.proto). Written by hand so the
/// build needs no protoc; repeated numeric fields are packed, as in proto3.
pub(crate) mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "7")]
        pub drop_frames: i64,
        #[prost(int64, tag = "8")]
        pub keep_frames: i64,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    impl Profile {
        /// `string_table[i]` ("" when out of range), for readers of a
        /// decoded profile.
        #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
        pub fn str_at(&self, i: i64) -> &str {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.string_table.get(i))
                .map_or("", String::as_str)
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
        #[prost(bool, tag = "5")]
        pub is_folded: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
        #[prost(int64, tag = "3")]
        pub column: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;
    use crate::report::folded::fixture::report;

    fn decode(gz: &[u8]) -> proto::Profile {
        decode_gz(gz).expect("gunzip and decode")
    }

    fn function_names(p: &proto::Profile, loc: &proto::Location) -> Vec<String> {
        loc.line
            .iter()
            .map(|l| {
                let f = &p.function[l.function_id as usize - 1];
                p.string_table[f.name as usize].clone()
            })
            .collect()
    }

    /// A profile's sample types, as "type/unit".
    fn types(p: &proto::Profile) -> Vec<String> {
        let s = |i: i64| p.string_table[i as usize].as_str();
        p.sample_type
            .iter()
            .map(|t| format!("{}/{}", s(t.r#type), s(t.unit)))
            .collect()
    }

    #[test]
    fn profile_structure() {
        let p = decode(&pprof_gz(&report()).expect("encode"));
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(p.string_table[0], "");
        assert_eq!(types(&p), ["alloc_objects/count", "alloc_space/bytes"]);
        assert_eq!(s(p.default_sample_type), "alloc_space");
        assert_eq!(s(p.drop_frames), r"runtime\..*");
        assert_eq!(p.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(p.duration_nanos, 10_000_000_000);
        // Every stack with a count is a sample, the zero-byte one included.
        let values: Vec<Vec<i64>> = p.sample.iter().map(|x| x.value.clone()).collect();
        assert_eq!(
            values,
            [
                vec![50, 4_000_000],
                vec![50, 1_000_000],
                vec![8, 65_536],
                vec![3, 0],
                vec![1, 4096]
            ]
        );
        // Leaf first; the inlined call shares its caller's location.
        let gzip = &p.sample[0];
        assert_eq!(gzip.location_id.len(), 5);
        let leaf = &p.location[gzip.location_id[0] as usize - 1];
        assert_eq!(
            function_names(&p, leaf),
            [
                "compress/flate.newDeflateFast",
                "compress/flate.(*compressor).init"
            ]
        );
        assert_eq!(leaf.line[0].line, 64);
        let worker = &p.location[gzip.location_id[3] as usize - 1];
        assert_eq!(
            function_names(&p, worker),
            ["main.(*handler).serve", "main.worker"]
        );
        // One Function per (name, file), whatever the lines.
        let workers = p
            .function
            .iter()
            .filter(|f| s(f.name) == "main.worker")
            .count();
        assert_eq!(workers, 1);
        for (i, f) in p.function.iter().enumerate() {
            assert_eq!(f.id, i as u64 + 1);
        }
        for (i, l) in p.location.iter().enumerate() {
            assert_eq!(l.id, i as u64 + 1);
        }
    }

    #[test]
    fn alloc_and_cpu_profiles_apart() {
        let mut r = report();
        assert!(cpu_pprof_gz(&r).is_none(), "no sampling, no CPU profile");
        r.cpu = Some(crate::report::CpuReport {
            frequency_hz: 100,
            period_ns: 10_000_000,
            samples: 7,
            kernel_samples: 0,
            stack_drops: 0,
            cpu_ns: 70_000_000,
            by_kind: BTreeMap::new(),
            functions: Vec::new(),
            sites: Vec::new(),
        });
        r.cpu_stacks = vec![crate::report::CpuStack {
            frames: r.alloc_stacks[0].frames.clone(),
            samples: 7,
            ns: 70_000_000,
        }];
        let p = decode(&cpu_pprof_gz(&r).unwrap().expect("encode"));
        let s = |i: i64| p.string_table[i as usize].clone();
        assert_eq!(types(&p), ["samples/count", "cpu/nanoseconds"]);
        let period = p.period_type.as_ref().unwrap();
        assert_eq!(
            (s(period.r#type), s(period.unit)),
            ("cpu".into(), "nanoseconds".into())
        );
        assert_eq!(p.period, 10_000_000);
        assert_eq!(s(p.default_sample_type), "cpu");
        // Runtime frames are CPU a program spends: kept.
        assert_eq!(p.drop_frames, 0);
        let values: Vec<Vec<i64>> = p.sample.iter().map(|x| x.value.clone()).collect();
        assert_eq!(values, [vec![7, 70_000_000]]);
        // The allocation profile has no CPU columns, the whole one has both.
        let a = decode(&alloc_pprof_gz(&r).expect("encode"));
        assert_eq!(types(&a), ["alloc_objects/count", "alloc_space/bytes"]);
        assert_eq!(a.sample.len(), 5);
        let all = decode(&pprof_gz(&r).expect("encode"));
        assert_eq!(all.sample_type.len(), 4);
        assert_eq!(all.sample.len(), 6);
    }

    #[test]
    fn inuse_profile_alone() {
        let mut r = report();
        assert!(
            inuse_pprof_gz(&r).is_none(),
            "no in-use figures, no profile"
        );
        r.inuse.source = Some("sampled");
        r.inuse_stacks = vec![crate::report::StackCount {
            frames: r.alloc_stacks[1].frames.clone(),
            objects: 40,
            bytes: 40_960,
        }];
        let p = decode(&inuse_pprof_gz(&r).unwrap().expect("encode"));
        let s = |i: i64| p.string_table[i as usize].clone();
        assert_eq!(types(&p), ["inuse_objects/count", "inuse_space/bytes"]);
        assert_eq!(s(p.default_sample_type), "inuse_space");
        let period = p.period_type.as_ref().unwrap();
        assert_eq!(
            (s(period.r#type), s(period.unit)),
            ("space".into(), "bytes".into())
        );
        // The allocator's frames go, as in Go's heap profile.
        assert_eq!(s(p.drop_frames), r"runtime\..*");
        let values: Vec<Vec<i64>> = p.sample.iter().map(|x| x.value.clone()).collect();
        assert_eq!(values, [vec![40, 40_960]]);
    }

    #[test]
    fn stack_ending_in_an_inlined_frame_still_has_a_location() {
        let mut b = Builder::default();
        b.string("");
        let frames = [
            crate::report::folded::fixture::frame("a", "a.go", 1, true),
            crate::report::folded::fixture::frame("b", "b.go", 2, true),
        ];
        let ids = b.locations(&frames);
        assert_eq!(ids.len(), 1);
        assert_eq!(b.location[0].line.len(), 2);
        assert_eq!(b.locations(&[]).len(), 1, "empty stack → [unknown]");
    }

    /// `go` binaries: $TRACER_GO_BINS (colon-separated), else every
    /// toolchain under $TRACER_CACHE/go, ~/.cache/tracer/go or
    /// /root/.cache/tracer/go (as `cargo xtask` installs them).
    fn go_toolchains() -> Vec<PathBuf> {
        crate::testgo::toolchains()
    }

    fn pprof(go: &Path, args: &[&str], file: &Path) -> String {
        let out = Command::new(go)
            .args(["tool", "pprof"])
            .args(args)
            .arg(file)
            .env("GOTOOLCHAIN", "local")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", go.display()));
        assert!(
            out.status.success(),
            "{} tool pprof {args:?} failed: {}",
            go.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `-top` rows as name → (flat, cum).
    fn top_rows(out: &str) -> BTreeMap<String, (String, String)> {
        out.lines()
            .skip_while(|l| !l.trim_start().starts_with("flat"))
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() > 5).then(|| {
                    (
                        cols[5..].join(" "),
                        (cols[0].to_string(), cols[3].to_string()),
                    )
                })
            })
            .collect()
    }

    fn expect_rows(out: &str, want: &[(&str, &str, &str)]) {
        let rows = top_rows(out);
        for &(name, flat, cum) in want {
            let got = rows
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
            assert_eq!(
                (got.0.as_str(), got.1.as_str()),
                (flat, cum),
                "{name}:\n{out}"
            );
        }
    }

    #[test]
    fn go_tool_pprof_reads_it() {
        let dir = std::env::temp_dir().join(format!("tracer-pprof-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("allocs.pb.gz");
        std::fs::write(&file, pprof_gz(&report()).expect("encode")).expect("write profile");
        for go in go_toolchains() {
            let space = pprof(
                &go,
                &[
                    "-top",
                    "-nodefraction=0",
                    "-unit=B",
                    "-sample_index=alloc_space",
                ],
                &file,
            );
            assert!(space.contains("Type: alloc_space"), "{space}");
            assert!(space.contains("Duration: 10s"), "{space}");
            expect_rows(
                &space,
                &[
                    (
                        "compress/flate.newDeflateFast (inline)",
                        "5000000B",
                        "5000000B",
                    ),
                    ("main.parse", "65536B", "65536B"),
                    ("[unknown]", "4096B", "4096B"),
                    ("compress/flate.(*compressor).init", "0", "5000000B"),
                    ("main.(*handler).serve (inline)", "0", "5000000B"),
                    ("main.worker", "0", "5065536B"),
                ],
            );
            let objects = pprof(
                &go,
                &["-top", "-nodefraction=0", "-sample_index=alloc_objects"],
                &file,
            );
            assert!(objects.contains("Type: alloc_objects"), "{objects}");
            // The allocator's own frames are dropped, as in Go's profiles.
            assert!(!objects.contains("runtime.newobject"), "{objects}");
            expect_rows(
                &objects,
                &[
                    ("compress/flate.newDeflateFast (inline)", "100", "100"),
                    ("main.parse", "11", "11"),
                    ("[unknown]", "1", "1"),
                    ("runtime.goexit", "0", "111"),
                ],
            );
            // Each inlined call is its own frame, above the function it
            // was inlined into.
            let traces = pprof(&go, &["-traces"], &file);
            for pair in [
                "compress/flate.newDeflateFast (inline)\n             compress/flate.(*compressor).init\n",
                "main.(*handler).serve (inline)\n             main.worker\n",
            ] {
                assert!(traces.contains(pair), "{}: {pair:?} not in\n{traces}", go.display());
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
