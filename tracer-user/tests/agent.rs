//! `tracer agent` with real parts: Go programs of every installed version
//! (plain, stripped, PIE) print their own `MemStats`, `NumGoroutine`,
//! GOGC, GOMEMLIMIT and RSS; Debian's `prometheus` scrapes the agent; the
//! test compares Prometheus's query results with the programs' figures,
//! then changes them, stops programs, starts new ones, sends the agent bad
//! requests and SIGTERM.
//!
//! Run as root by `cargo xtask test` (the agent reads other processes'
//! memory). Needs `prometheus` (TRACER_PROMETHEUS, else on PATH).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 request; returns (status, body).
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Prometheus {
    child: Child,
    port: u16,
    /// Its config and data (removed when it is dropped).
    dir: PathBuf,
}

impl Prometheus {
    fn start(agent_port: u16) -> Prometheus {
        let bin = std::env::var("TRACER_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let dir = std::env::temp_dir().join(format!("tracer-prom-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: tracer\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{agent_port}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e} (cargo xtask test installs it)"));
        let p = Prometheus { child, port, dir };
        let t = Instant::now();
        while !p.ready() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "prometheus not ready"
            );
            thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// Listening and ready. Connections are refused while it starts (on a
    /// clean CI machine for more than the 200 ms the one retry here once
    /// waited, and the test failed on `connect`).
    fn ready(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && http(self.port, "GET", "/-/ready").0 == 200
    }

