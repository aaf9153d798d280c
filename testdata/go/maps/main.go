// maps exercises Go maps and a sync.Map in ways the tracer must diagnose
// (incidents I1, I2, I3, I6) and prints the program's own ground truth.
//
// Before "READY": a map[int][128]byte gets 1,000,000 inserts, all deleted
// (incident I2: the map never shrinks). Protocol: prints "READY <pid>";
// each "phase" line on stdin runs the next phase and prints one JSON line;
// exits on EOF. Everything stays reachable so its memory can be read.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

const (
	bigN     = 1_000_000
	halfN    = 2000
	syncN    = 2000
	syncK    = 100
	syncMiss = 100
	zeroN    = 50
	growN    = 20000
)

var (
	big      map[int][128]byte
	half     map[int]int
	grow     map[int][64]byte
	sm       sync.Map
	heapBase uint64
	heapKept uint64
)

func addr(m any) uintptr {
	// A map is pointer-shaped: the interface's data word is the header pointer.
	return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&m))[1])
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

//go:noinline
func makeBig() {
	big = make(map[int][128]byte)
	for i := 0; i < bigN; i++ {
		big[i] = [128]byte{1}
	}
	for i := 0; i < bigN; i++ {
		delete(big, i)
	}
}

// touchBig is the first operation on big the tracer sees: a one-result
// read (mapaccess1_fast64, which Go 1.27 forwards to mapaccess2_fast64,
// both probed).
//
//go:noinline
func touchBig() bool {
	v := big[7]
	return v[0] == 1
}

//go:noinline
func makeHalf() {
	half = make(map[int]int)
	for i := 0; i < halfN; i++ {
		half[i] = i
	}
	for i := 1; i < halfN; i += 2 {
		delete(half, i)
	}
}

//go:noinline
func makeGrow() {
	grow = make(map[int][64]byte)
	for i := 0; i < growN; i++ {
		grow[i] = [64]byte{byte(i)}
	}
}

type syncTruth struct {
	Addr       uintptr `json:"addr"`
	Stores     int     `json:"stores"`
	ZeroStores int     `json:"zero_stores"`
	Loads      int     `json:"loads"`
	LoadMisses int     `json:"load_misses"`
	Deletes    int     `json:"deletes"`
	Ranges     int     `json:"ranges"`
	Visited    int     `json:"visited"`
	Live       int     `json:"live"`
}

//go:noinline
func useSyncMap() syncTruth {
	t := syncTruth{Addr: uintptr(unsafe.Pointer(&sm))}
	for i := 0; i < syncN; i++ {
		sm.Store(i, i)
		t.Stores++
		if i == 0 {
			t.ZeroStores++ // the int 0 is a zero value too
		}
	}
	for i := 0; i < syncN+syncMiss; i++ {
		if _, ok := sm.Load(i); !ok {
			t.LoadMisses++
		}
		t.Loads++
	}
	for i := syncK; i < syncN; i++ {
		sm.Delete(i)
		t.Deletes++
	}
	sm.Range(func(k, v any) bool { t.Visited++; return true })
	t.Ranges++
	for i := 0; i < zeroN; i++ {
		sm.Store(100000+i, "")
		t.Stores++
		t.ZeroStores++
	}
	// Live by construction: a Range here would promote the dirty map
	// (Go ≤ 1.23) and drop the deleted keys the tracer must see.
	t.Live = syncK + zeroN
	return t
}

type result struct {
	GoVersion string    `json:"go_version"`
	BigAddr   uintptr   `json:"big_addr"`
	BigLen    int       `json:"big_len"`
	BigTouch  bool      `json:"big_touch"`
	HeapKept  uint64    `json:"heap_kept"`
	HalfAddr  uintptr   `json:"half_addr"`
	HalfLen   int       `json:"half_len"`
	HalfSets  int       `json:"half_assigns"`
	HalfDels  int       `json:"half_deletes"`
	GrowAddr  uintptr   `json:"grow_addr"`
	GrowLen   int       `json:"grow_len"`
	Sync      syncTruth `json:"sync"`
}

func main() {
	heapBase = heapAlloc()
	makeBig()
	heapKept = heapAlloc() - heapBase
	fmt.Printf("READY %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "phase" {
			continue
		}
		r := result{GoVersion: runtime.Version()}
		r.BigTouch = touchBig()
		makeHalf()
		makeGrow()
		r.Sync = useSyncMap()
		r.BigAddr, r.BigLen, r.HeapKept = addr(big), len(big), heapKept
		r.HalfAddr, r.HalfLen = addr(half), len(half)
		r.HalfSets, r.HalfDels = halfN, halfN/2
		r.GrowAddr, r.GrowLen = addr(grow), len(grow)
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
	runtime.KeepAlive(big)
}
