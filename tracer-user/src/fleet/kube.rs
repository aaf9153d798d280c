//! Pods and namespaces of the processes on this node, from the Kubernetes
//! API: `GET /api/v1/pods?fieldSelector=spec.nodeName=NODE` (the pods of
//! this node only; the RBAC in deploy/kubernetes grants `list` on pods and
//! nothing else), matched to a process by its container id or its pod UID
//! (both from `/proc/PID/cgroup`, see [`super::cgroup`]).
//!
//! In a pod: the API is `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
//! with the service account's token and CA; the node name comes from
//! `NODE_NAME` (the downward API in the DaemonSet). `--kube-api` overrides
//! the address (a plain `http://` one is for tests and `kubectl proxy`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cgroup::Placement;

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// How often the pod list is read again (and at most how often a process
/// in an unknown container makes it read early: [`MIN_REFRESH`]).
pub const REFRESH: Duration = Duration::from_secs(30);
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// A node's pod list larger than this is refused.
const MAX_BODY: u64 = 64 << 20;

/// How to reach the API server.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// `https://host:port` (or `http://` for a proxy).
    pub api: String,
    pub node: String,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

impl KubeConfig {
    /// The in-cluster configuration, if this runs in a pod; `api` and
    /// `node` override it (and make it usable outside a cluster).
    pub fn detect(api: Option<&str>, node: Option<&str>) -> Result<Option<KubeConfig>, String> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let api = match (api, host) {
            (Some(a), _) => a.trim_end_matches('/').to_string(),
            (None, Some(h)) if h.contains(':') => format!("https://[{h}]:{port}"),
            (None, Some(h)) => format!("https://{h}:{port}"),
            (None, None) => return Ok(None),
        };
        let node = node
            .map(str::to_string)
            .or_else(|| std::env::var("NODE_NAME").ok())
            .ok_or("the node's name is unknown: set NODE_NAME (the DaemonSet does) or --node")?;
        let sa = PathBuf::from(SA_DIR);
        let exists = |f: &str| Some(sa.join(f)).filter(|p| p.exists());
        Ok(Some(KubeConfig {
            api,
            node,
            token_file: exists("token"),
            ca_file: exists("ca.crt"),
        }))
    }
}

/// A pod: its namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
}

/// The node's pods, by container id and by UID.
#[derive(Debug, Default)]
pub struct PodIndex {
    by_container: HashMap<String, Pod>,
    by_uid: HashMap<String, Pod>,
    read_at: Option<Instant>,
    /// Why the last read failed.
    pub last_error: Option<String>,
}

impl PodIndex {
    /// The pod of a process, if its cgroup names one this index knows.
    pub fn pod_of(&self, p: &Placement) -> Option<&Pod> {
        p.container_id
            .as_ref()
            .and_then(|id| self.by_container.get(id))
            .or_else(|| p.pod_uid.as_ref().and_then(|u| self.by_uid.get(u)))
    }

    /// Whether a read is due: [`REFRESH`] after the last, or
    /// [`MIN_REFRESH`] when a process's container is not known yet.
    pub fn due(&self, unknown_container: bool) -> bool {
        let age = self.read_at.map_or(Duration::MAX, |t| t.elapsed());
        age >= REFRESH || (unknown_container && age >= MIN_REFRESH)
    }

    /// Reads the pod list (keeping the previous index if that fails).
    pub fn refresh(&mut self, client: &KubeClient) {
        self.read_at = Some(Instant::now());
        match client.pods() {
            Ok(body) => match parse_pods(&body) {
                Ok((by_container, by_uid)) => {
                    self.by_container = by_container;
                    self.by_uid = by_uid;
                    self.last_error = None;
                }
                Err(e) => self.last_error = Some(e),
            },
            Err(e) => self.last_error = Some(e),
        }
    }
}

/// An HTTP client for the API server.
pub struct KubeClient {
    config: KubeConfig,
    http: ureq::Agent,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KubeClient({}, node {})",
            self.config.api, self.config.node
        )
    }
}

