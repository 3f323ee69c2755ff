package result

// What can bind a series (Diagnosis.Bound).
const (
	BoundServerCPU   = "server_cpu"
	BoundClientCPU   = "client_cpu"
	BoundLock        = "lock"
	BoundIO          = "io"
	BoundWAL         = "wal"
	BoundConnections = "connections"
	BoundNetwork     = "network_latency"
	BoundPooler      = "pooler"
	BoundOfferedRate = "offered_rate"
	BoundUnknown     = "unknown"
)

// Diagnosis is what bound a series, and the figures that say so.
type Diagnosis struct {
	Bound string `json:"bound"`
	// Evidence is one sentence of figures: "server CPU 97% of 2 CPUs; top wait LWLock:WALWrite,
	// 41% of active time".
	Evidence string `json:"evidence"`
	// Floor: the load generator bound the figure, so the server carries at least as much; no
	// finding may say the server peaked or degraded.
	Floor bool `json:"floor,omitempty"`
	// ActiveSessions is the average active sessions over the measured seconds, Connections the
	// average client connections.
	ActiveSessions float64 `json:"active_sessions"`
	Connections    float64 `json:"connections"`
	// CPU figures in percent: the server's of Resources.ServerCPUs, the load generator's of its
	// GOMAXPROCS, the host's of its CPUs. Absent when not measured.
	ServerCPUPct *float64 `json:"server_cpu_pct,omitempty"`
	ClientCPUPct *float64 `json:"client_cpu_pct,omitempty"`
	HostCPUPct   *float64 `json:"host_cpu_pct,omitempty"`
	// TopWaits are the largest shares of active time by wait event (CPU included), up to three.
	TopWaits []WaitShare `json:"top_waits,omitempty"`
}

// WaitShare is one wait event's share of active time.
type WaitShare struct {
	Event    string  `json:"event"`
	Sessions float64 `json:"sessions"` // average active sessions on it
	Share    float64 `json:"share"`    // of all active sessions, 0 to 1
}
