package sizing

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"
)

// What a probe's operation stands for in the model.
const (
	// ProbeQuery: one operation is one request's query (select-only over a pool).
	ProbeQuery = "query"
	// ProbeConnect: one operation is a connect plus a query (select-only, a connection per
	// lookup); less a ProbeQuery's cost, it is the CPU of one connect.
	ProbeConnect = "connect"
	// ProbeJob: one operation is one queue job (queue, dedicated variant).
	ProbeJob = "job"
	// ProbeWorkload: one operation is one transaction of the user's workload file (run by the
	// script scenario in a closed loop); it stands for one request's database work.
	ProbeWorkload = "workload"
)

// ProbeSpec is a scenario run on every shape to measure one figure of the CPU model.
type ProbeSpec struct {
	Kind     string            `json:"kind"`
	Scenario string            `json:"scenario"`
	Variant  string            `json:"variant"`
	Sets     map[string]string `json:"sets"`
	// Match picks the probe's series from a result: its point values (e.g. connect=pool).
	Match map[string]string `json:"match,omitempty"`
	Label string            `json:"label"`
	// Workload is the workload file a ProbeWorkload runs.
	Workload string `json:"workload,omitempty"`
}

// WithWorkload makes probes measure a request as one transaction of the workload file at path
// (named name): the workload probe replaces select-only's pooled lookups, which stay only when
// a connect probe needs them to subtract a lookup's cost.
func WithWorkload(probes []ProbeSpec, path, name string) []ProbeSpec {
	var out []ProbeSpec
	connects := false
	for _, p := range probes {
		connects = connects || p.Kind == ProbeConnect
	}
	for _, p := range probes {
		if p.Kind == ProbeQuery && !connects {
			continue
		}
		out = append(out, p)
	}
	return append([]ProbeSpec{{Kind: ProbeWorkload, Scenario: "script", Workload: path,
		Label: fmt.Sprintf("workload %s (%s), closed loop", name, path)}}, out...)
}

// ProbesFor lists the probes a workload needs: select-only over a pool always (CPU per
// request); select-only with a connection per lookup when requests connect (CPU per connect);
// the queue's dedicated variant when the workload has jobs (CPU per job).
func ProbesFor(w *Workload) []ProbeSpec {
	connect := "pool"
	if w.ConnectsPerRequest.Value > 0 {
		connect = "pool,per-op"
	}
	probes := []ProbeSpec{{
		Kind: ProbeQuery, Scenario: "select-only", Variant: "prepared",
		Sets:  map[string]string{"variants": "prepared", "connect": connect, "scale": "1"},
		Match: map[string]string{"connect": "pool"}, Label: "select-only prepared, pooled connections",
	}}
	if w.ConnectsPerRequest.Value > 0 {
		probes = append(probes, ProbeSpec{
			Kind: ProbeConnect, Scenario: "select-only", Variant: "prepared",
			Sets:  probes[0].Sets,
			Match: map[string]string{"connect": "per-op"}, Label: "select-only prepared, a connection per lookup",
		})
	}
	if w.JobRate > 0 {
		// A short burn-down of a small backlog on the dedicated queue table: 20,000 jobs outlast
		// a few seconds at the ~7,000 jobs/s the fastest variant reached on 2 cores.
		probes = append(probes, ProbeSpec{
			Kind: ProbeJob, Scenario: "queue", Variant: "dedicated",
			Sets:  map[string]string{"variants": "dedicated", "workers": "8", "backlog": "20000", "history": "1000"},
			Label: "queue dedicated, 8 workers, burn-down",
		})
	}
	return probes
}

// MeasurePoint is one probe's throughput on one shape.
type MeasurePoint struct {
	Shape     string  `json:"shape"`
	CPUs      float64 `json:"cpus"`
	MemoryMiB int64   `json:"memory_mib"`
	// Throughput is the best of the rounds (interference from other work on the host only
	// lowers a throughput); Rounds are every round's.
	Throughput float64   `json:"throughput_per_s"`
	Rounds     []float64 `json:"rounds_per_s"`
	P99Ms      float64   `json:"p99_ms"`
	Errors     int64     `json:"errors"`
	Result     string    `json:"result"`
	// Unbound says why the point is left out of the fit: more CPU gave no more throughput, so
	// the shape was not what limited it.
	Unbound string `json:"unbound,omitempty"`
}

// boundGain is the least gain in throughput over the next smaller shape for a point to count as
// bound by its shape: 10%, beyond the run-to-run noise of a few percent seen on a quiet host,
// far below the 50% or more that a shape with 1.5× the CPU gives when it binds.
const boundGain = 1.10

