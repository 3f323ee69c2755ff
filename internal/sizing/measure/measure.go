// Package measure carries out `pgscale size --measure`: it runs the probes a workload needs
// (sizing.ProbesFor) on docker containers of several shapes through the runner, fits each
// probe's throughput against the shapes' vCPU (sizing.NewProbe), and reads the private memory of
// idle backends in a container. The sizing model then takes its CPU and memory figures from
// the measurement (Workload.ApplyMeasurement).
//
// The load generator runs on the same host as the containers and needs about one core itself:
// a shape binds only when it has fewer CPUs than the host has cores left over, so on a 2-core
// host the shapes stay well below 1 CPU (the defaults: 0.25, 0.5, 0.75).
package measure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/sizing"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/workload"
	"github.com/pgscale/pgscale/result"

	// The probes run select-only and queue: register every scenario.
	_ "github.com/pgscale/pgscale/internal/scenarios/all"
)

// Defaults of a measurement; each says how it was chosen.
const (
	// DefaultShapes: three CPU limits below one core, so that on a 2-core host, where the load
	// generator takes about one core, the shapes bind; three points let R² test linearity. On
	// the 2-core host, shared with other work, select-only reached ~8,000/s at 0.25 CPU and
	// ~17,000/s at 0.5, and no more at 0.75 or 1 CPU: the client was then the limit.
	DefaultShapes = "0.25cpu-1gb,0.5cpu-1gb,0.75cpu-1gb"
	// DefaultDuration and DefaultWarmup: select-only's --quick point is 5 s + 1 s; 3 s + 1 s keep
	// a measurement of three shapes, two rounds and two probes near a minute and a half, and
	// give tens of thousands of lookups per point.
	DefaultDuration = 3 * time.Second
	DefaultWarmup   = time.Second
	// DefaultRounds: shapes run in rounds (A B C A B C) and each keeps its best round, because
	// other work on a shared host only ever lowers a throughput.
	DefaultRounds = 2
	// DefaultBackends: idle connections whose private memory is read; 40 give a mean to a few
	// percent (backends differ by a few kB) in well under a second.
	DefaultBackends = 40
)

// Options configure a measurement.
type Options struct {
	Shapes   []string // at least two, with different CPU limits
	Image    string   // "": $PGSCALE_IMAGE or the docker target's default
	Duration time.Duration
	Warmup   time.Duration
	Rounds   int
	Backends int    // idle connections for the memory reading; 0: no memory reading
	Dir      string // where the runs' result files go
	Log      io.Writer
	Tracker  *harness.Tracker
}

// plan is a validated measurement: the shapes and a prepared run per round, shape and probe group.
type plan struct {
	opts   Options
	shapes []harness.Shape
	groups []group
	runs   [][][]runJob // [round][shape][group]
	warn   []string
}

// group is probes that one run measures (select-only's pooled and per-op points run together).
type group struct {
	scenario string
	sets     map[string]string
	workload string // a workload file (ProbeWorkload)
	probes   []sizing.ProbeSpec
}

type runJob struct {
	prep interface {
		Run(ctx context.Context) (*result.Result, error)
		OutDir() string
	}
}

