//! `tracer bare-probe` (hidden): a count-only uprobe on the allocation
//! points, for `cargo xtask bench` to compare the real probe against.
use std::time::Duration;

use tracer::{
    collect::Collector, error::UserError, probes, probes::attach, probes::privileges,
    session::open_binary, tracee::Target,
};

#[derive(clap::Args, Debug)]
pub struct BareArgs {
    #[arg(long)]
    pub pid: u32,
    /// How long to stay attached.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Duration,
}

pub fn run(args: &BareArgs) -> anyhow::Result<()> {
    let target = Target::open(args.pid)?;
    let bin = open_binary(&target)?;
    let plan = probes::alloc_plan(&bin)?;
    privileges::check()?;
    let mut probes = attach::load()?;
    let collector = Collector::new(&mut probes, 0, target.pid, 0)?;
    let base = collector.counters();
    probes.attach_bare(&bin, &target.exe_path, target.pid, &plan)?;
    eprintln!("tracer: attached {} count-only probes", probes.attached);
    std::thread::sleep(args.duration);
    let hits = collector.counters().since(&base).probe_hits;
    drop(probes);
    if !target.alive() {
        return Err(UserError::NoSuchProcess(args.pid).into());
    }
    println!("{{\"probe_hits\":{hits}}}");
    Ok(())
}
