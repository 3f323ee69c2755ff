package walretention

// The names of the series metrics wal-retention writes (result.Series.Metrics). Sizes are in MB;
// times in s are from the series' start; flags are 1 or 0.
const (
	// MetricWALRateMBS is the WAL write rate over the measured window, in MB/s.
	MetricWALRateMBS = "wal_rate_mb_s"
	// MetricWALWrittenMB is the WAL written over the measured window, in MB.
	MetricWALWrittenMB = "wal_written_mb"
	// MetricPgWALStartMB is pg_wal's size at the start, in MB (when it can be read).
	MetricPgWALStartMB = "pg_wal_start_mb"
	// MetricPgWALPeakMB is pg_wal's largest size, in MB: the scenario's headline (lower is better).
	MetricPgWALPeakMB = "pg_wal_peak_mb"
	// MetricPgWALEndMB is pg_wal's size at the end, in MB.
	MetricPgWALEndMB = "pg_wal_end_mb"
	// MetricSlotRetainedPeakMB is the most WAL the slot held back, in MB.
	MetricSlotRetainedPeakMB = "slot_retained_peak_mb"
	// MetricSlotRetainedEndMB is the WAL the slot held back at the end, in MB.
	MetricSlotRetainedEndMB = "slot_retained_end_mb"
	// MetricSlotInvalidated flags a slot the server invalidated (max_slot_wal_keep_size).
	MetricSlotInvalidated = "slot_invalidated"
	// MetricSlotInvalidatedAtS is when the slot was invalidated, in s.
	MetricSlotInvalidatedAtS = "slot_invalidated_at_s"
	// MetricSafeWALSizeMinMB is the least safe_wal_size seen, in MB.
	MetricSafeWALSizeMinMB = "safe_wal_size_min_mb"
	// MetricQuotaReached flags pg_wal reaching the quota.
	MetricQuotaReached = "quota_reached"
	// MetricQuotaReachedAtS is when pg_wal reached the quota, in s.
	MetricQuotaReachedAtS = "quota_reached_at_s"
	// MetricQuotaMB is the quota pg_wal is measured against, in MB.
	MetricQuotaMB = "quota_mb"
	// MetricDiskMB is the disk size the fill time is computed for, in MB.
	MetricDiskMB = "disk_mb"
	// MetricQuotaFillS is how long the quota lasts at the measured WAL rate, in s.
	MetricQuotaFillS = "quota_fill_s"
	// MetricDiskFillHours is how long the disk lasts at the measured WAL rate, in hours.
	MetricDiskFillHours = "disk_fill_hours"
	// MetricMaxWALSizeMB is the server's max_wal_size, in MB.
	MetricMaxWALSizeMB = "max_wal_size_mb"
	// MetricMaxSlotWALKeepSizeMB is the server's max_slot_wal_keep_size, in MB (-1: no bound).
	MetricMaxSlotWALKeepSizeMB = "max_slot_wal_keep_size_mb"
	// MetricWALMonitorErrors counts the pg_wal readings that failed.
	MetricWALMonitorErrors = "wal_monitor_errors"
)

// The timeline's per-second columns (result.Second.Extra): the last reading of that second.
const (
	// ColumnQuotaMB is the disk quota line, in MB.
	ColumnQuotaMB = "quota_mb"
	// ColumnPgWALMB is pg_wal's size, in MB.
	ColumnPgWALMB = "pg_wal_mb"
	// ColumnSlotRetainedMB is the WAL the slot holds back, in MB.
	ColumnSlotRetainedMB = "slot_retained_mb"
	// ColumnSlotLost is 1 once the slot is lost (wal_status lost).
	ColumnSlotLost = "slot_lost"
	// ColumnSlotSafeWALMB is what may still be written before the slot is lost, in MB (under
	// max_slot_wal_keep_size).
	ColumnSlotSafeWALMB = "slot_safe_wal_mb"
)
