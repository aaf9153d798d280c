// cpuphases runs phases of known kinds and times them itself, for the
// tracer's on-CPU sampling and map cost figures: loads on a 1,000,000-entry
// map, plain arithmetic, small allocations, and clone + clear of a big map.
//
// Protocol: prints "READY <pid>"; each "run SECS" line on stdin runs
// rounds of the four phases for about SECS seconds on one locked thread
// and prints one JSON line: each phase's thread CPU time, the process's CPU
// time over the run, the loads and their CPU per load, and each clear's
// duration. "tick SECS" instead runs 8 goroutines for about SECS seconds,
// each waking every millisecond (a sleep, as tickers and poll loops do) to
// work ~40 µs, and prints the process's CPU time over it: many short runs,
// which timer sampling reads low. Exits on EOF.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	bigN   = 1_000_000
	cloneN = 200_000
	// Each phase of a round lasts about this long.
	phaseDur = 40 * time.Millisecond
	// "tick": goroutines waking every millisecond, and their work then.
	tickers  = 8
	tickWork = 40 * time.Microsecond
	// Clones kept alive (so the tracer can read them).
	keepClones = 8
)

var (
	big      map[int64]int64
	template map[int64]int64
	kept     []map[int64]int64
	sink     int64
	ring     [4096]*[4]int64
)

func addr(m map[int64]int64) uintptr {
	return *(*uintptr)(unsafe.Pointer(&m))
}

// threadCPU is this thread's CPU time (RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:noinline
func phaseLoads(x uint64) (uint64, int64) {
	var n int64
	start := time.Now()
	for time.Since(start) < phaseDur {
		for i := 0; i < 256; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			sink += big[int64(x%bigN)]
		}
		n += 256
	}
	return x, n
}

//go:noinline
func phaseArith(x uint64) uint64 {
	start := time.Now()
	for time.Since(start) < phaseDur {
		for i := 0; i < 4096; i++ {
			x = x*6364136223846793005 + 1442695040888963407
			x ^= x >> 29
		}
	}
	return x
}

//go:noinline
func phaseAlloc() int {
	n := 0
	start := time.Now()
	for time.Since(start) < phaseDur {
		for i := 0; i < 256; i++ {
			p := new([4]int64)
			p[0] = int64(n)
			ring[n%len(ring)] = p
			n++
		}
	}
	return n
}

//go:noinline
func phaseClone() map[int64]int64 {
	return maps.Clone(template)
}

//go:noinline
func phaseClear(m map[int64]int64) time.Duration {
	t := time.Now()
	clear(m)
	return time.Since(t)
}

type result struct {
	GoVersion    string           `json:"go_version"`
	CPUNs        map[string]int64 `json:"cpu_ns"`
	ProcessCPUNs int64            `json:"process_cpu_ns"`
	WallNs       int64            `json:"wall_ns"`
	Rounds       int              `json:"rounds"`
	Loads        int64            `json:"loads"`
	LoadNsPerOp  float64          `json:"load_ns_per_op"`
	ClearsNs     []int64          `json:"clears_ns"`
	ClearP50Ns   int64            `json:"clear_p50_ns"`
	BigAddr      uintptr          `json:"big_addr"`
	ClearAddrs   []uintptr        `json:"clear_addrs"`
}

func run(secs float64) result {
	r := result{GoVersion: runtime.Version(), CPUNs: map[string]int64{}}
	phase := func(name string, f func()) {
		t := threadCPU()
		f()
		r.CPUNs[name] += int64(threadCPU() - t)
	}
	x := uint64(88172645463325252)
	wall := time.Now()
	proc := processCPU()
	for time.Since(wall).Seconds() < secs {
		phase("loads", func() {
			var n int64
			x, n = phaseLoads(x)
			r.Loads += n
		})
		phase("arith", func() { x = phaseArith(x) })
		phase("alloc", func() { phaseAlloc() })
		var m map[int64]int64
		phase("clone", func() { m = phaseClone() })
		phase("clear", func() { r.ClearsNs = append(r.ClearsNs, int64(phaseClear(m))) })
		r.ClearAddrs = append(r.ClearAddrs, addr(m))
		kept = append(kept, m)
		if len(kept) > keepClones {
			kept = kept[1:]
		}
		r.Rounds++
	}
	r.ProcessCPUNs = int64(processCPU() - proc)
	r.WallNs = int64(time.Since(wall))
	r.LoadNsPerOp = float64(r.CPUNs["loads"]) / float64(r.Loads)
	sorted := append([]int64(nil), r.ClearsNs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	r.ClearP50Ns = sorted[len(sorted)/2]
	r.BigAddr = addr(big)
	return r
}

// tick is the "tick SECS" command: tickers goroutines, each waking every
// millisecond to work for tickWork.
func tick(secs float64) map[string]int64 {
	c0, t0 := processCPU(), time.Now()
	done := make(chan uint64)
	for g := 0; g < tickers; g++ {
		go func() {
			x := uint64(g)
			for time.Since(t0).Seconds() < secs {
				time.Sleep(time.Millisecond)
				w := time.Now()
				for time.Since(w) < tickWork {
					for i := 0; i < 64; i++ {
						x = x*6364136223846793005 + 1442695040888963407
					}
				}
			}
			done <- x
		}()
	}
	for g := 0; g < tickers; g++ {
		sink += int64(<-done & 1)
	}
	return map[string]int64{
		"process_cpu_ns": int64(processCPU() - c0),
		"wall_ns":        int64(time.Since(t0)),
	}
}

func main() {
	runtime.LockOSThread()
	big = make(map[int64]int64, bigN)
	for i := int64(0); i < bigN; i++ {
		big[i] = i
	}
	template = make(map[int64]int64, cloneN)
	for i := int64(0); i < cloneN; i++ {
		template[i] = i
	}
	runtime.GC()
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 || (f[0] != "run" && f[0] != "tick") {
			fmt.Fprintf(os.Stderr, "unknown command %q\n", in.Text())
			os.Exit(2)
		}
		secs, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if f[0] == "tick" {
			_ = out.Encode(tick(secs))
		} else {
			_ = out.Encode(run(secs))
		}
	}
}
