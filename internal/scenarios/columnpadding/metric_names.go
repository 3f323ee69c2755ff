package columnpadding

// The names of the series metrics column-padding writes (result.Series.Metrics). Aligned's
// comparisons (savings, ratios, careless_…) are there only when careless ran with as many rows.
const (
	// MetricRows is the rows loaded into the variant's table.
	MetricRows = "rows"
	// MetricColumns is the table's number of columns.
	MetricColumns = "columns"
	// MetricHeapBytes is the table's heap size, in bytes.
	MetricHeapBytes = "heap_bytes"
	// MetricTotalBytes is the table's size with indexes and TOAST, in bytes.
	MetricTotalBytes = "total_bytes"
	// MetricTOASTBytes is the table's TOAST size, in bytes.
	MetricTOASTBytes = "toast_bytes"
	// MetricIndexBytes is the table's indexes' size, in bytes.
	MetricIndexBytes = "index_bytes"
	// MetricBytesPerRow is heap bytes per row, the scenario's headline (lower is better).
	MetricBytesPerRow = "bytes_per_row"
	// MetricTotalBytesPerRow is total bytes (indexes and TOAST included) per row.
	MetricTotalBytesPerRow = "total_bytes_per_row"
	// MetricTupleBytesPerRow is the mean tuple size, in bytes.
	MetricTupleBytesPerRow = "tuple_bytes_per_row"
	// MetricPaddingBytesPerRow is the mean alignment padding per tuple, in bytes.
	MetricPaddingBytesPerRow = "padding_bytes_per_row"
	// MetricPredictedPaddingBytesPerRow is the padding per row the layout model predicts, in bytes.
	MetricPredictedPaddingBytesPerRow = "predicted_padding_bytes_per_row"
	// MetricPredictedTupleBytesPerRow is the tuple size the layout model predicts, in bytes.
	MetricPredictedTupleBytesPerRow = "predicted_tuple_bytes_per_row"
	// MetricPredictedBytesPerRow is the heap bytes per row the layout model predicts.
	MetricPredictedBytesPerRow = "predicted_bytes_per_row"
	// MetricPredictedSavingPct is the heap saving of reordering the model predicts, in percent.
	MetricPredictedSavingPct = "predicted_saving_pct"
	// MetricInsertRowsPerS is the load's insert rate, in rows/s.
	MetricInsertRowsPerS = "insert_rows_per_s"
	// MetricVacuumMs is the VACUUM of the loaded table, in ms.
	MetricVacuumMs = "vacuum_ms"
	// MetricSeqscanCountMs is a sequential count(*) of the table, in ms.
	MetricSeqscanCountMs = "seqscan_count_ms"
	// MetricSeqscanAggMs is a sequential aggregate over the table, in ms.
	MetricSeqscanAggMs = "seqscan_agg_ms"

	// MetricSavingPct is aligned's heap saving over careless, in percent.
	MetricSavingPct = "saving_pct"
	// MetricTotalSavingPct is aligned's saving with indexes and TOAST, in percent.
	MetricTotalSavingPct = "total_saving_pct"
	// MetricTupleSavingPct is aligned's saving in mean tuple size, in percent.
	MetricTupleSavingPct = "tuple_saving_pct"
	// MetricCarelessSeqscanCountMs is careless's count(*), timed beside aligned's, in ms.
	MetricCarelessSeqscanCountMs = "careless_seqscan_count_ms"
	// MetricCarelessSeqscanAggMs is careless's aggregate, timed beside aligned's, in ms.
	MetricCarelessSeqscanAggMs = "careless_seqscan_agg_ms"
	// MetricSeqscanCountRatio is aligned's count(*) time over careless's.
	MetricSeqscanCountRatio = "seqscan_count_ratio"
	// MetricSeqscanAggRatio is aligned's aggregate time over careless's.
	MetricSeqscanAggRatio = "seqscan_agg_ratio"
	// MetricInsertRateRatio is aligned's insert rate over careless's (median of the probe's rounds).
	MetricInsertRateRatio = "insert_rate_ratio"
	// MetricVacuumRatio is aligned's VACUUM time over careless's (median of the probe's rounds).
	MetricVacuumRatio = "vacuum_ratio"
)