// Fit is a least-squares line y = Intercept + Slope·x through a probe's points (x: vCPU, y:
// operations per second).
type Fit struct {
	Intercept float64 `json:"intercept_per_s"`
	Slope     float64 `json:"slope_per_s_per_vcpu"`
	// R2 is the coefficient of determination; with two points the line passes through both and
	// R2 is 1 whatever they are.
	R2 float64 `json:"r2"`
	N  int     `json:"points"`
	// MaxResidualPct is the largest distance of a point from the line, in % of the point.
	MaxResidualPct float64 `json:"max_residual_pct"`
}

// FitLine fits y = a + b·x by least squares. It needs at least two distinct x.
func FitLine(xs, ys []float64) (Fit, error) {
	if len(xs) != len(ys) {
		return Fit{}, errors.New("fit: xs and ys differ in length")
	}
	distinct := map[float64]bool{}
	for _, x := range xs {
		distinct[x] = true
	}
	if len(distinct) < 2 {
		return Fit{}, fmt.Errorf("fit: %d distinct vCPU counts; a line needs at least 2", len(distinct))
	}
	a, b := stat.LinearRegression(xs, ys, nil, false)
	f := Fit{Intercept: a, Slope: b, R2: stat.RSquared(xs, ys, nil, a, b), N: len(xs)}
	for i := range xs {
		if ys[i] != 0 {
			f.MaxResidualPct = math.Max(f.MaxResidualPct, math.Abs(ys[i]-(a+b*xs[i]))/math.Abs(ys[i])*100)
		}
	}
	return f, nil
}

// Quality says in words how far the fit can be trusted.
func (f Fit) Quality() string {
	switch {
	case f.N == 2:
		return "two points: the line passes through both, so R² says nothing; add a shape to test linearity"
	case f.R2 >= 0.95:
		return fmt.Sprintf("R² %.3f over %d points: throughput grows linearly with vCPU", f.R2, f.N)
	case f.R2 >= 0.8:
		return fmt.Sprintf("R² %.3f over %d points: roughly linear (a point is %.0f%% off the line)", f.R2, f.N, f.MaxResidualPct)
	default:
		return fmt.Sprintf("R² %.3f over %d points: NOT linear (a point is %.0f%% off the line); the shapes may not bind, "+
			"or other work on the host interfered", f.R2, f.N, f.MaxResidualPct)
	}
}

// Probe is a probe's points and fit.
type Probe struct {
	ProbeSpec
	Points []MeasurePoint `json:"points"`
	Fit    Fit            `json:"fit"`
	// PerVCPU is the fit's slope: operations per second that one more vCPU carries.
	PerVCPU float64 `json:"per_vcpu_per_s"`
	// CPUPerOpS is 1 / PerVCPU: vCPU-seconds per operation.
	CPUPerOpS float64 `json:"cpu_per_op_s"`
	// Usable: the slope is positive, the figure can enter the model.
	Usable bool   `json:"usable"`
	Text   string `json:"text"`
}

// NewProbe fits a probe's points.
func NewProbe(spec ProbeSpec, points []MeasurePoint) Probe {
	p := Probe{ProbeSpec: spec, Points: points}
	sort.SliceStable(p.Points, func(i, j int) bool { return p.Points[i].CPUs < p.Points[j].CPUs })
	var parts []string
	var fx, fy []float64
	var left []string
	prev := -1
	for i := range p.Points {
		pt := &p.Points[i]
		part := fmt.Sprintf("%s/s on %s vCPU", num(pt.Throughput), num(pt.CPUs))
		if prev >= 0 && pt.Throughput < p.Points[prev].Throughput*boundGain {
			pt.Unbound = fmt.Sprintf("%s/s is less than %.0f%% more than %s's %s/s: the shape did not limit it",
				num(pt.Throughput), (boundGain-1)*100, p.Points[prev].Shape, num(p.Points[prev].Throughput))
			left = append(left, pt.Shape)
			part += " (not bound, left out)"
		} else {
			fx, fy = append(fx, pt.CPUs), append(fy, pt.Throughput)
			prev = i
		}
		parts = append(parts, part)
	}
	if len(fx) < 2 {
		// Too few bound points: fit them all and let the quality say so.
		fx, fy, left = nil, nil, nil
		for i := range p.Points {
			p.Points[i].Unbound = ""
			fx, fy = append(fx, p.Points[i].CPUs), append(fy, p.Points[i].Throughput)
		}
	}
	fit, err := FitLine(fx, fy)
	if err != nil {
		p.Text = fmt.Sprintf("%s: %s; %v", spec.Label, strings.Join(parts, ", "), err)
		return p
	}
	p.Fit = fit
	p.PerVCPU = fit.Slope
	if fit.Slope <= 0 {
		p.Text = fmt.Sprintf("%s: %s; throughput does not grow with vCPU (slope %s/s per vCPU): the shapes did not bind "+
			"(the load generator, or other work on the host, was the limit), so the figure is not used",
			spec.Label, strings.Join(parts, ", "), num(fit.Slope))
		return p
	}
	p.Usable = true
	p.CPUPerOpS = 1 / fit.Slope
	if len(left) > 0 {
		parts = append(parts, fmt.Sprintf("the fit leaves out %s, where more CPU gave under %.0f%% more throughput",
			strings.Join(left, ", "), (boundGain-1)*100))
	}
	p.Text = fmt.Sprintf("%s: %s; least squares: %s/s per vCPU %s %s/s (%s), so %s of CPU per operation",
		spec.Label, strings.Join(parts, ", "), num(fit.Slope), sign(fit.Intercept), num(math.Abs(fit.Intercept)),
		fit.Quality(), dur(p.CPUPerOpS))
	return p
}

