package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
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
	if x, ok := run.Swept(); ok {
		f, err := sweepFigure(run, x, slo)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
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

// panel is one plot of a figure and the legend drawn to its right.
type panel struct {
	p      *plot.Plot
	legend plot.Legend
	// yLabel is drawn by render, centred on the data area: gonum places a log axis' label by the
	// arithmetic middle of its range and so pushes the data area down to make room for it.
	yLabel string
}

func newPanel(title, xLabel, yLabel string) *panel {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(12)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.X.Label.TextStyle.Font = sans(10.5)
	p.X.Tick.Label.Font = sans(9.5)
	p.Y.Tick.Label.Font = sans(9.5)
	p.Y.Tick.Marker = plainTicks{}
	p.Add(plotter.NewGrid())
	l := plot.NewLegend()
	l.TextStyle.Font = sans(9.5)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(18)
	l.Padding = vg.Points(2)
	return &panel{p: p, legend: l, yLabel: yLabel}
}

var yLabelFont = sans(10.5)

// sans is Liberation Sans (bundled with gonum/plot) at size points: on screen it reads better
// than gonum's default serif at the small sizes of tick labels.
func sans(size float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
}

// line adds a polyline (and optional point glyphs) with a legend entry.
func (pn *panel) line(label string, xys plotter.XYs, i int, points bool) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("plot %q: %w", label, err)
	}
	l.LineStyle.Color = colorAt(i)
	l.LineStyle.Width = vg.Points(1.6)
	l.LineStyle.Dashes = dashesAt(i)
	pn.p.Add(l)
	thumbs := []plot.Thumbnailer{l}
	if points || len(xys) == 1 {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %q: %w", label, err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: colorAt(i), Radius: vg.Points(2.8), Shape: draw.CircleGlyph{}}
		pn.p.Add(s)
		thumbs = append(thumbs, s)
	}
	if label != "" {
		pn.legend.Add(label, thumbs...)
	}
	return nil
}

// logY switches the y axis to a log scale with readable ticks, for latencies spanning decades.
// Values must be positive; the caller leaves out zeros.
func (pn *panel) logY(minPos, maxV float64) {
	if minPos <= 0 || maxV <= 0 {
		return
	}
	pn.p.Y.Scale = plot.LogScale{}
	pn.p.Y.Tick.Marker = logTicks{}
	pn.p.Y.Min = minPos / 1.25
	pn.p.Y.Max = maxV * 1.25
}

// headroom starts a linear y axis at 0 and leaves 8% above the highest value, so that no line
// runs along the frame.
func headroom(p *plot.Plot) {
	p.Y.Min = 0
	if p.Y.Max > 0 {
		p.Y.Max *= 1.08
	} else {
		p.Y.Max = 1
	}
}

// wantLog tells whether values from lo to hi read better on a log axis: when they span more
// than a factor of 20 (tried on select-only, where p50 is 0.05 ms and the tail 300 ms).
func wantLog(lo, hi float64) bool { return lo > 0 && hi/lo > 20 }

// render draws panels stacked vertically with a shared legend column on the right, so legends
// never cover data, and returns the figure in PNG and SVG.
func render(name, title, caption string, panels []*panel, height vg.Length) (Figure, error) {
	fig := Figure{Name: name, Title: title, Caption: caption}
	legendW := vg.Length(0)
	for _, pn := range panels {
		r := pn.legend.Rectangle(draw.Canvas{})
		legendW = max(legendW, r.Max.X-r.Min.X)
	}
	if legendW > 0 {
		legendW += vg.Points(14)
	}
	// A legend wider than 40% of the figure would squeeze the data; render() callers shorten
	// labels, so this only guards odd input.
	legendW = min(legendW, figureWidth*0.4)
	draw1 := func(c draw.Canvas) {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		labelW := yLabelFont.Size * 1.6
		plotArea := draw.Crop(c, labelW, -legendW, 0, 0)
		rows := make([][]*plot.Plot, len(panels))
		for i, pn := range panels {
			rows[i] = []*plot.Plot{pn.p}
		}
		tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
			PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(10)}
		canvases := plot.Align(rows, tiles, plotArea)
		for i, pn := range panels {
			pc := canvases[i][0]
			pn.p.Draw(pc)
			dc := pn.p.DataCanvas(pc)
			lc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: c.Max.X - legendW + vg.Points(6), Y: dc.Min.Y},
				Max: vg.Point{X: c.Max.X, Y: dc.Max.Y},
			}}
			pn.legend.Draw(lc)
			if pn.yLabel != "" {
				sty := text.Style{Color: color.Black, Font: yLabelFont, Rotation: math.Pi / 2, XAlign: draw.XCenter,
					YAlign: draw.YTop, Handler: pn.p.TextHandler}
				c.FillText(sty, vg.Point{X: c.Min.X + vg.Points(3), Y: (dc.Min.Y + dc.Max.Y) / 2}, pn.yLabel)
			}
		}
	}

	img := vgimg.NewWith(vgimg.UseWH(figureWidth, height), vgimg.UseDPI(plotDPI))
	draw1(draw.New(img))
	var pngBuf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pngBuf); err != nil {
		return fig, fmt.Errorf("plot %s: png: %w", name, err)
	}
	b := img.Image().Bounds()
	fig.PNG, fig.Width, fig.Height = pngBuf.Bytes(), b.Dx(), b.Dy()

	svg := vgsvg.New(figureWidth, height)
	draw1(draw.New(svg))
	var svgBuf bytes.Buffer
	if _, err := svg.WriteTo(&svgBuf); err != nil {
		return fig, fmt.Errorf("plot %s: svg: %w", name, err)
	}
	fig.SVG = svgBuf.Bytes()
	return fig, nil
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

