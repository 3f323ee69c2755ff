// Package harnesstest gives the tests of other packages PostgreSQL: one local server shared by a
// test binary (Server, stopped by Main in TestMain) with a schema (Schema) or a database
// (Database) of each test's own on it, or a throwaway server of the test's own (Local) for tests
// that change, restart or stop it. It also injects the faults a run must survive: backends
// terminated with pg_terminate_backend.
package harnesstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// Local starts a local target that is closed when the test ends, even when it fails. Without
// PostgreSQL binaries the test fails: it never skips.
func Local(t testing.TB) harness.Target {
	t.Helper()
	p := &harness.LocalProvider{}
	if err := p.Available(context.Background()); err != nil {
		t.Fatalf("these tests need PostgreSQL's server binaries (apt-get install postgresql): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := p.Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: testRunID(t)})
	if err != nil {
		t.Fatalf("start a local target: %v", err)
	}
	t.Cleanup(func() {
		if err := tg.Close(context.Background()); err != nil {
			t.Errorf("close the local target: %v", err)
		}
	})
	return tg
}

// testRunID is the test's name as a run id: lower case letters, digits and '-'.
func testRunID(t testing.TB) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
}

// Terminate ends, with pg_terminate_backend, every client backend connected to dsn's database
// whose application_name is LIKE appLike (other than its own), and returns how many it ended. A
// test with a database of its own (Database) ends only its own backends, so it can run in
// parallel with tests that use the same names elsewhere on the server.
func Terminate(ctx context.Context, dsn, appLike string) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("terminate: %w", err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()
		AND application_name LIKE $1`, appLike).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("terminate: %w", err)
	}
	return n, nil
}

// Killer terminates the backends of appLike in dsn's database (as Terminate does) once at least
// min of them are connected there, after delay, in the background. Wait returns how many it ended.
type Killer struct {
	wg  sync.WaitGroup
	n   int
	err error
}

// KillLater starts a Killer; it gives up when ctx ends.
func KillLater(ctx context.Context, dsn, appLike string, min int, delay time.Duration) *Killer {
	k := &Killer{}
	k.wg.Go(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			k.err = err
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			var seen int
			if err := conn.QueryRow(ctx, `SELECT count(*)::int FROM pg_stat_activity
				WHERE backend_type = 'client backend' AND datname = current_database() AND application_name LIKE $1`,
				appLike).Scan(&seen); err != nil {
				k.err = err
				return
			}
			if seen >= min {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			k.err = ctx.Err()
			return
		case <-time.After(delay):
		}
		k.n, k.err = Terminate(ctx, dsn, appLike)
	})
	return k
}

// Wait returns how many backends the Killer ended, or why it could not.
func (k *Killer) Wait() (int, error) {
	k.wg.Wait()
	if k.err == nil && k.n == 0 {
		return 0, errors.New("no backend was terminated")
	}
	return k.n, k.err
}
