package report

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// Chart is one panel of a figure drawn by another package (the sizing report) in the report's
// own style: its fonts, grid, and a legend column beside the data, never over it.
type Chart struct{ pn *panel }

// NewChart starts a panel with a title and axis labels.
func NewChart(title, xLabel, yLabel string) *Chart {
	return &Chart{pn: newPanel(title, xLabel, yLabel)}
}

// Plot is the gonum plot to add plotters to and to set axes on.
func (c *Chart) Plot() *plot.Plot { return c.pn.p }

// Legend adds a legend entry drawn with the given thumbnails.
func (c *Chart) Legend(label string, thumbs ...plot.Thumbnailer) { c.pn.legend.Add(label, thumbs...) }

// PlainTicks marks a linear axis with round numbers, as the report's plots do.
func PlainTicks() plot.Ticker { return plainTicks{} }

// LogTicks marks a log axis at 1, 2 and 5 times powers of ten, as the report's plots do.
func LogTicks() plot.Ticker { return logTicks{} }

// Color is the report's palette (Okabe–Ito, readable by colour-blind readers and in greyscale).
func Color(i int) color.Color { return colorAt(i) }

// HighlightColor is the colour the report marks a knee or a limit with.
func HighlightColor() color.Color { return kneeColor }

// Sans is the report's font at size points.
func Sans(size float64) font.Font { return sans(size) }

// RenderCharts draws charts stacked in one figure (PNG and SVG), each panelHeight tall, with the
// legends in a column on the right.
func RenderCharts(name, title, caption string, charts []*Chart) (fig Figure, err error) {
	panels := make([]*panel, len(charts))
	for i, c := range charts {
		panels[i] = c.pn
	}
	return render(name, title, caption, panels, panelHeight*vg.Length(len(charts)))
}
