//! `tracer`: live allocation tracing of running Go programs with eBPF uprobes.
mod aggregate;
mod allocstats;
mod attach;
mod bare;
mod bench_agg;

mod cli;
mod collect;
mod diff;
mod disasm;
mod doctor;
mod environment;

mod error;
mod gobin;
mod golayout;
mod goroutines;

mod inspect;
mod map_report;
mod map_sites;
mod mapmem;
mod memory;

mod privileges;
mod probes;
mod procmem;

mod report;
mod run_loop;
mod sampling;
mod session;
mod sizeclass;
mod symbolize;
mod target;
#[cfg(test)]
mod testgo;

mod tui;
mod uprobe_multi;

use clap::Parser;

pub use attach::tracer_calibration_point;

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Attach(args) => session::attach(args),
        cli::Command::Inspect(args) => inspect::run(args),
        cli::Command::Doctor => doctor::run(),
        cli::Command::BareProbe(args) => bare::run(args),
        cli::Command::BenchAggregator(args) => bench_agg::run(args),
        cli::Command::Diff(args) => diff::run(args),
    };
    if let Err(err) = result {
        let code = match err.downcast_ref::<error::UserError>() {
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
