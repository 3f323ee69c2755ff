package timeouts

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// histogramOf records values (microseconds) into a pgscale histogram and encodes it.
func histogramOf(t *testing.T, values []int64) (*hdrhistogram.Histogram, string) {
	t.Helper()
	h := result.NewHistogram()
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := result.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return h, enc
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestProposalFromAKnownDistribution: 9,000 requests of 1 ms and 1,000 of 10 ms have a mean of
// 1.9 ms; the article's rule gives statement_timeout 3 × 1.9 = 5.7 → 6 ms and lock_timeout
// 2 × 1.9 = 3.8 → 4 ms, which cancel the 10% of 10 ms requests; the tail's gives 21 ms and 11 ms
// (HDR reports the p99.9 as its bucket's top, 10.005 ms), which cancel none. 10% is over the 1% a recommendation may cut, so the tail's is recommended.
// In the script breakdown the 10 ms statement loses all its executions to the article's rule.
func TestProposalFromAKnownDistribution(t *testing.T) {
	values := append(repeat(1000, 9000), repeat(10000, 1000)...)
	_, all := histogramOf(t, values)
	_, fast := histogramOf(t, repeat(1000, 9000))
	_, slow := histogramOf(t, repeat(10000, 1000))
	r := &result.Result{Scenario: "script", RunID: "r1", Status: result.StatusOK, Series: []result.Series{{
		Variant: "simple", Point: map[string]any{"workers": 4}, Repeat: 1,
		Histograms: result.Histograms{Latency: all},
		Errors:     map[string]int64{"57014": 3},
		Scripts:    []result.ScriptStats{{Name: "app.sql", Weight: 1}},
		Statements: []result.StatementStats{
			{Script: 0, Label: "app.sql:1: SELECT fast", Count: 9000, Histogram: fast},
			{Script: 0, Label: "app.sql:2: SELECT slow", Count: 1000, Histogram: slow},
		},
	}}}
	rep, err := Propose(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep.Overall.MeanMs-1.9) > 0.01 || rep.Overall.Requests != 10000 {
		t.Fatalf("overall %+v, want mean 1.9 ms over 10000", rep.Overall)
	}
	want := map[string]Proposal{
		RuleArticle: {StatementTimeoutMs: 6, LockTimeoutMs: 4, StatementCancelled: 0.1, LockCancelledAtMost: 0.1},
		RuleTail:    {StatementTimeoutMs: 21, LockTimeoutMs: 11, StatementCancelled: 0, LockCancelledAtMost: 0},
	}
	for _, p := range rep.Proposals {
		w := want[p.Rule]
		if p.StatementTimeoutMs != w.StatementTimeoutMs || p.LockTimeoutMs != w.LockTimeoutMs ||
			p.StatementCancelled != w.StatementCancelled || p.LockCancelledAtMost != w.LockCancelledAtMost {
			t.Errorf("%s: %+v, want %+v", p.Rule, p, w)
		}
	}
	if rep.Recommended != RuleTail {
		t.Errorf("recommended %s, want tail", rep.Recommended)
	}
	if len(rep.Statements) != 2 || rep.Statements[1].Cancelled[RuleArticle] != 1 || rep.Statements[0].Cancelled[RuleArticle] != 0 {
		t.Errorf("statements %+v", rep.Statements)
	}
	if rep.TimeoutErrors["57014"] != 3 {
		t.Errorf("timeout errors %v", rep.TimeoutErrors)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep, "web app"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`ALTER ROLE "web app" SET statement_timeout = '21ms';`,
		`ALTER ROLE "web app" SET lock_timeout = '11ms';`,
		"app.sql:2: SELECT slow",
		"This run had 3 and 0.",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, text.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep, ""); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Recommended string              `json:"recommended"`
		Apply       map[string][]string `json:"apply"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.Recommended != RuleTail || decoded.Apply[RuleArticle][0] != "ALTER ROLE <app_role> SET statement_timeout = '6ms';" {
		t.Errorf("JSON %s", js.String())
	}
}

// TestCancelledShareMatchesTheValues checks the share against the raw values of a long-tailed
// (log-normal) sample: HDR keeps 3 significant digits, so the shares agree within the values that
// fall in the one bucket straddling the limit.
func TestCancelledShareMatchesTheValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]int64, 50000)
	for i := range values {
		values[i] = int64(math.Exp(rng.NormFloat64()*0.8) * 2000) // median 2 ms
	}
	h, _ := histogramOf(t, values)
	for _, limitUs := range []int64{1000, 4000, 6300, 12000, 30000} {
		above := 0
		for _, v := range values {
			if v > limitUs {
				above++
			}
		}
		want := float64(above) / float64(len(values))
		if got := CancelledShare(h, limitUs); math.Abs(got-want) > 0.002 {
			t.Errorf("limit %d µs: share %.5f, counted %.5f", limitUs, got, want)
		}
	}
}

// TestFixtureProposalsAreTwoToThreeTimesTheMean reads a recorded select-only result: the
// article's statement_timeout is 3× the mean of every series merged and its lock_timeout 2×
// (rounded up to whole milliseconds), and the tail's statement_timeout is 2× the p99.9.
func TestFixtureProposalsAreTwoToThreeTimesTheMean(t *testing.T) {
	r, err := report.Load("../report/testdata/repeats-a.json")
	if err != nil {
		t.Fatal(err)
	}
	merged := result.NewHistogram()
	for _, s := range r.Series {
		h, err := result.DecodeHistogram(s.Histograms.Latency)
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(h)
	}
	meanMs, p999Ms := merged.Mean()/1000, float64(merged.ValueAtQuantile(99.9))/1000
	rep, err := Propose(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	article, tail := rep.Proposals[0], rep.Proposals[1]
	if got, lo := float64(article.StatementTimeoutMs), 3*meanMs; got < lo || got > max(lo*1.1, math.Ceil(lo)) {
		t.Errorf("article statement_timeout %v ms, want 3 × mean %.3f", got, meanMs)
	}
	if got, lo := float64(article.LockTimeoutMs), 2*meanMs; got < lo || got > max(lo*1.1, math.Ceil(lo)) {
		t.Errorf("article lock_timeout %v ms, want 2 × mean %.3f", got, meanMs)
	}
	if got, lo := float64(tail.StatementTimeoutMs), 2*p999Ms; got < lo || got > max(lo*1.1, math.Ceil(lo)) {
		t.Errorf("tail statement_timeout %v ms, want 2 × p99.9 %.3f", got, p999Ms)
	}
	if want := CancelledShare(merged, article.StatementTimeoutMs*1000); article.StatementCancelled != want {
		t.Errorf("article cancels %v, histogram says %v", article.StatementCancelled, want)
	}
	if len(rep.Series) != len(r.Series) {
		t.Errorf("%d series, want %d", len(rep.Series), len(r.Series))
	}
	only, err := Propose(r, Options{Variant: "prepared"})
	if err != nil || len(only.Series) != len(r.Series)/2 {
		t.Fatalf("--variant prepared: %v, %d series", err, len(only.Series))
	}
	var bad *BadVariantError
	if _, err := Propose(r, Options{Variant: "nope"}); !errors.As(err, &bad) || !strings.Contains(err.Error(), "valid: prepared, simple") {
		t.Errorf("unknown variant: %v", err)
	}
}

func TestRoundUpMs(t *testing.T) {
	for in, want := range map[float64]int64{0.2: 1, 1: 1, 1.01: 2, 5.7: 6, 99.2: 100, 123: 130, 1059: 1100, 6124: 6200, 6100: 6100} {
		if got := RoundUpMs(in); got != want {
			t.Errorf("RoundUpMs(%v) = %d, want %d", in, got, want)
		}
	}
}

func TestValidateRole(t *testing.T) {
	for _, ok := range []string{"webservice", "Web App", `we"ird`} {
		if err := ValidateRole(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("r", 64), "a\nb"} {
		if err := ValidateRole(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
