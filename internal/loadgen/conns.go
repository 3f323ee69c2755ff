package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// connectParallelism bounds concurrent connection attempts while a run warms its connections.
// PostgreSQL forks a backend per connection; on 2 cores ~180 connects/s were measured, and more
// than a few dozen attempts in flight only adds queueing in the postmaster.
const connectParallelism = 32

// errPoolTimeout marks a pool acquire cut off by its deadline.
var errPoolTimeout = errors.New("pool acquire timed out")

// sourceConnectError marks a connection the source failed to open for a worker (not one the
// workload opened itself): the worker backs off before it tries again (see Worker.connectBackoff).
type sourceConnectError struct{ err error }

func (e *sourceConnectError) Error() string { return e.err.Error() }
func (e *sourceConnectError) Unwrap() error { return e.err }

// connSource hands connections to workers according to the connection mode.
type connSource interface {
	prepare(ctx context.Context, workers []*Worker) error
	do(ctx context.Context, w *Worker, op Op) error
	setRecorder(rec *Recorder)
	// interrupts is the set of connections the run interrupts when it ends, or nil when the
	// source does not hold its connections (Worker.QueryContext then returns the run's context).
	interrupts() *guard
	// refusedTLS says whether the server refused TLS to a connect that asked for it first
	// (sslmode=prefer), so that the rest of the run connected without asking (see dialer).
	refusedTLS() bool
	close()
}

func newConnSource(ctx context.Context, cfg Config) (connSource, error) {
	switch cfg.ConnMode {
	case ConnPool:
		pool, err := newPool(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &poolSource{pool: pool, size: int(pool.Config().MaxConns), guard: &guard{}}, nil
	case ConnPerWorker:
		return &workerSource{cfg: cfg, dial: newDialer(cfg.ConnConfig, cfg.ConnectTimeout),
			conns: make([]*pgx.Conn, cfg.Workers), guard: &guard{}}, nil
	case ConnNone:
		return noneSource{}, nil
	default:
		return &perOpSource{cfg: cfg, dial: newShortDialer(cfg.ConnConfig, cfg.ConnectTimeout)}, nil
	}
}

type poolSource struct {
	pool  *pgxpool.Pool
	size  int
	guard *guard
}

func (s *poolSource) setRecorder(*Recorder) {}
func (s *poolSource) interrupts() *guard    { return s.guard }
func (s *poolSource) refusedTLS() bool      { return false }

// prepare opens the pool's connections before the clock starts.
func (s *poolSource) prepare(ctx context.Context, _ []*Worker) error {
	held := make([]*pgxpool.Conn, 0, s.size)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, connectParallelism)
	for range s.size {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := s.pool.Acquire(ctx)
			if err != nil {
				return // the operations will meet and record the same error
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range held {
		c.Release()
	}
	return ctx.Err()
}

func (s *poolSource) do(ctx context.Context, w *Worker, op Op) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%w: %w", errPoolTimeout, err)
		}
		var connectErr *pgconn.ConnectError
		if errors.As(err, &connectErr) {
			return &sourceConnectError{err}
		}
		return err
	}
	defer c.Release()
	w.conn = c.Conn()
	return op(ctx, w, w.conn)
}

func (s *poolSource) close() { s.pool.Close() }

type workerSource struct {
	cfg   Config
	dial  *dialer
	rec   *Recorder
	conns []*pgx.Conn
	guard *guard
}

func (s *workerSource) setRecorder(rec *Recorder) { s.rec = rec }
func (s *workerSource) interrupts() *guard        { return s.guard }
func (s *workerSource) refusedTLS() bool          { return s.dial.tlsRefused.Load() }

// prepare connects every worker before the clock starts. A worker that cannot connect now tries
// again at each operation, where the failure is recorded.
func (s *workerSource) prepare(ctx context.Context, workers []*Worker) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, connectParallelism)
	for _, w := range workers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if c, err := s.dial.connect(ctx); err == nil {
				s.conns[w.ID] = c
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (s *workerSource) do(ctx context.Context, w *Worker, op Op) error {
	c := s.conns[w.ID]
	if c == nil || c.IsClosed() {
		started := time.Now()
		nc, err := s.dial.connect(ctx)
		if err != nil {
			return &sourceConnectError{err}
		}
		s.rec.RecordConnect(w.ID, started, time.Since(started))
		s.conns[w.ID], c = nc, nc
	}
	w.conn = c
	return op(ctx, w, c)
}

func (s *workerSource) close() {
	closeAll(s.conns)
}

// closeAll closes connections concurrently, each with a short deadline for its Terminate message.
func closeAll(conns []*pgx.Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, connectParallelism)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Close(ctx)
		}()
	}
	wg.Wait()
}

