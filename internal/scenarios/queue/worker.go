package queue

// The worker protocol: one job claimed, worked and completed per operation, by each variant
// statement, with the claim tokens that let the audit prove exactly-once.

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/wait"
)

// Statements. Each claim is one round trip and each completion another (delete-returning pipelines
// BEGIN with its claim and its completion with COMMIT), so that added network latency weighs the
// same on every variant.
const (
	// claimNaive takes the first pending job straight from the task table.
	claimNaive = `UPDATE task SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
WHERE id = (SELECT id FROM task WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id`
	// claimDedicated is the article's schedule_cinema_data_task in one statement: mark the first
	// unattempted queue entry, and the task's last attempt.
	claimDedicated = `WITH q AS (
  UPDATE task_queue SET attempted_at = clock_timestamp(), claim_token = $1
  WHERE id = (SELECT id FROM task_queue WHERE attempted_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING task_id
)
UPDATE task t SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
FROM q WHERE t.id = q.task_id
RETURNING t.id`
	// claimBatch is claimDedicated for up to $2 entries. ARRAY(…) makes the locking subquery run
	// once; with IN (…) the planner may run it again and claim more than $2.
	claimBatch = `WITH q AS (
  UPDATE task_queue SET attempted_at = clock_timestamp(), claim_token = $1
  WHERE id = ANY (ARRAY(SELECT id FROM task_queue WHERE attempted_at IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED))
  RETURNING task_id
)
UPDATE task t SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
FROM q WHERE t.id = q.task_id
RETURNING t.id`
	// claimDelete removes the first queue entry inside a transaction that stays open until the job
	// is done: a worker that dies rolls back, and the entry is there again.
	claimDelete = `DELETE FROM task_queue
WHERE id = (SELECT id FROM task_queue ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING task_id`
	// completeTask marks jobs done and logs each completion with its time from enqueue to done.
	// It does not check the status it overwrites: a job claimed twice would be logged twice, which
	// is what the exactly-once check looks for.
	completeTask = `WITH done AS (
  UPDATE task SET status = 'done', done_at = clock_timestamp() WHERE id = ANY ($1) RETURNING id, enqueued_at, done_at
)
INSERT INTO done_log (task_id, done_at, end_to_end_s)
SELECT id, done_at, extract(epoch FROM done_at - enqueued_at)::float8 FROM done
RETURNING end_to_end_s`
	// completeQueued is completeTask that also deletes the queue entries (the article's fix).
	completeQueued = `WITH dq AS (
  DELETE FROM task_queue WHERE task_id = ANY ($1)
), done AS (
  UPDATE task SET status = 'done', done_at = clock_timestamp() WHERE id = ANY ($1) RETURNING id, enqueued_at, done_at
)
INSERT INTO done_log (task_id, done_at, end_to_end_s)
SELECT id, done_at, extract(epoch FROM done_at - enqueued_at)::float8 FROM done
RETURNING end_to_end_s`
	// feedQueue is the article's update_cinema_data_task_queue: when fewer than $2 entries wait,
	// add the next pending tasks after the cursor $1 (the highest task id fed so far).
	feedQueue = `WITH outstanding AS (
  SELECT count(*) AS n FROM task_queue WHERE attempted_at IS NULL
), fed AS (
  INSERT INTO task_queue (task_id)
  SELECT t.id FROM task t
  WHERE t.id > $1 AND t.status = 'pending'
  ORDER BY t.id
  LIMIT greatest($2 - (SELECT n FROM outstanding), 0)
  ON CONFLICT (task_id) DO NOTHING
  RETURNING task_id
)
SELECT coalesce(max(task_id), $1), count(*) FROM fed`
	// produce enqueues $1 jobs.
	produce = `INSERT INTO task (status, payload) SELECT 'pending', md5(random()::text) FROM generate_series(1, $1::int)`
	// produceQueued enqueues $1 jobs straight into the queue table too (the fetcher variants).
	produceQueued = `WITH t AS (
  INSERT INTO task (status, payload) SELECT 'pending', md5(random()::text) FROM generate_series(1, $1::int) RETURNING id
)
INSERT INTO task_queue (task_id) SELECT id FROM t`
)

