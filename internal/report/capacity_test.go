package report

import (
	"strings"
	"testing"
)

func TestParseSLO(t *testing.T) {
	slo, err := ParseSLO("p99<50ms, errors<0.1%,p999<=1s")
	if err != nil {
		t.Fatal(err)
	}
	want := []SLOTerm{{Metric: "p99", Bound: 50}, {Metric: "errors", Bound: 0.1}, {Metric: "p999", Bound: 1000, OrEqual: true}}
	if len(slo.Terms) != len(want) {
		t.Fatalf("terms %+v", slo.Terms)
	}
	for i := range want {
		if slo.Terms[i] != want[i] {
			t.Errorf("term %d: %+v, want %+v", i, slo.Terms[i], want[i])
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"p98<5ms", `unknown metric "p98"; valid: p50, p90, p99, p999, max, errors`},
		{"p99<50", `needs a unit`},
		{"p99<0ms", `can never hold`},
		{"p99<-3ms", `can never hold`},
		{"errors<0%", `can never hold`},
		{"errors<1", `needs its unit, %`},
		{"p99>50ms", `want metric<bound`},
		{"", `--slo is empty`},
	} {
		if _, err := ParseSLO(bad.in); err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSLO(%q): %v, want one line with %q", bad.in, err, bad.want)
		}
	}
}

func TestSLOCheck(t *testing.T) {
	slo, _ := ParseSLO("p99<50ms,errors<1%")
	ok := Series{RatePerS: 1000, ThroughputPerS: 990, Ops: 1000, LatencyMs: Percentiles{P99: 12}, Errors: map[string]int64{"57014": 5}}
	if broke := slo.Check(ok, 0.95); len(broke) != 0 {
		t.Fatalf("broke %v", broke)
	}
	bad := Series{RatePerS: 1000, ThroughputPerS: 700, Ops: 1000, LatencyMs: Percentiles{P99: 50}, Errors: map[string]int64{"53300": 20}}
	broke := slo.Check(bad, 0.95)
	if len(broke) != 3 || !strings.Contains(strings.Join(broke, ";"), "fell behind") {
		t.Fatalf("broke %v, want p99, errors and fell behind", broke)
	}
}

func TestCapacitySentence(t *testing.T) {
	slo, _ := ParseSLO("p99<50ms")
	pct := 97.0
	broken := 2470.0
	c := &Capacity{RatePerS: 2340, Unit: "tx/s", BrokenAtPerS: &broken, Diagnosis: &Diagnosis{Bound: BoundServerCPU, ServerCPUPct: &pct,
		TopWaits: []WaitShare{{Event: "LWLock:WALWrite", Share: 0.41}}}}
	got := CapacitySentence(c, slo, 2)
	want := "capacity 2,340 tx/s at p99 < 50 ms; past it, server CPU bound (97% of 2 CPUs), top wait LWLock:WALWrite"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	c.Diagnosis = &Diagnosis{Bound: BoundClientCPU, Floor: true}
	if got := CapacitySentence(c, slo, 2); !strings.Contains(got, "a floor") {
		t.Fatalf("client-bound sentence %q does not say floor", got)
	}
}
