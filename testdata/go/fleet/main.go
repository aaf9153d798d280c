// Fleet agent fixture: a quiet Go process whose runtime figures the agent
// reads from outside, printing its own figures for comparison.
//
// It keeps KEEP objects of 1 KiB and parks GOROUTINES goroutines, sets
// GOGC and GOMEMLIMIT from its flags, runs a GC and prints "READY <pid>".
// Each command line then does its work and prints one JSON line with
// runtime.MemStats (read after the work), NumGoroutine, the GOGC and
// GOMEMLIMIT that runtime/metrics reports and its own RSS (smaps_rollup).
// Between commands it does nothing at all (no timers, no allocation), so
// what is read from outside later equals what it printed.
//
// Commands: "report"; "grow N" (keep N more 1 KiB objects); "spawn N" (N
// more parked goroutines); "release" (drop everything kept, GC); "free"
// (release, then debug.FreeOSMemory); "gogc P"; "limit BYTES". EOF exits.
//
// With -leak-every D it is not quiet: every D it parks one more goroutine
// (at main.leakOne) and keeps 1 MiB more (at main.leakHeap), then runs a
// GC: a leak the agent's findings must name. With -churn N it allocates
// N objects a millisecond at main.churnSmall (48 B) and main.churnBig
// (512 B), 3:1, counting them. With -hold N it keeps N objects of 1 KiB a
// millisecond at main.holdOne, counting them: memory a site holds. With
// -bigmap N it fills a map with N entries at main.makeBigMap, deletes all
// but 100 (a Go map keeps its memory: incident I2) and looks keys up in it
// every millisecond at main.lookBigMap (its length is "big_map_len").
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Set by heapprof.go (-tags heapprof): in-use bytes per function.
var ownInuse func() map[string]int64

var (
	kept  [][]byte
	park  = make(chan struct{})
	parks int
)

func grow(n int) {
	for i := 0; i < n; i++ {
		b := make([]byte, 1024)
		b[i%1024] = 1 // resident, not a page the kernel never gave
		kept = append(kept, b)
	}
}

func spawn(n int) {
	for i := 0; i < n; i++ {
		parks++
		go func() { <-park }()
	}
}

var (
	leaked [][]byte
	sink   any
	// Objects allocated by churnSmall / churnBig, and since when.
	churned [2]atomic.Int64
	// Objects kept by holdOne (only the hold goroutine touches held).
	held    [][]byte
	holds   atomic.Int64
	started = time.Now()
)

//go:noinline
func churnSmall() { sink = new([48]byte) }

//go:noinline
func churnBig() { sink = new([512]byte) }

// churn allocates at two sites, 3:1 by count, about `per` objects a
// millisecond, until the program ends.
func churn(per int) {
	for {
		for i := 0; i < per*3/4; i++ {
			churnSmall()
		}
		for i := 0; i < per/4; i++ {
			churnBig()
		}
		churned[0].Add(int64(per * 3 / 4))
		churned[1].Add(int64(per / 4))
		time.Sleep(time.Millisecond)
	}
}

//go:noinline
func holdOne() { held = append(held, make([]byte, 1024)) }

// hold keeps about `per` objects of 1 KiB a millisecond until the program
// ends.
func hold(per int) {
	for {
		for i := 0; i < per; i++ {
			holdOne()
		}
		holds.Add(int64(per))
		time.Sleep(time.Millisecond)
	}
}

func leakHeap() {
	for i := 0; i < 1024; i++ {
		leaked = append(leaked, make([]byte, 1024))
	}
}

func leakOne() {
	parks++
	go func() { <-park }()
}

func leak(every time.Duration) {
	for range time.Tick(every) {
		leakOne()
		leakHeap()
		runtime.GC()
	}
}

var bigMap map[int64][56]byte

//go:noinline
func makeBigMap(n int) {
	bigMap = make(map[int64][56]byte)
	for i := 0; i < n; i++ {
		bigMap[int64(i)] = [56]byte{1}
	}
	for i := 100; i < n; i++ {
		delete(bigMap, int64(i))
	}
}

var bigMapHits atomic.Int64

//go:noinline
func lookBigMap(k int64) {
	if _, ok := bigMap[k]; ok {
		bigMapHits.Add(1)
	}
}

func touchBigMap() {
	for k := int64(0); ; k = (k + 1) % 200 {
		lookBigMap(k)
		time.Sleep(time.Millisecond)
	}
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "Rss:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func report() {
	runtime.Gosched()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := map[string]any{
		"heap_alloc":    ms.HeapAlloc,
		"heap_objects":  ms.HeapObjects,
		"mallocs":       ms.Mallocs,
		"frees":         ms.Frees,
		"total_alloc":   ms.TotalAlloc,
		"heap_released": ms.HeapReleased,
		"num_gc":        ms.NumGC,
		"goroutines":    runtime.NumGoroutine(),
		"gogc":          int64(s[0].Value.Uint64()),
		"memory_limit":  s[1].Value.Uint64(),
		"rss":           rssBytes(),
		"go_version":    runtime.Version(),
		"pid":           os.Getpid(),
		"churn_small":   churned[0].Load(),
		"churn_big":     churned[1].Load(),
		"held":          holds.Load(),
		"uptime_ns":     time.Since(started).Nanoseconds(),
		"big_map_len":   len(bigMap),
	}
	if ownInuse != nil {
		out["own_inuse"] = ownInuse()
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(append(b, '\n'))
}

func main() {
	keep := flag.Int("keep", 20000, "1 KiB objects kept")
	gs := flag.Int("goroutines", 10, "parked goroutines")
	gogc := flag.Int("gogc", 100, "GOGC")
	limit := flag.Int64("limit", -1, "GOMEMLIMIT in bytes (-1: none)")
	leakEvery := flag.Duration("leak-every", 0, "leak a goroutine and 1 MiB this often")
	churnPer := flag.Int("churn", 0, "allocate this many objects a millisecond at two sites (3:1)")
	holdPer := flag.Int("hold", 0, "keep this many 1 KiB objects a millisecond at main.holdOne")
	bigMapN := flag.Int("bigmap", 0, "fill a map with this many entries, delete all but 100, look it up every ms")
	flag.Parse()
	debug.SetGCPercent(*gogc)
	if *limit >= 0 {
		debug.SetMemoryLimit(*limit)
	}
	grow(*keep)
	spawn(*gs)
	if *bigMapN > 0 {
		makeBigMap(*bigMapN)
		go touchBigMap()
	}
	runtime.GC()
	if *leakEvery > 0 {
		go leak(*leakEvery)
	}
	if *churnPer > 0 {
		go churn(*churnPer)
	}
	if *holdPer > 0 {
		go hold(*holdPer)
	}
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		arg := func() int64 {
			if len(f) < 2 {
				return 0
			}
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
		switch {
		case len(f) == 0:
		case f[0] == "grow":
			grow(int(arg()))
		case f[0] == "spawn":
			spawn(int(arg()))
		case f[0] == "release":
			kept = nil
			runtime.GC()
		case f[0] == "free":
			kept = nil
			runtime.GC()
			debug.FreeOSMemory()
		case f[0] == "gogc":
			debug.SetGCPercent(int(arg()))
		case f[0] == "limit":
			debug.SetMemoryLimit(arg())
		}
		report()
	}
	close(park)
}
