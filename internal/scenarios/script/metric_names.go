package script

// The names of the series metrics the script scenario writes (result.Series.Metrics), besides
// loadgen's.
const (
	// MetricTransactionsWithWarmup counts the transactions of the whole run, warm-up included, as
	// pgbench counts them.
	MetricTransactionsWithWarmup = "transactions_with_warmup"
	// MetricScale is the scale :scale holds (pgbench's -s, or the scale read from the tables).
	MetricScale = "scale"
	// MetricRetries counts the retries of all scripts (serialization failures, deadlocks);
	// there only when some were.
	MetricRetries = "retries"
)
