//! Hand-built reports for the tests.
use tracer::{
    report::{
        AllocSite, AllocTotals, FuncLatency, HistBucket, Latency, Overhead, Report, SizeCount,
        TargetInfo, Window,
    },
    tracee::gobin::Frame,
};

pub fn frame(function: &str, file: &str, line: u32) -> Frame {
    Frame {
        function: function.into(),
        file: file.into(),
        line,
        inlined: false,
    }
}

/// A site allocating `objects` of `size` bytes over `secs`.
pub fn site(
    function: &str,
    file: &str,
    line: u32,
    objects: u64,
    size: u64,
    secs: f64,
) -> AllocSite {
    let site = frame(function, file, line);
    let bytes = objects * size;
    AllocSite {
        stack: vec![
            frame(
                "runtime.mallocgc",
                "/usr/local/go/src/runtime/malloc.go",
                1000,
            ),
            frame(
                "runtime.newobject",
                "/usr/local/go/src/runtime/malloc.go",
                1700,
            ),
            site.clone(),
            frame("main.main", "/app/main.go", 10),
        ],
        site,
        stacks: 1,
        via: Vec::new(),
        objects,
        bytes,
        slot_bytes: bytes,
        objects_per_sec: objects as f64 / secs,
        bytes_per_sec: bytes as f64 / secs,
        avg_size: size as f64,
        size_p50: size,
        size_p99: size,
        size_max: size,
        size_histogram: vec![
            HistBucket {
                le: 16,
                count: objects / 4,
            },
            HistBucket {
                le: size.max(32),
                count: objects - objects / 4,
            },
        ],
        sizes: vec![SizeCount {
            size,
            count: objects,
        }],
        inuse_objects: None,
        inuse_bytes: None,
    }
}

pub fn report(secs: f64, allocations: Vec<AllocSite>, lost_events: u64) -> Report {
    let totals = AllocTotals {
        objects: allocations.iter().map(|s| s.objects).sum(),
        bytes: allocations.iter().map(|s| s.bytes).sum(),
        slot_bytes: allocations.iter().map(|s| s.slot_bytes).sum(),
        sites: allocations.len(),
    };
    Report {
        schema: 1,
        kind: "interval",
        target: TargetInfo {
            pid: 1234,
            exe: "/srv/bin/api-server".into(),
            go_version: "go1.22.3".into(),
            stripped: false,
            pie: false,
            cgo: false,
            exited: false,
        },
        window: Window {
            start_unix_ns: 0,
            duration_ns: (secs * 1e9) as u64,
            mode: "exact",
            sample_rate: 1,
            alloc_probes: "mallocgc".into(),
            attach_ns: 0,
            sampling: None,
            inuse_source: None,
        },
        overhead: Overhead {
            probe_hits: totals.objects,
            lost_events,
            stack_drops: 0,
            stacks_truncated: 0,
            cost_per_hit_ns: 300.0,
            stepped_hit_ns: 9_000.0,
            stepped_hits: 0,
            bpf_ns_per_hit: None,
            est_target_slowdown_pct: 1.5,
            est_target_slowdown_lower_bound: false,
            probe_ns: 0,
            target_cpu_ns: 1_000_000_000,
            tracer_cpu_ns: 0,
            tracer_taken_ns: 0,
            tracer_max_rss_bytes: 0,
        },
        allocation_totals: totals,
        unattributed: Default::default(),
        allocations,
        functions: vec![FuncLatency {
            function: "main.(*Server).handle".into(),
            calls: (secs * 100.0) as u64,
            latency_ns: Latency {
                p50: Some(1_500_000),
                p90: Some(3_000_000),
                p99: Some(9_000_000),
                max: Some(20_000_000),
                mean: Some(2_000_000.0),
                resolution_ns: 30_000,
            },
        }],
        alloc_stacks: Vec::new(),
        goroutines: Vec::new(),
        goroutine_totals: Default::default(),
        madvise: Default::default(),
        map_sites: Vec::new(),
        maps: Vec::new(),
        map_totals: Default::default(),
        cpu: None,
        cpu_stacks: Vec::new(),
        inuse: Default::default(),
        inuse_stacks: Vec::new(),
        findings: Vec::new(),
    }
}

/// One second of three sites, and 95 s of the same sites plus an idle one.
pub fn pair(lost_events: u64) -> (Report, Report) {
    let interval = report(
        1.0,
        vec![
            site(
                "main.(*Server).handle",
                "/app/server.go",
                42,
                2048,
                1024,
                1.0,
            ),
            site(
                "encoding/json.Marshal",
                "/usr/local/go/src/encoding/json/encode.go",
                160,
                500,
                64,
                1.0,
            ),
            site("main.parse", "/app/parse.go", 7, 10, 16, 1.0),
        ],
        lost_events,
    );
    let mut total = report(
        95.0,
        vec![
            site(
                "main.(*Server).handle",
                "/app/server.go",
                42,
                194_560,
                1024,
                95.0,
            ),
            site(
                "encoding/json.Marshal",
                "/usr/local/go/src/encoding/json/encode.go",
                160,
                47_500,
                64,
                95.0,
            ),
            site("main.parse", "/app/parse.go", 7, 950, 16, 95.0),
            site("main.loadConfig", "/app/config.go", 88, 3, 4096, 95.0),
        ],
        lost_events,
    );
    total.kind = "final";
    total.allocations[0].via = vec!["io.ReadAll".into()];
    (interval, total)
}
