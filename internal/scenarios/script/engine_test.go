package script_test

import (
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
)

// TestAutoRunsAClosedLoopOnMux: engine=auto, the default, runs a closed-loop tpcb-like run on
// the mux engine, says so in the series, and keeps pgbench's invariants.
func TestAutoRunsAClosedLoopOnMux(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScriptWith(t, target, scriptscn.Options{Builtins: []string{"tpcb-like"}, Scale: 1, Init: true},
		map[string]string{"workers": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Engine != "mux" || !strings.Contains(s.EngineWhy, "closed loop") {
		t.Fatalf("engine %q (%q): want mux, because the run is a closed loop", s.Engine, s.EngineWhy)
	}
	checkTPCB(t, target, s)
	if len(s.Errors) != 0 || s.Scripts[0].Transactions != s.Ops {
		t.Fatalf("errors %v, script %+v: want none, and the series' %d transactions", s.Errors, s.Scripts[0], s.Ops)
	}
}

// TestAutoFallsBackToGoroutines: engine=auto runs goroutines where mux cannot run, and says
// why; an engine asked for is the one that runs, without a why.
func TestAutoFallsBackToGoroutines(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	paced := func(env *scenarios.Env) { env.Rate = 200 }
	for _, c := range []struct {
		name      string
		opts      scriptscn.Options
		sets      map[string]string
		with      func(*scenarios.Env)
		engine    string
		why       string
		checkTPCB bool
	}{
		{"rate", scriptscn.Options{Builtins: []string{"tpcb-like"}, Scale: 1, Init: true}, map[string]string{"workers": "4"},
			paced, "goroutines", "paced", true},
		{"pipeline", scriptscn.Options{Files: []string{"testdata/pipeline.sql"}, Protocol: script.ProtocolExtended},
			map[string]string{"workers": "2"}, nil, "goroutines", "does not run pipelines: testdata/pipeline.sql uses \\startpipeline", false},
		{"pool", scriptscn.Options{Files: []string{"testdata/pipeline.sql"}, Protocol: script.ProtocolExtended, Connect: "pool"},
			map[string]string{"workers": "2"}, nil, "goroutines", "connect=pool", false},
		{"asked for", scriptscn.Options{Files: []string{"testdata/counter.sql"}, Setup: []string{"testdata/counters-setup.sql"},
			Vars: map[string]string{"keys": "100"}}, map[string]string{"workers": "2", "engine": "goroutines"}, nil, "goroutines", "", false},
	} {
		s, err := runScriptEnv(t, target, c.opts, c.sets, c.with)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.Engine != c.engine || !strings.Contains(s.EngineWhy, c.why) || (c.why == "") != (s.EngineWhy == "") {
			t.Fatalf("%s: engine %q (%q): want %s, why containing %q", c.name, s.Engine, s.EngineWhy, c.engine, c.why)
		}
		if s.Ops == 0 || len(s.Errors) != 0 {
			t.Fatalf("%s: %d transactions, errors %v: want some, and no errors", c.name, s.Ops, s.Errors)
		}
		if c.checkTPCB {
			checkTPCB(t, target, s)
		}
	}
}