// Prepare checks the options and prepares every run, so that bad input is reported before
// anything starts: a shape that is not one (one line, exit 2), fewer than two CPU limits, a
// probe's parameters.
func Prepare(o Options, probes []sizing.ProbeSpec, now time.Time) (*plan, error) {
	var errs []error
	p := &plan{opts: o}
	cpus := map[float64]string{}
	for _, name := range o.Shapes {
		s, err := harness.ParseShape(name)
		if err != nil {
			errs = append(errs, usage.Errorf("%s", strings.Replace(err.Error(), "--shape ", "--shapes ", 1)))
			continue
		}
		if prev, ok := cpus[s.CPUs]; ok {
			errs = append(errs, usage.Fieldf("shapes", ": %s and %s both have %g CPUs; the fit needs shapes with different CPU limits", prev, name, s.CPUs))
			continue
		}
		cpus[s.CPUs] = name
		p.shapes = append(p.shapes, s)
	}
	if len(errs) == 0 && len(p.shapes) < 2 {
		errs = append(errs, usage.Fieldf("shapes", "%s: give at least two shapes with different CPU limits (e.g. %s) to fit throughput against vCPU",
			strings.Join(o.Shapes, ","), DefaultShapes))
	}
	if o.Rounds < 1 {
		errs = append(errs, usage.Fieldf("measure-rounds", "%d: must be at least 1", o.Rounds))
	}
	if o.Duration <= 0 {
		errs = append(errs, usage.Fieldf("measure-duration", "%s: must be more than 0", o.Duration))
	}
	if o.Backends < 0 {
		errs = append(errs, usage.Fieldf("measure-backends", "%d: must be 0 (no memory reading) or more", o.Backends))
	}
	if len(errs) > 0 {
		return nil, usage.Join(errs)
	}
	sort.SliceStable(p.shapes, func(i, j int) bool { return p.shapes[i].CPUs < p.shapes[j].CPUs })
	cores := runtime.NumCPU()
	for _, s := range p.shapes {
		if s.CPUs > float64(cores)-1 {
			p.warn = append(p.warn, fmt.Sprintf("shape %s has %g CPUs, but the load generator needs about one of this host's %d cores: "+
				"the limit may not bind, and the fit then understates what a vCPU carries", s.Name, s.CPUs, cores))
		}
	}
	for _, pr := range probes {
		i := slices.IndexFunc(p.groups, func(g group) bool {
			return g.scenario == pr.Scenario && maps.Equal(g.sets, pr.Sets) && g.workload == pr.Workload
		})
		if i < 0 {
			p.groups = append(p.groups, group{scenario: pr.Scenario, sets: pr.Sets, workload: pr.Workload})
			i = len(p.groups) - 1
		}
		p.groups[i].probes = append(p.groups[i].probes, pr)
	}
	for r := 1; r <= o.Rounds; r++ {
		var byShape [][]runJob
		for _, s := range p.shapes {
			var jobs []runJob
			for _, g := range p.groups {
				ro := runner.Options{
					Scenario: g.scenario, Sets: maps.Clone(g.sets), Target: harness.KindDocker, Image: o.Image, Shape: s.Name,
					Duration: o.Duration, Warmup: o.Warmup, Repeat: 1, NoReport: true, Log: o.Log, Tracker: o.Tracker,
					Out:   filepath.Join(o.Dir, fmt.Sprintf("round-%d", r), s.Name, g.scenario),
					Force: true, // the measurement's own directory: measuring again replaces it
					RunID: runID(now, r, s.CPUs, g.scenario),
				}
				if g.workload != "" {
					var err error
					if ro, err = workloadOptions(g.workload, ro); err != nil {
						return nil, err
					}
				}
				prep, err := runner.Prepare(ro, now)
				if err != nil {
					return nil, err
				}
				jobs = append(jobs, runJob{prep: prep})
			}
			byShape = append(byShape, jobs)
		}
		p.runs = append(p.runs, byShape)
	}
	return p, nil
}

// workloadOptions runs a workload file as a probe: its scripts, setup and connection mode, in a
// closed loop at its workers for the probe's duration (its rate or stages would cap the
// throughput the fit needs).
func workloadOptions(path string, base runner.Options) (runner.Options, error) {
	f, err := workload.Load(path)
	if err != nil {
		return base, err
	}
	ro, err := f.RunOptions(runner.Options{Warmup: -1}, time.Time{})
	if err != nil {
		return base, err
	}
	base.Scenario, base.Instance, base.Params = ro.Scenario, ro.Instance, ro.Params
	delete(base.Params, "stages")
	base.Workers = ro.Workers
	return base, nil
}

// Shapes are the plan's shapes, by CPU limit.
func (p *plan) Shapes() []harness.Shape { return p.shapes }

