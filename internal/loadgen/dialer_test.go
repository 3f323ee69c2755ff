package loadgen_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/result"
)

// preferWithoutTLS is a config with sslmode=prefer to a local server without TLS, and the count
// of the TCP connections it dials.
func preferWithoutTLS(t *testing.T) (*pgx.ConnConfig, *atomic.Int64) {
	t.Helper()
	tg := harnesstest.Local(t)
	dsn := strings.Replace(tg.DSN(), "sslmode=disable", "sslmode=prefer", 1)
	if !strings.Contains(dsn, "sslmode=prefer") {
		t.Fatalf("the local target's DSN has no sslmode=disable to replace")
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dials := new(atomic.Int64)
	var d net.Dialer
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return cc, dials
}

// TestPreferConnectsOnceWithoutTLS: with sslmode=prefer against a server without TLS (the local
// target has none), pgx's fallback opens a second TCP connection for every connect. The per-op
// mode learns from the first refusal: the run dials about once per operation, not twice, and the
// result says TLS was refused.
func TestPreferConnectsOnceWithoutTLS(t *testing.T) {
	cc, dials := preferWithoutTLS(t)
	cfg := loadgen.Config{Workers: 2, ConnMode: loadgen.ConnPerOp, ConnConfig: cc}
	run := func(d time.Duration) (*loadgen.Outcome, int64) {
		dials.Store(0)
		cfg.Duration = d
		out, err := loadgen.Run(context.Background(), cfg, func(ctx context.Context, _ *loadgen.Worker, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "SELECT 1")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Errors) > 0 {
			t.Fatalf("errors: %v", out.ErrorSamples)
		}
		return out, out.AllOps + out.Abandoned
	}
	// A starved machine connects a handful of times a second: give it longer to count enough.
	out, ops := run(time.Second)
	if ops < 10 {
		out, ops = run(4 * time.Second)
	}
	if ops < 10 {
		t.Fatalf("only %d connects in %s: too few to tell", ops, cfg.Duration)
	}
	// Two dials for the first connects of each worker at most, one for every other.
	if got := dials.Load(); got > ops+int64(cfg.Workers)+3+2 { // 3: the refusals in a row before the dialer stops asking
		t.Errorf("%d dials for %d connects: the refused TLS attempt was repeated", got, ops)
	}
	if !out.TLSRefused {
		t.Error("TLSRefused not set: the result does not say the server refused TLS")
	}
	series, err := out.Series()
	if err != nil {
		t.Fatal(err)
	}
	if series.Metrics[result.MetricConnectTLSRefused] != 1 {
		t.Errorf("metrics lack connect_tls_refused: %v", series.Metrics)
	}
}

// TestConnectorStopsAskingForTLS: a workload that opens its own connections (connect-storm's
// instances) gets the connection modes' dialer through loadgen.Connector: with sslmode=prefer
// against a server without TLS it stops asking after the refusals in a row, and says so.
func TestConnectorStopsAskingForTLS(t *testing.T) {
	cc, dials := preferWithoutTLS(t)
	for _, shortLived := range []bool{false, true} {
		dials.Store(0)
		c := loadgen.NewConnector(cc, 10*time.Second, shortLived)
		const connects = 10
		for range connects {
			conn, err := c.Connect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			_ = conn.Close(context.Background())
		}
		// Two dials for each of the 3 refusals in a row, one for every later connect.
		if got := dials.Load(); got != connects+3 {
			t.Errorf("short-lived %v: %d dials for %d connects, want %d", shortLived, got, connects, connects+3)
		}
		if !c.TLSRefused() {
			t.Errorf("short-lived %v: TLSRefused not set", shortLived)
		}
	}
}
