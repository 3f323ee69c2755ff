package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// ServerUsage is a server's cumulative CPU time and its memory now.
type ServerUsage struct {
	CPUSeconds  float64
	MemoryBytes int64
}

// UsageReader reads a server's CPU and memory. The sampler calls it once a second with its own
// connection (a docker target reads its cgroup through the server; a local one reads /proc).
type UsageReader interface {
	ReadUsage(ctx context.Context, conn *pgx.Conn) (ServerUsage, error)
	// CPUs is how many CPUs the server may use: the shape's limit, else the host's.
	CPUs() float64
	// Source says where the figures come from, for the result.
	Source() string
}

// UsageReaderOf is t's usage reader, or nil and the reason there is none (a dsn target: pgscale
// cannot see the machine a server it did not start runs on).
func UsageReaderOf(t Target) (UsageReader, string) {
	switch v := t.(type) {
	case *latencyTarget:
		return UsageReaderOf(v.Target)
	case *LocalTarget:
		return &procUsage{pid: v.PID(), cpus: float64(runtime.NumCPU())}, ""
	case *DockerTarget:
		cpus := float64(v.info.cpus)
		if v.shape != nil {
			cpus = v.shape.CPUs
		}
		if cpus <= 0 {
			cpus = float64(runtime.NumCPU())
		}
		return &cgroupUsage{cpus: cpus}, ""
	case interface{ Unwrap() Target }:
		return UsageReaderOf(v.Unwrap())
	}
	return nil, fmt.Sprintf("unavailable on a %s target: pgscale cannot see the machine of a server it did not start", t.Kind())
}

// procUsage reads a local server from /proc: the postmaster's own CPU, the CPU of the children it
// has reaped (cutime, cstime: backends that ended), and its live children's. Memory is each
// process's resident memory less its shared part, plus the largest shared part once (shared
// buffers are mapped by all): statm is cheap enough to read for 2,000 backends every second,
// where smaps_rollup's exact proportional sizes walk every page table.
type procUsage struct {
	pid  int
	cpus float64
	proc procReader
}

func (u *procUsage) CPUs() float64  { return u.cpus }
func (u *procUsage) Source() string { return "/proc: the postmaster and its children" }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times; 100 on every Linux pgscale runs on.
const clockTicks = 100

func (u *procUsage) ReadUsage(ctx context.Context, _ *pgx.Conn) (ServerUsage, error) {
	st, err := u.proc.stat(u.pid)
	if err != nil {
		return ServerUsage{}, err
	}
	ticks := st.utime + st.stime + st.cutime + st.cstime
	private, shared := u.proc.statm(u.pid)
	children, _ := u.proc.childrenOf(u.pid)
	for _, c := range children {
		if cs, err := u.proc.stat(c); err == nil {
			ticks += cs.utime + cs.stime
			p, sh := u.proc.statm(c)
			private, shared = private+p, max(shared, sh)
		}
	}
	return ServerUsage{CPUSeconds: float64(ticks) / clockTicks, MemoryBytes: private + shared}, nil
}

type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// readProcStat parses /proc/<pid>/stat; the command name may hold spaces, so fields count from
// the last ')'.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("server usage: %w", err)
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("server usage: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is state (field 3); ppid is field 4, utime..cstime fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("server usage: /proc/%d/stat: %d fields", pid, len(f))
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procStat{ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, nil
}

// procChildren lists pid's children from /proc/<pid>/task/*/children, else by scanning /proc.
func procChildren(pid int) ([]int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	if err == nil {
		var out []int
		for _, s := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
			}
		}
		return out, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(c); err == nil && st.ppid == pid {
			out = append(out, c)
		}
	}
	return out, nil
}

// cgroupUsage reads a container's cgroup through the server (pg_read_file as a superuser, as
// ReadCgroupLimits does): cgroup v2's cpu.stat and memory.current, else v1's cpuacct.usage and
// memory.usage_in_bytes less the inactive page cache (what docker stats shows).
type cgroupUsage struct {
	cpus    float64
	version int // 0 until known
}

func (u *cgroupUsage) CPUs() float64 { return u.cpus }
func (u *cgroupUsage) Source() string {
	return "the container's cgroup"
}

