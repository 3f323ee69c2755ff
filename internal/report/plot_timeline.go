package report

// The timeline figures: per second, throughput, latency, connections and database load on the
// server, with the warm-up shaded and events marked.

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TimelineGroups picks the groups that get a timeline figure: all of them up to max, otherwise
// an even selection of each variant's points (always its first and last).
func TimelineGroups(run *Run, max int) []*Group {
	var withTL []*Group
	for _, g := range run.Groups {
		if len(g.Repeats) > 0 && len(g.Repeats[0].Timeline) > 0 {
			withTL = append(withTL, g)
		}
	}
	if len(withTL) <= max {
		return withTL
	}
	variants := run.Variants()
	per := max / len(variants)
	if per < 1 {
		per = 1
	}
	var out []*Group
	for _, v := range variants {
		var gs []*Group
		for _, g := range withTL {
			if g.Variant == v {
				gs = append(gs, g)
			}
		}
		out = append(out, evenly(gs, per)...)
		if len(out) >= max {
			return out[:max]
		}
	}
	return out
}

// evenly picks n items spread over gs, keeping the first and the last.
func evenly(gs []*Group, n int) []*Group {
	if len(gs) <= n || n <= 0 {
		return gs
	}
	if n == 1 {
		return gs[:1]
	}
	out := make([]*Group, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, gs[int(math.Round(float64(i)*float64(len(gs)-1)/float64(n-1)))])
	}
	return out
}

