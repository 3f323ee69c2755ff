package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// slowestStatements is how many statements the slowest-statements figure shows.
const slowestStatements = 10

// statementLabelWidth caps a statement's label on the figure's axis.
const statementLabelWidth = 48

// statementFigures draws, for each group of run with a per-statement breakdown, the slowest
// statements by p99 as horizontal bars of p50, p99 and p99.9.
func statementFigures(run *Run) ([]Figure, error) {
	var figs []Figure
	for i, g := range run.Groups {
		slow := BreakdownOf(g.Repeats).Slowest(slowestStatements)
		if len(slow) == 0 {
			continue
		}
		title := "Slowest statements by p99"
		name := FileStem(run.Scenario) + "-statements"
		if len(run.Groups) > 1 {
			title += ": " + g.Label()
			name += fmt.Sprintf("-%d", i+1)
		}
		pn := newPanel(title, "latency (ms)", "")
		names := make([]string, len(slow))
		// Bars run bottom-up: the slowest goes on top.
		for j, s := range slow {
			names[len(slow)-1-j] = shorten(s.Label, statementLabelWidth)
		}
		width := vg.Points(7)
		quantiles := []struct {
			label string
			of    func(Percentiles) float64
		}{
			{"p50", func(p Percentiles) float64 { return p.P50 }},
			{"p99", func(p Percentiles) float64 { return p.P99 }},
			{"p99.9", func(p Percentiles) float64 { return p.P999 }},
		}
		for q, quant := range quantiles {
			vals := make(plotter.Values, len(slow))
			for j, s := range slow {
				vals[len(slow)-1-j] = quant.of(s.LatencyMs)
			}
			bars, err := plotter.NewBarChart(vals, width)
			if err != nil {
				return nil, fmt.Errorf("plot statements: %w", err)
			}
			bars.Horizontal = true
			bars.Color = colorAt(q)
			bars.LineStyle.Width = 0
			bars.Offset = width * vg.Length(1-q)
			pn.p.Add(bars)
			pn.legend.Add(quant.label, bars)
		}
		pn.p.NominalY(names...)
		pn.p.Y.Tick.Label.Font = sans(8.5)
		pn.p.X.Min = 0
		pn.p.X.Tick.Marker = plot.DefaultTicks{}
		height := vg.Points(float64(90 + 30*len(slow)))
		f, err := render(name, title, "The statements with the highest p99 latency, "+
			"with their p50 and p99.9: where a script spends its slowest time. Labels are file:line and the SQL's first line.",
			[]*panel{pn}, height)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
