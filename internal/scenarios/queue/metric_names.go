package queue

import "github.com/pgscale/pgscale/result"

// The names of the series metrics queue writes (result.Series.Metrics). Counts of claims and
// jobs are over the measured window unless said otherwise; the exactly-once check's are over the
// whole run.
const (
	// MetricJobsPerS is jobs completed per second, the scenario's headline.
	MetricJobsPerS = "jobs_per_s"
	// MetricClaims counts the claim statements.
	MetricClaims = "claims"
	// MetricClaimsEmpty counts the claims that found no job.
	MetricClaimsEmpty = "claims_empty"
	// MetricClaimsCutOff counts the claims the run's end cut off.
	MetricClaimsCutOff = "claims_cut_off"
	// MetricIdleWorkerFraction is empty claims over all claims, 0 to 1.
	MetricIdleWorkerFraction = "idle_worker_fraction"
	// MetricSaturationWorkers is the least worker count at which the sweep's jobs/s saturated.
	MetricSaturationWorkers = "saturation_workers"
	// MetricClientCPUMsPer1kJobs is the client's CPU time per 1000 jobs acknowledged, in ms.
	MetricClientCPUMsPer1kJobs = "client_cpu_ms_per_1k_jobs"
	// MetricConns is a fetcher variant's connections.
	MetricConns = "conns"
	// MetricJobsPerSVsConnPerWorker is a fetcher's jobs/s over the best connection-per-worker
	// variant's at the same workers.
	MetricJobsPerSVsConnPerWorker = "jobs_per_s_vs_conn_per_worker"
	// MetricBackendsTerminatedAfterRun counts the worker backends still running after the run,
	// which pgscale terminated.
	MetricBackendsTerminatedAfterRun = "backends_terminated_after_run"

	// MetricJobsEnqueued counts the jobs enqueued, whole run.
	MetricJobsEnqueued = "jobs_enqueued"
	// MetricJobsDone counts the jobs done, whole run.
	MetricJobsDone = "jobs_done"
	// MetricJobsPendingAtEnd counts the jobs still queued at the end.
	MetricJobsPendingAtEnd = "jobs_pending_at_end"
	// MetricJobsInterrupted counts the jobs whose completion the run's end interrupted.
	MetricJobsInterrupted = "jobs_interrupted"
	// MetricJobsLost counts the jobs neither done, pending nor interrupted: 0 unless exactly-once
	// failed.
	MetricJobsLost = "jobs_lost"
	// MetricJobsDuplicated counts the jobs done more than once: 0 unless exactly-once failed.
	MetricJobsDuplicated = "jobs_duplicated"
	// MetricJobsAcknowledged counts the completions the workers saw committed.
	MetricJobsAcknowledged = "jobs_acknowledged"
	// MetricExactlyOnceShards counts the shards whose reports the exactly-once check used.
	MetricExactlyOnceShards = "exactly_once_shards"
	// MetricJobsAbandonedByLostShards counts the jobs claimed by shards that did not report.
	MetricJobsAbandonedByLostShards = "jobs_abandoned_by_lost_shards"
	// MetricBacklogDrained flags (1 or 0) a backlog producer's queue emptied by the end.
	MetricBacklogDrained = "backlog_drained"
	// MetricQueueDepth is a queued variant's queue depth, in jobs.
	MetricQueueDepth = "queue_depth"
	// MetricFeederErrors counts the feeder's failed rounds.
	MetricFeederErrors = "feeder_errors"

	// MetricDeadTuples is the task and queue tables' dead tuples at the end.
	MetricDeadTuples = "dead_tuples"
	// MetricTableGrowthBytes is the tables' heap growth over the point, in bytes.
	MetricTableGrowthBytes = "table_growth_bytes"
	// MetricIndexGrowthBytes is the tables' index growth over the point, in bytes.
	MetricIndexGrowthBytes = "index_growth_bytes"
	// MetricAutovacuumRuns counts the autovacuums of the tables over the point.
	MetricAutovacuumRuns = "autovacuum_runs"
	// MetricAutoanalyzeRuns counts a table's autoanalyzes over the point (per table only).
	MetricAutoanalyzeRuns = "autoanalyze_runs"
)

