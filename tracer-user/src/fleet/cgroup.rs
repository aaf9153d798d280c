//! Which container a process runs in, from `/proc/PID/cgroup`: the
//! container id and runtime, and the Kubernetes pod UID when the path has
//! one. Formats recognised (cgroup v2's single `0::` line, or v1's lines,
//! of which the first that names a container wins):
//! - containerd (CRI): `…/cri-containerd-<id>.scope` (systemd driver),
//!   `/kubepods/<qos>/pod<uid>/<id>` (cgroupfs driver);
//! - CRI-O: `…/crio-<id>.scope` (`crio-conmon-<id>.scope` is the monitor,
//!   not the container);
//! - Docker: `/system.slice/docker-<id>.scope`, v1 `/docker/<id>`;
//! - Podman: `…/libpod-<id>.scope`, v1 `/libpod_parent/libpod-<id>`;
//! - pods: `kubepods-<qos>-pod<uid_with_underscores>.slice` or `pod<uid>`;
//! - anything else (a systemd service, a user session) is no container;
//!   its systemd unit, if any, is kept.

/// A process's container, as its cgroup path says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The container's full id (64 hex digits).
    pub container_id: Option<String>,
    /// `containerd`, `cri-o`, `docker`, `podman` (or `unknown` for a bare
    /// 64-hex path component).
    pub runtime: Option<&'static str>,
    /// The Kubernetes pod UID (with dashes).
    pub pod_uid: Option<String>,
    /// The systemd unit outside containers (`nginx.service`).
    pub unit: Option<String>,
}

impl Placement {
    /// The short id (12 digits), as `docker ps` and `crictl ps` show it.
    pub fn short_id(&self) -> Option<&str> {
        self.container_id
            .as_deref()
            .map(|id| &id[..12.min(id.len())])
    }
}

