package connectstorm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/wait"
)

// closeTimeout bounds the Terminate message of a closing connection: a healthy server answers in
// well under a millisecond; a second only matters when it is stuck.
const closeTimeout = time.Second

// closeParallelism bounds concurrent closes at the end of a point, as loadgen bounds its connects
// (PostgreSQL reaps backends one by one; more in flight only queue).
const closeParallelism = 32

var (
	table = pgx.Identifier{Table}.Sanitize()
	// insertEvents stores a client's events first..last (a contiguous range: a client's queue is
	// always its oldest undelivered event up to its newest) and reads back how many it wrote; a
	// retried event is already there and is not written twice.
	insertEvents = `WITH ins AS (
  INSERT INTO ` + table + ` (point, client, seq)
  SELECT $1::int, $2::int, s FROM generate_series($3::int, $4::int) s
  ON CONFLICT DO NOTHING RETURNING 1)
SELECT (SELECT count(*) FROM ins)`
	// insertEventsWork is insertEvents plus the function's server-side work, in the same
	// statement and so the same transaction: a pooler holds its server connection for all of it.
	insertEventsWork = insertEvents + `, pg_sleep($5::float8)`
)

// workload is one point's function instances and what they share.
type workload struct {
	variant string
	point   int32
	cc      *pgx.ConnConfig
	// connector opens the instances' connections (cold ones dial as the per-op mode's do).
	connector   *loadgen.Connector
	work        time.Duration
	idleTimeout time.Duration
	maxAge      time.Duration
	coldStart   float64
	retryAfter  time.Duration
	// measureFrom is when the measured window begins; database time is summed from there. end is
	// when the run ends: a request failing from then on was cut off, not refused.
	measureFrom, end time.Time

	instances []*instance // by worker ID; each touched only by its worker while the load runs
	closing   sync.WaitGroup
}

// instance is one function instance and the client it serves.
type instance struct {
	conn     *pgx.Conn
	born     time.Time
	lastUsed time.Time

	// Events first..next-1 are generated and not yet delivered; next counts every event.
	first, next int32

	requests, connects                    int64
	recycledIdle, recycledAge, coldStarts int64
	refused, late                         int64
	maxBatch                              int32
	dbTime                                time.Duration
	dbCount                               int64
}

// persistent tells whether instances keep their connection between requests.
func (wl *workload) persistent() bool {
	return wl.variant == VariantWarm || wl.variant == VariantRetryBatch
}

// op is one request to one function instance.
func (wl *workload) op(ctx context.Context, w *loadgen.Worker, _ *pgx.Conn) error {
	inst := wl.instances[w.ID]
	if inst == nil {
		inst = &instance{}
		wl.instances[w.ID] = inst
	}
	inst.requests++
	inst.next++ // this request's event
	if wl.variant != VariantRetryBatch {
		// Without the workaround a client sends its one event and forgets it, delivered or not;
		// an event left by a request cut off at the end of the run is still pending (flushed).
		inst.first = inst.next - 1
	}

	conn, err := wl.acquire(ctx, w, inst)
	if err != nil {
		if wl.variant == VariantRetryBatch && ctx.Err() == nil {
			// The article's 413: fail fast, keep the events, try again later with all of them.
			inst.refused++
			_ = wait.For(ctx, wl.retryAfter)
		}
		wl.failed(ctx, inst)
		return fmt.Errorf("connect: %w", err)
	}
	err = wl.deliver(ctx, conn, w.ID, inst)
	if !wl.persistent() || (err != nil && !isStatementError(err)) {
		// The cold function closes its connection; a broken one is dropped either way.
		inst.conn = nil
		closeConn(conn)
	}
	inst.lastUsed = time.Now()
	if err != nil {
		wl.failed(ctx, inst)
	}
	return err
}

// failed settles a failed request's event: the naive client forgets it (lost, unless the run
// cut the request off: then it is still pending); retry-batch keeps it queued.
func (wl *workload) failed(ctx context.Context, inst *instance) {
	cutOff := ctx.Err() != nil || !time.Now().Before(wl.end)
	if wl.variant != VariantRetryBatch && !cutOff {
		inst.first = inst.next
	}
}

