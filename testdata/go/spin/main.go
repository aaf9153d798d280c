// spin is the http bench's control load: it keeps one CPU busy for -busy
// out of every -period (default 100 µs of 10 ms: 1 % of a CPU), the way a
// light background process does, until killed. Pinned beside the load
// generator it shows how much a little CPU taken there costs the service's
// measured req/s, against which the tracer's own share is read.
package main

import (
	"flag"
	"runtime"
	"time"
)

func main() {
	busy := flag.Duration("busy", 100*time.Microsecond, "busy time per period")
	period := flag.Duration("period", 10*time.Millisecond, "period")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	next := time.Now()
	x := uint64(1)
	for {
		start := time.Now()
		for time.Since(start) < *busy {
			x = x*6364136223846793005 + 1442695040888963407
		}
		next = next.Add(*period)
		time.Sleep(time.Until(next))
		if x == 0 {
			println(x)
		}
	}
}
