package runner

// Prepare: a run validated before anything starts, every usage error at once.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/internal/usage"
)

// prepared is a validated run: everything bad input could break has been checked.
type prepared struct {
	opts     Options
	scenario scenarios.Scenario
	doc      scenarios.Doc
	params   scenarios.Params
	plan     scenarios.Plan
	duration time.Duration
	warmup   time.Duration
	preset   string
	outDir   string
	runID    string
	coord    *shard.Coordinator // a sharded run's coordination (runner/shard.go)
	progress progressState      // the points run so far, for the progress line's i/N and ETA (eta.go)
	wrote    bool               // the out directory holds this run's result as it ended
	// reportFailed: report.md, report.html or a plot could not be written (the result was).
	reportFailed bool
}

// Prepare checks opts and the scenario's parameters, reporting every usage error at once, and
// makes sure the out directory can be written. It starts nothing.
func Prepare(opts Options, now time.Time) (*prepared, error) {
	var errs []error
	sc, err := lookup(opts)
	if err != nil {
		return nil, err
	}
	doc := sc.Doc()
	p := &prepared{opts: opts, scenario: sc, doc: doc}
	if opts.Repeat <= 0 {
		errs = append(errs, usage.Fieldf("repeat", "%d: must be at least 1", opts.Repeat))
	}
	if opts.Workers < 0 {
		errs = append(errs, usage.Fieldf("workers", "%d: must be at least 1", opts.Workers))
	}
	if opts.Rate < 0 {
		errs = append(errs, usage.Fieldf("rate", "%g: must be 0 (closed loop) or a positive rate per second", opts.Rate))
	} else if opts.Rate > 0 && opts.Pacer != nil {
		errs = append(errs, usage.Fieldf("rate", "%g: the workload's stages pace the load; leave --rate out", opts.Rate))
	} else if opts.Rate > 0 && doc.ClosedLoopOnly {
		errs = append(errs, usage.Fieldf("rate", "%g: scenario %s runs a closed loop only (leave --rate out)", opts.Rate, doc.Name))
	}
	if opts.Duration < 0 {
		errs = append(errs, usage.Fieldf("duration", "%s: must be more than 0", opts.Duration))
	}
	if p.preset, err = presetOf(opts); err != nil {
		errs = append(errs, err)
	}
	p.duration, p.warmup = doc.RunLength(p.preset)
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
			why := doc.IntrusiveWhy
			if why == "" {
				why = "it exhausts connections or takes ACCESS EXCLUSIVE locks"
			}
			errs = append(errs, usage.Errorf("scenario %s is intrusive (%s): against a dsn target it needs --allow-intrusive", doc.Name, why))
		}
	default:
		if opts.DSN != "" {
			errs = append(errs, usage.Fieldf("dsn", "is only for --target dsn (got --target %s)", opts.Target))
		}
	}
	params, err := scenarios.ResolvePreset(doc, sets, p.preset)
	if err != nil {
		errs = append(errs, err)
	} else {
		p.params = params
		if p.plan, err = sc.Plan(params); err != nil {
			errs = append(errs, err)
		} else if err := harness.ValidatePooler(p.pooler()); err != nil {
			errs = append(errs, err)
		}
		if cl, ok := sc.(scenarios.ClosedLoopChecker); ok && err == nil {
			if with := cl.ClosedLoopOnlyWith(params); with != "" && (opts.Rate > 0 || opts.Pacer != nil || opts.Capacity) {
				errs = append(errs, usage.Errorf("%s runs a closed loop only: leave out --rate, --capacity and a workload's stages", with))
			}
		}
		if pc, ok := sc.(scenarios.PoolerChecker); ok && err == nil && p.pooler() != nil {
			if err := pc.CheckPooler(params, p.pooler()); err != nil {
				errs = append(errs, err)
			}
		}
		if ic, ok := sc.(scenarios.IntrusiveChecker); ok && opts.Target == harness.KindDSN && !opts.AllowIntrusive && !doc.Intrusive {
			if why := ic.IntrusiveWith(params); why != "" {
				errs = append(errs, usage.Errorf("scenario %s is intrusive with these parameters (%s): against a dsn target it needs --allow-intrusive", doc.Name, why))
			}
		}
		if rc, ok := sc.(scenarios.RunLengthChecker); ok && err == nil {
			if err := rc.CheckRunLength(params, p.duration); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, p.checkShard()...)
	errs = append(errs, p.checkSkipSetup()...)
	errs = append(errs, p.checkCapacity()...)
	if len(errs) > 0 {
		return nil, usage.Join(errs)
	}
	if opts.DryRun {
		return p, nil // nothing is written: no out directory
	}
	p.runID, p.outDir = opts.RunID, opts.Out
	name := doc.Name
	if opts.RunName != "" {
		name = opts.RunName
	}
	switch {
	case p.outDir == "" && p.runID == "":
		if p.runID, p.outDir, err = defaultRun(now, name); err != nil {
			return nil, err
		}
	case p.runID == "":
		p.runID = newRunID(now, name)
	case p.outDir == "":
		p.outDir = filepath.Join(RunsDir, p.runID, p.shardDir())
	}
	if err := checkWritable(p.outDir); err != nil {
		return nil, err
	}
	if err := claimOut(p.outDir, opts.Force); err != nil {
		return nil, err
	}
	return p, nil
}

// lookup is the scenario of opts: its Instance, else the registry's.
func lookup(opts Options) (scenarios.Scenario, error) {
	if opts.Instance != nil {
		return opts.Instance, nil
	}
	return scenarios.Lookup(opts.Scenario)
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
			errs = append(errs, usage.Fieldf("latency", "%s: given twice in the list", d))
		}
		seen[d] = true
	}
	switch opts.Target {
	case harness.KindLocal, harness.KindDSN:
		if opts.Image != "" {
			errs = append(errs, usage.Fieldf("image", "is for --target docker (got --target %s)", opts.Target))
		}
		if opts.Shape != "" {
			errs = append(errs, usage.Fieldf("shape", "is for --target docker: the %s target cannot limit CPU or memory", opts.Target))
		}
	}
	if opts.Target == harness.KindDSN && opts.Pooler != nil {
		errs = append(errs, usage.Fieldf("pooler", "is for the docker and local targets: pgscale cannot start a pooler in front of a dsn target "+
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
		return usage.Fieldf("out", "%s: cannot create the directory: %v", dir, unwrapPathError(err))
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return usage.Fieldf("out", "%s: cannot write there: %v", dir, unwrapPathError(err))
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

// Wrote tells whether Run wrote its result into OutDir: false when writing failed.
func (p *prepared) Wrote() bool { return p.wrote }

// ReportFailed tells whether the report's files (report.md, report.html, plots) could not all be
// written beside a result that was.
func (p *prepared) ReportFailed() bool { return p.reportFailed }
