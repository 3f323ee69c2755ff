package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

// inkFraction is the share of pixels that are not (near) white, and the number of distinct
// colours: an empty or blank plot has almost none of either.
func inkFraction(img image.Image) (float64, int) {
	b := img.Bounds()
	ink, colours := 0, map[color.RGBA]bool{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bb < 0xf000 {
				ink++
			}
			if len(colours) < 1000 {
				colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255}] = true
			}
		}
	}
	return float64(ink) / float64(b.Dx()*b.Dy()), len(colours)
}

func checkFigure(t *testing.T, f Figure, wantW, wantH int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(f.PNG))
	if err != nil {
		t.Fatalf("%s: png: %v", f.Name, err)
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH || f.Width != wantW || f.Height != wantH {
		t.Errorf("%s: %dx%d (says %dx%d), want %dx%d", f.Name, b.Dx(), b.Dy(), f.Width, f.Height, wantW, wantH)
	}
	ink, colours := inkFraction(img)
	// A rendered plot with axes, labels and lines inks a few percent of its pixels (4-10% in the
	// fixtures) in many anti-aliased shades; a blank canvas has 0 and 1.
	if ink < 0.01 || colours < 20 {
		t.Errorf("%s: %.2f%% of pixels inked in %d colours: looks empty", f.Name, 100*ink, colours)
	}
	if !bytes.Contains(f.SVG, []byte("<svg")) || !bytes.Contains(f.SVG, []byte("</svg>")) {
		t.Errorf("%s: SVG is not an SVG document (%d bytes)", f.Name, len(f.SVG))
	}
}

func TestPlotsOfASweepWithErrors(t *testing.T) {
	t.Parallel()
	run, err := CombineOne([]*Result{loadFixture(t, fixtureSweep)})
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Plots(run, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 px wide at 100 dpi; a panel is 2.9 in, the spectrum 4.6 in.
	want := map[string][2]int{
		"connect-storm-latency-spectrum": {1000, 460},
		"connect-storm-sweep-workers":    {1000, 870}, // throughput, p99, errors
	}
	for i, g := range run.Groups {
		want[fmt.Sprintf("connect-storm-timeline-%02d-%s", i+1, FileStem(g.Label()))] = [2]int{1000, 870}
	}
	if len(figs) != len(want) {
		var names []string
		for _, f := range figs {
			names = append(names, f.Name)
		}
		t.Fatalf("figures %v, want %d", names, len(want))
	}
	for _, f := range figs {
		size, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected figure %s", f.Name)
			continue
		}
		checkFigure(t, f, size[0], size[1])
		if f.Title == "" || f.Caption == "" {
			t.Errorf("%s: no title or caption", f.Name)
		}
	}
}

func TestPlotsOfRepeatsWithoutASweep(t *testing.T) {
	t.Parallel()
	run, err := CombineOne([]*Result{loadFixture(t, fixtureRepeatsA)})
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Plots(run, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 3 { // spectrum + two timelines, no sweep
		t.Fatalf("%d figures, want 3", len(figs))
	}
	for _, f := range figs {
		if strings.Contains(f.Name, "sweep") {
			t.Errorf("a sweep plot without a swept dimension: %s", f.Name)
		}
		h := 870
		if strings.HasSuffix(f.Name, "spectrum") {
			h = 460
		}
		checkFigure(t, f, 1000, h)
	}
}

func TestManySeriesAreGrouped(t *testing.T) {
	t.Parallel()
	base := loadFixture(t, fixtureSweep)
	r := *base
	r.Series = nil
	// 2 variants x 24 worker counts: 48 series.
	for _, v := range []string{"cold", "warm"} {
		for i := 1; i <= 24; i++ {
			s := base.Series[0]
			s.Variant = v
			s.Point = map[string]any{"workers": float64(10 * i), "max_connections": float64(40)}
			r.Series = append(r.Series, s)
		}
	}
	run, err := CombineOne([]*Result{&r})
	if err != nil {
		t.Fatal(err)
	}
	tl := TimelineGroups(run, DefaultMaxTimelines)
	if len(tl) != DefaultMaxTimelines {
		t.Fatalf("%d timelines, want %d", len(tl), DefaultMaxTimelines)
	}
	per := map[string][]any{}
	for _, g := range tl {
		per[g.Variant] = append(per[g.Variant], g.Point["workers"])
	}
	for _, v := range []string{"cold", "warm"} {
		ws := per[v]
		if len(ws) != 6 || ws[0] != float64(10) || ws[len(ws)-1] != float64(240) {
			t.Errorf("%s timelines at workers %v, want 6 from 10 to 240", v, ws)
		}
	}
	specs, err := spectrumFigures(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || !strings.HasSuffix(specs[0].Name, "-cold") {
		t.Errorf("%d spectrum figures, want one per variant", len(specs))
	}
}

func TestPercentileTicksAreLabelledLikeHdrHistogram(t *testing.T) {
	t.Parallel()
	var labels []string
	for _, tk := range percentileTicks(1e5).Ticks(1, 1e5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got, want := strings.Join(labels, " "), "0% 50% 90% 99% 99.9% 99.99% 99.999%"; got != want {
		t.Errorf("labels %q, want %q", got, want)
	}
}
