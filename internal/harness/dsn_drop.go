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

// CloseTimeout bounds a target's Close: long enough to wait out a busy server's refusals, short
// enough for a run's exit.
const CloseTimeout = 30 * time.Second

// CloseContext is the context a target's Close works under: not canceled with the run (the
// run's Ctrl-C is why it is closing), within CloseTimeout, or within ctx's deadline when that
// comes sooner (a second Ctrl-C gives the cleanup 5 s).
func CloseContext(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := CloseTimeout
	if deadline, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(deadline))
	}
	return context.WithTimeout(context.WithoutCancel(ctx), limit)
}

// DropRunSchema closes a run's schema on a dsn target: DropSchema under CloseContext, so that it
// is done after the run's Ctrl-C and within a second Ctrl-C's deadline.
func DropRunSchema(ctx context.Context, dsn, schema string) error {
	ctx, cancel := CloseContext(ctx)
	defer cancel()
	if err := DropSchema(ctx, dsn, schema); err != nil {
		return fmt.Errorf("dsn target: %w", err)
	}
	return nil
}

// dropRetryFirst and dropRetryMax pace DropSchema's attempts: a full server or a deadlock with
// another session's DDL usually clears within a second, so the first retry comes soon.
const (
	dropRetryFirst = 100 * time.Millisecond
	dropRetryMax   = 2 * time.Second
)

// dropRetryable are the SQLSTATEs that a busy server answers a DROP SCHEMA (or the connection
// made for it) with and that pass: too many connections (53300), a deadlock or serialization
// failure with another session's DDL (40P01, 40001), a lock_timeout or statement_timeout set for
// the role (55P03, 57014), a session ended by an administrator (57P01) and a server starting up
// or shutting down (57P03).
var dropRetryable = map[string]bool{
	"53300": true, "40P01": true, "40001": true,
	"55P03": true, "57014": true, "57P01": true, "57P03": true,
}

// DropSchema drops schema, with everything in it, on the server at dsn: how a run on a dsn target
// removes what it made. A server too busy to take it now (dropRetryable) is asked again until ctx
// ends, so that a run sharing the server with other clients does not leave its schema behind;
// any other error ends it at once. When ctx ends first, the error names the server's last
// refusal. Its errors never show the DSN's password.
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
	var refused error // the server's last refusal, scrubbed
	for attempt := 1; ; attempt++ {
		err := dropSchemaOnce(ctx, cfg.Copy(), schema, d)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && dropRetryable[pgErr.Code] {
			refused = err
		} else if refused == nil || ctx.Err() == nil {
			return fmt.Errorf("drop schema %s (attempt %d): %w", schema, attempt, err)
		}
		// Refused now, or cut short by the end of ctx after a refusal: ask again while time is left.
		if ctx.Err() != nil || wait.For(ctx, backoff) != nil {
			return fmt.Errorf("drop schema %s: gave up after %d attempts; the server's last refusal: %w", schema, attempt, refused)
		}
		backoff = min(2*backoff, dropRetryMax)
	}
}

// dropSchemaOnce connects and drops schema. A failed connection's error is returned scrubbed of
// the DSN (keeping the server's PgError, if it sent one, for errors.As); the drop's own error is
// the server's, which holds no DSN.
func dropSchemaOnce(ctx context.Context, cfg *pgx.ConnConfig, schema string, d conninfo.DSN) error {
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return &connectError{text: d.Scrub(RedactDSN(err.Error())), cause: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// connectError is a failed connection shown without the DSN's secrets: its text is scrubbed, and
// errors.As still finds the server's PgError underneath.
type connectError struct {
	text  string
	cause error
}

func (e *connectError) Error() string { return e.text }
func (e *connectError) Unwrap() error { return e.cause }
