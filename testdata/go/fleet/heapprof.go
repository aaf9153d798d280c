//go:build heapprof

// Built with -tags heapprof the program can write a heap profile, so the
// linker keeps the runtime's heap profile on (MemProfileRate 512 KiB) and
// each report adds the program's own in-use bytes per function of
// package main, from runtime.MemProfile scaled as runtime/pprof scales.
package main

import (
	"math"
	"runtime"
	"strings"
)

func init() { ownInuse = inuseByFunction }

func inuseByFunction() map[string]int64 {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	out := map[string]int64{}
	for _, r := range recs {
		count, bytes := r.InUseObjects(), r.InUseBytes()
		if count == 0 {
			continue
		}
		size := float64(bytes) / float64(count)
		scale := 1 / (1 - math.Exp(-size/rate))
		site := "?"
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasPrefix(f.Function, "main.") {
				site = f.Function
				break
			}
			if !more {
				break
			}
		}
		out[site] += int64(float64(bytes) * scale)
	}
	return out
}
