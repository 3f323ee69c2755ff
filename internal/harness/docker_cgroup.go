package harness

// The CPU and memory limits a container runs under, read from inside it through the server.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CgroupLimits are the CPU and memory limits a server's cgroup holds, read from inside it.
type CgroupLimits struct {
	Version     int   // 1 or 2
	QuotaUs     int64 // CFS quota per period, µs; -1 for none
	PeriodUs    int64
	MemoryBytes int64 // -1 for none
}

// CPUs is quota / period, or 0 for no limit.
func (l CgroupLimits) CPUs() float64 {
	if l.QuotaUs <= 0 || l.PeriodUs <= 0 {
		return 0
	}
	return float64(l.QuotaUs) / float64(l.PeriodUs)
}

// String is how the result records them.
func (l CgroupLimits) String() string {
	if l.Version == 2 {
		return fmt.Sprintf("cgroup v2: cpu.max %d %d, memory.max %d", l.QuotaUs, l.PeriodUs, l.MemoryBytes)
	}
	return fmt.Sprintf("cgroup v1: cpu.cfs_quota_us %d, cpu.cfs_period_us %d, memory.limit_in_bytes %d",
		l.QuotaUs, l.PeriodUs, l.MemoryBytes)
}

// Check compares the limits with a shape: CPUs within 1% (the quota is whole microseconds),
// memory within a page (the kernel rounds down to its page size).
func (l CgroupLimits) Check(s Shape) error {
	var errs []error
	if cpus := l.CPUs(); cpus == 0 || cpus < s.CPUs*0.99 || cpus > s.CPUs*1.01 {
		errs = append(errs, fmt.Errorf("CPU limit %.3g, want %g (%s)", cpus, s.CPUs, l))
	}
	if l.MemoryBytes <= 0 || l.MemoryBytes > s.MemoryBytes || s.MemoryBytes-l.MemoryBytes >= 64<<10 {
		errs = append(errs, fmt.Errorf("memory limit %d bytes, want %d (%s)", l.MemoryBytes, s.MemoryBytes, l))
	}
	return errors.Join(errs...)
}

// ReadCgroupLimits reads the server's own cgroup limits through the server (pg_read_file, as a
// superuser), so it works with any image, with no docker exec: cgroup v2's cpu.max and
// memory.max, else v1's cpu.cfs_quota_us, cpu.cfs_period_us and memory.limit_in_bytes.
func ReadCgroupLimits(ctx context.Context, adminDSN string) (CgroupLimits, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return CgroupLimits{}, fmt.Errorf("connect: %s", RedactDSN(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	read := func(path string) (string, bool) {
		var s *string
		// missing_ok = true: a file that is not there reads as NULL.
		if err := conn.QueryRow(ctx, "SELECT pg_read_file($1, 0, 4096, true)", path).Scan(&s); err != nil || s == nil {
			return "", false
		}
		return strings.TrimSpace(*s), true
	}
	num := func(s string) int64 {
		if s == "max" {
			return -1
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	if cpu, ok := read("/sys/fs/cgroup/cpu.max"); ok {
		l := CgroupLimits{Version: 2}
		if f := strings.Fields(cpu); len(f) == 2 {
			l.QuotaUs, l.PeriodUs = num(f[0]), num(f[1])
		}
		mem, _ := read("/sys/fs/cgroup/memory.max")
		l.MemoryBytes = num(mem)
		return l, nil
	}
	for _, dir := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"} {
		quota, ok1 := read(dir + "/cpu.cfs_quota_us")
		period, ok2 := read(dir + "/cpu.cfs_period_us")
		if !ok1 || !ok2 {
			continue
		}
		mem, _ := read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
		l := CgroupLimits{Version: 1, QuotaUs: num(quota), PeriodUs: num(period), MemoryBytes: num(mem)}
		if l.MemoryBytes >= 1<<62 { // v1 writes "no limit" as a huge page-aligned number
			l.MemoryBytes = -1
		}
		return l, nil
	}
	return CgroupLimits{}, errors.New("neither /sys/fs/cgroup/cpu.max (v2) nor /sys/fs/cgroup/cpu/cpu.cfs_quota_us (v1) is readable")
}
