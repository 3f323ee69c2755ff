package ddllock

// Sizing the VACUUM blocker so that it lasts about blocker_hold.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// sizeVacuum chooses the vacuum blocker's throttle. With vacuum_cost_limit 1, VACUUM sleeps
// vacuum_cost_delay after every cost unit, and a cached page costs one (vacuum_cost_page_hit),
// so a delay of blocker_hold / units makes it last about blocker_hold. The units are counted by
// an unthrottled VACUUM (VERBOSE) of the same kind just before: its "buffer usage" line (heap,
// visibility map and index pages: about twice the heap's pages measured on PostgreSQL 15). It
// also leaves the table in the same state for every point. Autovacuum is throttled the same way
// (2 ms per 200 units by default); this stands in for it on a table hundreds of times larger.
func (r *run) sizeVacuum(ctx context.Context) error {
	var mu sync.Mutex
	var notices []string
	cc := r.env.Admin.Copy()
	cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	conn, err := loadgen.Connect(ctx, cc, connectTimeout)
	if err != nil {
		return fmt.Errorf("ddl-lock: size the vacuum: %w", err)
	}
	defer conn.Close(context.Background())
	var pages int64
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int",
		r.usersIdent).Scan(&pages); err != nil {
		return fmt.Errorf("ddl-lock: size %s: %w", table, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (DISABLE_PAGE_SKIPPING, TRUNCATE false, VERBOSE) "+r.usersIdent); err != nil {
		return fmt.Errorf("ddl-lock: size the vacuum: %w", err)
	}
	mu.Lock()
	units, ok := vacuumUnits(notices)
	mu.Unlock()
	if !ok {
		units = 2 * pages // the measured ratio, for a server whose VERBOSE output differs
	}
	units = max(units, 1)
	r.vacuumUnits = units
	r.vacuumDelayMs = min(float64(r.cfg.blockerHold.Microseconds())/1000/float64(units), maxVacuumCostDelay)
	if r.vacuumDelayMs == maxVacuumCostDelay {
		r.env.Logf("ddl-lock: VACUUM of users costs only %d units: at the most throttle (100 ms each) it lasts about %s, less than blocker_hold %s",
			units, time.Duration(units)*100*time.Millisecond, r.cfg.blockerHold)
	}
	return nil
}

// bufferUsage is the line of VACUUM VERBOSE (PostgreSQL 14 and later) that counts the buffers a
// vacuum touched.
var bufferUsage = regexp.MustCompile(`buffer usage: (\d+) hits, (\d+) misses`)

// vacuumUnits reads the cost units of the first relation VACUUM VERBOSE reported (users; its
// TOAST table follows): every page read once, then cached, costs one unit the next time.
func vacuumUnits(notices []string) (int64, bool) {
	for _, n := range notices {
		if m := bufferUsage.FindStringSubmatch(n); m != nil {
			hits, _ := strconv.ParseInt(m[1], 10, 64)
			misses, _ := strconv.ParseInt(m[2], 10, 64)
			return hits + misses, true
		}
	}
	return 0, false
}
