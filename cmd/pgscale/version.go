package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/runner"
)

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pgscale's version and commit",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			b := runner.BuildInfo()
			fmt.Fprintf(stdout, "pgscale %s", b.Version)
			if b.Commit != "" {
				fmt.Fprintf(stdout, " (%s)", b.Commit)
			}
			fmt.Fprintf(stdout, " %s\n", b.GoVersion)
			return nil
		},
	}
}
