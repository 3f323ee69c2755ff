package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/timeouts"
	"github.com/pgscale/pgscale/internal/usage"
)

// timeoutsCmd is `pgscale timeouts RESULT`: the early-warning timeouts a run's latencies call for.
type timeoutsCmd struct {
	path    string
	role    string
	variant string
	json    bool
}

// Validate checks the flags.
func (c *timeoutsCmd) Validate(roleGiven bool) error {
	if roleGiven {
		if err := timeouts.ValidateRole(c.role); err != nil {
			return usage.Errorf("%v", err)
		}
	}
	return nil
}

func (c *timeoutsCmd) Run(stdout, stderr io.Writer) error {
	settleKilled([]string{c.path}, stderr)
	r, err := report.Load(c.path)
	if err != nil {
		return inputError(err)
	}
	rep, err := timeouts.Propose(r, timeouts.Options{Variant: c.variant})
	var badVariant *timeouts.BadVariantError
	if errors.As(err, &badVariant) {
		return usage.Errorf("%v", err)
	}
	if err != nil {
		return usage.Errorf("%s: %v", c.path, err)
	}
	if c.json {
		return timeouts.WriteJSON(stdout, rep, c.role)
	}
	return timeouts.WriteText(stdout, rep, c.role)
}

func newTimeoutsCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &timeoutsCmd{}
	cmd := &cobra.Command{
		Use:   "timeouts RESULT [flags]",
		Short: "Propose statement_timeout and lock_timeout from a run's latencies",
		Long: "timeouts reads a run's latency histograms (service time where the run has it, a script run's\n" +
			"statements too) and proposes statement_timeout and lock_timeout for the application's role, the\n" +
			"early warning of the article \"Postgres Failures At Scale\": twice to three times the mean response\n" +
			"time (statement_timeout 3x, lock_timeout 2x), and from the tail (2x and 1x the p99.9). It says what\n" +
			"share of the run's requests each value would have cancelled, and prints the ALTER ROLE statements.",
		Example: `  pgscale timeouts results/runs/20261206T101500Z-select-only
  pgscale timeouts run/result.json --role webservice
  pgscale timeouts run --variant no-timeout --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.path = args[0]
			if err := c.Validate(cmd.Flags().Changed("role")); err != nil {
				return err
			}
			return c.Run(stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.role, "role", "", "`NAME` of the role the application connects as (default: a placeholder to edit)")
	fl.StringVar(&c.variant, "variant", "", "keep only this variant's series (`NAME`)")
	fl.BoolVar(&c.json, "json", false, "print the proposals as JSON")
	return cmd
}