/// Reads and parses `/proc/PID/cgroup` (no container if unreadable).
pub fn placement(pid: u32) -> Placement {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// Parses the text of `/proc/PID/cgroup`.
pub fn parse(text: &str) -> Placement {
    let paths: Vec<&str> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .collect();
    paths
        .iter()
        .map(|p| parse_path(p))
        .find(|p| p.container_id.is_some())
        .or_else(|| {
            paths
                .iter()
                .map(|p| parse_path(p))
                .find(|p| p.unit.is_some())
        })
        .unwrap_or_default()
}

const PREFIXES: [(&str, &str); 5] = [
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
    ("docker-", "docker"),
    ("libpod-", "podman"),
    ("containerd-", "containerd"),
];

fn parse_path(path: &str) -> Placement {
    let mut out = Placement::default();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(uid) = pod_uid(part) {
            out.pod_uid = Some(uid);
        }
        let name = part.strip_suffix(".scope").unwrap_or(part);
        if name.starts_with("crio-conmon-") {
            continue;
        }
        let found = PREFIXES
            .iter()
            .find_map(|(pre, rt)| Some((name.strip_prefix(pre)?, *rt)))
            .filter(|(id, _)| is_container_id(id));
        let parent = i.checked_sub(1).map(|j| parts[j]);
        let found = found.or_else(|| {
            is_container_id(name).then(|| {
                let rt = match parent {
                    Some("docker") => "docker",
                    Some(p) if p.starts_with("pod") || p.starts_with("kubepods") => "containerd",
                    _ => "unknown",
                };
                (name, rt)
            })
        });
        if let Some((id, rt)) = found {
            out.container_id = Some(id.to_string());
            out.runtime = Some(rt);
        }
    }
    if out.container_id.is_none() {
        out.unit = parts
            .iter()
            .rev()
            .find(|p| p.ends_with(".service"))
            .map(|p| p.to_string());
    }
    out
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `kubepods-burstable-pod<uid_with_underscores>.slice` or `pod<uid>`.
fn pod_uid(part: &str) -> Option<String> {
    let name = part.strip_suffix(".slice").unwrap_or(part);
    let at = name.rfind("pod")?;
    let uid = name[at + 3..].replace('_', "-");
    let ok = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    (ok && (at == 0 || name[..at].ends_with('-'))).then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c7e0c3b2a19d8e7f6a5b4c3d2e1f00112233445566778899aabbccddeeff0";
    const UID: &str = "5d0b6c1a-8a43-4a3e-9a51-0c9d2f7e6b11";

    fn one(text: &str) -> Placement {
        parse(text)
    }

    #[test]
    fn containerd_systemd_driver_v2() {
        let t = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{ID}.scope\n",
            UID.replace('-', "_")
        );
        let p = one(&t);
        assert_eq!(p.container_id.as_deref(), Some(ID));
        assert_eq!(p.runtime, Some("containerd"));
        assert_eq!(p.pod_uid.as_deref(), Some(UID));
        assert_eq!(p.short_id(), Some(&ID[..12]));
    }

    #[test]
    fn containerd_cgroupfs_driver_v1() {
        let t = format!(
            "12:pids:/kubepods/besteffort/pod{UID}/{ID}\n\
             11:memory:/kubepods/besteffort/pod{UID}/{ID}\n\
             1:name=systemd:/kubepods/besteffort/pod{UID}/{ID}\n"
        );
        let p = one(&t);
        assert_eq!(p.container_id.as_deref(), Some(ID));
        assert_eq!(p.runtime, Some("containerd"));
        assert_eq!(p.pod_uid.as_deref(), Some(UID));
    }

    #[test]
    fn guaranteed_pod_has_no_qos_slice() {
        let t = format!(
            "0::/kubepods.slice/kubepods-pod{}.slice/cri-containerd-{ID}.scope\n",
            UID.replace('-', "_")
        );
        assert_eq!(one(&t).pod_uid.as_deref(), Some(UID));
    }

    #[test]
    fn crio_and_its_monitor() {
        let t = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/crio-{ID}.scope\n",
            UID.replace('-', "_")
        );
        let p = one(&t);
        assert_eq!(
            (p.container_id.as_deref(), p.runtime),
            (Some(ID), Some("cri-o"))
        );
        let conmon = format!("0::/kubepods.slice/crio-conmon-{ID}.scope\n");
        assert_eq!(one(&conmon).container_id, None);
    }

    #[test]
    fn docker_v2_and_v1() {
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        let p = one(&v2);
        assert_eq!(
            (p.container_id.as_deref(), p.runtime),
            (Some(ID), Some("docker"))
        );
        assert_eq!(p.pod_uid, None);
        let v1 = format!(
            "13:misc:/\n12:cpuset:/docker/{ID}\n4:memory:/docker/{ID}\n0::/system.slice/containerd.service\n"
        );
        let p = one(&v1);
        assert_eq!(
            (p.container_id.as_deref(), p.runtime),
            (Some(ID), Some("docker"))
        );
    }

    #[test]
    fn podman() {
        let t = format!("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container\n");
        let p = one(&t);
        assert_eq!(
            (p.container_id.as_deref(), p.runtime),
            (Some(ID), Some("podman"))
        );
        let v1 = format!("5:memory:/machine.slice/libpod-{ID}.scope\n");
        assert_eq!(one(&v1).runtime, Some("podman"));
    }

    #[test]
    fn systemd_service_and_session_are_no_container() {
        let p = one("0::/system.slice/caddy.service\n");
        assert_eq!(p.container_id, None);
        assert_eq!(p.unit.as_deref(), Some("caddy.service"));
        let p = one("0::/user.slice/user-0.slice/session-3.scope\n");
        assert_eq!(p, Placement::default());
        assert_eq!(one(""), Placement::default());
        assert_eq!(one("garbage without colons\n"), Placement::default());
        // Not 64 hex digits: not an id.
        assert_eq!(one("0::/docker/abc123\n").container_id, None);
        assert_eq!(one("0::/podcast.slice/x\n").pod_uid, None);
    }
}
