package calibrate_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/calibrate"
	"github.com/pgscale/pgscale/harness"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := calibrate.Options{Clients: 0, Duration: 500 * time.Millisecond, Pairs: 0, Scale: 0, Modes: []string{"prepared", "fast"}}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"--clients 0: must be at least 1",
		"--duration 500ms: must be at least 1s",
		"--pairs 0: must be at least 1",
		"--scale 0: must be at least 1",
		`--mode "fast": valid modes are prepared, connect`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if !harness.IsUsage(err) {
		t.Errorf("bad options are not a usage error (exit 2): %v", err)
	}
}

func TestMedianRatio(t *testing.T) {
	t.Parallel()
	pair := func(mode string, ours, theirs float64) calibrate.Pair {
		return calibrate.Pair{Mode: mode, Pgscale: calibrate.Sample{TPS: ours}, Pgbench: calibrate.Sample{TPS: theirs}}
	}
	rep := calibrate.Report{Pairs: []calibrate.Pair{
		pair("prepared", 90, 100), pair("connect", 300, 250), pair("prepared", 120, 100), pair("prepared", 50, 100),
		pair("connect", 100, 0), // pgbench ran nothing: ratio 0
	}}
	if got := rep.MedianRatio("prepared"); got != 0.9 {
		t.Errorf("prepared median ratio %v, want 0.9", got)
	}
	if got := rep.MedianRatio("connect"); got != 0.6 {
		t.Errorf("connect median ratio %v, want 0.6 (the mean of 0 and 1.2)", got)
	}
	if got := rep.MedianRatio("other"); got != 0 {
		t.Errorf("no pairs: median ratio %v, want 0", got)
	}
}

// TestRunAgainstPgbench calibrates on a real local server: both load generators run both modes,
// every figure comes from a run, and the connect cost shows on both sides alike (a connection per
// lookup is far slower than a held one, for pgbench -C as for pgscale).
func TestRunAgainstPgbench(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindPgbench(); err != nil {
		t.Skipf("no pgbench: %v", err)
	}
	p := &harness.LocalProvider{}
	if err := p.Available(context.Background()); err != nil {
		t.Skipf("no PostgreSQL: %v", err)
	}
	ctx := context.Background()
	target, err := p.Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "calibrate-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })

	var out, log bytes.Buffer
	rep, err := calibrate.Run(ctx, target, calibrate.Options{
		Clients: 2, Duration: time.Second, Pairs: 1, Scale: 1,
		Modes: []string{calibrate.ModePrepared, calibrate.ModeConnect}, Out: &out, Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
	}
	if len(rep.Pairs) != 2 {
		t.Fatalf("%d pairs, want 2 (one per mode):\n%s", len(rep.Pairs), out.String())
	}
	tps := map[string]calibrate.Pair{}
	for _, p := range rep.Pairs {
		tps[p.Mode] = p
		for side, s := range map[string]calibrate.Sample{"pgscale": p.Pgscale, "pgbench": p.Pgbench} {
			if s.TPS <= 0 || s.Transactions <= 0 || s.CPUSeconds <= 0 {
				t.Errorf("%s %s: %+v: every figure should come from a run", p.Mode, side, s)
			}
		}
		if p.Ratio() <= 0 {
			t.Errorf("%s: ratio %v", p.Mode, p.Ratio())
		}
	}
	prepared, connect := tps[calibrate.ModePrepared], tps[calibrate.ModeConnect]
	if connect.Pgscale.TPS*5 > prepared.Pgscale.TPS || connect.Pgbench.TPS*5 > prepared.Pgbench.TPS {
		t.Errorf("a connection per lookup should cost far more than a held one on both sides: "+
			"pgscale %.0f vs %.0f tps, pgbench %.0f vs %.0f tps (connect vs prepared)",
			connect.Pgscale.TPS, prepared.Pgscale.TPS, connect.Pgbench.TPS, prepared.Pgbench.TPS)
	}
	for _, want := range []string{"median ratio prepared", "median ratio connect", "pgscale tps", "pgbench tps"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
