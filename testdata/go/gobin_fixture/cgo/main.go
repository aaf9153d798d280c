// Cgo variant of the gobin fixture: linked by the external linker, so the
// C runtime code comes before runtime.text in .text and the binary depends
// on libc. Used by tracer-user/src/gobin tests for has_cgo and text-start
// detection.
package main

// static int twice(int x) { return 2 * x; }
import "C"

import "fmt"

//go:noinline
func viaC(x int) int {
	return int(C.twice(C.int(x))) // line 14
}

func main() {
	fmt.Println(viaC(21))
}
