package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultOtherHostAge is how long CleanDSN waits before it counts a run of another host as dead:
// it cannot see that host's processes, and no quick run lasts a day.
const DefaultOtherHostAge = 24 * time.Hour

// cleanDSNSessionWait is how long CleanDSN waits for terminated sessions to end before it drops
// their schema (a backend exits within milliseconds of pg_terminate_backend).
const cleanDSNSessionWait = 5 * time.Second

// CleanDSNOptions say what CleanDSN may remove.
type CleanDSNOptions struct {
	DSN    string
	DryRun bool
	// AnyHost counts the runs of other hosts as dead whatever their age (their processes cannot
	// be seen from here). Without it, a run of another host is dead once OtherHostAge old.
	AnyHost      bool
	OtherHostAge time.Duration
	// Prepared also removes the schemas `pgscale prepare` made for a run that never came. They are
	// kept by default: their maker exits by design.
	Prepared bool
}

// dsnRun is what one run left on the server: its schema (if still there) and its roles.
type dsnRun struct {
	marker RunMarker // the schema's, or else a role's
	schema bool      // the schema exists (in this database)
	roles  []string
	slots  []string // replication slots named after its schema (clean_dsn_slots.go)
}

// CleanDSN removes from the server at o.DSN what pgscale runs that are no longer alive left
// there: it terminates their sessions, drops their replication slots (named after their
// schemas), their schemas (pgscale_<run>, with everything in them) and the roles they created. Only schemas and roles that carry a pgscale run marker
// (RunMarker, written when they were created) are considered; everything else, including a
// pgscale_* schema without a marker, is left alone and listed as kept. A run is alive when the
// shards' advisory lock of its run id is held, or when its pgscale process still runs on this
// host; a run of another host counts as dead only with o.AnyHost or once o.OtherHostAge old.
// It writes one line per thing removed ("would …" on a dry run), goes on past failures and
// returns every error.
func CleanDSN(ctx context.Context, w io.Writer, o CleanDSNOptions) (CleanReport, error) {
	var report CleanReport
	cfg, err := ParseDSN(o.DSN)
	if err != nil {
		return report, err
	}
	if o.OtherHostAge <= 0 {
		o.OtherHostAge = DefaultOtherHostAge
	}
	cfg.RuntimeParams["application_name"] = "pgscale clean"
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return report, fmt.Errorf("clean --dsn %s: %s", RedactDSN(o.DSN), firstLine(RedactDSN(err.Error())))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	runs, kept, err := findDSNRuns(ctx, conn)
	if err != nil {
		return report, err
	}
	orphanSlots, keptSlots, err := dsnSlotsOf(ctx, conn, runs)
	if err != nil {
		return report, err
	}
	kept = append(kept, keptSlots...)
	report.Kept = append(report.Kept, kept...)
	for _, k := range kept {
		fmt.Fprintf(w, "kept %s\n", k)
	}
	host, _ := os.Hostname()
	var errs []error
	for _, run := range runs {
		reason, dead, err := dsnRunDead(ctx, conn, run, host, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !dead {
			k := fmt.Sprintf("run %s (schema %s): %s", run.marker.RunID, run.marker.Schema, reason)
			report.Kept = append(report.Kept, k)
			fmt.Fprintf(w, "kept %s\n", k)
			continue
		}
		r, err := reapDSNRun(ctx, w, conn, run, reason, o.DryRun)
		report.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	r, err := reapOrphanSlots(ctx, w, conn, orphanSlots, o.DryRun)
	report.add(r)
	if err != nil {
		errs = append(errs, err)
	}
	return report, errors.Join(errs...)
}

// findDSNRuns reads the marked schemas of the connected database and the marked roles of the
// cluster, grouped by run schema. kept lists the pgscale_* schemas with no marker and the marked
// roles whose run's schema is in another database.
func findDSNRuns(ctx context.Context, conn *pgx.Conn) (runs []*dsnRun, kept []string, err error) {
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: %w", err)
	}
	bySchema := map[string]*dsnRun{}
	rows, err := conn.Query(ctx, `SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n
		WHERE n.nspname LIKE 'pgscale\_%' ORDER BY 1`)
	if err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: list schemas: %w", err)
	}
	type named struct {
		name    string
		comment *string
	}
	schemas, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (named, error) {
		var n named
		return n, r.Scan(&n.name, &n.comment)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: list schemas: %w", err)
	}
	for _, s := range schemas {
		var m RunMarker
		ok := s.comment != nil
		if ok {
			m, ok = parseRunMarker(*s.comment)
		}
		if !ok || m.Schema != s.name {
			kept = append(kept, fmt.Sprintf("schema %s: it carries no pgscale run marker (made by another program, or by a pgscale older than the markers); drop it yourself if it is pgscale's", s.name))
			continue
		}
		bySchema[s.name] = &dsnRun{marker: m, schema: true}
	}
	rows, err = conn.Query(ctx, `SELECT r.rolname, shobj_description(r.oid, 'pg_authid') FROM pg_roles r
		WHERE r.rolname LIKE 'pgscale\_%' AND shobj_description(r.oid, 'pg_authid') IS NOT NULL ORDER BY 1`)
	if err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: list roles: %w", err)
	}
	roles, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (named, error) {
		var n named
		return n, r.Scan(&n.name, &n.comment)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: list roles: %w", err)
	}
	for _, r := range roles {
		m, ok := parseRunMarker(*r.comment)
		if !ok {
			continue // not a run's role
		}
		if m.Database != db {
			kept = append(kept, fmt.Sprintf("role %s: its run %s worked in database %s; clean with a DSN of that database", r.name, m.RunID, m.Database))
			continue
		}
		run := bySchema[m.Schema]
		if run == nil {
			run = &dsnRun{marker: m}
			bySchema[m.Schema] = run
		}
		run.roles = append(run.roles, r.name)
	}
	for _, run := range bySchema {
		runs = append(runs, run)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].marker.Schema < runs[j].marker.Schema })
	return runs, kept, nil
}

