//! Maps and sync.Maps against the program's own ground truth
//! (`testdata/go/maps`): a 1,000,000-entry map emptied by deletes (incident
//! I2), a half-deleted map, a growing map's latency, and a sync.Map with
//! deleted keys (I1, I3).
mod common;

use common::*;
use serde_json::Value;

/// Line of the first occurrence of `needle` in the program's source.
fn source_line(needle: &str) -> u64 {
    let src = std::fs::read_to_string(workspace().join("testdata/go/maps/main.go")).unwrap();
    src.lines().position(|l| l.contains(needle)).expect(needle) as u64 + 1
}

fn map_by_id<'a>(report: &'a Value, addr: &Value) -> &'a Value {
    let id = format!("{:#x}", addr.as_u64().unwrap());
    report["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap_or_else(|| panic!("map {id} not in report: {:#}", report["maps"]))
}

fn op(m: &Value, name: &str) -> u64 {
    m["ops"][name].as_u64().unwrap_or(0)
}

fn finding<'a>(report: &'a Value, kind: &str, function: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["site"]["function"] == function)
}

fn check(go: &std::path::Path) {
    let bin = build_go(go, "maps", &[]);
    let mut prog = GoProgram::start(&bin);
    let tracer = Tracer::attach(prog.pid, &["--format", "json", "--top", "50"]);
    let truth = prog.phase();
    let reports = tracer.stop();
    let r = reports.last().expect("a final report");
    let ver = truth["go_version"].as_str().unwrap().to_string();
    let minor: u32 = ver
        .trim_start_matches("go1.")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r["overhead"]["lost_events"], 0, "{ver}");

    // I2: all deleted, capacity and memory kept; created before attach.
    let big = map_by_id(r, &truth["big_addr"]);
    assert_eq!(big["memory_error"], Value::Null, "{ver}: {big}");
    assert_eq!(big["live"], truth["big_len"], "{ver}");
    assert_eq!(big["live"], 0, "{ver}");
    assert!(
        big["capacity_slots"].as_u64().unwrap() >= 1_000_000,
        "{ver}: {big}"
    );
    let (bytes, kept) = (
        big["bytes"].as_f64().unwrap(),
        truth["heap_kept"].as_f64().unwrap(),
    );
    assert!(
        (bytes - kept).abs() <= 0.10 * kept,
        "{ver}: bytes {bytes} vs heap kept {kept}"
    );
    assert_eq!(big["first_seen_only"], true, "{ver}");
    assert_eq!(big["created_at"]["function"], "main.touchBig", "{ver}");
    let f = finding(r, "map_never_shrinks", "main.touchBig")
        .unwrap_or_else(|| panic!("{ver}: no map_never_shrinks: {:#}", r["findings"]));
    assert!(
        f["message"].as_str().unwrap().contains("0 live entries"),
        "{f}"
    );
    assert_eq!(f["severity"], "critical");

    // Half deleted, created while attached: exact ops, live = len(m).
    let half = map_by_id(r, &truth["half_addr"]);
    assert_eq!(half["live"], truth["half_len"], "{ver}: {half}");
    assert_eq!(
        op(half, "store"),
        truth["half_assigns"].as_u64().unwrap(),
        "{ver}"
    );
    assert_eq!(
        op(half, "delete"),
        truth["half_deletes"].as_u64().unwrap(),
        "{ver}"
    );
    assert_eq!(half["first_seen_only"], false, "{ver}");
    assert_eq!(half["created_at"]["function"], "main.makeHalf", "{ver}");
    assert_eq!(
        half["created_at"]["line"],
        source_line("half = make("),
        "{ver}"
    );
    let (live, cap, tomb) = (
        half["live"].as_u64().unwrap(),
        half["capacity_slots"].as_u64().unwrap(),
        half["tombstones"].as_u64().unwrap(),
    );
    assert!(cap >= live * 2 && tomb <= cap - live, "{ver}: {half}");
    if minor <= 23 {
        // Every other key deleted from full 8-slot buckets: emptyOne slots.
        assert!(tomb >= 100, "{ver}: {half}");
    }
    assert_eq!(half["impl"], if minor <= 23 { "classic" } else { "swiss" });

    // Growth makes some stores slow: the slowest is measurable, a typical
    // store (tens of ns) is below the probes' resolution and says so.
    let grow = map_by_id(r, &truth["grow_addr"]);
    assert_eq!(op(grow, "store"), 20_000, "{ver}");
    assert!(op(grow, "grow") >= 5, "{ver}: {grow}");
    let lat = &grow["latency_ns"]["store"];
    let resolution = r["map_totals"]["latency_resolution_ns"].as_u64().unwrap();
    assert!(resolution > 0, "{ver}");
    assert_eq!(lat["resolution_ns"], resolution, "{ver}: {lat}");
    assert!(lat["p50"].is_null(), "{ver}: {lat}");
    let max = lat["max"].as_u64();
    assert!(
        max.is_some_and(|m| m >= resolution),
        "{ver}: resolution {resolution}: {lat}"
    );

    // sync.Map: exact op mix, zero-value stores, live vs held.
    let st = &truth["sync"];
    let sm = map_by_id(r, &st["addr"]);
    assert_eq!(sm["kind"], "sync.Map");
    assert_eq!(sm["created_at"]["function"], "main.useSyncMap", "{ver}");
    assert_eq!(
        op(sm, "store"),
        st["stores"].as_u64().unwrap(),
        "{ver}: {sm}"
    );
    assert_eq!(op(sm, "load"), st["loads"].as_u64().unwrap(), "{ver}");
    assert_eq!(
        op(sm, "load_miss"),
        st["load_misses"].as_u64().unwrap(),
        "{ver}"
    );
    assert_eq!(op(sm, "delete"), st["deletes"].as_u64().unwrap(), "{ver}");
    assert_eq!(op(sm, "range"), st["ranges"].as_u64().unwrap(), "{ver}");
    assert_eq!(sm["zero_value_stores"], st["zero_stores"], "{ver}");
    assert_eq!(sm["memory_error"], Value::Null, "{ver}: {sm}");
    assert_eq!(sm["live"], st["live"], "{ver}: {sm}");
    let held = sm["held"].as_u64().unwrap();
    if minor <= 23 {
        assert_eq!(sm["impl"], "read_dirty");
        // The first Range walked all 2,000 keys, 1,900 of them deleted.
        assert_eq!(sm["range_visited_max"], 2000, "{ver}: {sm}");
        assert!(held >= 2000, "{ver}: held {held}");
        let f = finding(r, "syncmap_residue", "main.useSyncMap")
            .unwrap_or_else(|| panic!("{ver}: no syncmap_residue: {:#}", r["findings"]));
        assert!(
            f["message"].as_str().unwrap().contains("only 150 are live"),
            "{f}"
        );
    } else {
        assert_eq!(sm["impl"], "hashtrie");
        assert_eq!(held, st["live"].as_u64().unwrap(), "{ver}");
        assert!(finding(r, "syncmap_residue", "main.useSyncMap").is_none());
    }
    // Maps by creation site: each of those maps has its site's row.
    let sites = r["map_sites"].as_array().expect("map_sites");
    for s in sites {
        let n = |k: &str| s[k].as_u64().unwrap();
        assert_eq!(
            n("tracked"),
            n("alive") + n("gone") + n("liveness_unknown"),
            "{ver}: {s}"
        );
    }
    let site = |function: &str, first_seen: bool| {
        sites
            .iter()
            .find(|s| s["created_at"]["function"] == function && s["first_seen_only"] == first_seen)
            .unwrap_or_else(|| panic!("{ver}: no site {function}: {:#}", r["map_sites"]))
    };
    let half_site = site("main.makeHalf", false);
    assert!(
        half_site["created"].as_u64().unwrap() >= 1,
        "{ver}: {half_site}"
    );
    assert!(
        half_site["alive"].as_u64().unwrap() >= 1,
        "{ver}: {half_site}"
    );
    assert!(
        half_site["listed"].as_u64().unwrap() >= 1,
        "{ver}: {half_site}"
    );
    assert!(
        half_site["ops"]["store"].as_u64().unwrap() >= truth["half_assigns"].as_u64().unwrap(),
        "{ver}: {half_site}"
    );
    let big_site = site("main.touchBig", true);
    assert_eq!(big_site["alive"], 1, "{ver}: {big_site}");
    assert_eq!(big_site["bytes"], big["bytes"], "{ver}: {big_site}");
    assert_eq!(big_site["largest_map"], big["id"], "{ver}: {big_site}");
    let grow_site = site("main.makeGrow", false);
    assert!(
        grow_site["grows"].as_u64().unwrap() >= 5,
        "{ver}: {grow_site}"
    );
    let sync_site = site("main.useSyncMap", true);
    assert_eq!(sync_site["kind"], "sync.Map", "{ver}: {sync_site}");
    assert_eq!(sync_site["alive"], 1, "{ver}: {sync_site}");
    let lat = &grow["latency_ns"]["store"];
    eprintln!(
        "{ver}: big live {} cap {} bytes {} (heap kept {}); half live {} cap {} tombstones {}; \
         grow store p50 {} p99 {} max {}; sync.Map live {} held {} ops {} zero {} range max {}",
        big["live"],
        big["capacity_slots"],
        big["bytes"],
        truth["heap_kept"],
        half["live"],
        half["capacity_slots"],
        half["tombstones"],
        lat["p50"],
        lat["p99"],
        lat["max"],
        sm["live"],
        sm["held"],
        sm["ops"],
        sm["zero_value_stores"],
        sm["range_visited_max"]
    );
    prog.finish();
}

#[test]
#[ignore = "root: attaches uprobes"]
fn maps_and_sync_maps_match_the_program() {
    for go in go_bins() {
        check(&go);
    }
    assert_no_tracer_programs();
}
