//go:build !noprofile

package main

import (
	"math"
	"runtime"
	"strings"
)

// ownProfile is the process's own heap profile (what /debug/pprof/heap
// reports: runtime.MemProfile with every record, scaled as pprof scales),
// summed by the first frame in package main. Calling runtime.MemProfile
// keeps the profile on (the linker switches it off when nothing can).
func ownProfile() map[string]map[string]int64 {
	var p []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		p = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		n, ok = runtime.MemProfile(p, true)
		if ok {
			p = p[:n]
			break
		}
	}
	rate := int64(runtime.MemProfileRate)
	out := map[string]map[string]int64{}
	for _, r := range p {
		site := ""
		frames := runtime.CallersFrames(r.Stack())
		for {
			fr, more := frames.Next()
			if strings.HasPrefix(fr.Function, "main.") {
				site = fr.Function
				break
			}
			if !more {
				break
			}
		}
		if site == "" {
			continue
		}
		ao, ab := scale(r.AllocObjects, r.AllocBytes, rate)
		io, ib := scale(r.InUseObjects(), r.InUseBytes(), rate)
		s := out[site]
		if s == nil {
			s = map[string]int64{}
			out[site] = s
		}
		s["alloc_objects"] += ao
		s["alloc_bytes"] += ab
		s["inuse_objects"] += io
		s["inuse_bytes"] += ib
	}
	return out
}

// scale is runtime/pprof's scaleHeapSample.
func scale(count, size, rate int64) (int64, int64) {
	if count == 0 || size == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, size
	}
	avg := float64(size) / float64(count)
	s := 1 / (1 - math.Exp(-avg/float64(rate)))
	return int64(float64(count) * s), int64(float64(size) * s)
}
