package harness

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSNConnectTimeout bounds the first connection to an existing server, so that an unreachable DSN
// fails fast.
const DSNConnectTimeout = 5 * time.Second

// DSNProvider attaches to an existing server. It never changes the server's settings; it works in
// a schema of its own and drops only that.
type DSNProvider struct{}

// Kind implements Provider.
func (DSNProvider) Kind() string { return KindDSN }

// Available implements Provider: a dsn target is always possible, given a DSN.
func (DSNProvider) Available(context.Context) error { return nil }

// ParseDSN checks a DSN (URL or key=value form) without connecting.
func ParseDSN(dsn string) (*pgx.ConnConfig, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, Usagef("--dsn is empty: give a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...)")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, Usagef("--dsn %q is not a valid connection string: %s; give a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...)",
			RedactDSN(dsn), firstLine(RedactDSN(err.Error())))
	}
	return cfg, nil
}

var schemaUnsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// RunSchema is the schema name a run works in on a dsn target: pgscale_<run id>.
func RunSchema(runID string) string {
	s := schemaUnsafe.ReplaceAllString(strings.ToLower(runID), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return "pgscale_" + strings.Trim(s, "_")
}

// Start implements Provider: it connects (within DSNConnectTimeout) and creates the run's schema.
func (DSNProvider) Start(ctx context.Context, spec Spec) (Target, error) {
	cfg, err := ParseDSN(spec.DSN)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dsn target %s: %s", RedactDSN(spec.DSN), RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	schema := RunSchema(spec.RunID)
	if _, err := conn.Exec(cctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("dsn target: create schema %s: %w", schema, err)
	}
	return &dsnTarget{dsn: spec.DSN, schema: schema}, nil
}

type dsnTarget struct {
	dsn    string
	schema string
	once   sync.Once
	err    error
}

func (t *dsnTarget) Kind() string            { return KindDSN }
func (t *dsnTarget) DSN() string             { return t.dsn }
func (t *dsnTarget) AdminDSN() string        { return t.dsn }
func (t *dsnTarget) Schema() string          { return t.schema }
func (t *dsnTarget) CanChangeSettings() bool { return false }
func (t *dsnTarget) Detail() map[string]string {
	return map[string]string{"dsn": RedactDSN(t.dsn), "schema": t.schema}
}
func (t *dsnTarget) Info(ctx context.Context) (ServerInfo, error) { return ReadServerInfo(ctx, t.dsn) }

// Close drops the run's schema and everything in it; nothing else is touched.
func (t *dsnTarget) Close(ctx context.Context) error {
	t.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, t.dsn)
		if err != nil {
			t.err = fmt.Errorf("dsn target: drop schema %s: %s", t.schema, RedactDSN(err.Error()))
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{t.schema}.Sanitize()+" CASCADE"); err != nil {
			t.err = fmt.Errorf("dsn target: drop schema %s: %w", t.schema, err)
		}
	})
	return t.err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ErrNoTarget is returned by Choose when no provider can run here.
var ErrNoTarget = errors.New("no target available")
