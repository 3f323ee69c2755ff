package ddllock

import "github.com/pgscale/pgscale/result"

// The names of the series metrics ddl-lock writes (result.Series.Metrics). Times in s are from
// the series' start.
const (
	// MetricErrors53300 counts the application's too_many_connections errors, reserved ones included.
	MetricErrors53300 = "errors_53300"
	// MetricErrors55P03 counts the lock_not_available errors (lock_timeout).
	MetricErrors55P03 = "errors_55p03"
	// MetricErrors57014 counts the query_canceled errors (statement_timeout).
	MetricErrors57014 = "errors_57014"

	// MetricBlockerFromS is when the blocker took its lock, in s.
	MetricBlockerFromS = "blocker_from_s"
	// MetricBlockerHeldMs is how long the blocker held its lock, in ms.
	MetricBlockerHeldMs = "blocker_held_ms"

	// MetricDDLSucceeded is 1 when the ALTER got its lock and finished, else 0.
	MetricDDLSucceeded = "ddl_succeeded"
	// MetricDDLRetries counts the ALTER's retries after lock_timeout.
	MetricDDLRetries = "ddl_retries"
	// MetricDDLIssuedAtS is when the ALTER was issued, in s.
	MetricDDLIssuedAtS = "ddl_issued_at_s"
	// MetricDDLDurationMs is from the ALTER's issue to its end, retries included, in ms.
	MetricDDLDurationMs = "ddl_duration_ms"
	// MetricTimeToConnectionExhaustionS is from the ALTER's issue to the first 53300, in s.
	MetricTimeToConnectionExhaustionS = "time_to_connection_exhaustion_s"

	// MetricAppP99DuringOverBefore is the application's p99 during the ALTER over its p99 before.
	MetricAppP99DuringOverBefore = "app_p99_during_over_before"
	// MetricMaxLockQueueDepth is the most sessions seen queued on the table's lock.
	MetricMaxLockQueueDepth = "max_lock_queue_depth"
	// MetricMaxAppConnections is the most application connections seen.
	MetricMaxAppConnections = "max_app_connections"

	// MetricLongQueriesStarted counts long-queries' long queries started.
	MetricLongQueriesStarted = "long_queries_started"
	// MetricLongQueriesCanceled counts long-queries' long queries canceled by statement_timeout.
	MetricLongQueriesCanceled = "long_queries_canceled"
	// MetricStatementTimeoutMs is long-queries' statement_timeout, in ms.
	MetricStatementTimeoutMs = "statement_timeout_ms"
	// MetricLockTimeoutMs is lock-timeout's lock_timeout, in ms.
	MetricLockTimeoutMs = "lock_timeout_ms"
	// MetricVacuumCostDelayMs is the VACUUM blocker's cost delay, in ms.
	MetricVacuumCostDelayMs = "vacuum_cost_delay_ms"
	// MetricVacuumCostUnits is the cost units of the VACUUM blocker's work, counted unthrottled.
	MetricVacuumCostUnits = "vacuum_cost_units"
)

// The application's request-time histograms (Histograms.Extra), each giving <name>_p50_ms and
// the rest (result.MetricSuffix…): every request, and those before, during and after the ALTER.
const (
	MetricPrefixApp          = "app"
	MetricPrefixAppBeforeDDL = "app_before_ddl"
	MetricPrefixAppDuringDDL = "app_during_ddl"
	MetricPrefixAppAfterDDL  = "app_after_ddl"
)

// The application's p99 before and during the ALTER, in ms.
const (
	MetricAppBeforeDDLP99Ms = MetricPrefixAppBeforeDDL + result.MetricSuffixP99Ms
	MetricAppDuringDDLP99Ms = MetricPrefixAppDuringDDL + result.MetricSuffixP99Ms
)

// The timeline's per-second columns (result.Second.Extra) ddl-lock writes, beside result's
// ColumnBlockerHolding and ColumnDDLWaiting.
const (
	// ColumnLockQueueDepth is the most sessions seen queued on the table's lock in that second.
	ColumnLockQueueDepth = "lock_queue_depth"
	// ColumnAppConnections is the most application connections seen in that second.
	ColumnAppConnections = "app_connections"
	// ColumnLongQueriesRunning is the most long queries seen running (long-queries variant).
	ColumnLongQueriesRunning = "long_queries_running"
	// ColumnDDLAttempts counts the ALTER attempts that started in that second.
	ColumnDDLAttempts = "ddl_attempts"
)
