package report

import (
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/pgscale/pgscale/result"
)

// gappedLine draws value over the timeline as one line per run of seconds that had completions:
// a second with none has no latency, and a line drawn across it would invent one.
func (pn *panel) gappedLine(label string, tl []Second, value func(Second) float64, i int) error {
	for n, seg := range gapSegments(tl, value) {
		l := label
		if n > 0 {
			l = "" // one legend entry for all the pieces
		}
		if err := pn.line(l, seg, i, false); err != nil {
			return err
		}
	}
	return nil
}

// gapSegments splits the timeline's values into runs of seconds with completions.
func gapSegments(tl []Second, value func(Second) float64) []plotter.XYs {
	var out []plotter.XYs
	var seg plotter.XYs
	for _, sec := range tl {
		v := value(sec)
		if sec.Ops == 0 || v <= 0 {
			if len(seg) > 0 {
				out = append(out, seg)
			}
			seg = nil
			continue
		}
		seg = append(seg, plotter.XY{X: float64(sec.T) - 0.5, Y: v})
	}
	if len(seg) > 0 {
		out = append(out, seg)
	}
	return out
}

// waitClassColors follow Performance Insights' picture: CPU green, IO blue, locks red.
var waitClassColors = map[string]color.Color{
	WaitCPU:     color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"IO":        color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"Lock":      color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"LWLock":    color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"Client":    color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	"IPC":       color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	"Timeout":   color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	"BufferPin": color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

func waitClassColor(class string, i int) color.Color {
	if c, ok := waitClassColors[class]; ok {
		return c
	}
	return colorAt(i)
}

// loadPanels are the database load (average active sessions stacked by wait class, the
// server's CPUs as a line) and the CPU of both sides over time; none for a timeline without
// v2 readings.
func loadPanels(run *Run, s *Series, label string, warmEnd float64) ([]*panel, error) {
	tl := s.Timeline
	totals := map[string]float64{}
	hasUsage := false
	for _, sec := range tl {
		if sec.Server == nil {
			continue
		}
		for k, v := range LoadByClass(sec.Server.Load) {
			totals[k] += v
		}
		hasUsage = hasUsage || sec.Server.Usage != nil
	}
	if len(totals) == 0 && !hasUsage {
		return nil, nil
	}
	var out []*panel
	res := run.resources()
	if len(totals) > 0 {
		pn := newPanel("Database load: "+label, "time since start (s)", "average active sessions")
		classes := make([]string, 0, len(totals))
		for k := range totals {
			classes = append(classes, k)
		}
		// CPU at the bottom, then the largest classes.
		sort.Slice(classes, func(i, j int) bool {
			if (classes[i] == WaitCPU) != (classes[j] == WaitCPU) {
				return classes[i] == WaitCPU
			}
			return totals[classes[i]] > totals[classes[j]]
		})
		// Stacked areas: the cumulative sum up to each class, drawn from the top down so each
		// fill covers the one below it only where it is its own.
		cum := make([]plotter.XYs, len(classes))
		for _, sec := range tl {
			if sec.Server == nil || (sec.Server.Load == nil && sec.Server.Usage == nil) {
				continue // no reading; a v2 reading without load had no active session
			}
			byClass := LoadByClass(sec.Server.Load)
			sum := 0.0
			for i, c := range classes {
				sum += byClass[c]
				cum[i] = append(cum[i], plotter.XY{X: float64(sec.T) - 0.5, Y: sum})
			}
		}
		for i := len(classes) - 1; i >= 0; i-- {
			if len(cum[i]) == 0 {
				continue
			}
			l, err := plotter.NewLine(cum[i])
			if err != nil {
				return nil, fmt.Errorf("plot database load: %w", err)
			}
			col := waitClassColor(classes[i], i)
			l.LineStyle.Color, l.LineStyle.Width = col, vg.Points(0.8)
			l.FillColor = col
			pn.p.Add(l)
			pn.legend.Add(classes[i], l)
		}
		if res != nil && res.ServerCPUs > 0 && len(cum[0]) > 0 {
			x0, x1 := 0.0, float64(tl[len(tl)-1].T)
			l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: res.ServerCPUs}, {X: x1, Y: res.ServerCPUs}})
			if err == nil {
				l.LineStyle.Color, l.LineStyle.Width = sloColor, vg.Points(1.2)
				l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
				pn.p.Add(l)
				pn.legend.Add(fmt.Sprintf("server CPUs (%g)", res.ServerCPUs), l)
			}
		}
		headroom(pn.p)
		pn.p.Y.Tick.Marker = plainTicks{}
		out = append(out, pn)
	}
	if hasUsage {
		pn := newPanel("CPU: "+label, "time since start (s)", "CPUs busy")
		var server, client, host plotter.XYs
		for _, sec := range tl {
			if sec.Server == nil || sec.Server.Usage == nil {
				continue
			}
			u, t := sec.Server.Usage, float64(sec.T)-0.5
			if u.ServerCPU != nil {
				server = append(server, plotter.XY{X: t, Y: *u.ServerCPU})
			}
			client = append(client, plotter.XY{X: t, Y: u.ClientCPU})
			if u.HostCPU != nil {
				host = append(host, plotter.XY{X: t, Y: *u.HostCPU})
			}
		}
		serverLabel := "server"
		if len(server) == 0 && res != nil && res.ServerUnavailable != "" {
			serverLabel = ""
			pn.p.Title.Text += " (server CPU unavailable on this target)"
		}
		if serverLabel != "" {
			if err := pn.line(serverLabel, server, 0, false); err != nil {
				return nil, err
			}
		}
		if err := pn.line("load generator", client, 1, false); err != nil {
			return nil, err
		}
		if err := pn.line("host, every process", host, 5, false); err != nil {
			return nil, err
		}
		headroom(pn.p)
		pn.p.Y.Tick.Marker = plainTicks{}
		out = append(out, pn)
	}
	if warmEnd > 0 {
		for _, pn := range out {
			b := &band{x0: 0, x1: warmEnd, color: warmupColor}
			pn.p.Add(b)
		}
	}
	return out, nil
}

