package harnesstest

// One local PostgreSQL per test binary, shared by the tests of a package that do not need a
// server of their own: each test works in a schema of its own on it, through the dsn target.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/conninfo"
	"github.com/pgscale/pgscale/internal/harness"
)

// SharedMaxConnections is the shared server's max_connections: room for the largest worker count
// a shared test runs (200 queue workers) with the runner's sampler and setup connections beside.
const SharedMaxConnections = 300

var shared struct {
	once   sync.Once
	mu     sync.Mutex
	target harness.Target
	err    error
}

// Main runs a test binary's tests, then the after functions (cleanups of the binary's own, such
// as removing a directory its tests share), and then stops the shared server, if one was
// started, whether the tests passed or failed. Call it from TestMain:
//
//	func TestMain(m *testing.M) { harnesstest.Main(m) }
//
// A test that panics ends the process before Main returns; the server dies with it then (a local
// server gets the parent-death signal, see harness.LocalProvider).
func Main(m *testing.M, after ...func()) {
	code := m.Run()
	for _, f := range after {
		f()
	}
	if err := stopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "harnesstest: stop the shared server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Server returns the test binary's shared local server, started on first use with
// SharedMaxConnections. The test must not change the server's settings, restart it or stop it:
// tests that do start their own (Local). Without PostgreSQL the test is skipped, except under
// CI=true, where it fails (Require). Only a test binary whose TestMain calls Main may use it.
func Server(t testing.TB) harness.Target {
	t.Helper()
	RequirePostgres(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tg, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "harnesstest-shared",
			Settings: map[string]string{"max_connections": strconv.Itoa(SharedMaxConnections)}})
		shared.mu.Lock()
		shared.target, shared.err = tg, err
		shared.mu.Unlock()
	})
	if shared.err != nil {
		t.Fatalf("start the shared local server: %v", shared.err)
	}
	return shared.target
}

// DSN is the shared server's admin connection string (superuser, database postgres). A test
// that works on it directly keeps its objects in a schema of its own, or runs a scenario
// through the dsn target, which makes and drops one (harness.RunSchema).
func DSN(t testing.TB) string {
	t.Helper()
	return Server(t).AdminDSN()
}

func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.target == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := shared.target.Close(ctx)
	shared.target = nil
	return err
}

// Schema is a dsn target on the shared server for one test: a schema of its own (named after the
// test), which the target's connection strings are pinned to, dropped with everything in it when
// the test ends.
func Schema(t testing.TB) harness.Target {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := (harness.DSNProvider{}).Start(ctx, harness.Spec{Kind: harness.KindDSN, RunID: testRunID(t), DSN: dsn})
	if err != nil {
		t.Fatalf("a schema on the shared server: %v", err)
	}
	t.Cleanup(func() {
		if err := tg.Close(context.Background()); err != nil {
			t.Errorf("drop the test's schema: %v", err)
		}
	})
	return tg
}

var databases atomic.Int64

// Database is a database of the test's own on the shared server, for a test that makes schemas
// or objects of its own names (a schema per test is not enough for it): it returns the
// database's DSN (superuser), and drops the database, with every session still in it, when the
// test ends.
func Database(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	name := fmt.Sprintf("test_%d_%s", databases.Add(1), strings.ReplaceAll(testRunID(t), "-", "_"))
	if len(name) > 63 {
		name = name[:63]
	}
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := admin("CREATE DATABASE " + ident); err != nil {
		t.Fatalf("create the test's database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE " + ident + " WITH (FORCE)"); err != nil {
			t.Errorf("drop the test's database %s: %v", name, err)
		}
	})
	d, err := conninfo.Parse(dsn)
	if err != nil {
		t.Fatalf("the shared server's DSN: %v", err)
	}
	return d.With("dbname", name).Secret()
}
