// Package runner carries a run from options to result files: it resolves the scenario and its
// parameters, starts the target for each group of points, runs every point (and repeat) with the
// sampler watching, and writes result.json and summary.md as it goes.
package runner

import (
	"context"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/result"
)

// Options are everything `pgscale run` takes.
type Options struct {
	Scenario string
	// Instance, when set, is the scenario to run, made by the caller with options beyond --set
	// (`pgscale run script`'s files, a workload file); Scenario is then its name.
	Instance   scenarios.Scenario
	Sets       map[string]string // --set
	PGSettings map[string]string // --pg-setting
	Target     string            // auto | docker | local | dsn
	DSN        string
	Image      string
	Shape      string
	Pooler     *harness.PoolerSpec // --pooler; overrides the scenario's
	// Latencies (--latency) are round trips added between the load and the server. One value
	// applies to every point; more than one is a sweep: every point runs at each, on its own
	// target, and records latency_ms among its point values. 0 is a direct connection.
	Latencies      []time.Duration
	Duration       time.Duration // 0: the scenario's default
	Warmup         time.Duration // <0: the scenario's default
	Workers        int           // 0: the scenario's default
	Rate           float64
	Quick          bool
	Preset         string // --preset: quick, default or full ("": default, or quick with Quick)
	DryRun         bool   // --dry-run: Prepare checks and plans, makes no out directory; the caller prints Plan
	Repeat         int
	Out            string // "" : results/runs/<utc-time>-<random>-<scenario>
	Force          bool   // --force: clear a previous run's files from Out (else a result there is refused)
	AllowIntrusive bool
	Seed           uint64
	NoReport       bool // --no-report: no report.md, report.html or plots (bench.txt is always written)
	// A sharded run (runner/shard.go): --shard i/N (the zero value is a whole run), --run-id
	// (shared by the shards; default <utc-time>-<random>-<scenario>) and --barrier-timeout (0: the default).
	Shard          shard.Segment
	RunID          string
	BarrierTimeout time.Duration
	SkipSetup      bool // --skip-setup: the data is on the dsn target already (pgscale prepare; runner/prepare.go)
	// RunName, when set, names a run given no RunID in place of the scenario (a workload file's
	// name): <utc-time>-<random>-<RunName>.
	RunName string
	// Capacity (--capacity) searches the highest open-loop rate that meets SLO (--slo;
	// runner/capacity.go).
	Capacity bool
	SLO      *report.SLO

	// Pacer, when set, is the load shape instead of Rate (a workload file's stages); Duration and
	// Warmup must then cover it. Params are recorded beside the scenario's in the result.
	Pacer  loadgen.Pacer
	Params map[string]any

	// Log receives notes and progress; Progress, when set, draws the live line.
	Log      io.Writer
	Progress *loadgen.Progress
	// Tracker, when set, is told of every target started, so a second Ctrl-C can close them.
	Tracker *harness.Tracker
}

// Run carries out a prepared run. It always returns the result it has (status ok, interrupted
// or failed) once anything was started, written to the out directory, and the error that ended
// it, if any.
func (p *prepared) Run(ctx context.Context) (*result.Result, error) {
	opts := p.opts
	res := &result.Result{
		Schema:    result.SchemaVersion,
		Scenario:  p.doc.Name,
		RunID:     p.runID,
		Status:    result.StatusRunning, // ok only once it has finished
		StartedAt: time.Now().UTC(),
		Process:   thisProcess(),
		Params:    p.params.Map(),
		Duration:  p.duration.String(),
		Warmup:    p.warmup.String(),
		Headline:  p.doc.Headline,
		Series:    []result.Series{},
	}
	if d, ok := p.scenario.(scenarios.ParamsDescriber); ok {
		maps.Copy(res.Params, d.DescribeParams())
	}
	maps.Copy(res.Params, opts.Params)
	res.Params["repeat"] = opts.Repeat
	if opts.Rate > 0 {
		res.Params["rate"] = opts.Rate
	}
	if opts.SLO != nil && !opts.Capacity { // a capacity search keeps its SLO in res.Capacity
		res.SLO = opts.SLO.Text
	}
	if p.latencySwept() { // a single latency is recorded in the environment's target detail
		var latencies []string
		for _, d := range opts.Latencies {
			latencies = append(latencies, d.String())
		}
		res.Params["latency"] = strings.Join(latencies, ",")
	}
	res.Environment.Host = HostInfo()
	res.Environment.Pgscale = BuildInfo()
	p.stampShard(res)
	// Say it runs before anything starts: a run killed from here on is never read as ok, nor as
	// the run that wrote this directory before.
	if err := result.WriteFile(filepath.Join(p.outDir, "result.json"), res); err != nil {
		return nil, err
	}

	err := p.runGroups(ctx, res)
	p.noteShards(res)
	res.FinishedAt = time.Now().UTC()
	res.Process = nil
	err = settle(ctx, err, res)
	if werr := WriteOutputs(p.outDir, res); werr != nil {
		return res, errors.Join(err, werr)
	}
	p.wrote = true
	if !opts.NoReport {
		// A report that cannot be drawn does not fail a run whose result is safely written.
		if rerr := report.WriteReport(p.outDir, []*result.Result{res}, report.ReportOptions{}); rerr != nil {
			p.logf("report: %v", rerr)
			p.reportFailed = true
		}
	}
	return res, err
}
