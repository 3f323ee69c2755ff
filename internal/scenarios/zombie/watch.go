package zombie

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// watchInterval is how often the watcher reads pg_stat_activity: ten times a second resolves a
// backend's exit to 0.1 s, a fifth of the default check_interval, for one small query (a row per
// client backend, at most max_connections) each time.
const watchInterval = 100 * time.Millisecond

// reading is one watcher sample.
type reading struct {
	at          time.Time
	connections int // client backends on the server, everyone's (the watcher's own included)
	appConns    int // the web tier's backends
	appActive   int // the web tier's backends running a query
	zombies     int // the web tier's backends whose client closed the connection
}

// gone is a backend whose client closed the connection mid-query.
type gone struct {
	closedAt time.Time
	probe    string // the probe's kind; "" for the web tier's requests
}

// abandon notes that the client of backend pid closed its connection at closedAt.
func (r *run) abandon(pid uint32, closedAt time.Time, probe string) {
	r.mu.Lock()
	r.abandoned[pid] = gone{closedAt: closedAt, probe: probe}
	r.mu.Unlock()
}

// watch reads the server's client backends every watchInterval until ctx ends: how many there
// are, how many are the web tier's, and which of those have lost their client; a backend whose
// client left and that is no longer listed has exited, and its lifetime after the close is
// recorded.
func (r *run) watch(ctx context.Context, conn *pgx.Conn) {
	const q = `SELECT pid, coalesce(application_name, ''), coalesce(state, '') FROM pg_stat_activity
		WHERE backend_type = 'client backend'`
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	type row struct {
		pid         uint32
		name, state string
	}
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		rows, err := conn.Query(qctx, q)
		var got []row
		if err == nil {
			got, err = pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
				var x row
				return x, rw.Scan(&x.pid, &x.name, &x.state)
			})
		}
		cancel()
		at := time.Now()
		r.mu.Lock()
		if err == nil {
			rd := reading{at: at, connections: len(got)}
			present := make(map[uint32]bool, len(got))
			for _, x := range got {
				present[x.pid] = true
				if x.name != r.appName {
					continue
				}
				rd.appConns++
				if x.state == "active" {
					rd.appActive++
				}
				if g, ok := r.abandoned[x.pid]; ok && g.probe == "" {
					rd.zombies++
				}
			}
			for pid, g := range r.abandoned {
				if present[pid] {
					continue
				}
				life := max(at.Sub(g.closedAt), 0)
				if g.probe == "" {
					r.lifetimes = append(r.lifetimes, life)
				} else {
					r.probeExits[pid] = at
				}
				delete(r.abandoned, pid)
			}
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
