package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// The recorded timelines in testdata/diagnosis come from real runs on a shared 2-core host (see
// each file's name for the run); every rule must name them as the run that provoked it.
func TestDiagnoseRecordedTimelines(t *testing.T) {
	cases := map[string]struct {
		bound string
		floor bool
		says  []string
	}{
		"lock-ddl-no-timeout":       {bound: BoundLock, says: []string{"waited on locks", "Lock:relation", "53300"}},
		"wal-ingest-insert-sync-on": {bound: BoundWAL, says: []string{"WAL writes", "LWLock:WAL"}},
		"network-latency-12ms":      {bound: BoundNetwork, says: []string{"12ms added round trip"}},
		"client-cpu-taskset-dsn":    {bound: BoundClientCPU, floor: true, says: []string{"server CPU unknown", "of 1", "a floor"}},
		"server-cpu-select-only-32": {bound: BoundServerCPU, says: []string{"server CPU", "top wait CPU"}},
		"server-cpu-select-only-8":  {bound: BoundServerCPU, says: []string{"server CPU", "of 2 CPUs"}},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "diagnosis", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			d := Diagnose(r.Series[0], r.Environment)
			if d == nil {
				t.Fatal("no diagnosis")
			}
			if d.Bound != want.bound || d.Floor != want.floor {
				t.Fatalf("bound %s (floor %v), want %s (floor %v): %s", d.Bound, d.Floor, want.bound, want.floor, d.Evidence)
			}
			for _, s := range want.says {
				if !strings.Contains(d.Evidence, s) {
					t.Errorf("evidence %q lacks %q", d.Evidence, s)
				}
			}
		})
	}
}

// synthetic builds a series of n measured seconds, each with the same reading.
func synthetic(n int, sv ServerSample) Series {
	s := Series{Errors: map[string]int64{}}
	for i := 1; i <= n; i++ {
		v := sv
		s.Timeline = append(s.Timeline, Second{T: i, Server: &v})
	}
	s.Timeline = append([]Second{{T: 0, Warmup: true, Server: &ServerSample{Load: map[string]float64{"Lock:relation": 50}}}}, s.Timeline...)
	return s
}

func TestDiagnoseRules(t *testing.T) {
	local := Environment{Target: "local", Resources: &Resources{ServerCPUs: 2, ClientCPUs: 2, HostCPUs: 4}}
	cpu := func(server, client, host float64) *Usage {
		return &Usage{ServerCPU: &server, ClientCPU: client, HostCPU: &host}
	}
	dsn := Environment{Target: "dsn", Resources: &Resources{ClientCPUs: 2, HostCPUs: 2, ServerUnavailable: "unavailable on a dsn target"}}
	waiting := 6
	cases := []struct {
		name  string
		s     Series
		env   Environment
		bound string
	}{
		{"server CPU saturated", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 7.5}, Usage: cpu(1.95, 0.5, 2.5)}), local, BoundServerCPU},
		{"data file IO", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"IO:DataFileRead": 6, "CPU": 1}, Usage: cpu(0.4, 0.2, 0.7)}), local, BoundIO},
		{"connections refused", func() Series {
			s := synthetic(5, ServerSample{Connections: 100, MaxConnections: 100, Load: map[string]float64{"CPU": 1}, Usage: cpu(0.4, 0.2, 0.7)})
			s.Errors["53300"] = 12
			return s
		}(), local, BoundConnections},
		{"pooler queue", synthetic(5, ServerSample{Connections: 10, PoolerClientsWaiting: &waiting, Load: map[string]float64{"CPU": 1}, Usage: cpu(0.4, 0.2, 0.7)}), local, BoundPooler},
		{"client CPU", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 0.5}, Usage: cpu(0.4, 1.9, 2.4)}), local, BoundClientCPU},
		{"offered rate kept", func() Series {
			s := synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 0.2}, Usage: cpu(0.2, 0.1, 0.4)})
			s.RatePerS, s.ThroughputPerS = 1000, 999
			return s
		}(), local, BoundOfferedRate},
		{"offered rate missed, server saturated", func() Series {
			s := synthetic(5, ServerSample{Connections: 50, Load: map[string]float64{"CPU": 30}, Usage: cpu(1.9, 0.3, 2.3)})
			s.RatePerS, s.ThroughputPerS = 5000, 3100
			return s
		}(), local, BoundServerCPU},
		{"nothing saturated", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 0.5}, Usage: cpu(0.4, 0.3, 0.9)}), local, BoundUnknown},
		// zombie-queries on a dsn target: its paced requests sleep in the server (pg_sleep). The
		// sessions are active, the server's CPU is unknown: that is no server CPU bound.
		{"asleep in the server", func() Series {
			s := synthetic(5, ServerSample{Connections: 9, Load: map[string]float64{"Timeout:PgSleep": 1.4}, Usage: &Usage{ClientCPU: 0.06}})
			s.RatePerS, s.ThroughputPerS = 15, 12
			return s
		}(), dsn, BoundUnknown},
		{"asleep in the server, its CPU known idle", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"Timeout:PgSleep": 6, "CPU": 0.2},
			Usage: cpu(0.1, 0.1, 0.3)}), local, BoundUnknown},
		{"mostly on the CPU, its CPU unknown", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 5, "Timeout:PgSleep": 2},
			Usage: &Usage{ClientCPU: 0.3}}), dsn, BoundServerCPU},
		// Contention inside the server (lightweight locks) is server-side work, CPU unknown or not.
		{"LWLock contention, its CPU unknown", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"LWLock:LockManager": 5, "CPU": 1},
			Usage: &Usage{ClientCPU: 0.3}}), dsn, BoundServerCPU},
		// A server CPU seen saturated binds, whatever its sessions waited on.
		{"asleep, but its CPU busy", synthetic(5, ServerSample{Connections: 8, Load: map[string]float64{"Timeout:PgSleep": 6, "CPU": 1},
			Usage: cpu(1.9, 0.1, 2.1)}), local, BoundServerCPU},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Diagnose(c.s, c.env)
			if d == nil || d.Bound != c.bound {
				t.Fatalf("got %+v, want bound %s", d, c.bound)
			}
			if d.Evidence == "" || strings.Contains(d.Evidence, "NaN") || strings.Contains(d.Evidence, "%!") {
				t.Errorf("evidence %q", d.Evidence)
			}
			if d.Bound == BoundUnknown && !strings.Contains(d.Evidence, "top wait ") {
				t.Errorf("unknown, and the evidence names no top wait: %q", d.Evidence)
			}
		})
	}
}

