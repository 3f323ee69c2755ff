// Package result is pgscale's result model: the contract between run, report, gate and size. It
// holds the types of result.json, its JSON Schema and validation, the HDR histograms behind every
// latency figure, and reading and writing results atomically. It renders nothing and depends on
// no renderer, so the load generator, the harness and the scenarios import it without pulling in
// plots.
//
// A result is written once by a run and read by everything else; it keeps the mergeable data
// (encoded HDR histograms and counters) next to the derived percentiles so that repeats and the
// shards of a distributed run combine exactly.
package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SchemaVersion names the result format; it changes only with an incompatible change. v2 added
// the breakdown of a script run (Series.Scripts and Series.Statements), the database load, CPU
// usage, a diagnosis per series and the capacity search; a v1 result is read as a v2 one without
// them.
const SchemaVersion = "pgscale.result/v2"

// ReadableSchemas are the result formats this pgscale reads.
var ReadableSchemas = []string{"pgscale.result/v1", SchemaVersion}

// ReadableSchema tells whether this pgscale reads results of schema s.
func ReadableSchema(s string) bool { return slices.Contains(ReadableSchemas, s) }

// Status of a run. Only ok is a finished, complete run; every other status says why not.
const (
	// StatusRunning is written when a run starts and kept while it runs; a result still running
	// when no process of its (Result.Process) is alive was killed.
	StatusRunning     = "running"
	StatusOK          = "ok"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
	// StatusIncomplete marks a merged sharded run that lacks a shard, or one of whose shards did
	// not finish (pgscale merge).
	StatusIncomplete = "incomplete"
)

// Result is one run of one scenario: every variant and sweep point, every repeat.
type Result struct {
	Schema      string         `json:"schema"`
	Scenario    string         `json:"scenario"`
	RunID       string         `json:"run_id"`
	Shard       *Shard         `json:"shard,omitempty"`
	Status      string         `json:"status"`
	Reason      string         `json:"reason,omitempty"`
	StartedAt   time.Time      `json:"started_at"`
	FinishedAt  time.Time      `json:"finished_at"` // zero (null in JSON) while running, and for a run found killed
	Process     *Process       `json:"process,omitempty"`
	Params      map[string]any `json:"params"`
	Duration    string         `json:"duration"`
	Warmup      string         `json:"warmup"`
	Environment Environment    `json:"environment"`
	Warnings    []string       `json:"warnings,omitempty"`
	// Headline is the figure the scenario is judged by when ops/s is not it (rows/s for ingest);
	// absent in results of scenarios judged by ops/s, and in results written before it existed.
	Headline *Headline `json:"headline,omitempty"`
	Series   []Series  `json:"series"`
	// Capacity is the capacity search's outcome (pgscale run --capacity; schema v2).
	Capacity *Capacity `json:"capacity,omitempty"`
	// SLO is the SLO given to the run (run --slo), as given: its p99 term is what the findings
	// judge the series by, in the run's report and in a later pgscale report (report/slo.go).
	// Absent: the report's default, DefaultSLO.
	SLO string `json:"slo,omitempty"`
	// Repeats is how each variant at each point varied over its repeats (run --repeat N, N > 1;
	// spread.go); absent for a run of one repeat. Reports compute it again from the series, so a
	// result without it loses nothing.
	Repeats []RepeatSpread `json:"repeats,omitempty"`
}

// Process identifies the pgscale process that writes a result (Result.Process), so that a later
// reader can tell a running run from a killed one: its pid and host, and its start time in clock
// ticks since boot (Linux) so that another process given the same pid is not taken for it.
type Process struct {
	PID       int    `json:"pid"`
	Host      string `json:"host"`
	ProcStart string `json:"proc_start,omitempty"`
}

// MarshalJSON writes finished_at as null while it is zero: a running result has not finished.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result // no MarshalJSON: no recursion
	data, err := json.Marshal(plain(r))
	if err != nil || !r.FinishedAt.IsZero() {
		return data, err
	}
	// finished_at precedes params and series, so its first occurrence is the result's own;
	// a string value that holds the same text would carry escaped quotes.
	zero, _ := json.Marshal(time.Time{})
	return bytes.Replace(data, []byte(`"finished_at":`+string(zero)), []byte(`"finished_at":null`), 1), nil
}

// Shard says which part of a sharded run (pgscale run --shard i/N) a result is or, in a result
// of pgscale merge, which shards it combines. Every shard of a run has the result's run id.
type Shard struct {
	// Index is the shard's number, 0 to Count-1; nil in a merged result.
	Index *int `json:"index,omitempty"`
	Count int  `json:"count"`
	// Merged lists the shards a merged result combines, Missing the ones it lacks.
	Merged  []int `json:"merged,omitempty"`
	Missing []int `json:"missing,omitempty"`
	// Lost lists shards seen to stop before the end: their session with the server ended before
	// they finished.
	Lost []int `json:"lost,omitempty"`
}

// Environment says where and on what a result was measured.
type Environment struct {
	Target        string            `json:"target"` // docker | local | dsn
	TargetDetail  map[string]string `json:"target_detail,omitempty"`
	ServerVersion string            `json:"server_version"`
	Settings      map[string]string `json:"settings"`
	Host          Host              `json:"host"`
	Hosts         []Host            `json:"hosts,omitempty"` // every shard's host, in a merged result
	Pgscale       Build             `json:"pgscale"`
	// Resources are the CPUs each side could use and where usage is read (schema v2).
	Resources *Resources `json:"resources,omitempty"`
}

