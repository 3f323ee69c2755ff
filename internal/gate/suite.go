package gate

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

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// The calibration that runs with every repeat under calibrate: true: select-only's prepared
// lookups over a pool of 4 connections at scale 1 (100,000 accounts, cached), for 2 s after
// 500 ms of warm-up. On a 2-core development machine (loaded by other work) 4 workers reached
// 15-21k lookups/s, which was that machine's ceiling (8 workers were no faster there; later
// 2-core machines read 26-99k), and 2 s holds 30,000+ lookups, enough for a stable throughput; the whole calibration, server start
// and setup included, costs about 5 s per repeat.
const (
	CalibrationWorkers  = 4
	CalibrationDuration = 2 * time.Second
	CalibrationWarmup   = 500 * time.Millisecond
)

// calibrationEntry is the calibration as a suite entry: select-only's prepared lookups, or the
// same lookups by pgbench (calibrate: pgbench).
func calibrationEntry(cfg *Config) *Entry {
	scenario := cfg.CalibrateWith
	if scenario == "" {
		scenario = calibrationScenarios[0]
	}
	e := &Entry{Name: CalibrationName, Scenario: scenario, Duration: CalibrationDuration, Warmup: CalibrationWarmup,
		Sets: map[string]string{"variants": "prepared", "workers": fmt.Sprint(CalibrationWorkers), "scale": "1", "connect": "pool"}}
	sc, err := scenarios.Lookup(e.Scenario)
	if err != nil {
		return e
	}
	params, err := scenarios.ResolveParams(sc.Doc(), e.Sets, false)
	if err != nil {
		return e
	}
	e.params = params.Map()
	e.duration, e.warmup = e.Duration, e.Warmup
	return e
}

// Options of a gate run.
type Options struct {
	// Baseline is the baseline directory; "" is the gate file's (or DefaultBaselineDir).
	Baseline string
	// UpdateBaseline writes the run's results as the new baseline when every check passes.
	UpdateBaseline bool
	// Out is where the run writes; "" is results/runs/<utc-time>-gate.
	Out string
	// Target and DSN, when set, override the gate file's.
	Target, DSN string
	// Latency is added to every suite entry's (not the calibration's): an injected regression.
	Latency time.Duration
	// StepSummary, when set, is a file gate.md is appended to ($GITHUB_STEP_SUMMARY).
	StepSummary string
	Log         io.Writer
	Progress    *loadgen.Progress
	Tracker     *harness.Tracker
	Now         time.Time
}

// Outcome is a gate run: its checks and where their figures came from.
type Outcome struct {
	Config *Config
	Checks []CheckResult
	// Calibration is how far the calibration moved, nil without calibrate.
	Calibration *CalibrationMove
	// BaselineDir is the baseline used; Baseline describes it ("" when there was none).
	BaselineDir string
	Baseline    string
	// Environment describes where the suite ran now.
	Environment string
	OutDir      string
	// Err is why the suite could not run (exit 3).
	Err error
	// Notes are warnings about the configuration and the baseline.
	Notes []string
	// BaselineUpdated is set when --update-baseline wrote the baseline.
	BaselineUpdated bool
	// Now and Base are the results behind the checks (Base nil without a baseline).
	Now, Base *Measured
}

// Exit statuses of the gate.
const (
	ExitPass       = 0
	ExitRegression = 1
	ExitConfig     = 2
	ExitCouldNot   = 3
)

// ExitError carries the gate's exit status to the CLI.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// ExitCode is the process's exit status.
func (e *ExitError) ExitCode() int { return e.Code }

// Counts of the outcome's checks by status.
func (o *Outcome) Counts() (pass, fail, skip, errored int) {
	for _, c := range o.Checks {
		switch c.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		case Error:
			errored++
		}
	}
	return
}

// ExitCode is 0 when every check passed (or was skipped), 1 on a regression, 3 when the suite
// could not run.
func (o *Outcome) ExitCode() int {
	if o.Err != nil {
		return ExitCouldNot
	}
	if _, fail, _, _ := o.Counts(); fail > 0 {
		return ExitRegression
	}
	return ExitPass
}