func sign(x float64) string {
	if x < 0 {
		return "−"
	}
	return "+"
}

// BackendMemory is the private memory of idle backends, read in a container.
type BackendMemory struct {
	MiB      float64 `json:"mib"`
	Backends int     `json:"backends"`
	Shape    string  `json:"shape"`
	Method   string  `json:"method"`
}

// Measurement is what `pgscale size --measure` measured on container shapes.
type Measurement struct {
	Image    string         `json:"image"`
	Host     string         `json:"host"`
	Duration string         `json:"duration"`
	Rounds   int            `json:"rounds"`
	Dir      string         `json:"results_dir"`
	Probes   []Probe        `json:"probes"`
	Memory   *BackendMemory `json:"backend_memory,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Probe returns the usable probe of the given kind, or nil.
func (m *Measurement) Probe(kind string) *Probe {
	for i := range m.Probes {
		if m.Probes[i].Kind == kind && m.Probes[i].Usable {
			return &m.Probes[i]
		}
	}
	return nil
}

// ApplyMeasurement puts measured figures into the workload's CPU and memory model. A measured
// figure replaces the spec's (the user asked to measure), and the replaced value is named in a
// warning. Probes whose fit is unusable leave the spec's figure and say so.
func (w *Workload) ApplyMeasurement(m *Measurement) {
	w.Measurement = m
	replaced := func(what string, old Quantity, unit func(float64) string) {
		if strings.HasPrefix(old.Source, "given") {
			w.Warnings = append(w.Warnings, fmt.Sprintf("--measure replaced the spec's %s (%s)", what, unit(old.Value)))
		}
	}
	for _, p := range m.Probes {
		if !p.Usable {
			w.Warnings = append(w.Warnings, p.Text)
		}
	}
	q := m.Probe(ProbeQuery)
	if wl := m.Probe(ProbeWorkload); wl != nil {
		replaced("requests.cpu_time", w.CPUTimeS, dur)
		w.CPUTimeS = Quantity{wl.CPUPerOpS, fmt.Sprintf("measured: 1 / %s transactions/s per vCPU (%s, fit over %d shapes): "+
			"a request is one transaction of its mix", num(wl.PerVCPU), wl.Label, wl.Fit.N)}
	} else if q != nil {
		replaced("requests.cpu_time", w.CPUTimeS, dur)
		w.CPUTimeS = Quantity{q.CPUPerOpS, fmt.Sprintf("measured: 1 / %s lookups/s per vCPU (%s, fit over %d shapes); "+
			"a request that does more than a key lookup costs more", num(q.PerVCPU), q.Label, q.Fit.N)}
	}
	if c := m.Probe(ProbeConnect); c != nil && q != nil {
		connect := c.CPUPerOpS - q.CPUPerOpS
		if connect > 0 {
			replaced("requests.connect_cpu", w.ConnectCPUS, dur)
			w.ConnectCPUS = Quantity{connect, fmt.Sprintf("measured: 1 / %s connects/s per vCPU less a lookup's %s (%s)",
				num(c.PerVCPU), dur(q.CPUPerOpS), c.Label)}
		} else {
			w.Warnings = append(w.Warnings, "--measure: a connect per lookup cost no more CPU than a pooled lookup; connect_cpu keeps "+w.ConnectCPUS.Source)
		}
	}
	if j := m.Probe(ProbeJob); j != nil {
		replaced("queue.job_cpu_time", w.JobCPUS, dur)
		w.JobCPUS = Quantity{j.CPUPerOpS, fmt.Sprintf("measured: 1 / %s jobs/s per vCPU (%s)", num(j.PerVCPU), j.Label)}
	}
	if b := m.Memory; b != nil && b.MiB > 0 {
		replaced("memory.per_connection", w.PerConnectionMiB, func(x float64) string { return num(x) + " MiB" })
		w.PerConnectionMiB = Quantity{b.MiB, fmt.Sprintf("measured: private memory of %d idle backends on %s (%s)", b.Backends, b.Shape, b.Method)}
	}
}
