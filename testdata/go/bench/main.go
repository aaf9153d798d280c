// bench runs fixed workloads on command and prints how long they took, for
// `cargo xtask bench` to compare untraced, traced and bare-probe runs of
// the same process. Protocol: prints "READY <pid>"; "alloc", "alloc-long",
// "map", "map-long" and "map-small" each
// run their loop and print one JSON line; EOF exits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"
)

type node struct {
	next *node
	val  int
}

var (
	sinkNode  *node
	sinkSmall []byte
	sinkBig   []byte
)

// allocLoop is allocation-heavy: three sites, small and medium sizes.
//
//go:noinline
func allocLoop(n int) {
	for i := 0; i < n; i++ {
		sinkNode = &node{val: i}
		sinkSmall = make([]byte, 64)
		if i%8 == 0 {
			sinkBig = make([]byte, 1024)
		}
	}
}

// mapLoop is map-heavy: inserts, lookups and deletes, few allocations.
//
//go:noinline
func mapLoop(n int) int {
	m := make(map[int]int, 1024)
	s := 0
	for i := 0; i < n; i++ {
		m[i%4096] = i
		s += m[(i*7)%4096]
		if i%3 == 0 {
			delete(m, (i*13)%4096)
		}
	}
	return s
}

func main() {
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t := time.Now()
		switch in.Text() {
		case "alloc":
			allocLoop(40000)
		case "alloc-long":
			// ~4 s untraced: long enough for sampled mode's windows.
			for j := 0; j < 800; j++ {
				allocLoop(40000)
			}
		case "map":
			mapLoop(2000000)
		case "map-long":
			// ~8 s untraced: spans sampled mode's map-operation windows.
			for j := 0; j < 50; j++ {
				mapLoop(2000000)
			}
		case "map-small":
			// 46,667 map operations: affordable with a probe on each.
			mapLoop(20000)
		default:
			continue
		}
		ns := time.Since(t).Nanoseconds()
		runtime.ReadMemStats(&after)
		out, _ := json.Marshal(map[string]any{"ns": ns, "mallocs": after.Mallocs - before.Mallocs})
		fmt.Println(string(out))
	}
}
