package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Report file names inside an output directory.
const (
	ReportMarkdownFile = "report.md"
	ReportHTMLFile     = "report.html"
	BenchFile          = "bench.txt"
	PlotsDir           = "plots"
)

// ReportOptions tune a report.
type ReportOptions struct {
	// SLO is the p99 in ms that marks a sweep's knee: 0 means DefaultSLO, <0 none.
	SLO float64
	// MaxTimelines caps the per-series timeline figures: 0 means DefaultMaxTimelines.
	MaxTimelines int
	// NoPlots leaves the figures out (text only).
	NoPlots bool
}

func (o ReportOptions) slo() float64 { return PlotOptions{SLO: o.SLO}.slo() }

// Document is a report over one or several results: a section per scenario.
type Document struct {
	Sections []*Section
	SLO      float64 // ms; 0 when no SLO applies
}

// Section is one scenario's part of a report.
type Section struct {
	Run      *Run
	Findings []string
	Figures  []Figure
}

// NewDocument combines results (repeats and several runs of a scenario merge; different
// scenarios get a section each), computes the findings and renders the figures.
func NewDocument(results []*Result, opts ReportOptions) (*Document, error) {
	if len(results) == 0 {
		return nil, badInputf("no results to report on")
	}
	if opts.SLO == 0 {
		opts.SLO = RecordedSLO(results) // the run's own --slo, else still 0: DefaultSLO
	}
	doc := &Document{SLO: opts.slo()}
	for _, run := range Combine(results) {
		sec := &Section{Run: run, Findings: Findings(run, doc.SLO)}
		if !opts.NoPlots {
			figs, err := Plots(run, PlotOptions{SLO: opts.SLO, MaxTimelines: opts.MaxTimelines})
			if err != nil {
				return nil, err
			}
			sec.Figures = figs
		}
		doc.Sections = append(doc.Sections, sec)
	}
	return doc, nil
}

// WriteReport renders results into dir: report.md, report.html, bench.txt and the figures under
// plots/ as PNG and SVG. It writes every file it can and returns the errors joined.
func WriteReport(dir string, results []*Result, opts ReportOptions) error {
	doc, err := NewDocument(results, opts)
	if err != nil {
		return err
	}
	return doc.Write(dir, results)
}

// Write writes the document's files into dir (see WriteReport).
func (d *Document) Write(dir string, results []*Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var errs []error
	if d.hasFigures() {
		pdir := filepath.Join(dir, PlotsDir)
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		for _, s := range d.Sections {
			for _, f := range s.Figures {
				errs = append(errs,
					WriteAtomic(filepath.Join(pdir, f.Name+".png"), f.PNG),
					WriteAtomic(filepath.Join(pdir, f.Name+".svg"), f.SVG))
			}
		}
	}
	errs = append(errs,
		WriteAtomic(filepath.Join(dir, ReportMarkdownFile), []byte(d.Markdown())),
		WriteAtomic(filepath.Join(dir, ReportHTMLFile), d.HTML()),
		WriteAtomic(filepath.Join(dir, BenchFile), []byte(GoBench(results...))))
	return errors.Join(errs...)
}

func (d *Document) hasFigures() bool {
	for _, s := range d.Sections {
		if len(s.Figures) > 0 {
			return true
		}
	}
	return false
}

// Title names the document after its scenarios.
func (d *Document) Title() string {
	names := make([]string, len(d.Sections))
	for i, s := range d.Sections {
		names[i] = s.Run.Scenario
	}
	return "pgscale report: " + strings.Join(names, ", ")
}

// ---- table data shared by the Markdown and HTML renderers

type envRow struct {
	Run, Status, Started, Target, Server, Duration, Host, Pgscale string
}

func (s *Section) envRows() []envRow {
	var rows []envRow
	for _, r := range s.Run.Results {
		e := r.Environment
		host := fmt.Sprintf("%d cores, %s/%s", e.Host.Cores, e.Host.OS, e.Host.Arch)
		if e.Host.CPUModel != "" {
			host = e.Host.CPUModel + ", " + host
		}
		if e.Host.MemoryMB > 0 {
			host += fmt.Sprintf(", %d MB", e.Host.MemoryMB)
		}
		target := e.Target
		if shape := e.TargetDetail["shape"]; shape != "" {
			target += " (" + shape + ")"
		}
		status := r.Status
		if r.Reason != "" {
			status += ": " + r.Reason
		}
		rows = append(rows, envRow{
			Run: r.RunID, Status: status, Started: r.StartedAt.UTC().Format("2006-01-02 15:04:05Z"),
			Target: target, Server: e.ServerVersion, Duration: fmt.Sprintf("%s + %s warm-up", r.Duration, r.Warmup),
			Host: host, Pgscale: strings.TrimSpace(e.Pgscale.Version + " " + e.Pgscale.Commit),
		})
	}
	return rows
}