type perOpSource struct {
	cfg  Config
	dial *dialer
	rec  *Recorder
}

func (s *perOpSource) setRecorder(rec *Recorder)                { s.rec = rec }
func (s *perOpSource) interrupts() *guard                       { return nil }
func (s *perOpSource) refusedTLS() bool                         { return s.dial.tlsRefused.Load() }
func (s *perOpSource) prepare(context.Context, []*Worker) error { return nil }
func (s *perOpSource) close()                                   {}

func (s *perOpSource) do(ctx context.Context, w *Worker, op Op) error {
	started := time.Now()
	c, err := s.dial.connect(ctx)
	if err != nil {
		return &sourceConnectError{err}
	}
	s.rec.RecordConnect(w.ID, started, time.Since(started))
	opErr := op(ctx, w, c)
	closeBounded(c)
	return opErr
}

// terminate is the protocol's Terminate message.
var terminate = []byte{'X', 0, 0, 0, 4}

// closeBounded sends Terminate and closes c, as libpq's PQfinish does. An idle connection is
// taken from pgx (Hijack) and its Terminate written straight to the socket: pgx's Close would arm
// and stop its slow-write timer around the write (the timer's reset can wake Go's netpoller), and
// an idle connection's socket has nothing unsent, so the 5-byte write does not wait. A busy
// connection (an operation that failed mid-query) is closed by pgx within a second: a deadline on
// the socket bounds the write instead of a context, which pgx would watch with a timer and an
// AfterFunc of its own.
func closeBounded(c *pgx.Conn) {
	if hc, err := c.PgConn().Hijack(); err == nil {
		_, _ = hc.Conn.Write(terminate)
		_ = hc.Conn.Close()
		return
	}
	if nc := c.PgConn().Conn(); nc != nil {
		_ = nc.SetDeadline(time.Now().Add(time.Second))
	}
	_ = c.Close(context.Background())
}

// ConnNone gives every operation a nil connection: the workload opens and closes connections
// itself (a serverless instance with a lifecycle of its own), and reports the connects it times
// with Worker.RecordConnect.
const ConnNone ConnMode = "none"

type noneSource struct{}

func (noneSource) setRecorder(*Recorder)                    {}
func (noneSource) interrupts() *guard                       { return nil }
func (noneSource) refusedTLS() bool                         { return false }
func (noneSource) prepare(context.Context, []*Worker) error { return nil }
func (noneSource) close()                                   {}
func (noneSource) do(ctx context.Context, w *Worker, op Op) error {
	return op(ctx, w, nil)
}

// connectBackoff is how long the worker waits after an operation that ended in err: nothing,
// unless the connection mode failed to connect it or the server refused a connection the
// workload opened itself (ConnNone), and then a capped exponential backoff that grows with each
// failure in a row. A worker thus meets a dead server about once a second instead of spinning on
// it. 53300 too_many_connections is not waited on: how a workload meets a full server is what
// connect-storm and ddl-lock measure.
func (w *Worker) connectBackoff(err error) time.Duration {
	if err == nil {
		w.connFailures = 0
		return 0
	}
	var sce *sourceConnectError
	class := Classify(err)
	fromSource := errors.As(err, &sce) && class != "53300" && class != ClassTooManyReserved
	if !fromSource && class != ClassConnectRefused {
		w.connFailures = 0
		return 0
	}
	d := DefaultBackoff.Delay(w.connFailures)
	w.connFailures++
	return d
}

// RecordConnect records a connection the operation opened itself into the series' connect-time
// histogram, as the per-op and per-worker modes do for theirs.
func (w *Worker) RecordConnect(started time.Time, d time.Duration) {
	if w.rec != nil {
		w.rec.RecordConnect(w.ID, started, d)
	}
}
