package ddllock

// The actors beside the load: the choreographer, the blocker, the ALTER and the lock-queue watcher.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/wait"
)

// choreograph waits for the load to start, starts the blocker blockerLead before the ALTER, and
// issues the ALTER ddl_at into the measured window.
func (r *run) choreograph(ctx context.Context, started <-chan time.Time, blockConn, ddlConn *pgx.Conn) {
	var start time.Time
	select {
	case <-ctx.Done():
		return
	case start = <-started:
	}
	ddlAt := start.Add(r.env.Warmup + r.cfg.ddlAt)
	if wait.Until(ctx, ddlAt.Add(-blockerLead)) != nil {
		return
	}
	blockerStart := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.block(ctx, blockConn, blockerStart)
	}()
	defer wg.Wait()
	// Wait until the blocker holds SHARE UPDATE EXCLUSIVE, for blockerLead at most: the ALTER
	// must not get ahead of it, even when ddl_at came before the load's first second.
	for time.Since(blockerStart) < blockerLead {
		var held bool
		err := ddlConn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation'
			AND relation = $1 AND pid = $2 AND mode = 'ShareUpdateExclusiveLock' AND granted)`,
			r.usersOID, r.blockerPID).Scan(&held)
		if err != nil {
			if ctx.Err() == nil {
				r.setDDLErr(fmt.Errorf("look for the blocker's lock: %w", err))
			}
			return
		}
		if held {
			r.mu.Lock()
			if r.blockerIv.from.IsZero() {
				r.blockerIv.from = time.Now()
			}
			r.mu.Unlock()
			break
		}
		if wait.Until(ctx, time.Now().Add(lockProbeInterval)) != nil {
			return
		}
	}
	if wait.Until(ctx, ddlAt) != nil {
		return
	}
	r.migrate(ctx, ddlConn)
}

func (r *run) setDDLErr(err error) {
	r.mu.Lock()
	r.ddlErr = err
	r.mu.Unlock()
}

// block holds SHARE UPDATE EXCLUSIVE on users: an explicit lock in an open transaction until
// blockerStart+blocker_hold, or a throttled VACUUM for as long as it runs.
func (r *run) block(ctx context.Context, conn *pgx.Conn, blockerStart time.Time) {
	var err error
	switch r.cfg.blocker {
	case blockerVacuum:
		_, err = conn.Exec(ctx, "SELECT set_config('vacuum_cost_limit', '1', false), set_config('vacuum_cost_delay', $1, false)",
			fmt.Sprintf("%.3f", r.vacuumDelayMs))
		if err == nil {
			// DISABLE_PAGE_SKIPPING reads every page although the table is frozen, so the run
			// time follows the table's size; TRUNCATE false keeps VACUUM from asking for ACCESS
			// EXCLUSIVE at its end.
			_, err = conn.Exec(ctx, "VACUUM (DISABLE_PAGE_SKIPPING, TRUNCATE false) "+r.usersIdent)
		}
	default:
		if _, err = conn.Exec(ctx, "BEGIN"); err == nil {
			if _, err = conn.Exec(ctx, "LOCK TABLE "+r.usersIdent+" IN SHARE UPDATE EXCLUSIVE MODE"); err == nil {
				_ = wait.Until(ctx, blockerStart.Add(r.cfg.blockerHold))
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, cerr := conn.Exec(rctx, "COMMIT"); err == nil && ctx.Err() == nil {
				err = cerr
			}
			cancel()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blockerIv.to = time.Now()
	if r.blockerIv.from.IsZero() {
		r.blockerIv.from = blockerStart
	}
	if err != nil && ctx.Err() == nil {
		r.blockErr = err
	}
}

// migrate issues the ALTER: once and without a lock timeout (no-timeout, long-queries), or with
// lock_timeout, retried with doubling backoff until it succeeds or the run ends (lock-timeout).
func (r *run) migrate(ctx context.Context, conn *pgx.Conn) {
	lockTimeout := "0"
	if r.cfg.variant == VariantLockTimeout {
		lockTimeout = fmt.Sprint(r.cfg.lockTimeout.Milliseconds())
	}
	if _, err := conn.Exec(ctx, "SELECT set_config('lock_timeout', $1, false)", lockTimeout); err != nil {
		if ctx.Err() == nil {
			r.setDDLErr(err)
		}
		return
	}
	alter := "ALTER TABLE " + r.usersIdent + " ADD COLUMN " + pgx.Identifier{column}.Sanitize() + " text DEFAULT 'pending'"
	r.ddlIssued.Store(time.Now().UnixNano())
	backoff := r.cfg.retryBackoff
	for {
		from := time.Now()
		_, err := conn.Exec(ctx, alter)
		to := time.Now()
		r.mu.Lock()
		r.attempts = append(r.attempts, interval{from, to})
		r.mu.Unlock()
		switch {
		case err == nil:
			r.ddlDone.Store(to.UnixNano())
			return
		case ctx.Err() != nil:
			return
		case r.cfg.variant == VariantLockTimeout && harness.SQLState(err) == codeLockNotAvailable:
			r.mu.Lock()
			r.retries++
			r.mu.Unlock()
			if wait.Until(ctx, time.Now().Add(backoff)) != nil {
				return
			}
			backoff = min(2*backoff, retryBackoffCap)
		default:
			r.setDDLErr(err)
			return
		}
	}
}

// watch reads the lock queue on users, the application's sessions and its long-running queries
// every watchInterval until ctx ends.
func (r *run) watch(ctx context.Context, conn *pgx.Conn) {
	const q = `SELECT
		(SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = $1 AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))::int,
		(SELECT count(*) FROM pg_stat_activity WHERE application_name = $2)::int,
		(SELECT count(*) FROM pg_stat_activity WHERE application_name = $2 AND wait_event = 'PgSleep')::int`
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var rd reading
		err := conn.QueryRow(qctx, q, r.usersOID, r.appName).Scan(&rd.queue, &rd.appConns, &rd.longRunning)
		cancel()
		rd.at = time.Now()
		r.mu.Lock()
		if err == nil {
			r.readings = append(r.readings, rd)
		} else if ctx.Err() == nil {
			r.watchErr = err
		}
		r.mu.Unlock()
		if ctx.Err() != nil || conn.IsClosed() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
