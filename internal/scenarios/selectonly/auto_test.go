package selectonly_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
	"github.com/pgscale/pgscale/result"
)

// TestAutoEngineByVariant: engine=auto, the default, runs both variants on mux, over connections
// opened once and with a connection per lookup, and says which ran and why in result.json and on
// the console; with a connection per lookup each lookup had a connect of its own.
func TestAutoEngineByVariant(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	out := t.TempDir()
	var log syncBuffer
	runnertest.Run(t, runner.Options{Scenario: selectonly.Name, Target: harness.KindLocal, Repeat: 1, Warmup: 0,
		Duration: time.Second, Out: out, Log: &log,
		Sets: map[string]string{"workers": "2", "scale": "1", "connect": "pool,per-op"}})
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Params["engine"] != "auto" {
		t.Errorf("params %v: want engine auto recorded", res.Params)
	}
	if len(res.Series) != 4 {
		t.Fatalf("%d series: want 2 variants × 2 connect modes", len(res.Series))
	}
	for _, s := range res.Series {
		name := fmt.Sprintf("%s connect=%v", s.Variant, s.Point["connect"])
		if s.Engine != "mux" || !strings.Contains(s.EngineWhy, "closed loop, plaintext connections") {
			t.Errorf("%s: engine %q (%q) in result.json: want mux, closed loop, plaintext", name, s.Engine, s.EngineWhy)
		}
		if s.Ops == 0 || len(s.Errors) != 0 {
			t.Errorf("%s: %d lookups, errors %v: want some, and no errors", name, s.Ops, s.Errors)
		}
		if s.Point["connect"] == "per-op" && (s.ConnectMs == nil || s.ConnectMs.Count < s.Ops) {
			t.Errorf("%s: connect times %+v for %d lookups: want one connect per lookup", name, s.ConnectMs, s.Ops)
		}
		line := "select-only " + name + " engine: mux (auto: "
		if !strings.Contains(log.String(), line) {
			t.Errorf("console: no %q in\n%s", line, log.String())
		}
	}
}

// TestAutoEngineFallsBack: where mux cannot run the prepared lookups (paced load, a pooler in
// transaction mode) engine=auto runs them on goroutines and says why; an engine asked for runs
// without a why.
func TestAutoEngineFallsBack(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	for _, c := range []struct {
		name   string
		sets   map[string]string
		rate   float64
		pooler *harness.PoolerSpec
		engine string
		why    string
	}{
		{"rate", map[string]string{"variants": "prepared", "workers": "2", "scale": "1"}, 300, nil, "goroutines",
			"the load is paced (--rate"},
		{"transaction pooling", map[string]string{"variants": "prepared", "workers": "2", "scale": "1"}, 0,
			&harness.PoolerSpec{Kind: "pgbouncer", Mode: harness.PoolerModeTransaction, Size: 2}, "goroutines",
			"the pooler is in transaction mode"},
		{"asked for", map[string]string{"variants": "prepared", "workers": "2", "scale": "1", "engine": "goroutines"}, 0, nil,
			"goroutines", ""},
	} {
		var log syncBuffer
		res := runnertest.Run(t, runner.Options{Scenario: selectonly.Name, Target: harness.KindLocal, Repeat: 1, Warmup: 0,
			Duration: time.Second, Out: t.TempDir(), Log: &log, Sets: c.sets, Rate: c.rate, Pooler: c.pooler})
		if len(res.Series) != 1 {
			t.Fatalf("%s: %d series, want 1", c.name, len(res.Series))
		}
		s := res.Series[0]
		if s.Engine != c.engine || !strings.Contains(s.EngineWhy, c.why) || (c.why == "") != (s.EngineWhy == "") {
			t.Errorf("%s: engine %q (%q): want %s, why containing %q", c.name, s.Engine, s.EngineWhy, c.engine, c.why)
		}
		if c.why != "" && !strings.Contains(log.String(), "engine: goroutines (auto: "+c.why) {
			t.Errorf("%s: the console does not say why:\n%s", c.name, log.String())
		}
		if s.Ops == 0 {
			t.Errorf("%s: no lookups", c.name)
		}
	}
}

// syncBuffer is a log the runner may write from more than one goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