// Host describes the machine the load generator ran on.
type Host struct {
	Hostname string `json:"hostname,omitempty"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUModel string `json:"cpu_model,omitempty"`
	Cores    int    `json:"cores"`
	MemoryMB int64  `json:"memory_mb,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
}

// Build identifies the pgscale binary that produced a result.
type Build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
}

// Series is one variant at one sweep point (and one repeat).
type Series struct {
	Variant        string             `json:"variant"`
	Point          map[string]any     `json:"point"`
	Repeat         int                `json:"repeat"`
	StartedAt      time.Time          `json:"started_at"`
	DurationS      float64            `json:"duration_s"`
	WarmupS        float64            `json:"warmup_s"`
	Workers        int                `json:"workers"`
	RatePerS       float64            `json:"rate_per_s,omitempty"`
	Ops            int64              `json:"ops"`
	ThroughputPerS float64            `json:"throughput_per_s"`
	LatencyMs      Percentiles        `json:"latency_ms"`
	ServiceMs      *Percentiles       `json:"service_ms,omitempty"`
	ConnectMs      *Percentiles       `json:"connect_ms,omitempty"`
	Errors         map[string]int64   `json:"errors"`
	ErrorSamples   map[string]string  `json:"error_samples,omitempty"`
	Metrics        map[string]float64 `json:"metrics,omitempty"`
	Timeline       []Second           `json:"timeline"`
	Histograms     Histograms         `json:"histograms"`
	// Scripts and Statements break a script run down (report/script.go); absent otherwise.
	Scripts    []ScriptStats    `json:"scripts,omitempty"`
	Statements []StatementStats `json:"statements,omitempty"`
	// Sentence is the scenario's headline sentence for the series ("the ALTER waited 3.0 s; the
	// lock queue peaked at 96 sessions"), in every report as in the console (schema v2).
	Sentence string `json:"sentence,omitempty"`
	// Diagnosis names what bound the series (schema v2; report/diagnosis.go).
	Diagnosis *Diagnosis `json:"diagnosis,omitempty"`
	// Engine is the load engine that ran the series (goroutines, mux) in a scenario that has a
	// choice of them; EngineWhy says why that one when the scenario chose it (engine=auto).
	Engine    string `json:"engine,omitempty"`
	EngineWhy string `json:"engine_why,omitempty"`
}

// Percentiles are latency figures in milliseconds. Count is the number of values behind them.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Histograms carries the HDR histograms behind a series, each as the compressed base64 form of
// hdrhistogram-go (values in microseconds), so that results merge exactly.
type Histograms struct {
	Latency string `json:"latency,omitempty"`
	Service string `json:"service,omitempty"`
	Connect string `json:"connect,omitempty"`
	// Extra holds scenario-specific histograms by name (claim, end_to_end, …).
	Extra map[string]string `json:"extra,omitempty"`
}

// Second is one entry of a series' per-second timeline. T counts seconds from the series' start,
// the first second being 1. Server-side columns come from the sampler.
type Second struct {
	T        int                `json:"t"`
	Warmup   bool               `json:"warmup,omitempty"`
	Ops      int64              `json:"ops"`
	Errors   int64              `json:"errors"`
	ErrorsBy map[string]int64   `json:"errors_by,omitempty"`
	P50Ms    float64            `json:"p50_ms"`
	P99Ms    float64            `json:"p99_ms"`
	Server   *ServerSample      `json:"server,omitempty"`
	Extra    map[string]float64 `json:"extra,omitempty"`
}

// ServerSample is what the sampler saw in one second.
type ServerSample struct {
	Connections       int   `json:"connections"`
	Active            int   `json:"active"`
	Idle              int   `json:"idle"`
	IdleInTransaction int   `json:"idle_in_transaction"`
	WaitingOnLock     int   `json:"waiting_on_lock"`
	LocksWaiting      int   `json:"locks_waiting"`
	MaxConnections    int   `json:"max_connections"`
	Commits           int64 `json:"commits"`
	Rollbacks         int64 `json:"rollbacks"`
	BlocksRead        int64 `json:"blocks_read"`
	BlocksHit         int64 `json:"blocks_hit"`
	WALBytes          int64 `json:"wal_bytes"`
	// Pooler figures, present when the load goes through a pooler.
	PoolerClientsWaiting *int `json:"pooler_clients_waiting,omitempty"`
	PoolerServersActive  *int `json:"pooler_servers_active,omitempty"`
	// Load is the second's average active sessions by "wait_event_type:wait_event", an active
	// session waiting on nothing counted as "CPU" (schema v2; report/load.go).
	Load map[string]float64 `json:"load,omitempty"`
	// Usage is the server's and the load generator's CPU and memory (schema v2).
	Usage *Usage `json:"usage,omitempty"`
}

// WriteFile writes v as indented JSON to path atomically: a temporary file in the same directory,
// synced, then renamed, so that a crash never leaves half a file.
func WriteFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return WriteAtomic(path, append(data, '\n'))
}

// WriteAtomic writes data to path through a temporary file and a rename.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// ReadFile reads a result file, or the result.json inside a run directory.
func ReadFile(path string) (*Result, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "result.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read result %s: %w", path, err)
	}
	if !slices.Contains(ReadableSchemas, r.Schema) {
		return nil, fmt.Errorf("read result %s: schema %q, want %q", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}
