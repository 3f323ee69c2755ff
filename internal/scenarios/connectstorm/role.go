package connectstorm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// appRole is a login role without superuser rights that the load connects as, the way an
// application does. It lives for one point.
type appRole struct {
	name, password string
}

// createRole creates a role with a random name and password that may write and read the events
// table. It is also granted pg_read_all_stats, so that its backend may read its own
// pg_backend_memory_contexts (PostgreSQL 15 restricts the view). A failure, a Ctrl-C's among
// them, drops the role again whether or not the server finished creating it, over adminCC when
// admin broke.
func createRole(ctx context.Context, admin *pgx.Conn, adminCC *pgx.ConnConfig, schema string) (*appRole, error) {
	r := &appRole{name: "pgscale_connect_storm_" + randomHex(4), password: randomHex(16)}
	undo := func(err error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
		defer cancel()
		if dropErr := r.drop(admin, adminCC)(dctx); dropErr != nil {
			return fmt.Errorf("%w (and dropping it again: %w)", err, dropErr)
		}
		return err
	}
	ident := pgx.Identifier{r.name}.Sanitize()
	stmts := []string{
		// The password is hex digits only, so it is safe inside a literal.
		"CREATE ROLE " + ident + " LOGIN PASSWORD '" + r.password + "'",
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + ident,
		"GRANT SELECT, INSERT ON " + table + " TO " + ident,
		"GRANT pg_read_all_stats TO " + ident,
	}
	// One transaction: a run killed in the middle leaves no role, or one that carries the run's
	// marker (on a dsn target), which pgscale clean --dsn finds; never one without it.
	err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create the application role (or run with --set role=target): %w", err)
			}
		}
		return harness.MarkRole(ctx, tx.Conn(), r.name, schema)
	})
	if err != nil {
		return nil, fmt.Errorf("connect-storm: %w", undo(err))
	}
	return r, nil
}

// dropTimeout bounds dropping the role after a failure.
const dropTimeout = 30 * time.Second

// drop returns a function that removes the role and its privileges, if the role exists, over
// admin or, when admin is closed (pgx closes a connection whose query a Ctrl-C canceled), over a
// new connection made with adminCC.
func (r *appRole) drop(admin *pgx.Conn, adminCC *pgx.ConnConfig) func(context.Context) error {
	return func(ctx context.Context) error {
		conn := admin
		if conn.IsClosed() {
			fresh, err := pgx.ConnectConfig(ctx, adminCC)
			if err != nil {
				return fmt.Errorf("drop the application role %s: connect: %w", r.name, err)
			}
			defer fresh.Close(context.WithoutCancel(ctx))
			conn = fresh
		}
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", r.name).Scan(&exists); err != nil {
			return fmt.Errorf("drop the application role %s: %w", r.name, err)
		}
		if !exists {
			return nil
		}
		ident := pgx.Identifier{r.name}.Sanitize()
		for _, stmt := range []string{"DROP OWNED BY " + ident, "DROP ROLE " + ident} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("drop the application role %s: %w", r.name, err)
			}
		}
		return nil
	}
}

// randomHex returns n random bytes as hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24 and later)
	return hex.EncodeToString(b)
}
