package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/gate"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/usage"
)

// gateCmd is `pgscale gate`.
type gateCmd struct {
	config         string
	baseline       string
	updateBaseline bool
	out            string
	target, dsn    string
	latency        time.Duration
}

// Validate reports every bad flag at once.
func (c *gateCmd) Validate() error {
	var errs []error
	if c.config == "" {
		errs = append(errs, usage.Fieldf("config", "is empty: name a gate file (pgscale.gate.yaml)"))
	}
	if c.target != "" {
		if err := harness.CheckKind(c.target); err != nil {
			errs = append(errs, err)
		}
	}
	if c.dsn != "" && c.target != "" && c.target != harness.KindDSN {
		errs = append(errs, usage.Fieldf("dsn", "is only for --target dsn (got --target %s)", c.target))
	}
	if err := harness.ValidateLatency(c.latency); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return usage.Join(errs)
	}
	return nil
}

// Run runs the gate and returns nil on a pass, a usage error for bad configuration, and an
// error carrying exit status 1 (regression) or 3 (could not run) otherwise.
func (c *gateCmd) Run(cmd *cobra.Command, stdout, stderr io.Writer, tracker *harness.Tracker) error {
	cfg, err := gate.Load(c.config)
	if err != nil {
		return err
	}
	opts := gate.Options{
		Baseline: c.baseline, UpdateBaseline: c.updateBaseline, Out: c.out, Target: c.target, DSN: c.dsn,
		Latency: c.latency, StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"), Log: stderr, Tracker: tracker,
	}
	if isTerminal(stderr) {
		opts.Progress = loadgen.NewProgress(stderr, true)
	}
	o, err := gate.Run(cmd.Context(), cfg, opts)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, o.Text())
	fmt.Fprintf(stderr, "wrote %s (%s, %s)\n", o.OutDir, gate.MarkdownFile, gate.JUnitFile)
	return o.Result()
}

// exitCode is the exit status an error asks for (the gate's 1 and 3), 0 when it names none.
func exitCode(err error) int {
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return 0
}

func newGateCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	c := &gateCmd{}
	cmd := &cobra.Command{
		Use:   "gate [flags]",
		Short: "CI performance gate: run a suite, hold its checks against thresholds and a baseline",
		Long: "gate runs the suite of a gate file (pgscale.gate.yaml) N times and holds its checks: absolute\n" +
			"ones (throughput_per_s > 1000, errors.53300 == 0) and relative ones against a baseline (latency_ms.p99\n" +
			"may rise 10%), which fail only when the change is beyond the limit and significant (Mann-Whitney U over\n" +
			"the repeats). It prints a table, writes gate.md (appended to $GITHUB_STEP_SUMMARY when set) and junit.xml,\n" +
			"and exits 0 on a pass, 1 on a regression, 2 on bad configuration, 3 when the suite could not run.",
		Example: `  pgscale gate --config pgscale.gate.yaml --update-baseline   # first run: write the baseline
  pgscale gate --config pgscale.gate.yaml                     # then: compare with it
  pgscale gate --latency 2ms                                  # inject a regression: must fail`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.Validate(); err != nil {
				return err
			}
			return c.Run(cmd, stdout, stderr, tracker)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.config, "config", "pgscale.gate.yaml", "the gate file")
	fl.StringVar(&c.baseline, "baseline", "", "baseline directory (default: the gate file's baseline:, else "+gate.DefaultBaselineDir+")")
	fl.BoolVar(&c.updateBaseline, "update-baseline", false, "write this run's results as the new baseline when every check passes")
	fl.StringVar(&c.out, "out", "", "output directory (default results/runs/<utc-time>-gate)")
	fl.StringVar(&c.target, "target", "", "override the gate file's target: auto, docker, local or dsn")
	fl.StringVar(&c.dsn, "dsn", "", "override the gate file's dsn (for --target dsn)")
	fl.DurationVar(&c.latency, "latency", 0, "round trip added to every suite entry (not the calibration), e.g. 2ms: an injected regression")
	return cmd
}