// resources are the run's first result's, nil when none has them (v1 results).
func (run *Run) resources() *Resources {
	for _, r := range run.Results {
		if r.Environment.Resources != nil {
			return r.Environment.Resources
		}
	}
	return nil
}

// timelineEvents names the first second a scenario's timeline column turns on: ddl-lock's
// blocker and ALTER, and the queue's long transaction (taken, and ended).
var timelineEvents = []struct{ column, label string }{
	{result.ColumnBlockerHolding, "blocker takes its lock"},
	{result.ColumnDDLWaiting, "ALTER issued"},
	{result.ColumnXminHeld, "long transaction takes its snapshot"},
	{result.ColumnXminReleased, "long transaction ended"},
}

// markEvents draws a vertical line at each scenario event on every panel.
func markEvents(panels []*panel, tl []Second) {
	var marks []eventMark
	for _, ev := range timelineEvents {
		for _, sec := range tl {
			if sec.Extra[ev.column] > 0 { // the first second it is on
				marks = append(marks, eventMark{x: float64(sec.T) - 1, label: ev.label})
				break
			}
		}
	}
	if len(marks) == 0 {
		return
	}
	for _, pn := range panels {
		for j, m := range marks {
			l, err := plotter.NewLine(plotter.XYs{{X: m.x, Y: pn.p.Y.Min}, {X: m.x, Y: pn.p.Y.Max}})
			if err != nil {
				continue
			}
			l.LineStyle.Color, l.LineStyle.Width = colorAt(3+j), vg.Points(1)
			l.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			pn.p.Add(l)
			pn.legend.Add(fmt.Sprintf("%s (%gs)", m.label, m.x), l)
		}
	}
}

type eventMark struct {
	x     float64
	label string
}
