//! `cargo xtask bench --only agent`: `tracer agent` watching 50 Go
//! processes (`testdata/go/fleet`, half with the runtime's heap profile on)
//! — the time a scrape takes, the agent's CPU between scrapes and per
//! scrape, its memory. Prints what it measured (targets: a scrape ≤ 100
//! ms, ≤ 1 % of a core, ≤ 150 MB).
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::{build, demo, tracer_run::median};

const PROCESSES: usize = 50;

/// CPU ticks (user + system, 1/100 s) of `pid`.
fn ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("stat")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .with_context(|| format!("{key} in /proc/{pid}/status"))
}

/// GET `path`; the body.
fn get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string()))
}

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn run(go: &std::path::Path, version: &str) -> anyhow::Result<()> {
    let plain = demo::build_go_program(go, "fleet", &format!("fleet-{version}"), &[])?;
    let profiled = demo::build_go_program(
        go,
        "fleet",
        &format!("fleet-{version}-heapprof"),
        &["-tags", "heapprof"],
    )?;
    let mut procs = Kill(Vec::new());
    for i in 0..PROCESSES {
        let bin = if i % 2 == 0 { &plain } else { &profiled };
        let mut c = Command::new(bin)
            .args(["-keep=20000", &format!("-goroutines={}", 20 + i)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(c.stdout.take().context("stdout")?).read_line(&mut line)?;
        anyhow::ensure!(line.starts_with("READY"), "fleet: {line:?}");
        procs.0.push(c);
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let profiles = std::env::temp_dir().join(format!("tracer-bench-agent-{}", std::process::id()));
    let agent = Command::new(build::tracer_binary())
        .args([
            "agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--select",
            "exe=fleet-*",
        ])
        .arg("--profiles-dir")
        .arg(&profiles)
        .args(["--profile-period", "15s"])
        .stderr(Stdio::null())
        .spawn()?;
    let pid = agent.id();
    let _agent = Kill(vec![agent]);
    let t = Instant::now();
    loop {
        if let Ok(page) = get(port, "/metrics") {
            if page.contains(&format!("tracer_agent_targets {PROCESSES}")) {
                break;
            }
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(60),
            "the agent did not find {PROCESSES} processes"
        );
        sleep(Duration::from_millis(200));
    }
    // As Prometheus would: a scrape every 15 s, for two slice periods
    // (scans every 2 s, profiles every 15 s, a slice every 90 s).
    let long = Duration::from_secs(180);
    let t0 = ticks(pid)?;
    let started = Instant::now();
    while started.elapsed() < long {
        get(port, "/metrics")?;
        sleep(Duration::from_secs(15).min(long.saturating_sub(started.elapsed())));
    }
    let steady_pct = (ticks(pid)? - t0) as f64 / started.elapsed().as_secs_f64();
    // One scrape a second: latency and CPU per scrape.
    let n = 30;
    let t1 = ticks(pid)?;
    let started = Instant::now();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        size = get(port, "/metrics")?.len();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
    }
    let busy_pct = (ticks(pid)? - t1) as f64 / started.elapsed().as_secs_f64();
    let max = times.iter().cloned().fold(0.0, f64::max);
    let p50 = median(&mut times);
    let rss = status_kib(pid, "VmRSS:")? as f64 / 1024.0;
    let hwm = status_kib(pid, "VmHWM:")? as f64 / 1024.0;
    println!("== go{version}: tracer agent watching {PROCESSES} Go processes (half with the heap profile on)");
    println!("  scrape: p50 {p50:.1} ms, max {max:.1} ms over {n} scrapes (target ≤ 100 ms); page {size} bytes");
    println!(
        "  agent CPU: {steady_pct:.2} % of a core over {} s with a scrape every 15 s (scans every 2 s, \
         profiles every 15 s, a 20 s allocation slice every 90 s; target ≤ 1 %); {busy_pct:.2} % over \
         {n} s with a scrape a second",
        long.as_secs()
    );
    println!("  agent memory: RSS {rss:.1} MB, peak {hwm:.1} MB (target ≤ 150 MB)");
    let _ = std::fs::remove_dir_all(&profiles);
    Ok(())
}
