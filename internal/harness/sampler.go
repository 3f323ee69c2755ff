package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/result"
)

// samplerQuery reads, in one round trip, the connection states, lock waits, database counters and
// WAL position. pg_stat_wal exists from PostgreSQL 14; before it the WAL position stands in.
const samplerQuery = `
WITH a AS (
  SELECT state, wait_event_type FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
), d AS (
  SELECT sum(xact_commit)::bigint AS commits, sum(xact_rollback)::bigint AS rollbacks,
         sum(blks_read)::bigint AS blks_read, sum(blks_hit)::bigint AS blks_hit
  FROM pg_stat_database
)
SELECT
  (SELECT count(*) FROM a)::int,
  (SELECT count(*) FROM a WHERE state = 'active')::int,
  (SELECT count(*) FROM a WHERE state = 'idle')::int,
  (SELECT count(*) FROM a WHERE state LIKE 'idle in transaction%%')::int,
  (SELECT count(*) FROM a WHERE wait_event_type = 'Lock')::int,
  (SELECT count(*) FROM pg_locks WHERE NOT granted)::int,
  current_setting('max_connections')::int,
  d.commits, d.rollbacks, d.blks_read, d.blks_hit,
  %s
FROM d`

const walFromStat = `(SELECT wal_bytes FROM pg_stat_wal)::bigint`
const walFromLSN = `CASE WHEN pg_is_in_recovery() THEN 0 ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint END`

// TimedSample is one sampler reading; counters are per-second deltas from the previous reading.
type TimedSample struct {
	At time.Time
	result.ServerSample
	// Extra holds the figures of ExtraSampleSources (pooler_xacts, ...), for the timeline's
	// extra columns.
	Extra map[string]float64
}

// Sampler reads the server once a second over its own connection, opened before the load so that
// it keeps working when the load exhausts max_connections; between readings it reads what active
// sessions wait on 10 times a second (waits.go). A lost connection is reopened with a backoff (a
// reading lost with it is taken again on the new one); when none answers for
// loadgen.DefaultGiveUp, Lost says so.
type Sampler struct {
	conn     *loadgen.Redialer
	query    string
	interval time.Duration

	mu      sync.Mutex
	samples []TimedSample
	last    TimedSample
	prev    *result.ServerSample // cumulative counters of the previous reading
	lastErr error
	extra   []SampleSource
	// lostSince is when readings began to fail (zero while they succeed); lost is set once they
	// have failed for giveUp.
	lostSince time.Time
	lost      error
	giveUp    time.Duration
	waits     waitAccumulator // what active sessions waited on since the last sample (waits.go)
	usage     usageState      // CPU and memory of both sides (waits.go)

	cancel context.CancelFunc
	done   chan struct{}
}

// SampleSource adds figures of its own to each sample (a pooler's SHOW POOLS, for example).
type SampleSource interface {
	Sample(ctx context.Context, s *result.ServerSample) error
}

// ExtraSampleSource is a SampleSource with figures beyond ServerSample's fields; they go into the
// timeline's extra columns. The sampler calls SampleExtra instead of Sample.
type ExtraSampleSource interface {
	SampleSource
	SampleExtra(ctx context.Context, s *result.ServerSample, extra map[string]float64) error
}

// SamplerApplicationName is the application_name of the sampler's session.
const SamplerApplicationName = "pgscale sampler"

// NewSampler connects to adminDSN. Call Start, then Stop.
func NewSampler(ctx context.Context, adminDSN string, extra ...SampleSource) (*Sampler, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return nil, fmt.Errorf("sampler: %s", RedactDSN(err.Error()))
	}
	cc.RuntimeParams["application_name"] = SamplerApplicationName // its session is told apart from the load's
	rd, err := loadgen.Redial(cctx, "sampler", cc, loadgen.RedialOptions{})
	if err != nil {
		return nil, errors.New(RedactDSN(err.Error()))
	}
	conn, _ := rd.Conn(cctx)
	wal := walFromLSN
	var versionNum int
	if err := conn.QueryRow(cctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err == nil && versionNum >= 140000 {
		wal = walFromStat
	}
	s := &Sampler{conn: rd, query: fmt.Sprintf(samplerQuery, wal), interval: time.Second, extra: extra, giveUp: loadgen.DefaultGiveUp}
	return s, nil
}

