// Allocation counter fixture for tracer-user/src/allocstats.rs tests.
//
// Each round allocates a known mix (tiny, small objects of several size
// classes with and without pointers, large objects), drops part of it, reads
// runtime/metrics a few times (which rotates the generations of
// runtime.memstats.heapStats), runs a GC (so that sweeping is finished and
// Frees is final), then calls runtime.ReadMemStats — which flushes every
// mcache under stop-the-world, so the runtime's counters equal MemStats
// exactly — and prints MemStats as one JSON line. From ReadMemStats until the
// next command it allocates nothing: the line is built in a preallocated
// buffer and written with os.Stdout.Write, stdin is read into a fixed array.
//
// Protocol: prints "READY <pid>", then the JSON line of round 1. Any input
// line runs the next round and prints its line. EOF exits.
package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
)

type scan24 struct {
	p    *int
	a, b int
}

var (
	keepTiny  []*[4]byte
	keepSmall []any
	keepLarge [][]byte
	sink      any

	ms      runtime.MemStats
	out     = make([]byte, 0, 1<<16)
	inbuf   [256]byte
	samples = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
)

//go:noinline
func tiny() *[4]byte { return new([4]byte) }

//go:noinline
func small24() *scan24 { return &scan24{} }

//go:noinline
func small48() *[48]byte { return new([48]byte) }

//go:noinline
func small1k() *[1024]byte { return new([1024]byte) }

//go:noinline
func small3k() *[375]*int { return new([375]*int) } // 3000 B of pointers (+ header from 1.22)

//go:noinline
func small20k() *[20000]byte { return new([20000]byte) }

//go:noinline
func large(n int) []byte { return make([]byte, n) }

func round(r int) {
	for i := 0; i < 3000*r; i++ {
		t := tiny()
		if i%3 == 0 {
			keepTiny = append(keepTiny, t)
		} else {
			sink = t
		}
	}
	for i := 0; i < 700*r; i++ {
		keepSmall = append(keepSmall, small24())
		sink = small48()
	}
	for i := 0; i < 50*r; i++ {
		keepSmall = append(keepSmall, small1k())
		sink = small3k()
	}
	for i := 0; i < 9*r; i++ {
		sink = small20k()
	}
	for i := 0; i < r; i++ {
		keepLarge = append(keepLarge, large(40000), large(100000))
		sink = large(1 << 20)
	}
	sink = nil
	for i := 0; i < r; i++ {
		metrics.Read(samples)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	report()
}

// report writes MemStats as JSON without allocating.
func report() {
	b := out[:0]
	b = append(b, `{"mallocs":`...)
	b = strconv.AppendUint(b, ms.Mallocs, 10)
	b = append(b, `,"frees":`...)
	b = strconv.AppendUint(b, ms.Frees, 10)
	b = append(b, `,"total_alloc":`...)
	b = strconv.AppendUint(b, ms.TotalAlloc, 10)
	b = append(b, `,"by_size":[`...)
	for i, c := range ms.BySize {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"size":`...)
		b = strconv.AppendUint(b, uint64(c.Size), 10)
		b = append(b, `,"mallocs":`...)
		b = strconv.AppendUint(b, c.Mallocs, 10)
		b = append(b, `,"frees":`...)
		b = strconv.AppendUint(b, c.Frees, 10)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	os.Stdout.Write(b)
}

// waitLine blocks until a whole input line has arrived (a writer may send
// "again" and "\n" in two writes), without allocating. False at EOF.
func waitLine() bool {
	for {
		n, err := os.Stdin.Read(inbuf[:])
		for _, c := range inbuf[:n] {
			if c == '\n' {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

func main() {
	os.Stdout.Write([]byte("READY " + strconv.Itoa(os.Getpid()) + "\n"))
	for r := 1; ; r++ {
		round(r)
		if !waitLine() {
			return
		}
	}
}
