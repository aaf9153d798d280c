//! A traced run's tracer process, for the bench sections: start it, wait
//! until it attached, stop it and take its last report line.
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use anyhow::{bail, Context};

/// Starts `cmd` (the tracer, possibly behind a wrapper that execs it, such
/// as taskset) and waits for its "attached" line on stderr.
pub fn start_tracer_cmd(cmd: &mut Command) -> anyhow::Result<Child> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut err = BufReader::new(child.stderr.take().context("stderr")?);
    let mut line = String::new();
    while err.read_line(&mut line)? > 0 {
        if line.contains("attached") {
            // Keep draining stderr so the tracer never blocks on it.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return Ok(child);
        }
        line.clear();
    }
    bail!("tracer did not attach")
}

/// Stops a tracer (SIGINT if `interrupt`) and returns its last stdout line.
pub fn finish(mut child: Child, interrupt: bool) -> anyhow::Result<String> {
    if interrupt {
        unsafe_kill_int(child.id());
    }
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        std::io::Read::read_to_string(&mut o, &mut out)?;
    }
    child.wait()?;
    Ok(out.lines().last().unwrap_or_default().to_string())
}

pub fn unsafe_kill_int(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

/// The median (the upper one of an even count); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
