package ddllock

// The application role a point connects as, and the teardown that drops it and the column the ALTER
// added.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/wait"
)

// roleName is the application role: unique per run on a dsn target (roles are cluster-wide).
func roleName(schema string) string {
	name := "pgscale_ddl_lock_app"
	if schema != "" && schema != "public" {
		name = schema + "_app"
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// createRole creates the application role with a random password (never logged), lets it read
// and lock users, and sets its statement_timeout when the point has one. The application then
// connects as that role, so the setting applies to every session it opens, as the article
// advises (ALTER ROLE webservice SET statement_timeout = …).
func (r *run) createRole(ctx context.Context, ctl *pgx.Conn) error {
	name := roleName(r.env.Target.Schema())
	if err := dropRole(ctx, ctl, name, r.env.Target.Schema(), r.usersIdent); err != nil {
		return err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("ddl-lock: role password: %w", err)
	}
	password := hex.EncodeToString(secret)
	role := pgx.Identifier{name}.Sanitize()
	stmts := []string{
		"CREATE ROLE " + role + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '" + password + "'",
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{r.env.Target.Schema()}.Sanitize() + " TO " + role,
		"GRANT SELECT, UPDATE ON " + r.usersIdent + " TO " + role, // UPDATE: SELECT … FOR UPDATE needs it
	}
	if r.cfg.statementTimeout > 0 {
		stmts = append(stmts, fmt.Sprintf("ALTER ROLE %s SET statement_timeout = %d", role, r.cfg.statementTimeout.Milliseconds()))
	}
	r.role = name
	// One transaction: a run killed in the middle leaves no role, or one that carries the run's
	// marker (on a dsn target), which pgscale clean --dsn finds; never one without it.
	err := pgx.BeginFunc(ctx, ctl, func(tx pgx.Tx) error {
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("application role %s: %s", name, strings.ReplaceAll(err.Error(), password, "********"))
			}
		}
		return harness.MarkRole(ctx, tx.Conn(), name, r.env.Target.Schema())
	})
	if err != nil {
		return fmt.Errorf("ddl-lock: %w", err)
	}
	r.app.User, r.app.Password = name, password
	return nil
}

// dropRole removes the application role and its privileges, if it exists.
func dropRole(ctx context.Context, ctl *pgx.Conn, name, schema, usersIdent string) error {
	var exists bool
	if err := ctl.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("ddl-lock: look for role %s: %w", name, err)
	}
	if !exists {
		return nil
	}
	// Its sessions are ended first where the admin may; DROP ROLE does not wait for them.
	_, _ = ctl.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
	role := pgx.Identifier{name}.Sanitize()
	for _, stmt := range []string{
		"REVOKE ALL ON " + usersIdent + " FROM " + role,
		"REVOKE ALL ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " FROM " + role,
		"DROP ROLE " + role,
	} {
		if _, err := ctl.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("ddl-lock: drop role %s: %w", name, err)
		}
	}
	return nil
}

// teardown ends what the point left behind: the ALTER and the blocker if still running (a client
// that gave up does not stop a backend waiting on a lock), every application session (the
// abandoned ones still wait in the queue, as the article's zombie queries do), then the column
// the ALTER added and the application role. It tries every step and reports every failure.
func (r *run) teardown(ctx context.Context, ctl *pgx.Conn) error {
	var errs []error
	// The ALTER and the blocker first: the application's sessions may be queued behind them. Then
	// the application's, one at a time: on a dsn target a session the admin may not signal must
	// not keep the others alive; it ends by itself once nothing blocks it. Failing to signal one
	// is an error only if the sessions do not end.
	var signalErr error
	pids := []uint32{r.ddlPID, r.blockerPID}
	rows, err := ctl.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", r.appName)
	if err == nil {
		var app []uint32
		app, err = pgx.CollectRows(rows, pgx.RowTo[uint32])
		pids = append(pids, app...)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("find sessions: %w", err))
	}
	for _, pid := range pids {
		if _, err := ctl.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil && signalErr == nil {
			signalErr = fmt.Errorf("terminate session %d: %w", pid, err)
		}
	}
	for {
		var left int
		err := ctl.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[]) OR application_name = $2`,
			[]uint32{r.ddlPID, r.blockerPID}, r.appName).Scan(&left)
		if err != nil {
			errs = append(errs, fmt.Errorf("wait for sessions to end: %w", err))
			break
		}
		if left == 0 {
			break
		}
		if wait.Until(ctx, time.Now().Add(50*time.Millisecond)) != nil {
			errs = append(errs, fmt.Errorf("wait for sessions to end: %d left: %w", left, ctx.Err()), signalErr)
			break
		}
	}
	errs = append(errs, r.dropColumn(ctx, ctl))
	if r.role != "" {
		errs = append(errs, dropRole(ctx, ctl, r.role, r.env.Target.Schema(), r.usersIdent))
	}
	return errors.Join(errs...)
}

// dropColumn drops the column the ALTER adds. Its lock_timeout keeps a session that could not be
// ended from hanging the teardown.
func (r *run) dropColumn(ctx context.Context, ctl *pgx.Conn) error {
	_, err := ctl.Exec(ctx, "SELECT set_config('lock_timeout', '10000', false)")
	if err == nil {
		_, err = ctl.Exec(ctx, "ALTER TABLE "+r.usersIdent+" DROP COLUMN IF EXISTS "+pgx.Identifier{column}.Sanitize())
	}
	if err != nil {
		return fmt.Errorf("ddl-lock: drop column %s: %w", column, err)
	}
	return nil
}
