// Ground truth for the map and sync.Map memory reader
// (tracer-user/src/mapmem tests).
//
// Builds maps and sync.Maps in known shapes, then prints one JSON line:
// for each structure its header address (the *hmap / *maps.Map a map
// variable holds, the address of a heap-allocated sync.Map), len(m) and
// what the program itself counts, plus runtime.MemStats.HeapAlloc before
// building the big map and after building everything (after runtime.GC).
// Then it serves stdin commands, one per line:
//
//	drop NAME   runtime.GC; HeapAlloc; forget NAME; runtime.GC; HeapAlloc.
//	            Prints {"name":NAME,"heap_with":…,"heap_without":…}: the
//	            difference is the heap the structure kept alive.
//
// EOF exits. Everything is held in package variables until dropped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

const (
	bigN      = 1_000_000 // (a) inserted, then all deleted
	halfN     = 100_000   // (b) inserted, every other key deleted
	smallN    = 5         // (c)
	indirectN = 10_000    // (d) elems of 200 bytes (> 128: stored indirectly)
	syncN     = 10_000    // (e)(f)(g) keys stored
	syncK     = 100       // (e)(f)(g) keys kept
)

type bigKey [144]byte // > 128 bytes: stored indirectly

var (
	big         map[int][128]byte
	half        map[int]int
	small       map[int]int
	indirect    map[int][200]byte
	indirectKey map[bigKey]int
	growing     map[int]int
	syncDeleted *sync.Map
	syncPromote *sync.Map
	syncExpunge *sync.Map
)

type mapInfo struct {
	Addr uint64 `json:"addr"`
	// The *abi.MapType (what runtime.mapassign & co. get in RAX).
	Type uint64 `json:"type"`
	Len  int    `json:"len"`
	// Entries the program put in and did not delete.
	Live int `json:"live"`
	// Keys ever inserted.
	Inserted int `json:"inserted"`
}

type syncInfo struct {
	Addr uint64 `json:"addr"`
	// Keys still present, counted with Range.
	Live int `json:"live"`
	// Keys ever stored.
	Stored int `json:"stored"`
}

func mapAddr[K comparable, V any](m map[K]V) uint64 {
	return uint64(*(*uintptr)(unsafe.Pointer(&m)))
}

// mapType is the type word of the interface holding m: the map's
// *abi.Type, which is the start of its *abi.MapType.
func mapType(m any) uint64 {
	return uint64((*[2]uintptr)(unsafe.Pointer(&m))[0])
}

func heapAlloc() uint64 {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapAlloc
}

// gcHeap collects twice (the second cycle frees what finalizers or the
// first cycle's sweep left behind) and returns HeapAlloc, once it reads
// the same twice in a row (a runtime background allocation between two
// readings would otherwise count as part of a dropped structure).
func gcHeap() uint64 {
	prev := uint64(0)
	for i := 0; i < 10; i++ {
		runtime.GC()
		runtime.GC()
		h := heapAlloc()
		if h == prev {
			break
		}
		prev = h
	}
	return prev
}

func countSync(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}

// buildSync stores syncN keys, loads each `loads` times, deletes all but
// syncK. With loads ≥ 1 the read/dirty implementation (Go ≤ 1.23) has
// promoted the dirty map to the read map before the deletes, which then
// only nil out the entries: the keys stay in the read map.
func buildSync(loads int) *sync.Map {
	m := new(sync.Map)
	for i := 0; i < syncN; i++ {
		m.Store(i+1000, i) // ≥ 256: boxed, not from runtime.staticuint64s
	}
	for l := 0; l < loads; l++ {
		for i := 0; i < syncN; i++ {
			if _, ok := m.Load(i + 1000); !ok {
				panic("missing key")
			}
		}
	}
	for i := syncK; i < syncN; i++ {
		m.Delete(i + 1000)
	}
	return m
}

// growthThreshold is the len at which inserting one more key into a
// classic map with 2^b buckets starts growing it (runtime/map.go
// overLoadFactor: count > loadFactorNum*(2^b/loadFactorDen); 1.21's
// loadFactorNum truncates to 12, later ones are 13, loadFactorDen 2).
func growthThreshold(b uint) int {
	num := 13
	if strings.HasPrefix(runtime.Version(), "go1.21") {
		num = 12
	}
	return num * ((1 << b) / 2)
}

