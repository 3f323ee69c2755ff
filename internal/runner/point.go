package runner

// One group on one target, and one point of it: the environment the scenario gets, the point run
// and its repeats, and the files written.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

func (p *prepared) runGroup(ctx context.Context, provider harness.Provider, g group, res *result.Result) (err error) {
	opts := p.opts
	spec := harness.Spec{Kind: provider.Kind(), RunID: p.runID, Settings: g.settings, DSN: opts.DSN,
		Image: opts.Image, Shape: opts.Shape, Pooler: p.pooler(), Latency: g.latency}
	if ip, ok := p.scenario.(scenarios.InPlacer); ok {
		spec.InPlace = ip.InPlace(provider.Kind())
	}
	started := time.Now()
	target, err := harness.StartTarget(ctx, provider, spec)
	if err != nil {
		return err // the harness's errors name the target
	}
	if opts.Tracker != nil {
		opts.Tracker.Add(target)
		defer opts.Tracker.Remove(target)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := target.Close(cctx); err != nil {
			p.logf("closing the target: %v", err)
			why := strings.ReplaceAll(harness.RedactDSN(err.Error()), "\n", "; ")
			res.Warnings = append(res.Warnings, "cleanup: "+why+": `pgscale clean` removes what a run left (with --dsn on a server of yours)")
		}
	}()
	ctx, settle := p.watchServer(ctx, target)
	defer func() { err = settle(err) }()
	withLatency := ""
	if g.latency > 0 {
		withLatency = fmt.Sprintf(" (%s added to each round trip)", g.latency)
	}
	p.logf("target %s ready in %s%s", provider.Kind(), time.Since(started).Round(time.Millisecond), withLatency)

	info, err := target.Info(ctx)
	if err != nil {
		return err
	}
	p.recordEnvironment(res, target, info, g.settings)

	env, err := p.env(target)
	if err != nil {
		return err
	}
	setupStart := time.Now()
	if err := p.setup(ctx, env); err != nil {
		return fmt.Errorf("%s setup: %w", p.doc.Name, err)
	}
	p.logf("%s: setup done in %s", p.doc.Name, time.Since(setupStart).Round(time.Millisecond))

	if opts.Capacity {
		return p.runCapacity(ctx, target, env, g.points[0], res)
	}
	for r := 1; r <= opts.Repeat; r++ {
		for _, pt := range g.points {
			if err := p.runPoint(ctx, target, env, pt, r, res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *prepared) recordEnvironment(res *result.Result, target harness.Target, info harness.ServerInfo, asked map[string]string) {
	e := &res.Environment
	e.ServerVersion = info.Version
	if e.Settings == nil {
		e.Settings = map[string]string{}
	}
	maps.Copy(e.Settings, info.Settings)
	e.TargetDetail = target.Detail()
	if target.CanChangeSettings() {
		return
	}
	for name, want := range asked {
		if got, ok := info.Settings[name]; ok && got != want {
			res.Warnings = append(res.Warnings, fmt.Sprintf("setting %s: the scenario asked for %s, the server has %s", name, want, got))
		}
	}
}

func (p *prepared) env(target harness.Target) (*scenarios.Env, error) {
	load, err := connConfig(target.DSN(), target.Schema())
	if err != nil {
		return nil, err
	}
	admin, err := connConfig(target.AdminDSN(), target.Schema())
	if err != nil {
		return nil, err
	}
	env := &scenarios.Env{
		Target: target, Load: load, Admin: admin, Params: p.params,
		Duration: p.duration, Warmup: p.warmup, Rate: p.opts.Rate, Pacer: p.opts.Pacer, Pooler: p.pooler(), Workers: p.opts.Workers,
		Log: p.opts.Log, Seed: p.opts.Seed,
	}
	if p.opts.Progress != nil {
		env.OnSecond = p.opts.Progress.Tick
	}
	return env, nil
}

func connConfig(dsn, schema string) (*pgx.ConnConfig, error) {
	cfg, err := harness.ConnConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("target %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if schema != "" && schema != "public" {
		cfg.RuntimeParams["search_path"] = schema
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "pgscale"
	}
	return cfg, nil
}

func (p *prepared) runPoint(ctx context.Context, target harness.Target, env *scenarios.Env, pt scenarios.Point, repeat int, res *result.Result) error {
	label := pointLabel(p.doc.Name, pt, repeat, p.opts.Repeat)
	pt, err := p.shardPoint(ctx, env, pt, label)
	if err != nil {
		return err
	}
	sampler, err := harness.NewSampler(ctx, target.AdminDSN(), harness.SampleSourcesOf(target)...)
	if err != nil {
		return err
	}
	usage, why := harness.UsageReaderOf(target)
	sampler.Observe(usage)
	res.Environment.Resources = sampler.Resources(why)
	sampler.Start(ctx)
	if p.opts.Progress != nil {
		p.opts.Progress.Begin(p.progressLabel(label), func() (int, int) {
			s := sampler.Latest()
			return s.Connections, s.MaxConnections
		})
	}
	env.Seed = p.opts.Seed + uint64(repeat)*1_000_003
	series, runErr := p.scenario.Run(ctx, env, pt)
	sampler.Stop()
	if err := sampler.Lost(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	p.opts.Progress.End()
	if series.StartedAt.IsZero() && runErr != nil {
		return runErr // nothing measured
	}
	series.Variant = pt.Variant
	series.Point = pt.Values
	series.Repeat = repeat
	if series.Workers == 0 {
		series.Workers = pt.Workers
	}
	sampler.JoinTimeline(series.StartedAt, series.Timeline)
	if peak, waiting := sampler.Peak(series.StartedAt); peak > 0 {
		if series.Metrics == nil {
			series.Metrics = map[string]float64{}
		}
		series.Metrics[result.MetricPeakConnections] = float64(peak)
		series.Metrics[result.MetricPeakWaitingOnLock] = float64(waiting)
	}
	if series.Metrics == nil {
		series.Metrics = map[string]float64{}
	}
	sampler.AddMetrics(series.Metrics)
	series.Diagnosis = report.Diagnose(series, res.Environment)
	for class, msg := range series.ErrorSamples {
		series.ErrorSamples[class] = harness.RedactDSN(msg)
	}
	res.Series = append(res.Series, series)
	p.logf("%s", report.SeriesLine(series, res.Headline))
	if d := series.Diagnosis; d != nil {
		p.logf("  bound: %s", report.DiagnosisLine(d))
	}
	// Write what we have after every point, so a crash later keeps it.
	if err := result.WriteFile(filepath.Join(p.outDir, "result.json"), res); err != nil {
		return err
	}
	return runErr
}

func pointLabel(name string, pt scenarios.Point, repeat, repeats int) string {
	label := name + " " + pt.Variant
	for _, k := range slices.Sorted(maps.Keys(pt.Values)) {
		label += fmt.Sprintf(" %s=%v", k, pt.Values[k])
	}
	if repeats > 1 {
		label += fmt.Sprintf(" #%d", repeat)
	}
	return label
}

func (p *prepared) logf(format string, args ...any) {
	if p.opts.Log != nil {
		fmt.Fprintf(p.opts.Log, format+"\n", args...)
	}
}

// WriteOutputs writes result.json, summary.md and bench.txt (Go benchmark format) into dir. It
// first records in res.Repeats how each series varied over its repeats (nil without repeats).
func WriteOutputs(dir string, res *result.Result) error {
	res.Repeats = report.RepeatSpreads(res)
	if err := result.WriteFile(filepath.Join(dir, "result.json"), res); err != nil {
		return err
	}
	if err := result.WriteAtomic(filepath.Join(dir, report.BenchFile), []byte(report.GoBench(res))); err != nil {
		return err
	}
	return result.WriteAtomic(filepath.Join(dir, "summary.md"), []byte(report.Markdown(res)))
}
