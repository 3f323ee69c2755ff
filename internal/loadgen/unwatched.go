package loadgen

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgx watches the context of every query it runs: with a context that can be canceled, each
// query registers a context.AfterFunc and removes it again (4 of the 5 allocations of a prepared
// lookup, and a lock on the context's parent each time). A worker whose connection the load
// generator holds needs no such watch: guard interrupts every connection of the run at once when
// the run ends, by setting a deadline in the past on it, which ends a read or write in flight as
// the watch would have. Worker.QueryContext hands such workers a context pgx does not watch.

// unwatched is ctx without its Done channel: pgx then installs no watch for it. Err, Deadline and
// Value still answer from ctx, so an error pgx meets after the run ended reads as ctx's.
type unwatched struct{ context.Context }

func (unwatched) Done() <-chan struct{} { return nil }

// QueryContext returns the context the operation should give pgx for the queries it runs on the
// connection the connection mode handed it. In the per-worker and pool modes that is a context pgx
// does not watch (the run interrupts those connections itself when it ends), which saves pgx's
// per-query watch; otherwise, and for anything but queries on that connection (sleeps, selects on
// Done, connections of the operation's own), it is ctx itself.
func (w *Worker) QueryContext(ctx context.Context) context.Context {
	if w.guard == nil || w.conn == nil {
		return ctx
	}
	// Only a connection queried through an unwatched context joins the guard, and then every
	// query on it is cut off at the run's end (in pool mode, whichever worker holds it). Other
	// operations keep pgx's watch, so a connection they shield from the run's end (a batch that
	// must land, jobs given back after the run) is not cut off, as long as nothing queries it
	// through QueryContext: today only select-only's lookups do.
	if w.conn != w.guardedConn {
		w.guard.add(w.conn)
		w.guardedConn = w.conn
	}
	// The worker's operations get the same context each time: keep its unwatched form, so that
	// QueryContext allocates once per worker, not once per operation.
	if ctx != w.queryParent {
		w.queryParent, w.queryCtx = ctx, unwatched{ctx}
	}
	return w.queryCtx
}

// guard is the set of connections a run interrupts when it ends: those its workers queried
// through QueryContext.
type guard struct {
	mu       sync.Mutex
	conns    map[*pgx.Conn]struct{}
	stopped  bool
	released bool
}

// pastDeadline ends any read or write in flight at once.
var pastDeadline = time.Unix(1, 0)

// add registers conn; a run that already ended interrupts it at once.
func (g *guard) add(conn *pgx.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		interrupt(conn)
		return
	}
	if g.conns == nil {
		g.conns = map[*pgx.Conn]struct{}{}
	}
	// Drop closed connections now and then, so that a run that reconnects often does not grow it.
	if n := len(g.conns); n >= 64 && n&(n-1) == 0 {
		for c := range g.conns {
			if c.IsClosed() {
				delete(g.conns, c)
			}
		}
	}
	g.conns[conn] = struct{}{}
}

// fired tells whether the guard has interrupted its connections (the run ended).
func (g *guard) fired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// watch interrupts every registered connection when ctx ends; the returned stop undoes it.
func (g *guard) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.released {
			return
		}
		g.stopped = true
		for c := range g.conns {
			interrupt(c)
		}
	})
}

// release takes the cut-off's past deadline off the connections that are still open, once
// every worker has stopped: closing them then still sends Terminate, so their servers see a
// clean exit instead of a dropped socket. After release the guard interrupts nothing more.
func (g *guard) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.released = true
	if !g.stopped {
		return
	}
	for c := range g.conns {
		if nc := c.PgConn().Conn(); nc != nil && !c.IsClosed() {
			_ = nc.SetDeadline(time.Time{})
		}
	}
}

func interrupt(conn *pgx.Conn) {
	if nc := conn.PgConn().Conn(); nc != nil {
		_ = nc.SetDeadline(pastDeadline)
	}
}
