package report

import (
	"fmt"
	"image/color"
	"regexp"
	"strings"

	"gonum.org/v1/plot/vg"
)

// Plot geometry. A figure is figureWidth wide and panelHeight tall per panel (spectrum: one
// taller panel); PNGs are drawn at plotDPI, so a figure is 1000 px wide, which fits a report
// page and a GitHub step summary without scaling text below 10 px. Chosen by looking at the
// rendered select-only and connect-storm reports.
const (
	plotDPI        = 100
	figureWidth    = 10 * vg.Inch
	panelHeight    = 2.9 * vg.Inch
	spectrumHeight = 4.6 * vg.Inch
	// maxLinesPerPlot keeps a plot's lines distinguishable: the palette has 8 colours.
	maxLinesPerPlot = 8
	// DefaultMaxTimelines caps the per-series timeline figures of a report; a sweep of 48 series
	// shows an even selection of each variant's points instead of 48 figures.
	DefaultMaxTimelines = 12
	// DefaultSLO is the p99 latency (ms) that marks a sweep's knee unless the caller sets one.
	DefaultSLO = 100.0
)

// Figure is one rendered plot, in PNG and SVG.
type Figure struct {
	Name    string // file name without extension, e.g. "select-only-spectrum"
	Title   string
	Caption string
	PNG     []byte
	SVG     []byte
	Width   int // PNG size in pixels
	Height  int
}

// PlotOptions tune Plots.
type PlotOptions struct {
	// SLO is the p99 (ms) that marks the knee of a sweep; 0 means DefaultSLO, <0 none.
	SLO float64
	// MaxTimelines caps the per-series timeline figures; 0 means DefaultMaxTimelines.
	MaxTimelines int
}

func (o PlotOptions) slo() float64 {
	switch {
	case o.SLO == 0:
		return DefaultSLO
	case o.SLO < 0:
		return 0
	}
	return o.SLO
}

// Okabe–Ito colours: distinguishable for colour-blind readers and in greyscale print.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{120, 120, 120, 255}, // grey (instead of yellow, unreadable on white)
	color.RGBA{0, 0, 0, 255},       // black
}

var (
	errorColor  = color.RGBA{200, 30, 30, 255}
	kneeColor   = color.RGBA{200, 30, 30, 255}
	warmupColor = color.RGBA{235, 235, 235, 255}
	sloColor    = color.RGBA{90, 90, 90, 255}
)

func colorAt(i int) color.Color { return palette[i%len(palette)] }

// dashesAt gives lines beyond the palette's size a dash pattern, so that no two look the same.
func dashesAt(i int) []vg.Length {
	switch (i / len(palette)) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return nil
}

// Plots renders a run's figures: the latency percentile spectrum, the sweep (when a dimension
// varies), and a timeline per series (throughput and errors, p50/p99, connections).
func Plots(run *Run, opts PlotOptions) (figs []Figure, err error) {
	// gonum/plot panics on some degenerate inputs; a report must not take the run down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", run.Scenario, r)
		}
	}()
	slo := opts.slo()
	spectra, err := spectrumFigures(run)
	if err != nil {
		return nil, err
	}
	figs = append(figs, spectra...)
	stmts, err := statementFigures(run)
	if err != nil {
		return nil, err
	}
	figs = append(figs, stmts...)
	if x, ok := run.Swept(); ok {
		f, err := sweepFigure(run, x, slo)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	if f, err := capacityFigure(run); err != nil {
		return nil, err
	} else if f != nil {
		figs = append(figs, *f)
	}
	maxTL := opts.MaxTimelines
	if maxTL == 0 {
		maxTL = DefaultMaxTimelines
	}
	for i, g := range TimelineGroups(run, maxTL) {
		f, err := timelineFigure(run, g, i+1)
		if err != nil {
			return nil, err
		}
		if f != nil {
			figs = append(figs, *f)
		}
	}
	return figs, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// FileStem turns a name into a safe file name part.
func FileStem(s string) string {
	s = strings.ToLower(s)
	s = nonFileChars.ReplaceAllString(s, "-")
	return strings.Trim(s, "-")
}

var nonFileChars = regexp.MustCompile(`[^a-z0-9._]+`)

// ShortLabel names a group by its variant and only the point values that vary in the run, so
// legends stay short (connect=pool is left out when every series used the pool). A value the
// group's point lacks (a parameter of another variant) is left out too.
func (run *Run) ShortLabel(g *Group) string {
	vary := map[string]any{}
	for _, d := range run.Dims {
		if v, ok := g.Point[d.Name]; ok && len(d.Values) > 1 {
			vary[d.Name] = v
		}
	}
	if len(vary) == 0 {
		return g.Variant
	}
	return g.Variant + " " + PointString(vary)
}

// ---- latency percentile spectrum
