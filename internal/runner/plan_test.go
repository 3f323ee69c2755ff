package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
	_ "github.com/pgscale/pgscale/internal/scenarios/queue"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// dryRun prepares opts as --dry-run does and returns the plan.
func dryRun(t *testing.T, opts Options) *Plan {
	t.Helper()
	opts.DryRun = true
	if opts.Repeat == 0 {
		opts.Repeat = 1
	}
	p, err := Prepare(opts, time.Now())
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return p.Plan()
}

// The plan is the sum of its parts: one target start and setup, every point (and repeat) at
// its run length plus the overhead, and the report after.
func TestPlanArithmetic(t *testing.T) {
	out := filepath.Join(t.TempDir(), "never")
	pl := dryRun(t, Options{Scenario: "select-only", Target: "local", Repeat: 2, Warmup: 500 * time.Millisecond,
		Duration: 4 * time.Second, Sets: map[string]string{"workers": "1,3", "scale": "2"}, Out: out})
	if got, want := len(pl.Points), 2*2*2; got != want { // variants × workers × repeats
		t.Fatalf("%d points, want %d", got, want)
	}
	setup := selectonly.SetupEstimate(2)
	point := 4*time.Second + 500*time.Millisecond + pointOverhead
	report := reportBase + 8*reportPerSeries
	if want := startLocal + setup + 8*point + report; pl.Total != want {
		t.Fatalf("total %s, want %s", pl.Total, want)
	}
	if pl.Targets != 1 || pl.Setup != setup || pl.Report != report {
		t.Fatalf("targets %d setup %s report %s", pl.Targets, pl.Setup, pl.Report)
	}
	for i, pt := range pl.Points {
		if want := startLocal + setup + time.Duration(i)*point; pt.Start != want || pt.Time != point {
			t.Fatalf("point %d starts at %s taking %s, want %s taking %s", i, pt.Start, pt.Time, want, point)
		}
	}
	if pl.PeakConnections != 3+connsOverhead {
		t.Fatalf("peak %d connections, want %d", pl.PeakConnections, 3+connsOverhead)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a dry run made its out directory: %v", err)
	}
	line := pl.Line()
	for _, want := range []string{"plan: 8 points of 4s + 500ms warm-up (2 repeats)", "peak 5 connections", "total ~" + ShortDuration(pl.Total)} {
		if !strings.Contains(line, want) {
			t.Fatalf("plan line %q lacks %q", line, want)
		}
	}
}

// Each server setting gets its own target, with its start and setup, and the scenario's own
// estimate of a point: queue loads its backlog before each.
func TestPlanTargetsAndEstimates(t *testing.T) {
	pl := dryRun(t, Options{Scenario: "queue", Target: "local", Warmup: -1,
		Sets: map[string]string{"workers": "10,300", "variants": "naive,dedicated", "history": "1000", "backlog": "2000"}})
	if pl.Targets != 2 || len(pl.Points) != 4 {
		t.Fatalf("%d targets, %d points; want 2 and 4", pl.Targets, len(pl.Points))
	}
	if !pl.Points[0].NewTarget || pl.Points[1].NewTarget || !pl.Points[2].NewTarget {
		t.Fatalf("new targets at %v %v %v, want at points 1 and 3", pl.Points[0].NewTarget, pl.Points[1].NewTarget, pl.Points[2].NewTarget)
	}
	if pl.Points[2].Settings["max_connections"] != "320" {
		t.Fatalf("point 3 settings %v, want max_connections=320", pl.Points[2].Settings)
	}
	run := pl.Duration + pl.Warmup
	if small, big := pl.Points[0].Time, pl.Points[2].Time; small <= run+pointOverhead || big <= small {
		t.Fatalf("point times %s (10 workers) and %s (300), want above %s and growing with the workers", small, big, run+pointOverhead)
	}
	if pl.PeakConnections != 302 {
		t.Fatalf("peak %d connections, want 302", pl.PeakConnections)
	}
	var b bytes.Buffer
	pl.Write(&b)
	for _, want := range []string{"max_connections=320", "(same server)", "nothing was started (--dry-run)", "dedicated"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("plan lacks %q:\n%s", want, b.String())
		}
	}
}

// A peak is capped by the server's max_connections: the connections past it are refused.
func TestPeakConnectionsCappedByServer(t *testing.T) {
	if got := peakConnections(800, map[string]string{"max_connections": "100"}); got != 100 {
		t.Fatalf("800 workers on max_connections=100: peak %d, want 100", got)
	}
	if got := peakConnections(8, nil); got != 8+connsOverhead {
		t.Fatalf("8 workers: peak %d, want %d", got, 8+connsOverhead)
	}
}

// The time left is the plan's, scaled by how the run kept to it, within 0.5 to 3 times.
func TestRemaining(t *testing.T) {
	pl := &Plan{Total: 100 * time.Second, Points: []PlannedPoint{{Start: 0}, {Start: 40 * time.Second}, {Start: 80 * time.Second}}}
	for _, c := range []struct {
		i       int
		elapsed time.Duration
		want    time.Duration
	}{
		{0, 0, 100 * time.Second},
		{1, 40 * time.Second, 60 * time.Second},  // on plan
		{1, 60 * time.Second, 90 * time.Second},  // 1.5 times slower
		{1, 4 * time.Second, 30 * time.Second},   // far faster: held at 0.5
		{2, 800 * time.Second, 60 * time.Second}, // far slower: held at 3
		{3, time.Hour, 0},
	} {
		if got := pl.Remaining(c.i, c.elapsed); got != c.want {
			t.Errorf("Remaining(%d, %s) = %s, want %s", c.i, c.elapsed, got, c.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Millisecond:          "1.5s",
		42 * time.Second:                 "42s",
		4*time.Minute + 12*time.Second:   "4m10s",
		26*time.Minute + 31*time.Second:  "26m30s",
		time.Hour + 5*time.Minute + 40e9: "1h06m",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

// --preset full is the big sweep, and a preset that is not one, or two that disagree, is a
// usage error before anything is planned.
func TestPresets(t *testing.T) {
	def := dryRun(t, Options{Scenario: "queue", Target: "local", Warmup: -1})
	full := dryRun(t, Options{Scenario: "queue", Target: "local", Warmup: -1, Preset: scenarios.PresetFull})
	quick := dryRun(t, Options{Scenario: "queue", Target: "local", Warmup: -1, Quick: true})
	if !(quick.Total < def.Total && def.Total < full.Total) || full.PeakConnections != 2002 {
		t.Fatalf("quick %s, default %s, full %s (peak %d): want growing, full to 2,000 workers",
			quick.Total, def.Total, full.Total, full.PeakConnections)
	}
	if full.Duration != 30*time.Second || full.Warmup != 5*time.Second {
		t.Fatalf("full runs %s + %s, want 30s + 5s", full.Duration, full.Warmup)
	}
	for preset, want := range map[string]string{
		"nope": `--preset "nope": valid presets are quick, default, full`,
		"ful":  `(did you mean "full"?)`,
	} {
		_, err := Prepare(Options{Scenario: "queue", Target: "local", Repeat: 1, Warmup: -1, Preset: preset, DryRun: true}, time.Now())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--preset %s: error %v, want %q", preset, err, want)
		}
	}
	_, err := Prepare(Options{Scenario: "queue", Target: "local", Repeat: 1, Warmup: -1, Preset: "full", Quick: true, DryRun: true}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "--quick is --preset quick") {
		t.Errorf("--quick --preset full: error %v", err)
	}
}
