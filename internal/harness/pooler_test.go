package harness

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

func TestValidatePooler(t *testing.T) {
	t.Parallel()
	if err := ValidatePooler(nil); err != nil {
		t.Errorf("no pooler: %v", err)
	}
	if err := ValidatePooler(&PoolerSpec{Kind: "pgbouncer", Mode: "session", Size: 1}); err != nil {
		t.Errorf("a valid pooler: %v", err)
	}
	err := ValidatePooler(&PoolerSpec{Kind: "pgpool", Mode: "statement", Size: -2})
	for _, want := range []string{`--pooler "pgpool": the valid pooler is pgbouncer`,
		`--pooler-mode "statement": valid modes are transaction, session`, `--pooler-size -2: must be at least 1`} {
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidatePooler = %v; want a usage error with %q", err, want)
		}
	}
}

// poolerLoad is what loadThroughPooler saw.
type poolerLoad struct {
	queries        int64
	maxBackends    int // most server connections seen at once in pg_stat_activity
	maxWaiting     int // most clients PgBouncer held waiting (SHOW POOLS cl_waiting)
	maxSvActive    int // most servers PgBouncer had active (SHOW POOLS sv_active)
	pooledSamples  int // samples with the pooler's figures
	extraXactsSeen bool
}

// loadThroughPooler runs workers clients through the target's load DSN (each holding a server
// for 20 ms per query) for d, while watching the server's backends through the admin DSN and the
// pooler through the target's sample sources.
func loadThroughPooler(t *testing.T, target Target, workers int, d time.Duration) poolerLoad {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out poolerLoad
	var queries atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := pgx.ParseConfig(target.DSN())
			if err != nil {
				t.Error(err)
				return
			}
			cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("connect through the pooler: %v", err)
				}
				return
			}
			defer conn.Close(context.Background())
			for ctx.Err() == nil {
				if _, err := conn.Exec(ctx, "SELECT pg_sleep(0.02)"); err == nil {
					queries.Add(1)
				} else if ctx.Err() == nil {
					t.Errorf("query through the pooler: %v", err)
					return
				}
			}
		}()
	}
	admin, err := pgx.Connect(context.Background(), target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	sources := SampleSourcesOf(target)
	if len(sources) == 0 {
		t.Fatal("the target has no pooler sample source")
	}
	for ctx.Err() == nil {
		var n int
		err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		out.maxBackends = max(out.maxBackends, n)
		for _, src := range sources {
			var smp result.ServerSample
			extra := map[string]float64{}
			sctx, scancel := context.WithTimeout(context.Background(), time.Second)
			err := src.(ExtraSampleSource).SampleExtra(sctx, &smp, extra)
			scancel()
			if err != nil {
				t.Fatalf("pooler sample: %v", err)
			}
			if smp.PoolerClientsWaiting != nil && smp.PoolerServersActive != nil {
				out.pooledSamples++
				out.maxWaiting = max(out.maxWaiting, *smp.PoolerClientsWaiting)
				out.maxSvActive = max(out.maxSvActive, *smp.PoolerServersActive)
			}
			if _, ok := extra["pooler_xacts"]; ok {
				out.extraXactsSeen = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	out.queries = queries.Load()
	return out
}

// checkPoolerLoad asserts that size server connections carried workers clients.
func checkPoolerLoad(t *testing.T, got poolerLoad, size int) {
	t.Helper()
	if got.queries == 0 {
		t.Fatal("no query went through the pooler")
	}
	if got.maxBackends > size || got.maxBackends == 0 {
		t.Errorf("the server had up to %d client backends under the pooler's load, want 1 to %d (--pooler-size)", got.maxBackends, size)
	}
	if got.pooledSamples == 0 || got.maxSvActive > size || got.maxSvActive == 0 {
		t.Errorf("SHOW POOLS: sv_active up to %d over %d samples, want 1 to %d", got.maxSvActive, got.pooledSamples, size)
	}
	if got.maxWaiting == 0 {
		t.Errorf("SHOW POOLS never showed a client waiting, with more clients than servers")
	}
	if !got.extraXactsSeen {
		t.Errorf("SHOW STATS figures (pooler_xacts) missing from the samples")
	}
}

func TestLocalPoolerHoldsPoolSize(t *testing.T) {
	if _, _, err := findPgbouncer(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbouncer is required in CI (.ci/run installs it): %v", err)
		}
		t.Skipf("no pgbouncer here: %v", err)
	}
	t.Parallel()
	p := localTestProvider(t)
	const size = 3
	target, err := p.StartLocal(context.Background(), Spec{Kind: KindLocal, RunID: "pooler-test",
		Pooler: &PoolerSpec{Kind: PoolerPgBouncer, Mode: PoolerModeTransaction, Size: size}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	if target.DSN() == target.AdminDSN() {
		t.Fatalf("the load DSN is the server's own: %s", target.DSN())
	}
	d := target.Detail()
	if d["pooler"] != "pgbouncer" || d["pooler_size"] != "3" || d["pooler_mode"] != "transaction" {
		t.Errorf("detail %v does not record the pooler", d)
	}
	checkPoolerLoad(t, loadThroughPooler(t, target, 10, 1500*time.Millisecond), size)

	pid := target.pooler.cmd.Process.Pid
	if err := target.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cleanProcessAlive(pid, "") {
		t.Errorf("pgbouncer (pid %d) still runs after Close", pid)
	}
}