impl KubeClient {
    pub fn new(config: KubeConfig) -> Result<KubeClient, String> {
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(true);
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            let cert = ureq::tls::Certificate::from_pem(&pem)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build();
            builder = builder.tls_config(tls);
        }
        Ok(KubeClient {
            config,
            http: builder.build().into(),
        })
    }

    fn pods(&self) -> Result<String, String> {
        let url = format!(
            "{}/api/v1/pods?fieldSelector=spec.nodeName%3D{}",
            self.config.api,
            super::push::urlencode(&self.config.node)
        );
        let mut req = self.http.get(&url);
        if let Some(t) = &self.config.token_file {
            // Re-read each time: the kubelet rotates projected tokens.
            let token = std::fs::read_to_string(t).map_err(|e| format!("{}: {e}", t.display()))?;
            req = req.header("Authorization", format!("Bearer {}", token.trim()));
        }
        let mut resp = req.call().map_err(|e| format!("{url}: {e}"))?;
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| format!("{url}: {e}"))
    }
}

type Maps = (HashMap<String, Pod>, HashMap<String, Pod>);

/// A `PodList`'s pods by container id (`containerd://ID`, `cri-o://ID`,
/// `docker://ID`: the id) and by UID.
pub fn parse_pods(body: &str) -> Result<Maps, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("pod list: {e}"))?;
    let items = v["items"]
        .as_array()
        .ok_or("pod list: no items (not a PodList)")?;
    let mut by_container = HashMap::new();
    let mut by_uid = HashMap::new();
    for pod in items {
        let meta = &pod["metadata"];
        let (Some(ns), Some(name)) = (meta["namespace"].as_str(), meta["name"].as_str()) else {
            continue;
        };
        let p = Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
        };
        if let Some(uid) = meta["uid"].as_str() {
            by_uid.insert(uid.to_string(), p.clone());
        }
        let status = &pod["status"];
        for list in [
            "containerStatuses",
            "initContainerStatuses",
            "ephemeralContainerStatuses",
        ] {
            for c in status[list].as_array().into_iter().flatten() {
                if let Some(id) = c["containerID"].as_str() {
                    let id = id.rsplit("://").next().unwrap_or(id);
                    by_container.insert(id.to_string(), p.clone());
                }
            }
        }
    }
    Ok((by_container, by_uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c7e0c3b2a19d8e7f6a5b4c3d2e1f00112233445566778899aabbccddeeff0";

    #[test]
    fn pods_by_container_and_uid() {
        let body = format!(
            r#"{{"kind":"PodList","items":[
              {{"metadata":{{"name":"api-7d9","namespace":"shop","uid":"5d0b6c1a-8a43-4a3e-9a51-0c9d2f7e6b11"}},
                "status":{{"containerStatuses":[{{"name":"api","containerID":"containerd://{ID}"}}]}}}},
              {{"metadata":{{"name":"pending","namespace":"shop","uid":"u2"}},"status":{{}}}}]}}"#
        );
        let (by_c, by_u) = parse_pods(&body).unwrap();
        let want = Pod {
            namespace: "shop".into(),
            name: "api-7d9".into(),
        };
        assert_eq!(by_c.get(ID), Some(&want));
        assert_eq!(
            by_u.get("5d0b6c1a-8a43-4a3e-9a51-0c9d2f7e6b11"),
            Some(&want)
        );
        assert_eq!(by_u.len(), 2);
        let idx = PodIndex {
            by_container: by_c,
            by_uid: by_u,
            ..Default::default()
        };
        let inside = Placement {
            container_id: Some(ID.into()),
            ..Default::default()
        };
        assert_eq!(idx.pod_of(&inside), Some(&want));
        let by_uid_only = Placement {
            pod_uid: Some("5d0b6c1a-8a43-4a3e-9a51-0c9d2f7e6b11".into()),
            ..Default::default()
        };
        assert_eq!(idx.pod_of(&by_uid_only), Some(&want));
        assert_eq!(idx.pod_of(&Placement::default()), None);
        assert!(parse_pods("{}").is_err());
        assert!(parse_pods("not json").is_err());
    }
}
