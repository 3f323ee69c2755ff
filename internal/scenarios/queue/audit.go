package queue

// The exactly-once audit after every point, the statistics of the tables it reads, and ending the
// backends a point left.

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// tableStats are one table's figures from pg_class and pg_stat_user_tables.
type tableStats struct {
	tableBytes, indexBytes            int64
	deadTuples                        int64
	autovacuumCount, autoanalyzeCount int64
}

// readTableStats reads the figures of task and task_queue, keyed "task" and "queue".
func readTableStats(ctx context.Context, conn *pgx.Conn) (map[string]tableStats, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname::text, pg_table_size(c.oid), pg_indexes_size(c.oid),
       coalesce(s.n_dead_tup, 0), coalesce(s.autovacuum_count, 0), coalesce(s.autoanalyze_count, 0)
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid IN (to_regclass('task'), to_regclass('task_queue'))`)
	if err != nil {
		return nil, fmt.Errorf("queue table stats: %w", err)
	}
	out := map[string]tableStats{}
	var name string
	var t tableStats
	_, err = pgx.ForEachRow(rows, []any{&name, &t.tableBytes, &t.indexBytes, &t.deadTuples, &t.autovacuumCount, &t.autoanalyzeCount}, func() error {
		key := "task"
		if name == "task_queue" {
			key = "queue"
		}
		out[key] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue table stats: %w", err)
	}
	return out, nil
}

// endWorkerBackends waits for the workers', feeder's and producer's backends to exit (they
// report their table statistics, dead tuples among them, as they exit) and terminates those still
// running after backendsGrace: a claim cut off by the end of the run may still be scanning when
// its client has gone, as the cancel request that would stop it queues behind the load, and
// would hold a core for minutes. It returns how many it terminated.
func endWorkerBackends(ctx context.Context, conn *pgx.Conn, appName string) int {
	const query = `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()`
	remaining := func() int {
		var n int
		if err := conn.QueryRow(ctx, query, appName).Scan(&n); err != nil {
			return 0
		}
		return n
	}
	wait := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if remaining() == 0 {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	if wait(backendsGrace) {
		return 0
	}
	var terminated int
	_ = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()`, appName).Scan(&terminated)
	wait(backendsGoneTimeout)
	return terminated
}

// checkResult is the exactly-once check of one point.
type checkResult struct {
	enqueued, done, pending      int64
	interrupted                  int64 // running under a claim whose outcome the worker never learnt
	lost, duplicated             int64
	orphaned, unqueued, unlogged int64 // the parts of lost
}

// check verifies exactly-once over the jobs of this point (ids above the history): every job is
// done exactly once, or still pending (and, with a queue table, queued or not yet fed), or was
// running under a claim the run cut off.
func (st *runState) check(ctx context.Context, conn *pgx.Conn) (checkResult, error) {
	st.mu.Lock()
	uncertain := slices.Clone(st.uncertain)
	st.mu.Unlock()
	var r checkResult
	var historyLogged int64
	err := conn.QueryRow(ctx, `
WITH d AS (SELECT task_id, count(*) AS n FROM done_log GROUP BY task_id)
SELECT count(*),
       count(*) FILTER (WHERE t.status = 'done'),
       count(*) FILTER (WHERE t.status = 'pending'),
       count(*) FILTER (WHERE t.status = 'running' AND t.claim_token = ANY ($2::bigint[])),
       count(*) FILTER (WHERE t.status = 'running' AND NOT coalesce(t.claim_token = ANY ($2::bigint[]), false)),
       count(*) FILTER (WHERE t.status = 'done' AND d.n IS NULL),
       coalesce(sum(d.n - 1) FILTER (WHERE d.n > 1), 0)::bigint,
       (SELECT count(*) FROM done_log WHERE task_id <= $1)
FROM task t LEFT JOIN d ON d.task_id = t.id
WHERE t.id > $1`, st.cfg.history, uncertain).Scan(
		&r.enqueued, &r.done, &r.pending, &r.interrupted, &r.orphaned, &r.unlogged, &r.duplicated, &historyLogged)
	if err != nil {
		return r, fmt.Errorf("queue exactly-once check: %w", err)
	}
	// A completion of a job of the history, done before the run, is a job done twice.
	r.duplicated += historyLogged
	if st.cfg.queued() {
		// A pending task the feeder passed over that has no queue entry will never be claimed.
		err := conn.QueryRow(ctx, `
SELECT count(*) FROM task t
WHERE t.id > $1 AND t.id <= $2 AND t.status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM task_queue q WHERE q.task_id = t.id)`, st.cfg.history, st.cursor).Scan(&r.unqueued)
		if err != nil {
			return r, fmt.Errorf("queue exactly-once check: %w", err)
		}
	}
	r.lost = r.orphaned + r.unqueued + r.unlogged
	return r, nil
}
