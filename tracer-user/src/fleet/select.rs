//! Which processes the agent watches: `--select KIND=VALUE`, repeatable.
//! Selectors of one kind are alternatives; different kinds must all
//! match (`--select exe='*/api*' --select exe='*/worker' --select
//! container=4f1c7e0c3b2a`: either executable, in that container). No
//! selector: every Go process.

use std::str::FromStr;

use super::cgroup::Placement;
use super::kube::Pod;

/// One `--select`.
#[derive(Debug, Clone)]
pub enum Selector {
    /// A glob on the executable's path, or on its file name when the glob
    /// has no `/` (`exe=caddy`, `exe=/usr/local/bin/*`).
    Exe(glob::Pattern),
    /// A container id or a prefix of it (12 digits, as `docker ps` shows).
    Container(String),
    /// A glob on the Kubernetes namespace of the process's pod.
    Namespace(glob::Pattern),
    /// A glob on the name of the process's pod.
    Pod(glob::Pattern),
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, value) = s.split_once('=').ok_or_else(|| {
            format!("--select {s:?}: expected KIND=VALUE (exe=GLOB, container=ID)")
        })?;
        if value.is_empty() {
            return Err(format!("--select {s:?}: empty value"));
        }
        match kind {
            "exe" => glob::Pattern::new(value)
                .map(Selector::Exe)
                .map_err(|e| format!("--select {s:?}: bad glob: {e}")),
            "container" if value.len() >= 4 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Selector::Container(value.to_ascii_lowercase()))
            }
            "container" => Err(format!(
                "--select {s:?}: a container id is at least 4 hex digits"
            )),
            "namespace" | "pod" => {
                let p = glob::Pattern::new(value)
                    .map_err(|e| format!("--select {s:?}: bad glob: {e}"))?;
                Ok(if kind == "pod" {
                    Selector::Pod(p)
                } else {
                    Selector::Namespace(p)
                })
            }
            other => Err(format!(
                "--select {s:?}: unknown kind {other:?} (exe=GLOB, container=ID, namespace=GLOB, pod=GLOB)"
            )),
        }
    }
}

/// Every `--select` given.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    exe: Vec<glob::Pattern>,
    container: Vec<String>,
    namespace: Vec<glob::Pattern>,
    pod: Vec<glob::Pattern>,
}

impl Selection {
    pub fn new(selectors: &[Selector]) -> Selection {
        let mut s = Selection::default();
        for sel in selectors {
            match sel {
                Selector::Exe(p) => s.exe.push(p.clone()),
                Selector::Container(c) => s.container.push(c.clone()),
                Selector::Namespace(p) => s.namespace.push(p.clone()),
                Selector::Pod(p) => s.pod.push(p.clone()),
            }
        }
        s
    }

    /// Whether selecting needs each process's pod (namespace= or pod=).
    pub fn needs_pods(&self) -> bool {
        !self.namespace.is_empty() || !self.pod.is_empty()
    }

    /// Whether `exe` in `placement`, in `pod` if known, is selected.
    pub fn matches(&self, exe: &str, placement: &Placement, pod: Option<&Pod>) -> bool {
        let name = exe.rsplit('/').next().unwrap_or(exe);
        let exe_ok = self.exe.is_empty()
            || self.exe.iter().any(|p| {
                if p.as_str().contains('/') {
                    p.matches(exe)
                } else {
                    p.matches(name)
                }
            });
        let container_ok = self.container.is_empty()
            || placement
                .container_id
                .as_deref()
                .is_some_and(|id| self.container.iter().any(|c| id.starts_with(c.as_str())));
        let pod_ok = |pats: &[glob::Pattern], f: fn(&Pod) -> &str| {
            pats.is_empty() || pod.is_some_and(|p| pats.iter().any(|g| g.matches(f(p))))
        };
        exe_ok
            && container_ok
            && pod_ok(&self.namespace, |p| &p.namespace)
            && pod_ok(&self.pod, |p| &p.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(args: &[&str]) -> Selection {
        let s: Vec<Selector> = args.iter().map(|a| a.parse().unwrap()).collect();
        Selection::new(&s)
    }

    #[test]
    fn kinds_and_alternatives() {
        let none = Placement::default();
        let inside = Placement {
            container_id: Some("4f1c7e0c3b2a".to_string() + &"0".repeat(52)),
            runtime: Some("containerd"),
            ..Placement::default()
        };
        assert!(sel(&[]).matches("/usr/bin/caddy", &none, None));
        let s = sel(&["exe=caddy", "exe=*/api-*"]);
        assert!(s.matches("/usr/bin/caddy", &none, None));
        assert!(s.matches("/srv/api-v2", &none, None));
        assert!(!s.matches("/usr/bin/caddy2", &none, None));
        let s = sel(&["exe=/usr/bin/*", "container=4F1C7E0C3B2A"]);
        assert!(s.matches("/usr/bin/caddy", &inside, None));
        assert!(!s.matches("/usr/bin/caddy", &none, None));
        assert!(!s.matches("/opt/caddy", &inside, None));
        let pod = Pod {
            namespace: "shop".into(),
            name: "api-7d9".into(),
        };
        let s = sel(&["namespace=shop", "namespace=pay*", "pod=api-*"]);
        assert!(s.needs_pods() && !sel(&["exe=x"]).needs_pods());
        assert!(s.matches("/srv/api", &inside, Some(&pod)));
        assert!(!s.matches("/srv/api", &inside, None));
        let other = Pod {
            namespace: "kube-system".into(),
            name: "api-1".into(),
        };
        assert!(!s.matches("/srv/api", &inside, Some(&other)));
    }

    #[test]
    fn bad_selectors_say_why() {
        for (arg, says) in [
            ("exe", "KIND=VALUE"),
            ("exe=", "empty"),
            ("exe=[", "bad glob"),
            ("container=xyz", "hex"),
            ("namespace=[", "bad glob"),
            ("user=root", "unknown kind"),
        ] {
            let e = arg.parse::<Selector>().unwrap_err();
            assert!(e.contains(says), "{arg}: {e}");
        }
    }
}
