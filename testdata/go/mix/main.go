// mix allocates from known sites in known proportions and counts every
// allocation itself, so sampled attribution can be checked against the
// truth. Protocol: prints "READY <pid>"; each command on stdin runs and
// prints one JSON line with the objects each site allocated:
//
//	steady SECS [PER_SEC]  sites a:b:c:d = 56:27:15:2 (48 B, 256 B, 1 KiB,
//	                       40 KiB), interleaved; PER_SEC paces it (0: flat out)
//	same SECS [PER_SEC]    two sites of one size class (64 B), 70:30 at random
//	burst NAME SECS        one site alone for SECS (NAME: b1 = 512 B, b2 = 48 B)
//	idle SECS              allocates nothing
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

type rec48 struct {
	a, b, c *int
	d, e, f int
}

var (
	keep48   *rec48
	keepSlab []byte
	keep64   []byte
	keep512  []byte
	rng      uint64 = 88172645463325252
)

// next is xorshift64*: its draws at a fixed stride are still fair (an
// LCG's are not at power-of-two strides such as 128 objects a span).
func next() uint64 {
	rng ^= rng >> 12
	rng ^= rng << 25
	rng ^= rng >> 27
	return (rng * 2685821657736338717) >> 32
}

//go:noinline
func siteA() { keep48 = &rec48{d: 1} }

//go:noinline
func siteB() { keepSlab = make([]byte, 256) }

//go:noinline
func siteC() { keepSlab = make([]byte, 1024) }

//go:noinline
func siteD() { keepSlab = make([]byte, 40<<10) }

//go:noinline
func sameX() { keep64 = make([]byte, 64) }

//go:noinline
func sameY() { keep64 = make([]byte, 64) }

//go:noinline
func burst1() { keep512 = make([]byte, 512) }

//go:noinline
func burst2() { keep48 = &rec48{e: 2} }

// counts are per site, in a plain array (no map operations in the loops).
type counts [8]int

var siteNames = [8]string{"siteA", "siteB", "siteC", "siteD", "sameX", "sameY", "burst1", "burst2"}

// pattern runs one round of 100 allocations in the steady proportions.
func pattern(n *counts) {
	for i := 0; i < 100; i++ {
		switch {
		case i%50 == 7:
			siteD()
			n[3]++
		case i%7 == 3 || i%20 == 11:
			siteC()
			n[2]++
		case i%4 == 1 || i%25 == 2:
			siteB()
			n[1]++
		default:
			siteA()
			n[0]++
		}
	}
}

func run(secs float64, perSec int, round func(*counts)) counts {
	var n counts
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	start := time.Now()
	done := 0
	for time.Now().Before(end) {
		for k := 0; k < 10; k++ {
			round(&n)
		}
		done += 1000
		if perSec > 0 {
			due := start.Add(time.Duration(float64(done) / float64(perSec) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
	}
	return n
}

func main() {
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		arg := func(i int) float64 {
			if i < len(f) {
				v, _ := strconv.ParseFloat(f[i], 64)
				return v
			}
			return 0
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t := time.Now()
		var n counts
		switch f[0] {
		case "steady":
			n = run(arg(1), int(arg(2)), pattern)
		case "same":
			// A pseudo-random interleaving, as in a real program: a
			// strictly periodic one aliases with the objects per span
			// (the site that exhausts a span is then not a fair draw).
			n = run(arg(1), int(arg(2)), func(n *counts) {
				for i := 0; i < 100; i++ {
					if next()%10 < 7 {
						sameX()
						n[4]++
					} else {
						sameY()
						n[5]++
					}
				}
			})
		case "burst":
			site, idx := burst1, 6
			if len(f) > 1 && f[1] == "b2" {
				site, idx = burst2, 7
			}
			n = run(arg(2), int(arg(3)), func(n *counts) {
				for i := 0; i < 100; i++ {
					site()
				}
				n[idx] += 100
			})
		case "idle":
			time.Sleep(time.Duration(arg(1) * float64(time.Second)))
		default:
			fmt.Fprintf(os.Stderr, "unknown command %q\n", f[0])
			continue
		}
		runtime.ReadMemStats(&after)
		sites := map[string]int{}
		for i, c := range n {
			if c > 0 {
				sites[siteNames[i]] = c
			}
		}
		out, _ := json.Marshal(map[string]any{
			"cmd":     f[0],
			"sites":   sites,
			"mallocs": after.Mallocs - before.Mallocs,
			"ms":      time.Since(t).Milliseconds(),
		})
		fmt.Println(string(out))
	}
}
