//! Finding Go programs on the host: each scan lists `/proc`, drops the
//! processes that exited (or whose pid was reused: start time changed) and
//! looks at the new ones. A new process is a Go program if its executable
//! has Go build info; executables are recognised once per file (device,
//! inode, size, mtime), so a host running 50 copies of a service parses
//! its binary once, and a reader keeps only addresses, never the binary.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use super::binaries::FileKey;
use super::cgroup::{self, Placement};
use super::findings::History;
use super::kube::{KubeClient, Pod, PodIndex};
use super::profiles::HeapDeltas;
use super::select::Selection;
use super::sites::SiteReader;
use super::slices::SliceResult;
use crate::sampling::carry::Carry;
use crate::tracee::gobin::GoBinary;
use crate::tracee::vitals::VitalsReader;
use crate::tracee::{start_time, Target};

/// A Go process being watched.
#[derive(Debug)]
pub struct Watched {
    pub target: Target,
    pub placement: Placement,
    pub reader: VitalsReader,
    pub sites: SiteReader,
    /// Allocation counts at this process's last heap profile.
    pub heap_deltas: std::sync::Mutex<HeapDeltas>,
    /// When the agent found it (ns since the epoch).
    pub since_ns: u64,
    /// What earlier scrapes saw, for findings.
    pub history: std::sync::Mutex<History>,
    /// The runtime releases memory with MADV_FREE (GODEBUG).
    pub madv_free: bool,
    /// Its last allocation slice (without the profile).
    pub alloc_slice: std::sync::Mutex<Option<SliceResult>>,
    /// The budget its next slice starts from: what the last one left, or
    /// nothing as of when it was found (see [`Carry`]).
    pub budget: std::sync::Mutex<Option<Carry>>,
}

/// What is known of a pid seen in `/proc`.
#[derive(Debug)]
enum Seen {
    /// Watched (shared with scrapes in progress).
    Go(Arc<Watched>),
    /// Not a Go program, not selected, or not readable: not looked at
    /// again while it lives (`start_time` tells a reused pid).
    Ignored { start_time: u64 },
}

/// What looking at a new process decided.
enum Look {
    Seen(Seen),
    /// Its pod is not in the pod list yet: looked at again next scan.
    Pending,
}

/// Executables remembered at most (then forgotten all at once).
const MAX_FILES: usize = 4096;

/// The watched processes and what is known of the rest.
#[derive(Debug, Default)]
pub struct Discovery {
    seen: HashMap<u32, Seen>,
    /// The node's pods, when the Kubernetes API is reachable.
    pub pods: PodIndex,
    pub kube: Option<KubeClient>,
    /// Whether an executable file is a Go program.
    files: HashMap<FileKey, bool>,
    /// Processes found and lost since the start.
    pub found: u64,
    pub lost: u64,
    /// Why the last process that looked like Go could not be watched.
    pub last_problem: Option<String>,
}

/// What one scan changed.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: Vec<Arc<Watched>>,
    pub removed: Vec<u32>,
}

impl Discovery {
    /// One pass over `/proc`.
    pub fn scan(&mut self, selection: &Selection) -> Changes {
        let me = std::process::id();
        let mut changes = Changes::default();
        let pids: Vec<u32> = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let live: std::collections::HashSet<u32> = pids.iter().copied().collect();
        self.seen.retain(|pid, seen| {
            let keep = live.contains(pid)
                && match seen {
                    Seen::Go(w) => w.target.alive(),
                    Seen::Ignored { start_time: t } => start_time(*pid) == Some(*t),
                };
            if !keep {
                if let Seen::Go(_) = seen {
                    changes.removed.push(*pid);
                }
            }
            keep
        });
        self.lost += changes.removed.len() as u64;
        self.refresh_pods(false);
        for pid in pids {
            if pid == me || self.seen.contains_key(&pid) {
                continue;
            }
            let seen = match self.look_at(pid, selection) {
                Look::Seen(s) => s,
                Look::Pending => continue,
            };
            if let Seen::Go(w) = &seen {
                changes.added.push(Arc::clone(w));
                self.found += 1;
            }
            self.seen.insert(pid, seen);
        }
        if self.files.len() > MAX_FILES {
            self.files.clear();
        }
        changes
    }

