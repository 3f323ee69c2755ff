package mux

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// TestReopenCountsFailedConnects: while the server refuses connections, each attempt to reopen
// one is recorded as an error (connect_refused) and the next waits its backoff, so a 600 ms run
// makes a handful of attempts, not thousands; at the run's end the attempts stop and nothing
// reaches the thread's mailbox.
func TestReopenCountsFailedConnects(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: every connect is refused
	cc, err := pgx.ParseConfig("postgres://u@" + addr + "/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := loadgen.NewRecorder(start)
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(600*time.Millisecond))
	defer cancel()
	r := &redialer{ctx: ctx, cfg: Config{ConnConfig: cc, ConnectTimeout: time.Second, SQL: "SELECT $1::int"}, rec: rec}
	box, err := newMailbox()
	if err != nil {
		t.Fatal(err)
	}
	r.reopen(&conn{id: 3, fd: -1}, 3, box)
	r.wg.Wait()
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the reopening went on %s after the run's end", waited)
	}
	snap := rec.Snapshot()
	n := snap.Errors[loadgen.ClassConnectRefused]
	if n < 1 || n > 20 || len(snap.Errors) != 1 {
		t.Errorf("errors %v: want a few connect_refused (one per attempt, with a backoff between), nothing else", snap.Errors)
	}
	if got := box.take(); len(got) != 0 {
		t.Errorf("%d connections in the mailbox, want none", len(got))
	}
	box.close()
}
