package loadgen_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
)

// TestRedialerReconnectsAndGivesUp: a terminated backend is replaced at the next statement (the
// 57P01 counted, the statement run again on the new connection); a stopped server makes Conn fail
// with a LostError naming the connection, after the bound, not at once and not never.
func TestRedialerReconnectsAndGivesUp(t *testing.T) {
	tg := harnesstest.Local(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc, err := pgx.ParseConfig(tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = "pgscale-redial-test"
	rd, err := loadgen.Redial(ctx, "test control", cc, loadgen.RedialOptions{GiveUp: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if n, err := harnesstest.Terminate(ctx, tg.AdminDSN(), "pgscale-redial-test"); err != nil || n != 1 {
		t.Fatalf("terminate: %d, %v; want 1", n, err)
	}
	var one int
	if err := rd.Do(ctx, func(conn *pgx.Conn) error { return conn.QueryRow(ctx, "SELECT 1").Scan(&one) }); err != nil || one != 1 {
		t.Fatalf("Do after the termination: %v (%d); want it run again on a new connection", err, one)
	}
	errs, samples := rd.Errors()
	if rd.Reconnects() != 1 || errs["57P01"] != 1 {
		t.Errorf("reconnects %d, errors %v (%v); want 1 and one 57P01", rd.Reconnects(), errs, samples)
	}

	// The server's word counts even when it reaches a caller whose time has run out (a sampler on
	// a starved machine): terminated again, the answer is read, and the caller's 900 ms pass.
	if n, err := harnesstest.Terminate(ctx, tg.AdminDSN(), "pgscale-redial-test"); err != nil || n != 1 {
		t.Fatalf("terminate: %d, %v; want 1", n, err)
	}
	late, lateCancel := context.WithTimeout(ctx, 900*time.Millisecond)
	_ = rd.Do(late, func(conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, "SELECT 1").Scan(&one)
		<-late.Done()
		return err
	})
	lateCancel()
	if errs, samples := rd.Errors(); errs["57P01"] != 2 {
		t.Errorf("errors %v (%v): want the late caller's 57P01 counted too", errs, samples)
	}

	// A connection used after it was closed is conn_closed, not other.
	conn, err := rd.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT 1")
	if got := loadgen.Classify(err); got != loadgen.ClassConnClosed {
		t.Errorf("Classify(%v) = %s, want %s", err, got, loadgen.ClassConnClosed)
	}

	if err := tg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = rd.Conn(ctx)
	var lost *loadgen.LostError
	if !errors.As(err, &lost) || lost.Attempts < 2 || !strings.HasPrefix(err.Error(), "test control: lost its connection and could not reconnect in ") {
		t.Fatalf("Conn with the server stopped: %v; want a LostError after several attempts", err)
	}
	t.Logf("%v", err)
	if errs, _ := rd.Errors(); errs[loadgen.ClassConnectRefused] < 2 {
		t.Errorf("errors %v: want the refused attempts counted", errs)
	}
}
