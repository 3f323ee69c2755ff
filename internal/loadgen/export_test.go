package loadgen

import (
	"context"
	"runtime"

	"github.com/jackc/pgx/v5"
)

// CutOffAndRelease puts conn under a run's guard, ends the run (ctx is canceled, so the guard
// interrupts conn) and then releases the guard, as Run does once its workers have stopped.
func CutOffAndRelease(conn *pgx.Conn, release bool) {
	g := &guard{}
	g.add(conn)
	ctx, cancel := context.WithCancel(context.Background())
	stop := g.watch(ctx)
	defer stop()
	cancel()
	for !g.fired() {
		runtime.Gosched()
	}
	if release {
		g.release()
	}
}
