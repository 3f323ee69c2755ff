package harness

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/usage"
)

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://app:hunter2@db.example.com:5432/app",
		"postgres://app:hunter2@db.example.com:notaport/app",
		"postgresql://app@db.example.com/app?password=hunter2&sslmode=require",
		"host=db.example.com user=app password=hunter2 dbname=app",
		"host=db.example.com password='hunter 2' dbname=app",
		"failed to connect to `user=app database=app`: postgres://app:hunter2@x/y",
		"failed: postgres://app:hunter2 and more@x/y",
		"failed: postgresql://app:hunter2",
		"host=db user=app password=\\hunter2\\ x",
	} {
		got := RedactDSN(dsn)
		if strings.Contains(got, "hunter") {
			t.Errorf("RedactDSN(%q) = %q: the password is still there", dsn, got)
		}
		if !strings.Contains(got, "app") {
			t.Errorf("RedactDSN(%q) = %q: redacted too much", dsn, got)
		}
	}
}

func TestRedactDSNLeavesOtherURLs(t *testing.T) {
	t.Parallel()
	in := "Get http://localhost:2375/v1.43/containers/json: dial unix: no such file"
	if got := RedactDSN(in); got != in {
		t.Errorf("RedactDSN(%q) = %q", in, got)
	}
}

func TestRunSchema(t *testing.T) {
	t.Parallel()
	if got := RunSchema("20261123T111500Z-select-only"); got != "pgscale_20261123t111500z_select_only" {
		t.Errorf("RunSchema = %q", got)
	}
}

func TestParseDSNRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", "postgres://u@h:port/db", "host=h port=x"} {
		if _, err := ParseDSN(dsn); err == nil || !usage.Is(err) {
			t.Errorf("ParseDSN(%q) = %v, want a usage error", dsn, err)
		}
	}
}

func TestWithoutPassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full": "user=app host=db.example.com port=5432 dbname=app sslmode=verify-full",
		"postgres://app@db/app?password=s3cret&sslmode=require":             "user=app host=db dbname=app sslmode=require",
		"host=db user=app password='s 3cret' dbname=app sslmode=verify-ca":  "host=db user=app dbname=app sslmode=verify-ca",
		"postgres://app@127.0.0.1:5432/app?search_path=s1":                  "user=app host=127.0.0.1 port=5432 dbname=app",
		"postgres://app:s3cret@db:notaport/app":                             "",
	} {
		if got := WithoutPassword(in); got != want {
			t.Errorf("WithoutPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLibpqEnv: a libpq program handed the connection string without its password connects where
// and as pgx does, gets the password only from its environment, and inherits no PG* variable that
// could send it elsewhere.
func TestLibpqEnv(t *testing.T) {
	t.Parallel()
	cfg, err := pgx.ParseConfig("postgres://bench:hunter2@db.example.com:6543/app?search_path=s1")
	if err != nil {
		t.Fatal(err)
	}
	inherited := []string{"PATH=/usr/bin", "PGHOST=elsewhere", "PGSERVICE=svc", "PGSSLMODE=verify-full",
		"PGSCALE_DSN=postgres://u:hunter2@x/y"}
	env := LibpqEnv(inherited, cfg, "pgscale-test")
	want := []string{"PATH=/usr/bin", "PGSSLMODE=verify-full", "PGHOST=db.example.com", "PGPORT=6543", "PGUSER=bench",
		"PGDATABASE=app", "PGAPPNAME=pgscale-test", "PGPASSWORD=hunter2", "PGOPTIONS=-c search_path=s1"}
	if !slices.Equal(env, want) {
		t.Errorf("LibpqEnv:\n got %q\nwant %q", env, want)
	}
	if arg := WithoutPassword(cfg.ConnString()); strings.Contains(arg, "hunter2") {
		t.Errorf("the command-line connection string %q holds the password", arg)
	}
}
