package mux_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
)

// perOpRoles are the roles TestPerOp connects as, each checked by one authentication method
// (pg_hba.conf lines written by allowRoles), with the password it is given.
var perOpRoles = []struct{ role, method, encryption string }{
	{"mux_trust", "trust", "scram-sha-256"},
	{"mux_password", "password", "scram-sha-256"},
	{"mux_md5", "md5", "md5"},
	{"mux_scram", "scram-sha-256", "scram-sha-256"},
}

const perOpPassword = "per-op secret"

// perOpRun is how long each of TestPerOp's runs lasts: hundreds of connects, each counted (a
// starved machine manages a handful in 500 ms, and a run needs at least one).
const perOpRun = time.Second

// allowRoles creates perOpRoles on tg's server and puts a pg_hba.conf line for each first.
func allowRoles(t *testing.T, tg harness.Target, admin *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	local, ok := tg.(*harness.LocalTarget)
	if !ok {
		t.Fatalf("target %T: want a local target, whose pg_hba.conf the test can write", tg)
	}
	var lines []string
	for _, r := range perOpRoles {
		for _, stmt := range []string{
			"SET password_encryption = '" + r.encryption + "'",
			fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", r.role, perOpPassword),
			"GRANT SELECT ON mux_counted TO " + r.role,
		} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		lines = append(lines, fmt.Sprintf("host all %s 127.0.0.1/32 %s", r.role, r.method))
	}
	hba := filepath.Join(local.DataDir(), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, append([]byte(strings.Join(lines, "\n")+"\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
}

// runPerOp runs conns connections of per-op lookups on mux_counted with cc for d, in the simple
// protocol or prepared.
func runPerOp(ctx context.Context, t *testing.T, cc *pgx.ConnConfig, conns int, d time.Duration, simple bool) (*loadgen.Outcome, error) {
	t.Helper()
	engine, err := mux.New(mux.Config{ConnConfig: cc, Conns: conns, Keys: keys, PerOp: true, Simple: simple,
		SQL: "SELECT abalance FROM mux_counted WHERE aid = $1"})
	if err != nil {
		t.Fatal(err)
	}
	return loadgen.RunEngine(ctx, loadgen.Config{Workers: conns, Duration: d, ConnMode: loadgen.ConnPerOp, ConnConfig: cc}, engine)
}

// serverSessions is how many sessions the server has seen end on its current database
// (pg_stat_database.sessions), once it has counted at least want since before.
func serverSessions(t *testing.T, admin *pgx.Conn, before, want int64) int64 {
	t.Helper()
	var n int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := admin.Exec(context.Background(), "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if err := admin.QueryRow(context.Background(),
			"SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n-before >= want || time.Now().After(deadline) {
			return n
		}
	}
}

// TestPerOp runs the engine with a connection per lookup against a real server: each lookup the
// engine counts was a session of its own on the server, under each authentication method a
// plaintext connection can meet, over TCP and the Unix socket; a wrong password stops it before
// the run; and no connection outlives the run, whether it ends on time or is canceled.
func TestPerOp(t *testing.T) {
	harnesstest.RequirePostgres(t)
	tg := harnesstest.Local(t)
	dsn := tg.DSN()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	stmt := fmt.Sprintf("CREATE TABLE mux_counted AS SELECT generate_series(1, %d) AS aid, 0 AS abalance; "+
		"ALTER TABLE mux_counted ADD PRIMARY KEY (aid)", keys)
	if _, err := admin.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	allowRoles(t, tg, admin)
	var socketDir string
	if err := admin.QueryRow(ctx, "SHOW unix_socket_directories").Scan(&socketDir); err != nil || socketDir == "" {
		t.Fatalf("the server's Unix socket directory: %q, %v", socketDir, err)
	}

	type place struct {
		name, role, host string
		simple           bool
	}
	places := []place{{"unix socket, trust", "postgres", socketDir, true}}
	for _, r := range perOpRoles {
		places = append(places, place{"tcp, " + r.method, r.role, "127.0.0.1", true})
	}
	places = append(places, place{"tcp, scram-sha-256, prepared", "mux_scram", "127.0.0.1", false})
	for _, p := range places {
		t.Run(p.name, func(t *testing.T) {
			cc, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cc.Host, cc.User, cc.Password = p.host, p.role, perOpPassword
			if p.role == "postgres" {
				cc.Password = ""
			}
			app := "mux-per-op-" + strings.ReplaceAll(p.name, ", ", "-")
			cc.RuntimeParams["application_name"] = app
			before := serverSessions(t, admin, 0, 0)
			scans := indexScans(t, admin, "mux_counted")
			out, err := runPerOp(ctx, t, cc, 2, perOpRun, p.simple)
			if err != nil {
				t.Fatal(err)
			}
			if out.AllOps == 0 || len(out.Errors) != 0 {
				t.Fatalf("lookups %d, errors %v: want lookups and no errors", out.AllOps, out.Errors)
			}
			t.Logf("%d lookups, %d connects timed", out.AllOps, out.Connect.TotalCount())
			if left := sessions(t, admin, app); left != 0 {
				t.Fatalf("%d connections left after the run", left)
			}
			// Each lookup counted had its own connect, timed, and its own session on the server
			// (plus the probe's, and those cut off at the end).
			if got := out.Connect.TotalCount(); got < out.Ops {
				t.Errorf("%d connects timed for %d lookups: want one per lookup", got, out.Ops)
			}
			if got := serverSessions(t, admin, before, out.AllOps+1) - before; got < out.AllOps+1 {
				t.Errorf("the server counted %d sessions for %d lookups and the probe: want one per lookup", got, out.AllOps)
			}
			if got := indexScans(t, admin, "mux_counted") - scans; got < out.AllOps || got > out.AllOps+out.Abandoned {
				t.Errorf("server index scans %d, engine counted %d (+%d abandoned)", got, out.AllOps, out.Abandoned)
			}
		})
	}

	// The simple protocol over connections opened once: every lookup one the server ran, and no
	// connect during the run.
	t.Run("tcp, simple, connections kept", func(t *testing.T) {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.RuntimeParams["application_name"] = "mux-simple-kept"
		engine, err := mux.New(mux.Config{ConnConfig: cc, Conns: 2, Keys: keys, Simple: true,
			SQL: "SELECT abalance FROM mux_counted WHERE aid = $1"})
		if err != nil {
			t.Fatal(err)
		}
		scans := indexScans(t, admin, "mux_counted")
		out, err := loadgen.RunEngine(ctx, loadgen.Config{Workers: 2, Duration: perOpRun, ConnMode: loadgen.ConnPerWorker, ConnConfig: cc}, engine)
		if err != nil {
			t.Fatal(err)
		}
		if out.AllOps == 0 || len(out.Errors) != 0 || out.Connect.TotalCount() != 0 {
			t.Fatalf("lookups %d, errors %v, connects %d: want lookups, no errors, no connects", out.AllOps, out.Errors,
				out.Connect.TotalCount())
		}
		// A backend reports its scans when it exits: wait for the sessions to end first.
		if left := sessions(t, admin, "mux-simple-kept"); left != 0 {
			t.Fatalf("%d connections left after the run", left)
		}
		if got := indexScans(t, admin, "mux_counted") - scans; got < out.AllOps || got > out.AllOps+out.Abandoned {
			t.Errorf("server index scans %d, engine counted %d (+%d abandoned)", got, out.AllOps, out.Abandoned)
		}
	})

	// A connection string that names several servers: connects go where pgx lands, past a host
	// that refuses, and a server that is not of the kind asked for is refused before the run.
	for name, second := range map[string]string{"tcp": "127.0.0.1", "unix socket": socketDir} {
		t.Run("several hosts, the first refusing, then "+name, func(t *testing.T) {
			cc, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cc.Fallbacks = []*pgconn.FallbackConfig{{Host: second, Port: cc.Port}}
			cc.Host, cc.Port, cc.TLSConfig = "127.0.0.1", 1, nil
			out, err := runPerOp(ctx, t, cc, 2, perOpRun, true)
			if err != nil {
				t.Fatal(err)
			}
			if out.AllOps == 0 || len(out.Errors) != 0 {
				t.Fatalf("lookups %d, errors %v: want lookups on the second host and no errors", out.AllOps, out.Errors)
			}
		})
	}
	t.Run("target_session_attrs=standby on a primary", func(t *testing.T) {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.ValidateConnect = pgconn.ValidateConnectTargetSessionAttrsStandby
		_, err = runPerOp(ctx, t, cc, 2, perOpRun, true)
		if err == nil || !strings.Contains(err.Error(), "which of the connection string's servers") {
			t.Fatalf("err %v: want the engine to refuse a primary before the run", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.User, cc.Password = "mux_scram", "not the password"
		_, err = runPerOp(ctx, t, cc, 2, time.Second, true)
		if err == nil || !strings.Contains(err.Error(), "28P01") {
			t.Fatalf("err %v: want the server's 28P01 before the run", err)
		}
		if strings.Contains(err.Error(), "not the password") {
			t.Errorf("the error shows the password: %v", err)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.RuntimeParams["application_name"] = "mux-per-op-canceled"
		cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		out, err := runPerOp(cctx, t, cc, 4, time.Minute, false)
		if err == nil || out == nil || out.AllOps == 0 {
			t.Fatalf("out %v, err %v: want lookups counted and the cancel reported", out, err)
		}
		if left := sessions(t, admin, "mux-per-op-canceled"); left != 0 {
			t.Fatalf("%d connections left after the cancel", left)
		}
	})
}

// TestPerOpConnectTimeout: a connect that the server never answers fails after the connect
// timeout, classed connect_timeout as loadgen's connection modes class theirs, and the engine
// backs off and tries again. A proxy passes the first connection (the probe Open makes) to the
// server and accepts the later ones without a word.
func TestPerOpConnectTimeout(t *testing.T) {
	harnesstest.RequirePostgres(t)
	tg := harnesstest.Local(t)
	cc, err := pgx.ParseConfig(tg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	server := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	go func() {
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			if first {
				go passTo(c, server)
			}
		}
	}()
	cc.Host, cc.Port = "127.0.0.1", uint16(ln.Addr().(*net.TCPAddr).Port)
	engine, err := mux.New(mux.Config{ConnConfig: cc, Conns: 1, Keys: keys, PerOp: true, Simple: true,
		ConnectTimeout: 300 * time.Millisecond, SQL: "SELECT $1::int"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := loadgen.RunEngine(context.Background(), loadgen.Config{Workers: 1, Duration: 2 * time.Second,
		ConnMode: loadgen.ConnPerOp, ConnConfig: cc}, engine)
	if err != nil {
		t.Fatal(err)
	}
	// 2 s: a timeout every 300 ms plus the backoff (50, 100, 200 ms …) between them.
	if got := out.Errors[loadgen.ClassConnectTimeout]; got < 2 || out.AllOps != 0 || len(out.Errors) != 1 {
		t.Errorf("errors %v, lookups %d: want two connect timeouts or more, and nothing else", out.Errors, out.AllOps)
	}
}

// passTo copies c to and from a new connection to addr until either side closes.
func passTo(c net.Conn, addr string) {
	s, err := net.Dial("tcp", addr)
	if err != nil {
		_ = c.Close()
		return
	}
	go func() {
		_, _ = io.Copy(s, c)
		_ = s.Close()
	}()
	_, _ = io.Copy(c, s)
	_ = c.Close()
}
