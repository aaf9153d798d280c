// timing calls a function with three return paths, each with a known sleep,
// and prints its own measurements as ground truth for `tracer --time`.
//
// Protocol: prints "READY <pid>", then for each line "phase" on stdin runs
// the phase and prints one JSON line; exits on EOF.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

var sink int

// multiReturn leaves through a different RET on each path.
//
//go:noinline
func multiReturn(path int) int {
	if path == 0 {
		time.Sleep(5 * time.Millisecond)
		return 1
	}
	if path == 1 {
		time.Sleep(10 * time.Millisecond)
		sink++
		return sink
	}
	time.Sleep(15 * time.Millisecond)
	for i := 0; i < 3; i++ {
		sink += i
	}
	return sink * 2
}

// deep recurses enough to grow the goroutine stack (morestack re-runs the
// prologue of the function that needed it) and is timed too.
//
//go:noinline
func deep(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%256])
}

type result struct {
	Calls     int     `json:"calls"`
	PerPath   int     `json:"per_path"`
	MeanNs    float64 `json:"mean_ns"`
	MinNs     int64   `json:"min_ns"`
	MaxNs     int64   `json:"max_ns"`
	DeepCalls int     `json:"deep_calls"`
}

func main() {
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "phase" {
			continue
		}
		const perPath = 20
		var total time.Duration
		r := result{PerPath: perPath, MinNs: 1 << 62}
		for i := 0; i < 3*perPath; i++ {
			t := time.Now()
			sink += multiReturn(i % 3)
			d := time.Since(t)
			total += d
			r.Calls++
			r.MinNs = min(r.MinNs, d.Nanoseconds())
			r.MaxNs = max(r.MaxNs, d.Nanoseconds())
		}
		r.MeanNs = float64(total.Nanoseconds()) / float64(r.Calls)
		// A fresh goroutine starts with a small stack: deep(50) must grow it.
		done := make(chan int)
		go func() { done <- deep(50) }()
		sink += <-done
		r.DeepCalls = 51
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
}
