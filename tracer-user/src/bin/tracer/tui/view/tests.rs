//! Whole-screen renders on a `TestBackend`, read back as text.
use ratatui::{
    backend::TestBackend,
    style::{Color, Modifier},
    Terminal,
};

use crate::tui::{
    app::{App, View},
    draw,
    fixtures::pair,
    input::Action,
};

fn app_with_data(lost_events: u64) -> App {
    let mut app = App::new();
    let (interval, total) = pair(lost_events);
    app.update(&interval, &total);
    app
}

/// Draws `app` at `w`×`h` and returns the screen, one string per line.
fn screen(app: &mut App, w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    draw(&mut term, app).expect("draw");
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn contains(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

fn assert_shows(lines: &[String], needle: &str) {
    assert!(
        contains(lines, needle),
        "{needle:?} not on screen:\n{}",
        lines.join("\n")
    );
}

#[test]
fn allocations_at_80x24() {
    let mut app = app_with_data(0);
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "pid 1234");
    assert_shows(&s, "api-server go1.22.3");
    assert_shows(&s, "mode exact");
    assert_shows(&s, "up 1m35s");
    assert_shows(&s, "lost events 0");
    assert_shows(&s, "est. slowdown 1.5%");
    assert_shows(&s, "Allocations · 4 sites");
    assert_shows(&s, "sort bytes/s ↓");
    // Sorted by bytes/s: the heaviest site first, with human units.
    assert!(s[5].contains("main.(*Server).handle"), "{}", s.join("\n"));
    assert!(s[5].contains("2.0 MiB/s"), "{}", s[5]);
    assert!(s[5].contains("190.0 MiB"), "{}", s[5]);
    assert_shows(&s, "json.Marshal");
    assert_shows(&s, "server.go:42");
    // Idle this interval, still listed from the run's totals.
    assert_shows(&s, "main.loadConfig");
    assert_shows(&s, "? help");
    assert_shows(&s, "f flamegraph");
}

#[test]
fn allocations_at_120x40_show_every_column() {
    let mut app = app_with_data(0);
    let s = screen(&mut app, 120, 40);
    for col in [
        "obj/s",
        "bytes/s↓",
        "objects",
        "bytes",
        "avg",
        "bytes/s history",
        "site",
    ] {
        assert_shows(&s, col);
    }
    assert_shows(&s, "1 Allocations");
    assert_shows(&s, "2 Functions");
    assert_shows(&s, "6 Findings");
    assert_shows(&s, "1.0 KiB");
    assert_shows(&s, "app/server.go:42");
    let s = screen(&mut app, 140, 40);
    assert_shows(&s, "via io.ReadAll");
}

#[test]
fn lost_events_are_shown() {
    let mut app = app_with_data(17);
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    draw(&mut term, &mut app).expect("draw");
    let buf = term.backend().buffer();
    let line: String = (0..80).map(|x| buf[(x, 1)].symbol().to_string()).collect();
    let at = line.find("lost events 17").expect("lost events on line 2");
    // Byte offset → column: the line before it is ASCII.
    let cell = &buf[(at as u16, 1)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::BOLD));
}

#[test]
fn sparkline_grows_with_history() {
    let mut app = App::new();
    let (interval, total) = pair(0);
    for _ in 0..5 {
        app.update(&interval, &total);
    }
    let s = screen(&mut app, 80, 24);
    assert!(s[5].contains("█████"), "{}", s[5]);
}

#[test]
fn functions_view() {
    let mut app = app_with_data(0);
    app.apply(Action::ShowView(View::Functions));
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "Functions · 1 timed");
    assert_shows(&s, "main.(*Server).handle");
    assert_shows(&s, "1.50ms");
    assert_shows(&s, "9.00ms");
    assert_shows(&s, "p99↓");
}

