package queue

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/shard"
)

// A sharded queue run (pgscale run queue --shard i/N) is N processes whose workers claim from one
// queue on one server. Shard 0 owns the queue's state:
//   - it resets the tables and loads the backlog before each point, then every shard starts at
//     once (env.Shard.Start);
//   - it runs the one feeder, keeping the queue table topped up for the workers of all shards
//     (queue_depth counts every shard's workers);
//   - it checks exactly-once once every shard has finished the point and reported (env.Shard.Sync):
//     each shard writes to queue_shard_report how many completions its workers saw succeed and
//     the tokens of the claims whose outcome they never learnt, and shard 0 runs the check over
//     the whole queue with every shard's tokens.
//
// So the figures read from the server (jobs_done, jobs_lost, jobs_duplicated, dead tuples, table
// growth, backlog_drained) appear in shard 0's result only, once, and pgscale merge, which sums
// a metric over the shards that have it, keeps them as they are; shard 0 adds
// exactly_once_shards (how many shards' reports the check covered) and jobs_acknowledged (the
// completions all shards' workers saw succeed, to set beside jobs_done). The workers' own figures
// (jobs_per_s, claims, idle_worker_fraction) are every shard's and are summed or averaged by the
// merge. Claim tokens number the workers over all shards, so that no two shards' tokens collide.
// A shard that stops before reporting leaves jobs running under its claims: the check counts
// them as jobs_abandoned_by_lost_shards, not as lost (the merged run is incomplete anyway).

// reportTable holds each shard's report of a point, in the run's schema.
const reportTable = "queue_shard_report"

// shardRole is this process's part in one point of the run.
type shardRole struct {
	coord *shard.Coordinator // nil in a whole run
	seg   shard.Segment
	// total is the point's workers over all shards; workerBase numbers this shard's first one.
	total, workerBase int
}

func roleOf(env *scenarios.Env, pt scenarios.Point) shardRole {
	r := shardRole{coord: env.Shard, seg: env.Shard.Segment(), total: pt.Workers}
	if r.seg.IsWhole() {
		return r
	}
	if w, ok := pt.Values["workers"].(int); ok {
		r.total = w // pt.Workers is this shard's segment of it
	}
	from, _ := r.seg.Range(0, int64(r.total))
	r.workerBase = int(from)
	return r
}

func (r shardRole) sharded() bool { return !r.seg.IsWhole() }

// owner tells whether this process resets, feeds and checks the queue: shard 0, or a whole run.
func (r shardRole) owner() bool { return r.seg.I == 0 }

// appName names the workers' connections of this run (and shard) in pg_stat_activity, so that a
// run that ends its workers' backends after a point ends only its own: on a dsn target other
// runs may share the database, each in a schema of its own, and a sharded run's shards share
// one. It is at most 63 bytes, what the server keeps of an application_name.
func (r shardRole) appName(schema string) string {
	name := workerAppName
	if schema != "" && schema != "public" {
		name = schema + "-queue"
	}
	suffix := ""
	if r.sharded() {
		suffix = fmt.Sprintf("-%d", r.seg.I)
	}
	if len(name)+len(suffix) > maxAppName {
		name = name[:maxAppName-len(suffix)]
	}
	return name + suffix
}

// maxAppName is how many bytes of an application_name the server keeps (NAMEDATALEN - 1).
const maxAppName = 63

// adjust fits a point's configuration to the shard: the feeder's auto depth counts the workers
// of every shard, and the producer runs at this shard's part of enqueue_rate (--rate is split
// by the runner already).
func (r shardRole) adjust(c *config, env *scenarios.Env) {
	if !r.sharded() {
		return
	}
	if env.Params.Int("queue_depth") == 0 {
		c.queueDepth = max(minQueueDepth, queueDepthPerWorker*r.total*c.batch)
	}
	if env.Rate <= 0 {
		c.rate = r.seg.ScaleRate(c.rate)
	}
}

// resetReports empties the shards' reports before a point (shard 0).
func (r shardRole) resetReports(ctx context.Context, conn *pgx.Conn) error {
	if !r.sharded() {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+reportTable+
		" (shard int PRIMARY KEY, acknowledged bigint NOT NULL, uncertain bigint[] NOT NULL); TRUNCATE "+reportTable)
	if err != nil {
		return fmt.Errorf("queue reset: shard reports: %w", err)
	}
	return nil
}

