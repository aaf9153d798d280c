//! Calibrations on functions of the tracer's own, before anything is
//! attached to the target: what one uprobe hit costs (`Probes::calibrate`),
//! and how finely an entry/RET probe pair can time a call
//! (`Probes::calibrate_latency`).
use std::{path::Path, time::Instant};

use tracer_common::{CALIBRATION_SLOTS, MAP_CALIBRATION};

use super::attach::{Point, Probes, BARE_PROGRAM};
use crate::{error::UserError, tracee::disasm};

const CALIB_ENTRY_PROGRAM: &str = "calib_entry";
const CALIB_EXIT_PROGRAM: &str = "calib_exit";
pub(super) const CALIBRATION_PROGRAMS: [&str; 2] = [CALIB_ENTRY_PROGRAM, CALIB_EXIT_PROGRAM];

/// What one uprobe hit costs on this machine, the trap alone (ns): at an
/// instruction the kernel emulates (a `PUSH reg`, jump or call: every
/// entry probe sits on the prologue's `PUSHQ BP`) and at one it
/// single-steps out of line (a RET, most others). Hits are counted apart
/// by kind (`counter::STEPPED_HITS`) and each is charged its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traps {
    pub emulated_ns: f64,
    pub stepped_ns: f64,
}

impl Traps {
    /// The traps of `hits` probe hits of which `stepped` were
    /// single-stepped, ns.
    pub fn cost(&self, hits: u64, stepped: u64) -> f64 {
        let stepped = stepped.min(hits);
        (hits - stepped) as f64 * self.emulated_ns + stepped as f64 * self.stepped_ns
    }

    /// The mean trap of hits of which this share is single-stepped.
    pub fn mean(&self, stepped_share: f64) -> f64 {
        let s = stepped_share.clamp(0.0, 1.0);
        (1.0 - s) * self.emulated_ns + s * self.stepped_ns
    }
}

/// What the latency calibration measured (ns).
#[derive(Debug, Clone, Copy, Default)]
pub struct LatencyCalibration {
    /// The call's own duration, timed unprobed (median).
    pub true_ns: u64,
    /// Median of what the probe pair measured, minus `true_ns`: the
    /// pair's own share of every duration.
    pub offset_ns: u64,
    /// Spread of the pair's error (99th minus 1st percentile): its noise
    /// width (the resolution is twice it).
    pub spread_ns: u64,
    /// Calls timed.
    pub calls: u64,
}

impl Probes {
    /// Measures the cost of one uprobe hit of each kind: time calls of a
    /// probed function in this process against the same calls unprobed,
    /// probed on its `PUSHQ BP` (emulated) and on the `MOVQ SP, BP` after
    /// it (single-stepped). The probe is `bare_count` (the hit counters
    /// only, what every program does first): the trap with the least BPF
    /// work, and a program the verifier passes in a blink (`malloc_entry`,
    /// used before, cost ~10–15 ms of verifier CPU at every attach).
    pub fn calibrate(&mut self) -> Result<Traps, UserError> {
        let exe = own_exe()?;
        let [(me, _)] = own_symbols(&exe, [HIT_POINT])?;
        self.calibrate_traps(&exe, me)
    }

    /// Both calibrations (the executable is mapped once): a hit's cost, and
    /// the probe pair's latency resolution.
    pub fn calibrate_all(&mut self) -> Result<(Traps, LatencyCalibration), UserError> {
        let exe = own_exe()?;
        let [(hit, _), (latency, code)] = own_symbols(&exe, [HIT_POINT, LATENCY_POINT])?;
        let traps = self.calibrate_traps(&exe, hit)?;
        Ok((traps, self.calibrate_latency(&exe, latency, &code)?))
    }

    fn calibrate_traps(&mut self, exe: &Path, me: u64) -> Result<Traps, UserError> {
        Ok(Traps {
            emulated_ns: self.calibrate_hit(exe, me + HIT_PUSH)?,
            stepped_ns: self.calibrate_hit(exe, me + HIT_STEPPED)?,
        })
    }

    fn calibrate_hit(&mut self, exe: &Path, offset: u64) -> Result<f64, UserError> {
        const CALLS: u32 = 300;
        // Medians of three batches: a stolen time slice (a busy host) in
        // one batch does not make every later budget wrong.
        let base = median3(|| time_calls(CALLS));
        let point = Point {
            program: BARE_PROGRAM,
            offset,
            cookie: 0,
            what: "the calibration probe",
        };
        let handles = self.attach(exe, std::process::id(), &[point])?;
        let probed = median3(|| time_calls(CALLS));
        self.detach_own(handles, 1);
        Ok(((probed - base).max(0.0) / f64::from(CALLS)).max(1.0))
    }

