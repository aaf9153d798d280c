//! The agent's life: bind, scan `/proc` every `scan_interval`, serve
//! `/metrics` and `/healthz` (GET only; nothing over the network starts,
//! stops or changes anything), and exit 0 on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::binaries::Binaries;
use super::discover::{Discovery, Watched};
use super::exposition::{self, AgentSeries, Labels, ProcessSeries};
use super::kube::{KubeClient, KubeConfig, Pod};
use super::profiles;
use super::push::{Outputs, Pusher};
use super::select::Selection;
use super::slices::{self, SliceConfig};
use crate::error::UserError;
use crate::session::unix_ns;
use crate::tracee::memory::read_smaps_rollup;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where `/metrics` is served (loopback by default).
    pub listen: SocketAddr,
    /// How often `/proc` is scanned for new and exited processes.
    pub scan_interval: Duration,
    pub selection: Selection,
    /// Sites per process and kind in the per-site series (then `other`).
    pub top: usize,
    /// Where profiles go, and how often they are taken.
    pub outputs: Outputs,
    pub profile_period: Duration,
    /// The Kubernetes API, for pod and namespace labels and selectors.
    pub kube: Option<KubeConfig>,
    /// Allocation slices (`length` 0: none).
    pub slices: SliceConfig,
}

struct State {
    discovery: Mutex<Discovery>,
    scans: Mutex<u64>,
    /// One page is built at a time (a second scrape waits for the first).
    reading: Mutex<()>,
    selection: Selection,
    binaries: Mutex<Binaries>,
    top: usize,
    pusher: Pusher,
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| UserError::Usage(format!("--listen {}: {e}", config.listen)))?;
    if config.selection.needs_pods() && config.kube.is_none() {
        return Err(UserError::Usage(
            "--select namespace=/pod= needs the Kubernetes API: run in a pod (the DaemonSet) or give --kube-api and --node"
                .into(),
        )
        .into());
    }
    let mut discovery = Discovery::default();
    if let Some(k) = config.kube.clone() {
        discovery.kube = Some(KubeClient::new(k).map_err(UserError::Usage)?);
    }
    let state = Arc::new(State {
        discovery: Mutex::new(discovery),
        scans: Mutex::new(0),
        reading: Mutex::new(()),
        selection: config.selection.clone(),
        binaries: Mutex::new(Binaries::default()),
        top: config.top,
        pusher: Pusher::new(config.outputs.clone()),
    });
    let first = Arc::clone(&state);
    tokio::task::spawn_blocking(move || scan(&first)).await?;
    eprintln!(
        "tracer agent: watching {} Go processes; serving http://{}/metrics",
        lock(&state.discovery).watched().len(),
        listener.local_addr()?
    );
    tokio::spawn(periodically(Arc::clone(&state), config.scan_interval, scan));
    if state.pusher.enabled() {
        tokio::spawn(periodically(
            Arc::clone(&state),
            config.profile_period,
            profile_round,
        ));
    }
    let stop_slices = Arc::new(AtomicBool::new(false));
    let slicer = (!config.slices.length.is_zero()).then(|| {
        let (s, cfg, stop) = (
            Arc::clone(&state),
            config.slices.clone(),
            Arc::clone(&stop_slices),
        );
        std::thread::spawn(move || slicer(&s, &cfg, &stop))
    });
    let page_state = Arc::clone(&state);
    let app = Router::new()
        .route("/metrics", get(move || metrics(Arc::clone(&page_state))))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: /metrics, /healthz\n") });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    // Detach: the slice in progress ends within 100 ms.
    stop_slices.store(true, Ordering::Relaxed);
    if let Some(t) = slicer {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    eprintln!("tracer agent: stopped");
    Ok(())
}