// percentileTicks labels x = 1/(1-p) at 0%, 50%, 90%, 99%, 99.9%, … up to xMax.
func percentileTicks(xMax float64) plot.Ticker {
	ticks := plot.ConstantTicks{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
	for e := 1; math.Pow(10, float64(e)) <= xMax*1.0001; e++ {
		x := math.Pow(10, float64(e))
		label := fmt.Sprintf("%.*f%%", max(e-2, 0), 100*(1-1/x)) // 90%, 99%, 99.9%, 99.99%
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
		for m := 2; m < 10; m++ {
			if v := float64(m) * x / 10; v > 2 {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// plainTicks label a linear axis at 4 to 8 round values (steps of 1, 2 or 5 times a power of
// ten) with a minor tick between, labels free of trailing zeros ("500", not "500.00"). gonum's
// default often labels only two values on the short panels of a timeline.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		v = math.Round(v/step) * step // no 0.30000000000000004
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if m := v + step/2; m < hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

// logTicks labels a log axis at 1-2-5 steps (or every step within a decade), never empty.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	build := func(labelled map[int]bool) ([]plot.Tick, int) {
		var ticks []plot.Tick
		n := 0
		for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
			for m := 1; m < 10; m++ {
				v := float64(m) * math.Pow(10, float64(e))
				if v < lo || v > hi {
					continue
				}
				t := plot.Tick{Value: v}
				if labelled == nil || labelled[m] {
					t.Label = strings.TrimSuffix(formatNum(v), ".0")
					n++
				}
				ticks = append(ticks, t)
			}
		}
		return ticks, n
	}
	decades := math.Log10(hi / lo)
	set := map[int]bool{1: true, 2: true, 5: true}
	if decades > 3 {
		set = map[int]bool{1: true}
	}
	ticks, n := build(set)
	if n < 2 {
		ticks, _ = build(nil)
	}
	return ticks
}

// ---- sweep

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
	var ops, errs, p50, p99 plotter.XYs
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
			p50 = append(p50, plotter.XY{X: t, Y: sec.P50Ms})
			lo = math.Min(lo, sec.P50Ms)
		}
		if sec.P99Ms > 0 {
			p99 = append(p99, plotter.XY{X: t, Y: sec.P99Ms})
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
	if err := lat.line("p99", p99, 5, false); err != nil {
		return nil, err
	}
	if err := lat.line("p50", p50, 0, false); err != nil {
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
	for _, pn := range panels {
		pn.p.X.Min, pn.p.X.Max = xMin, xMax
		pn.p.X.Tick.Marker = secondTicks{}
	}
	name := fmt.Sprintf("%s-timeline-%02d-%s", FileStem(run.Scenario), index, FileStem(g.Label()))
	title := "Timeline: " + label
	caption := "Per second: successful operations and errors, p50/p99 latency"
	if conns != nil {
		caption += ", and the server's connections by state (pg_stat_activity, pg_locks)"
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

// secondTicks labels a time axis in whole seconds, at most about 12 labels: every second of a
// quick run, every 5 or 10 of a longer one.
type secondTicks struct{}

func (secondTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = s
		if span/s <= 12 {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: formatNum(v)})
	}
	return ticks
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