    /// Times calls of a function of known duration (~2 µs, measured
    /// unprobed first) with the entry/RET probe pair the timed and map
    /// probes use: the pair's offset and the spread of its error.
    fn calibrate_latency(
        &mut self,
        exe: &Path,
        entry: u64,
        code: &[u8],
    ) -> Result<LatencyCalibration, UserError> {
        const CALLS: u32 = 400;
        let spins = spins_for(2_000);
        let mut unprobed: Vec<u64> = (0..CALLS).map(|_| time_one(spins)).collect();
        let true_ns = percentile(&mut unprobed, 0.5);
        let mut points = vec![Point {
            program: CALIB_ENTRY_PROGRAM,
            offset: entry,
            cookie: 0,
            what: "the latency calibration probe",
        }];
        points.extend(disasm::ret_offsets(code, 0).into_iter().map(|r| Point {
            program: CALIB_EXIT_PROGRAM,
            offset: entry + r,
            cookie: 0,
            what: "the latency calibration probe",
        }));
        if points.len() < 2 {
            return Err(UserError::Kernel(
                "latency calibration: no RET in tracer_latency_point".into(),
            ));
        }
        let n = points.len();
        let handles = self.attach(exe, std::process::id(), &points)?;
        for _ in 0..CALLS.min(CALIBRATION_SLOTS) {
            std::hint::black_box(tracer_latency_point(std::hint::black_box(spins)));
        }
        self.detach_own(handles, n);
        let mut measured = self.calibration_durations()?;
        if measured.len() < 50 {
            return Err(UserError::Kernel(format!(
                "latency calibration: {} of {CALLS} calls timed",
                measured.len()
            )));
        }
        let median = percentile(&mut measured, 0.5);
        let spread = percentile(&mut measured, 0.99) - percentile(&mut measured, 0.01);
        Ok(LatencyCalibration {
            true_ns,
            offset_ns: median.saturating_sub(true_ns),
            spread_ns: spread.max(1),
            calls: measured.len() as u64,
        })
    }

    fn calibration_durations(&mut self) -> Result<Vec<u64>, UserError> {
        let map = self
            .ebpf
            .map(MAP_CALIBRATION)
            .ok_or_else(|| UserError::Kernel("map CALIBRATION missing".into()))?;
        let array: aya::maps::Array<_, u64> = aya::maps::Array::try_from(map)
            .map_err(|e| UserError::Kernel(format!("map CALIBRATION: {e}")))?;
        let n = array.get(&CALIBRATION_SLOTS, 0).unwrap_or(0);
        Ok((0..n.min(u64::from(CALIBRATION_SLOTS)) as u32)
            .filter_map(|i| array.get(&i, 0).ok())
            .filter(|&d| d > 0)
            .collect())
    }

    fn detach_own(&mut self, handles: Vec<super::attach::LinkHandle>, points: usize) {
        for h in handles {
            drop(self.links[h].take());
        }
        self.attached -= points;
    }
}

/// `q`-quantile of `v` (sorts it).
fn percentile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    v.get(((v.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(0)
}

fn median3(mut f: impl FnMut() -> f64) -> f64 {
    let mut v = [f(), f(), f()];
    v.sort_by(f64::total_cmp);
    v[1]
}

fn own_exe() -> Result<std::path::PathBuf, UserError> {
    std::fs::read_link("/proc/self/exe")
        .map_err(|e| UserError::Kernel(format!("/proc/self/exe: {e}")))
}

const HIT_POINT: &str = "tracer_calibration_point";
const LATENCY_POINT: &str = "tracer_latency_point";

/// File offset and code of functions of this (Rust) executable.
fn own_symbols<const N: usize>(
    exe: &Path,
    names: [&str; N],
) -> Result<[(u64, Vec<u8>); N], UserError> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let io = |e: std::io::Error| UserError::Kernel(format!("{}: {e}", exe.display()));
    // Mapped, not read: only the symbol table's pages and the two
    // functions' are touched, not the whole executable (~12 MB).
    // SAFETY: the running executable cannot be written (ETXTBSY).
    let data = unsafe { memmap2::Mmap::map(&std::fs::File::open(exe).map_err(io)?) }.map_err(io)?;
    let file = object::File::parse(&*data).ok();
    let one = |name: &str| {
        let missing = || {
            UserError::Kernel(format!(
                "calibration symbol {name} not found in the tracer binary"
            ))
        };
        let file = file.as_ref().ok_or_else(missing)?;
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok(name))
            .ok_or_else(missing)?;
        let section = file
            .section_by_index(sym.section_index().ok_or_else(missing)?)
            .map_err(|_| missing())?;
        let (file_off, _) = section.file_range().ok_or_else(missing)?;
        let off = sym.address() - section.address() + file_off;
        let code = data
            .get(off as usize..(off + sym.size()) as usize)
            .ok_or_else(missing)?
            .to_vec();
        Ok((off, code))
    };
    let mut out = Vec::with_capacity(N);
    for name in names {
        out.push(one(name)?);
    }
    Ok(out.try_into().expect("one entry per name"))
}

