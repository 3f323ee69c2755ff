package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/usage"
)

// reportFormats are what `pgscale report --format` writes: files into --out, the rest to stdout.
var reportFormats = []string{"files", "md", "html", "gobench", "text"}

// reportCmd is `pgscale report`: paths in, report files (or one format on stdout) out.
type reportCmd struct {
	paths        []string
	out          string
	format       string
	slo          time.Duration
	sloGiven     bool // --slo was given: it overrides the SLO a run recorded (run --slo)
	maxTimelines int
}

// Validate reports every bad flag at once.
func (c *reportCmd) Validate() error {
	var errs []string
	if !contains(reportFormats, c.format) {
		errs = append(errs, fmt.Sprintf("--format %q: want one of %s", c.format, strings.Join(reportFormats, ", ")))
	}
	if c.slo < 0 {
		errs = append(errs, fmt.Sprintf("--slo %s: must be 0 (no SLO) or a p99 latency such as 100ms", c.slo))
	}
	if c.maxTimelines < 0 {
		errs = append(errs, fmt.Sprintf("--max-timelines %d: must be 0 or more", c.maxTimelines))
	}
	if len(errs) > 0 {
		return usage.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// outDir is --out, or the run directory when given one, or results/reports/<utc-time>.
func (c *reportCmd) outDir(now time.Time) string {
	if c.out != "" {
		return c.out
	}
	if len(c.paths) == 1 {
		if st, err := os.Stat(c.paths[0]); err == nil && st.IsDir() {
			return c.paths[0]
		}
		return filepath.Dir(c.paths[0])
	}
	return filepath.Join("results", "reports", now.UTC().Format("20060102T150405Z"))
}

func (c *reportCmd) Run(stdout, stderr io.Writer) error {
	settleKilled(c.paths, stderr)
	results, err := report.LoadAll(c.paths)
	if err != nil {
		return inputError(err)
	}
	opts := report.ReportOptions{SLO: sloMs(c.slo), MaxTimelines: c.maxTimelines, NoPlots: c.format != "files" && c.format != "html"}
	if !c.sloGiven {
		opts.SLO = 0 // the SLO the run recorded (run --slo), else the default
	}
	switch c.format {
	case "gobench":
		return report.WriteGoBench(stdout, results)
	case "text":
		for _, run := range report.Combine(results) {
			for _, r := range run.Results {
				fmt.Fprint(stdout, report.Text(r))
			}
		}
		return nil
	}
	doc, err := report.NewDocument(results, opts)
	if err != nil {
		return inputError(err)
	}
	switch c.format {
	case "md":
		_, err := io.WriteString(stdout, doc.Markdown())
		return err
	case "html":
		_, err := stdout.Write(doc.HTML())
		return err
	}
	out := c.outDir(time.Now())
	if err := doc.Write(out, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %s in %s\n", report.ReportMarkdownFile, report.ReportHTMLFile, out)
	return nil
}

// sloMs turns --slo into report options' milliseconds: 0 means no SLO there.
func sloMs(d time.Duration) float64 {
	if d == 0 {
		return -1
	}
	return float64(d) / float64(time.Millisecond)
}

// inputError makes bad input (no result.json, unknown schema, mixed scenarios) a usage error.
func inputError(err error) error {
	if errors.Is(err, report.ErrBadInput) {
		return usage.Errorf("%v", err)
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &reportCmd{}
	cmd := &cobra.Command{
		Use:   "report DIR... [flags]",
		Short: "Render report.md, report.html and plots from run results",
		Long: "report renders one run, several runs or repeats (run directories or result.json files) into\n" +
			"report.md (Markdown for a CI step summary), report.html (self-contained, printable), bench.txt\n" +
			"(Go benchmark format, for benchstat) and plots/ (PNG and SVG). Runs of one scenario are combined;\n" +
			"different scenarios get a section each.",
		Example: `  pgscale report results/runs/20261123T120844Z-select-only
  pgscale report run1 run2 run3 --out /tmp/report
  pgscale report results/runs/*-connect-storm --slo 250ms
  pgscale report run1 --format gobench > new.txt && benchstat old.txt new.txt
  pgscale report run1 --format md >> "$GITHUB_STEP_SUMMARY"`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.paths = args
			c.sloGiven = cmd.Flags().Changed("slo")
			if err := c.Validate(); err != nil {
				return err
			}
			return c.Run(stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.out, "out", "", "directory for the report files (default: the run directory, or results/reports/<utc-time> for several)")
	fl.StringVar(&c.format, "format", "files", "files (write into --out), or one of md, html, gobench, text on stdout")
	fl.DurationVar(&c.slo, "slo", 100*time.Millisecond, "p99 latency that marks a sweep's knee; 0 for none (default: the run's own --slo, else 100ms)")
	fl.IntVar(&c.maxTimelines, "max-timelines", 0, fmt.Sprintf("most per-series timeline plots (0: %d)", report.DefaultMaxTimelines))
	return cmd
}

// settleKilled marks the running results among paths whose process is gone as failed (saying
// so on stderr), so that a killed run is read as failed, not as running or ok. A result that
// cannot be rewritten is read as it is, running, which is not ok either.
func settleKilled(paths []string, stderr io.Writer) {
	if _, err := runner.SettleKilled(paths, stderr, false); err != nil {
		fmt.Fprintf(stderr, "pgscale: %v\n", err)
	}
}
