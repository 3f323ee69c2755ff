package mux

import (
	"runtime"
	"testing"
)

// TestReserveProcs: GOMAXPROCS stays above every engine thread running, over engines that
// overlap, and goes back to what it was when the last one stops; a release twice counts once.
func TestReserveProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(base)
	relA := reserveProcs(base)
	if got := runtime.GOMAXPROCS(0); got != base+1 {
		t.Fatalf("%d threads on %d procs: GOMAXPROCS %d, want %d", base, base, got, base+1)
	}
	relB := reserveProcs(2)
	if got := runtime.GOMAXPROCS(0); got != base+3 {
		t.Fatalf("two engines, %d threads: GOMAXPROCS %d, want %d", base+2, got, base+3)
	}
	relA()
	relA()
	if got := runtime.GOMAXPROCS(0); got != base+3 {
		t.Errorf("one engine still running: GOMAXPROCS %d, want %d kept", got, base+3)
	}
	relB()
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("no engine running: GOMAXPROCS %d, want %d back", got, base)
	}
}