#[test]
fn list_views() {
    let mut app = app_with_data(0);
    for (view, title) in [
        (View::Maps, "Maps: nothing in this run yet"),
        (View::Goroutines, "Goroutines: nothing in this run yet"),
        (View::Memory, "Memory: nothing in this run yet"),
        (View::Inuse, "In use: nothing in this run yet"),
        (View::Findings, "Findings: nothing in this run yet"),
    ] {
        app.apply(Action::ShowView(view));
        assert_shows(&screen(&mut app, 80, 24), title);
    }
    // With data: a goroutine site and a finding show up.
    let mut total = app.latest.clone().expect("fixture report");
    total.goroutine_totals.live = 50;
    total.goroutines.push(tracer::report::GoroutineSite {
        created_at: tracer::tracee::gobin::Frame {
            function: "main.startBatch".into(),
            file: "/src/q.go".into(),
            line: 42,
            inlined: false,
        },
        created: 50,
        exited: 0,
        live: 50,
        pre_existing: 0,
        blocked_on: [("chan receive".to_string(), 50)].into_iter().collect(),
    });
    total.findings.push(tracer::report::Finding {
        kind: "goroutine_leak",
        severity: "warn",
        site: None,
        message: "goroutines created at main.startBatch only grow".into(),
    });
    total.map_totals.tracked = 1;
    total.maps.push(tracer::report::MapReport {
        id: "0xc000010000".into(),
        kind: "map",
        implementation: "swiss",
        created_at: tracer::tracee::gobin::Frame {
            function: "main.makeBig".into(),
            file: "/src/m.go".into(),
            line: 7,
            inlined: false,
        },
        first_seen_only: true,
        stack: Vec::new(),
        live: 0,
        held: 0,
        capacity_slots: 1_048_576,
        tombstones: 12,
        tombstone_ratio: 0.0,
        bytes: 300 << 20,
        scanned_fraction: 1.0,
        memory_error: None,
        ops: [("load", 3)].into_iter().collect(),
        ops_per_sec: 1.5,
        latency_ns: Default::default(),
        cost_ns: Default::default(),
        cost_ns_ci95: Default::default(),
        cost_samples: Default::default(),
        cpu_ns: None,
        zero_value_stores: 0,
        range_visited_mean: None,
        range_visited_max: None,
    });
    app.update(&total.clone(), &total);
    app.apply(Action::ShowView(View::Maps));
    let s = screen(&mut app, 120, 24);
    assert_shows(&s, "Maps · 1 seen");
    assert_shows(&s, "300.0 MiB");
    assert_shows(&s, "1048576");
    assert_shows(&s, "(first seen) main.makeBig m.go:7  [load 3]");
    app.apply(Action::ShowView(View::Goroutines));
    let s = screen(&mut app, 100, 24);
    assert_shows(&s, "Goroutines · 50 live");
    assert_shows(&s, "main.startBatch q.go:42  chan receive ×50");
    app.apply(Action::ShowView(View::Findings));
    assert_shows(
        &screen(&mut app, 100, 24),
        "[warn] goroutine_leak: goroutines created at main.startBatch",
    );
}

#[test]
fn inuse_view_lists_holders_and_growers() {
    let mut app = app_with_data(0);
    let mut total = app.latest.clone().expect("fixture report");
    let frame = |f: &str, line| tracer::tracee::gobin::Frame {
        function: f.into(),
        file: "/src/keep.go".into(),
        line,
        inlined: false,
    };
    let site = |f: &str, line, bytes: u64, growth: Option<i64>| tracer::report::InuseSite {
        site: frame(f, line),
        stack: Vec::new(),
        inuse_objects: bytes / 1024,
        inuse_bytes: bytes,
        samples: 400,
        est_error_pct: Some(9.8),
        alloc_objects: Some(bytes / 512),
        alloc_bytes: Some(bytes * 2),
        growth_bytes: growth,
        growth_cycles: growth.map(|_| 12),
    };
    total.inuse = tracer::report::InuseReport {
        source: Some("runtime_profile"),
        gc_cycle: Some(31),
        objects: 60_000,
        bytes: 60 << 20,
        sites: vec![
            site("main.cache", 10, 40 << 20, Some(0)),
            site("main.traceIDs", 20, 20 << 20, Some(18 << 20)),
        ],
        ..Default::default()
    };
    app.update(&total.clone(), &total);
    app.apply(Action::ShowView(View::Inuse));
    let s = screen(&mut app, 100, 24);
    assert_shows(
        &s,
        "In use after GC 31 · 60.0 MiB in 60000 objects · runtime_profile",
    );
    assert_shows(&s, "by bytes held");
    assert_shows(
        &s,
        "40.0 MiB      40960   ±10%       +0 B in 12 GCs  main.cache keep.go:10",
    );
    assert_shows(&s, "by growth");
    assert_shows(&s, "+18.0 MiB in 12 GCs  main.traceIDs keep.go:20");
    // Without a source it says why.
    total.inuse = tracer::report::InuseReport {
        unavailable: Some("the runtime's heap profile is off".into()),
        ..Default::default()
    };
    app.update(&total.clone(), &total);
    assert_shows(
        &screen(&mut app, 100, 24),
        "the runtime's heap profile is off",
    );
}