// Result is the outcome as an error for the CLI: nil on a pass.
func (o *Outcome) Result() error {
	switch o.ExitCode() {
	case ExitCouldNot:
		return &ExitError{Code: ExitCouldNot, Msg: fmt.Sprintf("gate: could not run the suite: %v", o.Err)}
	case ExitRegression:
		var names []string
		for _, c := range o.Checks {
			if c.Status == Fail {
				names = append(names, c.Name())
			}
		}
		_, fail, _, _ := o.Counts()
		return &ExitError{Code: ExitRegression, Msg: fmt.Sprintf("gate: %d of %d checks failed: %s", fail, len(o.Checks), strings.Join(names, "; "))}
	}
	return nil
}

// Run runs the suite of cfg Repeats times, holds its checks, and writes gate.md, junit.xml,
// gate.txt and the combined results into the out directory. Bad configuration (including a
// missing or mismatched baseline) comes back as a usage error before anything starts; a suite
// that could not run comes back as an outcome with Err set.
func Run(ctx context.Context, cfg *Config, opts Options) (*Outcome, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Target != "" {
		cfg.Target = opts.Target
	}
	if opts.DSN != "" {
		cfg.DSN = opts.DSN
	}
	if err := harness.CheckKind(cfg.Target); err != nil {
		return nil, err
	}
	if cfg.Target == harness.KindDSN {
		if _, err := harness.ParseDSN(cfg.DSN); err != nil {
			return nil, err
		}
	}
	if err := harness.ValidateLatency(opts.Latency); err != nil {
		return nil, err
	}
	o := &Outcome{Config: cfg, BaselineDir: opts.Baseline, Notes: append([]string{}, cfg.Warnings...)}
	if o.BaselineDir == "" {
		o.BaselineDir = cfg.Baseline
	}
	base, notes, err := LoadBaseline(cfg, o.BaselineDir, opts.UpdateBaseline)
	if err != nil {
		return nil, err
	}
	o.Notes = append(o.Notes, notes...)
	o.Base = base
	if base != nil {
		o.Baseline = describe(base)
	}
	o.OutDir = opts.Out
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "runs", opts.Now.UTC().Format("20060102T150405Z")+"-gate")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, usage.Fieldf("out", "%s: cannot create the directory: %v", o.OutDir, err)
	}

	now, err := runSuite(ctx, cfg, opts, o.OutDir)
	if err != nil && usage.Is(err) {
		return nil, err
	}
	o.Now = now
	o.Notes = append(o.Notes, environmentNotes(now, base)...)
	if now != nil {
		o.Environment = describe(now)
		if werr := writeResults(filepath.Join(o.OutDir, "results"), now); werr != nil && err == nil {
			err = werr
		}
	}
	if err == nil {
		o.Checks, err = Evaluate(cfg, now, base)
		if err != nil && usage.Is(err) {
			return nil, err
		}
		o.Calibration = Calibration(now, base)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("gate: %w", err)
		}
		o.Err = err
		o.Checks = pending(cfg, err)
	}
	if o.ExitCode() == ExitPass && opts.UpdateBaseline {
		if err := writeBaseline(o.BaselineDir, now); err != nil {
			o.Err = fmt.Errorf("update baseline: %w", err)
			o.Checks = pending(cfg, o.Err)
		} else {
			o.BaselineUpdated = true
		}
	} else if opts.UpdateBaseline {
		o.Notes = append(o.Notes, fmt.Sprintf("the baseline in %s was not updated: the gate did not pass", o.BaselineDir))
	}
	if err := o.write(opts.StepSummary); err != nil {
		o.Err = errors.Join(o.Err, err)
	}
	return o, nil
}

// pending marks every check as not evaluated, for a suite that could not run.
func pending(cfg *Config, err error) []CheckResult {
	var out []CheckResult
	for _, c := range cfg.Checks {
		e := cfg.entry(c.Entry)
		pts := matching(c, e)
		for _, pt := range pts {
			out = append(out, CheckResult{Check: c, Series: e.Name + " " + pointLabel(pt.Variant, pt.Values), Expanded: len(pts) > 1,
				Status: Error, Note: "not evaluated: " + err.Error()})
		}
	}
	return out
}

