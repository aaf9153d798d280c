// Fixture for tracer-user/src/golayout tests: the test builds this program
// with every Go toolchain and checks the golayout tables against its DWARF.
// Each construct below is here so that the runtime types and functions the
// tables describe are linked into the binary (dead code is not).
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// point is a struct key, so map operations go through the generic
// runtime.mapassign / mapaccess1 / mapaccess2 / mapdelete (not the
// _fast32/_fast64/_faststr variants whose arguments differ).
type point struct {
	x, y int
}

var sink any

//go:noinline
func useMap(n int) int {
	m := make(map[point]int, n) // hint > 8: runtime.makemap
	for i := 0; i < n; i++ {
		m[point{i, i}] = i // runtime.mapassign
	}
	delete(m, point{1, 1}) // runtime.mapdelete
	sum := m[point{2, 2}]  // runtime.mapaccess1
	if v, ok := m[point{3, 3}]; ok {
		sum += v // runtime.mapaccess2
	}
	for k, v := range m { // map iteration
		sum += k.x + v
	}
	sink = m // escape: the map lives on the heap
	return sum
}

//go:noinline
func useSyncMap(n int) int {
	var sm sync.Map
	for i := 0; i < n; i++ {
		sm.Store(i, i)
	}
	sm.Delete(1)
	sum := 0
	if v, ok := sm.Load(2); ok {
		sum += v.(int)
	}
	sm.Range(func(k, v any) bool {
		sum += k.(int) + v.(int)
		return true
	})
	sink = &sm
	return sum
}

//go:noinline
func useGoroutines(n int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ch := make(chan int)
	total := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) { // runtime.newproc / newproc1
			defer wg.Done()
			mu.Lock()
			total += i
			mu.Unlock()
			select {
			case ch <- i:
			case <-time.After(time.Millisecond):
			}
		}(i)
	}
	go func() {
		wg.Wait()
		close(ch)
	}()
	for v := range ch {
		total += v
	}
	return total
}

func main() {
	n := 16 + len(os.Args)
	fmt.Println(useMap(n), useSyncMap(n), useGoroutines(n))
}
