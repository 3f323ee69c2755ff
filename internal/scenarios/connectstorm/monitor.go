package connectstorm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/wait"
)

// monitorInterval is how often the monitor counts backends: ten times the runner's sampler,
// because a cold request's backend lives for a few milliseconds and a once-a-second look misses
// most of the churn. One count is a scan of the ~max_connections PGPROC slots, well under a
// millisecond on our 2-core machine.
const monitorInterval = 100 * time.Millisecond

// memoryBackends caps how many backends' memory is read: reading smaps_rollup walks a process's
// page tables (about 0.1 ms for a backend); 64 give a mean to a few percent and cost a few ms.
const memoryBackends = 64

// drainWait bounds waiting for the previous point's backends to exit before a point begins.
// Backends exit within milliseconds of their client's Terminate; seconds mean something is stuck,
// and the point then starts anyway.
const drainWait = 5 * time.Second

// countBackends counts client backends other than the monitor's own: all, the load's, and the
// active ones. The load's are told by their application_name; so are a pooler's server
// connections when it passes application_name on (PgBouncer does).
const countBackends = `SELECT count(*)::int,
  count(*) FILTER (WHERE application_name = $1)::int,
  count(*) FILTER (WHERE state = 'active')::int
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`

// monitor watches the server while a point runs, over a connection of its own opened before the
// load (so it works when the load has exhausted max_connections).
type monitor struct {
	conn  *pgx.Conn
	local bool // the server's processes are this machine's: their memory can be read

	samples []backendSample
	mem     []float64 // private kB of backends, read once mid-run
	memErr  error
	stopCh  chan struct{}
	done    chan struct{}
}

type backendSample struct {
	at                  time.Time
	total, load, active int
}

func newMonitor(ctx context.Context, env *scenarios.Env) (*monitor, error) {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect-storm monitor: %w", err)
	}
	return &monitor{conn: conn, local: env.Target != nil && env.Target.Kind() == harness.KindLocal}, nil
}

// prepare waits for the previous point's backends to exit and empties the events table, so that
// each point starts from the same place.
func (m *monitor) prepare(ctx context.Context) error {
	deadline := time.Now().Add(drainWait)
	for {
		var total, load, active int
		if err := m.conn.QueryRow(ctx, countBackends, AppName).Scan(&total, &load, &active); err != nil {
			return fmt.Errorf("connect-storm: count backends: %w", err)
		}
		if load == 0 || time.Now().After(deadline) {
			break
		}
		_ = wait.For(ctx, 20*time.Millisecond)
	}
	if _, err := m.conn.Exec(ctx, "TRUNCATE "+table); err != nil {
		return fmt.Errorf("connect-storm: empty the events table: %w", err)
	}
	return nil
}

// start samples until stop; at memoryAt it reads the memory of the load's backends once.
func (m *monitor) start(ctx context.Context, memoryAt time.Time) {
	m.stopCh, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(monitorInterval)
		defer t.Stop()
		memoryDone := !m.local
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.stopCh:
				return
			case now := <-t.C:
				var s backendSample
				if err := m.conn.QueryRow(ctx, countBackends, AppName).Scan(&s.total, &s.load, &s.active); err != nil {
					continue // a missed sample; the next one may work
				}
				s.at = now
				m.samples = append(m.samples, s)
				if !memoryDone && !now.Before(memoryAt) {
					memoryDone = true
					m.mem, m.memErr = m.readMemory(ctx)
				}
			}
		}
	}()
}

// stop ends sampling.
func (m *monitor) stop() {
	if m.stopCh != nil {
		close(m.stopCh)
		<-m.done
		m.stopCh = nil
	}
}

func (m *monitor) close() {
	m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = m.conn.Close(ctx)
}

