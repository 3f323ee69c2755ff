package result

// ScriptStats is one script of a script run's weighted mix: its committed transactions and
// their latency (from the transaction's start to its end, retries included), and the
// transactions that failed or were retried, by class (an SQLSTATE, or script_error).
type ScriptStats struct {
	Name         string           `json:"name"`
	Weight       int              `json:"weight"`
	Transactions int64            `json:"transactions"`
	Errors       map[string]int64 `json:"errors,omitempty"`
	Retries      map[string]int64 `json:"retries,omitempty"`
	LatencyMs    Percentiles      `json:"latency_ms"`
	// Histogram is the latency HDR histogram (EncodeHistogram), so that repeats merge exactly.
	Histogram string `json:"histogram,omitempty"`
}

// StatementStats is one SQL command of a script: how often it ran to success, its latency, and
// its errors by class. Label is "file:line: the SQL's first line".
type StatementStats struct {
	Script    int              `json:"script"` // index into the series' Scripts
	Label     string           `json:"label"`
	Count     int64            `json:"count"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	LatencyMs Percentiles      `json:"latency_ms"`
	Histogram string           `json:"histogram,omitempty"`
}