    /// The processes watched now, by pid.
    pub fn watched(&self) -> Vec<Arc<Watched>> {
        let mut out: Vec<Arc<Watched>> = self
            .seen
            .values()
            .filter_map(|s| match s {
                Seen::Go(w) => Some(Arc::clone(w)),
                Seen::Ignored { .. } => None,
            })
            .collect();
        out.sort_by_key(|w| w.target.pid);
        out
    }

    /// Reads the pod list if it is due (early for a process whose pod is
    /// not in it yet).
    fn refresh_pods(&mut self, unknown_container: bool) {
        if let Some(k) = &self.kube {
            if self.pods.due(unknown_container) {
                self.pods.refresh(k);
            }
        }
    }

    /// The processes watched now with their pods, if known.
    pub fn watched_with_pods(&self) -> Vec<(Arc<Watched>, Option<Pod>)> {
        self.watched()
            .into_iter()
            .map(|w| {
                let pod = self.pod_of(&w.placement);
                (w, pod)
            })
            .collect()
    }

    /// The pod of a process, if known.
    pub fn pod_of(&self, placement: &Placement) -> Option<Pod> {
        self.pods.pod_of(placement).cloned()
    }

    fn look_at(&mut self, pid: u32, selection: &Selection) -> Look {
        let ignored = Look::Seen(Seen::Ignored {
            start_time: start_time(pid).unwrap_or(0),
        });
        // Kernel threads and processes gone already have no executable.
        let Ok(target) = Target::open(pid) else {
            return ignored;
        };
        let Ok(meta) = std::fs::metadata(&target.exe_path) else {
            return ignored;
        };
        let key = (meta.dev(), meta.ino(), meta.size(), meta.mtime());
        if self.files.get(&key) == Some(&false) {
            return ignored;
        }
        let placement = cgroup::placement(pid);
        let in_pod = placement.container_id.is_some() || placement.pod_uid.is_some();
        if selection.needs_pods() && in_pod && self.pods.pod_of(&placement).is_none() {
            self.refresh_pods(true);
        }
        let pod = self.pods.pod_of(&placement).cloned();
        if !selection.matches(&target.exe, &placement, pod.as_ref()) {
            // A container the pod list does not show yet may be selected
            // once it does.
            let wait = selection.needs_pods() && in_pod && pod.is_none() && self.kube.is_some();
            return if wait { Look::Pending } else { ignored };
        }
        let bin = match GoBinary::open(&target.exe_path) {
            Ok(b) => b,
            Err(_) => {
                self.files.insert(key, false);
                return ignored;
            }
        };
        self.files.insert(key, true);
        match VitalsReader::open(&target, &bin) {
            Ok(reader) => {
                if !reader.missing.is_empty() {
                    self.last_problem = Some(format!(
                        "pid {pid} ({}): {}",
                        target.exe,
                        reader.missing.join("; ")
                    ));
                }
                let sites = SiteReader::open(&bin, &reader, key, target.exe_path.clone());
                let budget = target.cpu_time_ns().map(Carry::empty);
                Look::Seen(Seen::Go(Arc::new(Watched {
                    target,
                    placement,
                    reader,
                    sites,
                    heap_deltas: Default::default(),
                    since_ns: crate::session::unix_ns(),
                    history: Default::default(),
                    alloc_slice: Default::default(),
                    budget: std::sync::Mutex::new(budget),
                    madv_free: crate::tracee::memory::release_advice(
                        bin.build_info().setting("DefaultGODEBUG"),
                        crate::tracee::start_env(pid, "GODEBUG").as_deref(),
                    ) == "MADV_FREE",
                })))
            }
            Err(e) => {
                self.last_problem = Some(format!("pid {pid} ({}): {e:#}", target.exe));
                ignored
            }
        }
    }
}
