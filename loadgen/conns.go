package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// connectParallelism bounds concurrent connection attempts while a run warms its connections.
// PostgreSQL forks a backend per connection; on 2 cores ~180 connects/s were measured, and more
// than a few dozen attempts in flight only adds queueing in the postmaster.
const connectParallelism = 32

// errPoolTimeout marks a pool acquire cut off by its deadline.
var errPoolTimeout = errors.New("pool acquire timed out")

// connSource hands connections to workers according to the connection mode.
type connSource interface {
	prepare(ctx context.Context, workers []*Worker) error
	do(ctx context.Context, w *Worker, op Op) error
	setRecorder(rec *Recorder)
	close()
}

func newConnSource(ctx context.Context, cfg Config) (connSource, error) {
	switch cfg.ConnMode {
	case ConnPool:
		pool, err := newPool(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &poolSource{pool: pool, size: int(pool.Config().MaxConns)}, nil
	case ConnPerWorker:
		return &workerSource{cfg: cfg, conns: make([]*pgx.Conn, cfg.Workers)}, nil
	case ConnNone:
		return noneSource{}, nil
	default:
		return &perOpSource{cfg: cfg}, nil
	}
}

type poolSource struct {
	pool *pgxpool.Pool
	size int
}

func (s *poolSource) setRecorder(*Recorder) {}

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
		return err
	}
	defer c.Release()
	return op(ctx, w, c.Conn())
}

func (s *poolSource) close() { s.pool.Close() }

type workerSource struct {
	cfg   Config
	rec   *Recorder
	conns []*pgx.Conn
}

func (s *workerSource) setRecorder(rec *Recorder) { s.rec = rec }

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
			if c, err := Connect(ctx, s.cfg.ConnConfig, s.cfg.ConnectTimeout); err == nil {
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
		nc, err := Connect(ctx, s.cfg.ConnConfig, s.cfg.ConnectTimeout)
		if err != nil {
			return err
		}
		s.rec.RecordConnect(w.ID, started, time.Since(started))
		s.conns[w.ID], c = nc, nc
	}
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
	cfg Config
	rec *Recorder
}

func (s *perOpSource) setRecorder(rec *Recorder)                { s.rec = rec }
func (s *perOpSource) prepare(context.Context, []*Worker) error { return nil }
func (s *perOpSource) close()                                   {}

func (s *perOpSource) do(ctx context.Context, w *Worker, op Op) error {
	started := time.Now()
	c, err := Connect(ctx, s.cfg.ConnConfig, s.cfg.ConnectTimeout)
	if err != nil {
		return err
	}
	s.rec.RecordConnect(w.ID, started, time.Since(started))
	opErr := op(ctx, w, c)
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(closeCtx)
	return opErr
}

// ConnNone gives every operation a nil connection: the workload opens and closes connections
// itself (a serverless instance with a lifecycle of its own), and reports the connects it times
// with Worker.RecordConnect.
const ConnNone ConnMode = "none"

type noneSource struct{}

func (noneSource) setRecorder(*Recorder)                    {}
func (noneSource) prepare(context.Context, []*Worker) error { return nil }
func (noneSource) close()                                   {}
func (noneSource) do(ctx context.Context, w *Worker, op Op) error {
	return op(ctx, w, nil)
}

// RecordConnect records a connection the operation opened itself into the series' connect-time
// histogram, as the per-op and per-worker modes do for theirs.
func (w *Worker) RecordConnect(started time.Time, d time.Duration) {
	if w.rec != nil {
		w.rec.RecordConnect(w.ID, started, d)
	}
}