// Start samples in the background until Stop.
func (s *Sampler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		w := time.NewTicker(WaitInterval)
		defer w.Stop()
		s.sampleOnce(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sampleOnce(ctx)
			case <-w.C:
				s.sampleWaits(ctx)
			}
		}
	}()
}

// Stop ends sampling and closes the connection. It is safe to call more than once.
func (s *Sampler) Stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.conn.Close()
}

func (s *Sampler) sampleOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	var cur result.ServerSample
	err := s.conn.Do(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, s.query).Scan(&cur.Connections, &cur.Active, &cur.Idle, &cur.IdleInTransaction,
			&cur.WaitingOnLock, &cur.LocksWaiting, &cur.MaxConnections,
			&cur.Commits, &cur.Rollbacks, &cur.BlocksRead, &cur.BlocksHit, &cur.WALBytes)
	})
	var extra map[string]float64
	var srcErr error
	if err == nil {
		cur.Load, cur.Usage = s.takeLoad(), s.takeUsage(ctx)
		for _, src := range s.extra {
			var e error
			if xs, ok := src.(ExtraSampleSource); ok {
				if extra == nil {
					extra = map[string]float64{}
				}
				e = xs.SampleExtra(ctx, &cur, extra)
			} else {
				e = src.Sample(ctx, &cur)
			}
			if e != nil {
				srcErr = e // the server's own figures still count
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return // stopped
		}
		s.lastErr = err
		if s.lostSince.IsZero() {
			s.lostSince = time.Now()
		} else if d := time.Since(s.lostSince); d >= s.giveUp && s.lost == nil {
			s.lost = fmt.Errorf("sampler: no reading for %s: %s", d.Round(time.Second), RedactDSN(err.Error()))
		}
		return
	}
	s.lostSince = time.Time{}
	if srcErr != nil {
		s.lastErr = srcErr
	}
	sample := TimedSample{At: time.Now(), ServerSample: cur, Extra: extra}
	if s.prev != nil {
		sample.Commits -= s.prev.Commits
		sample.Rollbacks -= s.prev.Rollbacks
		sample.BlocksRead -= s.prev.BlocksRead
		sample.BlocksHit -= s.prev.BlocksHit
		sample.WALBytes -= s.prev.WALBytes
		s.samples = append(s.samples, sample)
	}
	s.prev = &cur
	s.last = sample
}

// Latest is the most recent reading (zero before the first).
func (s *Sampler) Latest() TimedSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Lost is why the sampler gave up on the server: it could not read it for loadgen.DefaultGiveUp,
// reconnecting with a backoff all along. It stays set once the sampler has given up, even if a
// later reading succeeds: the timeline has a hole of that length.
func (s *Sampler) Lost() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// AddMetrics puts the sampler's reconnects and errors by class into a series' metrics
// (sampler_reconnects, sampler_errors_<class>) when it lost its connection.
func (s *Sampler) AddMetrics(m map[string]float64) {
	if errs, _ := s.conn.Errors(); len(errs) > 0 || s.conn.Reconnects() > 0 {
		s.conn.AddMetrics(m, result.MetricPrefixSampler)
	}
}

// Err is the last sampling error, if any.
func (s *Sampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// JoinTimeline puts the readings into timeline, whose second t covers
// (start+(t-1)s, start+t s]; each second gets the last reading taken within it.
func (s *Sampler) JoinTimeline(start time.Time, timeline []result.Second) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, smp := range s.samples {
		offset := smp.At.Sub(start)
		if offset <= 0 {
			continue
		}
		t := int((offset + time.Second - 1) / time.Second)
		for i := range timeline {
			if timeline[i].T == t {
				v := smp.ServerSample
				timeline[i].Server = &v
				for k, x := range smp.Extra {
					if timeline[i].Extra == nil {
						timeline[i].Extra = map[string]float64{}
					}
					if _, taken := timeline[i].Extra[k]; !taken { // the scenario's own figures win
						timeline[i].Extra[k] = x
					}
				}
			}
		}
	}
}

// Peak returns the highest connection count and lock-wait count seen since start.
func (s *Sampler) Peak(since time.Time) (connections, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, smp := range s.samples {
		if smp.At.Before(since) {
			continue
		}
		connections = max(connections, smp.Connections)
		waiting = max(waiting, smp.WaitingOnLock)
	}
	return connections, waiting
}