// Run carries out the plan: every round, shape and probe group through the runner, then the
// memory reading. A run that fails ends the measurement with its error; the runs before it
// keep their result files.
func (p *plan) Run(ctx context.Context) (*sizing.Measurement, error) {
	o := p.opts
	m := &sizing.Measurement{Duration: o.Duration.String(), Rounds: o.Rounds, Dir: o.Dir, Warnings: p.warn}
	m.Image = o.Image
	h := runner.HostInfo()
	m.Host = fmt.Sprintf("%s, %d cores", h.CPUModel, h.Cores)
	// points[group][probe][shape]
	points := make([][][]sizing.MeasurePoint, len(p.groups))
	for gi, g := range p.groups {
		points[gi] = make([][]sizing.MeasurePoint, len(g.probes))
		for pi := range g.probes {
			points[gi][pi] = make([]sizing.MeasurePoint, len(p.shapes))
			for si, s := range p.shapes {
				points[gi][pi][si] = sizing.MeasurePoint{Shape: s.Name, CPUs: s.CPUs, MemoryMiB: s.MemoryMB()}
			}
		}
	}
	for r, byShape := range p.runs {
		for si, jobs := range byShape {
			s := p.shapes[si]
			for gi, job := range jobs {
				g := p.groups[gi]
				p.logf("measure: %s on %s (%s), round %d of %d", g.scenario, s.Name, s, r+1, o.Rounds)
				res, err := job.prep.Run(ctx)
				if err != nil {
					return nil, fmt.Errorf("measure on %s: %w", s.Name, err)
				}
				if m.Image == "" {
					m.Image = res.Environment.TargetDetail["image"]
				}
				for pi, pr := range g.probes {
					series, ok := pick(res, pr)
					if !ok {
						return nil, fmt.Errorf("measure %s on %s: the result has no series %s %v", g.scenario, s.Name, pr.Variant, pr.Match)
					}
					pt := &points[gi][pi][si]
					pt.Rounds = append(pt.Rounds, series.ThroughputPerS)
					if series.ThroughputPerS > pt.Throughput {
						pt.Throughput, pt.P99Ms, pt.Errors = series.ThroughputPerS, series.LatencyMs.P99, report.TotalErrors(series)
						pt.Result = filepath.Join(job.prep.OutDir(), "result.json")
					}
					p.logf("measure:   %s: %.0f/s", pr.Label, series.ThroughputPerS)
				}
			}
		}
	}
	for gi, g := range p.groups {
		for pi, pr := range g.probes {
			probe := sizing.NewProbe(pr, points[gi][pi])
			for _, pt := range probe.Points {
				if pt.Errors > 0 {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s on %s had %d errors", pr.Label, pt.Shape, pt.Errors))
				}
			}
			m.Probes = append(m.Probes, probe)
		}
	}
	if o.Backends > 0 {
		mem, err := readBackendMemory(ctx, o, p.shapes[0], o.Backends)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			m.Warnings = append(m.Warnings, fmt.Sprintf("memory per backend not measured (%v); the model keeps its default", err))
		} else {
			m.Memory = mem
		}
	}
	return m, nil
}

// pick finds a probe's series in a result: its variant and the point values it matches.
func pick(res *result.Result, pr sizing.ProbeSpec) (result.Series, bool) {
	for _, s := range res.Series {
		if pr.Variant != "" && s.Variant != pr.Variant {
			continue
		}
		ok := true
		for k, v := range pr.Match {
			if fmt.Sprint(s.Point[k]) != v {
				ok = false
			}
		}
		if ok {
			return s, true
		}
	}
	return result.Series{}, false
}

func (p *plan) logf(format string, args ...any) {
	if p.opts.Log != nil {
		fmt.Fprintf(p.opts.Log, format+"\n", args...)
	}
}

// errNoBackends is a memory reading that found no backend to read.
var errNoBackends = errors.New("no idle backend found to read")

// runID names one probe's run: time, round and shape first, so that cutting it to the 40
// characters a run ID may have shortens only the scenario's name.
func runID(now time.Time, round int, cpus float64, scenario string) string {
	id := fmt.Sprintf("%s-size-r%d-%gcpu-%s", now.UTC().Format("20060102T150405Z"), round, cpus, abbrev(scenario))
	return strings.TrimRight(id[:min(len(id), 40)], "-.")
}

// abbrev shortens a scenario's name for a run ID (at most 40 characters in all).
func abbrev(scenario string) string {
	if len(scenario) > 6 {
		return scenario[:6]
	}
	return scenario
}
