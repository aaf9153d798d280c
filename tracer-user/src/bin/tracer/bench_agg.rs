//! `tracer bench-aggregator` (hidden, for `cargo xtask bench`): how many
//! events a second the aggregator handles on one core (synthetic records),
//! and whether the live path — BPF ring buffer, drained at the run loop's
//! pace — loses any at a given rate. A tracepoint on this process's own
//! getppid() syscalls produces the records: a uprobe hit (~1–10 µs here)
//! is too slow to reach 200 k/s on one thread.
use std::time::{Duration, Instant};

use tracer_common::{config, kind, map_op, FuncEvent, GoEvent, MadviseEvent, MapEvent};

use tracer::{
    collect::aggregate::{events::Aggregator, maps::TypeReader},
    collect::Collector,
    error::UserError,
    probes::attach,
    probes::privileges,
};

#[derive(clap::Args, Debug)]
pub struct BenchAggArgs {
    /// Synthetic records for the single-core throughput.
    #[arg(long, default_value_t = 4_000_000)]
    pub events: u64,
    /// Rate of the live ring-buffer run, events per second.
    #[arg(long, default_value_t = 200_000)]
    pub rate: u64,
    /// Length of the live run.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub duration: Duration,
}

struct NoTypes;

impl TypeReader for NoTypes {
    fn type_info(&mut self, _: u64) -> Option<(u64, u8, bool)> {
        None
    }
}

fn bytes<T: Copy>(v: T) -> Vec<u8> {
    // SAFETY: the wire records are plain old data.
    unsafe { std::slice::from_raw_parts((&v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

/// A mix like a busy exact session's: map operations over 1,000 maps,
/// goroutines created and exited, madvise calls, timed calls.
fn synthetic(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match i % 10 {
            0..=4 => bytes(MapEvent {
                kind: kind::MAP_OP,
                op: [map_op::ACCESS, map_op::ASSIGN, map_op::DELETE][(i % 3) as usize],
                map: 0x10_0000 + (i % 1000) * 64,
                map_type: 0x5000,
                duration_ns: 40 + (i * 7919) % 5000,
                stack_id: 0,
                ret_pc: 0,
                result: i & 1,
                value_type: 0,
                value_data: 0,
                value_bytes: [0; 2],
            }),
            5 | 6 => bytes(GoEvent {
                kind: if i % 10 == 5 {
                    kind::GO_CREATE
                } else {
                    kind::GO_EXIT
                },
                _pad: 0,
                goid: i / 10,
                g: 0xc000_0000 + (i / 10) * 512,
                gopc: 0x40_0000 + (i % 64) * 16,
                startpc: 0x41_0000,
            }),
            7 => bytes(MadviseEvent {
                kind: kind::MADVISE,
                advice: 4,
                addr: 0xc000_0000,
                len: 65536,
                stack_id: i % 16,
            }),
            _ => bytes(FuncEvent {
                kind: kind::FUNC_TIME,
                func_id: 0,
                goid: i,
                duration_ns: 1000 + i % 100_000,
            }),
        })
        .collect()
}

pub fn run(args: &BenchAggArgs) -> anyhow::Result<()> {
    let records = synthetic(args.events);
    let mut agg = Aggregator::new(1, Box::new(NoTypes));
    let t = Instant::now();
    for r in &records {
        agg.handle(r);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "aggregator: {:.2} M events/s on one core ({} synthetic events in {:.0} ms)",
        args.events as f64 / secs / 1e6,
        args.events,
        secs * 1e3
    );
    drop(records);

    privileges::check()?;
    let mut probes = attach::load()?;
    probes.set_config(config::TARGET_TGID, u64::from(std::process::id()))?;
    let mut collector = Collector::new(&mut probes, 0, std::process::id(), 0)?;
    probes.attach_bench().map_err(UserError::Kernel)?;
    let (rate, duration) = (args.rate, args.duration);
    let producer = std::thread::spawn(move || {
        // Paced in 1 ms steps.
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < duration {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while sent < due {
                unsafe { libc::getppid() };
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        (sent, start.elapsed())
    });
    // As the run loop does: drain when the ring buffer says it has
    // records, at the latest every LIVENESS_CHECK.
    let mut fds = libc::pollfd {
        fd: collector.events_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    while !producer.is_finished() {
        let ms = tracer::drive::LIVENESS_CHECK.as_millis() as i32;
        unsafe { libc::poll(&mut fds, 1, ms) };
        collector.drain_events();
    }
    let (sent, took) = producer
        .join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))?;
    collector.drain_events();
    let lost = collector.counters().lost;
    println!(
        "ring buffer: {sent} events at {:.0}/s for {:.1} s, {} received, {lost} lost (drained when readable, at least every {} ms; {} MiB buffer)",
        sent as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        collector.agg.events,
        tracer::drive::LIVENESS_CHECK.as_millis(),
        tracer_common::EVENTS_BYTES >> 20
    );
    Ok(())
}