// The long-transaction variants' figures. Times in s are from the series' start.
const (
	// MetricDeadTuplesPeak is the most dead tuples read during the load.
	MetricDeadTuplesPeak = "dead_tuples_peak"
	// MetricLongTxnHeldS is how long the long transaction held its snapshot, in s (0: none).
	MetricLongTxnHeldS = "long_txn_held_s"
	// MetricLongTxnEndedByTimeout flags (1 or 0) a long transaction a timeout ended.
	MetricLongTxnEndedByTimeout = "long_txn_ended_by_timeout"
	// MetricXminReleasedAtS is when the long transaction ended before the load did, in s.
	MetricXminReleasedAtS = "xmin_released_at_s"
	// MetricDeadTuplesAtRelease is the dead tuples when the long transaction ended.
	MetricDeadTuplesAtRelease = "dead_tuples_at_release"
	// MetricDeadTuplesLeastAfterRelease is the fewest dead tuples read after it ended.
	MetricDeadTuplesLeastAfterRelease = "dead_tuples_least_after_release"
	// MetricAutovacuumRunsWhileHeld counts the autovacuums while the snapshot was held.
	MetricAutovacuumRunsWhileHeld = "autovacuum_runs_while_held"
	// MetricJobsPerSFirstThird is jobs/s over the measured window's first third.
	MetricJobsPerSFirstThird = "jobs_per_s_first_third"
	// MetricJobsPerSLastThird is jobs/s over the measured window's last third.
	MetricJobsPerSLastThird = "jobs_per_s_last_third"
	// MetricP99MsFirstThird is the mean per-second p99 over the first third, in ms.
	MetricP99MsFirstThird = "p99_ms_first_third"
	// MetricP99MsLastThird is the mean per-second p99 over the last third, in ms.
	MetricP99MsLastThird = "p99_ms_last_third"
)

// The tables whose figures (dead_tuples … autoanalyze_runs) are also written one table at a
// time, as <table>_<figure> (tableMetric).
const (
	MetricPrefixTask  = "task"
	MetricPrefixQueue = "queue"
)

// tableMetric is the name of one table's figure: queue_dead_tuples.
func tableMetric(table, figure string) string { return table + "_" + figure }

// The job histograms (Histograms.Extra), each giving <name>_p50_ms … (result.MetricSuffix…): a
// claim statement, a completion, and a job from enqueue to completion.
const (
	MetricPrefixClaim    = "claim"
	MetricPrefixComplete = "complete"
	MetricPrefixEndToEnd = "end_to_end"
)

// Figures of the job histograms, in ms.
const (
	MetricClaimP99Ms    = MetricPrefixClaim + result.MetricSuffixP99Ms
	MetricEndToEndP50Ms = MetricPrefixEndToEnd + result.MetricSuffixP50Ms
)

// The reconnecting connections whose counts the series carries (result.MetricReconnects).
const (
	MetricPrefixProducer = "producer"
	MetricPrefixListener = "listener"
	MetricPrefixFeeder   = "feeder"
)

// The timeline's per-second columns (result.Second.Extra) queue writes, beside result's
// ColumnXminHeld and ColumnXminReleased: the oldest xmin's age, and each watched table's
// figures as <table>_<figure> (tableMetric; task_dead_tuples, queue_table_bytes, …).
const (
	// ColumnOldestXminAgeXacts is the age of the server's oldest xmin, in transactions.
	ColumnOldestXminAgeXacts = "oldest_xmin_age_xacts"
	// ColumnFigureDeadTuples is a table's n_dead_tup.
	ColumnFigureDeadTuples = "dead_tuples"
	// ColumnFigureTableBytes is a table's heap size, in bytes.
	ColumnFigureTableBytes = "table_bytes"
	// ColumnFigureIndexBytes is a table's index size, in bytes.
	ColumnFigureIndexBytes = "index_bytes"
	// ColumnFigureAutovacuumRuns counts a table's autovacuum runs since the point began.
	ColumnFigureAutovacuumRuns = "autovacuum_runs"
)
