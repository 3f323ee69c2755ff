package zombie

// The names of the series metrics zombie-queries writes (result.Series.Metrics). Times in s are
// from the load's start.
const (
	// MetricMaxConnections is the server's max_connections.
	MetricMaxConnections = "max_connections"
	// MetricClientTimeoutMs is the web tier's request timeout, in ms.
	MetricClientTimeoutMs = "client_timeout_ms"
	// MetricSlowQueryMs is a slow request's query time, in ms.
	MetricSlowQueryMs = "slow_query_ms"
	// MetricStatementTimeoutMs is the statement_timeout the variant sets, in ms (0: none).
	MetricStatementTimeoutMs = "statement_timeout_ms"
	// MetricCheckIntervalMs is client_connection_check_interval, in ms (0: none).
	MetricCheckIntervalMs = "check_interval_ms"
	// MetricErrors53300 counts the too_many_connections errors, reserved ones included.
	MetricErrors53300 = "errors_53300"
	// MetricErrors57014 counts the query_canceled errors (statement_timeout).
	MetricErrors57014 = "errors_57014"
	// MetricClientTimeouts counts the requests the web tier gave up on, warm-up included.
	MetricClientTimeouts = "client_timeouts"
	// MetricSlowRequests counts the slow requests started.
	MetricSlowRequests = "slow_requests"
	// MetricClientsGoneMidQuery counts the connections the web tier closed with their query running.
	MetricClientsGoneMidQuery = "clients_gone_mid_query"

	// MetricZombiesPeak is the most backends seen running for a client that had gone.
	MetricZombiesPeak = "zombies_peak"
	// MetricAppConnectionsPeak is the most application connections seen.
	MetricAppConnectionsPeak = "app_connections_peak"
	// MetricConnectionsPeak is the most server connections seen.
	MetricConnectionsPeak = "connections_peak"
	// MetricTimeToFirst53300S is when the first too_many_connections came, in s.
	MetricTimeToFirst53300S = "time_to_first_53300_s"
	// MetricZombiesAtFirst53300 is the zombies in the last reading before the first 53300.
	MetricZombiesAtFirst53300 = "zombies_at_first_53300"
	// MetricConnectionsAtFirst53300 is the connections in the last reading before the first 53300.
	MetricConnectionsAtFirst53300 = "connections_at_first_53300"
	// MetricZombiesExited counts the zombies seen exit.
	MetricZombiesExited = "zombies_exited"
	// MetricZombieAfterCloseP50Ms is the median time a zombie outlived its client, in ms.
	MetricZombieAfterCloseP50Ms = "zombie_after_close_p50_ms"
	// MetricZombieAfterCloseMaxMs is the longest time a zombie outlived its client, in ms.
	MetricZombieAfterCloseMaxMs = "zombie_after_close_max_ms"
	// MetricZombiesLeftAtEnd counts the zombies still running at the end.
	MetricZombiesLeftAtEnd = "zombies_left_at_end"
)

// A probe's figures, one probe per kind of slow query (sleep, cpu), named by ProbeMetric:
// probe_sleep_after_close_ms.
const (
	// MetricProbeQueryMs is from the probe's query start to its end or its backend's exit, in ms.
	MetricProbeQueryMs = "query_ms"
	// MetricProbeEndedBeforeClose flags (1 or 0) a query that ended before the web tier gave up.
	MetricProbeEndedBeforeClose = "ended_before_close"
	// MetricProbeStillRunning flags (1 or 0) a backend still running when the probe stopped waiting.
	MetricProbeStillRunning = "still_running"
	// MetricProbeAfterCloseMs is from the client's close to its backend's exit, in ms.
	MetricProbeAfterCloseMs = "after_close_ms"
)

// The probes' prefixes, probe_<kind>.
const (
	MetricPrefixProbeSleep = "probe_" + kindSleep
	MetricPrefixProbeCPU   = "probe_" + kindCPU
)

// ProbeMetric is the name of a probe's figure: probe_<kind>_<figure>, kind sleep or cpu.
func ProbeMetric(kind, figure string) string { return "probe_" + kind + "_" + figure }

// The timeline's per-second columns (result.Second.Extra): the most the watcher saw in that
// second.
const (
	// ColumnZombies is the sessions still running a query whose client had gone.
	ColumnZombies = "zombies"
	// ColumnAppConnections is the application's connections.
	ColumnAppConnections = "app_connections"
	// ColumnAppActive is the application's connections running a query.
	ColumnAppActive = "app_active"
	// ColumnConnections is the server's connections.
	ColumnConnections = "connections"
)
