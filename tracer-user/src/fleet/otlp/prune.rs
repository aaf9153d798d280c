//! pprof's `drop_frames`/`keep_frames` applied before translation: OTLP has
//! no such fields, so a receiver would put a Go heap profile's flat values
//! on `runtime.mallocgc`. The same pruning as pprof's `Profile.Prune`
//! (github.com/google/pprof/profile/prune.go): below the first frame from
//! the root that matches `drop_frames` (and not `keep_frames`), the stack
//! is cut, never above the first non-matching frame.
use std::collections::{HashMap, HashSet};

use regex::Regex;

use crate::report::pprof::proto as pprof;

pub fn prune(p: &mut pprof::Profile) -> Result<(), String> {
    let (drop, keep) = (p.str_at(p.drop_frames), p.str_at(p.keep_frames));
    if drop.is_empty() {
        return Ok(());
    }
    let anchored = |re: &str| Regex::new(&format!("^(?:{re})$")).map_err(|e| e.to_string());
    let drop = anchored(drop)?;
    let keep = (!keep.is_empty()).then(|| anchored(keep)).transpose()?;
    // Whether a function (by id) is one to drop.
    let dropped: HashMap<u64, bool> = p
        .function
        .iter()
        .map(|f| {
            let name = p.str_at(f.name);
            let kept = keep.as_ref().is_some_and(|k| k.is_match(name));
            (f.id, drop.is_match(name) && !kept)
        })
        .collect();
    let (mut prune, mut beneath) = (HashSet::new(), HashSet::new());
    for loc in &mut p.location {
        // The outermost matching line of the location (lines run from the
        // innermost inlined call out).
        let matched = loc
            .line
            .iter()
            .rposition(|l| dropped.get(&l.function_id).copied().unwrap_or(false));
        if let Some(i) = matched {
            beneath.insert(loc.id);
            if i == loc.line.len() - 1 {
                prune.insert(loc.id);
            } else {
                loc.line.drain(..=i);
            }
        }
    }
    for s in &mut p.sample {
        let mut found_user = false;
        for i in (0..s.location_id.len()).rev() {
            let id = s.location_id[i];
            if !prune.contains(&id) && !beneath.contains(&id) {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            if prune.contains(&id) {
                s.location_id.drain(..=i);
            } else {
                s.location_id.drain(..i);
            }
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(stack: &[&str]) -> pprof::Profile {
        let mut p = pprof::Profile {
            string_table: vec![String::new(), r"runtime\..*".into()],
            drop_frames: 1,
            ..Default::default()
        };
        for (i, name) in stack.iter().enumerate() {
            let id = i as u64 + 1;
            p.string_table.push(name.to_string());
            p.function.push(pprof::Function {
                id,
                name: p.string_table.len() as i64 - 1,
                ..Default::default()
            });
            p.location.push(pprof::Location {
                id,
                line: vec![pprof::Line {
                    function_id: id,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        p.sample.push(pprof::Sample {
            location_id: (1..=stack.len() as u64).collect(),
            value: vec![1],
            ..Default::default()
        });
        p
    }

    #[test]
    fn runtime_frames_below_the_first_user_frame_go() {
        // Leaf first, as in pprof.
        let mut p = profile(&[
            "runtime.mallocgc",
            "runtime.newobject",
            "main.grow",
            "main.main",
            "runtime.main",
        ]);
        prune(&mut p).unwrap();
        assert_eq!(p.sample[0].location_id, vec![3, 4, 5]);
        // Nothing but the runtime: kept whole.
        let mut p = profile(&["runtime.mallocgc", "runtime.bgsweep", "runtime.goexit"]);
        prune(&mut p).unwrap();
        assert_eq!(p.sample[0].location_id, vec![1, 2, 3]);
    }
}
