// inuse keeps known numbers of objects of known sizes at known sites and
// reports them itself, with its own heap profile, so the tracer's in-use
// figures can be checked against both. Protocol: prints "READY <pid>";
// each command on stdin runs and prints one JSON line:
//
//	keep SITE N      SITE (big: 1 KiB, small: 48 B, temp: 4 KiB) allocates
//	                 N objects and keeps them
//	churn N          allocates N × 64 B and keeps none
//	grow SECS        big keeps 2,000 more objects every 100 ms, with a GC
//	                 after each step
//	mix SECS         every 10 ms: big keeps 40, small 400, temp 10, and
//	                 1,000 × 64 B and 40 × 1 KiB (big's class) are churned
//	                 (the runtime GCs on its own)
//	share SECS       every 10 ms: big keeps 28 and pair 12 (both 1 KiB: one
//	                 size class, 70:30), and 40 × 1 KiB are churned
//	fill N           cache keeps N × 1 KiB (a bounded set of long-lived
//	                 objects)
//	turn SECS        every 10 ms cache replaces 20 of its objects, round
//	                 robin (it turns over, it does not grow), with a GC
//	                 every 500 ms
//	leak SECS        every 10 ms big keeps 40 more, with a GC every 500 ms
//	turnleak SECS    turn, while every 10 ms temp keeps 10 × 4 KiB more
//	release SITE     drops everything SITE keeps
//	gc               runtime.GC() twice (the profile publishes a cycle late)
//	report           the objects each site keeps, and the process's own heap
//	                 profile by site (when it is on: see profile.go)
//
// EOF exits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var (
	bigs   [][]byte
	smalls []*[48]byte
	temps  [][]byte
	pairs  [][]byte
	cache  [][]byte
	sink   []byte
)

//go:noinline
func keepBig() { bigs = append(bigs, make([]byte, 1024)) }

//go:noinline
func keepSmall() { smalls = append(smalls, new([48]byte)) }

//go:noinline
func keepTemp() { temps = append(temps, make([]byte, 4096)) }

//go:noinline
func keepPair() { pairs = append(pairs, make([]byte, 1024)) }

//go:noinline
func keepCache(i int) { cache[i] = make([]byte, 1024) }

//go:noinline
func churn() { sink = make([]byte, 64) }

//go:noinline
func churnBig() { sink = make([]byte, 1024) }

type siteCount struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

func kept() map[string]siteCount {
	return map[string]siteCount{
		"main.keepBig":   {int64(len(bigs)), int64(len(bigs)) * 1024},
		"main.keepSmall": {int64(len(smalls)), int64(len(smalls)) * 48},
		"main.keepTemp":  {int64(len(temps)), int64(len(temps)) * 4096},
		"main.keepPair":  {int64(len(pairs)), int64(len(pairs)) * 1024},
		"main.keepCache": {int64(len(cache)), int64(len(cache)) * 1024},
	}
}

func keep(site string, n int) error {
	f := map[string]func(){"big": keepBig, "small": keepSmall, "temp": keepTemp}[site]
	if f == nil {
		return fmt.Errorf("unknown site %q", site)
	}
	for i := 0; i < n; i++ {
		f()
	}
	return nil
}

func main() {
	// Room for every small object the commands keep: keepSmall's append
	// then never grows its slice. A backing array grown at a site is a
	// large object that site holds too, which the counts printed here do
	// not include: for keepSmall (48 B objects) it would be ~20 % of what
	// it keeps, for the others a few percent.
	smalls = make([]*[48]byte, 0, 1<<19)
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		arg := func(i int) int {
			if i >= len(f) {
				return 0
			}
			n, _ := strconv.Atoi(f[i])
			return n
		}
		var err error
		res := map[string]any{"cmd": f[0]}
		switch f[0] {
		case "keep":
			if len(f) < 3 {
				err = fmt.Errorf("keep SITE N")
			} else {
				err = keep(f[1], arg(2))
			}
		case "churn":
			for i := 0; i < arg(1); i++ {
				churn()
			}
		case "grow":
			end := time.Now().Add(time.Duration(arg(1)) * time.Second)
			for time.Now().Before(end) {
				for i := 0; i < 2000; i++ {
					keepBig()
				}
				runtime.GC()
				time.Sleep(100 * time.Millisecond)
			}
		case "mix":
			end := time.Now().Add(time.Duration(arg(1)) * time.Second)
			for time.Now().Before(end) {
				for i := 0; i < 40; i++ {
					keepBig()
				}
				for i := 0; i < 400; i++ {
					keepSmall()
				}
				for i := 0; i < 10; i++ {
					keepTemp()
				}
				for i := 0; i < 1000; i++ {
					churn()
				}
				for i := 0; i < 40; i++ {
					churnBig()
				}
				time.Sleep(10 * time.Millisecond)
			}
		case "share":
			end := time.Now().Add(time.Duration(arg(1)) * time.Second)
			for time.Now().Before(end) {
				for i := 0; i < 28; i++ {
					keepBig()
				}
				for i := 0; i < 12; i++ {
					keepPair()
				}
				for i := 0; i < 40; i++ {
					churnBig()
				}
				time.Sleep(10 * time.Millisecond)
			}
		case "fill":
			cache = make([][]byte, arg(1))
			for i := range cache {
				keepCache(i)
			}
		case "turn", "leak", "turnleak":
			// turn: the cache replaces 2,000 entries a second; leak:
			// keepBig keeps 4 MB/s; turnleak: the cache turns over while
			// keepTemp keeps 4 MB/s (another size class).
			turn := f[0] != "leak"
			end := time.Now().Add(time.Duration(arg(1)) * time.Second)
			next, lastGC := 0, time.Now()
			for time.Now().Before(end) && (!turn || len(cache) > 0) {
				for i := 0; i < 20 && turn; i++ {
					keepCache(next)
					next = (next + 1) % len(cache)
				}
				for i := 0; i < 40 && f[0] == "leak"; i++ {
					keepBig()
				}
				for i := 0; i < 10 && f[0] == "turnleak"; i++ {
					keepTemp()
				}
				if time.Since(lastGC) >= 500*time.Millisecond {
					runtime.GC()
					lastGC = time.Now()
				}
				time.Sleep(10 * time.Millisecond)
			}
		case "release":
			switch f[1] {
			case "big":
				bigs = nil
			case "small":
				smalls = nil
			case "temp":
				temps = nil
			}
		case "gc":
			runtime.GC()
			runtime.GC()
		case "report":
			res["kept"] = kept()
			res["profile_rate"] = runtime.MemProfileRate
			res["profile"] = ownProfile()
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			res["error"] = err.Error()
		}
		out.Encode(res)
	}
}