func main() {
	heapBefore := gcHeap()

	// (a) 1M inserts, all deleted: the buckets / tables stay.
	big = make(map[int][128]byte)
	var v128 [128]byte
	for i := 0; i < bigN; i++ {
		v128[0] = byte(i)
		big[i] = v128
	}
	for i := 0; i < bigN; i++ {
		delete(big, i)
	}
	heapAfterBig := gcHeap()

	// (b) every other key of 100k deleted.
	half = make(map[int]int)
	for i := 0; i < halfN; i++ {
		half[i] = i
	}
	halfLive := 0
	for i := 0; i < halfN; i++ {
		if i%2 == 1 {
			delete(half, i)
		} else {
			halfLive++
		}
	}

	// (c) small.
	small = make(map[int]int)
	for i := 0; i < smallN; i++ {
		small[i*7919] = i
	}

	// (d) indirect elems, 30% deleted; and indirect keys, 25% deleted.
	indirect = make(map[int][200]byte)
	var v200 [200]byte
	for i := 0; i < indirectN; i++ {
		v200[0] = byte(i)
		indirect[i] = v200
	}
	indirectLive := 0
	for i := 0; i < indirectN; i++ {
		if i%10 < 3 {
			delete(indirect, i)
		} else {
			indirectLive++
		}
	}
	indirectKey = make(map[bigKey]int)
	const indirectKeyN = 2000
	indirectKeyLive := 0
	for i := 0; i < indirectKeyN; i++ {
		var k bigKey
		k[0], k[1] = byte(i), byte(i>>8)
		indirectKey[k] = i
	}
	for i := 0; i < indirectKeyN; i++ {
		if i%4 == 0 {
			var k bigKey
			k[0], k[1] = byte(i), byte(i>>8)
			delete(indirectKey, k)
		} else {
			indirectKeyLive++
		}
	}

	// (g) a classic map caught growing: the insert that crosses the load
	// factor at 2^10 buckets starts a grow that moves 1–2 old buckets; no
	// later write, so it stays half-evacuated. (Swiss tables rehash at once.)
	growing = make(map[int]int)
	growingN := growthThreshold(10) + 1
	for i := 0; i < growingN; i++ {
		growing[i] = i
	}

	// (e) stored, loaded, all but syncK deleted.
	syncDeleted = buildSync(1)
	// (f) loaded 3 times (promoted to the read map for sure), then deleted.
	syncPromote = buildSync(3)
	// then one new key: the dirty map is rebuilt from the read map and the
	// deleted entries there become expunged.
	syncExpunge = buildSync(3)
	syncExpunge.Store(-1, -1)

	heapAll := gcHeap()

	out := map[string]any{
		"go_version":     runtime.Version(),
		"pid":            os.Getpid(),
		"heap_before":    heapBefore,
		"heap_after_big": heapAfterBig,
		"heap_all":       heapAll,
		"maps": map[string]mapInfo{
			"big":          {mapAddr(big), mapType(big), len(big), 0, bigN},
			"half":         {mapAddr(half), mapType(half), len(half), halfLive, halfN},
			"small":        {mapAddr(small), mapType(small), len(small), smallN, smallN},
			"indirect":     {mapAddr(indirect), mapType(indirect), len(indirect), indirectLive, indirectN},
			"indirect_key": {mapAddr(indirectKey), mapType(indirectKey), len(indirectKey), indirectKeyLive, indirectKeyN},
			"growing":      {mapAddr(growing), mapType(growing), len(growing), growingN, growingN},
		},
		"sync": map[string]syncInfo{
			"deleted":  {uint64(uintptr(unsafe.Pointer(syncDeleted))), countSync(syncDeleted), syncN},
			"promoted": {uint64(uintptr(unsafe.Pointer(syncPromote))), countSync(syncPromote), syncN},
			// Not counted with Range: on Go ≤ 1.23 Range promotes the dirty
			// map (read.amended is set here), which drops the expunged keys.
			"expunged": {uint64(uintptr(unsafe.Pointer(syncExpunge))), syncK + 1, syncN + 1},
		},
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		name, ok := strings.CutPrefix(in.Text(), "drop ")
		if !ok {
			fmt.Println(`{"error":"unknown command"}`)
			continue
		}
		with := gcHeap()
		switch name {
		case "big":
			big = nil
		case "half":
			half = nil
		case "small":
			small = nil
		case "indirect":
			indirect = nil
		case "indirect_key":
			indirectKey = nil
		case "growing":
			growing = nil
		case "deleted":
			syncDeleted = nil
		case "promoted":
			syncPromote = nil
		case "expunged":
			syncExpunge = nil
		default:
			fmt.Printf("{\"error\":%q}\n", "unknown name "+name)
			continue
		}
		without := gcHeap()
		fmt.Printf("{\"name\":%q,\"heap_with\":%d,\"heap_without\":%d}\n", name, with, without)
	}
	runtime.KeepAlive(big)
	runtime.KeepAlive(half)
	runtime.KeepAlive(small)
	runtime.KeepAlive(indirect)
	runtime.KeepAlive(indirectKey)
	runtime.KeepAlive(growing)
	runtime.KeepAlive(syncDeleted)
	runtime.KeepAlive(syncPromote)
	runtime.KeepAlive(syncExpunge)
}