// acquire returns the instance's connection, recycling the instance first when the platform
// would have, and connecting when it has none.
func (wl *workload) acquire(ctx context.Context, w *loadgen.Worker, inst *instance) (*pgx.Conn, error) {
	now := time.Now()
	if inst.conn != nil {
		recycle := true
		switch {
		case wl.idleTimeout > 0 && now.Sub(inst.lastUsed) > wl.idleTimeout:
			inst.recycledIdle++
		case wl.maxAge > 0 && now.Sub(inst.born) > wl.maxAge:
			inst.recycledAge++
		case wl.coldStart > 0 && w.Rand.Float64() < wl.coldStart:
			inst.coldStarts++
		default:
			recycle = false
		}
		if recycle {
			// The platform tears the old instance down while the request starts on a new one.
			old := inst.conn
			inst.conn = nil
			wl.closing.Go(func() { closeConn(old) })
		}
	}
	if inst.conn != nil && !inst.conn.IsClosed() {
		return inst.conn, nil
	}
	started := time.Now()
	conn, err := wl.connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	w.RecordConnect(started, time.Since(started))
	inst.connects++
	inst.conn, inst.born = conn, time.Now()
	return conn, nil
}

// deliver sends the instance's pending events (one, but for retry-batch all it has queued) and
// checks what the server read back.
func (wl *workload) deliver(ctx context.Context, conn *pgx.Conn, client int, inst *instance) error {
	first, last := inst.first, inst.next-1
	started := time.Now()
	var written int64
	var err error
	if wl.work > 0 {
		err = conn.QueryRow(ctx, insertEventsWork, pgx.QueryExecModeSimpleProtocol,
			wl.point, client, first, last, wl.work.Seconds()).Scan(&written, nil)
	} else {
		err = conn.QueryRow(ctx, insertEvents, pgx.QueryExecModeSimpleProtocol,
			wl.point, client, first, last).Scan(&written)
	}
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if !started.Before(wl.measureFrom) {
		inst.dbTime += time.Since(started)
		inst.dbCount++
	}
	batch := last - first + 1
	if written > int64(batch) {
		return fmt.Errorf("insert events: the server wrote %d rows for %d events", written, batch)
	}
	inst.late += int64(batch - 1)
	inst.maxBatch = max(inst.maxBatch, batch)
	inst.first = inst.next
	return nil
}

// isStatementError tells whether err came from a statement on a healthy connection (the server
// answered with an error); anything else leaves the connection in doubt.
func isStatementError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Severity == "ERROR"
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = c.Close(ctx)
}

// closeAll closes every instance's connection once the load has stopped, and waits for the
// closes of recycled instances.
func (wl *workload) closeAll() {
	sem := make(chan struct{}, closeParallelism)
	for _, inst := range wl.instances {
		if inst == nil || inst.conn == nil {
			continue
		}
		c := inst.conn
		inst.conn = nil
		sem <- struct{}{}
		wl.closing.Go(func() {
			defer func() { <-sem }()
			closeConn(c)
		})
	}
	wl.closing.Wait()
}

// totals sums the instances' counters.
type totals struct {
	requests, connects                    int64
	recycledIdle, recycledAge, coldStarts int64
	refused, late                         int64
	maxBatch                              int32
	dbTime                                time.Duration
	dbCount                               int64
}

func (wl *workload) totals() totals {
	var t totals
	for _, in := range wl.instances {
		if in == nil {
			continue
		}
		t.requests += in.requests
		t.connects += in.connects
		t.recycledIdle += in.recycledIdle
		t.recycledAge += in.recycledAge
		t.coldStarts += in.coldStarts
		t.refused += in.refused
		t.late += in.late
		t.maxBatch = max(t.maxBatch, in.maxBatch)
		t.dbTime += in.dbTime
		t.dbCount += in.dbCount
	}
	return t
}

// account is the events account of a point.
type account struct {
	generated, stored, flushed int64
}

// account delivers what clients still hold once the load has stopped (retry-batch queues, and
// events of requests cut off by the end of the run: the clients' next attempt, made after the
// storm), then counts the point's rows in the database.
func (wl *workload) account(ctx context.Context, admin *pgx.Conn) (*account, error) {
	a := &account{}
	var errs []error
	for client, inst := range wl.instances {
		if inst == nil {
			continue
		}
		a.generated += int64(inst.next)
		if inst.first >= inst.next {
			continue
		}
		if _, err := admin.Exec(ctx, insertEvents, wl.point, client, inst.first, inst.next-1); err != nil {
			errs = append(errs, fmt.Errorf("flush the events of client %d: %w", client, err))
			continue
		}
		a.flushed += int64(inst.next - inst.first)
		inst.first = inst.next
	}
	err := admin.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE point = $1", wl.point).Scan(&a.stored)
	if err != nil {
		errs = append(errs, fmt.Errorf("count the stored events: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return a, fmt.Errorf("connect-storm events account: %w", err)
	}
	return a, nil
}
