// Package runner carries a run from options to result files: it resolves the scenario and its
// parameters, starts the target for each group of points, runs every point (and repeat) with the
// sampler watching, and writes result.json and summary.md as it goes.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/loadgen"
	"github.com/pgscale/pgscale/report"
	"github.com/pgscale/pgscale/scenarios"
	"github.com/pgscale/pgscale/shard"
)

// Options are everything `pgscale run` takes.
type Options struct {
	Scenario   string
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
	Repeat         int
	Out            string // "" : results/runs/<utc-time>-<scenario>
	AllowIntrusive bool
	Seed           uint64
	NoReport       bool // --no-report: no report.md, report.html or plots (bench.txt is always written)
	// A sharded run (runner/shard.go): --shard i/N (the zero value is a whole run), --run-id
	// (shared by the shards; default <utc-time>-<scenario>) and --barrier-timeout (0: the default).
	Shard          shard.Segment
	RunID          string
	BarrierTimeout time.Duration
	SkipSetup      bool // --skip-setup: the data is on the dsn target already (pgscale prepare; runner/prepare.go)

	// Log receives notes and progress; Progress, when set, draws the live line.
	Log      io.Writer
	Progress *loadgen.Progress
	// Tracker, when set, is told of every target started, so a second Ctrl-C can close them.
	Tracker *harness.Tracker
}

// prepared is a validated run: everything bad input could break has been checked.
type prepared struct {
	opts     Options
	scenario scenarios.Scenario
	doc      scenarios.Doc
	params   scenarios.Params
	plan     scenarios.Plan
	duration time.Duration
	warmup   time.Duration
	outDir   string
	runID    string
	coord    *shard.Coordinator // a sharded run's coordination (runner/shard.go)
}

// Prepare checks opts and the scenario's parameters, reporting every usage error at once, and
// makes sure the out directory can be written. It starts nothing.
func Prepare(opts Options, now time.Time) (*prepared, error) {
	var errs []error
	sc, err := scenarios.Lookup(opts.Scenario)
	if err != nil {
		return nil, err
	}
	doc := sc.Doc()
	p := &prepared{opts: opts, scenario: sc, doc: doc}
	if opts.Repeat <= 0 {
		errs = append(errs, harness.Usagef("--repeat %d: must be at least 1", opts.Repeat))
	}
	if opts.Workers < 0 {
		errs = append(errs, harness.Usagef("--workers %d: must be at least 1", opts.Workers))
	}
	if opts.Rate < 0 {
		errs = append(errs, harness.Usagef("--rate %g: must be 0 (closed loop) or a positive rate per second", opts.Rate))
	} else if opts.Rate > 0 && doc.ClosedLoopOnly {
		errs = append(errs, harness.Usagef("--rate %g: scenario %s runs a closed loop only (leave --rate out)", opts.Rate, doc.Name))
	}
	if opts.Duration < 0 {
		errs = append(errs, harness.Usagef("--duration %s: must be more than 0", opts.Duration))
	}
	p.duration, p.warmup = doc.Duration, doc.Warmup
	if opts.Quick {
		p.duration, p.warmup = doc.QuickDuration, doc.QuickWarmup
	}
	if opts.Duration > 0 {
		p.duration = opts.Duration
	}
	if opts.Warmup >= 0 {
		p.warmup = opts.Warmup
	}
	for name := range opts.PGSettings {
		if err := harness.ValidateSettingName(name); err != nil {
			errs = append(errs, err)
		}
	}
	sets := maps.Clone(opts.Sets)
	if sets == nil {
		sets = map[string]string{}
	}
	if opts.Workers > 0 {
		if _, ok := sets["workers"]; !ok {
			sets["workers"] = fmt.Sprint(opts.Workers)
		}
	}
	if err := harness.CheckKind(opts.Target); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkTargetOptions(opts)...)
	switch opts.Target {
	case harness.KindDSN:
		if _, err := harness.ParseDSN(opts.DSN); err != nil {
			errs = append(errs, err)
		}
		if doc.Intrusive && !opts.AllowIntrusive {
			errs = append(errs, harness.Usagef("scenario %s is intrusive (it exhausts connections or takes ACCESS EXCLUSIVE locks): "+
				"against a dsn target it needs --allow-intrusive", doc.Name))
		}
	default:
		if opts.DSN != "" {
			errs = append(errs, harness.Usagef("--dsn is only for --target dsn (got --target %s)", opts.Target))
		}
	}
	params, err := scenarios.ResolveParams(doc, sets, opts.Quick)
	if err != nil {
		errs = append(errs, err)
	} else {
		p.params = params
		if p.plan, err = sc.Plan(params); err != nil {
			errs = append(errs, err)
		} else if err := harness.ValidatePooler(p.pooler()); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, p.checkShard()...)
	errs = append(errs, p.checkSkipSetup()...)
	if len(errs) > 0 {
		return nil, harness.JoinUsage(errs)
	}
	p.runID = now.UTC().Format("20060102T150405Z") + "-" + doc.Name
	if opts.RunID != "" {
		p.runID = opts.RunID
	}
	p.outDir = opts.Out
	if p.outDir == "" {
		p.outDir = filepath.Join("results", "runs", p.runID, p.shardDir())
	}
	if err := checkWritable(p.outDir); err != nil {
		return nil, err
	}
	return p, nil
}

