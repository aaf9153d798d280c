//! Where profiles go: a directory (`<exe>-<pid>/<kind>-<unix>.pb.gz`, the
//! newest `keep` per process and kind), Pyroscope's ingest API and Parca's
//! `WriteRaw` (its HTTP/JSON gateway). Pushes that fail are counted and
//! dropped, never queued: a slow backend costs no memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;

use super::exposition::Labels;
use super::profiles::Profile;

/// Where to send profiles.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub dir: Option<PathBuf>,
    /// Files kept per process and kind in `dir`.
    pub keep: usize,
    /// Pyroscope's base URL (`http://pyroscope:4040`).
    pub pyroscope: Option<String>,
    /// Parca's base URL (`http://parca:7070`).
    pub parca: Option<String>,
    /// An OTLP/HTTP receiver's base URL (`http://collector:4318`); used
    /// only when built with the `otlp` feature.
    pub otlp: Option<String>,
}

/// Sends profiles; counts what it did.
#[derive(Debug)]
pub struct Pusher {
    outputs: Outputs,
    http: ureq::Agent,
    pub written: AtomicU64,
    pub pushed: AtomicU64,
    pub errors: AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl Pusher {
    pub fn new(outputs: Outputs) -> Pusher {
        let http = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(true)
            .build()
            .into();
        Pusher {
            outputs,
            http,
            written: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// Whether profiles are wanted at all.
    pub fn enabled(&self) -> bool {
        let o = &self.outputs;
        o.dir.is_some() || o.pyroscope.is_some() || o.parca.is_some() || o.otlp.is_some()
    }

    /// Writes and pushes one process's profiles; `labels` as on /metrics.
    pub fn send(&self, labels: &Labels, exe: &str, pid: u32, profiles: &[Profile]) {
        let service = exe.rsplit('/').next().unwrap_or(exe);
        for p in profiles {
            if let Some(dir) = &self.outputs.dir {
                let r = write_file(dir, self.outputs.keep, service, pid, p);
                self.count(
                    r.map_err(|e| format!("{}: {e}", dir.display())),
                    &self.written,
                );
            }
            if let Some(url) = &self.outputs.pyroscope {
                let r = self.pyroscope(url, service, labels, p);
                self.count(r, &self.pushed);
            }
            if let Some(url) = &self.outputs.parca {
                let r = self.parca(url, labels, p);
                self.count(r, &self.pushed);
            }
            #[cfg(feature = "otlp")]
            if let Some(url) = &self.outputs.otlp {
                let r = self.otlp(url, labels, p);
                self.count(r, &self.pushed);
            }
        }
    }

    /// `POST /v1development/profiles`, an `ExportProfilesServiceRequest`.
    #[cfg(feature = "otlp")]
    fn otlp(&self, base: &str, labels: &Labels, p: &Profile) -> Result<(), String> {
        let body = super::otlp::request(labels, p)?;
        self.http
            .post(&super::otlp::url(base))
            .header("Content-Type", "application/x-protobuf")
            .send(&body[..])
            .map(|_| ())
            .map_err(|e| format!("otlp {base}: {e}"))
    }

    fn count(&self, r: Result<(), String>, ok: &AtomicU64) {
        match r {
            Ok(()) => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            }
        }
    }

    /// `POST /ingest?name=SERVICE{labels}&from=&until=&format=pprof`, the
    /// profile as the multipart field `profile` and the sample types'
    /// units and aggregation in `sample_type_config`.
    fn pyroscope(
        &self,
        base: &str,
        service: &str,
        labels: &Labels,
        p: &Profile,
    ) -> Result<(), String> {
        let name = format!("{service}{{{}}}", pyroscope_labels(labels, p.kind));
        let url = format!(
            "{}/ingest?name={}&from={}&until={}&format=pprof&spyName=tracer",
            base.trim_end_matches('/'),
            urlencode(&name),
            p.from_ns / 1_000_000_000,
            p.until_ns.div_ceil(1_000_000_000),
        );
        let boundary = format!("tracer-{:016x}", p.until_ns);
        let mut body = Vec::with_capacity(p.data.len() + 1024);
        let part = |body: &mut Vec<u8>, field: &str, file: &str, data: &[u8]| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        };
        part(&mut body, "profile", "profile.pprof", &p.data);
        part(
            &mut body,
            "sample_type_config",
            "sample_type_config.json",
            sample_type_config(p).as_bytes(),
        );
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.http
            .post(&url)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .map(|_| ())
            .map_err(|e| format!("pyroscope {base}: {e}"))
    }

    /// `POST /profiles/writeraw` with the JSON form of `WriteRawRequest`.
    fn parca(&self, base: &str, labels: &Labels, p: &Profile) -> Result<(), String> {
        let mut ls = vec![serde_json::json!({"name": "__name__", "value": p.kind})];
        for (k, v) in labels {
            ls.push(serde_json::json!({"name": k, "value": v}));
        }
        let raw = base64::engine::general_purpose::STANDARD.encode(&p.data);
        let body = serde_json::json!({
            "series": [{"labels": {"labels": ls}, "samples": [{"rawProfile": raw}]}],
            "normalized": false,
        });
        let url = format!("{}/profiles/writeraw", base.trim_end_matches('/'));
        self.http
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .map(|_| ())
            .map_err(|e| format!("parca {base}: {e}"))
    }
}

/// Pyroscope's label set: the /metrics labels but `exe` (the service name
/// says it), plus the profile kind.
fn pyroscope_labels(labels: &Labels, kind: &str) -> String {
    labels
        .iter()
        .filter(|(k, _)| k != "exe")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(std::iter::once(("profile", kind)))
        .map(|(k, v)| {
            let v: String = v
                .chars()
                .filter(|c| !matches!(c, ',' | '{' | '}' | '='))
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Pyroscope's `sample_type_config`: allocations and CPU are deltas
/// already (summed), in-use figures and goroutine counts are averaged when
/// merged.
fn sample_type_config(p: &Profile) -> String {
    let mut m = serde_json::Map::new();
    for (ty, unit) in p.sample_types {
        let units = match (*ty, *unit) {
            (_, "bytes") => "bytes",
            (_, "nanoseconds") => "nanoseconds",
            ("samples", _) => "samples",
            _ if ty.starts_with("goroutine") => "goroutines",
            _ => "objects",
        };
        let agg = if ty.starts_with("alloc") || *ty == "samples" || *ty == "cpu" {
            "sum"
        } else {
            "average"
        };
        let mut config =
            serde_json::json!({"units": units, "aggregation": agg, "cumulative": false});
        if *ty == "samples" {
            config["sampled"] = true.into();
        }
        m.insert(ty.to_string(), config);
    }
    serde_json::Value::Object(m).to_string()
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Writes `DIR/<service>-<pid>/<kind>-<unix>.pb.gz` and keeps the newest
/// `keep` files of that kind there.
fn write_file(dir: &Path, keep: usize, service: &str, pid: u32, p: &Profile) -> Result<(), String> {
    let sub = dir.join(format!("{service}-{pid}"));
    std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
    let secs = p.until_ns / 1_000_000_000;
    let path = sub.join(format!("{}-{secs}.pb.gz", p.kind));
    let tmp = sub.join(format!(".{}-{secs}.tmp", p.kind));
    std::fs::write(&tmp, &p.data).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    let prefix = format!("{}-", p.kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
        .map_err(|e| e.to_string())?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".pb.gz"))
        })
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep.max(1));
    for f in &files[..excess] {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyroscope_names_and_config() {
        let labels: Labels = vec![
            ("pid".into(), "42".into()),
            ("exe".into(), "/srv/api".into()),
            ("go_version".into(), "go1.25.5".into()),
        ];
        assert_eq!(
            pyroscope_labels(&labels, "heap"),
            "pid=42,go_version=go1.25.5,profile=heap"
        );
        let p = Profile {
            kind: "heap",
            from_ns: 0,
            until_ns: 0,
            data: Vec::new(),
            sample_types: super::super::profiles::HEAP_TYPES,
        };
        let c: serde_json::Value = serde_json::from_str(&sample_type_config(&p)).unwrap();
        assert_eq!(c["alloc_space"]["units"], "bytes");
        assert_eq!(c["inuse_objects"]["aggregation"], "average");
        let cpu = Profile {
            kind: "cpu",
            sample_types: super::super::profiles::CPU_TYPES,
            ..p
        };
        let c: serde_json::Value = serde_json::from_str(&sample_type_config(&cpu)).unwrap();
        assert_eq!(c["samples"]["units"], "samples");
        assert_eq!(c["samples"]["sampled"], true);
        assert_eq!(c["cpu"]["units"], "nanoseconds");
        assert_eq!(c["cpu"]["aggregation"], "sum");
        assert_eq!(urlencode("a{b=c}"), "a%7Bb%3Dc%7D");
    }

    #[test]
    fn files_rotate() {
        let dir = std::env::temp_dir().join(format!("tracer-push-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for s in 1..=5u64 {
            let p = Profile {
                kind: "goroutine",
                from_ns: 0,
                until_ns: s * 1_000_000_000,
                data: vec![1, 2, 3],
                sample_types: super::super::profiles::GOROUTINE_TYPES,
            };
            write_file(&dir, 3, "api", 7, &p).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.join("api-7"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "goroutine-3.pb.gz",
                "goroutine-4.pb.gz",
                "goroutine-5.pb.gz"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
