package calibrate

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/usage"
)

// TestGapShowsCPUAndClientBound: the CPU ratio is pgscale's CPU per transaction over pgbench's,
// the medians per mode and engine are printed with the goal, and a side that kept all the cores it can use
// busy is called client-bound while one that idled is not.
func TestGapShowsCPUAndClientBound(t *testing.T) {
	t.Parallel()
	cores := runtime.NumCPU()
	idle := Sample{TPS: 1000, Transactions: 10000, CPUSeconds: 0.1, WallSeconds: 10}
	p := Pair{Mode: ModePrepared,
		Pgscale: Sample{TPS: 1000, Transactions: 10000, CPUSeconds: 0.3, WallSeconds: 10},
		Pgbench: Sample{TPS: 1000, Transactions: 10000, CPUSeconds: 0.2, WallSeconds: 10}}
	if got := p.CPURatio(); got < 1.499 || got > 1.501 {
		t.Errorf("CPU ratio %v, want 1.5", got)
	}
	if why := clientBound(idle, 1, cores); why != "" {
		t.Errorf("a client at 1%% of a core called client-bound: %s", why)
	}
	busy := Sample{TPS: 1000, Transactions: 10000, CPUSeconds: 9.5, WallSeconds: 10}
	if why := clientBound(busy, 1, cores); why == "" {
		t.Error("a client that kept its one usable core 95% busy was not called client-bound")
	}

	var out bytes.Buffer
	p.Engine = EngineMux
	goroutines := p
	goroutines.Engine, goroutines.Pgscale.CPUSeconds = EngineGoroutines, 0.4
	rep := Report{Pairs: []Pair{p, goroutines, {Mode: ModeConnect, Engine: EngineGoroutines, Pgscale: busy, Pgbench: idle}}}
	printGap(&out, rep, kinds([]string{ModePrepared, ModeConnect}, DefaultEngines), 1)
	for _, want := range []string{
		"client cpu prepared  mux         pgscale 30.0 ms, pgbench 20.0 ms per 1k (medians); ratio 1.50 (goal <= 1.1)",
		"client cpu prepared  goroutines  pgscale 40.0 ms, pgbench 20.0 ms per 1k (medians); ratio 2.00 (goal <= 1.1)",
		"client cpu connect   goroutines", "(goal <= 1.2)",
		"warning: pair 1 connect on goroutines: pgscale ran client-bound",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Count(out.String(), "warning:") != 1 {
		t.Errorf("want exactly one warning (pgscale's, connect):\n%s", out.String())
	}
}

// TestKinds: each mode runs once per engine, in the order given.
func TestKinds(t *testing.T) {
	t.Parallel()
	got := kinds([]string{ModeConnect, ModePrepared}, []string{EngineGoroutines, EngineMux})
	want := []kind{{ModeConnect, EngineGoroutines}, {ModeConnect, EngineMux}, {ModePrepared, EngineGoroutines}, {ModePrepared, EngineMux}}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %v, want %v", got, want)
	}
	if got := (Options{}).engines(); !slices.Equal(got, []string{EngineMux, EngineGoroutines}) {
		t.Errorf("default engines %v, want mux then goroutines", got)
	}
}

// TestTLSFirst: sslmode=prefer tries TLS first (one more round trip against a server without
// it); disable and require do not fall back.
func TestTLSFirst(t *testing.T) {
	t.Parallel()
	for mode, want := range map[string]bool{"prefer": true, "allow": false, "disable": false, "require": false} {
		cc, err := pgx.ParseConfig("postgres://u@127.0.0.1:5432/db?sslmode=" + mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := tlsFirst(cc); got != want {
			t.Errorf("sslmode=%s: tlsFirst %v, want %v", mode, got, want)
		}
	}
}

// TestEnginesBehindPooler: transaction pooling leaves the mux engine out by default, with a
// note, and refuses it when named; session pooling and no pooler keep it.
func TestEnginesBehindPooler(t *testing.T) {
	t.Parallel()
	got, note, err := EnginesBehindPooler(nil, harness.PoolerModeTransaction, false)
	if err != nil || !slices.Equal(got, []string{EngineGoroutines}) || note == "" {
		t.Errorf("transaction, default engines: %v, %q, %v: want goroutines alone, with a note", got, note, err)
	}
	if _, _, err := EnginesBehindPooler([]string{EngineMux}, harness.PoolerModeTransaction, true); !usage.Is(err) {
		t.Errorf("transaction, --engine mux: %v, want a usage error", err)
	}
	for _, mode := range []string{harness.PoolerModeSession, ""} {
		if got, note, err := EnginesBehindPooler(nil, mode, false); err != nil || !slices.Equal(got, DefaultEngines) || note != "" {
			t.Errorf("pooler mode %q: %v, %q, %v: want the default engines", mode, got, note, err)
		}
	}
}
