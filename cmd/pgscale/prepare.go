package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/usage"
)

// prepareFlags are `pgscale prepare`'s flags.
type prepareFlags struct {
	dsn, runID string
	sets       []string
	workers    int
	quick      bool
}

func newPrepareCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	var f prepareFlags
	cmd := &cobra.Command{
		Use:   "prepare SCENARIO --dsn DSN --run-id ID [flags]",
		Short: "Set a scenario up on a dsn target ahead of its run (pgscale run --skip-setup)",
		Long: "prepare creates the run's schema (pgscale_<run id>) on an existing server, creates the scenario's\n" +
			"tables and loads its data there, and leaves them for the run: pgscale run with the same --run-id,\n" +
			"--set, --workers and --quick and with --skip-setup (every shard of a sharded run) uses them instead\n" +
			"of setting up, and drops the schema when it ends. prepare writes nothing else.",
		Example: `  pgscale prepare queue --dsn "$DSN" --run-id orders-1 --workers 2000
  pgscale run queue --target dsn --dsn "$DSN" --run-id orders-1 --workers 2000 --shard 0/10 --skip-setup`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			sets, err := parsePairs("--set", f.sets)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("workers") && f.workers <= 0 {
				return usage.Fieldf("workers", "%d: must be at least 1", f.workers)
			}
			p, err := runner.ValidatePreload(runner.PreloadOptions{Scenario: args[0], Sets: sets, Workers: f.workers,
				Quick: f.quick, DSN: dsnOrEnv(f.dsn, harness.KindDSN), RunID: f.runID, Log: stderr, Tracker: tracker})
			if err != nil {
				return err
			}
			started := time.Now()
			schema, err := p.Preload(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "prepared %s for run %s in schema %s in %s; run it with --run-id %s --skip-setup\n",
				args[0], f.runID, schema, time.Since(started).Round(time.Millisecond), f.runID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dsn, "dsn", "", "the existing server (URL or key=value), as the run's --dsn (default $"+envDSN+")")
	fl.StringVar(&f.runID, "run-id", "", "the run's id, as the run's --run-id (it names the schema)")
	fl.StringArrayVar(&f.sets, "set", nil, "scenario parameter `NAME=VALUE`, repeatable, as the run's")
	fl.IntVar(&f.workers, "workers", 0, "concurrent workers, as the run's --workers")
	fl.BoolVar(&f.quick, "quick", false, "the scenario's short preset, as the run's --quick")
	return cmd
}
