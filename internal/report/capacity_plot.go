package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// capacityFigure draws a capacity search: each probe's p99 against the rate it offered, in the
// order they ran, met in green and broken in red, with the SLO's latency bound and
// the capacity found. nil when the run has no capacity search.
func capacityFigure(run *Run) (*Figure, error) {
	var res *Result
	for _, r := range run.Results {
		if r.Capacity != nil && len(r.Capacity.Probes) > 0 {
			res = r
			break
		}
	}
	if res == nil {
		return nil, nil
	}
	c := res.Capacity
	pn := newPanel("Capacity search: "+res.Scenario, "offered rate ("+c.Unit+")", "p99 latency (ms)")
	var met, broke plotter.XYs
	lo, hi := 0.0, 0.0
	for _, p := range c.Probes {
		if p.Series < 0 || p.Series >= len(res.Series) {
			continue
		}
		p99 := res.Series[p.Series].LatencyMs.P99
		if p99 <= 0 {
			continue
		}
		xy := plotter.XY{X: p.RatePerS, Y: p99}
		if p.Met {
			met = append(met, xy)
		} else {
			broke = append(broke, xy)
		}
		if lo == 0 || p99 < lo {
			lo = p99
		}
		hi = max(hi, p99)
	}
	add := func(xys plotter.XYs, col color.Color, name string) error {
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot capacity: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.2), Shape: draw.CircleGlyph{}}
		pn.p.Add(s)
		pn.legend.Add(name, s)
		return nil
	}
	if err := add(met, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, "probe met the SLO"); err != nil {
		return nil, err
	}
	if err := add(broke, errorColor, "probe broke it"); err != nil {
		return nil, err
	}
	x0, x1 := c.Probes[0].RatePerS, c.Probes[0].RatePerS
	for _, p := range c.Probes {
		x0, x1 = min(x0, p.RatePerS), max(x1, p.RatePerS)
	}
	if slo, err := ParseSLO(c.SLO); err == nil {
		for _, t := range slo.Terms {
			if t.Metric != "p99" {
				continue
			}
			l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: t.Bound}, {X: x1, Y: t.Bound}})
			if err == nil {
				l.LineStyle.Color, l.LineStyle.Dashes = sloColor, []vg.Length{vg.Points(5), vg.Points(4)}
				pn.p.Add(l)
				pn.legend.Add(fmt.Sprintf("SLO p99 < %s ms", formatNum(t.Bound)), l)
			}
			lo, hi = min(lo, t.Bound), max(hi, t.Bound)
		}
	}
	if c.RatePerS > 0 && hi > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: c.RatePerS, Y: lo}, {X: c.RatePerS, Y: hi}})
		if err == nil {
			l.LineStyle.Color, l.LineStyle.Width = colorAt(0), vg.Points(1.4)
			pn.p.Add(l)
			pn.legend.Add(fmt.Sprintf("capacity %s %s", groupThousands(c.RatePerS), c.Unit), l)
		}
	}
	if wantLog(lo, hi) {
		pn.logY(lo, hi)
		pn.yLabel = "p99 latency (ms, log scale)"
	}
	caption := fmt.Sprintf("Each probe ran %gs after %gs of warm-up at one open-loop rate; the search doubled the rate until a probe "+
		"broke the SLO twice in a row, then bisected. %s.", c.ProbeDurationS, c.ProbeWarmupS, upperFirst(c.Sentence))
	f, err := render(FileStem(res.Scenario)+"-capacity", "Capacity search", caption, []*panel{pn}, panelHeight)
	if err != nil {
		return nil, err
	}
	return &f, nil
}
