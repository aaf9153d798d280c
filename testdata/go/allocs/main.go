// allocs allocates from known functions a known number of times and prints
// the runtime's own counters for the phase, as ground truth for the tracer.
//
// Protocol: prints "READY <pid>", then for each line "phase" on stdin runs
// the phase and prints one JSON line; exits on EOF.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

type node struct {
	next *node
	val  int
}

var (
	sinkTiny   *[8]byte
	sinkNode   *node
	sinkBytes  []byte
	sinkLarge  []byte
	sinkPtrs   []*int
	sinkRead   []byte
	sinkBuffer *bytes.Buffer
	sinkPair   *pair
)

type pair struct{ a, b *int }

// newPair is small enough to be inlined into its caller: the allocation's
// site is the inlined function, its caller the next frame.
func newPair() *pair { return &pair{} }

//go:noinline
func allocInlined() { sinkPair = newPair() }

//go:noinline
func allocTiny() { sinkTiny = new([8]byte) }

//go:noinline
func allocNode() { sinkNode = &node{val: 1} }

//go:noinline
func allocBytes1000() { sinkBytes = make([]byte, 1000) }

//go:noinline
func allocLarge40000() { sinkLarge = make([]byte, 40000) }

//go:noinline
func allocPtrSlice100() { sinkPtrs = make([]*int, 100) }

// readSmall is incident I8: io.ReadAll over a 3-byte LimitReader.
//
//go:noinline
func readSmall() {
	b, _ := io.ReadAll(io.LimitReader(strings.NewReader("hello, world"), 3))
	sinkRead = b
}

// bufferReadFrom is the older ioutil.ReadAll shape: bytes.Buffer.ReadFrom.
//
//go:noinline
func bufferReadFrom() {
	var buf bytes.Buffer
	buf.ReadFrom(io.LimitReader(strings.NewReader("hello, world"), 3))
	sinkBuffer = &buf
}

type work struct {
	name  string
	fn    func()
	calls int
}

var phase = []work{
	{"main.allocTiny", allocTiny, 20000},
	{"main.allocNode", allocNode, 20000},
	{"main.allocBytes1000", allocBytes1000, 10000},
	{"main.allocLarge40000", allocLarge40000, 300},
	{"main.allocPtrSlice100", allocPtrSlice100, 5000},
	{"main.readSmall", readSmall, 5000},
	{"main.bufferReadFrom", bufferReadFrom, 3000},
	{"main.newPair", allocInlined, 4000},
}

// perCall measures how many heap objects one call allocates, with the
// runtime's counter (for functions whose count depends on the Go version).
func perCall(fn func()) uint64 {
	const n = 200
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	for i := 0; i < n; i++ {
		fn()
	}
	runtime.ReadMemStats(&b)
	return (b.Mallocs - a.Mallocs + n/2) / n
}

type result struct {
	Mallocs    uint64            `json:"mallocs"`
	TotalAlloc uint64            `json:"total_alloc"`
	Known      map[string]uint64 `json:"known"`
	GoVersion  string            `json:"go_version"`
}

func main() {
	per := make([]uint64, len(phase))
	for i, w := range phase {
		per[i] = perCall(w.fn)
	}
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "phase" {
			continue
		}
		known := make(map[string]uint64, len(phase))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, w := range phase {
			for j := 0; j < w.calls; j++ {
				w.fn()
			}
			known[w.name] = per[i] * uint64(w.calls)
		}
		runtime.ReadMemStats(&after)
		out, _ := json.Marshal(result{
			Mallocs:    after.Mallocs - before.Mallocs,
			TotalAlloc: after.TotalAlloc - before.TotalAlloc,
			Known:      known,
			GoVersion:  runtime.Version(),
		})
		fmt.Println(string(out))
	}
}
