package matview

import "github.com/pgscale/pgscale/result"

// The names of the series metrics matview writes (result.Series.Metrics). Flags are 1 or 0.
const (
	// MetricRows is the base table's rows.
	MetricRows = "rows"
	// MetricAccounts is the accounts the summary view groups the rows by.
	MetricAccounts = "accounts"
	// MetricRefreshes counts the refreshes (incremental: the batches).
	MetricRefreshes = "refreshes"
	// MetricRefreshMs is the median refresh (incremental: batch), in ms; the scenario's headline.
	MetricRefreshMs = "refresh_ms"
	// MetricUpToDateMs is from the writer's stop until the summary reflects every write, in ms.
	MetricUpToDateMs = "up_to_date_ms"
	// MetricRowsPerBatch is incremental's mean rows per batch.
	MetricRowsPerBatch = "rows_per_batch"
	// MetricMaxPendingRows is incremental's most rows seen waiting for a batch.
	MetricMaxPendingRows = "max_pending_rows"
	// MetricRefreshLockAccessExclusive flags a refresh seen holding ACCESS EXCLUSIVE on the view.
	MetricRefreshLockAccessExclusive = "refresh_lock_access_exclusive"
	// MetricRefreshLockExclusive flags a refresh seen holding EXCLUSIVE on the view.
	MetricRefreshLockExclusive = "refresh_lock_exclusive"
	// MetricReadersWaitingMax is the most readers seen waiting on the view.
	MetricReadersWaitingMax = "readers_waiting_max"
	// MetricReaderP99DuringOverBefore is readers' p99 during refreshes over their p99 before.
	MetricReaderP99DuringOverBefore = "reader_p99_during_over_before"
	// MetricWriterP99DuringOverBefore is the writer's p99 during refreshes over its p99 before.
	MetricWriterP99DuringOverBefore = "writer_p99_during_over_before"
	// MetricGrowthExponent is the slope of log(refresh_ms) against log(rows) over the variant's
	// sizes: 1 is linear growth.
	MetricGrowthExponent = "growth_exponent"
)

// The readers' and the writer's operations before and during refreshes, each giving
// <name>_p99_ms (in ms) and <name>_count (result.MetricSuffix…).
const (
	MetricPrefixReaderBefore = "reader_before"
	MetricPrefixReaderDuring = "reader_during"
	MetricPrefixWriterBefore = "writer_before"
	MetricPrefixWriterDuring = "writer_during"
)

// The p99s, in ms.
const (
	MetricReaderBeforeP99Ms = MetricPrefixReaderBefore + result.MetricSuffixP99Ms
	MetricReaderDuringP99Ms = MetricPrefixReaderDuring + result.MetricSuffixP99Ms
	MetricWriterBeforeP99Ms = MetricPrefixWriterBefore + result.MetricSuffixP99Ms
	MetricWriterDuringP99Ms = MetricPrefixWriterDuring + result.MetricSuffixP99Ms
)

// The timeline's per-second columns (result.Second.Extra).
const (
	// ColumnRefreshing is 1 in a second a refresh (or an incremental batch) ran in.
	ColumnRefreshing = "refreshing"
	// ColumnReadersWaiting is the most readers seen waiting on the view in that second.
	ColumnReadersWaiting = "readers_waiting"
	// ColumnPendingRows is the most events seen pending (incremental variant).
	ColumnPendingRows = "pending_rows"
)
