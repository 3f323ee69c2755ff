package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/usage"
)

// compareCmd is `pgscale compare A B`.
type compareCmd struct {
	nameA  string
	nameB  string
	a, b   []string
	format string
	alpha  float64
}

// Validate reports every bad flag at once.
func (c *compareCmd) Validate() error {
	var errs []string
	if c.format != "text" && c.format != "md" {
		errs = append(errs, fmt.Sprintf("--format %q: want text or md", c.format))
	}
	if c.alpha <= 0 || c.alpha >= 1 {
		errs = append(errs, fmt.Sprintf("--alpha %g: must be between 0 and 1 (e.g. 0.05)", c.alpha))
	}
	if len(errs) > 0 {
		return usage.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func (c *compareCmd) Run(stdout, stderr io.Writer) error {
	settleKilled(append(slices.Clone(c.a), c.b...), stderr)
	a, err := report.LoadAll(c.a)
	if err != nil {
		return inputError(err)
	}
	b, err := report.LoadAll(c.b)
	if err != nil {
		return inputError(err)
	}
	cmp, err := report.Compare(a, b, c.nameA, c.nameB, c.alpha)
	if err != nil {
		return inputError(err)
	}
	out := cmp.Text()
	if c.format == "md" {
		out = cmp.Markdown()
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// splitPaths reads one side of a comparison: a path, or several joined by commas (repeats
// spread over separate runs).
func splitPaths(arg string) []string {
	var out []string
	for _, p := range strings.Split(arg, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newCompareCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &compareCmd{}
	cmd := &cobra.Command{
		Use:   "compare A B [flags]",
		Short: "Compare two runs of a scenario series by series",
		Long: "compare matches the series of A and B (run directories or result files; several joined by\n" +
			"commas) by variant and point and shows throughput, p50, p99, p99.9 and errors with deltas. With at\n" +
			"least 3 repeats a side a Mann-Whitney U test marks differences within noise as \"~\", as benchstat does.",
		Example: `  pgscale compare results/runs/base results/runs/new
  pgscale compare base/result.json new/result.json --format md
  pgscale compare a1,a2,a3 b1,b2,b3`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.nameA, c.nameB = args[0], args[1]
			c.a, c.b = splitPaths(args[0]), splitPaths(args[1])
			if err := c.Validate(); err != nil {
				return err
			}
			return c.Run(stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.format, "format", "text", "text, or md for a pull request comment")
	fl.Float64Var(&c.alpha, "alpha", report.DefaultAlpha, "significance level of the U test")
	return cmd
}
