package report

// The sweep figure: the headline and p99 along the swept dimension, one line per variant.

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func sweepFigure(run *Run, x Dim, slo float64) (Figure, error) {
	slo = run.LatencySLO(slo)
	lines := run.SweepLines(x, slo)
	if len(lines) > maxLinesPerPlot {
		lines = lines[:maxLinesPerPlot]
	}
	xLabel := x.Name
	pos := func(v any) float64 {
		if x.Numeric {
			f, _ := number(v)
			return f
		}
		return float64(indexOfValue(x.Values, v))
	}
	anyErrors := false
	for _, l := range lines {
		for _, g := range l.Groups {
			if g.TotalErrors() > 0 {
				anyErrors = true
			}
		}
	}
	h := run.Headline
	tput := newPanel(h.Sentence()+" vs "+x.Name, xLabel, h.Label+" ("+h.Unit+")")
	lat := newPanel("p99 latency vs "+x.Name, xLabel, "p99 latency (ms)")
	panels := []*panel{tput, lat}
	var errPn *panel
	if anyErrors {
		errPn = newPanel("Errors vs "+x.Name, xLabel, "errors (per s)")
		panels = append(panels, errPn)
	}
	lo, hi := math.Inf(1), 0.0
	var knees [3]plotter.XYs
	// A line's colour is its variant, its dash pattern the other varying dimensions'
	// values (max_connections=100 dashed beside max_connections=40 solid).
	variants := run.Variants()
	var fixed []string
	for _, l := range lines {
		if f := PointString(l.Fixed); !contains(fixed, f) {
			fixed = append(fixed, f)
		}
	}
	for _, l := range lines {
		i := indexOf(fixed, PointString(l.Fixed))*len(palette) + indexOf(variants, l.Variant)
		var t, p, e plotter.XYs
		for k, g := range l.Groups {
			xv := pos(g.Point[x.Name])
			if g.HasHeadline {
				t = append(t, plotter.XY{X: xv, Y: g.Headline})
			}
			if g.Latency.P99 > 0 {
				p = append(p, plotter.XY{X: xv, Y: g.Latency.P99})
				lo, hi = math.Min(lo, g.Latency.P99), math.Max(hi, g.Latency.P99)
			}
			e = append(e, plotter.XY{X: xv, Y: g.ErrorRate()})
			if k == l.Knee {
				if g.HasHeadline {
					knees[0] = append(knees[0], plotter.XY{X: xv, Y: g.Headline})
				}
				if g.Latency.P99 > 0 {
					knees[1] = append(knees[1], plotter.XY{X: xv, Y: g.Latency.P99})
				}
				knees[2] = append(knees[2], plotter.XY{X: xv, Y: g.ErrorRate()})
			}
		}
		label := l.Label()
		if err := tput.line(label, t, i, true); err != nil {
			return Figure{}, err
		}
		if err := lat.line(label, p, i, true); err != nil {
			return Figure{}, err
		}
		if errPn != nil {
			if err := errPn.line(label, e, i, true); err != nil {
				return Figure{}, err
			}
		}
	}
	if slo > 0 && len(lines) > 0 {
		x0, x1 := pos(x.Values[0]), pos(x.Values[len(x.Values)-1])
		sl, err := plotter.NewLine(plotter.XYs{{X: x0, Y: slo}, {X: x1, Y: slo}})
		if err == nil {
			sl.LineStyle.Color = sloColor
			sl.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
			sl.LineStyle.Width = vg.Points(1)
			lat.p.Add(sl)
			lat.legend.Add(fmt.Sprintf("SLO: p99 %s ms", formatNum(slo)), sl)
			lo, hi = math.Min(lo, slo), math.Max(hi, slo)
		}
	}
	kneeLabel := "knee: first errors"
	if slo > 0 {
		kneeLabel = fmt.Sprintf("knee: p99 > %s ms or first errors", formatNum(slo))
	}
	for i, pn := range panels {
		if len(knees[i]) == 0 {
			continue
		}
		s, err := plotter.NewScatter(knees[i])
		if err != nil {
			return Figure{}, fmt.Errorf("plot knee: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: kneeColor, Radius: vg.Points(7), Shape: draw.RingGlyph{}}
		pn.p.Add(s)
		pn.legend.Add(kneeLabel, s)
	}
	if wantLog(lo, hi) {
		lat.logY(lo, hi)
		lat.yLabel = "p99 latency (ms, log scale)"
	} else {
		headroom(lat.p)
	}
	headroom(tput.p)
	if errPn != nil {
		headroom(errPn.p)
	}
	for _, pn := range panels {
		setSweepAxis(pn.p, x)
	}
	name := FileStem(run.Scenario) + "-sweep-" + FileStem(x.Name)
	title := fmt.Sprintf("%s: %s and p99 against %s", run.Scenario, h.Label, x.Name)
	caption := "Each line is a variant; red rings mark its knee. " + kneeNote(x.Name, slo)
	if n := len(run.SweepLines(x, slo)); n > len(lines) {
		caption += fmt.Sprintf(" The first %d of %d lines are drawn.", len(lines), n)
	}
	return render(name, title, caption, panels, panelHeight*vg.Length(len(panels)))
}

// setSweepAxis puts ticks at the swept values (log scale when they span a factor of 8 or more),
// dropping labels that would crowd their neighbours.
func setSweepAxis(p *plot.Plot, x Dim) {
	if !x.Numeric {
		var ticks plot.ConstantTicks
		for i, v := range x.Values {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: fmt.Sprint(v)})
		}
		p.X.Tick.Marker = ticks
		p.X.Min, p.X.Max = -0.5, float64(len(x.Values))-0.5
		return
	}
	vals := make([]float64, len(x.Values))
	for i, v := range x.Values {
		vals[i], _ = number(v)
	}
	lo, hi := vals[0], vals[len(vals)-1]
	logX := lo > 0 && hi/lo >= 8
	norm := func(v float64) float64 {
		if logX {
			return math.Log(v/lo) / math.Log(hi/lo)
		}
		if hi == lo {
			return 0
		}
		return (v - lo) / (hi - lo)
	}
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = lo/1.15, hi*1.15
	} else {
		pad := (hi - lo) * 0.05
		if pad == 0 {
			pad = math.Max(math.Abs(lo)*0.1, 1)
		}
		p.X.Min, p.X.Max = lo-pad, hi+pad
	}
	// 0.05 of the axis is ~40 px at 1000 px: room for a 5-digit label at 9.5 pt.
	const minGap = 0.05
	var ticks plot.ConstantTicks
	last := math.Inf(-1)
	for i, v := range vals {
		t := plot.Tick{Value: v}
		n := norm(v)
		if i == 0 || (n-last >= minGap && (i == len(vals)-1 || norm(vals[len(vals)-1])-n >= minGap)) || i == len(vals)-1 {
			t.Label = formatNum(v)
			last = n
		}
		ticks = append(ticks, t)
	}
	p.X.Tick.Marker = ticks
}

// ---- timelines
