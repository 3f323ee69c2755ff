package harness

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestServerAnswered: a server that refuses a connection for being full still answered; one
// shutting down or starting, or a connection refused, did not.
func TestServerAnswered(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "53300"}, true},
		{&pgconn.PgError{Code: "28P01"}, true},
		{&pgconn.PgError{Code: "57P01"}, false},
		{&pgconn.PgError{Code: "57P03"}, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
	}
	for _, c := range cases {
		if got := serverAnswered(c.err); got != c.want {
			t.Errorf("serverAnswered(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestServerWatchOfAStoppedDSNServer: a watch pinging a server by its DSN says nothing while it
// answers and, once it is stopped, that it went away.
func TestServerWatchOfAStoppedDSNServer(t *testing.T) {
	p := localTestProvider(t)
	t.Parallel()
	server := startLocalTest(t, p, nil)
	w := NewServerWatch(&dsnTarget{raw: server.DSN(), schema: "public"})
	defer w.Close()
	ctx := context.Background()
	if err := w.Check(ctx); err != nil {
		t.Fatalf("a live server: %v", err)
	}
	gone := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Watch(wctx, 100*time.Millisecond, func(err error) { gone <- err })
	if err := server.stopServer(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-gone:
		if !errors.Is(err, ErrServerGone) {
			t.Errorf("watch: %v, want ErrServerGone", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch did not see the server stop within 20 s")
	}
}
