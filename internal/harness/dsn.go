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

	"github.com/pgscale/pgscale/internal/conninfo"
	"github.com/pgscale/pgscale/internal/usage"
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

// ParseDSN checks a DSN (URL or key=value form) without connecting. A malformed one is reported
// by the kind of fault and its byte position, never by echoing it (it may hold a password).
func ParseDSN(dsn string) (*pgx.ConnConfig, error) {
	d, err := ParseConnString(dsn)
	if err != nil {
		return nil, err
	}
	return d.Config()
}

// ParseConnString is ParseDSN's DSN, for holding: it never shows its password.
func ParseConnString(dsn string) (conninfo.DSN, error) {
	if strings.TrimSpace(dsn) == "" {
		return conninfo.DSN{}, usage.Fieldf("dsn", "is empty: give a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...)")
	}
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return conninfo.DSN{}, usage.Fieldf("dsn", "is not a valid connection string: %s; give a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...)",
			strings.TrimPrefix(err.Error(), "dsn: "))
	}
	return d, nil
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
	d, conn, err := connectDSN(ctx, spec.DSN)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if spec.InPlace {
		// The database as it is: no schema of ours, the DSN's own search_path, nothing to drop.
		return &dsnTarget{raw: spec.DSN, dsn: d}, nil
	}
	schema := RunSchema(spec.RunID)
	pinned, err := PinDSN(spec.DSN, schema)
	if err != nil {
		return nil, fmt.Errorf("dsn target: %w", err)
	}
	if err := CreateMarkedSchema(ctx, conn, spec.RunID, schema); err != nil {
		return nil, fmt.Errorf("dsn target: create schema %s: %w", schema, err)
	}
	t := &dsnTarget{raw: pinned, dsn: d, schema: schema}
	if err := CheckPinned(ctx, pinned, schema); err != nil {
		// Drop the (empty) schema over the connection that made it: the pinned ones cannot be
		// trusted.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize())
		return nil, fmt.Errorf("dsn target: %w", err)
	}
	return t, nil
}

// connectDSN parses dsn and connects to it within DSNConnectTimeout.
func connectDSN(ctx context.Context, dsn string) (conninfo.DSN, *pgx.Conn, error) {
	d, err := ParseConnString(dsn)
	if err != nil {
		return d, nil, err
	}
	cfg, err := d.Config()
	if err != nil {
		return d, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return d, nil, fmt.Errorf("dsn target %s: %s", d, d.Scrub(RedactDSN(err.Error())))
	}
	return d, conn, nil
}

// dsnTarget is a run's schema on an existing server. Every connection string it hands out is
// pinned to that schema (PinDSN).
type dsnTarget struct {
	raw    string       // the DSN pinned to schema (PinDSN): what DSN and AdminDSN hand out; never shown
	dsn    conninfo.DSN // as the user gave it, for showing
	schema string
	once   sync.Once
	err    error
}

func (t *dsnTarget) Kind() string            { return KindDSN }
func (t *dsnTarget) DSN() string             { return t.raw }
func (t *dsnTarget) AdminDSN() string        { return t.raw }
func (t *dsnTarget) Schema() string          { return t.schema }
func (t *dsnTarget) CanChangeSettings() bool { return false }
func (t *dsnTarget) Detail() map[string]string {
	return map[string]string{"dsn": t.dsn.String(), "schema": t.schema}
}
func (t *dsnTarget) Info(ctx context.Context) (ServerInfo, error) { return ReadServerInfo(ctx, t.raw) }

// Close drops the run's schema and everything in it; nothing else is touched. A target in place
// has no schema and drops nothing.
func (t *dsnTarget) Close(ctx context.Context) error {
	t.once.Do(func() {
		if t.schema == "" {
			return
		}
		t.err = DropRunSchema(ctx, t.raw, t.schema)
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
