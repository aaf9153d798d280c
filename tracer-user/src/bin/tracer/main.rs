//! `tracer`: live allocation tracing of running Go programs with eBPF
//! uprobes. The command line and the TUI over the `tracer` library.
mod agent;
mod attach_command;
mod bare;
mod bench_agg;
mod cli;
mod diff;
mod doctor;
mod inspect;
mod placement;
mod run_loop;
mod tui;
mod weight;

use clap::Parser;

pub use tracer::{tracer_calibration_point, tracer_latency_point};

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Attach(args) => attach_command::run(args),
        cli::Command::Inspect(args) => inspect::run(args),
        cli::Command::Doctor => doctor::run(),
        cli::Command::BareProbe(args) => bare::run(args),
        cli::Command::BenchAggregator(args) => bench_agg::run(args),
        cli::Command::Diff(args) => diff::run(args),
        cli::Command::Agent(args) => agent::run(args),
    };
    if let Err(err) = result {
        let code = match err.downcast_ref::<tracer::error::UserError>() {
            Some(user) => {
                eprintln!("tracer: {user}");
                user.exit_code()
            }
            None => {
                eprintln!("tracer: error: {err:#}");
                1
            }
        };
        std::process::exit(code);
    }
}
