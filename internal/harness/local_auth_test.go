package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestLocalTCPNeedsThePassword: while a local server (and its PgBouncer) runs, a connection to
// its TCP port with no password, or a wrong one, is refused; the run's password gets in; the
// socket lies in a directory no other account can enter; no file holds the password itself.
func TestLocalTCPNeedsThePassword(t *testing.T) {
	withPooler := true
	if _, _, err := findPgbouncer(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbouncer is required in CI: %v", err)
		}
		withPooler = false
	}
	t.Parallel()
	p := localTestProvider(t)
	spec := Spec{Kind: KindLocal, RunID: "auth-test"}
	if withPooler {
		spec.Pooler = &PoolerSpec{Kind: PoolerPgBouncer, Mode: PoolerModeTransaction, Size: 2}
	}
	tg, err := p.StartLocal(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close(context.Background()) })

	dsns := map[string]string{"server": tg.AdminDSN()}
	if withPooler {
		dsns["pgbouncer"] = tg.DSN()
	}
	for name, dsn := range dsns {
		if err := localPing(context.Background(), dsn); err != nil {
			t.Errorf("%s with the run's password: %v", name, err)
		}
		for _, password := range []string{"", "wrong-" + tg.password} {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Password = password
			err = localPingConfig(context.Background(), cfg)
			var pgErr *pgconn.PgError
			if err == nil {
				t.Errorf("%s over TCP with password %q: let in", name, password)
			} else if !errors.As(err, &pgErr) || pgErr.Code != "28P01" && pgErr.Code != "08P01" {
				t.Errorf("%s over TCP with password %q: %v, want an authentication failure", name, password, err)
			}
		}
	}

	if fi, err := os.Stat(tg.socketDir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s: %v, mode %v; want 0700", tg.socketDir(), err, fi.Mode().Perm())
	}
	_ = filepath.WalkDir(tg.Dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSocket != 0 {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), tg.password) {
			t.Errorf("%s holds the password", path)
		}
		return nil
	})
	if hba, err := os.ReadFile(filepath.Join(tg.DataDir(), "pg_hba.conf")); err != nil || strings.Contains(string(hba), "host  all all 127.0.0.1/32 trust") {
		t.Errorf("pg_hba.conf: %v\n%s", err, hba)
	}
}
