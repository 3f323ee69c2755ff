package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios"
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
			describeCost(stdout, sc)
			return nil
		},
	}
}

func describe(w io.Writer, doc scenarios.Doc) {
	fmt.Fprintf(w, "%s: %s\n\n%s\n\n", doc.Name, doc.Summary, doc.Shows)
	if len(doc.Variants) > 0 {
		fmt.Fprintf(w, "Variants: %s\n", strings.Join(doc.Variants, ", "))
	}
	switch {
	case doc.Duration+doc.Warmup == 0:
		fmt.Fprintln(w, "Run length per point: as long as its work takes (--duration does not apply)")
	default:
		fmt.Fprintf(w, "Run length per point: %s + %s warm-up (--quick: %s + %s", doc.Duration, doc.Warmup, doc.QuickDuration, doc.QuickWarmup)
		if doc.HasFull() {
			d, wu := doc.RunLength(scenarios.PresetFull)
			fmt.Fprintf(w, "; --preset full: %s + %s", d, wu)
		}
		fmt.Fprintln(w, ")")
	}
	if doc.Intrusive {
		fmt.Fprintln(w, "Intrusive: yes (a dsn target needs --allow-intrusive)")
	}
	fmt.Fprintln(w, "\nParameters (--set name=value; a list is a,b,c):")
	for _, p := range doc.Params {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, paramValues(p, doc.HasFull()))
		for _, line := range wrapWords(p.Help, describeWidth) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// describeWidth is where describe wraps a parameter's meaning.
const describeWidth = 90

// paramValues is what a parameter takes and its default, with the presets' defaults where they
// differ: "int (list); default 50,500; --quick 50; full 10,100,500,1000,2000".
func paramValues(p scenarios.ParamSpec, full bool) string {
	values := string(p.Kind)
	if len(p.Choices) > 0 {
		values = strings.Join(p.Choices, "|")
	}
	if p.List {
		values += " (list)"
	}
	shown := func(v string) string {
		switch {
		case v == "":
			return `""`
		case p.List && len(p.Choices) > 1 && v == strings.Join(p.Choices, ","):
			return "all"
		}
		return v
	}
	values += "; default " + shown(p.Default)
	if q := p.DefaultIn(scenarios.PresetQuick); q != p.Default {
		values += "; --quick " + shown(q)
	}
	if f := p.DefaultIn(scenarios.PresetFull); full && f != p.Default {
		values += "; full " + shown(f)
	}
	return values
}

// wrapWords breaks text into lines of at most width bytes at spaces (a longer word stands alone).
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// describeCost says what a run of each preset costs: points, time and peak connections, as the
// plan before a run (runner/plan.go) counts them.
func describeCost(w io.Writer, sc scenarios.Scenario) {
	fmt.Fprintln(w, "\nCost of a run (pgscale run --dry-run shows every point):")
	presets := []string{scenarios.PresetQuick, scenarios.PresetDefault}
	if sc.Doc().HasFull() {
		presets = append(presets, scenarios.PresetFull)
	}
	for _, preset := range presets {
		plan, err := runner.PlanScenario(sc, preset)
		if err != nil {
			fmt.Fprintf(w, "  --preset %s: cannot be planned: %v\n", preset, err)
			continue
		}
		fmt.Fprintf(w, "  --preset %-8s %s\n", preset+":", plan.Summary())
	}
}