/// CPU time (ns) of `n` calls on this thread: the probe's work is charged
/// to the thread that hits it, and CPU time ignores time spent descheduled.
fn time_calls(n: u32) -> f64 {
    let t = thread_cpu_ns();
    for i in 0..n {
        std::hint::black_box(tracer_calibration_point(std::hint::black_box(i as u64)));
    }
    thread_cpu_ns().saturating_sub(t) as f64
}

fn thread_cpu_ns() -> u64 {
    crate::cputime::thread_cpu_time().as_nanos() as u64
}

/// Wall time of one unprobed call of `tracer_latency_point(spins)`.
fn time_one(spins: u64) -> u64 {
    let t = Instant::now();
    std::hint::black_box(tracer_latency_point(std::hint::black_box(spins)));
    t.elapsed().as_nanos() as u64
}

/// Spins that make `tracer_latency_point` take about `ns`.
fn spins_for(ns: u64) -> u64 {
    let mut spins = 64;
    while spins < 1 << 30 {
        let mut v: Vec<u64> = (0..9).map(|_| time_one(spins)).collect();
        if percentile(&mut v, 0.5) >= ns {
            break;
        }
        spins *= 2;
    }
    spins
}

/// Offsets in `tracer_calibration_point` of its `PUSHQ BP` (emulated) and
/// of the `MOVQ SP, BP` after it (single-stepped).
const HIT_PUSH: u64 = 0;
const HIT_STEPPED: u64 = 1;

/// A function of our own to probe during calibration, shaped like a Go
/// function's frame set-up (so the probes sit on the same instructions as
/// in the target). Exported so it keeps its symbol.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn tracer_calibration_point(x: u64) -> u64 {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "imul rax, rdi, 31",
        "pop rbp",
        "ret",
    )
}

/// The latency calibration's function: a Go-shaped frame (`PUSHQ BP`
/// first, where entry probes sit, and a RET) around `spins` rounds of
/// arithmetic.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn tracer_latency_point(spins: u64) -> u64 {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "call {spin}",
        "pop rbp",
        "ret",
        spin = sym latency_spin,
    )
}

extern "C" fn latency_spin(spins: u64) -> u64 {
    let mut x = spins;
    for i in 0..spins {
        x = std::hint::black_box(x.wrapping_mul(31) ^ i);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hit_is_charged_its_own_trap() {
        let t = Traps {
            emulated_ns: 700.0,
            stepped_ns: 9_000.0,
        };
        assert_eq!(t.cost(10, 0), 7_000.0);
        assert_eq!(t.cost(10, 2), 8.0 * 700.0 + 2.0 * 9_000.0);
        // More stepped than hits (counters read a moment apart): all stepped.
        assert_eq!(t.cost(3, 5), 27_000.0);
        assert_eq!(t.mean(0.0), 700.0);
        assert_eq!(t.mean(0.25), 0.75 * 700.0 + 0.25 * 9_000.0);
        assert_eq!(t.mean(2.0), 9_000.0);
    }

    #[test]
    fn calibration_points_sit_where_target_probes_do() {
        // The hit calibration's function starts like a Go frame: PUSHQ BP
        // (emulated), then MOVQ SP, BP (single-stepped).
        let code = unsafe { std::slice::from_raw_parts(tracer_calibration_point as *const u8, 4) };
        assert!(disasm::emulated(&code[HIT_PUSH as usize..]));
        assert!(!disasm::emulated(&code[HIT_STEPPED as usize..]));
        assert_eq!(tracer_calibration_point(3), 93);
        assert_eq!(tracer_latency_point(0), 0);
    }
}
