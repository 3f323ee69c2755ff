package sizing

import (
	"math"
	"strings"
	"testing"
)

func TestFitLine(t *testing.T) {
	t.Parallel()
	// An exact line: 20,000 lookups/s per vCPU, 500/s at zero.
	f, err := FitLine([]float64{0.25, 0.5, 0.75}, []float64{5500, 10500, 15500})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f.Slope-20000) > 1e-6 || math.Abs(f.Intercept-500) > 1e-6 || math.Abs(f.R2-1) > 1e-12 || f.MaxResidualPct > 1e-9 {
		t.Errorf("exact line: %+v; want slope 20000, intercept 500, R² 1", f)
	}
	if !strings.Contains(f.Quality(), "linearly") {
		t.Errorf("quality of an exact line: %s", f.Quality())
	}
	// A bent one: the third point flat.
	f, err = FitLine([]float64{0.25, 0.5, 0.75}, []float64{8000, 16000, 16500})
	if err != nil {
		t.Fatal(err)
	}
	if f.R2 >= 0.95 || f.Slope <= 0 {
		t.Errorf("bent points: %+v; want 0 < slope and R² < 0.95", f)
	}
	// Two points: R² says nothing, and the quality says so.
	f, _ = FitLine([]float64{0.5, 1}, []float64{10, 30})
	if f.Slope != 40 || !strings.Contains(f.Quality(), "two points") {
		t.Errorf("two points: %+v %s", f, f.Quality())
	}
	if _, err := FitLine([]float64{1, 1}, []float64{10, 12}); err == nil {
		t.Error("one distinct vCPU count: no error")
	}
}

func TestProbeLeavesOutShapesThatDidNotBind(t *testing.T) {
	t.Parallel()
	spec := ProbeSpec{Kind: ProbeQuery, Label: "lookups"}
	pts := []MeasurePoint{
		{Shape: "0.75cpu", CPUs: 0.75, Throughput: 16500}, // no more than 0.5's: the client was the limit
		{Shape: "0.25cpu", CPUs: 0.25, Throughput: 8000},
		{Shape: "0.5cpu", CPUs: 0.5, Throughput: 16000},
	}
	p := NewProbe(spec, pts)
	if !p.Usable || p.Fit.N != 2 || math.Abs(p.PerVCPU-32000) > 1e-6 {
		t.Fatalf("probe: usable %v, %d points, %g/s per vCPU; want the 0.25 and 0.5 points, 32000/s per vCPU", p.Usable, p.Fit.N, p.PerVCPU)
	}
	if p.Points[2].Unbound == "" || p.Points[0].Unbound != "" || !strings.Contains(p.Text, "leaves out 0.75cpu") {
		t.Errorf("the 0.75 point should be left out and said so: %+v\n%s", p.Points, p.Text)
	}
	if math.Abs(p.CPUPerOpS-1.0/32000) > 1e-12 {
		t.Errorf("CPU per op %g, want 1/32000", p.CPUPerOpS)
	}

	// Throughput falling with CPU: no figure for the model.
	p = NewProbe(spec, []MeasurePoint{{Shape: "a", CPUs: 0.5, Throughput: 900}, {Shape: "b", CPUs: 1, Throughput: 850}})
	if p.Usable || !strings.Contains(p.Text, "not used") {
		t.Errorf("falling throughput: usable %v, %s", p.Usable, p.Text)
	}
}

