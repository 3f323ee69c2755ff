package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/usage"
)

func newCleanCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		dryRun, anyHost, prepared bool
		dsn                       string
		otherHostAge              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove servers, containers, data directories and dsn schemas left by killed runs, and mark their results failed",
		Long: "clean removes what killed runs left on this machine: local servers and their data directories,\n" +
			"unfinished template builds, and containers and networks. With --dsn (or $" + envDSN + ") it also\n" +
			"cleans that server: it terminates the sessions, and drops the replication slots, schemas (pgscale_<run>) and roles, of\n" +
			"pgscale runs that are no longer alive. It touches only schemas and roles that carry a pgscale run's\n" +
			"marker (a comment naming the run, its pgscale pid, host and start). A run is alive while its pgscale\n" +
			"process runs on this host, or while a shard of it holds the run's advisory lock. This host cannot\n" +
			"see another host's processes: a run of another host counts as dead only with --any-host, or once\n" +
			"it started more than --other-host-age ago. Schemas made by pgscale prepare are kept unless\n" +
			"--prepared is given.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dsn == "" {
				dsn = os.Getenv(envDSN)
			}
			if cmd.Flags().Changed("other-host-age") && otherHostAge <= 0 {
				return usage.Fieldf("other-host-age", "%s: must be more than 0", otherHostAge)
			}
			if dsn == "" {
				for _, name := range []string{"any-host", "other-host-age", "prepared"} {
					if cmd.Flags().Changed(name) {
						return usage.Errorf("--%s is for cleaning a dsn target: give --dsn (or $%s)", name, envDSN)
					}
				}
			} else if _, err := harness.ParseDSN(dsn); err != nil {
				return err
			}
			_, err := harness.Clean(cmd.Context(), stdout, dryRun)
			if _, serr := runner.SettleKilled([]string{runner.RunsDir}, stdout, dryRun); serr != nil {
				fmt.Fprintf(stderr, "pgscale: marking killed runs failed: %v\n", serr)
			}
			if dsn != "" {
				_, dsnErr := harness.CleanDSN(cmd.Context(), stdout, harness.CleanDSNOptions{DSN: dsn, DryRun: dryRun,
					AnyHost: anyHost, OtherHostAge: otherHostAge, Prepared: prepared})
				err = errors.Join(err, dsnErr)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&dryRun, "dry-run", false, "only say what would be removed")
	fl.StringVar(&dsn, "dsn", "", "also clean this existing server (URL or key=value; default $"+envDSN+")")
	fl.BoolVar(&anyHost, "any-host", false, "--dsn: count runs started on other hosts as dead, whatever their age")
	fl.DurationVar(&otherHostAge, "other-host-age", harness.DefaultOtherHostAge, "--dsn: a run of another host is dead once it started this long ago")
	fl.BoolVar(&prepared, "prepared", false, "--dsn: also drop schemas that pgscale prepare made for a run that never came")
	return cmd
}
