package report

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgscale/pgscale/result"
)

// The hand-built results in testdata/ make the golden files stable. They are written by this
// file's builders: `go test ./report -run TestWriteFixtures -update-fixtures` rewrites them (and
// then `-update` the golden files).
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite the hand-built results in testdata/")

const (
	fixtureSweep    = "testdata/sweep.json"     // connect-storm-like sweep with errors
	fixtureRepeatsA = "testdata/repeats-a.json" // select-only, 5 repeats
	fixtureRepeatsB = "testdata/repeats-b.json" // the same, prepared 20% faster, simple unchanged
	fixtureIngest   = "testdata/ingest.json"    // ingest-like batch sweep with a rows/s headline
)

func TestWriteFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rewrite testdata/*.json")
	}
	for path, r := range map[string]*Result{
		fixtureSweep:    sweepFixture(t),
		fixtureRepeatsA: repeatsFixture(t, "20260101T100000Z-select-only", 1.0),
		fixtureRepeatsB: repeatsFixture(t, "20260101T110000Z-select-only", 1.2),
		fixtureIngest:   ingestFixture(t),
	} {
		if err := WriteFile(path, r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFixturesMatchTheSchema(t *testing.T) {
	for _, path := range []string{fixtureSweep, fixtureRepeatsA, fixtureRepeatsB, fixtureIngest} {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(doc); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func loadFixture(t *testing.T, path string) *Result {
	t.Helper()
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var fixtureStart = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func fixtureEnv(maxConn string) Environment {
	return Environment{
		Target: "local", ServerVersion: "15.18",
		Settings: map[string]string{"fsync": "on", "max_connections": maxConn, "shared_buffers": "128MB"},
		Host:     Host{OS: "linux", Arch: "amd64", CPUModel: "AMD EPYC", Cores: 2, MemoryMB: 24105},
		Pgscale:  Build{Version: "test", GoVersion: "go1.26"},
	}
}

// fixtureHistogram records n latencies whose quantiles follow a log-normal shape through p50 and
// p99 (ms), on a fixed grid of quantiles: the same input always gives the same histogram.
func fixtureHistogram(t *testing.T, n int64, p50, p99 float64) string {
	t.Helper()
	h := NewHistogram()
	const grid = 2000
	z99 := 2.326
	for i := int64(0); i < grid; i++ {
		count := (i+1)*n/grid - i*n/grid // n values spread over the grid
		if count == 0 {
			continue
		}
		q := (float64(i) + 0.5) / grid
		z := math.Sqrt2 * math.Erfinv(2*q-1)
		v := p50 * math.Pow(p99/p50, z/z99)
		if err := h.RecordValues(int64(v*1000), count); err != nil {
			t.Fatal(err)
		}
	}
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixturePoint struct {
	workers  int
	tput     float64
	p50, p99 float64
	errors   map[string]int64
}

func sweepFixture(t *testing.T) *Result {
	r := &Result{
		Schema: SchemaVersion, Scenario: "connect-storm", RunID: "20260101T100000Z-connect-storm", Status: StatusOK,
		StartedAt: fixtureStart, FinishedAt: fixtureStart.Add(40 * time.Second),
		Params:   map[string]any{"variants": []any{"cold", "warm"}, "workers": []any{20, 60, 100}, "max_connections": []any{40}, "repeat": 1},
		Duration: "3s", Warmup: "1s", Environment: fixtureEnv("40"),
	}
	variants := []struct {
		name   string
		points []fixturePoint
	}{
		{"cold", []fixturePoint{
			{20, 230, 83, 126, nil},
			{60, 219, 239, 336, map[string]int64{"53300_reserved": 89}},
			{100, 180, 390, 520, map[string]int64{"53300_reserved": 610, "53300": 12}},
		}},
		{"warm", []fixturePoint{
			{20, 379, 51, 72, nil},
			{60, 531, 59, 129, map[string]int64{"53300_reserved": 1441, "53300": 8}},
			{100, 540, 88, 210, map[string]int64{"53300_reserved": 2950, "53300": 30}},
		}},
	}
	start := fixtureStart
	for _, v := range variants {
		for _, p := range v.points {
			s := fixtureSeries(t, v.name, map[string]any{"workers": p.workers, "max_connections": 40}, 1, start, p, 40)
			r.Series = append(r.Series, s)
			start = start.Add(5 * time.Second)
		}
	}
	return r
}

// ingestFixture is a batch sweep whose operations are batches: ops/s falls as the batch grows
// while rows/s, the headline, grows (and falls again for pipeline at 1000).
func ingestFixture(t *testing.T) *Result {
	r := &Result{
		Schema: SchemaVersion, Scenario: "ingest", RunID: "20260101T100000Z-ingest", Status: StatusOK,
		StartedAt: fixtureStart, FinishedAt: fixtureStart.Add(30 * time.Second),
		Params:   map[string]any{"variants": []any{"multi-insert", "copy", "pipeline"}, "batch": []any{10, 100, 1000}, "workers": []any{2}, "repeat": 1},
		Duration: "2s", Warmup: "500ms", Environment: fixtureEnv("100"),
		Headline: &Headline{Metric: "rows_per_s", Label: "row throughput", Unit: "rows/s", Better: BetterHigher},
	}
	type batchPoint struct {
		batch    int
		tput     float64 // batches per second
		p50, p99 float64
	}
	start := fixtureStart
	for _, v := range []struct {
		name   string
		points []batchPoint
	}{
		{"multi-insert", []batchPoint{{10, 1000, 0.8, 13}, {100, 500, 3, 20}, {1000, 60, 14, 80}}},
		{"copy", []batchPoint{{10, 2400, 0.7, 3}, {100, 800, 2, 9}, {1000, 120, 14, 45}}},
		{"pipeline", []batchPoint{{10, 1500, 0.9, 8}, {100, 300, 5, 30}, {1000, 20, 39, 261}}},
	} {
		for _, bp := range v.points {
			pt := map[string]any{"batch": bp.batch, "workers": 2, "synchronous_commit": "on", "table": "logged"}
			s := fixtureSeries(t, v.name, pt, 1, start, fixturePoint{workers: 2, tput: bp.tput, p50: bp.p50, p99: bp.p99}, 100)
			s.Metrics["rows_per_s"] = bp.tput * float64(bp.batch)
			s.Metrics["batch"] = float64(bp.batch)
			r.Series = append(r.Series, s)
			start = start.Add(3 * time.Second)
		}
	}
	return r
}

func repeatsFixture(t *testing.T, runID string, preparedFactor float64) *Result {
	start := fixtureStart
	if preparedFactor != 1 {
		start = start.Add(time.Hour)
	}
	r := &Result{
		Schema: SchemaVersion, Scenario: "select-only", RunID: runID, Status: StatusOK,
		StartedAt: start, FinishedAt: start.Add(70 * time.Second),
		Params:   map[string]any{"variants": []any{"prepared", "simple"}, "workers": 8, "connect": "pool", "repeat": 5},
		Duration: "5s", Warmup: "1s", Environment: fixtureEnv("100"),
	}
	prepared := []float64{42000, 42500, 41800, 43000, 42200}
	simpleA := []float64{16400, 16200, 16600, 16300, 16500}
	simpleB := []float64{16350, 16450, 16250, 16550, 16380}
	for rep := 1; rep <= 5; rep++ {
		pt := map[string]any{"connect": "pool", "workers": 8}
		i := rep - 1
		p := fixturePoint{workers: 8, tput: prepared[i] * preparedFactor, p50: 0.05 + 0.002*float64(i), p99: 2.0 + 0.05*float64(i)}
		r.Series = append(r.Series, fixtureSeries(t, "prepared", pt, rep, start, p, 100))
		simple := simpleA
		if preparedFactor != 1 {
			simple = simpleB
		}
		q := fixturePoint{workers: 8, tput: simple[i], p50: 0.30 + 0.004*float64(i), p99: 3.3 + 0.04*float64(i)}
		r.Series = append(r.Series, fixtureSeries(t, "simple", pt, rep, start, q, 100))
		start = start.Add(12 * time.Second)
	}
	return r
}

func fixtureSeries(t *testing.T, variant string, point map[string]any, repeat int, start time.Time, p fixturePoint, maxConn int) Series {
	const secs = 3
	ops := int64(p.tput * secs)
	hist := fixtureHistogram(t, ops, p.p50, p.p99)
	h, err := DecodeHistogram(hist)
	if err != nil {
		t.Fatal(err)
	}
	s := Series{
		Variant: variant, Point: point, Repeat: repeat, StartedAt: start, DurationS: secs, WarmupS: 1,
		Workers: p.workers, Ops: ops, ThroughputPerS: p.tput, LatencyMs: PercentilesOf(h),
		Errors: map[string]int64{}, Histograms: Histograms{Latency: hist},
		Metrics: map[string]float64{result.MetricPeakConnections: float64(min(p.workers, maxConn-4))},
	}
	var total int64
	for c, n := range p.errors {
		s.Errors[c] = n
		total += n
	}
	for sec := 1; sec <= secs+1; sec++ {
		wobble := []float64{0.92, 1.03, 0.98, 1.01}[sec-1]
		e := Second{T: sec, Warmup: sec == 1, Ops: int64(p.tput * wobble), P50Ms: p.p50 * wobble, P99Ms: p.p99 * (2 - wobble)}
		if total > 0 {
			e.Errors = total / secs
			e.ErrorsBy = map[string]int64{}
			for c, n := range p.errors {
				e.ErrorsBy[c] = n / secs
			}
		}
		active := min(p.workers, maxConn-4)
		e.Server = &ServerSample{Connections: active + 2, Active: active - sec%2, Idle: 2 + sec%2, MaxConnections: maxConn,
			WaitingOnLock: 0, IdleInTransaction: sec % 2}
		s.Timeline = append(s.Timeline, e)
	}
	return s
}

// goldenCheck compares got with the golden file, or rewrites it with -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func goldenCheck(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
