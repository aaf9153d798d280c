//! Helpers for the root tests: Go builds, the Go test programs' line
//! protocol, and running the tracer binary.
#![allow(dead_code)]

use std::{
    env,
    io::{BufRead, BufReader, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Go toolchains to test with (set by `cargo xtask test`).
pub fn go_bins() -> Vec<PathBuf> {
    let v = env::var("TRACER_GO_BINS")
        .expect("TRACER_GO_BINS is not set: run the root tests with `cargo xtask test`");
    v.split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

pub fn tracer_bin() -> PathBuf {
    PathBuf::from(
        env::var("TRACER_BIN")
            .expect("TRACER_BIN is not set: run the root tests with `cargo xtask test`"),
    )
}

/// ".../go/<version>/go/bin/go" → "<version>".
fn go_version_dir(go: &Path) -> String {
    go.ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "go".into())
}

/// Builds testdata/go/<name> with `go`; returns the binary.
pub fn build_go(go: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let tag: String = flags
        .join("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let out = env::temp_dir()
        .join("tracer-tests")
        .join(format!("{name}-{}-{tag}", go_version_dir(go)));
    let status = Command::new(go)
        .current_dir(workspace().join("testdata/go").join(name))
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(".")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("run go build");
    assert!(
        status.success(),
        "go build {name} with {} failed",
        go.display()
    );
    out
}

/// A Go test program speaking the READY / "phase" line protocol.
pub struct GoProgram {
    pub pid: u32,
    /// Its "READY …" line.
    pub ready: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl GoProgram {
    pub fn start(bin: &Path) -> GoProgram {
        GoProgram::start_with(bin, &[])
    }

    /// Starts `bin ARGS`.
    pub fn start_with(bin: &Path, args: &[&str]) -> GoProgram {
        GoProgram::start_env(bin, args, &[])
    }

    /// Starts `bin ARGS` with these environment variables added.
    pub fn start_env(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> GoProgram {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start Go program");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("READY "), "unexpected first line {line:?}");
        GoProgram {
            pid: child.id(),
            ready: line.trim().to_string(),
            child,
            stdin,
            stdout,
        }
    }

    /// Runs one phase; returns the program's own JSON result.
    pub fn phase(&mut self) -> Value {
        self.command("phase")
    }

    /// Sends one command line; returns the program's JSON answer.
    pub fn command(&mut self, cmd: &str) -> Value {
        self.stdin.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad result line {line:?}: {e}"))
    }

    /// Ends a program that does not read stdin (a server).
    pub fn kill(self) {
        let mut child = self.child;
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Closes stdin (the program exits) and checks it exited cleanly.
    pub fn finish(self) {
        let GoProgram {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(status.success(), "Go program ended with {status}");
    }
}

/// A running `tracer attach`.
pub struct Tracer {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: thread::JoinHandle<String>,
}

impl Tracer {
    /// Starts `tracer attach --pid PID ARGS` and waits until it says it
    /// attached. Exact mode unless ARGS say otherwise: the tests compare
    /// counts with the program's own.
    pub fn attach(pid: u32, args: &[&str]) -> Tracer {
        let mode: &[&str] = if args.contains(&"--mode") {
            &[]
        } else {
            &["--mode", "exact"]
        };
        let mut child = Command::new(tracer_bin())
            .args(["attach", "--pid", &pid.to_string()])
            .args(mode)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracer");
        let (attached_tx, attached_rx) = mpsc::channel();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let stderr = thread::spawn(move || {
            let mut all = String::new();
            let mut line = String::new();
            while err.read_line(&mut line).unwrap_or(0) > 0 {
                if line.contains("attached") {
                    let _ = attached_tx.send(());
                }
                all.push_str(&line);
                line.clear();
            }
            all
        });
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        if attached_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            panic!(
                "tracer did not attach: {}",
                stderr.join().unwrap_or_default()
            );
        }
        Tracer {
            child,
            lines,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT, then collect the JSON reports.
    pub fn stop(self) -> Vec<Value> {
        let (status, reports, stderr) = self.stop_with_stderr();
        assert!(status.success(), "tracer failed: {stderr}");
        reports
    }

    /// SIGINT, then the exit status, the JSON reports and stderr.
    pub fn stop_with_stderr(self) -> (ExitStatus, Vec<Value>, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait_exit(Duration::from_secs(30))
    }

    pub fn wait_exit(mut self, limit: Duration) -> (ExitStatus, Vec<Value>, String) {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                panic!("tracer did not exit within {limit:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let stderr = self.stderr.join().unwrap_or_default();
        if std::env::var_os("TRACER_TEST_ECHO_STDERR").is_some() {
            eprintln!("--- tracer stderr ---\n{stderr}--- end ---");
        }
        // The stdout reader thread ends at EOF; give it a moment to deliver.
        let mut reports = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            reports
                .push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")));
        }
        (status, reports, stderr)
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run_tracer(args: &[&str]) -> Output {
    Command::new(tracer_bin())
        .args(args)
        .output()
        .expect("run tracer")
}

pub fn run_tracer_as(uid: u32, args: &[&str]) -> Output {
    Command::new(tracer_bin())
        .args(args)
        .uid(uid)
        .gid(uid)
        .output()
        .expect("run tracer")
}

pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn assert_one_line_error(out: &Output, code: i32, contains: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(
        stderr.contains(contains),
        "{stderr:?} should contain {contains:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// BPF programs of ours still loaded in the kernel.
pub fn tracer_programs_loaded() -> usize {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.name_as_str() == Some("malloc_entry"))
        .count()
}

/// Programs are freed asynchronously after their last fd closes.
pub fn assert_no_tracer_programs() {
    let t = Instant::now();
    while tracer_programs_loaded() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "tracer BPF programs still loaded after exit"
        );
        thread::sleep(Duration::from_millis(50));
    }
}
