//! `tracer doctor`: what works on this machine, and what to do about what
//! does not.
use tracer::{probes::attach, probes::environment, probes::privileges};

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

pub fn run() -> anyhow::Result<()> {
    let mut checks = Vec::new();
    let kernel = environment::kernel_version();
    checks.push(Check {
        name: "kernel",
        ok: environment::check_kernel().is_ok(),
        detail: kernel
            .map(|(a, b)| format!("Linux {a}.{b} (5.15+ needed for attach cookies)"))
            .unwrap_or_else(|| "unknown".into()),
    });
    checks.push(match privileges::check() {
        Ok(()) => Check {
            name: "privileges",
            ok: true,
            detail: "root or CAP_BPF+CAP_PERFMON".into(),
        },
        Err(e) => Check {
            name: "privileges",
            ok: false,
            detail: e.to_string(),
        },
    });
    let pmu = std::path::Path::new(environment::UPROBE_PMU).exists();
    let tracefs = std::path::Path::new(environment::TRACEFS_UPROBES).exists();
    checks.push(Check {
        name: "uprobes",
        ok: pmu || tracefs,
        detail: format!(
            "perf uprobe PMU {}, tracefs {}",
            if pmu { "present" } else { "missing" },
            if tracefs {
                "mounted"
            } else {
                "not mounted (mount -t tracefs tracefs /sys/kernel/tracing)"
            }
        ),
    });
    checks.push(Check {
        name: "BTF",
        ok: true,
        detail: if std::path::Path::new(environment::BTF).exists() {
            "present (not required)".into()
        } else {
            "absent (not required: tracer does not use CO-RE)".into()
        },
    });
    let can_bpf = checks.iter().all(|c| c.ok);
    checks.push(if !can_bpf {
        Check {
            name: "BPF programs",
            ok: false,
            detail: "skipped (fix the checks above)".into(),
        }
    } else {
        match attach::load().and_then(|mut p| p.calibrate()) {
            Ok(traps) => Check {
                name: "BPF programs",
                ok: true,
                detail: format!(
                    "loaded and attached a test uprobe: a probe hit costs {:.1} µs on this machine where the kernel emulates the instruction (entry probes), {:.1} µs where it single-steps it (RET probes)",
                    traps.emulated_ns / 1000.0,
                    traps.stepped_ns / 1000.0
                ),
            },
            Err(e) => Check {
                name: "BPF programs",
                ok: false,
                detail: e.to_string(),
            },
        }
    });
    for c in &checks {
        println!(
            "{:<13} {:<4} {}",
            c.name,
            if c.ok { "ok" } else { "FAIL" },
            c.detail
        );
    }
    if checks.iter().all(|c| c.ok) {
        println!("tracer can attach on this machine");
        Ok(())
    } else {
        Err(tracer::error::UserError::Kernel("some checks failed (see above)".into()).into())
    }
}