#[test]
fn drill_down_shows_the_stack_and_sizes() {
    let mut app = app_with_data(0);
    app.apply(Action::Open);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&mut app, w, h);
        assert_shows(&s, "Allocations › main.(*Server).handle");
        assert_shows(&s, "/app/server.go:42");
        assert_shows(&s, "▶ main.(*Server).handle");
        assert_shows(&s, "runtime.mallocgc");
        assert_shows(&s, "main.main");
        assert_shows(&s, "via io.ReadAll");
        assert_shows(&s, "p99 1.0 KiB");
        assert_shows(&s, "now    2.0 MiB/s");
        assert_shows(&s, "total  190.0 MiB");
        assert_shows(&s, "Sizes");
        assert_shows(&s, "≤1.0 KiB");
        assert_shows(&s, "█");
    }
    // Down scrolls the stack, not the table.
    app.apply(Action::Down);
    let s = screen(&mut app, 120, 40);
    assert!(!contains(&s, "runtime.mallocgc"));
    app.apply(Action::Back);
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "Allocations · 4 sites");
}

#[test]
fn function_drill_down() {
    let mut app = app_with_data(0);
    app.apply(Action::ShowView(View::Functions));
    app.apply(Action::Open);
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "Functions › main.(*Server).handle");
    assert_shows(&s, "p90 3.00ms");
}

#[test]
fn help_overlay_lists_keys() {
    let mut app = app_with_data(0);
    app.apply(Action::ToggleHelp);
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "Help");
    for key in [
        "1-7, Tab",
        "sort by the next column",
        "filter by text",
        "pause",
        "Enter",
        "flame graph",
        "q, Ctrl-C",
    ] {
        assert_shows(&s, key);
    }
}

#[test]
fn filter_prompt_status_and_pause() {
    let mut app = app_with_data(0);
    app.apply(Action::StartFilter);
    for c in "json".chars() {
        app.apply(Action::FilterChar(c));
    }
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "filter: json█");
    app.apply(Action::ApplyFilter);
    app.apply(Action::TogglePause);
    app.set_status("flamegraph written to /tmp/x.svg".into());
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "filter \"json\"");
    assert_shows(&s, "PAUSED");
    assert_shows(&s, "flamegraph written to /tmp/x.svg");
    assert!(!contains(&s, "main.parse"));
    assert_shows(&s, "json.Marshal");
}

#[test]
fn waiting_before_data() {
    let mut app = App::new();
    let s = screen(&mut app, 80, 24);
    assert_shows(&s, "waiting for the first report");
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let mut app = app_with_data(3);
    let states: [&[Action]; 5] = [
        &[],
        &[Action::Open],
        &[Action::ToggleHelp],
        &[Action::ShowView(View::Functions), Action::Open],
        &[Action::ShowView(View::Memory)],
    ];
    for actions in states {
        let mut app2 = app_with_data(3);
        for &a in actions {
            app2.apply(a);
        }
        for (w, h) in [(20, 5), (1, 1), (0, 0), (80, 3), (5, 40), (200, 60)] {
            screen(&mut app2, w, h);
        }
    }
    // Scrolling to the end then shrinking keeps the cursor on screen.
    app.apply(Action::End);
    let s = screen(&mut app, 80, 8);
    assert!(contains(&s, "main.loadConfig"), "{}", s.join("\n"));
}

