package sizing

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

func TestWorkloadFromConnectStormResult(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "w.yaml")
	abs, err := filepath.Abs(filepath.Join("testdata", "connect-storm-result.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec, "from_result:\n  file: "+abs+"\ndata: {size: 10GB}\n")
	s, err := ParseWorkload(spec)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Resolve(cat)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	// The error-free series with the highest throughput: warm at 190 workers (716 req/s), not
	// warm at 300 (683 req/s with 53300 errors) nor cold.
	if w.Result == nil || w.Result.Variant != "warm" || w.Result.Point["workers"] != float64(190) {
		t.Fatalf("picked %+v; want warm at 190 workers", w.Result)
	}
	for _, c := range []struct {
		name string
		q    Quantity
		want float64
	}{
		{"rate", w.Rate, 716},
		{"db time", w.DBTimeS, 0.262},
		{"hold time", w.HoldTimeS, 0.265},
		// The statement less its 250 ms pg_sleep is 12 ms; 2 host cores / 716 req/s = 2.79 ms is
		// the tighter bound.
		{"cpu", w.CPUTimeS, 2.0 / 716},
		{"connects", w.ConnectsPerRequest, 0.01},
		{"memory per connection", w.PerConnectionMiB, 1310.0 / 1024},
	} {
		if !near(c.q.Value, c.want) || !strings.HasPrefix(c.q.Source, "measured: ") {
			t.Errorf("%s: %g (%s), want %g measured", c.name, c.q.Value, c.q.Source, c.want)
		}
	}
	if !strings.Contains(w.CPUTimeS.Source, "host cores") {
		t.Errorf("cpu source %q does not say it is the host bound", w.CPUTimeS.Source)
	}
	if w.MeasuredP99S == nil || !near(w.MeasuredP99S.Value, 0.428) {
		t.Errorf("measured p99: %+v", w.MeasuredP99S)
	}
	// Little's law on the measured figures: 716 × 0.265 = 189.7 → 190 + 5.
	if d := NewDemand(w, ModeDirect); d.Connections != 195 {
		t.Errorf("connections %d, want 195", d.Connections)
	}

	// Given figures win; a named series is taken as asked.
	writeFile(t, spec, "requests: {peak_rate: 2000}\nfrom_result: {file: "+abs+", variant: cold}\n")
	s, err = ParseWorkload(spec)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = s.Resolve(cat); err != nil {
		t.Fatal(err)
	}
	if w.Rate.Value != 2000 || w.Rate.Source != "given" || w.Result.Variant != "cold" || w.ConnectsPerRequest.Value != 1 {
		t.Errorf("given rate with the cold series: rate %+v, series %s, connects %+v", w.Rate, w.Result.Variant, w.ConnectsPerRequest)
	}

	// The path is relative to the workload file.
	rel := filepath.Join(dir, "sub")
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rel, "result.json"), string(data))
	writeFile(t, spec, "from_result: {file: sub}\n")
	if s, err = ParseWorkload(spec); err == nil {
		_, err = s.Resolve(cat)
	}
	if err != nil {
		t.Errorf("from_result relative to the spec: %v", err)
	}
}

func TestBadWorkloadInput(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	queue, _ := filepath.Abs(filepath.Join("testdata", "queue-result.json"))
	storm, _ := filepath.Abs(filepath.Join("testdata", "connect-storm-result.json"))
	for _, c := range []struct {
		name string
		doc  string
		want []string
	}{
		{"zero rate", "requests: {peak_rate: 0, hold_time: 250ms}", []string{"requests.peak_rate: 0; must be above 0"}},
		{"negative rate", "requests: {peak_rate: -5, hold_time: 250ms}", []string{"requests.peak_rate: -5; must be above 0"}},
		{"no rate", "requests: {hold_time: 250ms}", []string{"requests.peak_rate: missing"}},
		{"no time", "requests: {peak_rate: 10}", []string{"requests.hold_time: missing"}},
		{"unknown provider", "requests: {peak_rate: 10, hold_time: 1s}\nproviders: [aws-rsd]",
			[]string{`providers: unknown provider "aws-rsd" (did you mean "aws-rds"?); valid: aws-rds, azure-flexible, gcp-cloudsql`}},
		{"wrong scenario", "from_result: {file: " + queue + "}",
			[]string{`is a "queue" result; want a connect-storm result`}},
		{"no such series", "from_result: {file: " + storm + ", variant: pooled}",
			[]string{`no series with throughput for variant="pooled"`, "it has variants cold, warm and workers 100, 190, 300"}},
		{"duration without unit", "requests: {peak_rate: 10, hold_time: 250}", []string{`requests.hold_time: "250" has no unit`}},
		{"db longer than hold", "requests: {peak_rate: 10, hold_time: 5ms, db_time: 10ms}", []string{"requests.db_time: 10ms is longer than hold_time 5ms"}},
		{"bad size", "requests: {peak_rate: 10, hold_time: 1s}\ndata: {size: 50 gigs}", []string{`data.size: "50 gigs" has no unit`}},
		{"headroom", "requests: {peak_rate: 10, hold_time: 1s}\nheadroom: 1.5", []string{"headroom: 1.5; valid: 0 to 0.9"}},
		{"unknown field", "requests: {peak_rate: 10, hold_tme: 1s}", []string{"field hold_tme not found"}},
		{"pools half given", "requests: {peak_rate: 10, hold_time: 1s}\napp: {instances: 3}", []string{"app: give both instances and pool_size"}},
		// Every problem at once.
		{"several", "requests: {peak_rate: -1, hold_time: 2x}\nqueue: {job_rate: 5}\nproviders: [nope]",
			[]string{"requests.peak_rate: -1", `requests.hold_time: "2x" is not a duration`, "queue.job_db_time: missing",
				"queue.workers: missing", `unknown provider "nope"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := DecodeWorkload([]byte(c.doc), "test")
			if err == nil {
				_, err = s.Resolve(cat)
			}
			if err == nil || !IsUsage(err) {
				t.Fatalf("got %v; want a usage error", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestMarkdownGolden pins the Markdown report of the seed workload on Cloud SQL. After an
// intended change: go test ./sizing -run Golden -update.
func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	s, err := ParseWorkload(filepath.Join("testdata", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Resolve(cat)
	if err != nil {
		t.Fatal(err)
	}
	r := Size(w, cat)
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "seed.md")
	if *update {
		if err := os.WriteFile(golden, md.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(md.Bytes(), want) {
		t.Errorf("Markdown differs from %s (run with -update after an intended change):\n%s", golden, firstDiff(md.String(), string(want)))
	}

	// The JSON form carries the same pick and decodes.
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Schema    string `json:"schema"`
		Providers []struct {
			Choice struct {
				Pick struct {
					Class   string `json:"class"`
					Binding string `json:"binding"`
				} `json:"pick"`
			} `json:"choice"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("decode JSON: %v", err)
	}
	if back.Schema != Schema || len(back.Providers) != 1 || back.Providers[0].Choice.Pick.Class != r.Providers[0].Choice.Pick.Class ||
		back.Providers[0].Choice.Pick.Binding != Connections {
		t.Errorf("JSON: %+v", back)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Connections, not CPU, decide: Little's law: 800 req/s × 250 ms held per request = 200 connections") {
		t.Errorf("text report does not state the binding constraint:\n%s", text.String())
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}
