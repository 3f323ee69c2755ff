package loadgen_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
)

// TestPerOpDialsRawAndKeepsTheStartupParameters: the per-op mode's connections are dialed by
// loadgen's own dialer, and each still carries what the DSN pins (application_name, and the
// schema through options=-c search_path=...), authenticated as the local target's user.
func TestPerOpDialsRawAndKeepsTheStartupParameters(t *testing.T) {
	tg := harnesstest.Local(t)
	cc, err := pgx.ParseConfig(tg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = "pgscale-rawdial-test"
	cc.RuntimeParams["options"] = "-c search_path=pg_catalog"
	cfg := loadgen.Config{Workers: 2, Duration: 2 * time.Second, ConnMode: loadgen.ConnPerOp, ConnConfig: cc}
	out, err := loadgen.Run(context.Background(), cfg, func(ctx context.Context, _ *loadgen.Worker, conn *pgx.Conn) error {
		if got := fmt.Sprintf("%T", conn.PgConn().Conn()); got != "*loadgen.socketConn" {
			return fmt.Errorf("the connection is a %s, not loadgen's own", got)
		}
		var app, path string
		err := conn.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('search_path')",
			pgx.QueryExecModeSimpleProtocol).Scan(&app, &path)
		if err != nil {
			return err
		}
		if app != "pgscale-rawdial-test" || path != "pg_catalog" {
			return fmt.Errorf("application_name %q, search_path %q: the startup parameters were lost", app, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 {
		t.Fatalf("errors: %v", out.ErrorSamples)
	}
	// At least one operation must have run its checks. How many is no matter here: a fresh-clone
	// CI run, with other test packages on both cores, once counted a single connect in the second.
	if out.Ops < 1 {
		t.Fatalf("no connect completed in %s: the checks never ran", cfg.Duration)
	}
	t.Logf("%d connects in %s", out.Ops, cfg.Duration)
}
