package sizing

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgscale/pgscale/internal/report"
)

// PlotName is the capacity plot's file name, without extension.
const PlotName = "size-capacity"

var (
	failColor   = color.RGBA{150, 150, 150, 255}
	needColor   = color.RGBA{90, 90, 90, 255}
	poolerColor = report.Color(2)
)

// CapacityPlot draws, for each provider, every class's usable connections (max_connections less
// the reserved slots) against its monthly price: one marker per class, filled when it passes all
// four checks, the pick ringed, the pick with the other connection mode marked, and the
// workload's need in each mode as a horizontal line.
func CapacityPlot(r *Report) (fig report.Figure, err error) {
	// gonum/plot panics on some degenerate inputs; a sizing must not fail on its plot.
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("plot %s: %v", PlotName, rec)
		}
	}()
	var charts []*report.Chart
	for _, p := range r.Providers {
		c, err := capacityChart(r, p)
		if err != nil {
			return fig, err
		}
		charts = append(charts, c)
	}
	if len(charts) == 0 {
		return fig, fmt.Errorf("plot %s: no providers", PlotName)
	}
	d, a := r.Demand[r.Mode], r.Demand[r.Alternative]
	caption := fmt.Sprintf("Usable connections (max_connections less reserved slots) against the monthly price (instance and storage), "+
		"one marker per class; filled: passes connections, memory, CPU and storage with %s headroom %s; hollow: fails one. "+
		"Ringed in red: the pick %s; triangle: the pick %s. Lines: the workload needs %d connections %s and %d %s.",
		pct(r.Workload.Headroom.Value), modeText(r.Mode), modeText(r.Mode), modeText(r.Alternative), d.Connections, modeText(r.Mode), a.Connections, modeText(r.Alternative))
	return report.RenderCharts(PlotName, "Capacity against price", caption, charts)
}

func capacityChart(r *Report, p ProviderReport) (*report.Chart, error) {
	c := report.NewChart(fmt.Sprintf("%s (%s, %s)", p.Provider, p.Region, p.Currency), "price per month ("+p.Currency+")", "usable connections")
	pl := c.Plot()
	var pass, fail plotter.XYs
	minX, maxX, minY, maxY := 0.0, 0.0, 0.0, 0.0
	first := true
	for _, e := range p.Choice.Ranked {
		if e.Price <= 0 || e.Usable <= 0 {
			continue // a log axis cannot show it
		}
		xy := plotter.XY{X: e.Price, Y: float64(e.Usable)}
		if e.Pass {
			pass = append(pass, xy)
		} else {
			fail = append(fail, xy)
		}
		if first {
			minX, maxX, minY, maxY = xy.X, xy.X, xy.Y, xy.Y
			first = false
		}
		minX, maxX = min(minX, xy.X), max(maxX, xy.X)
		minY, maxY = min(minY, xy.Y), max(maxY, xy.Y)
	}
	if first {
		return c, nil
	}
	scatter := func(xys plotter.XYs, sty draw.GlyphStyle, label string) error {
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", label, err)
		}
		s.GlyphStyle = sty
		pl.Add(s)
		if label != "" {
			c.Legend(label, s)
		}
		return nil
	}
	if err := scatter(pass, draw.GlyphStyle{Color: report.Color(0), Radius: vg.Points(3.2), Shape: draw.CircleGlyph{}}, "passes"); err != nil {
		return nil, err
	}
	if err := scatter(fail, draw.GlyphStyle{Color: failColor, Radius: vg.Points(3.2), Shape: draw.RingGlyph{}}, "fails"); err != nil {
		return nil, err
	}
	mark := func(e *Evaluation, sty draw.GlyphStyle, label string, named bool) error {
		if e == nil || e.Price <= 0 || e.Usable <= 0 {
			return nil
		}
		xy := plotter.XYs{{X: e.Price, Y: float64(e.Usable)}}
		if err := scatter(xy, sty, fmt.Sprintf("%s: %s", label, e.Class)); err != nil {
			return err
		}
		if !named {
			return nil
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: []string{" " + e.Class}})
		if err != nil {
			return err
		}
		l.TextStyle[0].Font = report.Sans(9)
		l.TextStyle[0].XAlign = draw.XLeft
		l.Offset = vg.Point{X: vg.Points(8), Y: vg.Points(-3)}
		pl.Add(l)
		return nil
	}
	if err := mark(p.Choice.Pick, draw.GlyphStyle{Color: report.HighlightColor(), Radius: vg.Points(6), Shape: draw.RingGlyph{}}, "pick, "+modeText(r.Mode), true); err != nil {
		return nil, err
	}
	if err := mark(p.Alternative.Pick, draw.GlyphStyle{Color: poolerColor, Radius: vg.Points(5), Shape: draw.TriangleGlyph{}}, "pick, "+modeText(r.Alternative),
		p.Alternative.Pick != nil && (p.Choice.Pick == nil || p.Alternative.Pick.Class != p.Choice.Pick.Class)); err != nil {
		return nil, err
	}
	for i, mode := range []string{r.Mode, r.Alternative} {
		need := float64(r.Demand[mode].Connections)
		if need <= 0 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: minX / 1.3, Y: need}, {X: maxX * 1.3, Y: need}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = needColor
		l.LineStyle.Width = vg.Points(1.2)
		if i == 1 {
			l.LineStyle.Color = poolerColor
			l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		pl.Add(l)
		c.Legend(fmt.Sprintf("need %s: %d", modeText(mode), int(need)), l)
		minY, maxY = min(minY, need), max(maxY, need)
	}
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Tick.Marker, pl.Y.Tick.Marker = report.LogTicks(), report.LogTicks()
	pl.X.Min, pl.X.Max = minX/1.3, maxX*1.3
	pl.Y.Min, pl.Y.Max = minY/1.5, maxY*1.5
	return c, nil
}
