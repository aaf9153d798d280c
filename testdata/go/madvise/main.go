// Ground truth for the madvise probe and the madv_free_rss finding
// (tracer-user/src/memory tests).
//
// Allocates a 256 MiB heap in 1 MiB slices (every page written, so it is
// resident), prints "READY <pid>" and a JSON snapshot, then on the stdin
// command "free" drops the heap, runs runtime.GC and debug.FreeOSMemory
// (which returns all free heap to the OS with MADV_FREE or MADV_DONTNEED
// depending on GODEBUG=madvdontneed) and prints a JSON line with its
// runtime.MemStats and /proc/self/smaps_rollup before and after. "stats"
// prints a snapshot; EOF exits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

const (
	chunk  = 1 << 20
	chunks = 256
)

var heap [][]byte

type snapshot struct {
	HeapAlloc    uint64 `json:"heap_alloc"`
	HeapIdle     uint64 `json:"heap_idle"`
	HeapReleased uint64 `json:"heap_released"`
	Sys          uint64 `json:"sys"`
	Rss          uint64 `json:"rss"`       // bytes, from smaps_rollup
	LazyFree     uint64 `json:"lazy_free"` // bytes, from smaps_rollup
	Anonymous    uint64 `json:"anonymous"` // bytes, from smaps_rollup
}

// rollup reads the kB fields of /proc/self/smaps_rollup, in bytes.
func rollup() map[string]uint64 {
	out := map[string]uint64{}
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseUint(fields[0], 10, 64); err == nil {
			out[k] = n * 1024
		}
	}
	return out
}

func snap() snapshot {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r := rollup()
	return snapshot{
		HeapAlloc:    m.HeapAlloc,
		HeapIdle:     m.HeapIdle,
		HeapReleased: m.HeapReleased,
		Sys:          m.Sys,
		Rss:          r["Rss"],
		LazyFree:     r["LazyFree"],
		Anonymous:    r["Anonymous"],
	}
}

func emit(v any) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func main() {
	for i := 0; i < chunks; i++ {
		b := make([]byte, chunk)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i + 1) // fault the page in
		}
		heap = append(heap, b)
	}
	fmt.Printf("READY %d\n", os.Getpid())
	emit(snap())

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "free":
			before := snap()
			heap = nil
			runtime.GC()
			debug.FreeOSMemory()
			after := snap()
			emit(map[string]any{
				"heap_bytes":          uint64(chunk * chunks),
				"godebug":             os.Getenv("GODEBUG"),
				"before":              before,
				"after":               after,
				"heap_released_delta": after.HeapReleased - before.HeapReleased,
			})
		case "stats":
			emit(snap())
		}
	}
}
