package connectstorm

// The names of the series metrics connect-storm writes (result.Series.Metrics). The figures
// pgscale size reads (littles_db_time_ms, connects_per_request, the backend memory) are declared
// in package result.
const (
	// MetricErrorFraction is failed requests over all attempted, 0 to 1.
	MetricErrorFraction = "error_fraction"
	// MetricRateCapPerS is max_connections over the work per request: the rate the server's
	// connections can carry at most, in requests/s.
	MetricRateCapPerS = "rate_cap_per_s"

	// MetricEventsGenerated counts the events the clients generated, warm-up included.
	MetricEventsGenerated = "events_generated"
	// MetricEventsStored counts the events found in the database.
	MetricEventsStored = "events_stored"
	// MetricEventsLost is events generated minus events stored.
	MetricEventsLost = "events_lost"
	// MetricEventsFlushedAfterRun counts the events the clients flushed after the load ended.
	MetricEventsFlushedAfterRun = "events_flushed_after_run"
	// MetricEventsDeliveredLate counts retry-batch's events delivered with a later request's batch.
	MetricEventsDeliveredLate = "events_delivered_late"
	// MetricRequests413 counts retry-batch's requests refused as too large (HTTP 413).
	MetricRequests413 = "requests_413"
	// MetricBatchEventsMax is retry-batch's largest batch, in events.
	MetricBatchEventsMax = "batch_events_max"

	// MetricConnects counts the connections the instances opened.
	MetricConnects = "connects"
	// MetricRecycledIdle counts the instances recycled for being idle too long.
	MetricRecycledIdle = "recycled_idle"
	// MetricRecycledMaxAge counts the instances recycled for their age.
	MetricRecycledMaxAge = "recycled_max_age"
	// MetricColdStarts counts the requests that found their instance replaced (a cold start).
	MetricColdStarts = "cold_starts"
	// MetricPoolSize is pooled's pool size per instance, in connections.
	MetricPoolSize = "pool_size"

	// MetricPeakBackends is the most client backends sampled in the measured window.
	MetricPeakBackends = "peak_backends"
	// MetricMeanBackends is the mean of the client backends sampled.
	MetricMeanBackends = "mean_backends"
	// MetricMeanActiveBackends is the mean of the active backends sampled.
	MetricMeanActiveBackends = "mean_active_backends"
	// MetricBackendPrivateKBMax is the largest backend private memory read, in kB.
	MetricBackendPrivateKBMax = "backend_private_kb_max"

	// MetricLittlesPredictedActive is Little's law's busy backends: request rate × database time.
	MetricLittlesPredictedActive = "littles_predicted_active"
	// MetricLittlesObservedActive is the mean active backends sampled, beside the prediction.
	MetricLittlesObservedActive = "littles_observed_active"
	// MetricLittlesRatio is observed over predicted active backends.
	MetricLittlesRatio = "littles_ratio"

	// MetricErrorOnsetConcurrency is the least swept concurrency at which requests failed.
	MetricErrorOnsetConcurrency = "error_onset_concurrency"
	// MetricSustainableRatePerS is the best throughput of the sweep without errors so far, in
	// requests/s.
	MetricSustainableRatePerS = "sustainable_rate_per_s"
)
