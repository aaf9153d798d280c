//! Where the tracer runs beside a target confined to some CPUs
//! (`tracer::tracee::cpus`): start-up off them; once attached, the default
//! mode's steady work on them at idle priority, exact mode still off them.
use tracer::{session::Mode, tracee::cpus};

/// Where start-up moved the tracer, and whether it goes to the target's
/// CPUs once attached.
pub struct Moved {
    target: Vec<u32>,
    join: bool,
    say: bool,
}

/// Before anything starts (threads started later inherit the CPUs): keeps
/// off a confined target's CPUs; `say`: tell where on stderr.
pub fn start_up(pid: u32, mode: Mode, say: bool) -> Option<Moved> {
    match cpus::stay_off(pid) {
        Ok(Some(moved)) => {
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
            Some(Moved {
                target: moved.target,
                join,
                say,
            })
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!("tracer: could not keep off the target's CPUs: {e}");
            None
        }
    }
}

/// Once attached: the default mode's threads go to the target's CPUs.
pub fn attached(moved: Option<&Moved>) {
    let Some(m) = moved.filter(|m| m.join) else {
        return;
    };
    if let Err(e) = cpus::move_all(&m.target) {
        if m.say {
            eprintln!("tracer: could not move to the target's CPUs: {e}");
        }
    }
}
