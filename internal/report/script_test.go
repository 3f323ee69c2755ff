package report

import (
	"strings"
	"testing"
	"time"
)

// scriptResult is a script run's result with one series of two statements; slow scales the
// second statement's latency.
func scriptResult(t *testing.T, runID string, slow int64) *Result {
	t.Helper()
	stmt := func(label string, us int64, n int) StatementStats {
		h := NewHistogram()
		for i := range n {
			_ = h.RecordValue(us + int64(i%10))
		}
		enc, err := EncodeHistogram(h)
		if err != nil {
			t.Fatal(err)
		}
		return StatementStats{Script: 0, Label: label, Count: int64(n), LatencyMs: PercentilesOf(h), Histogram: enc}
	}
	h := NewHistogram()
	for range 100 {
		_ = h.RecordValue(1000 * slow)
	}
	enc, _ := EncodeHistogram(h)
	s := Series{Variant: "simple", Point: map[string]any{"workers": 8}, Repeat: 1, StartedAt: time.Now().UTC(),
		DurationS: 1, Workers: 8, Ops: 100, ThroughputPerS: 100, LatencyMs: PercentilesOf(h), Errors: map[string]int64{},
		Histograms: Histograms{Latency: enc},
		Scripts: []ScriptStats{{Name: "orders.sql", Weight: 3, Transactions: 100, LatencyMs: PercentilesOf(h), Histogram: enc,
			Errors: map[string]int64{"40001": 2}, Retries: map[string]int64{"40001": 5}}},
		Statements: []StatementStats{stmt("orders.sql:2: SELECT 1", 100, 100), stmt("orders.sql:3: UPDATE stock", 900*slow, 100)},
		Engine:     "mux", EngineWhy: "closed loop",
	}
	return &Result{Schema: SchemaVersion, Scenario: "script", RunID: runID, Status: StatusOK, StartedAt: s.StartedAt,
		FinishedAt: s.StartedAt, Params: map[string]any{}, Duration: "1s", Warmup: "0s",
		Environment: Environment{Target: "local", ServerVersion: "15", Settings: map[string]string{}, Host: Host{OS: "linux", Arch: "amd64", Cores: 2},
			Pgscale: Build{Version: "dev", GoVersion: "go"}},
		Series: []Series{s}}
}

func TestScriptBreakdownRendersAndValidates(t *testing.T) {
	t.Parallel()
	r := scriptResult(t, "a", 1)
	if err := ValidateResult(r); err != nil {
		t.Fatal(err)
	}
	text := Text(r)
	for _, want := range []string{"orders.sql:3: UPDATE stock", "40001:2", "40001:5", "p99.9 ms", "\n  engine: mux (auto: closed loop)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the summary lacks %q:\n%s", want, text)
		}
	}
	doc, err := NewDocument([]*Result{r}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md := doc.Markdown()
	for _, want := range []string{"## Scripts", "## Statements", "| orders.sql:3: UPDATE stock | 100 |", "script-statements.png",
		"Engine: mux (auto: closed loop)."} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if html := string(doc.HTML()); !strings.Contains(html, "<h3>Statements</h3>") || !strings.Contains(html, "orders.sql:3: UPDATE stock") {
		t.Error("report.html lacks the statements table")
	}
}

func TestBreakdownMergesRepeats(t *testing.T) {
	t.Parallel()
	a, b := scriptResult(t, "a", 1), scriptResult(t, "b", 2)
	bd := BreakdownOf([]*Series{&a.Series[0], &b.Series[0]})
	if len(bd.Scripts) != 1 || bd.Scripts[0].Transactions != 200 || bd.Scripts[0].Retries["40001"] != 10 {
		t.Fatalf("scripts %+v: want one with 200 transactions and 10 retries", bd.Scripts)
	}
	if len(bd.Statements) != 2 || bd.Statements[1].Count != 200 || bd.Statements[1].LatencyMs.Count != 200 {
		t.Fatalf("statements %+v: want two, the second with 200 runs from the merged histogram", bd.Statements)
	}
	if slow := bd.Slowest(1); len(slow) != 1 || slow[0].Label != "orders.sql:3: UPDATE stock" {
		t.Fatalf("slowest %+v: want the UPDATE", slow)
	}
}

func TestCompareStatements(t *testing.T) {
	t.Parallel()
	c, err := Compare([]*Result{scriptResult(t, "a", 1)}, []*Result{scriptResult(t, "b", 3)}, "a", "b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StatementRows) != 2 {
		t.Fatalf("%d statement rows, want 2", len(c.StatementRows))
	}
	upd := c.StatementRows[1]
	if upd.Label != "orders.sql:3: UPDATE stock" || upd.Metrics[1].Metric != "p99 ms" || upd.Metrics[1].Verdict != "worse" {
		t.Fatalf("row %+v: want the UPDATE's p99 worse", upd)
	}
	if md := c.Markdown(); !strings.Contains(md, "### Statements") || !strings.Contains(md, "orders.sql:3: UPDATE stock") {
		t.Errorf("compare Markdown lacks the statements:\n%s", md)
	}
	if txt := c.Text(); !strings.Contains(txt, "statements:") {
		t.Errorf("compare text lacks the statements:\n%s", txt)
	}
}
