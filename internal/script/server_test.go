package script

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// One local PostgreSQL server is shared by this package's tests; each test works in tables of
// its own. It is stopped when the tests end, whether they pass or fail.
var shared struct {
	once   sync.Once
	target harness.Target
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.target != nil {
		_ = shared.target.Close(context.Background())
	}
	os.Exit(code)
}

func startShared() {
	shared.once.Do(func() {
		p := &harness.LocalProvider{}
		if shared.err = p.Available(context.Background()); shared.err != nil {
			return
		}
		shared.target, shared.err = p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "script-test"})
	})
}

func benchDSN(b *testing.B) string {
	startShared()
	if shared.err != nil {
		b.Skipf("no PostgreSQL: %v", shared.err)
	}
	return shared.target.DSN()
}

func pgbenchBin(b *testing.B) string {
	path, err := harness.FindPgbench()
	if err != nil {
		b.Skipf("no pgbench: %v", err)
	}
	return path
}

func benchConnect(b *testing.B, dsn string) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// serverDSN starts the shared server on first use. Without PostgreSQL the test is skipped, except
// under CI=true, where it fails.
func serverDSN(t *testing.T) string {
	t.Helper()
	startShared()
	if shared.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", shared.err)
		}
		t.Skipf("no PostgreSQL: %v", shared.err)
	}
	return shared.target.DSN()
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func mustMix(t *testing.T, name, src string) *Mix {
	t.Helper()
	s, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMix([]*Script{s})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var protocols = []Protocol{ProtocolSimple, ProtocolExtended, ProtocolPrepared}

func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