// ready meets the other shards once shard 0 has reset the tables, and returns at the common start.
func (r shardRole) ready(ctx context.Context) error {
	if !r.sharded() {
		return nil
	}
	if err := r.coord.Start(ctx, "queue reset"); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if !r.owner() && slices.Contains(r.coord.LostShards(), 0) {
		return fmt.Errorf("queue: shard 0/%d, which resets, feeds and checks the queue, stopped: the other shards cannot run the point without it", r.seg.N)
	}
	return nil
}

// finish reports what this shard's workers know of their jobs and meets the others once all have
// (after an interrupt it reports without waiting). rctx bounds the report, ctx the wait.
func (r shardRole) finish(ctx, rctx context.Context, conn *pgx.Conn, st *runState) error {
	if !r.sharded() {
		return nil
	}
	st.mu.Lock()
	uncertain := slices.Clone(st.uncertain)
	st.mu.Unlock()
	if uncertain == nil {
		uncertain = []int64{}
	}
	if _, err := conn.Exec(rctx, "INSERT INTO "+reportTable+" (shard, acknowledged, uncertain) VALUES ($1, $2, $3)",
		r.seg.I, st.acknowledged.Load(), uncertain); err != nil {
		return fmt.Errorf("queue: shard %s report: %w", r.seg, err)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := r.coord.Sync(ctx, "queue done"); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// shardCheck is what shard 0 gathers from the shards' reports.
type shardCheck struct {
	reported     []int
	acknowledged int64
	abandoned    int64 // running under claims of shards that did not report
}

// gather reads every shard's report into st (their uncertain claims join st.uncertain, so the
// check counts them as interrupted, not lost), before the exactly-once check (shard 0).
func (r shardRole) gather(ctx context.Context, conn *pgx.Conn, st *runState) (shardCheck, error) {
	out := shardCheck{acknowledged: st.acknowledged.Load()}
	if !r.sharded() {
		return out, nil
	}
	out.acknowledged = 0
	rows, err := conn.Query(ctx, "SELECT shard, acknowledged, uncertain FROM "+reportTable+" ORDER BY shard")
	if err != nil {
		return out, fmt.Errorf("queue: read the shards' reports: %w", err)
	}
	var i int
	var acked int64
	var tokens []int64
	_, err = pgx.ForEachRow(rows, []any{&i, &acked, &tokens}, func() error {
		out.reported = append(out.reported, i)
		out.acknowledged += acked
		if i != r.seg.I {
			st.mu.Lock()
			st.uncertain = append(st.uncertain, tokens...)
			st.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("queue: read the shards' reports: %w", err)
	}
	return out, nil
}

// abandoned moves out of c.lost the jobs left running under claims of the workers of shards that
// did not report (they stopped mid-point): those jobs are not lost by the queue (shard 0).
func (r shardRole) abandoned(ctx context.Context, conn *pgx.Conn, st *runState, sc *shardCheck, c *checkResult) error {
	if !r.sharded() {
		return nil
	}
	st.mu.Lock()
	uncertain := slices.Clone(st.uncertain)
	st.mu.Unlock()
	for i := 0; i < r.seg.N; i++ {
		if slices.Contains(sc.reported, i) {
			continue
		}
		from, to := shard.Segment{I: i, N: r.seg.N}.Range(0, int64(r.total))
		var n int64
		err := conn.QueryRow(ctx, `SELECT count(*) FROM task t
WHERE t.id > $1 AND t.status = 'running' AND NOT coalesce(t.claim_token = ANY ($2::bigint[]), false)
  AND t.claim_token >> 32 >= $3 AND t.claim_token >> 32 < $4`, st.cfg.history, uncertain, from, to).Scan(&n)
		if err != nil {
			return fmt.Errorf("queue exactly-once check: %w", err)
		}
		sc.abandoned += n
	}
	n := min(sc.abandoned, c.orphaned)
	c.orphaned -= n
	c.lost -= n
	return nil
}

// addMetrics adds shard 0's figures of the shards' reports.
func (r shardRole) addMetrics(m map[string]float64, sc shardCheck) {
	m[MetricJobsAcknowledged] = float64(sc.acknowledged)
	if !r.sharded() {
		return
	}
	m[MetricExactlyOnceShards] = float64(len(sc.reported))
	m[MetricJobsAbandonedByLostShards] = float64(sc.abandoned)
}