// A series whose timeline holds no v2 readings (a v1 result) gets no diagnosis rather than a
// made-up one; a dsn target's missing server CPU is never taken for 0.
func TestDiagnoseMissingData(t *testing.T) {
	old := Series{Timeline: []Second{{T: 1, Server: &ServerSample{Connections: 8, Active: 8}}}}
	if d := Diagnose(old, Environment{}); d != nil {
		t.Fatalf("v1 timeline diagnosed: %+v", d)
	}
	dsn := Environment{Target: "dsn", Resources: &Resources{ClientCPUs: 2, HostCPUs: 2, ServerUnavailable: "unavailable on a dsn target"}}
	s := synthetic(3, ServerSample{Connections: 8, Load: map[string]float64{"CPU": 7}, Usage: &Usage{ClientCPU: 0.3}})
	d := Diagnose(s, dsn)
	if d == nil || d.ServerCPUPct != nil || d.Bound != BoundServerCPU || !strings.Contains(d.Evidence, "server CPU unknown") {
		t.Fatalf("got %+v", d)
	}
}

// The timeline of a v2 result gets the database load and CPU panels, and its latency lines break
// at a second without completions instead of joining across it.
func TestLoadPanelsAndLatencyGap(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "diagnosis", "lock-ddl-no-timeout.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	s := r.Series[0]
	run := &Run{Results: []*Result{&r}}
	panels, err := loadPanels(run, &s, "x", 1)
	if err != nil || len(panels) != 2 {
		t.Fatalf("panels %d, err %v; want database load and CPU", len(panels), err)
	}
	gaps := 0
	for _, sec := range s.Timeline {
		if sec.Ops == 0 {
			gaps++
		}
	}
	if gaps == 0 {
		t.Fatal("the recorded ddl-lock timeline has no second without completions")
	}
	segs := gapSegments(s.Timeline, func(sec Second) float64 { return sec.P99Ms })
	if len(segs) < 2 {
		t.Fatalf("%d line pieces across a gap, want at least 2", len(segs))
	}
	for _, seg := range segs {
		for _, xy := range seg {
			if xy.Y <= 0 {
				t.Fatalf("a piece holds a second without latency: %v", seg)
			}
		}
	}
}

