// loadgen is a closed-loop HTTP/1.1 load generator for the bench's
// time-locked measure: -c keep-alive connections each send a GET and read
// the answer (Content-Length bodies), and every -bin it prints one line,
// "<unix µs> <requests completed in the bin>". Unlike wrk's totals, the
// bins can be laid over the tracer's window times, so what each window
// cost the service is seen against the service's own pace just before and
// after it, whatever the host's speed does over seconds.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port")
	path := flag.String("path", "/order", "path to GET")
	conns := flag.Int("c", 8, "connections")
	dur := flag.Duration("d", 20*time.Second, "duration")
	bin := flag.Duration("bin", 10*time.Millisecond, "bin width")
	flag.Parse()
	var done atomic.Int64
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: loadgen\r\n\r\n")
	for i := 0; i < *conns; i++ {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		go serve(c, req, &done)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	start := time.Now()
	last := int64(0)
	for t := start.Add(*bin); time.Since(start) < *dur; t = t.Add(*bin) {
		time.Sleep(time.Until(t))
		now := done.Load()
		fmt.Fprintf(w, "%d %d\n", time.Now().UnixMicro(), now-last)
		last = now
	}
}

func serve(c net.Conn, req []byte, done *atomic.Int64) {
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		if _, err := c.Write(req); err != nil {
			fail(err)
		}
		n := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				fail(err)
			}
			if line == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if _, err := r.Discard(n); err != nil {
			fail(err)
		}
		done.Add(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}