    /// An instant query's vector: (labels, value) per series.
    fn query(&self, q: &str) -> Vec<(Value, f64)> {
        let (status, body) = http(
            self.port,
            "GET",
            &format!("/api/v1/query?query={}", encode(q)),
        );
        assert_eq!(status, 200, "query {q}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let val = r["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (r["metric"].clone(), val)
            })
            .collect()
    }

    /// The one value of `metric` for `pid`, waiting up to 20 s for it.
    fn value(&self, metric: &str, pid: u32) -> f64 {
        let q = format!("{metric}{{pid=\"{pid}\"}}");
        let t = Instant::now();
        loop {
            let r = self.query(&q);
            if r.len() == 1 {
                return r[0].1;
            }
            assert!(r.len() <= 1, "{q}: {r:?}");
            assert!(t.elapsed() < Duration::from_secs(20), "{q}: no series");
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until Prometheus has scraped at least twice after now.
    fn wait_scrapes(&self) {
        let t = Instant::now();
        let count = || {
            self.query("count_over_time(up[1h])")
                .first()
                .map_or(0.0, |x| x.1)
        };
        let n0 = count();
        while count() < n0 + 2.0 {
            assert!(t.elapsed() < Duration::from_secs(30), "no scrapes");
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Agent {
    child: Child,
    port: u16,
}

impl Agent {
    fn start(args: &[&str]) -> Agent {
        let port = free_port();
        let child = Command::new(tracer_bin())
            .args(["agent", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TRACER_TEST_ECHO_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start tracer agent");
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(30), "agent not listening");
            thread::sleep(Duration::from_millis(50));
        }
        Agent { child, port }
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn within(what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let err = (got - want).abs();
    assert!(
        err <= (want.abs() * rel).max(abs),
        "{what}: agent says {got}, the program {want} (allowed ±{:.0}% or {abs})",
        rel * 100.0
    );
}

/// Every figure of `prog` (its own `report`, `own`) against Prometheus.
fn check_program(prom: &Prometheus, prog: &mut GoProgram, own: &Value) {
    let pid = prog.pid;
    let f = |k: &str| own[k].as_f64().unwrap_or_else(|| panic!("{k} in {own}"));
    let v = |m: &str| prom.value(m, pid);
    let who = format!("pid {pid} {}", own["go_version"]);
    let later = prog.command("report");
    // Exact: the program is quiet between its report and the scrape.
    // tracer_go_goroutines has one series per state; their sum is
    // NumGoroutine.
    let total = prom.query(&format!("sum(tracer_go_goroutines{{pid=\"{pid}\"}})"));
    assert_eq!(
        total.first().map(|s| s.1),
        Some(f("goroutines")),
        "{who} goroutines"
    );
    assert_eq!(
        v("tracer_go_gc_cycles_total"),
        f("num_gc"),
        "{who} GC cycles"
    );
    assert_eq!(v("tracer_go_gogc_percent"), f("gogc"), "{who} GOGC");
    within(
        &format!("{who} GOMEMLIMIT"),
        v("tracer_go_memory_limit_bytes"),
        f("memory_limit"),
        1e-9,
        0.0,
    );
    within(
        &format!("{who} Mallocs"),
        v("tracer_go_allocations_total"),
        f("mallocs"),
        0.02,
        0.0,
    );
    within(
        &format!("{who} TotalAlloc"),
        v("tracer_go_allocated_bytes_total"),
        f("total_alloc"),
        0.02,
        0.0,
    );
    within(
        &format!("{who} HeapAlloc"),
        v("tracer_go_heap_live_bytes"),
        f("heap_alloc"),
        0.10,
        0.0,
    );
    within(
        &format!("{who} HeapObjects"),
        v("tracer_go_heap_objects"),
        f("heap_objects"),
        0.10,
        0.0,
    );
    within(
        &format!("{who} Frees"),
        v("tracer_go_frees_total"),
        f("frees"),
        0.10,
        200.0,
    );
    // The background scavenger returns pages while the program is
    // otherwise quiet: released bytes and RSS move between its report
    // and the scrape, so they must lie between the report before and
    // the one after (`later`).
    let between = |what: &str, got: f64, key: &str, rel: f64, abs: f64| {
        let (a, b) = (f(key), later[key].as_f64().unwrap());
        let (lo, hi) = (a.min(b), a.max(b));
        assert!(
            got >= lo * (1.0 - rel) - abs && got <= hi * (1.0 + rel) + abs,
            "{who} {what}: agent says {got}, the program {a} before and {b} after"
        );
    };
    between(
        "HeapReleased",
        v("tracer_go_heap_released_bytes"),
        "heap_released",
        0.02,
        65536.0,
    );
    between("RSS", v("tracer_process_rss_bytes"), "rss", 0.10, 1048576.0);
    // Goroutines by creation site: the parked ones at main.spawn's go
    // statement, the main goroutine apart.
    let spawn = prom.query(&format!(
        "tracer_go_site_goroutines{{pid=\"{pid}\",site=~\"main.spawn .*\"}}"
    ));
    assert_eq!(
        spawn.first().map(|s| s.1),
        Some(f("goroutines") - 1.0),
        "{who} by site: {spawn:?}"
    );
    // Heap by site from the runtime's own profile: equal to the program's
    // own reading of it (same moment: the program is quiet).
    let rate = v("tracer_go_heap_profile_rate_bytes");
    match own.get("own_inuse") {
        Some(mine) => {
            assert_eq!(rate, 524288.0, "{who}: heap profile rate");
            let grow = prom.query(&format!(
                // Every line of main.grow (the objects, and `kept`'s array).
                "sum(tracer_go_site_inuse_bytes{{pid=\"{pid}\",site=~\"main.grow .*\"}})"
            ));
            let want = mine["main.grow"].as_f64().unwrap_or(0.0);
            let got = grow.first().map_or(0.0, |s| s.1);
            within(&format!("{who} in-use at main.grow"), got, want, 0.03, 0.0);
        }
        None => assert_eq!(rate, 0.0, "{who}: the heap profile is off in this binary"),
    }
    let waiting = prom.query(&format!(
        "tracer_go_goroutines{{pid=\"{pid}\",state=\"waiting\"}}"
    ));
    assert!(
        waiting
            .first()
            .is_some_and(|s| s.1 >= f("goroutines") - 2.0),
        "{who}: the parked goroutines are waiting: {waiting:?}"
    );
}

#[test]
#[ignore]
fn agent_feeds_prometheus_the_programs_own_figures() {
    let gos = go_bins();
    let mut builds = Vec::new();
    for (i, go) in gos.iter().enumerate() {
        builds.push(build_go(go, "fleet", &[]));
        if i == 0 || i + 1 == gos.len() {
            builds.push(build_go(go, "fleet", &["-ldflags=-s -w"]));
        }
        if i == 1 {
            builds.push(build_go(go, "fleet", &["-buildmode=pie", "-ldflags=-s -w"]));
        }
        if i == 0 || i + 1 == gos.len() {
            builds.push(build_go(go, "fleet", &["-tags", "heapprof"]));
        }
    }
    let mut progs: Vec<GoProgram> = builds
        .iter()
        .enumerate()
        .map(|(i, bin)| {
            let limit = if i % 2 == 1 {
                (512 << 20) + i as i64 * 4096
            } else {
                -1
            };
            GoProgram::start_with(
                bin,
                &[
                    &format!("-keep={}", 10_000 + 5_000 * i),
                    &format!("-goroutines={}", 5 + 7 * i),
                    &format!("-gogc={}", 50 + 25 * i),
                    &format!("-limit={limit}"),
                ],
            )
        })
        .collect();
    let agent = Agent::start(&["--select", "exe=fleet-*", "--scan-interval", "500ms"]);
    let prom = Prometheus::start(agent.port);

    // 1. Every program's own figures.
    let own: Vec<Value> = progs.iter_mut().map(|p| p.command("report")).collect();
    prom.wait_scrapes();
    for (p, o) in progs.iter_mut().zip(&own) {
        check_program(&prom, p, o);
        let labels = &prom.query(&format!("tracer_go_heap_live_bytes{{pid=\"{}\"}}", p.pid))[0].0;
        assert_eq!(labels["go_version"], o["go_version"], "{labels}");
        assert!(
            labels["exe"].as_str().unwrap().contains("fleet-"),
            "{labels}"
        );
    }
    eprintln!("agent: {} programs checked", progs.len());

    // 2. Changed at run time: more heap and goroutines, new GOGC and limit.
    let own: Vec<Value> = progs
        .iter_mut()
        .enumerate()
        .map(|(i, p)| {
            p.command(&format!("grow {}", 8_000 + 1_000 * i));
            p.command(&format!("spawn {}", 3 + i));
            p.command(&format!("gogc {}", 200 + i));
            p.command(&format!("limit {}", (1i64 << 30) + i as i64))
        })
        .collect();
    prom.wait_scrapes();
    for (p, o) in progs.iter_mut().zip(&own) {
        check_program(&prom, p, o);
    }
    let own: Vec<Value> = progs.iter_mut().map(|p| p.command("release")).collect();
    prom.wait_scrapes();
    for (p, o) in progs.iter_mut().zip(&own) {
        check_program(&prom, p, o);
    }

    // 3. A program that exits is gone from the next scrapes.
    let gone = progs.pop().unwrap();
    let gone_pid = gone.pid;
    gone.finish();
    thread::sleep(Duration::from_secs(1));
    prom.wait_scrapes();
    let q = format!("tracer_go_heap_live_bytes{{pid=\"{gone_pid}\"}}");
    assert!(prom.query(&q).is_empty(), "{q} still there");
    assert_eq!(
        prom.query("tracer_agent_targets")[0].1,
        progs.len() as f64,
        "targets"
    );

    // 4. Processes coming and going: each found within a scan, memory flat.
    // The first processes (one per executable) fill the agent's cache of
    // parsed executables; then it stays flat.
    let found0 = prom.query("tracer_agent_found_total")[0].1;
    let (warm, cycles) = (builds.len(), 16);
    let mut rss_before = 0;
    for i in 0..warm + cycles {
        if i == warm {
            rss_before = agent.rss_kib();
        }
        let mut p =
            GoProgram::start_with(&builds[i % builds.len()], &["-keep=1000", "-goroutines=3"]);
        let t = Instant::now();
        loop {
            let (_, page) = http(agent.port, "GET", "/metrics");
            if page.contains(&format!("pid=\"{}\"", p.pid)) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_millis(1500),
                "pid {} not found within a scan period (500 ms) and a margin",
                p.pid
            );
            thread::sleep(Duration::from_millis(50));
        }
        let _ = p.command("report");
        p.finish();
    }
    prom.wait_scrapes();
    let found = prom.query("tracer_agent_found_total")[0].1;
    assert_eq!(found - found0, (warm + cycles) as f64, "found");
    let rss_after = agent.rss_kib();
    assert!(
        rss_after < rss_before + 8 * 1024,
        "agent RSS grew from {rss_before} KiB to {rss_after} KiB over {cycles} processes"
    );
    eprintln!("agent: RSS {rss_before} KiB -> {rss_after} KiB over {cycles} processes");

    // 5. Bad requests get an error; the agent goes on.
    assert_eq!(http(agent.port, "POST", "/metrics").0, 405);
    assert_eq!(http(agent.port, "GET", "/admin").0, 404);
    for junk in [
        b"GARBAGE\r\n\r\n".to_vec(),
        [
            b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec(),
            vec![b'a'; 4 << 20],
            b"\r\n\r\n".to_vec(),
        ]
        .concat(),
        vec![0u8; 100_000],
    ] {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", agent.port)) {
            let _ = s.write_all(&junk);
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
    assert_eq!(
        http(agent.port, "GET", "/healthz"),
        (200, "ok\n".to_string())
    );

    // 6. SIGTERM: exits 0.
    let mut agent = agent;
    unsafe { libc::kill(agent.child.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    let status = loop {
        if let Some(s) = agent.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "agent ignored SIGTERM"
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "agent exited with {status}");
    for p in progs {
        p.finish();
    }
}

#[test]
#[ignore]
fn agent_bad_arguments_are_one_line_errors() {
    let out = run_tracer(&["agent", "--select", "user=root"]);
    assert_one_line_error(&out, 2, "unknown kind");
    let out = run_tracer(&["agent", "--select", "exe=["]);
    assert_one_line_error(&out, 2, "bad glob");
    let out = run_tracer(&["agent", "--cpu-hz", "20000"]);
    assert_one_line_error(&out, 2, "--cpu-hz");
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = run_tracer(&["agent", "--listen", &addr]);
    assert_one_line_error(&out, 2, "--listen");
}

/// What a fake backend received: (request line, headers, body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A minimal HTTP server standing in for Pyroscope and Parca: stores
/// every request and answers 200.
fn receiver() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Received = Default::default();
    let store = std::sync::Arc::clone(&got);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..at]).into_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < at + 4 + len {
                        let n = s.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buf[at + 4..].to_vec());
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            let (line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
            store
                .lock()
                .unwrap()
                .push((line.to_string(), headers.to_string(), body));
        }
    });
    (port, got)
}

/// The `profile` part of a multipart/form-data body.
fn multipart_profile(headers: &str, body: &[u8]) -> Vec<u8> {
    let boundary = headers
        .split("boundary=")
        .nth(1)
        .and_then(|b| b.lines().next())
        .expect("multipart boundary")
        .trim()
        .to_string();
    let sep = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.windows(sep.len()).position(|w| w == sep.as_bytes()) {
        parts.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    for p in parts {
        let Some(h) = p.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        if String::from_utf8_lossy(&p[..h]).contains("name=\"profile\"") {
            let data = &p[h + 4..];
            return data.strip_suffix(b"\r\n").unwrap_or(data).to_vec();
        }
    }
    panic!("no profile part");
}

/// `go tool pprof -top -unit=B` of a profile: (total, output).
fn pprof_top(go: &std::path::Path, data: &[u8], index: &str) -> (f64, String) {
    pprof_top_in(go, data, index, "B")
}

/// `go tool pprof -top -unit=UNIT` of a profile: (total in UNIT, output).
fn pprof_top_in(go: &std::path::Path, data: &[u8], index: &str, unit: &str) -> (f64, String) {
    let file =
        std::env::temp_dir().join(format!("tracer-agent-{}-{index}.pb.gz", std::process::id()));
    std::fs::write(&file, data).unwrap();
    let out = Command::new(go)
        .args([
            "tool",
            "pprof",
            &format!("-sample_index={index}"),
            &format!("-unit={unit}"),
            "-top",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pprof: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = text
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for"))
        .and_then(|l| l.rsplit(" of ").next())
        .and_then(|t| t.split_whitespace().next())
        .map(|t| t.trim_end_matches(unit).parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    (total, text)
}

/// The profile's own `Duration: 8.01s` of `pprof -top`, in seconds.
/// The flat value of `function`'s line in `go tool pprof -top -unit=B`.
fn flat_of(top: &str, function: &str) -> Option<f64> {
    let line = top
        .lines()
        .find(|l| l.split_whitespace().last() == Some(function))?;
    line.split_whitespace()
        .next()?
        .trim_end_matches('B')
        .parse()
        .ok()
}

fn pprof_duration(top: &str) -> f64 {
    top.lines()
        .find_map(|l| l.strip_prefix("Duration: "))
        .and_then(|d| d.split(',').next())
        .and_then(|d| d.trim().strip_suffix('s'))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0)
}

/// The CPU time of processes, read every 50 ms with the wall clock, so a
/// test can tell what a process used between two instants.
struct CpuLog {
    log: std::sync::Arc<std::sync::Mutex<Vec<(u32, f64, f64)>>>,
}

impl CpuLog {
    fn start(pids: Vec<u32>) -> CpuLog {
        let log: std::sync::Arc<std::sync::Mutex<Vec<(u32, f64, f64)>>> = Default::default();
        let w = std::sync::Arc::downgrade(&log);
        thread::spawn(move || {
            while let Some(log) = w.upgrade() {
                for &pid in &pids {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs_f64();
                    if let Some(c) = cpu_seconds(pid) {
                        log.lock().unwrap().push((pid, now, c));
                    }
                }
                drop(log);
                thread::sleep(Duration::from_millis(50));
            }
        });
        CpuLog { log }
    }

    /// CPU seconds `pid` used from unix time `from` to `to`.
    fn used(&self, pid: u32, from: f64, to: f64) -> f64 {
        let log = self.log.lock().unwrap();
        let at = |t: f64| {
            log.iter()
                .filter(|e| e.0 == pid)
                .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
                .map(|e| e.2)
                .unwrap()
        };
        at(to) - at(from)
    }
}

/// User and system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime: fields 14 and 15, in clock ticks (100 a second).
    Some((f[11] + f[12]) / 100.0)
}

/// The flat value of `function` in `pprof -top` output.
fn flat(top: &str, function: &str) -> f64 {
    top.lines()
        .find(|l| l.split_whitespace().nth(5) == Some(function))
        .and_then(|l| l.split_whitespace().next())
        .map_or(0.0, |v| v.trim_end_matches('B').parse().unwrap_or(0.0))
}

#[test]
#[ignore]
fn agent_profiles_reach_pyroscope_parca_and_a_directory() {
    let gos = go_bins();
    let go = gos.last().unwrap();
    let with_profile = build_go(&gos[0], "fleet", &["-tags", "heapprof"]);
    let plain = build_go(go, "fleet", &["-ldflags=-s -w"]);
    let mut a = GoProgram::start_with(&with_profile, &["-keep=30000", "-goroutines=9"]);
    let mut b = GoProgram::start_with(&plain, &["-goroutines=4"]);
    let own_a = a.command("report");
    let own_b = b.command("report");
    let (port, got) = receiver();
    let dir = std::env::temp_dir().join(format!("tracer-agent-profiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("http://127.0.0.1:{port}");
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        "--profile-period",
        "1s",
        "--profiles-dir",
        dir.to_str().unwrap(),
        "--profiles-keep",
        "2",
        "--pyroscope",
        &url,
        "--parca",
        &url,
        // The periodic profiles only (a slice would push its own).
        "--slice",
        "0",
    ]);
    // Three rounds: per round, a goroutine profile of each and a heap
    // profile of `a`, to each backend.
    let t = Instant::now();
    while got.lock().unwrap().len() < 2 * 3 * 3 {
        assert!(t.elapsed() < Duration::from_secs(30), "profiles not pushed");
        thread::sleep(Duration::from_millis(200));
    }
    let received = got.lock().unwrap().clone();
    let mut checked = (0, 0, 0);
    for (line, headers, body) in &received {
        let (profile, name) = if line.starts_with("POST /ingest?") {
            assert!(line.contains("format=pprof"), "{line}");
            (multipart_profile(headers, body), line.clone())
        } else {
            assert!(line.starts_with("POST /profiles/writeraw "), "{line}");
            let v: Value = serde_json::from_slice(body).unwrap();
            let s = &v["series"][0];
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(s["samples"][0]["rawProfile"].as_str().unwrap())
                .unwrap();
            (raw, s["labels"].to_string())
        };
        let pid_of = |p: &GoProgram| {
            name.contains(&format!("pid%3D{}", p.pid))
                || name.contains(&format!("\"value\":\"{}\"", p.pid))
        };
        let (prog_own, is_a) = if pid_of(&a) {
            (&own_a, true)
        } else {
            assert!(pid_of(&b), "profile of an unknown process: {name}");
            (&own_b, false)
        };
        let heap = name.contains("profile%3Dheap")
            || name.contains(r#"{"name":"__name__","value":"heap"}"#);
        if heap {
            assert!(
                is_a,
                "a heap profile for a binary whose profile is off: {name}"
            );
            let (_, top) = pprof_top(go, &profile, "inuse_space");
            let want = prog_own["own_inuse"]["main.grow"].as_f64().unwrap();
            within(
                "pushed heap profile, in use at main.grow",
                flat(&top, "main.grow"),
                want,
                0.03,
                0.0,
            );
            checked.0 += 1;
        } else {
            let (total, top) = pprof_top(go, &profile, "goroutine");
            assert_eq!(total, prog_own["goroutines"].as_f64().unwrap(), "{top}");
            assert!(top.contains("main.spawn"), "{top}");
            checked.1 += 1;
        }
        checked.2 += 1;
    }
    eprintln!(
        "agent: {} pushed profiles read by go tool pprof (heap {}, goroutine {})",
        checked.2, checked.0, checked.1
    );
    assert!(checked.0 >= 4 && checked.1 >= 8, "{checked:?}");
    // The directory (the agent stopped): the newest 2 per process and
    // kind, each readable.
    drop(agent);
    let mut files = Vec::new();
    for d in std::fs::read_dir(&dir).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    assert_eq!(files.len(), 2 * 3, "{files:?}");
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let index = if f.to_string_lossy().contains("/heap-") {
            "inuse_space"
        } else {
            "goroutine"
        };
        let (total, top) = pprof_top(go, &data, index);
        assert!(total > 0.0, "{}: {top}", f.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    a.finish();
    b.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// OTLP profiles (feature `otlp`): each request the agent posts to
/// `/v1development/profiles` is read by OpenTelemetry's own generated
/// classes (Python `opentelemetry-proto`, TRACER_OTLP_PY), which also check
/// the dictionary's rules; the goroutine counts equal the programs' own,
/// the heap's in-use bytes at `main.grow` their own heap profile's.
#[cfg(feature = "otlp")]
#[test]
#[ignore]
fn agent_profiles_reach_an_otlp_receiver() {
    let gos = go_bins();
    let go = gos.last().unwrap();
    let with_profile = build_go(go, "fleet", &["-tags", "heapprof"]);
    let plain = build_go(&gos[0], "fleet", &["-ldflags=-s -w"]);
    let mut a = GoProgram::start_with(&with_profile, &["-keep=30000", "-goroutines=9"]);
    let mut b = GoProgram::start_with(&plain, &["-goroutines=4"]);
    let own_a = a.command("report");
    let own_b = b.command("report");
    let (port, got) = receiver();
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        "--profile-period",
        "1s",
        "--otlp",
        &format!("http://127.0.0.1:{port}/"),
        "--slice",
        "0",
    ]);
    // Two rounds: the goroutines of each, the heap of `a`.
    let t = Instant::now();
    while got.lock().unwrap().len() < 2 * 3 {
        assert!(t.elapsed() < Duration::from_secs(30), "profiles not pushed");
        thread::sleep(Duration::from_millis(200));
    }
    drop(agent);
    let received = got.lock().unwrap().clone();
    let dir = std::env::temp_dir().join(format!("tracer-agent-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, (line, headers, body)) in received.iter().enumerate() {
        assert!(line.starts_with("POST /v1development/profiles "), "{line}");
        assert!(
            headers
                .to_ascii_lowercase()
                .contains("content-type: application/x-protobuf"),
            "{headers}"
        );
        let f = dir.join(format!("{i}.pb"));
        std::fs::write(&f, body).unwrap();
        files.push(f);
    }
    let py = std::env::var("TRACER_OTLP_PY").expect("TRACER_OTLP_PY (cargo xtask test sets it)");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/otlp/decode.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(&files)
        .env("PYTHONPATH", &py)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "decode.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let decoded: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = (0, 0);
    for (file, profiles) in decoded.as_object().unwrap() {
        let profiles = profiles.as_array().unwrap();
        let first = &profiles[0];
        let pid = first["resource"]["process.pid"].as_u64().unwrap() as u32;
        let (own, is_a) = if pid == a.pid {
            (&own_a, true)
        } else {
            assert_eq!(pid, b.pid, "{file}: {first}");
            (&own_b, false)
        };
        assert!(
            first["resource"]["service.name"]
                .as_str()
                .unwrap()
                .starts_with("fleet-"),
            "{first}"
        );
        assert_eq!(first["resource"]["process.runtime.name"], "go", "{first}");
        let of_type = |ty: &str| {
            profiles
                .iter()
                .find(|p| p["type"] == ty)
                .unwrap_or_else(|| panic!("{file}: no {ty} profile in {profiles:?}"))
        };
        match first["attributes"]["tracer.profile.kind"].as_str().unwrap() {
            "heap" => {
                assert!(is_a, "a heap profile of a binary whose profile is off");
                let types: Vec<&str> = profiles
                    .iter()
                    .map(|p| p["type"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    types,
                    [
                        "alloc_objects",
                        "alloc_space",
                        "inuse_objects",
                        "inuse_space"
                    ]
                );
                let inuse = of_type("inuse_space");
                assert_eq!(inuse["unit"], "bytes");
                within(
                    "OTLP heap profile, in use at main.grow",
                    inuse["flat"]["main.grow"].as_f64().unwrap_or(0.0),
                    own["own_inuse"]["main.grow"].as_f64().unwrap(),
                    0.03,
                    0.0,
                );
                checked.0 += 1;
            }
            "goroutine" => {
                let g = of_type("goroutine");
                assert_eq!(g["total"], own["goroutines"], "{file}: {g}");
                let functions = g["functions"].to_string();
                assert!(functions.contains("main.spawn"), "{functions}");
                checked.1 += 1;
            }
            other => panic!("{file}: profile kind {other}"),
        }
    }
    eprintln!(
        "agent: {} OTLP requests read by opentelemetry-proto (heap {}, goroutine {})",
        decoded.as_object().unwrap().len(),
        checked.0,
        checked.1
    );
    assert!(checked.0 >= 2 && checked.1 >= 4, "{checked:?}");
    a.finish();
    b.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake API server: answers every GET with `body`, records the paths.
fn fake_api(body: String) -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Received = Default::default();
    let store = std::sync::Arc::clone(&got);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            let line = head.lines().next().unwrap_or("").to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            store.lock().unwrap().push((line, head, Vec::new()));
        }
    });
    (port, got)
}

/// A cgroup (v1 `pids` hierarchy, else v2) at `path` holding `pid`:
/// what a container runtime makes. Removed (the pid moved back) on drop.
struct FakeContainer {
    root: PathBuf,
    dirs: Vec<PathBuf>,
    pid: u32,
}

impl FakeContainer {
    fn new(pid: u32, path: &str) -> FakeContainer {
        for root in [
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ] {
            let root = PathBuf::from(root);
            if !root.join("cgroup.procs").exists() {
                continue;
            }
            let mut dirs = Vec::new();
            let mut at = root.clone();
            let mut ok = true;
            for part in path.split('/').filter(|p| !p.is_empty()) {
                at = at.join(part);
                if !at.exists() {
                    if std::fs::create_dir(&at).is_err() {
                        ok = false;
                        break;
                    }
                    dirs.push(at.clone());
                }
            }
            if ok && std::fs::write(at.join("cgroup.procs"), pid.to_string()).is_ok() {
                return FakeContainer { root, dirs, pid };
            }
            for d in dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        panic!("cannot create a cgroup for pid {pid} (v1 pids or v2): the agent test needs root and a writable cgroup fs");
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = std::fs::write(self.root.join("cgroup.procs"), self.pid.to_string());
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
#[ignore]
fn agent_names_pods_from_cgroups_and_the_kubernetes_api() {
    const ID: &str = "4f1c7e0c3b2a19d8e7f6a5b4c3d2e1f00112233445566778899aabbccddeeff0";
    const UID: &str = "5d0b6c1a-8a43-4a3e-9a51-0c9d2f7e6b11";
    let gos = go_bins();
    let bin = build_go(&gos[0], "fleet", &[]);
    let mut inside = GoProgram::start_with(&bin, &["-goroutines=3"]);
    let mut outside = GoProgram::start_with(&bin, &["-goroutines=2"]);
    let _cg = FakeContainer::new(inside.pid, &format!("kubepods/besteffort/pod{UID}/{ID}"));
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", inside.pid)).unwrap();
    assert!(cgroup.contains(ID), "{cgroup}");
    let pods = format!(
        r#"{{"kind":"PodList","apiVersion":"v1","items":[{{"metadata":{{"name":"api-7d9","namespace":"shop","uid":"{UID}"}},"status":{{"containerStatuses":[{{"name":"api","containerID":"containerd://{ID}"}}]}}}}]}}"#
    );
    let (api, requests) = fake_api(pods);
    let api_url = format!("http://127.0.0.1:{api}");
    let series = |page: &str, pid: u32| -> Option<String> {
        page.lines()
            .find(|l| {
                l.starts_with("tracer_go_heap_live_bytes{") && l.contains(&format!("pid=\"{pid}\""))
            })
            .map(str::to_string)
    };

    // Selected by namespace: only the process in the pod.
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        "--select",
        "namespace=sh*",
        "--kube-api",
        &api_url,
        "--node",
        "node-1",
        "--scan-interval",
        "200ms",
    ]);
    let (_, page) = http(agent.port, "GET", "/metrics");
    let line =
        series(&page, inside.pid).unwrap_or_else(|| panic!("pid {} missing:\n{page}", inside.pid));
    for want in [
        format!("container=\"{}\"", &ID[..12]),
        "container_runtime=\"containerd\"".to_string(),
        "pod=\"api-7d9\"".to_string(),
        "namespace=\"shop\"".to_string(),
        format!("pod_uid=\"{UID}\""),
    ] {
        assert!(line.contains(&want), "{want} not in {line}");
    }
    assert!(
        series(&page, outside.pid).is_none(),
        "pid {} is in no pod:\n{page}",
        outside.pid
    );
    let paths: Vec<String> = requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1 ")),
        "{paths:?}"
    );
    drop(agent);

    // No selector: both, the one outside a container without pod labels.
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        "--kube-api",
        &api_url,
        "--node",
        "node-1",
    ]);
    let (_, page) = http(agent.port, "GET", "/metrics");
    assert!(
        series(&page, inside.pid).is_some_and(|l| l.contains("namespace=\"shop\"")),
        "{page}"
    );
    let out = series(&page, outside.pid).unwrap_or_else(|| panic!("{page}"));
    assert!(
        !out.contains("pod=") && !out.contains("container="),
        "{out}"
    );
    drop(agent);

    // namespace= without any Kubernetes API: a one-line usage error.
    let out = run_tracer(&[
        "agent",
        "--select",
        "namespace=shop",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_one_line_error(&out, 2, "Kubernetes API");
    let _ = inside.command("report");
    let _ = outside.command("report");
    inside.finish();
    outside.finish();
}

/// `tracer_finding` series of `pid` on an agent page: (kind, site).
fn findings(page: &str, pid: u32) -> Vec<(String, String)> {
    let label = |l: &str, k: &str| {
        l.split(&format!("{k}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string()
    };
    page.lines()
        .filter(|l| l.starts_with("tracer_finding{") && l.contains(&format!("pid=\"{pid}\"")))
        .map(|l| (label(l, "kind"), label(l, "site")))
        .collect()
}

#[test]
#[ignore]
fn agent_findings_name_the_leaks() {
    let gos = go_bins();
    let go = gos.last().unwrap();
    let with_profile = build_go(go, "fleet", &["-tags", "heapprof"]);
    let plain = build_go(&gos[0], "fleet", &[]);
    // Leaks a goroutine and 1 MiB every second, with a GC each time.
    let mut leaker = GoProgram::start_with(&with_profile, &["-keep=2000", "-leak-every=1s"]);
    // Releases 100 MiB with MADV_FREE.
    let mut lazy = GoProgram::start_env(&plain, &["-keep=1000"], &[("GODEBUG", "madvdontneed=0")]);
    // Quiet: nothing to find (the negative control).
    let mut quiet = GoProgram::start_with(&with_profile, &["-keep=5000"]);
    let _ = lazy.command("grow 100000");
    let freed = lazy.command("free");
    assert!(freed["heap_released"].as_f64().unwrap() > 90e6, "{freed}");
    let agent = Agent::start(&["--select", "exe=fleet-*", "--scan-interval", "500ms"]);
    let t = Instant::now();
    let want = |f: &[(String, String)], kind: &str, site: &str| {
        f.iter().any(|(k, s)| k == kind && s.starts_with(site))
    };
    let page = loop {
        let (_, page) = http(agent.port, "GET", "/metrics");
        let f = findings(&page, leaker.pid);
        let done = want(&f, "heap_growth", "main.leakHeap ")
            && want(&f, "goroutine_leak", "main.leakOne ")
            && want(&findings(&page, lazy.pid), "madv_free_rss", "");
        if done {
            break page;
        }
        assert!(
            t.elapsed() < Duration::from_secs(75),
            "findings missing after 75 s: leaker {f:?}, lazy {:?}",
            findings(&page, lazy.pid)
        );
        thread::sleep(Duration::from_secs(1));
    };
    eprintln!("agent: findings after {:.0} s", t.elapsed().as_secs_f64());
    let f = findings(&page, leaker.pid);
    assert!(
        f.iter()
            .all(|(k, s)| s.starts_with("main.leak") && k != "madv_free_rss"),
        "only the leaks: {f:?}"
    );
    assert_eq!(findings(&page, lazy.pid).len(), 1, "{page}");
    assert!(
        findings(&page, quiet.pid).is_empty(),
        "quiet program: {:?}",
        findings(&page, quiet.pid)
    );
    drop(agent);
    for p in [&mut leaker, &mut lazy, &mut quiet] {
        let _ = p.command("report");
    }
    leaker.kill();
    lazy.finish();
    quiet.finish();
}

/// The value of `metric{pid, site=~"^function .*"}` on an agent page.
fn site_value(page: &str, metric: &str, pid: u32, function: &str) -> Option<f64> {
    series_value(page, metric, pid, &format!("site=\"{function} "))
}

/// The value of the first series of `metric` with `pid` whose labels
/// contain `also` on an agent page.
fn series_value(page: &str, metric: &str, pid: u32, also: &str) -> Option<f64> {
    page.lines()
        .find(|l| {
            l.starts_with(&format!("{metric}{{"))
                && l.contains(&format!("pid=\"{pid}\""))
                && l.contains(also)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
#[ignore]
fn agent_slices_measure_allocation_rates_by_site() {
    let gos = go_bins();
    let mut progs: Vec<GoProgram> = [gos.first().unwrap(), gos.last().unwrap()]
        .iter()
        .map(|go| GoProgram::start_with(&build_go(go, "fleet", &[]), &["-churn=200", "-hold=1"]))
        .collect();
    let before: Vec<Value> = progs.iter_mut().map(|p| p.command("report")).collect();
    let cpu_log = CpuLog::start(progs.iter().map(|p| p.pid).collect());
    let dir = std::env::temp_dir().join(format!("tracer-agent-slices-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        // 10 s: a slice sees ~5 GC cycles of these programs, enough for
        // the growth rule (≥ 4 points) most of the time; each slice is
        // another chance.
        "--slice",
        "10s",
        "--slice-every",
        "10s",
        "--max-overhead",
        "3",
        "--profiles-dir",
        dir.to_str().unwrap(),
        // Five times the default: enough samples of these light programs
        // (~5 % of a CPU) to check the CPU profile's total.
        "--cpu-hz",
        "499",
    ]);
    // Each program gets a slice (round robin): wait for both.
    let t = Instant::now();
    let page = loop {
        let (_, page) = http(agent.port, "GET", "/metrics");
        let done = progs.iter().all(|p| {
            site_value(
                &page,
                "tracer_go_site_allocation_objects_per_second",
                p.pid,
                "main.churnSmall",
            )
            .is_some()
        });
        if done {
            break page;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "no slices after 40 s:\n{page}"
        );
        thread::sleep(Duration::from_millis(500));
    };
    let after: Vec<Value> = progs.iter_mut().map(|p| p.command("report")).collect();
    for ((p, b), a) in progs.iter().zip(&before).zip(&after) {
        let secs = (a["uptime_ns"].as_f64().unwrap() - b["uptime_ns"].as_f64().unwrap()) / 1e9;
        let rate = |k: &str| (a[k].as_f64().unwrap() - b[k].as_f64().unwrap()) / secs;
        let who = format!("pid {} {}", p.pid, a["go_version"]);
        let m = "tracer_go_site_allocation_objects_per_second";
        let small = site_value(&page, m, p.pid, "main.churnSmall").unwrap();
        let big = site_value(&page, m, p.pid, "main.churnBig").unwrap_or(0.0);
        eprintln!(
            "agent: {who}: churnSmall {small:.0}/s (own {:.0}/s), churnBig {big:.0}/s (own {:.0}/s)",
            rate("churn_small"),
            rate("churn_big")
        );
        // Counts per site within ±15 % of the program's own rate (steady),
        // shares within ±10 % of the true 3:1.
        within(
            &format!("{who} churnSmall objects/s"),
            small,
            rate("churn_small"),
            0.15,
            0.0,
        );
        within(
            &format!("{who} churnBig objects/s"),
            big,
            rate("churn_big"),
            0.15,
            0.0,
        );
        within(
            &format!("{who} churnSmall share"),
            small / (small + big),
            0.75,
            0.10,
            0.0,
        );
        within(
            &format!("{who} churnBig bytes/s"),
            site_value(
                &page,
                "tracer_go_site_allocation_bytes_per_second",
                p.pid,
                "main.churnBig",
            )
            .unwrap_or(0.0),
            rate("churn_big") * 512.0,
            0.15,
            0.0,
        );
        let of_process = |name: &str| {
            series_value(&page, name, p.pid, "")
                .unwrap_or_else(|| panic!("{who}: no {name} in\n{page}"))
        };
        // The heap profile is off: who holds memory comes from the slice's
        // sampled liveness, the objects allocated during it. holdOne keeps
        // 1 KiB objects at a steady rate, so it holds its rate × the slice.
        let slice_secs = of_process("tracer_go_allocation_slice_seconds");
        let held = site_value(
            &page,
            "tracer_go_site_slice_inuse_bytes",
            p.pid,
            "main.holdOne",
        )
        .unwrap_or(0.0);
        let kept = rate("held") * slice_secs * 1024.0;
        let churned = site_value(
            &page,
            "tracer_go_site_slice_inuse_bytes",
            p.pid,
            "main.churnBig",
        )
        .unwrap_or(0.0);
        let before_slice = series_value(
            &page,
            "tracer_go_site_slice_inuse_bytes",
            p.pid,
            "site=\"unattributed\"",
        )
        .unwrap_or(0.0);
        eprintln!(
            "agent: {who}: slice in use at holdOne {held:.0} B (kept over the slice {kept:.0} B), \
             churnBig {churned:.0} B, unattributed {before_slice:.0} B"
        );
        within(&format!("{who} holdOne in use"), held, kept, 0.15, 0.0);
        // holdOne keeps what it allocates: a leak, which a slice's sampled
        // liveness names when it saw ≥ 4 of the program's GC cycles (as the
        // heap grows its cycles come slower, so not every slice does);
        // nothing else may be named.
        let f = findings(&page, p.pid);
        eprintln!("agent: {who}: findings {f:?}");
        assert!(
            f.iter()
                .all(|(k, s)| k == "heap_growth" && s.starts_with("main.holdOne ")),
            "{who}: only holdOne's growth: {f:?}"
        );
        // The churn keeps nothing but its last object; the 20,000 KiB kept
        // before the slice are no site's. A slice has few alive samples of
        // the 1 KiB class, and one of churnBig's last object (in `sink`,
        // really alive at that GC) was 5.2 MB against holdOne's 9 MB in CI
        // (Go 1.27.3): the holder must stay the bigger. Liveness that kept
        // churned objects alive would put churnBig, allocating ~44 times
        // as fast, far above it.
        assert!(churned < held, "{who}: churnBig holds {churned} B");
        assert!(
            before_slice >= 0.9 * 20_000.0 * 1024.0,
            "{who}: unattributed {before_slice} B"
        );
        let slowdown = of_process("tracer_go_allocation_slice_slowdown_percent");
        // The governor holds the budget over long runs, not within every
        // short slice: per 8-10 s slice its own estimate read 1.1-5.4 %
        // here (two programs churning on 2 CPUs). Far over is a defect.
        assert!(
            slowdown <= 6.0,
            "{who}: the tracer's own estimate {slowdown} % over a 3 % budget"
        );
    }
    drop(agent);
    // Each slice wrote an allocation profile, a CPU profile and an in-use one.
    let go = gos.last().unwrap();
    for ((p, b), a) in progs.iter().zip(&before).zip(&after) {
        let sub = std::fs::read_dir(&dir)
            .unwrap()
            .map(|d| d.unwrap().path())
            .find(|d| d.to_string_lossy().ends_with(&format!("-{}", p.pid)))
            .unwrap_or_else(|| panic!("no profiles of pid {}", p.pid));
        // The newest profile of a kind, and when it ends (its file name:
        // `KIND-UNIXSECONDS.pb.gz`).
        let newest = |kind: &str| {
            let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&sub)
                .unwrap()
                .map(|f| f.unwrap().path())
                .filter_map(|f| {
                    let name = f.file_name()?.to_string_lossy().into_owned();
                    let secs = name.strip_prefix(&format!("{kind}-"))?;
                    Some((secs.strip_suffix(".pb.gz")?.parse().ok()?, f))
                })
                .collect();
            files.sort();
            let (until, f) = files
                .pop()
                .unwrap_or_else(|| panic!("no {kind} profile in {sub:?}"));
            (until as f64, std::fs::read(f).unwrap())
        };
        let (_, alloc) = newest("alloc");
        let (_, top) = pprof_top(go, &alloc, "alloc_objects");
        assert!(top.contains("main.churnSmall"), "{top}");
        let (until, cpu) = newest("cpu");
        let (cpu_ms, top) = pprof_top_in(go, &cpu, "cpu", "ms");
        let secs = pprof_duration(&top);
        assert!(secs >= 7.0, "slice CPU profile of {secs} s:\n{top}");
        // The program's own CPU over the slice (the file name's second is
        // the end, rounded down).
        let own = cpu_log.used(p.pid, until + 0.5 - secs, until + 0.5);
        eprintln!(
            "agent: pid {} slice CPU profile {:.0} ms over {secs:.1} s, own {:.0} ms",
            p.pid,
            cpu_ms,
            own * 1000.0
        );
        // ~200 samples: a 95 % interval of ±14 %. Timer sampling reads
        // programs that run in short bursts low (these wake every ms for
        // ~50 µs): the slices read 67-75 % of the program's own CPU here,
        // `perf record -e cpu-clock -a` 81 % at 99 Hz. The check is for
        // the profile's scale (period, process), not that bias.
        let ratio = cpu_ms / 1000.0 / own;
        assert!(
            (0.5..=1.35).contains(&ratio),
            "pid {}: the slice's CPU profile holds {cpu_ms} ms, the program used {own} s",
            p.pid
        );
        assert!(top.contains("main.churn"), "{top}");
        // The heap profile is off: the slice's sampled in-use figures
        // come as an in-use profile too; holdOne holds what it kept over
        // that slice (it keeps 1 KiB a millisecond, counted).
        let (_, inuse) = newest("inuse");
        let (_, top) = pprof_top(go, &inuse, "inuse_space");
        let secs = pprof_duration(&top);
        let held = flat_of(&top, "main.holdOne")
            .unwrap_or_else(|| panic!("pid {}: no main.holdOne in\n{top}", p.pid));
        let rate = {
            let secs = (a["uptime_ns"].as_f64().unwrap() - b["uptime_ns"].as_f64().unwrap()) / 1e9;
            (a["held"].as_f64().unwrap() - b["held"].as_f64().unwrap()) / secs
        };
        eprintln!(
            "agent: pid {} slice in-use profile: holdOne {held:.0} B over {secs:.1} s (kept {:.0} B)",
            p.pid,
            rate * secs * 1024.0
        );
        within(
            &format!("pid {} in-use profile holdOne", p.pid),
            held,
            rate * secs * 1024.0,
            0.15,
            0.0,
        );
    }
    for p in progs {
        p.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Slices open map windows too: a map emptied by deletes (incident I2),
/// which only a probe on its operations can find, is named on /metrics.
#[test]
#[ignore]
fn agent_slices_name_a_map_that_never_shrinks() {
    let gos = go_bins();
    let mut progs: Vec<GoProgram> = [gos.first().unwrap(), gos.last().unwrap()]
        .iter()
        .map(|go| {
            GoProgram::start_with(
                &build_go(go, "fleet", &[]),
                &["-bigmap=200000", "-churn=20"],
            )
        })
        .collect();
    for p in &mut progs {
        let own = p.command("report");
        assert_eq!(own["big_map_len"], 100, "{own}");
    }
    let agent = Agent::start(&[
        "--select",
        "exe=fleet-*",
        "--slice",
        "20s",
        "--slice-every",
        "20s",
    ]);
    let named = |page: &str, pid| {
        findings(page, pid)
            .iter()
            .any(|(k, s)| k == "map_never_shrinks" && s.starts_with("main.lookBigMap "))
    };
    let t = Instant::now();
    let page = loop {
        let (_, page) = http(agent.port, "GET", "/metrics");
        if progs.iter().all(|p| named(&page, p.pid)) {
            break page;
        }
        assert!(
            t.elapsed() < Duration::from_secs(100),
            "no map_never_shrinks after 100 s: {:?}",
            progs
                .iter()
                .map(|p| findings(&page, p.pid))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_secs(1));
    };
    eprintln!(
        "agent: map_never_shrinks for both programs after {:.0} s",
        t.elapsed().as_secs_f64()
    );
    for p in &progs {
        let f = findings(&page, p.pid);
        assert!(
            f.iter().all(|(k, _)| k == "map_never_shrinks"),
            "pid {}: {f:?}",
            p.pid
        );
    }
    drop(agent);
    for p in progs {
        p.finish();
    }
}
