package gate

import (
	"math"
	"testing"

	"github.com/pgscale/pgscale/result"
)

func TestParseCheckForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text  string
		entry string
		where map[string]string
		field string
		agg   string // the aggregate applied
		op    string
		num   float64
		dir   string
		max   float64
	}{
		{text: "queue variant=dedicated workers=1000: claim_latency_p99_ms < 5", entry: "queue",
			where: map[string]string{"variant": "dedicated", "workers": "1000"}, field: "claim_latency_p99_ms", agg: "median", op: "<", num: 5},
		{text: "connect-storm variant=pooled: errors.53300 == 0", entry: "connect-storm",
			where: map[string]string{"variant": "pooled"}, field: "errors.53300", agg: "max", op: "==", num: 0},
		{text: "ingest variant=copy batch=1000: throughput_per_s > 100000", entry: "ingest",
			where: map[string]string{"variant": "copy", "batch": "1000"}, field: "throughput_per_s", agg: "median", op: ">", num: 100000},
		{text: "a: metrics.rows_per_s>=1e5", entry: "a", where: map[string]string{}, field: "rows_per_s", agg: "median", op: ">=", num: 1e5},
		{text: "a: min( latency_ms.p50 ) != 0.5", entry: "a", where: map[string]string{}, field: "latency_ms.p50", agg: "min", op: "!=", num: 0.5},
		{text: "a: mean(errors) <= 2", entry: "a", where: map[string]string{}, field: "errors", agg: "mean", op: "<=", num: 2},
		{text: "a: latency_ms.p999 may rise 10%", entry: "a", where: map[string]string{}, field: "latency_ms.p999", dir: Rise, max: 0.10},
		{text: "a: throughput_per_s may fall by at most 2.5 %", entry: "a", where: map[string]string{}, field: "throughput_per_s", dir: Fall, max: 0.025},
		{text: "a: errors may rise 0%", entry: "a", where: map[string]string{}, field: "errors", dir: Rise, max: 0},
	}
	for _, c := range cases {
		got, err := parseCheck(c.text, 7)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		if got.Entry != c.entry || len(got.Where) != len(c.where) || got.Field.String() != c.field || got.Line != 7 {
			t.Errorf("%q: parsed %+v", c.text, got)
		}
		for k, v := range c.where {
			if got.Where[k] != v {
				t.Errorf("%q: where[%s] = %q, want %q", c.text, k, got.Where[k], v)
			}
		}
		if c.dir != "" {
			if !got.Relative || got.Direction != c.dir || math.Abs(got.MaxChange-c.max) > 1e-12 {
				t.Errorf("%q: relative %v %s %g", c.text, got.Relative, got.Direction, got.MaxChange)
			}
			continue
		}
		if got.Relative || got.aggregate() != c.agg || got.Op != c.op || got.Threshold != c.num {
			t.Errorf("%q: absolute %s %s %g", c.text, got.aggregate(), got.Op, got.Threshold)
		}
	}
}

func TestFieldValue(t *testing.T) {
	t.Parallel()
	s := &result.Series{
		ThroughputPerS: 1234.5,
		LatencyMs:      result.Percentiles{P50: 1, P90: 2, P99: 3, P999: 4, Max: 5, Mean: 1.5},
		Errors:         map[string]int64{"53300": 7, "connect_timeout": 2},
		Metrics:        map[string]float64{"rows_per_s": 99, "claim_p99_ms": 0.7},
	}
	cases := map[string]float64{
		"throughput_per_s": 1234.5, "latency_ms.p50": 1, "latency_ms.p90": 2, "latency_ms.p99": 3, "latency_ms.p999": 4,
		"latency_ms.max": 5, "latency_ms.mean": 1.5, "errors": 9, "errors.53300": 7, "errors.57014": 0,
		"metrics.rows_per_s": 99, "claim_p99_ms": 0.7,
	}
	for text, want := range cases {
		f, err := parseField(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, ok := f.Value(s)
		if !ok || got != want {
			t.Errorf("%s = %g (%v), want %g", text, got, ok, want)
		}
	}
	f, _ := parseField("jobs_lost")
	if _, ok := f.Value(s); ok {
		t.Errorf("a metric the series lacks reads as present")
	}
}

func TestNormalisation(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"throughput_per_s": normDivide, "rows_per_s": normDivide, "metrics.mb_per_s": normDivide,
		"latency_ms.p99": normMultiply, "latency_ms.max": normMultiply, "claim_p99_ms": normMultiply,
		"errors": normNone, "errors.53300": normNone, "wal_bytes_per_row": normNone, "jobs_lost": normNone,
	}
	for text, want := range cases {
		f, err := parseField(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.normalisation(); got != want {
			t.Errorf("%s: normalisation %q, want %q", text, got, want)
		}
	}
}

func TestHoldsAndAggregates(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 3, 100}
	for agg, want := range map[string]float64{"median": 4, "mean": 27.25, "min": 1, "max": 100} {
		if got := aggregateOf(agg, xs); got != want {
			t.Errorf("%s = %g, want %g", agg, got, want)
		}
	}
	if xs[0] != 5 {
		t.Errorf("aggregateOf sorted its input in place")
	}
	table := []struct {
		v  float64
		op string
		th float64
		ok bool
	}{
		{1, "<", 2, true}, {2, "<", 2, false}, {2, "<=", 2, true}, {3, ">", 2, true}, {2, ">", 2, false},
		{2, ">=", 2, true}, {0, "==", 0, true}, {1, "==", 0, false}, {1, "!=", 0, true}, {0, "!=", 0, false},
	}
	for _, c := range table {
		if got := holds(c.v, c.op, c.th); got != c.ok {
			t.Errorf("%g %s %g = %v, want %v", c.v, c.op, c.th, got, c.ok)
		}
	}
}
