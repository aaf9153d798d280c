// httpapi is a small net/http JSON API, the shape of service the default
// mode must be safe on: each request decodes a JSON body, builds a map
// literal, stores into a sync.Map and encodes a JSON answer. It listens on
// 127.0.0.1 (an ephemeral port), prints "READY <pid> <port>", and serves
// its own ground truth on GET /stats (MemStats, NumGoroutine, requests).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

type order struct {
	ID    int      `json:"id"`
	Items []string `json:"items"`
	Total float64  `json:"total"`
}

type answer struct {
	ID     int               `json:"id"`
	Status string            `json:"status"`
	Tags   map[string]string `json:"tags"`
	Count  int               `json:"count"`
}

var (
	store    sync.Map
	requests atomic.Int64
)

func handleOrder(w http.ResponseWriter, r *http.Request) {
	n := requests.Add(1)
	var o order
	if r.Body != nil && r.ContentLength > 0 {
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	} else {
		o = order{ID: int(n), Items: []string{"a", "b", "c"}, Total: float64(n%100) + 0.5}
	}
	tags := map[string]string{
		"id":    strconv.Itoa(o.ID),
		"items": strconv.Itoa(len(o.Items)),
		"shard": strconv.Itoa(int(n % 16)),
	}
	// A bounded store: keys cycle, so the sync.Map stays the same size.
	store.Store(n%1024, &o)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer{ID: o.ID, Status: "ok", Tags: tags, Count: len(o.Items)})
}

func handleStats(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]uint64{
		"requests":      uint64(requests.Load()),
		"mallocs":       ms.Mallocs,
		"total_alloc":   ms.TotalAlloc,
		"heap_alloc":    ms.HeapAlloc,
		"num_gc":        uint64(ms.NumGC),
		"num_goroutine": uint64(runtime.NumGoroutine()),
	})
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/order", handleOrder)
	mux.HandleFunc("/stats", handleStats)
	fmt.Printf("READY %d %d\n", os.Getpid(), ln.Addr().(*net.TCPAddr).Port)
	_ = http.Serve(ln, mux)
}
