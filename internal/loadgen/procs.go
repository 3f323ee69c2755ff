package loadgen

import (
	"net/netip"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A run in the per-op mode runs Go's scheduler on one P (GOMAXPROCS=1) while it lasts.
//
// A connect, a lookup and a close park the worker's goroutine three times or more (the server's
// answer to the startup message, each authentication round trip, the query's reply). With a
// second P, each time a parked goroutine becomes runnable the runtime wakes another thread to
// spin looking for work, which finds none and sleeps again: 12-15 context switches per connect
// at 1 and 8 workers on 2 cores, against pgbench -C's 1.2-2.3. On one P, 5-7 remain, and the
// client's CPU per connect falls by 15-30% (perf stat, loadgen/README.md). One P still serves
// thousands of connects a second, several times what a PostgreSQL backend's fork per connection
// lets a server accept; the prepared lookups of the other modes, where it did not pay, keep every
// P.
//
// Only where the server shares the machine (a Unix socket or a loopback address): there every
// cycle the client spends is one the server does not get. Against a server elsewhere the client's
// CPU is its own, and one P could become the limit (a SCRAM exchange at PostgreSQL's default
// 4,096 iterations costs the client milliseconds per connect), so every P is kept.
//
// GOMAXPROCS belongs to the process: overlapping per-op runs share one lowering, and the last to
// end restores the setting found by the first.
var procs struct {
	sync.Mutex
	users int
	saved int
}

// serverOnThisMachine reports whether every host cc connects to is a Unix socket or a loopback
// address (an IP, or the name localhost).
func serverOnThisMachine(cc *pgx.ConnConfig) bool {
	if cc == nil {
		return false
	}
	local := func(host string) bool {
		if strings.HasPrefix(host, "/") || host == "localhost" {
			return true
		}
		ip, err := netip.ParseAddr(host)
		return err == nil && ip.IsLoopback()
	}
	if !local(cc.Host) {
		return false
	}
	for _, fb := range cc.Fallbacks {
		if !local(fb.Host) {
			return false
		}
	}
	return true
}

// oneProc lowers GOMAXPROCS to 1 until the returned func is called.
func oneProc() (restore func()) {
	procs.Lock()
	defer procs.Unlock()
	if procs.users == 0 {
		procs.saved = runtime.GOMAXPROCS(1)
	}
	procs.users++
	return func() {
		procs.Lock()
		defer procs.Unlock()
		procs.users--
		if procs.users == 0 {
			// Setting GOMAXPROCS turns off the runtime's own (it follows the CPU limit of a
			// container as it changes). Hand it back, and set the figure found only when that
			// was someone's own setting.
			runtime.SetDefaultGOMAXPROCS()
			if runtime.GOMAXPROCS(0) != procs.saved {
				runtime.GOMAXPROCS(procs.saved)
			}
		}
	}
}
