package runner

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

// The plan before a run: its points in the order they run, what each takes, and the total.
// Every estimate is a sum of the points' run lengths (warm-up + duration) and of costs measured
// on a shared 2-core host (local target, PostgreSQL 15), where they were calibrated against
// real --quick runs of six scenarios (a scenario that loads tables says its own costs through
// scenarios.Estimator):
const (
	// startLocal, startDocker and startDSN: from asking for a target to its first query, and
	// closing it after (a docker target also waits for its container, not calibrated here; a
	// dsn target creates and drops its schema). Local: 0.7 to 2.5 s measured.
	startLocal  = 2 * time.Second
	startDocker = 5 * time.Second
	startDSN    = time.Second
	// setupDefault is a scenario's setup when it gives no estimate: 0.07 to 0.3 s measured.
	setupDefault = 500 * time.Millisecond
	// pointOverhead is what a point takes beyond its run length when the scenario gives no
	// estimate: the sampler's first reads, the workers' connections, the figures after
	// (0.1 to 0.7 s measured).
	pointOverhead = 400 * time.Millisecond
	// reportBase and reportPerSeries: writing result.json, report.md, report.html and the
	// plots after the last point (0.6 s for 4 series to 7 s for 6 series with a sweep),
	// counted for at most reportSeriesCap series (the timeline figures are capped).
	reportBase      = 500 * time.Millisecond
	reportPerSeries = 600 * time.Millisecond
	reportSeriesCap = 16
	// capacityProbes is the probes a capacity search is planned for: a ramp from 100/s that
	// breaks near 20,000/s, the probe that breaks twice, and the bisection (at most 24).
	capacityProbes = 14
	// connsOverhead is the connections pgscale opens beside the workers': setup and sampler.
	connsOverhead = 2
)

// Plan is what a prepared run will do, and about how long it takes.
type Plan struct {
	Scenario string
	Preset   string
	Target   string
	// Duration and Warmup are each point's run length (each probe's, for a capacity search).
	Duration, Warmup time.Duration
	Repeat           int
	Points           []PlannedPoint
	// Targets is how many servers start (one per set of server settings and latency); each
	// costs TargetStart and Setup.
	Targets            int
	TargetStart, Setup time.Duration
	// Report is the time to write the report after the last point (0 with --no-report).
	Report time.Duration
	Total  time.Duration
	// PeakConnections is the most connections one point opens: its workers plus pgscale's own.
	PeakConnections int
	// Capacity: the points are the search's probes, planned at capacityProbes (at most
	// capacityMaxProbes).
	Capacity bool
}

// PlannedPoint is one point (one repeat) of a plan.
type PlannedPoint struct {
	Variant  string
	Values   map[string]any
	Settings map[string]string // the server settings of its target
	Latency  time.Duration
	Repeat   int
	Workers  int
	// NewTarget: a server starts (and the scenario sets up) before this point.
	NewTarget bool
	// Start is when it begins, from the start of the run; Time is how long it takes.
	Start, Time time.Duration
}

// Plan is the plan of a prepared run, on the target it asks for.
func (p *prepared) Plan() *Plan { return p.planOn(p.opts.Target) }

// planOn is the plan of the run on a target of kind.
func (p *prepared) planOn(kind string) *Plan {
	doc := p.doc
	pl := &Plan{Scenario: doc.Name, Preset: p.preset, Target: kind, Duration: p.duration, Warmup: p.warmup,
		Repeat: p.opts.Repeat, Capacity: p.opts.Capacity}
	pl.TargetStart = targetStart(kind)
	pl.Setup = setupDefault
	est, hasEstimate := p.scenario.(scenarios.Estimator)
	if hasEstimate {
		pl.Setup = est.SetupTime(p.params)
	}
	if p.opts.SkipSetup {
		pl.Setup = 0
	}
	run := p.duration + p.warmup
	repeats := p.opts.Repeat
	if p.opts.Capacity {
		d, w := p.capacityProbeLength()
		pl.Duration, pl.Warmup, run, repeats = d, w, d+w, capacityProbes
	}
	var at time.Duration
	groups := p.groups()
	dsn := p.opts.Target == harness.KindDSN
	if dsn {
		// A server pgscale did not start keeps its settings: one "server", every point on it,
		// as runGroups runs them.
		groups = mergeSettings(groups)
	}
	for _, g := range groups {
		if dsn {
			g.settings = nil
		}
		pl.Targets++
		at += pl.TargetStart + pl.Setup
		for r := 1; r <= repeats; r++ {
			for i, pt := range g.points {
				took := run + pointOverhead
				if hasEstimate {
					took += est.PointExtra(p.params, pt)
				}
				pl.Points = append(pl.Points, PlannedPoint{Variant: pt.Variant, Values: pt.Values, Settings: maps.Clone(g.settings),
					Latency: g.latency, Repeat: r, Workers: pt.Workers, NewTarget: r == 1 && i == 0, Start: at, Time: took})
				at += took
				pl.PeakConnections = max(pl.PeakConnections, peakConnections(pt.Workers, g.settings))
			}
		}
	}
	if !p.opts.NoReport {
		pl.Report = reportBase + time.Duration(min(len(pl.Points), reportSeriesCap))*reportPerSeries
	}
	pl.Total = at + pl.Report
	return pl
}

// peakConnections is what a point of workers opens on a server with settings: its workers and
// pgscale's own, at most the server's max_connections (the rest are refused).
func peakConnections(workers int, settings map[string]string) int {
	peak := workers + connsOverhead
	if limit, err := strconv.Atoi(settings["max_connections"]); err == nil && limit > 0 {
		peak = min(peak, limit)
	}
	return peak
}

