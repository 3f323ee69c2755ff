package ingest

import "github.com/pgscale/pgscale/result"

// The names of the series metrics ingest writes (result.Series.Metrics). Row counts are over the
// measured window; the table figures are read after the point.
const (
	// MetricRowsPerS is rows committed per second, the scenario's headline.
	MetricRowsPerS = "rows_per_s"
	// MetricMBPerS is rows_per_s times the event size, in MB/s.
	MetricMBPerS = "mb_per_s"
	// MetricBatch is the point's rows per statement.
	MetricBatch = "batch"
	// MetricRowsAcknowledged counts the rows whose commit the server acknowledged.
	MetricRowsAcknowledged = "rows_acknowledged"
	// MetricRowsFailed counts the rows whose statement the server refused.
	MetricRowsFailed = "rows_failed"
	// MetricRowsUncertain counts the rows left in doubt (the connection broke at the commit).
	MetricRowsUncertain = "rows_uncertain"
	// MetricRowsInTable counts the rows found in the table.
	MetricRowsInTable = "rows_in_table"
	// MetricRowsLost counts the rows acknowledged but absent from the table.
	MetricRowsLost = "rows_lost"
	// MetricRowsUnaccounted counts the rows in the table beyond those acknowledged or in doubt.
	MetricRowsUnaccounted = "rows_unaccounted"
	// MetricWALBytesPerRow is the WAL written per row, in bytes.
	MetricWALBytesPerRow = "wal_bytes_per_row"
	// MetricTableBytesPerRow is the table's heap per row, in bytes.
	MetricTableBytesPerRow = "table_bytes_per_row"
	// MetricIndexBytesPerRow is the table's indexes per row, in bytes.
	MetricIndexBytesPerRow = "index_bytes_per_row"
	// MetricWALBytes is the WAL written over the point, in bytes.
	MetricWALBytes = "wal_bytes"
	// MetricEventBytes is the size of one event's row data, in bytes.
	MetricEventBytes = "event_bytes"
	// MetricRowsPerSVsInsert is rows_per_s over the insert variant's at the same point.
	MetricRowsPerSVsInsert = "rows_per_s_vs_insert"
	// MetricSaturationBatch is the least batch at which the sweep's rows/s saturated.
	MetricSaturationBatch = "saturation_batch"
)

// The buffered variant's counts, over the whole run: every event handed to the buffer was
// committed, refused, left in doubt, or never flushed.
const (
	// MetricEventsGenerated counts the events handed to the buffer.
	MetricEventsGenerated = "events_generated"
	// MetricEventsUnflushed counts the events never flushed (the drain timed out).
	MetricEventsUnflushed = "events_unflushed"
	// MetricEventsFlushedAfterStop counts the events flushed after the load stopped (the drain).
	MetricEventsFlushedAfterStop = "events_flushed_after_stop"
	// MetricEventsUnaccounted is events generated minus those committed, refused, in doubt or
	// unflushed: 0 unless events went missing.
	MetricEventsUnaccounted = "events_unaccounted"
	// MetricFlusherReconnects counts the flusher's reconnects.
	MetricFlusherReconnects = "flusher_reconnects"
	// MetricFlushIntervalMs is the flush interval, in ms.
	MetricFlushIntervalMs = "flush_interval_ms"
	// MetricFlushes counts the flushes.
	MetricFlushes = "flushes"
	// MetricFlushesFull counts the flushes of a full buffer.
	MetricFlushesFull = "flushes_full"
	// MetricFlushesByInterval counts the flushes the interval started.
	MetricFlushesByInterval = "flushes_by_interval"
	// MetricBatchRowsMean is the mean rows per flush.
	MetricBatchRowsMean = "batch_rows_mean"
)

// The buffered variant's histograms (Histograms.Extra), each giving <name>_p50_ms … and
// <name>_count (result.MetricSuffix…): an event from generation to commit, and a flush's COPY.
const (
	MetricPrefixEvent = "event"
	MetricPrefixFlush = "flush"
	// MetricPrefixEnqueueWait is the producers' wait for room in the buffer.
	MetricPrefixEnqueueWait = "enqueue_wait"
)

// The buffered variant's event time from generation to commit, in ms, and the events behind it.
const (
	MetricEventP50Ms = MetricPrefixEvent + result.MetricSuffixP50Ms
	MetricEventP99Ms = MetricPrefixEvent + result.MetricSuffixP99Ms
	MetricEventMaxMs = MetricPrefixEvent + result.MetricSuffixMaxMs
	MetricEventCount = MetricPrefixEvent + result.MetricSuffixCount
)