#[test]
fn sampled_mode_shows_the_governor() {
    let mut app = App::new();
    let (interval, mut total) = pair(0);
    total.window.mode = "sampled";
    total.window.sample_rate = 80;
    total.overhead.est_target_slowdown_pct = 2.24;
    total.window.sampling = Some(tracer::report::Sampling {
        method: "span refills",
        budget_pct: 3.0,
        duty_cycle_pct: 1.4,
        windows: 4,
        burst_windows: 0,
        window_ms: 60.0,
        period_ms: 5000.0,
        map_windows: 1,
        map_window_ms: 2.0,
        map_period_ms: 15000.0,
        shed: Vec::new(),
        bpf_ns_per_hit: Some(2500.0),
        map_bpf_ns_per_hit: None,
        in_situ_ns_per_hit: None,
        map_in_situ_ns_per_hit: None,
        target_cpus: 1.0,
        samples: 4000,
        sampled_objects: 320_000,
        scale: 300.0,
        totals_from: "runtime counters",
        est_error_pct: 3.1,
    });
    app.update(&interval, &total);
    let s = screen(&mut app, 120, 24);
    assert_shows(&s, "mode sampled 1/80");
    // The whole run's estimate, not the last interval's.
    assert_shows(
        &s,
        "est. slowdown 2.2% (budget 3%, probes on 1.4% of the time)",
    );
}

#[test]
fn a_nearly_idle_target_shows_probe_time_and_what_was_not_seen() {
    let mut app = App::new();
    let (mut interval, mut total) = pair(0);
    total.window.mode = "sampled";
    total.overhead.est_target_slowdown_pct = 14.5;
    total.overhead.probe_ns = 2_000_000;
    interval.unattributed = tracer::report::Unattributed {
        objects: 1_700,
        bytes: 40_000,
        share: 0.046,
    };
    let mut sampling = tracer::report::Sampling {
        method: "span refills",
        budget_pct: 3.0,
        duty_cycle_pct: 5.0,
        windows: 9,
        burst_windows: 0,
        window_ms: 700.0,
        period_ms: 1000.0,
        map_windows: 0,
        map_window_ms: 0.0,
        map_period_ms: 5000.0,
        shed: vec!["map operations"],
        bpf_ns_per_hit: Some(2000.0),
        map_bpf_ns_per_hit: None,
        in_situ_ns_per_hit: None,
        map_in_situ_ns_per_hit: None,
        target_cpus: 0.004,
        samples: 40,
        sampled_objects: 4_000,
        scale: 10.0,
        totals_from: "runtime counters",
        est_error_pct: 40.0,
    };
    total.window.sampling = Some(sampling.clone());
    sampling.est_error_pct = 40.0;
    interval.window.sampling = Some(sampling);
    app.update(&interval, &total);
    let s = screen(&mut app, 130, 24);
    // No alarming percentage of a tiny CPU time: the CPU share and the
    // probes' own time, the shed group, and the unattributed line last.
    assert_shows(&s, "near idle (0.40% of a CPU): probes");
    assert_shows(&s, "shed: map operations");
    assert_shows(&s, "unattributed");
    assert!(!contains(&s, "14.5%"), "{}", s.join("\n"));
}

fn map_site(
    function: &str,
    line: u32,
    created: u64,
    alive: u64,
    bytes: u64,
) -> tracer::report::MapSite {
    let created_at = tracer::tracee::gobin::Frame {
        function: function.into(),
        file: "/app/server.go".into(),
        line,
        inlined: false,
    };
    tracer::report::MapSite {
        stack: vec![
            tracer::tracee::gobin::Frame {
                function: "runtime.makemap_small".into(),
                file: "/usr/local/go/src/runtime/map.go".into(),
                line: 300,
                inlined: false,
            },
            created_at.clone(),
        ],
        created_at,
        first_seen_only: false,
        kind: "map",
        implementation: "swiss",
        created,
        tracked: alive + 10,
        alive,
        gone: 10,
        liveness_unknown: 0,
        live_entries: alive * 3,
        bytes,
        bytes_maps: alive,
        ops: [("store", alive * 3)].into_iter().collect(),
        ops_per_sec: alive as f64 * 0.3,
        grows: 0,
        largest_map: Some("0xc000010000".into()),
        largest_bytes: bytes / alive.max(1),
        listed: 0,
    }
}

