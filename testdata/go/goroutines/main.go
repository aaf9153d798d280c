// Goroutine census fixture for tracer-user/src/goroutines tests.
//
// Starts goroutines at four known `go` statements (sites), each kind parked
// in a known way, and reports what the runtime itself counts so a test can
// compare an external reading of runtime.allgs with the program's own view:
//
//   - ticker: blocked forever on <-t.C of a stopped time.Ticker (the classic
//     leak that never shows in heap diffs: the goroutine holds little memory);
//   - select: blocked in select {};
//   - sleep:  in time.Sleep;
//   - worker: blocked receiving from a channel until told to exit.
//
// Protocol: prints "READY <pid>" and then a JSON stats line. Commands on
// stdin, one per line: "leak N" (N more ticker goroutines), "exit N" (N
// workers return), "stats"; each answers with a JSON stats line once the
// runtime's goroutine count has settled. EOF exits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type site struct {
	Site  string `json:"site"` // file:line of the go statement
	Count int    `json:"count"`
}

var (
	sites   = map[string]*site{}
	quit    = make(chan struct{}, 1<<16)
	exited  = make(chan struct{}, 1<<16)
	workers int
)

// here returns "file:line" of the line after the caller's call, which is
// where each start function puts its go statement.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return filepath.Base(file) + ":" + strconv.Itoa(line+1)
}

func count(kind, where string, n int) {
	s := sites[kind]
	if s == nil {
		s = &site{Site: where}
		sites[kind] = s
	}
	s.Count += n
}

func startTickerLeak(n int) {
	for i := 0; i < n; i++ {
		t := time.NewTicker(time.Hour)
		t.Stop() // Stop does not close C: the receiver below waits forever.
		where := here()
		go func() { <-t.C }()
		count("ticker", where, 1)
	}
}

func startSelect(n int) {
	for i := 0; i < n; i++ {
		where := here()
		go func() { select {} }()
		count("select", where, 1)
	}
}

func startSleep(n int) {
	for i := 0; i < n; i++ {
		where := here()
		go func() { time.Sleep(24 * time.Hour) }()
		count("sleep", where, 1)
	}
}

func startWorkers(n int) {
	for i := 0; i < n; i++ {
		where := here()
		go func() { <-quit; exited <- struct{}{} }()
		count("worker", where, 1)
	}
	workers += n
}

func expected() int {
	n := 1 // main
	for _, s := range sites {
		n += s.Count
	}
	return n
}

// stats waits until runtime.NumGoroutine agrees with what was started (new
// goroutines are counted at creation, exited ones only once they are freed),
// then prints the JSON line.
func stats() {
	want := expected()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Let every new goroutine reach its parking point.
	time.Sleep(50 * time.Millisecond)
	out, _ := json.Marshal(map[string]any{
		"num_goroutine": runtime.NumGoroutine(),
		"expected":      want,
		"sites":         sites,
	})
	fmt.Println(string(out))
}

func main() {
	startTickerLeak(50)
	startSelect(20)
	startSleep(10)
	startWorkers(15)
	fmt.Printf("READY %d\n", os.Getpid())
	stats()

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		n := 0
		if len(f) > 1 {
			n, _ = strconv.Atoi(f[1])
		}
		switch f[0] {
		case "leak":
			startTickerLeak(n)
		case "exit":
			n = min(n, workers)
			for i := 0; i < n; i++ {
				quit <- struct{}{}
			}
			for i := 0; i < n; i++ {
				<-exited
			}
			workers -= n
			count("worker", "", -n)
		case "stats":
		default:
			fmt.Fprintf(os.Stderr, "unknown command %q\n", f[0])
		}
		stats()
	}
}
