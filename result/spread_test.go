package result

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestSpreadOfHandComputed checks SpreadOf against figures worked out by hand.
func TestSpreadOfHandComputed(t *testing.T) {
	// 10 12 11 13 14: median 12, mean 12, squares of deviations 4+0+1+1+4 = 10, sample variance
	// 10/4, sd √2.5; n = 5 reaches no 95% interval, so min to max at 1 − 2/2⁵ = 0.9375.
	s := SpreadOf("ops/s", []float64{10, 12, 11, 13, 14})
	if s.N != 5 || !near(s.Median, 12) || !near(s.Mean, 12) || !near(s.StdDev, math.Sqrt(2.5)) || !near(s.CV, math.Sqrt(2.5)/12) {
		t.Errorf("spread of 5 = %+v", s)
	}
	if s.Low == nil || s.High == nil || *s.Low != 10 || *s.High != 14 || !near(s.Level, 0.9375) || s.NoInterval != "" {
		t.Errorf("interval of 5 = %v %v level %v (%q), want 10 14 at 0.9375", s.Low, s.High, s.Level, s.NoInterval)
	}

	// 1..10 out of order: median 5.5; k = 2 covers 1 − 2(1+10)/2¹⁰ = 0.978515625, k = 3 only
	// 1 − 2(1+10+45)/2¹⁰ = 0.890625, so the 2nd smallest to the 2nd largest: 2 to 9.
	s = SpreadOf("p99 ms", []float64{7, 3, 10, 1, 5, 9, 2, 8, 4, 6})
	if !near(s.Median, 5.5) || s.Low == nil || *s.Low != 2 || *s.High != 9 || !near(s.Level, 0.978515625) {
		t.Errorf("spread of 10 = %+v low %v high %v", s, s.Low, s.High)
	}

	// Two repeats: sd √((25+25)/1), and no interval, with the reason.
	s = SpreadOf("ops/s", []float64{10, 20})
	if !near(s.Median, 15) || !near(s.StdDev, math.Sqrt(50)) || s.Low != nil || s.High != nil || s.Level != 0 {
		t.Errorf("spread of 2 = %+v", s)
	}
	if !strings.Contains(s.NoInterval, "2 repeats") || !strings.Contains(s.NoInterval, "at least 3") {
		t.Errorf("no_interval of 2 = %q", s.NoInterval)
	}

	// One repeat: no deviation; nothing: the zero spread. Mean 0: CV 0, not NaN.
	if s = SpreadOf("x", []float64{4}); s.StdDev != 0 || s.CV != 0 || s.Median != 4 || s.NoInterval == "" {
		t.Errorf("spread of 1 = %+v", s)
	}
	if s = SpreadOf("x", nil); s.N != 0 || s.Median != 0 || s.NoInterval != "" {
		t.Errorf("spread of none = %+v", s)
	}
	if s = SpreadOf("errors", []float64{0, 0, 0}); s.CV != 0 || math.IsNaN(s.CV) {
		t.Errorf("spread of zeros = %+v", s)
	}
}

// TestMedianInterval checks the order statistics against the binomial tables: n = 20 gives the
// 6th to the 15th value (P(B ≤ 5) = 21700/2²⁰), n = 6 min to max at 1 − 2/2⁶.
func TestMedianInterval(t *testing.T) {
	for _, c := range []struct {
		n     int
		k     int
		level float64
	}{
		{3, 1, 0.75},
		{4, 1, 0.875},
		{6, 1, 1 - 2.0/64},
		{8, 1, 1 - 2.0/256}, // k = 2 would cover only 1 − 18/256 = 0.93
		{10, 2, 0.978515625},
		{20, 6, 1 - 2*21700.0/1048576},
	} {
		k, level := MedianInterval(c.n, 0.95)
		if k != c.k || !near(level, c.level) {
			t.Errorf("MedianInterval(%d) = %d, %v; want %d, %v", c.n, k, level, c.k, c.level)
		}
	}
}

// TestSpreadValidates checks that a result carrying repeats' spreads, with and without an
// interval, matches the schema.
func TestSpreadValidates(t *testing.T) {
	doc := `{"schema":"pgscale.result/v2","scenario":"x","run_id":"r","status":"ok","started_at":"2026-01-01T00:00:00Z",
	"finished_at":"2026-01-01T00:01:00Z","params":{},"duration":"1s","warmup":"0s",
	"environment":{"target":"local","server_version":"15","settings":{},"host":{"os":"linux","arch":"amd64","cores":2},
	"pgscale":{"version":"dev","go_version":"go"}},"series":[]}`
	var r Result
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	r.Repeats = []RepeatSpread{{Variant: "v", Point: map[string]any{"workers": 4}, Figures: []Spread{
		SpreadOf("ops/s", []float64{10, 12, 11}), SpreadOf("p99 ms", []float64{1, 2})}}}
	if err := ValidateResult(&r); err != nil {
		t.Fatal(err)
	}
	r.Repeats[0].Figures[0].CV = -1
	if err := ValidateResult(&r); err == nil {
		t.Error("a negative cv validated")
	}
}
