//! Where the tracer runs beside a target confined to some CPUs
//! (`tracer::tracee::cpus`): start-up off them; once attached, the default
//! mode's steady work on them at idle priority, exact mode still off them.
use tracer::{background, session::Mode, tracee::cpus};

/// The target's CPUs, which the default mode's threads join once attached.
pub struct Join {
    target: Vec<u32>,
    /// Whether to tell on stderr (not under the TUI).
    say: bool,
}

/// Before anything starts (threads started later inherit the CPUs): keeps
/// off a confined target's CPUs and tells where on stderr if `say`; what
/// to join once attached (the default mode only).
pub fn start_up(pid: u32, mode: Mode, say: bool) -> Option<Join> {
    let moved = match cpus::stay_off(pid) {
        Ok(moved) => moved?,
        Err(e) => {
            eprintln!("tracer: could not keep off the target's CPUs: {e}");
            return None;
        }
    };
    let join = mode == Mode::Sampled;
    if say {
        let (target, tracer) = (
            cpus::format_cpu_list(&moved.target),
            cpus::format_cpu_list(&moved.tracer),
        );
        eprintln!(
            "tracer: pid {pid} runs on CPU {target}: {}",
            if join {
                format!("the tracer starts up on CPU {tracer}, then runs on CPU {target} at idle priority")
            } else {
                format!("the tracer keeps to CPU {tracer}")
            }
        );
    }
    join.then_some(Join {
        target: moved.target,
        say,
    })
}

/// Once attached: the default mode's threads go to the target's CPUs.
pub fn attached(join: Option<&Join>) {
    let Some(j) = join else {
        return;
    };
    match cpus::move_all(&j.target) {
        Ok(()) => background::beside_target(j.target.len()),
        Err(e) if j.say => eprintln!("tracer: could not move to the target's CPUs: {e}"),
        Err(_) => {}
    }
}
