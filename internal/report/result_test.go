package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	return &Result{
		Schema: SchemaVersion, Scenario: "select-only", RunID: "r1", Status: StatusOK,
		StartedAt: time.Unix(0, 0).UTC(), FinishedAt: time.Unix(10, 0).UTC(),
		Params: map[string]any{"workers": []any{8}}, Duration: "10s", Warmup: "1s",
		Environment: Environment{Target: "local", ServerVersion: "15.18", Settings: map[string]string{"fsync": "on"},
			Host: Host{OS: "linux", Arch: "amd64", Cores: 2}, Pgscale: Build{Version: "dev", GoVersion: "go1.26"}},
		Series: []Series{{
			Variant: "prepared", Point: map[string]any{"workers": 8}, Repeat: 1, StartedAt: time.Unix(0, 0).UTC(),
			DurationS: 10, Workers: 8, Ops: 100, ThroughputPerS: 10,
			LatencyMs: Percentiles{Count: 100, P50: 1, P90: 2, P99: 3, P999: 4, Max: 5},
			Errors:    map[string]int64{}, Timeline: []Second{{T: 1, Ops: 10}},
		}},
	}
}

func TestSchemaAcceptsAResultAndRejectsBrokenOnes(t *testing.T) {
	t.Parallel()
	if err := ValidateResult(sampleResult()); err != nil {
		t.Fatalf("a well-formed result fails validation: %v", err)
	}
	breakers := map[string]func(r *Result){
		"unknown status":    func(r *Result) { r.Status = "fine" },
		"negative ops":      func(r *Result) { r.Series[0].Ops = -1 },
		"timeline from t=0": func(r *Result) { r.Series[0].Timeline[0].T = 0 },
		"no cores":          func(r *Result) { r.Environment.Host.Cores = 0 },
		"camel variant":     func(r *Result) { r.Series[0].Variant = "Prepared" },
	}
	for name, breakIt := range breakers {
		r := sampleResult()
		breakIt(r)
		if err := ValidateResult(r); err == nil {
			t.Errorf("%s: validation passed", name)
		}
	}
	var doc map[string]any
	b, _ := json.Marshal(sampleResult())
	_ = json.Unmarshal(b, &doc)
	delete(doc, "environment")
	b, _ = json.Marshal(doc)
	if err := Validate(b); err == nil {
		t.Error("a result without environment passed validation")
	}
}

func TestWriteFileIsAtomicAndReadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "result.json"), sampleResult()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only result.json (no temporary files left)", len(entries))
	}
	r, err := ReadFile(dir)
	if err != nil || r.Series[0].Ops != 100 {
		t.Fatalf("ReadFile: %v, %+v", err, r)
	}
}

func TestReadFileRejectsUnknownSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := sampleResult()
	r.Schema = "pgscale.result/v9"
	_ = WriteFile(filepath.Join(dir, "result.json"), r)
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "pgscale.result/v9") {
		t.Fatalf("ReadFile of an unknown schema: %v", err)
	}
}

// The SLO a run was given (run --slo) is what a report of it judges by, unless told otherwise.
func TestRecordedSLOJudgesTheReport(t *testing.T) {
	t.Parallel()
	r := loadFixture(t, fixtureSweep)
	if got := RecordedSLO([]*Result{r}); got != 0 {
		t.Fatalf("a result with no slo: %g, want 0", got)
	}
	withSLO := *r
	withSLO.SLO = "p99<0.001ms"
	if got := RecordedSLO([]*Result{&withSLO}); got != 0.001 {
		t.Fatalf("RecordedSLO = %g, want 0.001", got)
	}
	doc, err := NewDocument([]*Result{&withSLO}, ReportOptions{NoPlots: true})
	if err != nil {
		t.Fatal(err)
	}
	if doc.SLO != 0.001 {
		t.Fatalf("the document judges by %g ms, want the run's 0.001", doc.SLO)
	}
	if doc, _ = NewDocument([]*Result{&withSLO}, ReportOptions{SLO: 250, NoPlots: true}); doc.SLO != 250 {
		t.Fatalf("report --slo 250ms: judged by %g ms", doc.SLO)
	}
	if !strings.Contains(Text(&withSLO), "0.001 ms SLO") {
		t.Fatalf("the run's summary does not judge by its SLO:\n%s", Text(&withSLO))
	}
	if _, err := FindingsP99(SLO{Text: "errors<1%", Terms: []SLOTerm{{Metric: "errors", Bound: 1}}}); err == nil {
		t.Fatal("an SLO with no p99 term gave a findings bound")
	}
}
