package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/harness"
)

func newCleanCmd(stdout io.Writer) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove servers, containers and data directories left by killed runs",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := harness.Clean(cmd.Context(), stdout, dryRun)
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only say what would be removed")
	return cmd
}