/// Runs `work` on a blocking thread every `period` (the first after one
/// period), until the runtime ends.
async fn periodically(state: Arc<State>, period: Duration, work: fn(&State)) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = Arc::clone(&state);
        if tokio::task::spawn_blocking(move || work(&s)).await.is_err() {
            break;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn scan(state: &State) {
    let mut d = lock(&state.discovery);
    let before = d.last_problem.clone();
    let pods_before = d.pods.last_error.clone();
    let changes = d.scan(&state.selection);
    for w in &changes.added {
        eprintln!(
            "tracer agent: + pid {} {} ({})",
            w.target.pid, w.target.exe, w.reader.go_version
        );
    }
    for pid in &changes.removed {
        eprintln!("tracer agent: - pid {pid} exited");
    }
    if d.last_problem != before {
        if let Some(p) = &d.last_problem {
            eprintln!("tracer agent: {p}");
        }
    }
    if d.pods.last_error != pods_before {
        if let Some(e) = &d.pods.last_error {
            eprintln!("tracer agent: Kubernetes pod list: {e}");
        }
    }
    *lock(&state.scans) += 1;
}

async fn metrics(state: Arc<State>) -> axum::response::Response {
    match tokio::task::spawn_blocking(move || page(&state)).await {
        Ok(body) => ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "reading failed\n").into_response(),
    }
}

fn page(state: &State) -> String {
    let _one = lock(&state.reading);
    let (watched, found, lost) = {
        let d = lock(&state.discovery);
        (d.watched_with_pods(), d.found, d.lost)
    };
    let started = Instant::now();
    // Read, then check the process is still the same one: one that exited
    // (or whose pid was reused) meanwhile is gone from this page.
    let processes: Vec<ProcessSeries> = watched
        .iter()
        .filter_map(|(w, pod)| {
            let (vitals, goroutines) = w.reader.read_with_list();
            let sites = w.sites.sites(&state.binaries, &goroutines, state.top);
            let slice = lock(&w.alloc_slice).clone();
            let findings = {
                let mut h = lock(&w.history);
                h.record(&vitals, &sites);
                let from_slice = slice.as_ref().map_or(&[][..], |s| &s.findings[..]);
                h.findings(&vitals, w.madv_free, from_slice)
            };
            w.target.alive().then(|| ProcessSeries {
                labels: labels(w, pod.as_ref()),
                vitals,
                sites,
                findings,
                slice,
            })
        })
        .collect();
    let agent = AgentSeries {
        targets: processes.len() as u64,
        found,
        lost,
        scans: *lock(&state.scans),
        cpu_seconds: own_cpu_seconds().unwrap_or(0.0),
        rss_bytes: read_smaps_rollup(std::process::id()).map_or(0, |s| s.rss),
        read_seconds: started.elapsed().as_secs_f64(),
        profiles_written: state.pusher.written.load(Ordering::Relaxed),
        profiles_pushed: state.pusher.pushed.load(Ordering::Relaxed),
        push_errors: state.pusher.errors.load(Ordering::Relaxed),
    };
    exposition::render(processes, agent)
}

