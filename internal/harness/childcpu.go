package harness

import "sync"

// A load generator that runs as a child process (pgbench) spends the client's CPU outside this
// process, where getrusage(RUSAGE_SELF) does not see it. ReadClientUsage adds the CPU of the
// children registered with CountChildCPU: while one runs, read from /proc/<pid>/stat; once it has
// ended, its whole rusage. Other children (a local target's server, initdb) are not the client's
// and are not counted.

var loadChildren struct {
	sync.Mutex
	live    map[int]float64 // pid → CPU seconds, as last read
	retired float64         // CPU seconds of the children that have ended
}

// CountChildCPU counts the running child process pid's CPU as the load generator's. Call the
// returned func once the child has been waited for, with its CPU seconds from its rusage.
func CountChildCPU(pid int) (ended func(cpuSeconds float64)) {
	loadChildren.Lock()
	defer loadChildren.Unlock()
	if loadChildren.live == nil {
		loadChildren.live = map[int]float64{}
	}
	loadChildren.live[pid] = 0
	return func(cpuSeconds float64) {
		loadChildren.Lock()
		defer loadChildren.Unlock()
		// The last reading counted so far becomes the whole: the sum never goes back.
		loadChildren.retired += max(cpuSeconds, loadChildren.live[pid])
		delete(loadChildren.live, pid)
	}
}

// childrenCPUSeconds is the CPU of the counted children, ended and running. A running child whose
// /proc entry cannot be read (it has just been reaped) counts as last read.
func childrenCPUSeconds() float64 {
	loadChildren.Lock()
	defer loadChildren.Unlock()
	total := loadChildren.retired
	for pid, last := range loadChildren.live {
		if s, ok := procCPUSeconds(pid); ok && s > last {
			loadChildren.live[pid], last = s, s
		}
		total += last
	}
	return total
}

// procCPUSeconds is a process's user and system CPU, from /proc/<pid>/stat.
func procCPUSeconds(pid int) (float64, bool) {
	st, err := readProcStat(pid)
	if err != nil {
		return 0, false
	}
	return float64(st.utime+st.stime) / clockTicks, true
}