func (u *cgroupUsage) ReadUsage(ctx context.Context, conn *pgx.Conn) (ServerUsage, error) {
	read := func(path string) (string, bool) {
		var s *string
		if err := conn.QueryRow(ctx, "SELECT pg_read_file($1, 0, 65536, true)", path).Scan(&s); err != nil || s == nil {
			return "", false
		}
		return *s, true
	}
	if u.version != 1 {
		if stat, ok := read("/sys/fs/cgroup/cpu.stat"); ok {
			u.version = 2
			var usage ServerUsage
			usage.CPUSeconds = float64(statField(stat, "usage_usec")) / 1e6
			if mem, ok := read("/sys/fs/cgroup/memory.current"); ok {
				m, _ := strconv.ParseInt(strings.TrimSpace(mem), 10, 64)
				if ms, ok := read("/sys/fs/cgroup/memory.stat"); ok {
					m -= statField(ms, "inactive_file")
				}
				usage.MemoryBytes = m
			}
			return usage, nil
		}
	}
	for _, dir := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"} {
		ns, ok := read(dir + "/cpuacct.usage")
		if !ok {
			continue
		}
		u.version = 1
		v, _ := strconv.ParseInt(strings.TrimSpace(ns), 10, 64)
		usage := ServerUsage{CPUSeconds: float64(v) / 1e9}
		if mem, ok := read("/sys/fs/cgroup/memory/memory.usage_in_bytes"); ok {
			m, _ := strconv.ParseInt(strings.TrimSpace(mem), 10, 64)
			if ms, ok := read("/sys/fs/cgroup/memory/memory.stat"); ok {
				m -= statField(ms, "total_inactive_file")
			}
			usage.MemoryBytes = m
		}
		return usage, nil
	}
	return ServerUsage{}, errors.New("server usage: neither /sys/fs/cgroup/cpu.stat (v2) nor cpuacct.usage (v1) is readable through the server")
}

// statField is the value of "name value" in a cgroup stat file (0 when absent).
func statField(stat, name string) int64 {
	for _, line := range strings.Split(stat, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// ClientUsage is the load generator's side: its own CPU time (with the child processes counted
// by CountChildCPU), and the host's busy and total CPU time and load average.
type ClientUsage struct {
	CPUSeconds float64
	HostBusy   float64 // seconds of CPU busy on the host, all CPUs (from /proc/stat)
	HostTotal  float64 // seconds of CPU on the host, busy or idle
	HostLoad1  float64
	GOMAXPROCS int
	HostCPUs   int
	HostReadOK bool
	// OwnBusy and OwnTotal are HostBusy and HostTotal over the CPUs this process may run on
	// (taskset), OwnCPUs their count.
	OwnBusy, OwnTotal float64
	OwnCPUs           int
}

// ReadClientUsage reads the load generator's CPU (getrusage, and its child processes counted by
// CountChildCPU) and the host's /proc/stat and
// /proc/loadavg (absent on hosts without /proc: HostReadOK false).
func ReadClientUsage() ClientUsage {
	u := ClientUsage{GOMAXPROCS: runtime.GOMAXPROCS(0), HostCPUs: runtime.NumCPU()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.CPUSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	u.CPUSeconds += childrenCPUSeconds() // pgbench's, when it is the load generator
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		// The host's CPUs are the cpuN lines: runtime.NumCPU counts only those this process may
		// run on (taskset).
		if n := bytes.Count(data, []byte("\ncpu")); n > 0 {
			u.HostCPUs = n
		}
		var allowed unix.CPUSet
		haveMask := unix.SchedGetaffinity(0, &allowed) == nil
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") {
				continue
			}
			busy, total := cpuTimes(f[1:])
			if f[0] == "cpu" {
				u.HostTotal, u.HostBusy, u.HostReadOK = total, busy, true
				continue
			}
			if n, err := strconv.Atoi(f[0][3:]); err == nil && haveMask && allowed.IsSet(n) {
				u.OwnBusy, u.OwnTotal, u.OwnCPUs = u.OwnBusy+busy, u.OwnTotal+total, u.OwnCPUs+1
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			u.HostLoad1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return u
}

// cpuTimes turns the fields of a /proc/stat cpu line into busy and total seconds: idle and
// iowait are idle; guest time is already in user.
func cpuTimes(fields []string) (busy, total float64) {
	var idle float64
	for i, s := range fields {
		if i >= 8 {
			break
		}
		v, _ := strconv.ParseFloat(s, 64)
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return (total - idle) / clockTicks, total / clockTicks
}