func seriesFindings(t *testing.T, series ...Series) string {
	t.Helper()
	r := &Result{Schema: SchemaVersion, Scenario: "select-only", RunID: "t", Status: StatusOK, Series: series}
	runs := Combine([]*Result{r})
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	return strings.Join(Findings(runs[0], DefaultSLO), "\n")
}

// The sweep: 12,600 -> 19,126 -> 1,106 ops/s at 2, 8 and 32 workers, the last with the
// load generator starved. No finding may say throughput peaked at 8; the findings say 32's
// figure is a floor.
func TestFindingsNoPeakWhenClientBound(t *testing.T) {
	mk := func(workers int, tput float64, d *Diagnosis) Series {
		return Series{Variant: "prepared", Point: map[string]any{"workers": workers}, Repeat: 1, Workers: workers,
			Ops: int64(tput * 10), ThroughputPerS: tput, LatencyMs: Percentiles{P50: 0.1, P99: 1}, Errors: map[string]int64{}, Diagnosis: d}
	}
	server := &Diagnosis{Bound: BoundServerCPU, Evidence: "server CPU 90% of 2 CPUs"}
	client := &Diagnosis{Bound: BoundClientCPU, Evidence: "load generator CPU 98% of 2 CPUs", Floor: true}
	got := seriesFindings(t, mk(2, 12600, server), mk(8, 19126, server), mk(32, 1106, client))
	if strings.Contains(got, "peaked") || !strings.Contains(got, "floors") {
		t.Fatalf("findings:\n%s", got)
	}
	without := seriesFindings(t, mk(2, 12600, server), mk(8, 19126, server), mk(32, 1106, server))
	if !strings.Contains(without, "peaked") {
		t.Fatalf("a server-bound drop is still a peak:\n%s", without)
	}
}

// Variants of an open-loop run at one rate are not compared by throughput.
func TestFindingsNoThroughputComparisonAtFixedRate(t *testing.T) {
	mk := func(variant string, tput float64) Series {
		return Series{Variant: variant, Point: map[string]any{}, Repeat: 1, RatePerS: 50, Ops: int64(tput * 10), ThroughputPerS: tput,
			LatencyMs: Percentiles{P50: 1, P99: 5}, Errors: map[string]int64{}}
	}
	got := seriesFindings(t, mk("no-timeout", 31), mk("lock-timeout", 49))
	if strings.Contains(got, "throughput of") || strings.Contains(got, "served") {
		t.Fatalf("findings compare throughput at a fixed rate:\n%s", got)
	}
}

// TestDiagnoseWithoutReadings: measured seconds none of which carries a reading of the server
// (a 1 s capacity probe between two of the sampler's readings) get an unknown bound that says
// why, not nil; a timeline with no measured second, and readings of schema v1 (no load), get nil.
func TestDiagnoseWithoutReadings(t *testing.T) {
	local := Environment{Target: "local", Resources: &Resources{ServerCPUs: 2, ClientCPUs: 2, HostCPUs: 2}}
	between := Series{Timeline: []Second{{T: 1, Warmup: true, Server: &ServerSample{Connections: 4, Load: map[string]float64{"CPU": 1}}}, {T: 2}}}
	d := Diagnose(between, local)
	if d == nil || d.Bound != BoundUnknown || !strings.Contains(d.Evidence, "no reading of the server fell in the 1 measured second(s)") {
		t.Fatalf("no reading in the measured second: %+v, want unknown and why", d)
	}
	if d := Diagnose(Series{Timeline: []Second{{T: 1, Warmup: true}}}, local); d != nil {
		t.Errorf("no measured second: %+v, want nil", d)
	}
	if d := Diagnose(Series{Timeline: []Second{{T: 1, Server: &ServerSample{Connections: 4}}}}, local); d != nil {
		t.Errorf("a v1 reading: %+v, want nil", d)
	}
}

// TestUnknownWithoutReadingsValidates: the unknown diagnosis of a series with no reading in its
// measured seconds is a valid part of result.json.
func TestUnknownWithoutReadingsValidates(t *testing.T) {
	res := result.Result{Schema: result.SchemaVersion, Scenario: "select-only", RunID: "r", Status: result.StatusOK,
		Params: map[string]any{}, Series: []result.Series{{Variant: "prepared", Repeat: 1, Errors: map[string]int64{},
			Timeline: []result.Second{{T: 1}}}}}
	res.Environment.Host.Cores = 1
	res.Series[0].Diagnosis = Diagnose(res.Series[0], Environment{})
	if res.Series[0].Diagnosis == nil {
		t.Fatal("no diagnosis")
	}
	doc, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := result.Validate(doc); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}
