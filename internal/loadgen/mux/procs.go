package mux

import (
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How an engine thread waits, and what that asks of Go's scheduler.
//
// A thread waits for its connections in epoll_wait made as a raw system call: it keeps its P
// (Go's right to run Go code) while it waits. Made as an ordinary system call, the wait gives the
// P up; when every P was given up that way, Go's sysmon took each one back and started a spare
// thread that found no work, every time (two engine threads on 2 cores: 35% more client CPU per
// lookup than one thread, loadgen/README.md). A thread that keeps its P needs the process to have
// one more P than there are engine threads, for the rest of the program (the timeline, the
// sampler, reconnects): reserveProcs raises GOMAXPROCS for the run.
//
// A raw wait is invisible to the scheduler, so it is bounded: a stop-the-world (the garbage
// collector's) signals the thread, which ends epoll_wait with EINTR, and at worst waits out
// maxRawWaitMs when signals are off (GODEBUG=asyncpreemptoff=1).

// maxRawWaitMs bounds one raw epoll_wait, in ms.
const maxRawWaitMs = 10

// epollWait is epoll_wait(2) (as epoll_pwait with no signal mask, which every Linux architecture
// has) without telling Go's scheduler, for at most maxRawWaitMs.
func epollWait(epfd int, events []unix.EpollEvent, ms int) (int, error) {
	ms = min(ms, maxRawWaitMs)
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(ms), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// DefaultThreads is how many engine threads serve conns connections when Config.Threads is 0:
// one per CPU the process may use (GOMAXPROCS), as pgbench -j with a thread per core, and never
// more than the connections.
func DefaultThreads(conns int) int {
	return max(1, min(conns, runtime.GOMAXPROCS(0)))
}

// procs counts the engine threads running in the process, over every engine, and remembers
// GOMAXPROCS as it was before the first.
var procs struct {
	sync.Mutex
	threads int
	base    int
}

// reserveProcs makes room for n more engine threads that keep their P: GOMAXPROCS becomes at
// least one more than all the engine threads running. release puts GOMAXPROCS back once the last
// engine thread has stopped.
func reserveProcs(n int) (release func()) {
	procs.Lock()
	defer procs.Unlock()
	if procs.threads == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.threads += n
	if want := procs.threads + 1; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			procs.Lock()
			defer procs.Unlock()
			procs.threads -= n
			if procs.threads == 0 && runtime.GOMAXPROCS(0) != procs.base {
				runtime.GOMAXPROCS(procs.base)
			}
		})
	}
}
