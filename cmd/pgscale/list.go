package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/scenarios"
)

func newListCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the scenarios, one line each",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return listScenarios(stdout)
		},
	}
}

func listScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, name := range scenarios.Names() {
		sc, err := scenarios.Lookup(name)
		if err != nil {
			return err
		}
		doc := sc.Doc()
		fmt.Fprintf(tw, "%s\t%s\n", name, doc.Summary)
	}
	return tw.Flush()
}

func newDescribeCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "describe SCENARIO",
		Short: "Show a scenario's parameters, their defaults, and what it shows",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			sc, err := scenarios.Lookup(args[0])
			if err != nil {
				return err
			}
			describe(stdout, sc.Doc())
			return nil
		},
	}
}

func describe(w io.Writer, doc scenarios.Doc) {
	fmt.Fprintf(w, "%s: %s\n\n%s\n\n", doc.Name, doc.Summary, doc.Shows)
	if len(doc.Variants) > 0 {
		fmt.Fprintf(w, "Variants: %s\n", strings.Join(doc.Variants, ", "))
	}
	fmt.Fprintf(w, "Run length: %s + %s warm-up (--quick: %s + %s)\n", doc.Duration, doc.Warmup, doc.QuickDuration, doc.QuickWarmup)
	if doc.Intrusive {
		fmt.Fprintln(w, "Intrusive: yes (a dsn target needs --allow-intrusive)")
	}
	fmt.Fprintln(w, "\nParameters (--set name=value; a list is a,b,c):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tdefault\t--quick\tvalues\tmeaning")
	for _, p := range doc.Params {
		values := string(p.Kind)
		if len(p.Choices) > 0 {
			values = strings.Join(p.Choices, "|")
		}
		if p.List {
			values += " (list)"
		}
		quick := p.Quick
		if quick == "" {
			quick = p.Default
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Name, p.Default, quick, values, p.Help)
	}
	tw.Flush()
}