/// Allocation slices, one process at a time, round robin by pid, until
/// `stop`.
fn slicer(state: &State, cfg: &SliceConfig, stop: &AtomicBool) {
    let mut cfg = cfg.clone();
    let mut last_pid = 0;
    let mut last_error = String::new();
    // The machine's probe costs, measured at the first slice and again
    // every RECALIBRATE slices.
    const RECALIBRATE: u32 = 30;
    let (mut calibration, mut slices_done) = (None, 0u32);
    let mut next_start = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if std::time::Instant::now() < next_start {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let watched = lock(&state.discovery).watched();
        let next = watched
            .iter()
            .find(|w| w.target.pid > last_pid)
            .or_else(|| watched.first())
            .cloned();
        let Some(w) = next else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        last_pid = w.target.pid;
        if !w.target.alive() {
            continue;
        }
        if slices_done % RECALIBRATE == 0 {
            calibration = None;
        }
        next_start = std::time::Instant::now() + cfg.every;
        let mut budget = *lock(&w.budget);
        let sliced = slices::slice_one(w.target.pid, &cfg, stop, &mut calibration, &mut budget);
        *lock(&w.budget) = budget;
        match sliced {
            Ok(mut r) => {
                slices_done += 1;
                if let Some(e) = r.cpu_error.take() {
                    // The machine's, not the process's: said once.
                    eprintln!("tracer agent: on-CPU sampling off: {e}");
                    cfg.cpu_hz = 0;
                }
                let from_ns = r.ended_ns.saturating_sub((r.seconds * 1e9) as u64);
                let slice_profile = |kind, data, sample_types| profiles::Profile {
                    kind,
                    from_ns,
                    until_ns: r.ended_ns,
                    data,
                    sample_types,
                };
                let pushed: Vec<profiles::Profile> = [
                    r.pprof
                        .take()
                        .map(|d| slice_profile("alloc", d, profiles::ALLOC_TYPES)),
                    r.cpu_pprof
                        .take()
                        .map(|d| slice_profile("cpu", d, profiles::CPU_TYPES)),
                    r.inuse_pprof
                        .take()
                        .map(|d| slice_profile("inuse", d, profiles::INUSE_TYPES)),
                ]
                .into_iter()
                .flatten()
                .collect();
                if state.pusher.enabled() && !pushed.is_empty() {
                    let pod = lock(&state.discovery).pod_of(&w.placement);
                    let labels = labels(&w, pod.as_ref());
                    state
                        .pusher
                        .send(&labels, &w.target.exe, w.target.pid, &pushed);
                }
                *lock(&w.alloc_slice) = Some(r);
            }
            Err(e) if e.fatal => {
                eprintln!("tracer agent: allocation slices off: {}", e.message);
                return;
            }
            Err(e) => {
                if e.message != last_error {
                    eprintln!(
                        "tracer agent: pid {}: allocation slice: {}",
                        w.target.pid, e.message
                    );
                    last_error = e.message;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// Every watched process's profiles, written and pushed.
fn profile_round(state: &State) {
    let watched = lock(&state.discovery).watched_with_pods();
    let before = state.pusher.errors.load(Ordering::Relaxed);
    for (w, pod) in watched.iter().filter(|(w, _)| w.target.alive()) {
        let goroutines = w.reader.program_goroutines().unwrap_or_default();
        let profiles = profiles::build(
            &w.sites,
            &w.heap_deltas,
            &state.binaries,
            &goroutines,
            &w.target.exe,
            w.since_ns,
            unix_ns(),
        );
        if w.target.alive() {
            let labels = labels(w, pod.as_ref());
            state
                .pusher
                .send(&labels, &w.target.exe, w.target.pid, &profiles);
        }
    }
    if state.pusher.errors.load(Ordering::Relaxed) != before {
        if let Some(e) = lock(&state.pusher.last_error).as_ref() {
            eprintln!("tracer agent: profiles: {e}");
        }
    }
}

fn labels(w: &Watched, pod: Option<&Pod>) -> Labels {
    let mut l: Labels = vec![
        ("pid".into(), w.target.pid.to_string()),
        ("exe".into(), w.target.exe.clone()),
        ("go_version".into(), w.reader.go_version.clone()),
    ];
    let p = &w.placement;
    if let Some(id) = p.short_id() {
        l.push(("container".into(), id.to_string()));
    }
    if let Some(rt) = p.runtime {
        l.push(("container_runtime".into(), rt.to_string()));
    }
    if let Some(pod) = pod {
        l.push(("pod".into(), pod.name.clone()));
        l.push(("namespace".into(), pod.namespace.clone()));
    }
    if let Some(uid) = &p.pod_uid {
        l.push(("pod_uid".into(), uid.clone()));
    }
    l
}

/// The agent's user + system CPU time (`/proc/self/stat`, 100 ticks/s).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
