//! The TUI as a person uses it: the real tracer in tmux against a real Go
//! program, keys sent with send-keys, the screen read with capture-pane.
mod common;

use std::{
    process::Command,
    thread::sleep,
    time::{Duration, Instant},
};

use common::*;

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        let session = format!("tracer-tui-{}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "100",
                "-y",
                "30",
                cmd,
            ])
            .status()
            .expect("tmux (installed by `cargo xtask test`)")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { session }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "screen never showed {text:?}:\n{s}"
            );
            sleep(Duration::from_millis(200));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .unwrap()
                .success());
            // crossterm reads Esc followed at once by a key as Alt+key.
            sleep(Duration::from_millis(400));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
#[ignore = "root; run with `cargo xtask test`"]
fn tui_shows_live_sites_and_answers_keys() {
    let go = go_bins().pop().unwrap();
    let bin = build_go(&go, "allocs", &[]);
    let mut prog = GoProgram::start(&bin);
    let svg = std::env::temp_dir().join(format!("tracer-tui-{}.svg", std::process::id()));
    let _ = std::fs::remove_file(&svg);
    let tmux = Tmux::start(&format!(
        "{} attach --mode exact --pid {} --flamegraph {}; echo TRACER-EXIT=$?; sleep 60",
        tracer_bin().display(),
        prog.pid,
        svg.display()
    ));
    let screen = tmux.wait_for(&format!("pid {}", prog.pid));
    assert!(screen.contains("Allocations"), "{screen}");
    assert!(screen.contains("lost events 0"), "{screen}");
    // The tracer's own CPU, said: "tracer 0.6% CPU".
    let cpu = screen
        .split_once("% CPU")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(cpu.is_some_and(|c| (0.0..100.0).contains(&c)), "{screen}");
    prog.phase();
    // The screen refreshes once a second, possibly mid-phase: wait for a
    // site the phase reaches late.
    let screen = tmux.wait_for("main.readSmall");
    assert!(
        screen.contains("main.allocBytes1000") && screen.contains("main.go:"),
        "{screen}"
    );
    // Filter to one site.
    tmux.keys(&["/", "L", "a", "r", "g", "e", "Enter"]);
    let screen = tmux.wait_for("filter");
    assert!(
        screen.contains("main.allocLarge40000") && !screen.contains("main.allocTiny "),
        "{screen}"
    );
    // Drill into it: the full stack with the site marked.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Allocations › main.allocLarge40000");
    assert!(
        screen.contains("runtime.makeslice") && screen.contains("main.main"),
        "{screen}"
    );
    tmux.keys(&["Escape", "Escape"]);
    // Other views, pause, help.
    tmux.keys(&["2"]);
    tmux.wait_for("Functions");
    tmux.keys(&["1", "p"]);
    tmux.wait_for("PAUSED");
    tmux.keys(&["?"]);
    tmux.wait_for("Help");
    tmux.keys(&["Escape"]);
    // A flame graph of what is on screen.
    tmux.keys(&["f"]);
    tmux.wait_for("flamegraph written to");
    let svg_text = std::fs::read_to_string(&svg).expect("flamegraph file");
    assert!(svg_text.contains("main.allocLarge40000"));
    // Quit: clean detach, final report on the normal screen, exit 0.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("TRACER-EXIT=");
    assert!(screen.contains("TRACER-EXIT=0"), "{screen}");
    assert_no_tracer_programs();
    let again = prog.phase();
    assert!(again["mallocs"].as_u64().unwrap() > 80_000);
    prog.finish();
}
