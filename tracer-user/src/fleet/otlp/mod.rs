//! OTLP profiles (cargo feature `otlp`, while OpenTelemetry's profiles
//! signal is in development): each profile the agent takes is also sent
//! as an OTLP/HTTP `ExportProfilesServiceRequest` (binary protobuf,
//! `profiles/v1development` as of opentelemetry-proto 1.9) to
//! `BASE/v1development/profiles`. The pprof is translated: one OTLP profile
//! per sample type (OTLP keeps one type per profile), one shared
//! dictionary, the process's labels as resource attributes named by the
//! semantic conventions.

mod proto;
mod prune;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use prost::Message as _;

use super::exposition::Labels;
use super::profiles::Profile;
use crate::report::pprof::{decode_gz, proto as pprof};
use proto::any_value::Value;

/// The request body for `p` of the process labelled `labels`.
pub fn request(labels: &Labels, p: &Profile) -> Result<Vec<u8>, String> {
    let mut src = decode_gz(&p.data).map_err(|e| format!("{} profile: {e:#}", p.kind))?;
    prune::prune(&mut src)?;
    let mut d = Dictionary::new();
    let stacks = tables(&src, &mut d);
    let kind = d.attribute("tracer.profile.kind", Value::StringValue(p.kind.into()));
    let value_type = |d: &mut Dictionary, v: &pprof::ValueType| proto::ValueType {
        type_strindex: d.string(src.str_at(v.r#type)),
        unit_strindex: d.string(src.str_at(v.unit)),
    };
    let mut profiles = Vec::new();
    for (i, ty) in src.sample_type.iter().enumerate() {
        let samples = src
            .sample
            .iter()
            .zip(&stacks)
            .filter_map(|(s, &stack_index)| {
                let v = s.value.get(i).copied().filter(|&v| v != 0)?;
                Some(proto::Sample {
                    stack_index,
                    values: vec![v],
                    ..Default::default()
                })
            })
            .collect();
        profiles.push(proto::Profile {
            sample_type: Some(value_type(&mut d, ty)),
            samples,
            time_unix_nano: u64::try_from(src.time_nanos).unwrap_or(p.from_ns),
            duration_nano: u64::try_from(src.duration_nanos).unwrap_or(0),
            period_type: src.period_type.as_ref().map(|v| value_type(&mut d, v)),
            period: src.period,
            profile_id: profile_id(p, i),
            attribute_indices: vec![kind],
            ..Default::default()
        });
    }
    let body = proto::ExportProfilesServiceRequest {
        resource_profiles: vec![proto::ResourceProfiles {
            resource: Some(resource(labels)),
            scope_profiles: vec![proto::ScopeProfiles {
                scope: Some(proto::InstrumentationScope {
                    name: "tracer".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                profiles,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(d.t),
    };
    Ok(body.encode_to_vec())
}

/// The pprof's mappings, functions and locations into `d`'s tables;
/// returns each sample's stack index.
fn tables(src: &pprof::Profile, d: &mut Dictionary) -> Vec<i32> {
    // pprof id → table index.
    let mut mappings: HashMap<u64, i32> = HashMap::new();
    for m in &src.mapping {
        let mapping = proto::Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename_strindex: d.string(src.str_at(m.filename)),
            attribute_indices: Vec::new(),
        };
        mappings.insert(m.id, push(&mut d.t.mapping_table, mapping));
    }
    let mut functions: HashMap<u64, i32> = HashMap::new();
    for f in &src.function {
        let function = proto::Function {
            name_strindex: d.string(src.str_at(f.name)),
            system_name_strindex: d.string(src.str_at(f.system_name)),
            filename_strindex: d.string(src.str_at(f.filename)),
            start_line: f.start_line,
        };
        functions.insert(f.id, push(&mut d.t.function_table, function));
    }
    let mut locations: HashMap<u64, i32> = HashMap::new();
    for l in &src.location {
        let location = proto::Location {
            mapping_index: mappings.get(&l.mapping_id).copied().unwrap_or(0),
            address: l.address,
            lines: l
                .line
                .iter()
                .map(|line| proto::Line {
                    function_index: functions.get(&line.function_id).copied().unwrap_or(0),
                    line: line.line,
                    column: line.column,
                })
                .collect(),
            attribute_indices: Vec::new(),
        };
        locations.insert(l.id, push(&mut d.t.location_table, location));
    }
    src.sample
        .iter()
        .map(|s| {
            let frames = s
                .location_id
                .iter()
                .map(|id| locations.get(id).copied().unwrap_or(0))
                .collect();
            d.stack(frames)
        })
        .collect()
}

/// `BASE/v1development/profiles`.
pub fn url(base: &str) -> String {
    format!("{}/v1development/profiles", base.trim_end_matches('/'))
}

/// Appends `item` to a dictionary table; returns its index.
fn push<T>(table: &mut Vec<T>, item: T) -> i32 {
    table.push(item);
    i32::try_from(table.len() - 1).unwrap_or(0)
}

/// The dictionary being built: every table starts with its zero value, as
/// the protocol requires; strings, stacks and attributes are shared.
struct Dictionary {
    t: proto::ProfilesDictionary,
    strings: HashMap<String, i32>,
    stacks: HashMap<Vec<i32>, i32>,
}

impl Dictionary {
    fn new() -> Dictionary {
        Dictionary {
            t: proto::ProfilesDictionary {
                mapping_table: vec![Default::default()],
                location_table: vec![Default::default()],
                function_table: vec![Default::default()],
                link_table: vec![Default::default()],
                string_table: vec![String::new()],
                attribute_table: vec![Default::default()],
                stack_table: vec![Default::default()],
            },
            strings: HashMap::from([(String::new(), 0)]),
            stacks: HashMap::new(),
        }
    }

    fn string(&mut self, s: &str) -> i32 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = push(&mut self.t.string_table, s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn stack(&mut self, frames: Vec<i32>) -> i32 {
        if let Some(&i) = self.stacks.get(&frames) {
            return i;
        }
        let stack = proto::Stack {
            location_indices: frames.clone(),
        };
        let i = push(&mut self.t.stack_table, stack);
        self.stacks.insert(frames, i);
        i
    }

    fn attribute(&mut self, key: &str, value: Value) -> i32 {
        let key_strindex = self.string(key);
        let attribute = proto::KeyValueAndUnit {
            key_strindex,
            value: Some(proto::AnyValue { value: Some(value) }),
            unit_strindex: 0,
        };
        push(&mut self.t.attribute_table, attribute)
    }
}

/// The /metrics labels as resource attributes (semantic conventions).
fn resource(labels: &Labels) -> proto::Resource {
    let mut attributes = Vec::new();
    let mut add = |key: &str, value: Value| {
        attributes.push(proto::KeyValue {
            key: key.into(),
            value: Some(proto::AnyValue { value: Some(value) }),
        })
    };
    for (k, v) in labels {
        let s = || Value::StringValue(v.clone());
        match k.as_str() {
            "pid" => add("process.pid", Value::IntValue(v.parse().unwrap_or(0))),
            "exe" => {
                add("process.executable.path", s());
                let name = v.rsplit('/').next().unwrap_or(v);
                add("service.name", Value::StringValue(name.into()));
            }
            "go_version" => {
                add("process.runtime.name", Value::StringValue("go".into()));
                add("process.runtime.version", s());
            }
            "container" => add("container.id", s()),
            "container_runtime" => add("container.runtime.name", s()),
            "pod" => add("k8s.pod.name", s()),
            "namespace" => add("k8s.namespace.name", s()),
            "pod_uid" => add("k8s.pod.uid", s()),
            _ => add(&format!("tracer.{k}"), s()),
        }
    }
    proto::Resource {
        attributes,
        dropped_attributes_count: 0,
    }
}

/// 16 random bytes, never all zero.
fn profile_id(p: &Profile, i: usize) -> Vec<u8> {
    let word = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(p.until_ns ^ salt);
        h.write_usize(i);
        h.write(p.kind.as_bytes());
        h.finish()
    };
    let mut id = [word(1).to_le_bytes(), (word(2) | 1).to_le_bytes()].concat();
    id.truncate(16);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::folded::fixture::report;
    use crate::report::pprof::alloc_pprof_gz;

    #[test]
    fn a_pprof_becomes_one_otlp_profile_per_sample_type() {
        let data = alloc_pprof_gz(&report()).unwrap();
        let src = decode_gz(&data).unwrap();
        let p = Profile {
            kind: "alloc",
            from_ns: 1,
            until_ns: 2,
            data,
            sample_types: &[],
        };
        let labels: Labels = vec![
            ("pid".into(), "42".into()),
            ("exe".into(), "/srv/api".into()),
        ];
        let body = request(&labels, &p).unwrap();
        let r = proto::ExportProfilesServiceRequest::decode(body.as_slice()).unwrap();
        let d = r.dictionary.unwrap();
        assert_eq!(d.string_table[0], "");
        assert_eq!(d.stack_table[0], proto::Stack::default());
        assert_eq!(d.location_table[0], proto::Location::default());
        let rp = &r.resource_profiles[0];
        let attrs = &rp.resource.as_ref().unwrap().attributes;
        let attr = |k: &str| {
            attrs
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.clone())
        };
        assert_eq!(
            attr("process.pid").unwrap().value,
            Some(Value::IntValue(42))
        );
        assert_eq!(
            attr("service.name").unwrap().value,
            Some(Value::StringValue("api".into()))
        );
        let profiles = &rp.scope_profiles[0].profiles;
        assert_eq!(profiles.len(), src.sample_type.len());
        for (i, prof) in profiles.iter().enumerate() {
            let ty = prof.sample_type.as_ref().unwrap();
            assert_eq!(
                d.string_table[ty.type_strindex as usize],
                src.string_table[src.sample_type[i].r#type as usize]
            );
            // The same total per type, and every stack's frames resolve.
            let total: i64 = prof.samples.iter().map(|s| s.values[0]).sum();
            let want: i64 = src.sample.iter().map(|s| s.value[i]).sum();
            assert_eq!(total, want);
            assert_ne!(prof.profile_id, vec![0; 16]);
            assert_eq!(prof.profile_id.len(), 16);
            for s in &prof.samples {
                let stack = &d.stack_table[s.stack_index as usize];
                assert!(!stack.location_indices.is_empty());
                for &l in &stack.location_indices {
                    let loc = &d.location_table[l as usize];
                    assert!(!loc.lines.is_empty());
                    let f = &d.function_table[loc.lines[0].function_index as usize];
                    assert!(!d.string_table[f.name_strindex as usize].is_empty());
                }
            }
        }
    }
}
