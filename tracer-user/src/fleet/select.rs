//! Which processes the agent watches: `--select KIND=VALUE`, repeatable.
//! Selectors of one kind are alternatives; different kinds must all
//! match (`--select exe='*/api*' --select exe='*/worker' --select
//! container=4f1c7e0c3b2a`: either executable, in that container). No
//! selector: every Go process.

use std::str::FromStr;

use super::cgroup::Placement;

/// One `--select`.
#[derive(Debug, Clone)]
pub enum Selector {
    /// A glob on the executable's path, or on its file name when the glob
    /// has no `/` (`exe=caddy`, `exe=/usr/local/bin/*`).
    Exe(glob::Pattern),
    /// A container id or a prefix of it (12 digits, as `docker ps` shows).
    Container(String),
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
            "namespace" | "pod" => Err(format!(
                "--select {s:?}: selecting by Kubernetes {kind} needs the pod list from the API \
                 server, which this agent does not read yet; select by container id instead"
            )),
            other => Err(format!(
                "--select {s:?}: unknown kind {other:?} (exe=GLOB, container=ID)"
            )),
        }
    }
}

/// Every `--select` given.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    exe: Vec<glob::Pattern>,
    container: Vec<String>,
}

impl Selection {
    pub fn new(selectors: &[Selector]) -> Selection {
        let mut s = Selection::default();
        for sel in selectors {
            match sel {
                Selector::Exe(p) => s.exe.push(p.clone()),
                Selector::Container(c) => s.container.push(c.clone()),
            }
        }
        s
    }

    /// Whether `exe` in `placement` is selected.
    pub fn matches(&self, exe: &str, placement: &Placement) -> bool {
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
        exe_ok && container_ok
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
        assert!(sel(&[]).matches("/usr/bin/caddy", &none));
        let s = sel(&["exe=caddy", "exe=*/api-*"]);
        assert!(s.matches("/usr/bin/caddy", &none));
        assert!(s.matches("/srv/api-v2", &none));
        assert!(!s.matches("/usr/bin/caddy2", &none));
        let s = sel(&["exe=/usr/bin/*", "container=4F1C7E0C3B2A"]);
        assert!(s.matches("/usr/bin/caddy", &inside));
        assert!(!s.matches("/usr/bin/caddy", &none));
        assert!(!s.matches("/opt/caddy", &inside));
    }

    #[test]
    fn bad_selectors_say_why() {
        for (arg, says) in [
            ("exe", "KIND=VALUE"),
            ("exe=", "empty"),
            ("exe=[", "bad glob"),
            ("container=xyz", "hex"),
            ("namespace=prod", "API server"),
            ("user=root", "unknown kind"),
        ] {
            let e = arg.parse::<Selector>().unwrap_err();
            assert!(e.contains(says), "{arg}: {e}");
        }
    }
}