// dsnRunDead tells whether run is over, and why it thinks so (or why it is kept).
func dsnRunDead(ctx context.Context, conn *pgx.Conn, run *dsnRun, host string, o CleanDSNOptions) (reason string, dead bool, err error) {
	m := run.marker
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid::bigint = $1)`,
		int64(RunLockKey(m.RunID))).Scan(&locked); err != nil {
		return "", false, fmt.Errorf("clean --dsn: run %s: shard locks: %w", m.RunID, err)
	}
	started := m.StartedAt.Local().Format(time.DateTime)
	// Its pid is one this process can look up only on this host and in this pid namespace (a
	// run in a container that shares the host's name is in another).
	local := m.Host == host && (m.PIDNS == "" || m.PIDNS == pidNamespace())
	switch {
	case locked:
		return "a shard of the run holds its advisory lock: alive", false, nil
	case m.State == MarkerPrepared && !o.Prepared:
		return fmt.Sprintf("made by pgscale prepare (pid %d on %s, %s) for a later run; --prepared drops it", m.PID, m.Host, started), false, nil
	case local && cleanProcessAlive(m.PID, m.ProcStart):
		return fmt.Sprintf("pgscale pid %d on this host, started %s, is alive", m.PID, started), false, nil
	case local:
		return fmt.Sprintf("pgscale pid %d on this host, started %s, is gone", m.PID, started), true, nil
	case o.AnyHost:
		return fmt.Sprintf("pgscale pid %d on host %s, started %s; --any-host", m.PID, m.Host, started), true, nil
	case time.Since(m.StartedAt) > o.OtherHostAge:
		return fmt.Sprintf("pgscale pid %d on host %s started %s, more than %s ago", m.PID, m.Host, started, o.OtherHostAge), true, nil
	default:
		return fmt.Sprintf("pgscale pid %d on host %s, started %s, may be alive (this host cannot see it); "+
			"--any-host, or --other-host-age shorter than its age, removes it", m.PID, m.Host, started), false, nil
	}
}

// reapDSNRun terminates a dead run's sessions, then drops its schema and its roles.
func reapDSNRun(ctx context.Context, w io.Writer, conn *pgx.Conn, run *dsnRun, reason string, dryRun bool) (CleanReport, error) {
	var report CleanReport
	m := run.marker
	add := func(kind, name, done, plan string) {
		report.Removed = append(report.Removed, CleanItem{Kind: kind, Name: name, Reason: reason})
		fmt.Fprintf(w, "%s %s of run %s (%s)\n", cleanVerb(dryRun, done, plan), name, m.RunID, reason)
	}
	// The run's sessions: those named after its schema or one of its roles (application_name) in
	// this database, or <schema>-…, as scenarios name sessions of their own (queue's workers,
	// zombie-queries' web tier and probes; a schema name has no '-', so no other run's sessions
	// are named so), and any session of its roles. Sessions stuck in the server (pg_sleep, a
	// lock queue, a probe's CPU query) outlive a killed client, and would hold the schema's locks.
	names := append([]string{m.Schema}, run.roles...)
	rows, err := conn.Query(ctx, `SELECT pid, usename, application_name FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND ((datname = current_database()
			AND (application_name = ANY($1) OR left(application_name, length($3) + 1) = $3 || '-')) OR usename = ANY($2))
		ORDER BY pid`, names, run.roles, m.Schema)
	if err != nil {
		return report, fmt.Errorf("clean --dsn: run %s: sessions: %w", m.RunID, err)
	}
	type session struct {
		pid       int32
		user, app *string
	}
	sessions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session, error) {
		var s session
		return s, r.Scan(&s.pid, &s.user, &s.app)
	})
	if err != nil {
		return report, fmt.Errorf("clean --dsn: run %s: sessions: %w", m.RunID, err)
	}
	var errs []error
	var pids []int32
	for _, s := range sessions {
		if !dryRun {
			var ok bool
			if err := conn.QueryRow(ctx, "SELECT pg_terminate_backend($1)", s.pid).Scan(&ok); err != nil {
				errs = append(errs, fmt.Errorf("clean --dsn: run %s: terminate session pid %d: %w", m.RunID, s.pid, err))
				continue
			}
			if !ok {
				continue // it ended by itself since it was listed
			}
		}
		pids = append(pids, s.pid)
		add("dsn session", fmt.Sprintf("session pid %d (role %s, application_name %s)", s.pid, deref(s.user), deref(s.app)), "terminated", "terminate")
	}
	if !dryRun && len(pids) > 0 {
		waitSessionsGone(ctx, conn, pids)
	}
	for _, slot := range run.slots {
		// Before the schema: a slot left behind holds WAL until the disk is full.
		if !dryRun {
			if err := dropDSNSlot(ctx, conn, slot); err != nil {
				errs = append(errs, fmt.Errorf("clean --dsn: run %s: %w", m.RunID, err))
				continue
			}
		}
		add("dsn replication slot", "replication slot "+slot, "dropped", "drop")
	}
	if run.schema {
		if !dryRun {
			// lock_timeout: a session not recognised above that holds a lock in the schema makes
			// the drop fail with a message, not hang.
			_, err := conn.Exec(ctx, "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS "+pgx.Identifier{m.Schema}.Sanitize()+" CASCADE; RESET lock_timeout")
			if err != nil {
				errs = append(errs, fmt.Errorf("clean --dsn: run %s: drop schema %s: %w", m.RunID, m.Schema, err))
			}
			_, _ = conn.Exec(ctx, "RESET lock_timeout")
			if err != nil {
				return report, errors.Join(errs...)
			}
		}
		add("dsn schema", "schema "+m.Schema, "dropped", "drop")
	}
	for _, role := range run.roles {
		if !dryRun {
			// With the schema gone, so are the role's privileges on what was in it. A role that
			// still owns or may use something elsewhere is left alone: that is not ours to drop.
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
				errs = append(errs, fmt.Errorf("clean --dsn: run %s: drop role %s (left alone): %w", m.RunID, role, err))
				continue
			}
		}
		add("dsn role", "role "+role, "dropped", "drop")
	}
	return report, errors.Join(errs...)
}

// waitSessionsGone polls until none of pids is in pg_stat_activity, for up to cleanDSNSessionWait.
func waitSessionsGone(ctx context.Context, conn *pgx.Conn, pids []int32) {
	for deadline := time.Now().Add(cleanDSNSessionWait); time.Now().Before(deadline); {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&n); err != nil || n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func deref(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}
