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
	Scenario       string
	Sets           map[string]string // --set
	PGSettings     map[string]string // --pg-setting
	Target         string            // auto | docker | local | dsn
	DSN            string
	Image          string
	Shape          string
	Pooler         *harness.PoolerSpec // --pooler; overrides the scenario's
	Latency        time.Duration       // --latency: round trip added between the load and the server
	Duration       time.Duration       // 0: the scenario's default
	Warmup         time.Duration       // <0: the scenario's default
	Workers        int                 // 0: the scenario's default
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
		return nil, &harness.UsageError{Msg: joinLines(errs)}
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
	if err := harness.ValidateLatency(opts.Latency); err != nil {
		errs = append(errs, err)
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

func joinLines(errs []error) string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
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
		Series:    []report.Series{},
	}
	res.Params["repeat"] = opts.Repeat
	if opts.Rate > 0 {
		res.Params["rate"] = opts.Rate
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

// group is the points that share one server configuration.
type group struct {
	settings map[string]string
	points   []scenarios.Point
}

func (p *prepared) groups() []group {
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
		Pooler: p.pooler(), Latency: opts.Latency})
	if err != nil {
		return err
	}
	if note != "" {
		p.logf("%s", note)
	}
	res.Environment.Target = provider.Kind()
	provider = p.shardProvider(p.preparedProvider(provider))
	gs := p.groups()
	if !p.canChangeSettings(provider) && len(gs) > 1 {
		res.Warnings = append(res.Warnings, "the dsn target cannot change server settings: every point ran with the server's own")
		var all []scenarios.Point
		for _, g := range gs {
			all = append(all, g.points...)
		}
		gs = []group{{settings: gs[0].settings, points: all}}
	}
	for _, g := range gs {
		if err := p.runGroup(ctx, provider, g, res); err != nil {
			return err
		}
	}
	return nil
}

func (p *prepared) canChangeSettings(provider harness.Provider) bool {
	return provider.Kind() != harness.KindDSN
}

func (p *prepared) runGroup(ctx context.Context, provider harness.Provider, g group, res *report.Result) error {
	opts := p.opts
	spec := harness.Spec{Kind: provider.Kind(), RunID: p.runID, Settings: g.settings, DSN: opts.DSN,
		Image: opts.Image, Shape: opts.Shape, Pooler: p.pooler(), Latency: opts.Latency}
	started := time.Now()
	target, err := harness.StartTarget(ctx, provider, spec)
	if err != nil {
		return fmt.Errorf("start %s target: %w", provider.Kind(), err)
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
	p.logf("target %s ready in %s", provider.Kind(), time.Since(started).Round(time.Millisecond))

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
	p.logf("%s", report.SeriesLine(series))
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
