package report

// A panel of a figure (one gonum/plot plot with its lines and axes), and rendering panels into a
// PNG and SVG figure.

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

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
