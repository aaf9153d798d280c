//! Reads what the BPF side accumulated: cumulative allocation counts per
//! (stack, size), stacks, counters, and the ring buffer of overflow events.
use std::collections::HashMap;

use aya::maps::{Array, HashMap as BpfHashMap, IterableMap, MapData, RingBuf};
use tracer_common::{
    counter, AllocKey, Stack, MADVISE_ADVICES, MAP_ALLOC_COUNTS, MAP_COUNTERS, MAP_EVENTS,
    MAP_MADVISE_BY_ADVICE, MAP_STACKS,
};

use crate::{
    collect::{
        aggregate::{events::Aggregator, maps::MemTypes},
        counter_page::CounterPage,
    },
    error::UserError,
    probes::attach::Probes,
};

/// Cumulative counters since load.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub probe_hits: u64,
    pub allocs: u64,
    pub lost: u64,
    pub overflow_sent: u64,
    pub stack_drops: u64,
    pub stack_truncated: u64,
    pub filtered: u64,
    pub madvise_syscalls: u64,
    pub madvise_syscall_bytes: u64,
    pub samples: u64,
    /// Objects sampled for liveness (hits of the allocation group too).
    pub live_samples: u64,
    pub map_op_hits: u64,
    pub cpu_samples: u64,
    pub cpu_stack_drops: u64,
    /// Hits at single-stepped points (see `tracer_common::COOKIE_STEPPED`);
    /// of them, the allocation group's and the map group's.
    pub stepped_hits: u64,
    pub samples_stepped: u64,
    pub map_op_stepped: u64,
    /// GC cycles the GC watch was woken for (`gc_wake` hits).
    pub gc_wakes: u64,
}

impl Counters {
    pub fn since(&self, base: &Counters) -> Counters {
        Counters {
            probe_hits: self.probe_hits.saturating_sub(base.probe_hits),
            allocs: self.allocs.saturating_sub(base.allocs),
            lost: self.lost.saturating_sub(base.lost),
            overflow_sent: self.overflow_sent.saturating_sub(base.overflow_sent),
            stack_drops: self.stack_drops.saturating_sub(base.stack_drops),
            stack_truncated: self.stack_truncated.saturating_sub(base.stack_truncated),
            filtered: self.filtered.saturating_sub(base.filtered),
            madvise_syscalls: self.madvise_syscalls.saturating_sub(base.madvise_syscalls),
            madvise_syscall_bytes: self
                .madvise_syscall_bytes
                .saturating_sub(base.madvise_syscall_bytes),
            samples: self.samples.saturating_sub(base.samples),
            live_samples: self.live_samples.saturating_sub(base.live_samples),
            map_op_hits: self.map_op_hits.saturating_sub(base.map_op_hits),
            cpu_samples: self.cpu_samples.saturating_sub(base.cpu_samples),
            cpu_stack_drops: self.cpu_stack_drops.saturating_sub(base.cpu_stack_drops),
            stepped_hits: self.stepped_hits.saturating_sub(base.stepped_hits),
            samples_stepped: self.samples_stepped.saturating_sub(base.samples_stepped),
            map_op_stepped: self.map_op_stepped.saturating_sub(base.map_op_stepped),
            gc_wakes: self.gc_wakes.saturating_sub(base.gc_wakes),
        }
    }
}

pub struct Collector {
    counts: BpfHashMap<MapData, AllocKey, u64>,
    stacks: BpfHashMap<MapData, u64, Stack>,
    counters: Array<MapData, u64>,
    /// `counters` mapped into memory; `None` (reads by syscall) when the
    /// kernel refused the mapping.
    counter_page: Option<CounterPage>,
    events: RingBuf<MapData>,
    /// What the ring buffer's events add up to.
    pub agg: Aggregator,
    /// Take madvise counts by advice from the syscall tracepoint (exact
    /// mode on a binary whose runtime.madvise could not be probed).
    pub madvise_from_syscalls: bool,
    madvise_syscalls: Array<MapData, u64>,
}

fn take<T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>>(
    probes: &mut Probes,
    name: &str,
) -> Result<T, UserError> {
    let map = probes
        .ebpf
        .take_map(name)
        .ok_or_else(|| UserError::Kernel(format!("map {name} missing")))?;
    T::try_from(map).map_err(|e| UserError::Kernel(format!("map {name}: {e}")))
}

