package pgbench

// The names of the series metrics the pgbench scenario writes (result.Series.Metrics), besides
// loadgen's.
const (
	// MetricPgbenchReportedTPS is the tps pgbench itself reported, over its whole -T (warm-up
	// included), in transactions/s.
	MetricPgbenchReportedTPS = "pgbench_reported_tps"
)
