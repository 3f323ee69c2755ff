package dsnsafety

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// dsnSentinels are tables of the user's, in public, named as the tables the scenarios and
// calibrate create in their own schema. Each holds rows that must survive every command.
var dsnSentinels = []string{
	"pgbench_history", "pgbench_accounts", "pgbench_branches", "pgbench_tellers", // select-only, pgbench, calibrate
	"events",                                               // ingest
	"task", "task_queue", "done_log", "queue_shard_report", // queue
	"users",                                              // ddl-lock
	"connect_storm_events",                               // connect-storm
	"colpad_layout", "colpad_careless", "colpad_aligned", // column-padding (colpad_layout also feeds columns --verify)
	"wal_load", // wal-retention
}

// dsnCommand is one pgscale command run against the dsn, normally and interrupted.
type dsnCommand struct {
	name string
	// normal are the arguments of a full, short run; signalled those of a run long enough to be
	// interrupted mid-way (nil: the same as normal).
	normal, signalled []string
	// then, when set, runs after the normal run (prepare's run that takes the schema over).
	then []string
	// mark is the LIKE pattern of the schema whose first relation says the command is under way.
	mark string
	// await, when set, is a query that turns true once the command is where a signal tests the
	// most; the signal then goes at once.
	await string
}

// dsnConcurrency is how many commands TestDSNSafety runs at once, each on a server of its own.
// The cases mostly wait (for a run's fixed duration, for a command to be under way, for sessions
// to end), so six at a time fit a 2-core machine.
const dsnConcurrency = 6

// pacedLoad paces a run (--rate: lookups or batches a second) whose speed this test does not
// check, so that its load does not take the CPU from the commands running beside it; paced maps
// the scenarios whose runs take it.
var (
	pacedLoad = []string{"--rate", "200"}
	paced     = map[string]bool{"select-only": true, "ingest": true}
)

// dsnLongest are the commands whose three cases took longest in a full make test (15 to 27 s,
// against 8 to 14 s for the others); TestDSNSafety starts them first, so that none of them starts
// last and runs on alone.
var dsnLongest = []string{"run zombie-queries", "run queue", "run ddl-lock", "run ingest"}

