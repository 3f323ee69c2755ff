package report

// The latency spectrum figures: each variant percentile by percentile, on log axes.

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// spectrumFigures draws the HDR percentile distribution of every group: latency against
// 1/(1-p) on a log axis labelled 50%, 90%, 99%, 99.9%…, as wrk2 and HdrHistogram plot it.
// Up to maxLinesPerPlot groups share one plot; more get one plot per variant.
func spectrumFigures(run *Run) ([]Figure, error) {
	var withHist []*Group
	for _, g := range run.Groups {
		if g.Histogram != nil && g.Histogram.TotalCount() > 0 {
			withHist = append(withHist, g)
		}
	}
	if len(withHist) == 0 {
		return nil, nil
	}
	sets := [][]*Group{withHist}
	titles := []string{""}
	if len(withHist) > maxLinesPerPlot {
		sets, titles = nil, nil
		for _, v := range run.Variants() {
			var gs []*Group
			for _, g := range withHist {
				if g.Variant == v {
					gs = append(gs, g)
				}
			}
			if len(gs) > 0 {
				sets = append(sets, evenly(gs, maxLinesPerPlot))
				titles = append(titles, v)
			}
		}
	}
	var figs []Figure
	for i, gs := range sets {
		f, err := spectrumFigure(run, gs, titles[i])
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

func spectrumFigure(run *Run, gs []*Group, variant string) (Figure, error) {
	title := "Latency by percentile"
	name := FileStem(run.Scenario) + "-latency-spectrum"
	if variant != "" {
		title += ": " + variant
		name += "-" + FileStem(variant)
	}
	pn := newPanel(title, "percentile (log scale of 1/(1-p))", "latency (ms)")
	lo, hi, xMax := math.Inf(1), 0.0, 10.0
	type curve struct {
		label string
		xys   plotter.XYs
	}
	var curves []curve
	for _, g := range gs {
		h := g.Histogram
		n := float64(h.TotalCount())
		// x = 1/(1-p) from 1 (p=0) to n (the last value), 40 points a decade: smooth at 1000 px.
		top := math.Max(n, 2)
		var xys plotter.XYs
		steps := int(math.Ceil(math.Log10(top) * 40))
		for k := 0; k <= steps; k++ {
			x := math.Pow(10, float64(k)/40)
			if x > top {
				x = top
			}
			q := 100 * (1 - 1/x)
			v := float64(h.ValueAtQuantile(q)) / 1000
			if v <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: v})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		// The last point is the maximum, as the percentile distribution of HdrHistogram ends.
		if mx := float64(h.Max()) / 1000; mx > 0 {
			xys = append(xys, plotter.XY{X: top, Y: mx})
			hi = math.Max(hi, mx)
		}
		xMax = math.Max(xMax, top)
		label := run.ShortLabel(g)
		if variant != "" && label != g.Variant {
			label = strings.TrimPrefix(label, g.Variant+" ") // the title names the variant
		}
		if len(g.Repeats) > 1 {
			label += fmt.Sprintf(" (%d repeats)", len(g.Repeats))
		}
		curves = append(curves, curve{label, xys})
	}
	for i, c := range curves {
		if err := pn.line(c.label, c.xys, i, false); err != nil {
			return Figure{}, err
		}
	}
	pn.p.X.Scale = plot.LogScale{}
	pn.p.X.Min, pn.p.X.Max = 1, xMax
	pn.p.X.Tick.Marker = percentileTicks(xMax)
	caption := "HDR percentile distribution of each series' measured latency (warm-up excluded); " +
		"to the right lie the rarer, slower requests: 99% means 1 in 100 was slower."
	if wantLog(lo, hi) {
		pn.logY(lo, hi)
		pn.yLabel = "latency (ms, log scale)"
	} else {
		headroom(pn.p)
	}
	return render(name, title, caption, []*panel{pn}, spectrumHeight)
}
