// Package pgbench is a reference scenario: PostgreSQL's own pgbench -S drives the same
// primary-key lookups as select-only, and its per-transaction log becomes an ordinary result
// series (HDR histograms, a per-second timeline). It gives every report, compare and gate a figure
// from a client that is not pgscale's: the CI gate calibrates on it, so that a slower load
// generator shows as a regression instead of cancelling out.
package pgbench

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "pgbench"

// Variants: pgbench's query modes.
const (
	VariantPrepared = "prepared" // pgbench -M prepared
	VariantSimple   = "simple"   // pgbench -M simple
)

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct{}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "reference: pgbench -S itself on the target, reported like any scenario",
		Shows: "What PostgreSQL's own client reaches on the lookups select-only runs (the same tables, " +
			"points and parameters), read from pgbench's per-transaction log into the same histograms " +
			"and timeline. Put it beside select-only to see what is the server and what is the client; " +
			"the CI gate calibrates on it (calibrate: pgbench). pgbench's -T is whole seconds: the run " +
			"lasts the warm-up plus the duration rounded up, and only the measured window is counted.",
		Variants:       []string{VariantPrepared, VariantSimple},
		ClosedLoopOnly: true, // pgbench's own -R schedules and reports differently
		Params:         selectonly.LookupParams("pgbench clients (-c), each with its own connection"),
		Duration:       30 * time.Second, Warmup: 5 * time.Second,
		QuickDuration: 5 * time.Second, QuickWarmup: time.Second,
	}
}

// Plan is select-only's: the same points, so the two line up in a report.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	if _, err := harness.FindPgbench(); err != nil {
		return scenarios.Plan{}, usage.Errorf("scenario pgbench: %v", err)
	}
	return selectonly.PlanLookups(p), nil
}

// Setup creates the pgbench tables as select-only does.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return selectonly.CreateTables(ctx, conn, env.Params.Int("scale"), env.Logf)
}

// Run runs pgbench for the warm-up and the duration and reads its transaction log.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	bin, err := harness.FindPgbench()
	if err != nil {
		return result.Series{}, err
	}
	logDir, err := os.MkdirTemp("", "pgscale-pgbench-*")
	if err != nil {
		return result.Series{}, fmt.Errorf("pgbench: %w", err)
	}
	defer os.RemoveAll(logDir)

	seconds := int(math.Ceil((env.Warmup + env.Duration).Seconds()))
	args := []string{"-n", "-S", "-c", strconv.Itoa(pt.Workers), "-j", strconv.Itoa(min(pt.Workers, runtime.NumCPU())),
		"-T", strconv.Itoa(seconds), "-P", "1", "-l", "--log-prefix", filepath.Join(logDir, "tx"),
		"-M", pt.Variant}
	if pt.Values["connect"] == "per-op" {
		args = append(args, "-C")
	}
	// The connection string, as given (sslmode and certificates kept), goes as pgbench's dbname
	// without its password, which goes by PGPASSWORD: no password on a command line.
	if arg := harness.WithoutPassword(env.Load.ConnString()); arg != "" {
		args = append(args, arg)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = harness.LibpqEnv(os.Environ(), env.Load, "pgscale-pgbench")
	cmd.Dir = logDir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	progress := &progressWriter{onSecond: env.OnSecond, warmup: env.Warmup, total: env.Warmup + env.Duration}
	cmd.Stderr = progress
	usage, runErr := runCounted(cmd)
	if ctx.Err() != nil {
		runErr = ctx.Err()
	} else if runErr != nil {
		return result.Series{}, fmt.Errorf("pgbench: %w: %s", runErr, harness.RedactDSN(lastLines(progress.all.String(), 3)))
	}

	out, err := outcome(logDir, env.Warmup, env.Duration, pt.Workers)
	if err != nil {
		return result.Series{}, errors.Join(runErr, err)
	}
	if out == nil {
		return result.Series{}, errors.Join(runErr, fmt.Errorf("pgbench logged no transaction: %s", lastLines(progress.all.String(), 3)))
	}
	if usage != nil {
		out.ClientCPUSeconds = tvSeconds(usage.Utime) + tvSeconds(usage.Stime)
		out.ClientRSSPeakKB = usage.Maxrss
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}
	if m := reportedTPS.FindSubmatch(stdout.Bytes()); m != nil {
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		series.Metrics[MetricPgbenchReportedTPS] = tps // over its whole -T, warm-up included
	}
	return series, runErr
}

var reportedTPS = regexp.MustCompile(`tps = ([0-9.]+) \(`)

// tx is one transaction of pgbench's log: its client, when it ended and how long it took.
type tx struct {
	client int
	end    time.Time
	took   time.Duration
}

func (t tx) began() time.Time { return t.end.Add(-t.took) }

// txLog reads one thread's log (tx.<pid> or tx.<pid>.<thread>) a line at a time. A line is
// "client_id transaction_no time script_no time_epoch time_us", time in microseconds.
type txLog struct {
	name string
	f    *os.File
	sc   *bufio.Scanner
	head tx // the line read last
}

func openLogs(dir string) ([]*txLog, error) {
	names, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	var logs []*txLog
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			closeLogs(logs)
			return nil, fmt.Errorf("pgbench log: %w", err)
		}
		logs = append(logs, &txLog{name: filepath.Base(name), f: f, sc: bufio.NewScanner(f)})
	}
	return logs, nil
}

func closeLogs(logs []*txLog) {
	for _, l := range logs {
		l.f.Close()
	}
}