// TestDSNSafety runs every command that accepts a dsn against a database holding the user's
// sentinel tables (a public.pgbench_history with rows, and tables named as every scenario's),
// normally, interrupted by Ctrl-C (SIGINT), and killed (SIGKILL) and then followed by `pgscale
// clean --dsn`. After each, the server's catalog (pg_namespace, pg_class, pg_roles,
// pg_db_role_setting, pg_replication_slots, pg_settings), the sentinels' rows and the sessions
// are as they were before. Each command runs on a server of its own, dsnConcurrency of them at
// once, so that one command's roles, slots and sessions never show in another's diff; its three
// modes run one after the other on that server. It logs a table of what each case left before
// and after clean.
func TestDSNSafety(t *testing.T) {
	harnesstest.RequirePostgres(t)
	_, err := harness.FindPgbench()
	harnesstest.Require(t, "pgbench", err)
	bin := buildPgscale(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	gateDir := t.TempDir()
	for _, duration := range []string{"1s", "30s"} {
		body := "target: dsn\ndsn: $PGSCALE_DSN\nrepeats: 1\ncalibrate: false\nsuite:\n  - scenario: select-only\n    quick: true\n" +
			"    set:\n      variants: prepared\n      workers: 2\n    duration: " + duration + "\n    warmup: 0s\n    rate: 200\n" +
			"checks:\n  - \"select-only: throughput_per_s > 0\"\n"
		if err := os.WriteFile(filepath.Join(gateDir, "gate-"+duration+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	commands := dsnCommands(gateDir)
	rows := make([]string, len(commands))
	for _, name := range dsnLongest {
		if !slices.ContainsFunc(commands, func(c dsnCommand) bool { return c.name == name }) {
			t.Fatalf("dsnLongest names %q, which is not a command of dsnCommands", name)
		}
	}
	next := make(chan int, len(commands))
	for _, i := range dsnStartOrder(commands) {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range dsnConcurrency {
		wg.Go(func() {
			for i := range next {
				rows[i] = dsnRow(t, ctx, bin, commands[i], i)
			}
		})
	}
	wg.Wait()
	rows = append(rows, "| size --measure | takes no dsn (docker targets only) | | |")
	t.Logf("dsn safety (catalog, sentinels and sessions diffed against the state before):\n"+
		"| command | normal | Ctrl-C | SIGKILL + clean |\n|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// dsnStartOrder is the order in which TestDSNSafety starts the commands: dsnLongest first, then
// the rest as dsnCommands lists them.
func dsnStartOrder(commands []dsnCommand) []int {
	order := make([]int, len(commands))
	for i := range order {
		order[i] = i
	}
	rank := func(i int) int {
		if r := slices.Index(dsnLongest, commands[i].name); r >= 0 {
			return r
		}
		return len(dsnLongest)
	}
	slices.SortStableFunc(order, func(a, b int) int { return rank(a) - rank(b) })
	return order
}

// dsnRow runs c, the i-th command of dsnCommands, in its three modes on a server of its own, as a
// subtest, and returns its row of the table.
func dsnRow(t *testing.T, ctx context.Context, bin string, c dsnCommand, i int) string {
	row := []string{c.name}
	t.Run(c.name, func(t *testing.T) {
		dsn := dsnServer(t, ctx, fmt.Sprintf("dsn-safety-%d", i), c.name == columnsVerify)
		before := dsnSnapshot(t, ctx, dsn, 0)
		for _, mode := range []string{"normal", "Ctrl-C", "SIGKILL + clean"} {
			started := time.Now()
			cell := dsnCase(t, ctx, bin, dsn, c, mode, before)
			row = append(row, fmt.Sprintf("%s (%.0f s)", cell, time.Since(started).Seconds()))
		}
	})
	return "| " + strings.Join(row, " | ") + " |"
}

// buildPgscale compiles the CLI (the parent directory's package) into the test's directory.
func buildPgscale(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pgscale")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// columnsVerify is the command that samples public.colpad_layout.
const columnsVerify = "columns --verify"

// dsnServer starts a local server for one command, stopped when the test ends, with the
// sentinels in public and an admin session open; it returns its admin dsn. bigLayout fills
// colpad_layout with 400,000 rows, for columns --verify to be interrupted while it copies them;
// for every other command it is a sentinel of 42 rows like the rest.
func dsnServer(t *testing.T, ctx context.Context, runID string, bigLayout bool) string {
	t.Helper()
	server, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: runID,
		Settings: map[string]string{"max_connections": "200", "wal_level": "logical"}}) // logical: wal-retention's slot
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = server.Close(context.Background()) })
	dsn := server.AdminDSN()
	// The admin session stays open while the test runs: the snapshots count the client sessions
	// besides it and their own.
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	for _, table := range dsnSentinels {
		sql := fmt.Sprintf("CREATE TABLE public.%s (note text); INSERT INTO public.%s SELECT 'the user''s row ' || i FROM generate_series(1, 42) i", table, table)
		if table == "colpad_layout" && bigLayout { // columns --verify samples it: big enough to be interrupted while it copies
			sql = "CREATE TABLE public.colpad_layout (a smallint, b bigint, c boolean, d int, note text); " +
				"INSERT INTO public.colpad_layout SELECT 1, i, true, i, 'the user''s row ' || i FROM generate_series(1, 400000) i"
		}
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("sentinel %s: %v", table, err)
		}
	}
	return dsn
}

// dsnCommands are the commands TestDSNSafety runs against a server, which each reads from
// PGSCALE_DSN (dsnEnv); the gate's configuration files are in gateDir.
func dsnCommands(gateDir string) []dsnCommand {
	gateFile := func(duration string) string { return filepath.Join(gateDir, "gate-"+duration+".yaml") }
	quick := func(scenario string, extra ...string) []string {
		return append([]string{"run", scenario, "--target", "dsn", "--quick", "--no-report", "--duration", "1s", "--warmup", "0s"}, extra...)
	}
	long := func(scenario string, extra ...string) []string {
		return append([]string{"run", scenario, "--target", "dsn", "--quick", "--no-report", "--duration", "30s", "--warmup", "0s"}, extra...)
	}
	var commands []dsnCommand
	for _, sc := range []struct {
		name  string
		extra []string
	}{
		// pgbench on one client: a closed loop that keeps one core busy, not both.
		{"select-only", nil}, {"pgbench", []string{"--set", "workers=1"}}, {"ingest", nil}, {"queue", nil},
		{"column-padding", []string{"--set", "rows=1000"}},
		{"ddl-lock", []string{"--allow-intrusive", "--set", "ddl_at=1s", "--set", "blocker_hold=2s"}},
		{"connect-storm", []string{"--allow-intrusive"}},
		{"wal-retention", []string{"--allow-intrusive"}},
		{"zombie-queries", []string{"--allow-intrusive"}},
		{"matview-refresh", []string{"--allow-intrusive"}},
		// queue with a transaction holding its snapshot: the holder must end on every path.
		{"queue", []string{"--allow-intrusive", "--set", "variants=dedicated", "--set", "long_txn=1h"}},
	} {
		extra := sc.extra
		if paced[sc.name] {
			extra = append(slices.Clone(extra), pacedLoad...)
		}
		normal := quick(sc.name, extra...)
		signalled := long(sc.name, extra...)
		if sc.name == "ddl-lock" {
			// statement_timeout=1s: long-queries' point that sets it on the run's role, not also the
			// one without.
			normal = quick(sc.name, "--allow-intrusive", "--set", "ddl_at=1s", "--set", "blocker_hold=2s", "--set", "statement_timeout=1s",
				"--duration", "3s")
			// Interrupted as the issue found it: the run's own role, and its sessions in
			// pg_sleep or queued behind the ALTER.
			signalled = long(sc.name, "--allow-intrusive", "--set", "variants=long-queries")
		}
		if sc.name == "column-padding" {
			signalled = long(sc.name, "--set", "rows=300000")
		}
		if sc.name == "queue" && sc.extra == nil {
			// Every variant's tables, with fewer rows than the quick preset's 100,000 of history
			// and 50,000 of backlog, and 10 workers, not 50: its run of 1 s points took 40 s in a
			// full test run.
			normal = quick(sc.name, "--set", "history=10000", "--set", "backlog=10000", "--set", "workers=10")
		}
		// Every variant once, not at each size of the quick preset's sweep: the sizes make the same
		// objects and sessions (on the dsn target max_connections is the server's 200, so
		// connect-storm's 60 workers meet no refusal the 20 do not).
		switch sc.name {
		case "ingest":
			normal = quick(sc.name, append([]string{"--set", "batch=10"}, pacedLoad...)...)
		case "connect-storm":
			normal = quick(sc.name, "--allow-intrusive", "--set", "workers=20")
		case "matview-refresh":
			normal = quick(sc.name, "--allow-intrusive", "--set", "rows=10000")
		}
		c := dsnCommand{name: "run " + sc.name, normal: normal, signalled: signalled, mark: "pgscale\\_%"}
		if slices.Contains(sc.extra, "long_txn=1h") {
			c.name += " long_txn"
		}
		if sc.name == "zombie-queries" {
			// It creates no table: under way once requests are sleeping in the server.
			c.await = `SELECT count(*) >= 2 FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`
		}
		if sc.name == "wal-retention" {
			// The incident itself if left: its slot, holding WAL.
			c.signalled = long(sc.name, "--allow-intrusive", "--set", "variants=unattended-slot")
			c.await = `SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name LIKE 'pgscale\_%'
				AND pg_current_wal_lsn() - restart_lsn > 1048576`
		}
		if sc.name == "ddl-lock" {
			// The hard case: sessions of the run's role that a killed client does not end.
			c.await = `SELECT count(*) >= 10 FROM pg_stat_activity WHERE usename LIKE 'pgscale\_%'
				AND (wait_event = 'PgSleep' OR wait_event_type = 'Lock')`
		}
		commands = append(commands, c)
	}
	commands = append(commands,
		// Both modes (pgbench with and without -C) on the mux engine only: the goroutines engine
		// works on the same schema and tables, and its sessions are select-only's (paced, above).
		// Both engines ran 16 s of closed loops where this runs 8: this case alone, with the test
		// binary's own start and 2 clients, took 38.3 CPU-s on both and 22.7 on mux. One client
		// keeps one core busy, not both.
		dsnCommand{name: "calibrate",
			normal: []string{"calibrate", "--target", "dsn", "--duration", "2s", "--pairs", "1", "--clients", "1", "--scale", "1",
				"--engine", "mux"},
			signalled: []string{"calibrate", "--target", "dsn", "--duration", "30s", "--pairs", "1", "--clients", "1",
				"--scale", "1", "--engine", "mux"},
			mark: "pgscale\\_%"},
		dsnCommand{name: "prepare (+ run --skip-setup)",
			normal: []string{"prepare", "select-only", "--run-id", "safety-prep", "--quick"},
			then: append([]string{"run", "select-only", "--target", "dsn", "--run-id", "safety-prep", "--skip-setup", "--quick",
				"--no-report", "--duration", "1s", "--warmup", "0s"}, pacedLoad...),
			signalled: []string{"prepare", "select-only", "--run-id", "safety-prep-sig", "--quick", "--set", "scale=30"},
			mark:      "pgscale\\_%"},
		dsnCommand{name: columnsVerify,
			normal:    []string{"columns", "--table", "public.colpad_layout", "--verify"},
			signalled: []string{"columns", "--table", "public.colpad_layout", "--verify", "--sample", "400000"},
			mark:      "pgscale\\_columns\\_%"},
		dsnCommand{name: "gate",
			normal:    []string{"gate", "--config", gateFile("1s"), "--baseline", filepath.Join(gateDir, "baseline")},
			signalled: []string{"gate", "--config", gateFile("30s"), "--baseline", filepath.Join(gateDir, "baseline")},
			mark:      "pgscale\\_%"},
	)
	return commands
}

// dsnEnv is the environment variable that gives a pgscale process dsn.
func dsnEnv(dsn string) string { return "PGSCALE_DSN=" + dsn }

// dsnCase runs c once in mode and checks that the server is as before; it returns the table cell.
func dsnCase(t *testing.T, ctx context.Context, bin, dsn string, c dsnCommand, mode string, before []string) string {
	t.Helper()
	out := t.TempDir()
	start := func(args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = out // gate and calibrate write under results/ there
		// The dsn in the environment, so that its password stays off the process list.
		cmd.Env = append(os.Environ(), dsnEnv(dsn))
		if slices.Contains([]string{"run", "gate"}, args[0]) {
			cmd.Args = append(cmd.Args, "--out", filepath.Join(out, "result"))
		}
		return cmd
	}
	if mode == "normal" {
		for _, args := range [][]string{c.normal, c.then} {
			if args == nil {
				continue
			}
			cmd := start(args)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", c.name, args[0], err, b)
				return "failed: " + err.Error()
			}
		}
		return dsnCompare(t, ctx, dsn, c.name+" normal", before, "exit 0")
	}
	args := c.signalled
	if args == nil {
		args = c.normal
	}
	cmd := start(args)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	began := time.Now()
	landed := dsnAwaitUnderway(t, ctx, dsn, c, exited)
	underway := time.Since(began)
	signalled := time.Now()
	sig := syscall.SIGINT
	if mode != "Ctrl-C" {
		sig = syscall.SIGKILL
	}
	if landed {
		_ = cmd.Process.Signal(sig)
	}
	var code int
	select {
	case err := <-exited:
		code = cmd.ProcessState.ExitCode()
		if !landed {
			t.Errorf("%s %s: it ended (%v) before it was under way: the case tests nothing\n%s", c.name, mode, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("%s %s: still running 60 s after %v", c.name, mode, sig)
		<-exited
	}
	status := fmt.Sprintf("signal %.0f s in, exit %d %.1f s later", underway.Seconds(), code, time.Since(signalled).Seconds())
	if sig == syscall.SIGKILL {
		status = fmt.Sprintf("killed %.0f s in", underway.Seconds())
	}
	if mode == "Ctrl-C" {
		if code != 130 {
			t.Errorf("%s Ctrl-C: exit %d, want 130\n%s", c.name, code, stderr.String())
		}
		return dsnCompare(t, ctx, dsn, c.name+" Ctrl-C", before, status)
	}
	left := dsnLeftovers(t, ctx, dsn)
	cleanCmd := exec.CommandContext(ctx, bin, "clean")
	cleanCmd.Env = append(os.Environ(), dsnEnv(dsn))
	cleanOut, err := cleanCmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: clean --dsn: %v\n%s", c.name, err, cleanOut)
	}
	t.Logf("%s killed, then clean --dsn:\n%s", c.name, cleanOut)
	return dsnCompare(t, ctx, dsn, c.name+" SIGKILL + clean", before, status+", left "+left+"; after clean")
}

// dsnAwaitUnderway waits until a schema matching mark holds a relation, plus a second for the
// load to start, or until the command exits; it tells whether the command is still running.
func dsnAwaitUnderway(t *testing.T, ctx context.Context, dsn string, c dsnCommand, exited chan error) bool {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.After(90 * time.Second)
	for {
		query, args := `SELECT count(*) > 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname LIKE $1`, []any{c.mark}
		if c.await != "" {
			query, args = c.await, nil
		}
		var ready bool
		if err := conn.QueryRow(ctx, query, args...).Scan(&ready); err != nil {
			t.Fatal(err)
		}
		if ready {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			return false
		case <-deadline:
			t.Fatalf("%s: not under way after 90 s", c.name)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if c.await != "" || strings.Contains(c.mark, "columns") {
		return true // where it should be (columns: its scratch schema lives for a moment): signal at once
	}
	select {
	case err := <-exited:
		exited <- err
		return false
	case <-time.After(time.Second):
		return true
	}
}

// dsnCompare waits for the server to settle, diffs it against before, and returns the cell.
func dsnCompare(t *testing.T, ctx context.Context, dsn, label string, before []string, status string) string {
	t.Helper()
	after := dsnSnapshot(t, ctx, dsn, len(before))
	added, removed := dsnDiff(before, after)
	if len(added)+len(removed) > 0 {
		t.Errorf("%s changed the server:\n  added:   %s\n  removed: %s", label, strings.Join(added, "\n           "),
			strings.Join(removed, "\n           "))
		return fmt.Sprintf("%s; %d objects added, %d removed", status, len(added), len(removed))
	}
	return status + "; no change"
}

// dsnSnapshot is the server's state as sorted lines: namespaces, relations, roles, role settings,
// replication slots, settings, the sentinels' rows and the number of other client sessions. It
// waits up to 15 s for sessions of a command that ended (a backend whose client was killed exits
// when it next reads) before it reads, unless want is 0.
func dsnSnapshot(t *testing.T, ctx context.Context, dsn string, want int) []string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	queries := []string{
		// A backend's temporary namespace (pg_temp_N, pg_toast_temp_N) stays once PostgreSQL has
		// made it, for whichever session next takes that backend slot; REFRESH MATERIALIZED VIEW
		// CONCURRENTLY makes one for its diff. It is the server's, not a leftover of the run.
		`SELECT 'namespace ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'`,
		`SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname <> 'pg_toast'`,
		`SELECT 'role ' || rolname FROM pg_roles`,
		`SELECT 'role setting ' || setdatabase || ' ' || setrole || ' ' || array_to_string(setconfig, ',') FROM pg_db_role_setting`,
		`SELECT 'replication slot ' || slot_name FROM pg_replication_slots`,
		`SELECT 'setting ' || name || '=' || setting || ' (' || source || ')' FROM pg_settings`,
	}
	for _, table := range dsnSentinels {
		queries = append(queries, fmt.Sprintf(`SELECT 'rows public.%s ' || count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM public.%s t`, table, table))
	}
	var lines []string
	for _, q := range queries {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		lines = append(lines, got...)
	}
	sessions := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := sessions()
	for deadline := time.Now().Add(15 * time.Second); want > 0 && n > 1 && time.Now().Before(deadline); n = sessions() {
		time.Sleep(100 * time.Millisecond)
	}
	lines = append(lines, fmt.Sprintf("client sessions besides the test's: %d", n-1))
	slices.Sort(lines)
	return lines
}

// dsnDiff lists the lines only in after (added) and only in before (removed).
func dsnDiff(before, after []string) (added, removed []string) {
	for _, l := range after {
		if !slices.Contains(before, l) {
			added = append(added, l)
		}
	}
	for _, l := range before {
		if !slices.Contains(after, l) {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// dsnLeftovers counts what a killed command left: pgscale schemas and their relations, pgscale
// roles and the sessions still open (besides the test's).
func dsnLeftovers(t *testing.T, ctx context.Context, dsn string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schemas, relations, roles, sessions, slots int
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgscale\_%'),
		(SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgscale\_%'),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pgscale\_%'),
		(SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgscale\_%'),
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) - 1`).
		Scan(&slots, &schemas, &relations, &roles, &sessions)
	if err != nil {
		t.Fatal(err)
	}
	left := fmt.Sprintf("%d schema, %d relations, %d roles, %d sessions", schemas, relations, roles, sessions)
	if slots > 0 {
		left += fmt.Sprintf(", %d replication slots", slots)
	}
	return left
}