// runState is what one point's workers, feeder and producer share.
type runState struct {
	cfg config

	// Counted over the measured window (claims that finish in it, jobs done in it); cut-off claims
	// are those the end of the run interrupted.
	jobs, claims, emptyClaims, cutOffClaims atomic.Int64
	// enqueued counts the rate producer's jobs.
	enqueued atomic.Int64
	// acknowledged counts the jobs whose completion the workers saw succeed, warm-up included.
	acknowledged atomic.Int64
	// workerBase numbers this shard's workers after those of the shards before it, so that claim
	// tokens are unique over a sharded run (0 in a whole run).
	workerBase int

	// uncertain holds the tokens of claims whose outcome the worker never learnt (cut off by the
	// end of the run, or failed): a job left running under one of them is not lost.
	mu        sync.Mutex
	uncertain []int64

	// cursor is the highest task id the feeder has put in the queue table (feeder only).
	cursor   int64
	feedErrs atomic.Int64
	feeder   *loadgen.Redialer
	producer *loadgen.Redialer
	listener *loadgen.Redialer // fetcher-notify's LISTEN session

	startProducer   func()
	producerOnce    sync.Once
	producerStarted atomic.Bool
}

type workerState struct{ seq uint32 }

// inWindow reports whether t falls in the measured window: the run's context ends at the end of
// the measurement, which began cfg.duration before.
func (st *runState) inWindow(ctx context.Context, t time.Time) bool {
	end, ok := ctx.Deadline()
	if !ok {
		return true
	}
	return t.Before(end) && !t.Before(end.Add(-st.cfg.duration))
}

