//! `tracer agent`: watch every Go process on the host and serve their
//! runtime figures to Prometheus (see `tracer::fleet`).
use std::net::SocketAddr;
use std::time::Duration;

use tracer::error::UserError;
use tracer::fleet::agent::{self, AgentConfig};
use tracer::fleet::kube::KubeConfig;
use tracer::fleet::push::Outputs;
use tracer::fleet::select::{Selection, Selector};
use tracer::fleet::slices::SliceConfig;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// Address of the read-only HTTP endpoints (/metrics, /healthz). The
    /// default is loopback: expose it deliberately (see the README).
    #[arg(long, default_value = "127.0.0.1:9477")]
    pub listen: SocketAddr,
    /// Watch only these processes: exe=GLOB (path, or file name if the
    /// glob has no '/'), container=ID (a prefix of the id), namespace=GLOB
    /// or pod=GLOB (Kubernetes); repeatable, alternatives within a kind,
    /// all kinds must match.
    #[arg(long = "select", value_name = "KIND=VALUE")]
    pub select: Vec<String>,
    /// How often /proc is scanned for Go processes that started or exited.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub scan_interval: Duration,
    /// Sites per process in each per-site series (the rest is summed in
    /// site="other"), at most 50.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Write each process's profiles (goroutines by creation site; the heap
    /// when the runtime's heap profile is on) here every --profile-period.
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<std::path::PathBuf>,
    /// Profiles kept per process and kind in --profiles-dir.
    #[arg(long, default_value_t = 10)]
    pub profiles_keep: usize,
    /// Push profiles to Pyroscope (base URL, e.g. http://pyroscope:4040).
    #[arg(long, value_name = "URL")]
    pub pyroscope: Option<String>,
    /// Push profiles to Parca (base URL of its HTTP API, e.g. http://parca:7070).
    #[arg(long, value_name = "URL")]
    pub parca: Option<String>,
    /// Push profiles to an OTLP/HTTP receiver as OTLP profiles
    /// (`profiles/v1development`; base URL, e.g. http://collector:4318).
    #[cfg(feature = "otlp")]
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    /// The Kubernetes API server (default: in a pod, the in-cluster one);
    /// gives the pod and namespace labels and the namespace=/pod= selectors.
    #[arg(long, value_name = "URL")]
    pub kube_api: Option<String>,
    /// This node's name in the cluster (default: $NODE_NAME).
    #[arg(long)]
    pub node: Option<String>,
    /// Allocation rates by site for every process: the default mode runs
    /// on one process at a time for this long, round robin (0: never; the
    /// agent then attaches no probe at all).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub slice: Duration,
    /// A slice starts this often (each costs the agent ~0.4 s of CPU).
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
    pub slice_every: Duration,
    /// The default mode's budget during a process's slice, % of its CPU.
    #[arg(long, default_value_t = 3.0)]
    pub max_overhead: f64,
    /// On-CPU samples a second on each of a process's CPUs during its
    /// slice (a timer interrupt each, no probe), for the slice's CPU
    /// profile; 0: none.
    #[arg(long, default_value_t = tracer::probes::oncpu::DEFAULT_CPU_HZ, value_name = "HZ")]
    pub cpu_hz: u64,
    /// How often profiles are taken.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub profile_period: Duration,
    /// Slices leave maps alone (no map windows, so no map findings).
    #[arg(long)]
    pub no_maps: bool,
}

pub fn run(args: &AgentArgs) -> anyhow::Result<()> {
    let selectors = args
        .select
        .iter()
        .map(|s| s.parse::<Selector>().map_err(UserError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    if args.scan_interval < Duration::from_millis(100) {
        return Err(UserError::Usage("--scan-interval must be at least 100ms".into()).into());
    }
    if args.top == 0 || args.top > 50 {
        return Err(UserError::Usage("--top must be in 1..=50".into()).into());
    }
    if args.profile_period < Duration::from_secs(1) {
        return Err(UserError::Usage("--profile-period must be at least 1s".into()).into());
    }
    #[cfg(feature = "otlp")]
    let otlp = args.otlp.clone();
    #[cfg(not(feature = "otlp"))]
    let otlp: Option<String> = None;
    for url in [&args.pyroscope, &args.parca, &otlp].into_iter().flatten() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(
                UserError::Usage(format!("{url}: expected an http:// or https:// URL")).into(),
            );
        }
    }
    if !(args.max_overhead > 0.0 && args.max_overhead <= 100.0) {
        return Err(UserError::Usage("--max-overhead must be in (0, 100]".into()).into());
    }
    tracer::probes::oncpu::check_cpu_hz(args.cpu_hz)?;
    if !args.slice.is_zero() && args.slice < Duration::from_secs(2) {
        return Err(UserError::Usage("--slice must be 0 or at least 2s".into()).into());
    }
    if args.slice_every < args.slice {
        return Err(UserError::Usage("--slice-every must be at least --slice".into()).into());
    }
    let config = AgentConfig {
        slices: SliceConfig {
            length: args.slice,
            every: args.slice_every,
            max_overhead_pct: args.max_overhead,
            top: args.top,
            cpu_hz: args.cpu_hz,
            maps: !args.no_maps,
        },
        top: args.top,
        outputs: Outputs {
            dir: args.profiles_dir.clone(),
            keep: args.profiles_keep,
            pyroscope: args.pyroscope.clone(),
            parca: args.parca.clone(),
            otlp,
        },
        profile_period: args.profile_period,
        kube: KubeConfig::detect(args.kube_api.as_deref(), args.node.as_deref())
            .map_err(UserError::Usage)?,
        listen: args.listen,
        scan_interval: args.scan_interval,
        selection: Selection::new(&selectors),
    };
    // A long-running process with a few threads: two malloc arenas keep
    // its memory from growing with every thread that ever allocated.
    // SAFETY: mallopt only sets an allocator parameter, before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(agent::run(config))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn deploy(file: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/kubernetes/");
        std::fs::read_to_string(format!("{path}{file}")).unwrap()
    }

    /// The DaemonSet's arguments (the commented-out ones too) are ones
    /// `tracer agent` takes, and it keeps what the agent needs.
    #[test]
    fn daemonset_matches_the_command_line() {
        let ds = deploy("daemonset.yaml");
        let lines: Vec<&str> = ds.lines().collect();
        let at = lines.iter().position(|l| l.trim() == "args:").unwrap();
        let mut args = vec!["tracer".to_string()];
        for l in &lines[at + 1..] {
            let t = l.trim().trim_start_matches('#').trim();
            match t.strip_prefix("- ") {
                Some(a) => args.push(a.to_string()),
                None => break,
            }
        }
        assert_eq!(args[1], "agent", "{args:?}");
        assert!(args.len() > 5, "{args:?}");
        let cli =
            crate::cli::Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert!(matches!(cli.command, crate::cli::Command::Agent(_)));
        for want in [
            "hostPID: true",
            "readOnlyRootFilesystem: true",
            "fieldPath: spec.nodeName",
            "name: NODE_NAME",
            "path: /healthz",
            "add: [BPF, PERFMON, SYS_PTRACE, SYS_RESOURCE, DAC_READ_SEARCH, CHECKPOINT_RESTORE]",
        ] {
            assert!(ds.contains(want), "daemonset.yaml lacks {want:?}");
        }
        let rbac = deploy("rbac.yaml");
        assert!(
            rbac.contains(r#"resources: ["pods"]"#) && rbac.contains(r#"verbs: ["get", "list"]"#)
        );
        assert!(
            ds.contains("serviceAccountName: tracer-agent") && rbac.contains("name: tracer-agent")
        );
    }
}