// settings lists the first result's server settings as name=value, and whether the other
// results' differ.
func (s *Section) settings() (string, bool) {
	first := s.Run.Results[0].Environment.Settings
	keys := make([]string, 0, len(first))
	for k := range first {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + first[k]
	}
	differ := false
	for _, r := range s.Run.Results[1:] {
		if PointString(toAny(r.Environment.Settings)) != PointString(toAny(first)) {
			differ = true
		}
	}
	return strings.Join(parts, ", "), differ
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// seriesHeader is the header of the series table: ops/s, and the headline after it when it is a
// metric of its own (rows/s); ops/s takes the headline's unit when it is ops/s under another name
// (requests/s).
func (s *Section) seriesHeader() []string {
	h := s.Run.Headline
	header := []string{"variant", "point", "repeats", h.OpsUnit()}
	if h.OwnMetric() {
		header = append(header, h.Unit)
	}
	return append(header, "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors")
}

func (s *Section) seriesRows() [][]string {
	var rows [][]string
	for _, g := range s.Run.Groups {
		row := []string{g.Variant, PointString(g.Point), fmt.Sprint(len(g.Repeats)), fmt.Sprintf("%.1f", g.Throughput)}
		if s.Run.Headline.OwnMetric() {
			row = append(row, formatHeadline(g.Headline, g.HasHeadline))
		}
		rows = append(rows, append(row, fmt.Sprintf("%.3f", g.Latency.P50), fmt.Sprintf("%.3f", g.Latency.P90),
			fmt.Sprintf("%.3f", g.Latency.P99), fmt.Sprintf("%.3f", g.Latency.P999), fmt.Sprintf("%.3f", g.Latency.Max),
			ErrorString(g.Errors)))
	}
	return rows
}

// repeatsNote says how repeats combine in the series table.
func (s *Section) repeatsNote() string {
	h := s.Run.Headline
	rates := h.OpsUnit() + " is the median"
	if h.OwnMetric() {
		rates = h.OpsUnit() + " and " + h.Unit + " are medians"
	}
	return "With repeats: " + rates + "; latency percentiles come from the merged histograms; errors are summed."
}

// kneeRows is the table of knees of a sweep, nil when nothing is swept.
func (s *Section) kneeRows(slo float64) (Dim, []string, [][]string) {
	x, ok := s.Run.Swept()
	if !ok {
		return x, nil, nil
	}
	h := s.Run.Headline
	header := []string{"variant", "knee at " + x.Name, "why", h.Unit + " there", "p99 ms there", "best " + h.Unit + " (at " + x.Name + ")"}
	var rows [][]string
	for _, l := range s.Run.SweepLines(x, slo) {
		var best *Group
		for _, g := range l.Groups {
			if g.HasHeadline && (best == nil || h.HigherIsBetter() && g.Headline > best.Headline ||
				!h.HigherIsBetter() && g.Headline < best.Headline) {
				best = g
			}
		}
		bestCell := ""
		if best != nil {
			bestCell = fmt.Sprintf("%s (%v)", formatNum(best.Headline), best.Point[x.Name])
		}
		if l.Knee < 0 {
			rows = append(rows, []string{l.Label(), "none", "", "", "", bestCell})
			continue
		}
		g := l.Groups[l.Knee]
		there := ""
		if g.HasHeadline {
			there = formatNum(g.Headline)
		}
		rows = append(rows, []string{l.Label(), fmt.Sprint(g.Point[x.Name]), l.KneeReason,
			there, formatNum(g.Latency.P99), bestCell})
	}
	return x, header, rows
}

// metricsTable is the scenario-specific metrics, one row per metric and a column per group when
// there are few groups (the metrics outnumber them), else a row per group. Values are medians
// over repeats.
func (s *Section) metricsTable() ([]string, [][]string) {
	var names []string
	for _, g := range s.Run.Groups {
		for _, r := range g.Repeats {
			for k := range r.Metrics {
				if !contains(names, k) {
					names = append(names, k)
				}
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	value := func(g *Group, m string) string {
		var xs []float64
		for _, r := range g.Repeats {
			if v, ok := r.Metrics[m]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			return ""
		}
		return formatMetric(median(xs))
	}
	gs := s.Run.Groups
	if len(gs) <= 8 {
		header := []string{"metric"}
		for _, g := range gs {
			header = append(header, s.Run.ShortLabel(g))
		}
		var rows [][]string
		for _, m := range names {
			row := []string{m}
			for _, g := range gs {
				row = append(row, value(g, m))
			}
			rows = append(rows, row)
		}
		return header, rows
	}
	header := append([]string{"series"}, names...)
	var rows [][]string
	for _, g := range gs {
		row := []string{s.Run.ShortLabel(g)}
		for _, m := range names {
			row = append(row, value(g, m))
		}
		rows = append(rows, row)
	}
	return header, rows
}

func (s *Section) warnings() []string {
	var out []string
	for _, r := range s.Run.Results {
		for _, w := range r.Warnings {
			if !contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

func (s *Section) timelineNote() string {
	n := 0
	for _, g := range s.Run.Groups {
		if len(g.Repeats) > 0 && len(g.Repeats[0].Timeline) > 0 {
			n++
		}
	}
	shown := 0
	for _, f := range s.Figures {
		if strings.Contains(f.Name, "-timeline-") {
			shown++
		}
	}
	if shown > 0 && shown < n {
		return fmt.Sprintf("Timelines are shown for %d of the %d series, spread over each variant's points.", shown, n)
	}
	return ""
}

// kneeNote explains the knee in a sentence.
func kneeNote(x string, slo float64) string {
	if slo > 0 {
		return fmt.Sprintf("The knee is the first value of %s at which errors begin or p99 passes the %s ms SLO.", x, formatNum(slo))
	}
	return fmt.Sprintf("The knee is the first value of %s at which errors begin.", x)
}