// readMemory reads the private memory (Private_Clean + Private_Dirty of smaps_rollup) of up to
// memoryBackends load backends: what each connection costs the server beyond shared memory.
// Backends that exit meanwhile are skipped.
func (m *monitor) readMemory(ctx context.Context) ([]float64, error) {
	pids, err := m.loadPIDs(ctx)
	if err != nil {
		return nil, err
	}
	var kb []float64
	var errs []error
	for _, pid := range pids {
		v, err := privateKB(pid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kb = append(kb, v)
	}
	if len(kb) == 0 && len(errs) > 0 {
		return nil, errs[0]
	}
	return kb, nil
}

// loadPIDs lists the load's backends, or, when none carries the load's application_name (a pooler
// that does not pass it on), every other client backend.
func (m *monitor) loadPIDs(ctx context.Context) ([]int, error) {
	for _, q := range []string{
		`SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = $1 ORDER BY pid LIMIT $2`,
		`SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
		   AND application_name <> $1 AND application_name <> '' ORDER BY pid LIMIT $2`,
	} {
		rows, err := m.conn.Query(ctx, q, AppName, memoryBackends)
		if err != nil {
			return nil, fmt.Errorf("list backends: %w", err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return nil, fmt.Errorf("list backends: %w", err)
		}
		if len(pids) > 0 {
			out := make([]int, len(pids))
			for i, p := range pids {
				out[i] = int(p)
			}
			return out, nil
		}
	}
	return nil, nil
}

// privateKB reads a process's private memory in kB from /proc/<pid>/smaps_rollup.
func privateKB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var kb float64
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "Private_Clean" && name != "Private_Dirty") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("smaps_rollup of %d: %s: %w", pid, name, err)
		}
		kb += v
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if found != 2 {
		return 0, errors.New("smaps_rollup has no Private_Clean and Private_Dirty lines")
	}
	return kb, nil
}

// monitorSummary is what the monitor saw in the measured window.
type monitorSummary struct {
	samples                  int
	peak                     int
	meanBackends, meanActive float64
	memSamples               int
	memMeanKB, memMaxKB      float64
}

// summary sums up the samples taken between from and to. Backends are the load's (by
// application_name); when none carried it (a pooler that does not pass it on), all but the
// monitor's. Active backends are all active ones but the monitor's (the runner's sampler is active
// for about a millisecond a second).
func (m *monitor) summary(from, to time.Time) monitorSummary {
	var sum monitorSummary
	var backends, active float64
	anyLoad := false
	for _, s := range m.samples {
		anyLoad = anyLoad || s.load > 0
	}
	for _, s := range m.samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		n := s.load
		if !anyLoad {
			n = s.total
		}
		sum.samples++
		sum.peak = max(sum.peak, n)
		backends += float64(n)
		active += float64(s.active)
	}
	if sum.samples > 0 {
		sum.meanBackends = backends / float64(sum.samples)
		sum.meanActive = active / float64(sum.samples)
	}
	for _, kb := range m.mem {
		sum.memSamples++
		sum.memMeanKB += kb
		sum.memMaxKB = max(sum.memMaxKB, kb)
	}
	if sum.memSamples > 0 {
		sum.memMeanKB /= float64(sum.memSamples)
	}
	return sum
}

// backendContextKB measures, on a new connection of the load's own path, the memory contexts of a
// backend that has just served one request (pg_backend_memory_contexts, PostgreSQL 14 and later):
// the measure that works where the server's processes cannot be read. The request is rolled back.
func backendContextKB(ctx context.Context, cc *pgx.ConnConfig, wl *workload) (float64, error) {
	conn, err := loadgen.Connect(ctx, cc, connectTimeout)
	if err != nil {
		return 0, err
	}
	defer closeConn(conn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, insertEvents, pgx.QueryExecModeSimpleProtocol, wl.point, -1, 0, 0); err != nil {
		return 0, err
	}
	var bytes int64
	if err := tx.QueryRow(ctx, "SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts",
		pgx.QueryExecModeSimpleProtocol).Scan(&bytes); err != nil {
		return 0, err
	}
	return float64(bytes) / 1024, nil
}