// checkTargetOptions checks the options of the docker target and of latency, and that they fit
// the target asked for.
func checkTargetOptions(opts Options) []error {
	var errs []error
	if opts.Image != "" {
		if err := harness.ValidateImage(opts.Image); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.Shape != "" {
		if _, err := harness.ParseShape(opts.Shape); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[time.Duration]bool{}
	for _, d := range opts.Latencies {
		if err := harness.ValidateLatency(d); err != nil {
			errs = append(errs, err)
		} else if seen[d] {
			errs = append(errs, harness.Usagef("--latency %s: given twice in the list", d))
		}
		seen[d] = true
	}
	switch opts.Target {
	case harness.KindLocal, harness.KindDSN:
		if opts.Image != "" {
			errs = append(errs, harness.Usagef("--image is for --target docker (got --target %s)", opts.Target))
		}
		if opts.Shape != "" {
			errs = append(errs, harness.Usagef("--shape is for --target docker: the %s target cannot limit CPU or memory", opts.Target))
		}
	}
	if opts.Target == harness.KindDSN && opts.Pooler != nil {
		errs = append(errs, harness.Usagef("--pooler is for the docker and local targets: pgscale cannot start a pooler in front of a dsn target "+
			"(give the pooler's own address as --dsn instead)"))
	}
	return errs
}

// pooler is the pooler the run asks for: --pooler, else the scenario's.
func (p *prepared) pooler() *harness.PoolerSpec {
	if p.opts.Pooler != nil {
		return p.opts.Pooler
	}
	return p.plan.Pooler
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return harness.Usagef("--out %s: cannot create the directory: %v", dir, unwrapPathError(err))
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return harness.Usagef("--out %s: cannot write there: %v", dir, unwrapPathError(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// OutDir is where the run writes.
func (p *prepared) OutDir() string { return p.outDir }

// Run carries out a prepared run. It always returns the result it has (status ok, interrupted
// or failed) once anything was started, written to the out directory, and the error that ended
// it, if any.
func (p *prepared) Run(ctx context.Context) (*report.Result, error) {
	opts := p.opts
	res := &report.Result{
		Schema:    report.SchemaVersion,
		Scenario:  p.doc.Name,
		RunID:     p.runID,
		Status:    report.StatusOK,
		StartedAt: time.Now().UTC(),
		Params:    p.params.Map(),
		Duration:  p.duration.String(),
		Warmup:    p.warmup.String(),
		Headline:  p.doc.Headline,
		Series:    []report.Series{},
	}
	res.Params["repeat"] = opts.Repeat
	if opts.Rate > 0 {
		res.Params["rate"] = opts.Rate
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

	err := p.runGroups(ctx, res)
	p.noteShards(res)
	res.FinishedAt = time.Now().UTC()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.Status, res.Reason = report.StatusInterrupted, "interrupted: "+context.Cause(ctx).Error()
	default:
		res.Status, res.Reason = report.StatusFailed, harness.RedactDSN(err.Error())
	}
	if werr := WriteOutputs(p.outDir, res); werr != nil {
		return res, errors.Join(err, werr)
	}
	if !opts.NoReport {
		// A report that cannot be drawn does not fail a run whose result is safely written.
		if rerr := report.WriteReport(p.outDir, []*report.Result{res}, report.ReportOptions{}); rerr != nil {
			p.logf("report: %v", rerr)
		}
	}
	return res, err
}

// group is the points that share one server configuration and one added latency.
type group struct {
	settings map[string]string
	latency  time.Duration
	points   []scenarios.Point
}

// latencySwept reports whether --latency is a sweep (more than one value).
func (p *prepared) latencySwept() bool { return len(p.opts.Latencies) > 1 }

// maxLatency is the largest latency asked for (0: none).
func (p *prepared) maxLatency() time.Duration {
	var m time.Duration
	for _, d := range p.opts.Latencies {
		m = max(m, d)
	}
	return m
}

// groups splits the plan's points by server settings and, for a latency sweep, repeats the
// groups at each latency (latency outermost, in the order given) with latency_ms in each point.
func (p *prepared) groups() []group {
	byLatency := p.opts.Latencies
	if len(byLatency) == 0 {
		byLatency = []time.Duration{0}
	}
	var gs []group
	for _, latency := range byLatency {
		for _, g := range p.settingsGroups() {
			g.latency = latency
			if p.latencySwept() {
				for i, pt := range g.points {
					pt.Values = maps.Clone(pt.Values)
					if pt.Values == nil {
						pt.Values = map[string]any{}
					}
					pt.Values[LatencyKey] = float64(latency) / float64(time.Millisecond)
					g.points[i] = pt
				}
			}
			gs = append(gs, g)
		}
	}
	return gs
}

// LatencyKey is the point value a latency sweep records: the added round trip in milliseconds.
const LatencyKey = "latency_ms"

// settingsGroups splits the plan's points by the server settings they need.
func (p *prepared) settingsGroups() []group {
	var gs []group
	for _, pt := range p.plan.Points {
		settings := maps.Clone(p.plan.Settings)
		if settings == nil {
			settings = map[string]string{}
		}
		maps.Copy(settings, pt.Settings)
		maps.Copy(settings, p.opts.PGSettings) // the user's word wins
		found := false
		for i := range gs {
			if maps.Equal(gs[i].settings, settings) {
				gs[i].points = append(gs[i].points, pt)
				found = true
				break
			}
		}
		if !found {
			gs = append(gs, group{settings: settings, points: []scenarios.Point{pt}})
		}
	}
	return gs
}

func (p *prepared) runGroups(ctx context.Context, res *report.Result) error {
	opts := p.opts
	provider, note, err := harness.ChooseFor(ctx, harness.Spec{Kind: opts.Target, Image: opts.Image, Shape: opts.Shape,
		Pooler: p.pooler(), Latency: p.maxLatency()})
	if err != nil {
		return err
	}
	if note != "" {
		p.logf("%s", note)
	}
	res.Environment.Target = provider.Kind()
	provider = p.shardProvider(p.preparedProvider(provider))
	gs := p.groups()
	if !p.canChangeSettings(provider) && len(p.settingsGroups()) > 1 {
		res.Warnings = append(res.Warnings, "the dsn target cannot change server settings: every point ran with the server's own")
		gs = mergeSettings(gs)
	}
	for _, g := range gs {
		if err := p.runGroup(ctx, provider, g, res); err != nil {
			return err
		}
	}
	return nil
}

// mergeSettings joins the groups of each latency into one (the settings of its first): for a
// target that cannot change them.
func mergeSettings(gs []group) []group {
	var out []group
	for _, g := range gs {
		if n := len(out); n > 0 && out[n-1].latency == g.latency {
			out[n-1].points = append(out[n-1].points, g.points...)
			continue
		}
		g.points = slices.Clone(g.points)
		out = append(out, g)
	}
	return out
}

func (p *prepared) canChangeSettings(provider harness.Provider) bool {
	return provider.Kind() != harness.KindDSN
}

func (p *prepared) runGroup(ctx context.Context, provider harness.Provider, g group, res *report.Result) error {
	opts := p.opts
	spec := harness.Spec{Kind: provider.Kind(), RunID: p.runID, Settings: g.settings, DSN: opts.DSN,
		Image: opts.Image, Shape: opts.Shape, Pooler: p.pooler(), Latency: g.latency}
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
		}
	}()
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

	for r := 1; r <= opts.Repeat; r++ {
		for _, pt := range g.points {
			if err := p.runPoint(ctx, target, env, pt, r, res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *prepared) recordEnvironment(res *report.Result, target harness.Target, info harness.ServerInfo, asked map[string]string) {
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
		Duration: p.duration, Warmup: p.warmup, Rate: p.opts.Rate, Workers: p.opts.Workers,
		Log: p.opts.Log, Seed: p.opts.Seed,
	}
	if p.opts.Progress != nil {
		env.OnSecond = p.opts.Progress.Tick
	}
	return env, nil
}

func connConfig(dsn, schema string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("target dsn: %s", harness.RedactDSN(err.Error()))
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

func (p *prepared) runPoint(ctx context.Context, target harness.Target, env *scenarios.Env, pt scenarios.Point, repeat int, res *report.Result) error {
	label := pointLabel(p.doc.Name, pt, repeat, p.opts.Repeat)
	ctx, pt, err := p.shardPoint(ctx, env, pt, label)
	if err != nil {
		return err
	}
	sampler, err := harness.NewSampler(ctx, target.AdminDSN(), harness.SampleSourcesOf(target)...)
	if err != nil {
		return err
	}
	sampler.Start(ctx)
	if p.opts.Progress != nil {
		p.opts.Progress.Begin(label, func() (int, int) {
			s := sampler.Latest()
			return s.Connections, s.MaxConnections
		})
	}
	env.Seed = p.opts.Seed + uint64(repeat)*1_000_003
	series, runErr := p.scenario.Run(ctx, env, pt)
	sampler.Stop()
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
		series.Metrics["peak_connections"] = float64(peak)
		series.Metrics["peak_waiting_on_lock"] = float64(waiting)
	}
	for class, msg := range series.ErrorSamples {
		series.ErrorSamples[class] = harness.RedactDSN(msg)
	}
	res.Series = append(res.Series, series)
	p.logf("%s", report.SeriesLine(series, res.Headline))
	// Write what we have after every point, so a crash later keeps it.
	if err := report.WriteFile(filepath.Join(p.outDir, "result.json"), res); err != nil {
		return err
	}
	return runErr
}

func pointLabel(name string, pt scenarios.Point, repeat, repeats int) string {
	label := name + " " + pt.Variant
	for _, k := range sortedKeys(pt.Values) {
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

// WriteOutputs writes result.json, summary.md and bench.txt (Go benchmark format) into dir.
func WriteOutputs(dir string, res *report.Result) error {
	if err := report.WriteFile(filepath.Join(dir, "result.json"), res); err != nil {
		return err
	}
	if err := report.WriteAtomic(filepath.Join(dir, report.BenchFile), []byte(report.GoBench(res))); err != nil {
		return err
	}
	return report.WriteAtomic(filepath.Join(dir, "summary.md"), []byte(report.Markdown(res)))
}
