package result

import "strings"

// The names of the series metrics (Series.Metrics) that more than one package writes or reads:
// the load generator's and the runner's own, the families scenario histograms and reconnecting
// connections produce, and the connect-storm figures pgscale size reads. A scenario declares the
// rest in its own metric_names.go. The names are the result contract: their values never change.
//
// Metric… is a whole name, MetricPrefix… the start of a family and MetricSuffix… its end: a
// scenario histogram "claim" gives claim_p50_ms (MetricSuffixP50Ms) and so on, a reconnecting
// connection "feeder" gives feeder_reconnects (MetricSuffixReconnects) and feeder_errors_57p01.

// Written by the load generator (loadgen.Outcome) for every series.
const (
	// MetricConnectTLSRefused is 1 when sslmode=prefer asked a server without TLS, which refused.
	MetricConnectTLSRefused = "connect_tls_refused"
	// MetricClientRSSPeakMB is the client process's peak resident memory, in MB.
	MetricClientRSSPeakMB = "client_rss_peak_mb"
	// MetricClientCPUMsPer1kOps is the client's CPU time per 1000 operations, warm-up included, in ms.
	MetricClientCPUMsPer1kOps = "client_cpu_ms_per_1k_ops"
	// MetricStoppedWorkers counts the workers stopped by an error that ends a worker.
	MetricStoppedWorkers = "stopped_workers"
	// MetricAbandonedOps counts the operations still running when the run's end cut them off.
	MetricAbandonedOps = "abandoned_ops"
	// MetricUnstartedOps counts the operations of a paced run due in its measured window that no
	// worker started before the end (the load fell behind its rate; loadgen.Outcome.Unstarted).
	MetricUnstartedOps = "unstarted_ops"
)

// Written by the runner from the server's sampler.
const (
	// MetricPeakConnections is the most server connections the sampler saw.
	MetricPeakConnections = "peak_connections"
	// MetricPeakWaitingOnLock is the most sessions the sampler saw waiting on a lock.
	MetricPeakWaitingOnLock = "peak_waiting_on_lock"
)

// The figures loadgen derives from a scenario histogram <name> (loadgen's Observe), in ms; the
// shard merge recomputes them from the merged histogram.
const (
	MetricSuffixP50Ms  = "_p50_ms"  // median
	MetricSuffixP90Ms  = "_p90_ms"  // 90th percentile
	MetricSuffixP99Ms  = "_p99_ms"  // 99th percentile
	MetricSuffixP999Ms = "_p999_ms" // 99.9th percentile
	MetricSuffixMaxMs  = "_max_ms"  // largest
	MetricSuffixMeanMs = "_mean_ms" // mean
	// MetricSuffixCount is the number of values behind a histogram's figures.
	MetricSuffixCount = "_count"
)

// The figures a reconnecting connection (loadgen.Redialer.AddMetrics) writes under its prefix.
const (
	// MetricSuffixReconnects counts the connection's reconnects.
	MetricSuffixReconnects = "_reconnects"
	// MetricSuffixErrors is followed by an error class in lower case (57p01) and counts its errors.
	MetricSuffixErrors = "_errors_"
)

// MetricReconnects is the name of the reconnect count of the connection with the given prefix.
func MetricReconnects(prefix string) string { return prefix + MetricSuffixReconnects }

// MetricErrors is the name of the count of a connection's errors of one class (a SQLSTATE such
// as 57P01, or a client class), which the name holds in lower case.
func MetricErrors(prefix, class string) string {
	return prefix + MetricSuffixErrors + strings.ToLower(class)
}

// Prefixes of the reconnecting connections pgscale's own code keeps.
const (
	// MetricPrefixControl is a scenario's control connection (scenarios.Finish).
	MetricPrefixControl = "control"
	// MetricPrefixSampler is the server sampler's connection; written only when it reconnected or
	// failed.
	MetricPrefixSampler = "sampler"
)

// Written by connect-storm and read by pgscale size (sizing's from_result).
const (
	// MetricLittlesDBTimeMs is the mean statement time per request behind Little's law, in ms.
	MetricLittlesDBTimeMs = "littles_db_time_ms"
	// MetricConnectsPerRequest is the share of requests that opened a connection, 0 to 1.
	MetricConnectsPerRequest = "connects_per_request"
	// MetricBackendPrivateKBMean is a backend's mean private memory (smaps_rollup), in kB.
	MetricBackendPrivateKBMean = "backend_private_kb_mean"
	// MetricBackendMemorySamples counts the backend memory readings behind the mean.
	MetricBackendMemorySamples = "backend_memory_samples"
	// MetricBackendContextKB is one backend's memory contexts after a request, in kB: a lower bound
	// of its memory, for when smaps_rollup cannot be read.
	MetricBackendContextKB = "backend_context_kb"
)

// The timeline's per-second columns (Second.Extra) that the load generator and the harness write
// for any scenario, and those of a scenario that the report reads: a scenario declares the rest,
// Column…, in its own metric_names.go. Like the metric names, their values never change.
const (
	// ColumnTargetPerS is a paced run's operations due in that second (loadgen).
	ColumnTargetPerS = "target_per_s"

	// ColumnPoolerClientsActive is the pooler's clients linked to a server connection.
	ColumnPoolerClientsActive = "pooler_clients_active"
	// ColumnPoolerServersIdle is the pooler's server connections not linked to a client.
	ColumnPoolerServersIdle = "pooler_servers_idle"
	// ColumnPoolerMaxWaitMs is the longest a pooler client had waited for a server, in ms.
	ColumnPoolerMaxWaitMs = "pooler_maxwait_ms"
	// ColumnPoolerXacts is the transactions the pooler passed since the sampler's previous reading.
	ColumnPoolerXacts = "pooler_xacts"
	// ColumnPoolerWaitMs is the time its clients spent waiting since that reading, in ms.
	ColumnPoolerWaitMs = "pooler_wait_ms"

	// ColumnBlockerHolding is 1 while ddl-lock's blocker holds its lock.
	ColumnBlockerHolding = "blocker_holding"
	// ColumnDDLWaiting is 1 while ddl-lock's ALTER waits for its lock.
	ColumnDDLWaiting = "ddl_waiting"
	// ColumnXminHeld is 1 while the queue's long transaction holds its snapshot.
	ColumnXminHeld = "xmin_held"
	// ColumnXminReleased is 1 from the second the queue's long transaction ended early.
	ColumnXminReleased = "xmin_released"
	// ColumnQueueDeadTuples is the queue table's n_dead_tup.
	ColumnQueueDeadTuples = "queue_dead_tuples"
	// ColumnTaskDeadTuples is the task table's n_dead_tup.
	ColumnTaskDeadTuples = "task_dead_tuples"
)