// next reads the next transaction into head; false at the end of the log.
func (l *txLog) next() (bool, error) {
	for l.sc.Scan() {
		fields := strings.Fields(l.sc.Text())
		if len(fields) < 6 {
			continue
		}
		client, err1 := strconv.Atoi(fields[0])
		us, err2 := strconv.ParseInt(fields[2], 10, 64)
		sec, err3 := strconv.ParseInt(fields[4], 10, 64)
		usec, err4 := strconv.ParseInt(fields[5], 10, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return false, fmt.Errorf("pgbench log %s: line %q: %w", l.name, l.sc.Text(), err)
		}
		l.head = tx{client: client, end: time.Unix(sec, usec*1000), took: time.Duration(us) * time.Microsecond}
		return true, nil
	}
	if err := l.sc.Err(); err != nil {
		return false, fmt.Errorf("pgbench log %s: %w", l.name, err)
	}
	return false, nil
}

// readLogs streams every thread's log in the order transactions ended (each thread writes its
// own in that order; a heap merges them) to each, keeping one line per thread in memory. It
// returns how many transactions it read.
func readLogs(dir string, each func(tx)) (int, error) {
	logs, err := openLogs(dir)
	if err != nil {
		return 0, err
	}
	defer closeLogs(logs)
	h := &logHeap{}
	for _, l := range logs {
		ok, err := l.next()
		if err != nil {
			return 0, err
		}
		if ok {
			heap.Push(h, l)
		}
	}
	n := 0
	for h.Len() > 0 {
		l := (*h)[0]
		each(l.head)
		n++
		ok, err := l.next()
		if err != nil {
			return n, err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return n, nil
}

// logHeap orders thread logs by the end time of their current line.
type logHeap []*txLog

func (h logHeap) Len() int           { return len(h) }
func (h logHeap) Less(i, j int) bool { return h[i].head.end.Before(h[j].head.end) }
func (h logHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *logHeap) Push(x any)        { *h = append(*h, x.(*txLog)) }
func (h *logHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}

// outcome records the logged transactions as the load generator records its own operations: the
// clock starts with the first transaction to begin, the warm-up is counted in the timeline only,
// and transactions that began after warm-up + duration (pgbench's whole-second -T) are left out.
// It reads the logs twice, the first time for the start, so memory stays flat however long the
// run. measured is the measured window, shorter than duration when the run was cut off.
func outcome(dir string, warmup, duration time.Duration, workers int) (*loadgen.Outcome, error) {
	var start, last time.Time
	n, err := readLogs(dir, func(t tx) {
		if start.IsZero() || t.began().Before(start) {
			start = t.began()
		}
		last = t.end
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	measureFrom := start.Add(warmup)
	stop := measureFrom.Add(duration)
	measured := min(duration, max(0, last.Sub(measureFrom)))
	rec := loadgen.NewRecorder(measureFrom)
	second := 0
	_, err = readLogs(dir, func(t tx) {
		if !t.began().Before(stop) {
			return // a slower one that began earlier may still end later
		}
		for ; t.end.Sub(start) >= time.Duration(second+1)*time.Second; second++ {
			closeSecond(rec, second, warmup)
		}
		rec.Record(t.client, t.began(), t.took, t.took, nil)
	})
	if err != nil {
		return nil, err
	}
	closeSecond(rec, second, warmup)
	return &loadgen.Outcome{Snapshot: rec.Snapshot(), StartedAt: start, Measured: measured, Warmup: warmup, Workers: workers}, nil
}

// progressWriter takes pgbench's stderr: it keeps it for errors and turns each
// "progress: 3.0 s, 14586.9 tps, lat 0.272 ms stddev 0.103, 0 failed" line into a progress tick.
type progressWriter struct {
	onSecond func(loadgen.Tick)
	warmup   time.Duration
	total    time.Duration
	all      bytes.Buffer
	partial  []byte
}

var progressLine = regexp.MustCompile(`^progress: ([0-9.]+) s, ([0-9.]+) tps`)

func (p *progressWriter) Write(b []byte) (int, error) {
	p.all.Write(b)
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		m := progressLine.FindStringSubmatch(line)
		if m == nil || p.onSecond == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		tps, _ := strconv.ParseFloat(m[2], 64)
		elapsed := time.Duration(at * float64(time.Second))
		p.onSecond(loadgen.Tick{Elapsed: elapsed, Total: p.total, Ops: int64(tps), Warmup: elapsed <= p.warmup})
	}
	return len(b), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "; ")
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// closeSecond closes the timeline's second that began second seconds after the first transaction.
// The timeline counts seconds from 1, as loadgen's does: entry t covers (t-1 s, t s], and it is
// warm-up when it ends within the warm-up.
func closeSecond(rec *loadgen.Recorder, second int, warmup time.Duration) {
	rec.Tick(second+1, time.Duration(second+1)*time.Second <= warmup)
}

// runCounted runs cmd, its CPU counted as the load generator's while it runs (the sampler's
// client CPU, which the diagnosis reads) and once it has ended. It returns the child's rusage
// (nil when there is none) and cmd's error.
func runCounted(cmd *exec.Cmd) (*syscall.Rusage, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ended := harness.CountChildCPU(cmd.Process.Pid)
	err := cmd.Wait()
	var usage *syscall.Rusage
	var cpu float64
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			usage, cpu = ru, tvSeconds(ru.Utime)+tvSeconds(ru.Stime)
		}
	}
	ended(cpu)
	return usage, err
}