impl Collector {
    pub fn new(
        probes: &mut Probes,
        timed_funcs: usize,
        pid: u32,
        go_minor: u32,
    ) -> Result<Collector, UserError> {
        let counters: Array<MapData, u64> = take(probes, MAP_COUNTERS)?;
        let counter_page = {
            use std::os::fd::AsFd;
            CounterPage::map(counters.map().fd().as_fd(), counter::COUNT as usize).ok()
        };
        Ok(Collector {
            counts: take(probes, MAP_ALLOC_COUNTS)?,
            stacks: take(probes, MAP_STACKS)?,
            counters,
            counter_page,
            events: take(probes, MAP_EVENTS)?,
            agg: Aggregator::new(timed_funcs, Box::new(MemTypes::new(pid, go_minor))),
            madvise_from_syscalls: false,
            madvise_syscalls: take(probes, MAP_MADVISE_BY_ADVICE)?,
        })
    }

    /// Kernel counter `i` (`tracer_common::counter`) now.
    pub fn counter(&self, i: u32) -> u64 {
        match &self.counter_page {
            Some(page) => page.get(i),
            None => self.counters.get(&i, 0).unwrap_or(0),
        }
    }

    pub fn counters(&self) -> Counters {
        let get = |i: u32| self.counter(i);
        Counters {
            probe_hits: get(counter::PROBE_HITS),
            allocs: get(counter::ALLOCS),
            lost: get(counter::LOST) + self.agg.dropped,
            overflow_sent: get(counter::OVERFLOW_SENT),
            stack_drops: get(counter::STACK_DROPS),
            stack_truncated: get(counter::STACK_TRUNCATED),
            filtered: get(counter::FILTERED),
            madvise_syscalls: get(counter::MADVISE_SYSCALLS),
            madvise_syscall_bytes: get(counter::MADVISE_SYSCALL_BYTES),
            samples: get(counter::SAMPLES),
            live_samples: get(counter::LIVE_SAMPLES),
            map_op_hits: get(counter::MAP_OP_HITS),
            cpu_samples: get(counter::CPU_SAMPLES),
            cpu_stack_drops: get(counter::CPU_STACK_DROPS),
            stepped_hits: get(counter::STEPPED_HITS),
            samples_stepped: get(counter::SAMPLES_STEPPED),
            map_op_stepped: get(counter::MAP_OP_STEPPED),
            gc_wakes: get(counter::GC_WAKES),
        }
    }

    /// The sampling groups' hits only (allocation samples, map
    /// operations), each as (hits, of them single-stepped), for the
    /// governors' frequent checks.
    pub fn group_hits(&self) -> ((u64, u64), (u64, u64)) {
        let get = |i: u32| self.counter(i);
        // Liveness samples ride in the allocation windows.
        (
            (
                get(counter::SAMPLES) + get(counter::LIVE_SAMPLES),
                get(counter::SAMPLES_STEPPED),
            ),
            (get(counter::MAP_OP_HITS), get(counter::MAP_OP_STEPPED)),
        )
    }

    /// The ring buffer's file descriptor: readable when records wait.
    pub fn events_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.events.as_raw_fd()
    }

    /// Drains the ring buffer into the cumulative overflow counts.
    pub fn drain_events(&mut self) {
        if self.madvise_from_syscalls {
            for advice in 0..MADVISE_ADVICES {
                let get = |i: u32| self.madvise_syscalls.get(&i, 0).unwrap_or(0);
                let calls = get(2 * advice);
                if calls > 0 {
                    let e = self.agg.madvise.by_advice.entry(advice).or_default();
                    e.calls = calls;
                    e.bytes = get(2 * advice + 1);
                }
            }
        }
        while let Some(item) = self.events.next() {
            self.agg.handle(&item);
        }
    }

    /// Cumulative allocation counts per key: kernel map plus ring-buffer overflow.
    pub fn alloc_counts(&mut self) -> HashMap<AllocKey, u64> {
        self.drain_events();
        let mut out = self.agg.overflow.clone();
        for (key, n) in self.counts.iter().flatten() {
            *out.entry(key).or_default() += n;
        }
        out
    }

    pub fn stack(&self, id: u64) -> Option<Stack> {
        self.stacks.get(&id, 0).ok()
    }
}
