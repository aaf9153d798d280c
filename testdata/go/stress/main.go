// stress does a fixed, deterministic amount of work per round (allocations,
// maps, string building, goroutines and channels) and prints the round's
// checksum, which must not change whether or not a tracer attaches and
// detaches meanwhile. Runs the number of rounds given as argument, or
// without one until stdin is closed.
package main

import (
	"fmt"
		"hash/fnv"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
		"sync"
	"sync/atomic"
)

type item struct {
	key  string
	vals []int
	next *item
}

//go:noinline
func round(seed int) uint64 {
	h := fnv.New64a()
	m := make(map[string]*item)
	var head *item
	for i := 0; i < 2000; i++ {
		k := "k" + strconv.Itoa((i*7919+seed)%1500)
		it := &item{key: k, vals: make([]int, i%17+1), next: head}
		for j := range it.vals {
			it.vals[j] = i * j
		}
		head = it
		m[k] = it
		if i%3 == 0 {
			delete(m, "k"+strconv.Itoa(i%1500))
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(strconv.Itoa(len(m[k].vals)))
	}
	h.Write([]byte(b.String()))
	// Goroutines that allocate and report through a channel.
	var wg sync.WaitGroup
	results := make(chan int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := 0
			for i := 0; i < 500; i++ {
				buf := make([]byte, 64+i%200)
				buf[0] = byte(g + i)
				s += int(buf[0])
			}
			results <- s
		}(g)
	}
	wg.Wait()
	close(results)
	total := 0
	for s := range results {
		total += s
	}
	fmt.Fprintf(h, "%d", total)
	return h.Sum64()
}

func main() {
		rounds := -1
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	var stop atomic.Bool
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	fmt.Printf("READY %d\n", os.Getpid())
	for r := 0; r != rounds && !(rounds < 0 && stop.Load()); r++ {
		fmt.Printf("round %d checksum %x\n", r, round(r%10))
	}
}
