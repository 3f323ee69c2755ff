package harnesstest

import (
	"flag"
	"fmt"
	"strconv"
)

// RunAtOnce makes n the default of go test's -parallel for the test binary: how many of its
// parallel tests run at once (go test's own default is GOMAXPROCS, 2 on a 2-core machine). It is
// for a package whose tests spend their time waiting on locks, timeouts and paced load, not on
// the CPU, so that they wait together. A -parallel given on the command line still wins. Call it
// from TestMain, before Main.
func RunAtOnce(n int) {
	f := flag.Lookup("test.parallel")
	if f == nil {
		panic("harnesstest.RunAtOnce: no test.parallel flag; call it from TestMain")
	}
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		panic(fmt.Sprintf("harnesstest.RunAtOnce(%d): %v", n, err))
	}
	f.DefValue = strconv.Itoa(n)
}