// presetOf is the preset opts ask for: --preset, else quick with --quick, else default.
func presetOf(opts Options) (string, error) {
	switch {
	case opts.Preset == "" && opts.Quick:
		return scenarios.PresetQuick, nil
	case opts.Preset == "":
		return scenarios.PresetDefault, nil
	}
	if err := scenarios.CheckPreset(opts.Preset); err != nil {
		return scenarios.PresetDefault, err
	}
	if opts.Quick && opts.Preset != scenarios.PresetQuick {
		return scenarios.PresetDefault, usage.Fieldf("quick", "with --preset %s: --quick is --preset quick; give one of them", opts.Preset)
	}
	return opts.Preset, nil
}

// targetStart is the time a target of kind takes to start and close.
func targetStart(kind string) time.Duration {
	switch kind {
	case harness.KindLocal:
		return startLocal
	case harness.KindDSN:
		return startDSN
	}
	return startDocker // docker, and auto: docker where an engine answers
}

// Line is the plan in one line, printed before a run starts.
func (pl *Plan) Line() string {
	var b strings.Builder
	n := len(pl.Points)
	what := fmt.Sprintf("%d %s", n, plural(n, "point", "points"))
	if pl.Capacity {
		what = fmt.Sprintf("capacity search of about %d probes (at most %d)", capacityProbes, capacityMaxProbes)
	}
	if pl.Duration+pl.Warmup > 0 {
		fmt.Fprintf(&b, "plan: %s of %s + %s warm-up", what, ShortDuration(pl.Duration), ShortDuration(pl.Warmup))
	} else {
		fmt.Fprintf(&b, "plan: %s (each as long as its work takes)", what)
	}
	if pl.Repeat > 1 && !pl.Capacity {
		fmt.Fprintf(&b, " (%d repeats)", pl.Repeat)
	}
	fmt.Fprintf(&b, ", setup ~%s", ShortDuration(time.Duration(pl.Targets)*(pl.TargetStart+pl.Setup)))
	if pl.Targets > 1 {
		fmt.Fprintf(&b, " (%d servers)", pl.Targets)
	}
	fmt.Fprintf(&b, ", total ~%s, peak %d connections", ShortDuration(pl.Total), pl.PeakConnections)
	return b.String()
}

// Write prints the whole plan: every point with its values, the server settings it needs, its
// time and when it is done, then the total.
func (pl *Plan) Write(w io.Writer) {
	fmt.Fprintf(w, "%s (preset %s, target %s)\n\n", pl.Line(), pl.Preset, pl.Target)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tvariant\tpoint\tserver settings\ttime\tdone by")
	for i, pt := range pl.Points {
		settings := "(same server)"
		if pt.NewTarget {
			settings = formatSettings(pt.Settings, pt.Latency)
		}
		point := formatValues(pt.Values)
		if pl.Repeat > 1 {
			point += fmt.Sprintf(" #%d", pt.Repeat)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", i+1, pt.Variant, point, settings,
			ShortDuration(pt.Time), ShortDuration(pt.Start+pt.Time))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEach new server: ~%s to start and ~%s of setup; the report after: ~%s. Total ~%s; nothing was started (--dry-run).\n",
		ShortDuration(pl.TargetStart), ShortDuration(pl.Setup), ShortDuration(pl.Report), ShortDuration(pl.Total))
	if pl.Capacity {
		fmt.Fprintf(w, "A capacity search runs as many probes as it needs (planned: %d, at most %d); the points above are its first probe's.\n",
			capacityProbes, capacityMaxProbes)
	}
}

// Summary is the plan's cost in a few words, for describe: "20 points, ~5m10s, peak 502 connections".
func (pl *Plan) Summary() string {
	n := len(pl.Points)
	return fmt.Sprintf("%d %s, ~%s, peak %d connections", n, plural(n, "point", "points"), ShortDuration(pl.Total), pl.PeakConnections)
}

// Remaining is the time left when point i (0-based) begins, scaled by how the run has kept to
// the plan so far: elapsed is the time since the run started. Early on, and when the run is
// far off the plan, the scale is held between 0.5 and 3.
func (pl *Plan) Remaining(i int, elapsed time.Duration) time.Duration {
	if i >= len(pl.Points) {
		return 0
	}
	planned := pl.Points[i].Start
	left := pl.Total - planned
	if planned <= 0 || elapsed <= 0 {
		return left
	}
	scale := min(max(float64(elapsed)/float64(planned), 0.5), 3)
	return time.Duration(float64(left) * scale)
}

func formatValues(values map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, values[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func formatSettings(settings map[string]string, latency time.Duration) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		parts = append(parts, k+"="+settings[k])
	}
	if latency > 0 {
		parts = append(parts, "latency "+latency.String())
	}
	if len(parts) == 0 {
		return "(defaults)"
	}
	return strings.Join(parts, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ShortDuration rounds d for a person: 45s, 4m10s, 1h05m.
func ShortDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(10 * time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// PlanScenario is the plan of a run of sc at a preset with nothing else asked: what describe
// shows as each preset's cost.
func PlanScenario(sc scenarios.Scenario, preset string) (*Plan, error) {
	p, err := Prepare(Options{Scenario: sc.Doc().Name, Instance: sc, Target: "auto", Preset: preset, Repeat: 1,
		Warmup: -1, Seed: 1, DryRun: true}, time.Now())
	if err != nil {
		return nil, err
	}
	return p.Plan(), nil
}