func TestApplyMeasurementReplacesTheCPUAndMemoryFigures(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	w := resolve(t, cat, `
requests: {peak_rate: 800, hold_time: 250ms, db_time: 5ms, cpu_time: 250us, connects_per_request: 0.5}
extra_connections: 0
`)
	probes := ProbesFor(w)
	if len(probes) != 2 || probes[0].Kind != ProbeQuery || probes[1].Kind != ProbeConnect {
		t.Fatalf("probes for a workload that connects: %+v", probes)
	}
	query := NewProbe(probes[0], []MeasurePoint{{CPUs: 0.25, Throughput: 5000}, {CPUs: 0.5, Throughput: 10000}}) // 50 µs
	connect := NewProbe(probes[1], []MeasurePoint{{CPUs: 0.25, Throughput: 50}, {CPUs: 0.5, Throughput: 100}})   // 5 ms per connect-and-lookup
	w.ApplyMeasurement(&Measurement{Probes: []Probe{query, connect}, Memory: &BackendMemory{MiB: 1.25, Backends: 40, Shape: "0.25cpu-1gb"}})

	if math.Abs(w.CPUTimeS.Value-50e-6) > 1e-12 || !strings.HasPrefix(w.CPUTimeS.Source, "measured") {
		t.Errorf("CPU per request %v, want 50 µs measured", w.CPUTimeS)
	}
	// 200 connect-and-lookups/s per vCPU is 5 ms each; less the lookup's 50 µs.
	if math.Abs(w.ConnectCPUS.Value-(0.005-50e-6)) > 1e-12 {
		t.Errorf("connect CPU %v, want 4.95 ms", w.ConnectCPUS)
	}
	if w.PerConnectionMiB.Value != 1.25 || !strings.Contains(w.PerConnectionMiB.Source, "40 idle backends") {
		t.Errorf("memory per connection %v", w.PerConnectionMiB)
	}
	if !strings.Contains(strings.Join(w.Warnings, "\n"), "replaced the spec's requests.cpu_time (250 µs)") {
		t.Errorf("the replaced figure is not named: %q", w.Warnings)
	}
	d := NewDemand(w, ModeDirect)
	want := 800 * (50e-6 + 0.5*(0.005-50e-6))
	if math.Abs(d.VCPU-want) > 1e-9 {
		t.Errorf("vCPU %g, want %g", d.VCPU, want)
	}
	// The measurement is in the report.
	r := Size(w, cat)
	var b strings.Builder
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Measured on container shapes (--measure)", "20000/s per vCPU", "1.25 MiB"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("Markdown lacks %q", s)
		}
	}
}

// A workload file's transactions stand for a request: the workload probe replaces select-only's
// lookups (kept only for a connect probe to subtract), sets the CPU per request, and the report
// names the workload.
func TestMeasureWithAWorkloadFile(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	w := resolve(t, cat, `
requests: {peak_rate: 800, hold_time: 250ms, db_time: 5ms, cpu_time: 250us}
extra_connections: 0
`)
	probes := WithWorkload(ProbesFor(w), "bench/orders.yaml", "orders")
	if len(probes) != 1 || probes[0].Kind != ProbeWorkload || probes[0].Workload != "bench/orders.yaml" || probes[0].Scenario != "script" {
		t.Fatalf("probes %+v: want the workload's alone", probes)
	}
	withConnects := WithWorkload([]ProbeSpec{{Kind: ProbeQuery}, {Kind: ProbeConnect}}, "w.yaml", "w")
	if len(withConnects) != 3 || withConnects[1].Kind != ProbeQuery {
		t.Errorf("with a connect probe the lookups stay: %+v", withConnects)
	}
	wl := NewProbe(probes[0], []MeasurePoint{{CPUs: 0.25, Throughput: 500}, {CPUs: 0.5, Throughput: 1000}}) // 500 µs
	w.ApplyMeasurement(&Measurement{Probes: []Probe{wl}})
	if math.Abs(w.CPUTimeS.Value-500e-6) > 1e-12 || !strings.Contains(w.CPUTimeS.Source, "workload orders (bench/orders.yaml)") {
		t.Errorf("CPU per request %v: want 500 µs from the workload", w.CPUTimeS)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, Size(w, cat)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "workload orders (bench/orders.yaml), closed loop") {
		t.Errorf("the report does not name the workload:\n%s", b.String())
	}
}