// op is one job (or one batch): claim until a job is found, do the work, complete.
func (st *runState) op(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	st.ensureProducer()
	ws, ok := w.State.(*workerState)
	if !ok {
		ws = &workerState{}
		w.State = ws
	}
	// Claims and jobs are counted, and observed, at the moment they finish: a claim begun in the
	// warm-up that ends in the measured window is a measured claim, and one that never ends (cut
	// off by the end of the run) counts with its time so far, a lower bound; dropping either
	// would hide exactly the slow claims this scenario is about.
	var ids []int64
	var token int64 // the claim's token, unique over every shard's workers
	for {
		ws.seq++
		token = int64(st.workerBase+w.ID)<<32 | int64(ws.seq)
		claimStarted := time.Now()
		var err error
		ids, err = st.claim(ctx, conn, token, ids[:0])
		finished := time.Now()
		d := finished.Sub(claimStarted)
		if err != nil {
			st.addUncertain(token)
			if ctx.Err() != nil {
				w.Observe(MetricPrefixClaim, finished, d)
				st.cutOffClaims.Add(1)
				return ctx.Err()
			}
			return fmt.Errorf("queue claim: %w", err)
		}
		w.Observe(MetricPrefixClaim, finished, d)
		if st.inWindow(ctx, finished) {
			st.claims.Add(1)
			if len(ids) == 0 {
				st.emptyClaims.Add(1)
			}
		}
		if len(ids) > 0 {
			break
		}
		if wait.For(ctx, st.cfg.poll) != nil {
			return ctx.Err()
		}
	}
	// The work and the completion run to the end even when the run's clock runs out, so that a
	// claimed job is finished, not abandoned. The completion's time limit starts after the work,
	// however long the work is.
	if err := st.work(context.WithoutCancel(ctx), conn, len(ids)); err != nil {
		st.addUncertain(token)
		return fmt.Errorf("queue work: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	started := time.Now()
	e2e, err := st.complete(cctx, conn, ids)
	done := time.Now()
	if err != nil {
		st.addUncertain(token)
		return fmt.Errorf("queue complete: %w", err)
	}
	w.Observe(MetricPrefixComplete, started, done.Sub(started))
	st.acknowledged.Add(int64(len(e2e)))
	for _, s := range e2e {
		w.Observe(MetricPrefixEndToEnd, done, time.Duration(s*float64(time.Second)))
	}
	if st.inWindow(ctx, done) {
		st.jobs.Add(int64(len(e2e)))
	}
	return nil
}

// ensureProducer starts the rate producer with the first worker's first operation.
func (st *runState) ensureProducer() {
	if st.startProducer != nil {
		st.producerOnce.Do(func() {
			st.producerStarted.Store(true)
			st.startProducer()
		})
	}
}

// work spends the configured time on the claimed jobs: asleep in the worker, or in pg_sleep on
// its connection.
func (st *runState) work(ctx context.Context, conn *pgx.Conn, jobs int) error {
	d := st.cfg.work * time.Duration(jobs)
	if d <= 0 {
		return nil
	}
	if !st.cfg.workOnServer {
		time.Sleep(d)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d+completeTimeout) // the work, and as long as a completion may take
	defer cancel()
	_, err := conn.Exec(ctx, "SELECT pg_sleep($1)", d.Seconds())
	return err
}

func (st *runState) addUncertain(token int64) {
	st.mu.Lock()
	st.uncertain = append(st.uncertain, token)
	st.mu.Unlock()
}

// claim returns the ids of the jobs it claimed, none when the queue had nothing to give.
func (st *runState) claim(ctx context.Context, conn *pgx.Conn, token int64, ids []int64) ([]int64, error) {
	var rows pgx.Rows
	var err error
	switch st.cfg.variant {
	case VariantNaive:
		rows, err = conn.Query(ctx, claimNaive, token)
	case VariantDedicated:
		rows, err = conn.Query(ctx, claimDedicated, token)
	case VariantBatch:
		rows, err = conn.Query(ctx, claimBatch, token, st.cfg.batch)
	case VariantDeleteReturning:
		return claimInTransaction(ctx, conn, ids)
	default:
		return nil, fmt.Errorf("unknown variant %q", st.cfg.variant)
	}
	if err != nil {
		return ids, err
	}
	return collectIDs(rows, ids)
}

func collectIDs(rows pgx.Rows, ids []int64) ([]int64, error) {
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// claimInTransaction opens a transaction and deletes the first queue entry in one round trip. The
// transaction stays open until the completion commits it; with nothing claimed it ends at once.
func claimInTransaction(ctx context.Context, conn *pgx.Conn, ids []int64) ([]int64, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(claimDelete)
	br := conn.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			ids, err = collectIDs(rows, ids)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(ids) == 0 {
		endTransaction(ctx, conn)
	}
	return ids, err
}

// endTransaction rolls back whatever transaction a failed or empty claim left open.
func endTransaction(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() || ctx.Err() != nil {
		return // the server rolls back as the connection goes
	}
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// complete marks ids done and returns each job's time from enqueue to done, in seconds.
func (st *runState) complete(ctx context.Context, conn *pgx.Conn, ids []int64) ([]float64, error) {
	var e2e []float64
	scan := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var s float64
			if err := rows.Scan(&s); err != nil {
				return err
			}
			e2e = append(e2e, s)
		}
		return rows.Err()
	}
	switch st.cfg.variant {
	case VariantNaive:
		rows, err := conn.Query(ctx, completeTask, ids)
		if err != nil {
			return nil, err
		}
		return e2e, scan(rows)
	case VariantDeleteReturning:
		b := &pgx.Batch{}
		b.Queue(completeTask, ids)
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		rows, err := br.Query()
		if err == nil {
			err = scan(rows)
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			endTransaction(ctx, conn)
		}
		return e2e, err
	default:
		rows, err := conn.Query(ctx, completeQueued, ids)
		if err != nil {
			return nil, err
		}
		return e2e, scan(rows)
	}
}
