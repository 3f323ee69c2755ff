package sizing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pgscale/pgscale/internal/suggest"

	"go.yaml.in/yaml/v3"
)

// Spec is a workload file as written (examples/workload.yaml shows every field). Figures that
// may be read from a connect-storm result are pointers or Duration/ByteSize values, so that "not
// given" differs from zero.
type Spec struct {
	Name string `yaml:"name"`
	// Requests is the request traffic at its peak.
	Requests RequestsSpec `yaml:"requests"`
	// FromResult reads what Requests does not give from a connect-storm result.
	FromResult *ResultRef `yaml:"from_result"`
	// App is the application's instances and their connection pools.
	App AppSpec `yaml:"app"`
	// Pooler: the application reaches PostgreSQL through a transaction-mode pooler (PgBouncer).
	Pooler bool       `yaml:"pooler"`
	Queue  QueueSpec  `yaml:"queue"`
	Ingest IngestSpec `yaml:"ingest"`
	Data   DataSpec   `yaml:"data"`
	Memory MemorySpec `yaml:"memory"`
	// P99 is the p99 latency objective for a request's database time.
	P99 Duration `yaml:"p99_objective"`
	// Headroom is the share of every capacity left free at peak (0.3: use at most 70%).
	Headroom *float64 `yaml:"headroom"`
	// ExtraConnections are connections beyond the application's: operators, monitoring,
	// migrations, the pooler's admin console.
	ExtraConnections *int `yaml:"extra_connections"`
	// Providers limits the recommendation to these catalog providers (default: all).
	Providers []string `yaml:"providers"`
	// AllowBurst lets the scale-up advice name burstable and shared-core classes: only for
	// traffic that is idle most of the time, since a sustained load spends their CPU credits.
	AllowBurst bool `yaml:"allow_burst"`

	// dir is the workload file's directory; from_result.file is relative to it.
	dir string
}

// RequestsSpec is the request traffic.
type RequestsSpec struct {
	// PeakRate is requests per second at peak.
	PeakRate *float64 `yaml:"peak_rate"`
	// HoldTime is how long a request holds its database connection: the whole request for a
	// serverless function or a session-mode client. Without a pooler, connections = rate × HoldTime.
	HoldTime Duration `yaml:"hold_time"`
	// DBTime is the time a request spends in the database (its transactions). Through a
	// transaction-mode pooler, server connections = rate × DBTime. Default: HoldTime.
	DBTime Duration `yaml:"db_time"`
	// CPUTime is the server CPU a request costs. Default: DBTime (an upper bound).
	CPUTime Duration `yaml:"cpu_time"`
	// ConnectsPerRequest is the share of requests that open a new connection (1: connect per
	// request; a warm serverless function: its cold starts). Without a pooler each costs the
	// server a backend fork (ConnectCPU).
	ConnectsPerRequest *float64 `yaml:"connects_per_request"`
	ConnectCPU         Duration `yaml:"connect_cpu"`
}

// ResultRef names a connect-storm result and, optionally, which of its series to read.
type ResultRef struct {
	File    string `yaml:"file"`
	Variant string `yaml:"variant"`
	Workers int    `yaml:"workers"`
}

// AppSpec is the application's long-running instances and their pools.
type AppSpec struct {
	Instances int `yaml:"instances"`
	PoolSize  int `yaml:"pool_size"`
}

// QueueSpec is a job queue's workers.
type QueueSpec struct {
	Workers int      `yaml:"workers"`
	JobRate float64  `yaml:"job_rate"`
	JobTime Duration `yaml:"job_db_time"`
	JobCPU  Duration `yaml:"job_cpu_time"`
}

// IngestSpec is a stream of rows written in bulk.
type IngestSpec struct {
	RowsPerS  float64  `yaml:"rows_per_s"`
	CPUPerRow Duration `yaml:"cpu_per_row"`
}

// DataSpec is the database's size and growth.
type DataSpec struct {
	// Size is the database's size today, as pg_database_size reports it (indexes included).
	Size            ByteSize `yaml:"size"`
	GrowthPerMonth  ByteSize `yaml:"growth_per_month"`
	HorizonMonths   *float64 `yaml:"horizon_months"`
	Bloat           *float64 `yaml:"bloat"`
	IndexesFraction *float64 `yaml:"indexes"`
	// Columns is a `pgscale columns --json` output (relative to this file): its tables' savings
	// from reordering columns shrink the data and its growth.
	Columns string `yaml:"columns"`
}

