package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/columns"
	"github.com/pgscale/pgscale/internal/harness"
)

func newColumnsCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := columns.Options{Log: stderr}
	cmd := &cobra.Command{
		Use:   "columns",
		Short: "Work out what column order costs an existing table, and propose a better one",
		Long: "columns reads pg_attribute, pg_type and pg_stats of existing tables (in a read-only transaction) and\n" +
			"works out the alignment padding per row now and in a proposed column order, the saving in bytes per\n" +
			"row and over the whole table, and the DDL of a reordered copy. It never alters anything; --verify\n" +
			"copies a sample of rows into both layouts in a scratch schema, measures them, and drops the schema.\n" +
			"Without a server, --target local --ddl FILE.sql starts one, runs the file, and analyzes its tables.",
		Example: "  pgscale columns --dsn postgres://app@db:5432/app --table public.orders --verify\n" +
			"  pgscale columns --dsn 'host=db dbname=app' --schema billing --json\n" +
			"  pgscale columns --target local --ddl schema.sql",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// $PGSCALE_DSN stands in for --dsn, as for run, only where the dsn target applies
			// (not for --ddl without --target, which means local).
			if opts.Target == harness.KindDSN || opts.Target == "" && opts.DDLFile == "" {
				opts.DSN = dsnOrEnv(opts.DSN, harness.KindDSN)
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			return columns.Run(cmd.Context(), opts, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DSN, "dsn", "", "server to analyze (URL or key=value pairs; default $"+envDSN+")")
	fl.StringVar(&opts.Table, "table", "", "table to analyze, schema-qualified or on the search path")
	fl.StringVar(&opts.Schema, "schema", "", "analyze every table of this schema (with --table: the table's schema)")
	fl.BoolVar(&opts.JSON, "json", false, "write JSON instead of text")
	fl.BoolVar(&opts.Verify, "verify", false, "copy a sample into both layouts in a scratch schema and measure the real sizes")
	fl.IntVar(&opts.Sample, "sample", columns.DefaultSample, "rows --verify copies")
	fl.StringVar(&opts.Target, "target", "", "dsn (default) or local: start a server from the installed binaries for --ddl")
	fl.StringVar(&opts.DDLFile, "ddl", "", "with --target local: a file of CREATE TABLE statements to analyze")
	return cmd
}