func timelineFigure(run *Run, g *Group, index int) (*Figure, error) {
	s := g.Repeats[0]
	tl := s.Timeline
	label := g.Label()
	tput := newPanel("Throughput and errors: "+label, "time since start (s)", "ops/s")
	lat := newPanel("Latency: "+label, "time since start (s)", "latency (ms)")
	var ops, errs plotter.XYs
	var errSeconds []float64
	warmEnd := 0.0
	lo, hi := math.Inf(1), 0.0
	for _, sec := range tl {
		t := float64(sec.T) - 0.5 // the middle of the second the entry covers
		if sec.Warmup {
			warmEnd = math.Max(warmEnd, float64(sec.T))
		}
		ops = append(ops, plotter.XY{X: t, Y: float64(sec.Ops)})
		errs = append(errs, plotter.XY{X: t, Y: float64(sec.Errors)})
		if sec.Errors > 0 {
			errSeconds = append(errSeconds, t)
		}
		if sec.P50Ms > 0 {
			lo = math.Min(lo, sec.P50Ms)
		}
		if sec.P99Ms > 0 {
			hi = math.Max(hi, sec.P99Ms)
		}
	}
	xMin, xMax := 0.0, float64(tl[len(tl)-1].T)
	panels := []*panel{tput, lat}
	var conns *panel
	if hasServer(tl) {
		conns = newPanel("Server connections: "+label, "time since start (s)", "connections")
		panels = append(panels, conns)
	}
	if warmEnd > 0 {
		for _, pn := range panels {
			b := &band{x0: xMin, x1: warmEnd, color: warmupColor}
			pn.p.Add(b)
			pn.legend.Add("warm-up (excluded)", b)
		}
	}
	if err := tput.line("successful ops/s", ops, 0, false); err != nil {
		return nil, err
	}
	if len(errSeconds) > 0 {
		l, err := plotter.NewLine(errs)
		if err != nil {
			return nil, fmt.Errorf("plot errors: %w", err)
		}
		l.LineStyle.Color, l.LineStyle.Width = errorColor, vg.Points(1.6)
		tput.p.Add(l)
		tput.legend.Add("errors/s", l)
	}
	// A second with no completions has no latency: the lines break there (timeline_load.go).
	if err := lat.gappedLine("p99", tl, func(sec Second) float64 { return sec.P99Ms }, 5); err != nil {
		return nil, err
	}
	if err := lat.gappedLine("p50", tl, func(sec Second) float64 { return sec.P50Ms }, 0); err != nil {
		return nil, err
	}
	if len(errSeconds) > 0 {
		m := &edgeMarks{xs: errSeconds, color: errorColor}
		lat.p.Add(m)
		lat.legend.Add("second with errors", m)
	}
	if wantLog(lo, hi) {
		lat.logY(lo, hi)
		lat.yLabel = "latency (ms, log scale)"
	} else {
		headroom(lat.p)
	}
	headroom(tput.p)
	if conns != nil {
		series := []struct {
			name string
			get  func(*ServerSample) int
		}{
			{"active", func(s *ServerSample) int { return s.Active }},
			{"idle", func(s *ServerSample) int { return s.Idle }},
			{"idle in transaction", func(s *ServerSample) int { return s.IdleInTransaction }},
			{"waiting on a lock", func(s *ServerSample) int { return s.WaitingOnLock }},
		}
		peak, maxConn := 0, 0
		for i, c := range series {
			var xys plotter.XYs
			for _, sec := range tl {
				if sec.Server == nil {
					continue
				}
				v := c.get(sec.Server)
				xys = append(xys, plotter.XY{X: float64(sec.T) - 0.5, Y: float64(v)})
				peak = max(peak, sec.Server.Connections, v)
				maxConn = max(maxConn, sec.Server.MaxConnections)
			}
			name := c.name
			if allZero(xys) {
				name += " (0 throughout)"
			}
			if err := conns.line(name, xys, []int{0, 6, 1, 5}[i], false); err != nil {
				return nil, err
			}
		}
		// max_connections is drawn only when the load comes near it, else it flattens the lines.
		if maxConn > 0 && 2*peak >= maxConn {
			l, err := plotter.NewLine(plotter.XYs{{X: xMin, Y: float64(maxConn)}, {X: xMax, Y: float64(maxConn)}})
			if err == nil {
				l.LineStyle.Color, l.LineStyle.Width = sloColor, vg.Points(1)
				l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
				conns.p.Add(l)
				conns.legend.Add(fmt.Sprintf("max_connections (%d)", maxConn), l)
			}
		}
		headroom(conns.p)
	}
	extra, err := loadPanels(run, s, label, warmEnd)
	if err != nil {
		return nil, err
	}
	panels = append(panels, extra...)
	dead, err := deadTuplePanel(tl, label, warmEnd)
	if err != nil {
		return nil, err
	}
	if dead != nil {
		panels = append(panels, dead)
	}
	for _, pn := range panels {
		pn.p.X.Min, pn.p.X.Max = xMin, xMax
		pn.p.X.Tick.Marker = secondTicks{}
	}
	markEvents(panels, tl)
	name := fmt.Sprintf("%s-timeline-%02d-%s", FileStem(run.Scenario), index, FileStem(g.Label()))
	title := "Timeline: " + label
	caption := "Per second: successful operations and errors, p50/p99 latency"
	if conns != nil {
		caption += ", and the server's connections by state (pg_stat_activity, pg_locks)"
	}
	if len(extra) > 0 {
		caption += "; the database load (average active sessions by wait class, as Performance Insights draws it, with the server's CPUs as a line) and the CPU the server, the load generator and the host kept busy"
	}
	if dead != nil {
		caption += "; the tables' dead tuples (n_dead_tup)"
	}
	caption += "."
	if warmEnd > 0 {
		caption += " The grey band is the warm-up, excluded from the figures."
	}
	if len(g.Repeats) > 1 {
		caption += fmt.Sprintf(" Repeat 1 of %d.", len(g.Repeats))
	}
	f, err := render(name, title, caption, panels, panelHeight*vg.Length(len(panels)))
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func allZero(xys plotter.XYs) bool {
	for _, p := range xys {
		if p.Y != 0 {
			return false
		}
	}
	return true
}

func hasServer(tl []Second) bool {
	for _, s := range tl {
		if s.Server != nil {
			return true
		}
	}
	return false
}

// band shades an x range over the whole height of a plot (the warm-up).
type band struct {
	x0, x1 float64
	color  color.Color
}

func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x0, x1 := max(trX(b.x0), c.Min.X), min(trX(b.x1), c.Max.X)
	if x1 <= x0 {
		return
	}
	c.FillPolygon(b.color, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
}

func (b *band) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(b.color, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// edgeMarks draws a short tick along the top edge of the plot at each x (the seconds with
// errors), whatever the y range.
type edgeMarks struct {
	xs    []float64
	color color.Color
}

func (m *edgeMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.GlyphStyle{Color: m.color, Radius: vg.Points(3.5), Shape: draw.PyramidGlyph{}}
	for _, x := range m.xs {
		c.DrawGlyph(sty, vg.Point{X: trX(x), Y: c.Max.Y - vg.Points(4)})
	}
}

func (m *edgeMarks) Thumbnail(c *draw.Canvas) {
	sty := draw.GlyphStyle{Color: m.color, Radius: vg.Points(3.5), Shape: draw.PyramidGlyph{}}
	c.DrawGlyph(sty, c.Center())
}
