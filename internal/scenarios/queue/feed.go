package queue

// What keeps the queue supplied: the feeder that moves pending tasks into the dedicated queue
// table, and the producer that enqueues at a rate.

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// feedOnce tops the queue table up once.
func (st *runState) feedOnce(ctx context.Context, conn *pgx.Conn) error {
	var cursor, fed int64
	if err := conn.QueryRow(ctx, feedQueue, st.cursor, st.cfg.queueDepth).Scan(&cursor, &fed); err != nil {
		return fmt.Errorf("queue feeder: %w", err)
	}
	st.cursor = cursor
	return nil
}

// feed tops the queue table up every feed interval until ctx ends, as the article's feeder does
// every second. A failed round is counted and tried again; ten in a row end the run. A round
// that lost the connection runs again at once on a new one (a round is safe to repeat: it adds
// what is not queued yet); a connection that cannot be reopened ends the run.
func (st *runState) feed(ctx context.Context, feeder *loadgen.Redialer) error {
	t := time.NewTicker(st.cfg.feedInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := feeder.Do(ctx, func(conn *pgx.Conn) error { return st.feedOnce(ctx, conn) })
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			st.feedErrs.Add(1)
			if failures++; failures >= 10 || loadgen.IsLost(err) {
				return err
			}
			continue
		}
		failures = 0
	}
}

// produce enqueues jobs at cfg.rate from its start until ctx ends, catching up after a slow
// insert rather than slowing down (an open loop). An insert that lost the connection is counted
// and made again on a new one at the next tick (if it had committed, a few more jobs are
// enqueued than the rate asked: each is still a job of its own).
func (st *runState) produce(ctx context.Context, producer *loadgen.Redialer) error {
	start := time.Now()
	pacer := loadgen.ConstantRate(st.cfg.rate)
	t := time.NewTicker(produceTick)
	defer t.Stop()
	var inserted int64
	for {
		due := pacer.Count(time.Since(start))
		if n := min(due-inserted, maxProduceBatch); n > 0 {
			conn, err := producer.Conn(ctx)
			if err == nil {
				err = st.enqueue(ctx, conn, n)
			}
			switch {
			case err == nil:
				inserted += n
				st.enqueued.Store(inserted)
			case ctx.Err() != nil:
				return nil
			case conn != nil && conn.IsClosed():
				producer.Count(err)
			case conn != nil:
				return fmt.Errorf("queue producer: %w", err)
			default:
				return err // could not reconnect
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// enqueue adds n jobs: into the task table (the feeder queues them), or for the fetcher variants
// into the queue table as well, with a NOTIFY in the same transaction for fetcher-notify.
func (st *runState) enqueue(ctx context.Context, conn *pgx.Conn, n int64) error {
	switch st.cfg.variant {
	case VariantFetcher:
		_, err := conn.Exec(ctx, produceQueued, n)
		return err
	case VariantFetcherNotify:
		b := &pgx.Batch{}
		b.Queue(produceQueued, n)
		b.Queue("NOTIFY " + notifyChannel)
		return conn.SendBatch(ctx, b).Close()
	default:
		_, err := conn.Exec(ctx, produce, n)
		return err
	}
}