// MemorySpec overrides the memory model's per-connection figures.
type MemorySpec struct {
	PerConnection ByteSize `yaml:"per_connection"`
	WorkMem       ByteSize `yaml:"work_mem"`
}

// Defaults of the model; each says how it was chosen.
const (
	// DefaultHeadroom: 30% of every capacity left free at peak, the bar for a
	// recommendation, a common operating margin for CPU and memory.
	DefaultHeadroom = 0.30
	// DefaultExtraConnections: a monitoring agent, a migration, two operators' psql sessions
	// and a backup or replication slot: five, a small round count. Set yours.
	DefaultExtraConnections = 5
	// DefaultPerConnectionMiB: the private memory of an idle backend, measured on the 2-core
	// machine with 2,000 idle connections to PostgreSQL 15 (DESIGN.md); connect-storm measures
	// 1.2-1.3 MB for a backend that has served requests. Azure's Cosmos DB docs say "at least
	// 10 MB"; a busy backend grows with its caches: measure yours (from_result).
	DefaultPerConnectionMiB = 1.7
	// DefaultWorkMemMiB: PostgreSQL's default work_mem, counted once for each active connection
	// (one sort or hash at a time).
	DefaultWorkMemMiB = 4
	// DefaultConnectCPU: one backend fork and authentication. pgbench -C manages 270-300
	// connects/s on the 2-core machine (DESIGN.md): 2 cores / ~285 per s ≈ 7 ms of CPU each,
	// an upper bound since pgbench shares the cores.
	DefaultConnectCPUMs = 7.0
	// DefaultCPUPerRowUs: COPY of narrow rows, psql \copy of 2M rows in 3.6 s on 2 cores
	// (DESIGN.md): 2 × 3.6 s / 2M = 3.6 µs per row. Single-row INSERTs cost far more: give
	// ingest.cpu_per_row for them.
	DefaultCPUPerRowUs = 3.6
	// DefaultHorizonMonths: storage must hold a year of growth.
	DefaultHorizonMonths = 12
	// DefaultBloat: autovacuum's default scale factor (0.2) lets a table carry about 20% dead
	// rows before it is vacuumed.
	DefaultBloat = 0.2
)

// ParseWorkload reads a workload file. Its problems are a usage error listing every one.
func ParseWorkload(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--workload %s: %v", path, unwrapPath(err))
	}
	spec, err := DecodeWorkload(data, path)
	if err != nil {
		return nil, err
	}
	spec.dir = filepath.Dir(path)
	return spec, nil
}

// DecodeWorkload decodes a workload document; name says where it came from in errors.
func DecodeWorkload(data []byte, name string) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, usagef("workload %s: empty file", name)
		}
		return nil, usagef("workload %s: %s", name, yamlMessage(err))
	}
	return &s, nil
}

// Quantity is a figure of the workload with where it came from: "given", "measured (...)" or
// "default (...)".
type Quantity struct {
	Value  float64 `json:"value"`
	Source string  `json:"source"`
}