#[test]
fn maps_view_shows_sites_and_enter_shows_a_sites_maps() {
    let mut app = app_with_data(0);
    let mut total = app.latest.clone().expect("fixture report");
    total.map_totals.tracked = 5011;
    // In the report's order: bytes, then operations.
    let mut cache = map_site("main.newCache", 7, 1, 1, 3 << 20);
    cache.listed = 1;
    total.map_sites.push(cache);
    // Per-request maps: one row, however many.
    total.map_sites.push(map_site(
        "main.(*Server).handle",
        42,
        38_903,
        5000,
        2_000_000,
    ));
    total.maps.push(tracer::report::MapReport {
        id: "0xc000010000".into(),
        kind: "map",
        implementation: "swiss",
        created_at: total.map_sites[0].created_at.clone(),
        first_seen_only: false,
        stack: Vec::new(),
        live: 20_000,
        held: 20_000,
        capacity_slots: 32_768,
        tombstones: 0,
        tombstone_ratio: 0.0,
        bytes: 3 << 20,
        scanned_fraction: 1.0,
        memory_error: None,
        ops: [("load", 30)].into_iter().collect(),
        ops_per_sec: 3.0,
        latency_ns: Default::default(),
        cost_ns: Default::default(),
        cost_ns_ci95: Default::default(),
        cost_samples: Default::default(),
        cpu_ns: None,
        zero_value_stores: 0,
        range_visited_mean: None,
        range_visited_max: None,
    });
    app.update(&total.clone(), &total);
    app.apply(Action::ShowView(View::Maps));
    // No sorting here: the report's order (bytes, then operations).
    assert_eq!(app.sort_label(), None);
    for (w, h) in [(80, 24), (120, 24)] {
        let s = screen(&mut app, w, h);
        assert_shows(
            &s,
            "Maps by creation site · 2 sites · 5011 maps seen · 1 listed",
        );
        assert_shows(&s, "created");
        assert_shows(&s, "38.9k");
        assert_shows(&s, "main.(*Server).handle");
        assert_shows(&s, "main.newCache");
        assert_shows(&s, "1 listed");
        // Sites only: the per-map row is behind Enter.
        assert!(!contains(&s, "0xc000010000"), "{}", s.join("\n"));
    }
    let s = screen(&mut app, 120, 24);
    assert_shows(&s, "unknown");
    assert_shows(&s, "grows");
    assert_shows(&s, "swiss    main.newCache");
    // The filter applies to the site rows.
    app.apply(Action::StartFilter);
    for c in "cache".chars() {
        app.apply(Action::FilterChar(c));
    }
    app.apply(Action::ApplyFilter);
    let s = screen(&mut app, 80, 24);
    assert!(!contains(&s, "main.(*Server).handle"), "{}", s.join("\n"));
    app.apply(Action::Back);
    // Enter on the first row: that site's numbers, maps and stack.
    app.apply(Action::Open);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&mut app, w, h);
        assert_shows(&s, "Maps › main.newCache");
        assert_shows(&s, "created 1 · tracked 11: alive 1 · gone 10 · unknown 0");
        assert_shows(&s, "Maps listed singly (1)");
        assert_shows(&s, "3.0 MiB");
        assert_shows(&s, "0xc000010000");
        assert_shows(&s, "▶ main.newCache");
        assert_shows(&s, "runtime.makemap_small");
    }
    // Esc: back to the sites.
    app.apply(Action::Back);
    assert_shows(&screen(&mut app, 80, 24), "Maps by creation site");
    // The per-request site lists no map: it says why.
    app.apply(Action::Down);
    app.apply(Action::Open);
    let s = screen(&mut app, 120, 40);
    assert_shows(&s, "Maps › main.(*Server).handle");
    assert_shows(&s, "created 38903 · tracked 5010: alive 5000");
    assert_shows(&s, "Maps listed singly: none");
}
