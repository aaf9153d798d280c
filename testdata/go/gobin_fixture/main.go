// Fixture for tracer-user/src/gobin tests, which rely on the line numbers
// below (LINE_* in gobin/tests/harness.rs): keep them when editing.
package main

import (
	"fmt"
	"os"
	"runtime"
)

//go:noinline
func noInlineLeaf(x int) int {
	return x*3 + 1 // line 13
}

// addSmall is tiny, so the compiler inlines it into sumTo (checked with
// `go build -gcflags=-m`: "can inline addSmall" / "inlining call to addSmall").
func addSmall(a, b int) int {
	return a + b*2 // line 19
}

//go:noinline
func sumTo(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s = addSmall(s, i) // line 26
	}
	return s
}

// threeReturns has exactly three return statements; the compiler emits one
// RET instruction for each.
//
//go:noinline
func threeReturns(x int) int {
	if x < 0 {
		return -1
	}
	if x == 0 {
		return 0
	}
	return x + 7
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "frames" {
		printFrames(outerWalker())
		return
	}
	n := len(os.Args)
	fmt.Println(noInlineLeaf(n), sumTo(n+10), threeReturns(n-2))
}

// The functions below give the tests the runtime's own view of a stack
// with two levels of inlining (runtime.CallersFrames), to check symbolize
// on return addresses. `go build -gcflags=-m` reports "inlining call to
// inlinedMiddle" and "inlining call to inlinedInner".

//go:noinline
func callersHere() []uintptr {
	pcs := make([]uintptr, 32)
	return pcs[:runtime.Callers(1, pcs)]
}

func inlinedInner() []uintptr {
	return callersHere()
}

func inlinedMiddle() []uintptr {
	return inlinedInner()
}

//go:noinline
func outerWalker() []uintptr {
	return inlinedMiddle()
}

// printFrames prints "entry <runtime entry of callersHere>", one "pc" line
// per return address and one "frame function\tfile\tline" line per frame.
func printFrames(pcs []uintptr) {
	fmt.Printf("entry %#x\n", runtime.FuncForPC(pcs[0]).Entry())
	for _, pc := range pcs {
		fmt.Printf("pc %#x\n", pc)
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		fmt.Printf("frame %s\t%s\t%d\n", f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
}