// Workload is a Spec resolved into numbers (SI units: seconds, bytes as MiB/GiB where named),
// each with its source.
type Workload struct {
	Name string `json:"name"`

	Rate               Quantity `json:"rate_per_s"`
	HoldTimeS          Quantity `json:"hold_time_s"`
	DBTimeS            Quantity `json:"db_time_s"`
	CPUTimeS           Quantity `json:"cpu_time_s"`
	ConnectsPerRequest Quantity `json:"connects_per_request"`
	ConnectCPUS        Quantity `json:"connect_cpu_s"`
	// MeasuredP99S is the p99 latency of the result's series, when there is a result.
	MeasuredP99S *Quantity `json:"measured_p99_s,omitempty"`

	AppInstances int  `json:"app_instances"`
	PoolSize     int  `json:"pool_size"`
	Pooler       bool `json:"pooler"`

	QueueWorkers int      `json:"queue_workers"`
	JobRate      float64  `json:"job_rate_per_s"`
	JobTimeS     Quantity `json:"job_db_time_s"`
	JobCPUS      Quantity `json:"job_cpu_time_s"`

	IngestRowsPerS float64  `json:"ingest_rows_per_s"`
	CPUPerRowS     Quantity `json:"cpu_per_row_s"`

	DataGiB        float64  `json:"data_gib"`
	DataSource     string   `json:"data_source,omitempty"`
	GrowthGiBMonth float64  `json:"growth_gib_per_month"`
	HorizonMonths  Quantity `json:"horizon_months"`
	Bloat          Quantity `json:"bloat"`
	Indexes        Quantity `json:"indexes"`
	// Columns is the saving `pgscale columns` proposes, when a columns output is given.
	Columns *ColumnsSaving `json:"columns,omitempty"`

	PerConnectionMiB Quantity `json:"per_connection_mib"`
	WorkMemMiB       Quantity `json:"work_mem_mib"`

	P99ObjectiveS    float64  `json:"p99_objective_s,omitempty"`
	Headroom         Quantity `json:"headroom"`
	ExtraConnections Quantity `json:"extra_connections"`
	Providers        []string `json:"providers"`
	AllowBurst       bool     `json:"allow_burst,omitempty"`

	Result *ResultInfo `json:"result,omitempty"`
	// Measurement is what --measure measured on container shapes (ApplyMeasurement).
	Measurement *Measurement `json:"measurement,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
}

// Resolve validates the spec against the catalog, reads its result file if it names one, and
// returns the workload in numbers. Every problem is reported at once, as one usage error naming
// each field and what is valid.
func (s *Spec) Resolve(cat *Catalog) (*Workload, error) {
	v := &validator{}
	w := &Workload{Name: s.Name}
	if w.Name == "" {
		w.Name = "workload"
	}

	var m *measured
	if s.FromResult != nil {
		if s.FromResult.File == "" {
			v.bad("from_result.file", "missing (a connect-storm result.json or its run directory)")
		} else {
			file := s.FromResult.File
			if !filepath.IsAbs(file) && s.dir != "" {
				file = filepath.Join(s.dir, file)
			}
			var err error
			m, err = readMeasured(file, s.FromResult.Variant, s.FromResult.Workers)
			if err != nil {
				v.errs = append(v.errs, err)
			} else {
				w.Result = &m.info
				w.Warnings = append(w.Warnings, m.warnings...)
			}
		}
		if s.FromResult.Workers < 0 {
			v.bad("from_result.workers", "%d is negative", s.FromResult.Workers)
		}
	}

	// Requests: given figures win over measured ones.
	r := s.Requests
	switch {
	case r.PeakRate != nil:
		if *r.PeakRate <= 0 || math.IsInf(*r.PeakRate, 0) || math.IsNaN(*r.PeakRate) {
			v.bad("requests.peak_rate", "%g; must be above 0 (requests per second at peak)", *r.PeakRate)
		}
		w.Rate = Quantity{*r.PeakRate, "given"}
	case m != nil:
		w.Rate = m.rate
		w.Warnings = append(w.Warnings, fmt.Sprintf("the peak rate (%.0f req/s) is the rate the benchmark ran at, "+
			"not necessarily your peak: set requests.peak_rate to size for yours", m.rate.Value))
	case s.FromResult == nil:
		v.bad("requests.peak_rate", "missing; give the peak request rate per second, or from_result: a connect-storm result to read it from")
	}
	hold := v.duration("requests.hold_time", r.HoldTime, false)
	db := v.duration("requests.db_time", r.DBTime, false)
	cpu := v.duration("requests.cpu_time", r.CPUTime, true)
	switch {
	case r.HoldTime.Set():
		w.HoldTimeS = Quantity{hold, "given"}
	case m != nil:
		w.HoldTimeS = m.hold
	case r.DBTime.Set():
		w.HoldTimeS = Quantity{db, "default: db_time (no hold_time given)"}
	case s.FromResult == nil:
		v.bad("requests.hold_time", "missing; give how long a request holds its connection (250ms), or db_time, or from_result")
	}
	switch {
	case r.DBTime.Set():
		w.DBTimeS = Quantity{db, "given"}
	case m != nil:
		w.DBTimeS = m.db
	default:
		w.DBTimeS = Quantity{w.HoldTimeS.Value, "default: hold_time (no db_time given)"}
	}
	if r.HoldTime.Set() && r.DBTime.Set() && db > hold {
		v.bad("requests.db_time", "%s is longer than hold_time %s; a request cannot be in the database longer than it holds its connection", r.DBTime.Raw, r.HoldTime.Raw)
	}
	switch {
	case r.CPUTime.Set():
		w.CPUTimeS = Quantity{cpu, "given"}
	case m != nil && !r.DBTime.Set():
		w.CPUTimeS = m.cpu
	default:
		w.CPUTimeS = Quantity{w.DBTimeS.Value, "default: db_time, all of it counted as CPU (an upper bound; give cpu_time)"}
	}
	switch {
	case r.ConnectsPerRequest != nil:
		if c := *r.ConnectsPerRequest; c < 0 || c > 1 {
			v.bad("requests.connects_per_request", "%g; a share of requests, from 0 to 1", c)
		}
		w.ConnectsPerRequest = Quantity{*r.ConnectsPerRequest, "given"}
	case m != nil:
		w.ConnectsPerRequest = m.connects
	default:
		w.ConnectsPerRequest = Quantity{0, "default: connections are reused"}
	}
	if r.ConnectCPU.Set() {
		w.ConnectCPUS = Quantity{v.duration("requests.connect_cpu", r.ConnectCPU, true), "given"}
	} else {
		w.ConnectCPUS = Quantity{DefaultConnectCPUMs / 1000, "default: pgbench -C on the 2-core machine, ~7 ms per connect"}
	}
	if m != nil && m.p99 != nil {
		w.MeasuredP99S = m.p99
	}

	// Application pools.
	if s.App.Instances < 0 {
		v.bad("app.instances", "%d is negative", s.App.Instances)
	}
	if s.App.PoolSize < 0 {
		v.bad("app.pool_size", "%d is negative", s.App.PoolSize)
	}
	if (s.App.Instances > 0) != (s.App.PoolSize > 0) {
		v.bad("app", "give both instances and pool_size (each instance's pool maximum), or neither")
	}
	w.AppInstances, w.PoolSize, w.Pooler = s.App.Instances, s.App.PoolSize, s.Pooler

	// Queue.
	q := s.Queue
	if q.Workers < 0 {
		v.bad("queue.workers", "%d is negative", q.Workers)
	}
	if q.JobRate < 0 {
		v.bad("queue.job_rate", "%g is negative", q.JobRate)
	}
	if q.JobRate > 0 && !q.JobTime.Set() {
		v.bad("queue.job_db_time", "missing; give the database time per job (20ms) with job_rate")
	}
	if q.JobRate > 0 && q.Workers == 0 {
		v.bad("queue.workers", "missing; job_rate needs the workers that run the jobs")
	}
	w.QueueWorkers, w.JobRate = q.Workers, q.JobRate
	w.JobTimeS = Quantity{v.duration("queue.job_db_time", q.JobTime, true), "given"}
	if q.JobCPU.Set() {
		w.JobCPUS = Quantity{v.duration("queue.job_cpu_time", q.JobCPU, true), "given"}
	} else {
		w.JobCPUS = Quantity{w.JobTimeS.Value, "default: job_db_time, all of it counted as CPU"}
	}

	// Ingest.
	if s.Ingest.RowsPerS < 0 {
		v.bad("ingest.rows_per_s", "%g is negative", s.Ingest.RowsPerS)
	}
	w.IngestRowsPerS = s.Ingest.RowsPerS
	if s.Ingest.CPUPerRow.Set() {
		w.CPUPerRowS = Quantity{v.duration("ingest.cpu_per_row", s.Ingest.CPUPerRow, true), "given"}
	} else {
		w.CPUPerRowS = Quantity{DefaultCPUPerRowUs / 1e6, "default: COPY, 3.6 µs per row measured on the 2-core machine"}
	}

	// Data.
	d := s.Data
	w.DataGiB = v.size("data.size", d.Size) / gib
	w.GrowthGiBMonth = v.size("data.growth_per_month", d.GrowthPerMonth) / gib
	w.HorizonMonths = v.optFloat("data.horizon_months", d.HorizonMonths, DefaultHorizonMonths,
		"default: a year of growth", 0, 1200)
	w.Bloat = v.optFloat("data.bloat", d.Bloat, DefaultBloat,
		"default: autovacuum's scale factor 0.2", 0, 10)
	w.Indexes = v.optFloat("data.indexes", d.IndexesFraction, 0,
		"default: 0, data.size includes indexes (pg_database_size)", 0, 10)
	if d.Size.Set() {
		w.DataSource = "given"
	}
	if d.Columns != "" {
		file := d.Columns
		if !filepath.IsAbs(file) && s.dir != "" {
			file = filepath.Join(s.dir, file)
		}
		cs, err := readColumns(file)
		switch {
		case err != nil:
			v.errs = append(v.errs, err)
		case !d.Size.Set():
			w.DataGiB = cs.TablesBytes / gib
			w.DataSource = fmt.Sprintf("the %d tables of %s (no data.size given)", cs.Tables, cs.File)
			cs.Fraction = cs.SavingBytes / cs.TablesBytes
			w.Columns = cs
		case cs.SavingBytes > w.DataGiB*gib:
			v.bad("data.columns", "%s saves %s, more than data.size %s; is it the same database?",
				cs.File, mibText(cs.SavingBytes/mib), d.Size.Raw)
		default:
			cs.Fraction = cs.SavingBytes / (w.DataGiB * gib)
			w.Columns = cs
		}
	}

	// Memory.
	switch {
	case s.Memory.PerConnection.Set():
		b := v.size("memory.per_connection", s.Memory.PerConnection)
		if b == 0 && v.ok("memory.per_connection") {
			v.bad("memory.per_connection", "0; a backend takes memory (1.7MB idle on the 2-core machine)")
		}
		w.PerConnectionMiB = Quantity{b / mib, "given"}
	case m != nil && m.perConn != nil:
		w.PerConnectionMiB = *m.perConn
	default:
		w.PerConnectionMiB = Quantity{DefaultPerConnectionMiB, "default: idle backend, ~1.7 MB private memory measured on the 2-core machine"}
	}
	if s.Memory.WorkMem.Set() {
		w.WorkMemMiB = Quantity{v.size("memory.work_mem", s.Memory.WorkMem) / mib, "given"}
	} else {
		w.WorkMemMiB = Quantity{DefaultWorkMemMiB, "default: PostgreSQL's work_mem, 4MB, once per active connection"}
	}

	// Objective, headroom, extra connections.
	if s.P99.Set() {
		w.P99ObjectiveS = v.duration("p99_objective", s.P99, false)
	}
	w.Headroom = v.optFloat("headroom", s.Headroom, DefaultHeadroom,
		"default: 30% of every capacity left free at peak", 0, 0.9)
	if s.ExtraConnections != nil {
		if *s.ExtraConnections < 0 {
			v.bad("extra_connections", "%d is negative", *s.ExtraConnections)
		}
		w.ExtraConnections = Quantity{float64(*s.ExtraConnections), "given"}
	} else {
		w.ExtraConnections = Quantity{DefaultExtraConnections, "default: monitoring, a migration, operators"}
	}

	w.AllowBurst = s.AllowBurst

	// Providers.
	if len(s.Providers) == 0 {
		w.Providers = cat.IDs()
	}
	for _, p := range s.Providers {
		if cat.Provider(p) == nil {
			v.bad("providers", "unknown provider %q%s; valid: %s", p, suggest.DidYouMean(p, cat.IDs()), strings.Join(cat.IDs(), ", "))
			continue
		}
		if !slices.Contains(w.Providers, p) {
			w.Providers = append(w.Providers, p)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// validator collects the problems of a spec.
type validator struct {
	errs   []error
	fields map[string]bool
}

func (v *validator) bad(field, format string, args ...any) {
	if v.fields == nil {
		v.fields = map[string]bool{}
	}
	v.fields[field] = true
	v.errs = append(v.errs, usagef("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (v *validator) ok(field string) bool { return !v.fields[field] }

// duration parses a duration field in seconds; it must be positive (or zero when zeroOK).
func (v *validator) duration(field string, d Duration, zeroOK bool) float64 {
	if !d.Set() {
		return 0
	}
	t, err := d.Value()
	switch {
	case err != nil:
		v.bad(field, "%v", err)
	case t < 0, t == 0 && !zeroOK:
		v.bad(field, "%s; must be above 0", d.Raw)
	default:
		return t.Seconds()
	}
	return 0
}

// size parses a size field in bytes.
func (v *validator) size(field string, s ByteSize) float64 {
	if !s.Set() {
		return 0
	}
	b, err := s.Bytes()
	if err != nil {
		v.bad(field, "%v", err)
		return 0
	}
	return b
}

// optFloat is an optional number within [lo, hi], or its default.
func (v *validator) optFloat(field string, p *float64, def float64, defSource string, lo, hi float64) Quantity {
	if p == nil {
		return Quantity{def, defSource}
	}
	if *p < lo || *p > hi || math.IsNaN(*p) {
		v.bad(field, "%g; valid: %g to %g", *p, lo, hi)
		return Quantity{def, defSource}
	}
	return Quantity{*p, "given"}
}

func (v *validator) err() error { return joinUsage(v.errs) }
