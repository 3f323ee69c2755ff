package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/conninfo"
	"github.com/pgscale/pgscale/internal/wait"
)

// dropRetryFirst and dropRetryMax pace DropSchema's attempts: a full server or a deadlock with
// another session's DDL clears in well under a second, so the first retry comes soon.
const (
	dropRetryFirst = 100 * time.Millisecond
	dropRetryMax   = 2 * time.Second
)

// dropRetryable are the SQLSTATEs that a busy server answers a DROP SCHEMA (or the connection
// made for it) with and that pass: too many connections (53300), out of shared memory for locks
// (53200), a deadlock or serialization failure with another session's DDL (40P01, 40001), a
// lock_timeout or statement_timeout set for the role (55P03, 57014), a session ended by an
// administrator (57P01) and a server still starting (57P03).
var dropRetryable = map[string]bool{
	"53300": true, "53200": true, "40P01": true, "40001": true,
	"55P03": true, "57014": true, "57P01": true, "57P03": true,
}

// DropSchema drops schema, with everything in it, on the server at dsn: how a run on a dsn target
// removes what it made. A server too busy to take it now (dropRetryable) is asked again until ctx
// ends, so that a run sharing the server with other clients does not leave its schema behind;
// any other error ends it at once. Its errors never show the DSN's password.
func DropSchema(ctx context.Context, dsn, schema string) error {
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	cfg, err := d.Config()
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	backoff := dropRetryFirst
	for attempt := 1; ; attempt++ {
		err := dropSchemaOnce(ctx, cfg.Copy(), schema)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !dropRetryable[pgErr.Code] || wait.For(ctx, backoff) != nil {
			return fmt.Errorf("drop schema %s (attempt %d): %s", schema, attempt, d.Scrub(RedactDSN(err.Error())))
		}
		backoff = min(2*backoff, dropRetryMax)
	}
}

func dropSchemaOnce(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