// runSuite runs every entry (and the calibration) once per repeat, interleaved, so that drift
// of the machine falls on every entry alike. It returns what it measured, and the first error.
func runSuite(ctx context.Context, cfg *Config, opts Options, out string) (*Measured, error) {
	m := &Measured{Results: map[string]*result.Result{}}
	var cal *Entry
	if cfg.Calibrate {
		cal = calibrationEntry(cfg)
	}
	for r := 1; r <= cfg.Repeats; r++ {
		if cal != nil {
			res, err := runEntry(ctx, cfg, opts, cal, r, out, 0)
			if res != nil {
				m.Calibration = merge(m.Calibration, res, r, cfg.Repeats)
			}
			if err != nil {
				return m, fmt.Errorf("calibration, repeat %d: %w", r, err)
			}
		}
		for _, e := range cfg.Suite {
			res, err := runEntry(ctx, cfg, opts, e, r, out, opts.Latency)
			if res != nil {
				m.Results[e.Name] = merge(m.Results[e.Name], res, r, cfg.Repeats)
			}
			if err != nil {
				return m, fmt.Errorf("%s, repeat %d: %w", e.Name, r, err)
			}
			if r == 1 {
				// A metric the scenario does not report is a configuration error; say so now
				// rather than after every repeat.
				if err := CheckMetrics(cfg, m, "its first repeat"); err != nil {
					return m, err
				}
			}
		}
	}
	return m, nil
}

// runEntry runs one repeat of one entry through the runner.
func runEntry(ctx context.Context, cfg *Config, opts Options, e *Entry, repeat int, out string, extraLatency time.Duration) (*result.Result, error) {
	logf(opts.Log, "gate: repeat %d/%d: %s", repeat, cfg.Repeats, e.Name)
	ro := runner.Options{
		Scenario: e.Scenario, Sets: maps.Clone(e.Sets), PGSettings: maps.Clone(e.PGSettings),
		Target: cfg.Target, DSN: cfg.DSN, Latencies: latencies(e.Latency + extraLatency),
		Duration: e.Duration, Warmup: e.Warmup, Rate: e.Rate, Quick: e.Quick, Repeat: 1,
		Out: filepath.Join(out, "runs", fmt.Sprintf("r%d-%s", repeat, e.Name)), AllowIntrusive: e.AllowIntrusive,
		Force: true, // the gate's own directory: a gate run again into --out replaces its runs
		// The same seed for the same repeat, now and in the baseline.
		Seed:     uint64(repeat),
		NoReport: true,
		Log:      opts.Log, Progress: opts.Progress, Tracker: opts.Tracker,
	}
	if e.own != nil {
		ro.Instance, ro.Pacer, ro.Params = e.own.instance(), e.own.pacer, e.own.params
	}
	prep, err := runner.Prepare(ro, time.Now())
	if err != nil {
		if usage.Is(err) {
			return nil, usage.Errorf("%s: suite entry %s: %s", cfg.Path, e.Name, usage.Render(err, yamlKey))
		}
		return nil, err
	}
	res, err := prep.Run(ctx)
	if err == nil && res != nil && res.Status != result.StatusOK {
		err = fmt.Errorf("%s: %s", res.Status, res.Reason)
	}
	return res, err
}

// merge adds a repeat's result to the combined result of an entry: its series numbered by
// repeat, the run lengths and parameters of the first.
func merge(into, res *result.Result, repeat, repeats int) *result.Result {
	if into == nil {
		c := *res
		c.Series = nil
		c.Params = maps.Clone(res.Params)
		c.Params["repeat"] = repeats
		c.Warnings = nil
		c.Environment.Settings = maps.Clone(res.Environment.Settings)
		into = &c
	}
	for _, s := range res.Series {
		s.Repeat = repeat
		into.Series = append(into.Series, s)
	}
	into.FinishedAt = res.FinishedAt
	if res.Status != result.StatusOK {
		into.Status, into.Reason = res.Status, res.Reason
	}
	for _, w := range res.Warnings {
		if !contains(into.Warnings, w) {
			into.Warnings = append(into.Warnings, w)
		}
	}
	return into
}
