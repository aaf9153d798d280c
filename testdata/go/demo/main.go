// demo is a small service-shaped workload for `cargo xtask demo`: request
// handlers that parse, log, read bodies the I8 way and cache results.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

type order struct {
	ID    int      `json:"id"`
	Items []string `json:"items"`
	Total float64  `json:"total"`
}

var (
	cacheMu sync.Mutex
	cache   = map[int]*order{}
	logs    [][]byte
)

//go:noinline
func parseOrder(id int) *order {
	body := fmt.Sprintf(`{"id":%d,"items":["a","b","c"],"total":%d.5}`, id, id%100)
	var o order
	_ = json.Unmarshal([]byte(body), &o)
	return &o
}

//go:noinline
func readHeader(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, 3))
	return b
}

//go:noinline
func logLine(o *order) {
	line := []byte(fmt.Sprintf("order %d total %.2f items %s", o.ID, o.Total, strings.Join(o.Items, ",")))
	logs = append(logs, line)
	if len(logs) > 1000 {
		logs = logs[:0]
	}
}

//go:noinline
func handle(id int) {
	o := parseOrder(id)
	_ = readHeader(strings.NewReader("v1 payload"))
	logLine(o)
	cacheMu.Lock()
	cache[id%5000] = o
	cacheMu.Unlock()
}

func main() {
	fmt.Printf("demo workload: pid %d\n", os.Getpid())
	id := 0
	for {
		// ~2,000 requests/s in bursts: enough to show, cheap to trace.
		for i := 0; i < 200; i++ {
			handle(id)
			id++
		}
		time.Sleep(100 * time.Millisecond)
	}
}
