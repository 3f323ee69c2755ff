package script

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestProtocolsRunTheLanguage runs one script using \set, \gset, \aset with a prefix, \; compounds,
// \if/\elif/\else, a cast and a NULL with each protocol, and checks the rows and the variables.
func TestProtocolsRunTheLanguage(t *testing.T) {
	for _, proto := range protocols {
		t.Run(string(proto), func(t *testing.T) {
			conn := connect(t)
			table := "lang_" + string(proto)
			mustExec(t, conn, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" (k int, v bigint, s text, branch text)")
			src := strings.ReplaceAll(`\set k random(1, 10)
\set v :k * 2
\set nothing NULL
INSERT INTO TBL (k, v, s) VALUES (:k, :v, :label);
SELECT count(*) AS n, sum(v)::bigint AS total FROM TBL \gset
SELECT :n::int + 0 AS again \; SELECT 'b' AS second, :nothing::int IS NULL AS was_null \aset r_
\if :n = 1
UPDATE TBL SET branch = 'first' WHERE s = :label AND branch IS NULL;
\elif :n % 2 = 0
UPDATE TBL SET branch = 'even' WHERE branch IS NULL;
\else
UPDATE TBL SET branch = 'odd' WHERE branch IS NULL;
\endif
`, "TBL", table)
			m := mustMix(t, "lang.sql", src)
			label := "'x'"
			if proto != ProtocolSimple {
				label = "x" // a parameter, not text written into the SQL
			}
			opts := Options{Protocol: proto, Vars: map[string]string{"label": label}}
			if err := m.Check(opts); err != nil {
				t.Fatal(err)
			}
			c := NewClient(0, opts, rand.New(rand.NewPCG(1, 1)))
			var observed int
			obs := func(script int, cmd *Command, started time.Time, d time.Duration, err error) {
				if cmd.Meta != "" || d < 0 || started.IsZero() {
					t.Errorf("observer got %q at %v for %v", cmd.Label, started, d)
				}
				if err != nil {
					t.Errorf("%s: %v", cmd.Label, err)
				}
				observed++
			}
			for i := 0; i < 9; i++ {
				if out := c.Run(context.Background(), conn, m, 0, obs); out.Err != nil || out.Tries != 1 || out.Fatal {
					t.Fatalf("transaction %d: %+v", i, out)
				}
			}
			if observed != 9*4 {
				t.Errorf("observer told of %d SQL commands, want %d", observed, 9*4)
			}
			if n := queryInt(t, conn, "SELECT count(*) FROM "+table); n != 9 {
				t.Errorf("%d rows, want 9", n)
			}
			if n := queryInt(t, conn, "SELECT sum(v) FROM "+table); c.vars["total"].s != itoa(n) {
				t.Errorf(":total = %q, want %d", c.vars["total"].s, n)
			}
			for name, want := range map[string]string{"n": "9", "r_again": "9", "r_second": "b", "r_was_null": "t"} {
				if got := c.vars[name]; got.k != kString || got.s != want {
					t.Errorf(":%s = %+v, want %q", name, got, want)
				}
			}
			branches := queryInt(t, conn, "SELECT count(*) FILTER (WHERE branch = 'first') * 100 + count(*) FILTER (WHERE branch = 'even') * 10 + count(*) FILTER (WHERE branch = 'odd') FROM "+table)
			if branches != 1*100+4*10+4 {
				t.Errorf("branches first/even/odd encoded %d, want 144", branches)
			}
		})
	}
}

func itoa(n int64) string { return intValue(n).text() }

// TestPipelines runs \startpipeline/\syncpipeline/\endpipeline with the extended and prepared
// protocols, then a pipeline whose second query fails: the error comes back, the queries after
// it up to the sync point are skipped, and the connection stays usable.
func TestPipelines(t *testing.T) {
	for _, proto := range []Protocol{ProtocolExtended, ProtocolPrepared} {
		t.Run(string(proto), func(t *testing.T) {
			conn := connect(t)
			table := "pipe_" + string(proto)
			mustExec(t, conn, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" (k int primary key)")
			src := strings.ReplaceAll(`\set k1 random(1, 1000000)
\startpipeline
INSERT INTO TBL VALUES (:k1 * 3);
INSERT INTO TBL VALUES (:k1 * 3 + 1);
\syncpipeline
INSERT INTO TBL VALUES (:k1 * 3 + 2) \; SELECT 1;
\endpipeline
`, "TBL", table)
			m := mustMix(t, "pipe.sql", src)
			c := NewClient(0, Options{Protocol: proto}, rand.New(rand.NewPCG(2, 2)))
			n := 0
			obs := func(int, *Command, time.Time, time.Duration, error) { n++ }
			for i := 0; i < 5; i++ {
				if out := c.Run(context.Background(), conn, m, 0, obs); out.Err != nil {
					t.Fatalf("transaction %d: %v", i, out.Err)
				}
			}
			if got := queryInt(t, conn, "SELECT count(*) FROM "+table); got != 15 {
				t.Errorf("%d rows after 5 pipelines of 3 inserts, want 15", got)
			}
			if n != 5*4 {
				t.Errorf("observer told of %d queries, want 20", n)
			}

			bad := mustMix(t, "bad.sql", strings.ReplaceAll(`\startpipeline
INSERT INTO TBL VALUES (-1);
INSERT INTO TBL VALUES (-1);
INSERT INTO TBL VALUES (-2);
\syncpipeline
INSERT INTO TBL VALUES (-3);
\endpipeline
`, "TBL", table))
			out := c.Run(context.Background(), conn, bad, 0, nil)
			pgErr, ok := errorsAs[*pgconn.PgError](out.Err)
			if !ok || pgErr.Code != "23505" || !out.Fatal {
				t.Fatalf("pipeline with a duplicate key: %+v, want a fatal 23505", out)
			}
			// -1 committed in the first implicit transaction? No: the sync point ends it, and the
			// failed INSERT aborted it, so -1 and -2 are gone; -3 ran after the sync point.
			if got := queryInt(t, conn, "SELECT count(*) FROM "+table+" WHERE k < 0"); got != 1 {
				t.Errorf("%d negative keys after the failed pipeline, want 1 (-3 only)", got)
			}
			if got := queryInt(t, conn, "SELECT 7"); got != 7 {
				t.Errorf("connection unusable after a failed pipeline")
			}
		})
	}
}

// TestRetriesOnSerializationFailure makes two clients update one row under REPEATABLE READ: the
// losers get 40001, are rolled back and retried from the start of the script with the variables
// as they were, and every committed transaction increments the counter exactly once.
func TestRetriesOnSerializationFailure(t *testing.T) {
	setup := connect(t)
	mustExec(t, setup, "DROP TABLE IF EXISTS retry_counter; CREATE TABLE retry_counter (id int primary key, n int); INSERT INTO retry_counter VALUES (1, 0)")
	m := mustMix(t, "retry.sql", `\set attempt :attempt + 1
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT n FROM retry_counter WHERE id = 1 \gset
\sleep 1 ms
UPDATE retry_counter SET n = :n + 1 WHERE id = 1;
END;
`)
	const perClient = 25
	for _, tc := range []struct {
		name     string
		maxTries int
	}{{"retried", 1000}, {"not-retried", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			var committed, failed, retries int
			// The two clients conflict only when their transactions overlap. On a starved
			// machine one client once ran all its transactions before the other's first
			// (committed 50, retries 0, failed 0): the pair then runs again, up to three times.
			for attempt := 1; attempt <= 3; attempt++ {
				committed, failed, retries = retryPair(t, setup, m, perClient, tc.maxTries)
				if retries > 0 || failed > 0 {
					break
				}
				t.Logf("attempt %d: the clients never overlapped (committed %d); running again", attempt, committed)
			}
			if tc.maxTries > 1 && (committed != 2*perClient || retries == 0 || failed != 0) {
				t.Errorf("max tries %d: committed %d, retries %d, failed %d; want all committed after some retries", tc.maxTries, committed, retries, failed)
			}
			if tc.maxTries == 1 && (failed == 0 || retries != 0) {
				t.Errorf("max tries 1: failed %d, retries %d; want some failures and no retries", failed, retries)
			}
			t.Logf("max tries %d: committed %d, failed %d, retries %d", tc.maxTries, committed, failed, retries)
		})
	}
}

// retryPair runs two clients of retryScript, perClient transactions each, from one start, with
// maxTries; it checks the counter against the commits and returns the counts.
func retryPair(t *testing.T, setup *pgx.Conn, m *Mix, perClient, maxTries int) (committed, failed, retries int) {
	t.Helper()
	mustExec(t, setup, "UPDATE retry_counter SET n = 0")
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for id := 0; id < 2; id++ {
		conn := connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(id, Options{Protocol: ProtocolPrepared, MaxTries: maxTries, Vars: map[string]string{"attempt": "0"}}, nil)
			<-start
			ok := 0
			for i := 0; i < perClient; i++ {
				out := c.Run(context.Background(), conn, m, 0, nil)
				mu.Lock()
				retries += out.Retries["40001"]
				if out.Err == nil {
					committed++
					ok++
				} else if pgErr, is := errorsAs[*pgconn.PgError](out.Err); is && pgErr.Code == "40001" && !out.Fatal {
					failed++
				} else {
					t.Errorf("client %d: %+v", id, out)
				}
				mu.Unlock()
			}
			// Restored on every retry: :attempt counts transactions, not tries.
			if a := c.vars["attempt"]; a.k != kInt || a.i != int64(perClient) {
				t.Errorf("client %d: :attempt = %+v after %d transactions, want %d", id, a, perClient, perClient)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := queryInt(t, setup, "SELECT n FROM retry_counter WHERE id = 1"); int(n) != committed {
		t.Errorf("counter %d, committed %d", n, committed)
	}
	return committed, failed, retries
}

// TestZipfianIfGsetCounter is the measure: a script with random_zipfian, \if and \gset
// commits as many transactions as the counter column it increments says, with every protocol.
func TestZipfianIfGsetCounter(t *testing.T) {
	setup := connect(t)
	mustExec(t, setup, "DROP TABLE IF EXISTS zipf; CREATE TABLE zipf (k int primary key, n int not null default 0, even int not null default 0, odd int not null default 0); INSERT INTO zipf (k) SELECT generate_series(1, 100)")
	m := mustMix(t, "zipf.sql", `\set k random_zipfian(1, 100, 1.1)
BEGIN;
SELECT n AS before FROM zipf WHERE k = :k FOR UPDATE \gset
\if :before % 2 = 0
UPDATE zipf SET n = n + 1, even = even + 1 WHERE k = :k;
\else
UPDATE zipf SET n = n + 1, odd = odd + 1 WHERE k = :k;
\endif
COMMIT;
`)
	committed := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id := 0; id < 6; id++ {
		conn := connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(id, Options{Protocol: protocols[id%3]}, rand.New(rand.NewPCG(uint64(id), 9)))
			for i := 0; i < 150; i++ {
				out := c.Run(context.Background(), conn, m, 0, nil)
				mu.Lock()
				if out.Err != nil {
					t.Errorf("client %d: %v", id, out.Err)
				} else {
					committed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum := queryInt(t, setup, "SELECT sum(n) FROM zipf")
	if int(sum) != committed || committed != 900 {
		t.Errorf("counter sum %d, committed %d, want both 900", sum, committed)
	}
	if v := queryInt(t, setup, "SELECT sum(even) + sum(odd) - sum(n) FROM zipf"); v != 0 {
		t.Errorf("branches miscounted by %d", v)
	}
	if v := queryInt(t, setup, "SELECT least(sum(even), sum(odd)) FROM zipf"); v == 0 {
		t.Error("one \\if branch never ran")
	}
	if first, mid := queryInt(t, setup, "SELECT n FROM zipf WHERE k = 1"), queryInt(t, setup, "SELECT sum(n) FROM zipf WHERE k BETWEEN 41 AND 60"); first <= mid {
		t.Errorf("not zipfian: k=1 drawn %d times, k in 41..60 drawn %d times", first, mid)
	}
}

// TestRuntimeErrors checks that script errors at run time are *RuntimeError naming file:line and
// the variable, stop the client unless ContinueOnError, and leave the connection idle.
func TestRuntimeErrors(t *testing.T) {
	conn := connect(t)
	for _, tc := range []struct{ name, src, want string }{
		{"unset variable in SQL", "SELECT 1;\nSELECT :nope;\n", "e.sql:2: undefined variable \"nope\" in SQL"},
		{"unset variable in \\set", "\\set x :nope + 1\n", "e.sql:1: \\set x: undefined variable \"nope\""},
		{"division by zero", "BEGIN;\n\\set x 1 / 0\nCOMMIT;\n", "e.sql:2: \\set x: division by zero"},
		{"\\if on a malformed variable", "\\set s 1\nSELECT 'abc' AS s \\gset\n\\if :s\n\\endif\n", "e.sql:3: \\if: malformed variable \"s\" value: \"abc\""},
		{"\\gset without a row", "SELECT 1 AS a WHERE false \\gset\n", "e.sql:1: \\gset: expected one row, got 0"},
		{"\\gset on an unnamed column", "SELECT 1 + 1 \\gset\n", "e.sql:1: \\gset: column \"?column?\" does not make a valid variable name \"?column?\" (name the column with AS)"},
		{"\\sleep on a double", "\\set d 1.5\n\\sleep :d ms\n", "e.sql:2: \\sleep: variable \"d\" is double, not an integer"},
		{"\\endpipeline skipped by \\if", "\\startpipeline\n\\if false\n\\endpipeline\n\\endif\n\\startpipeline\n\\endpipeline\n", "e.sql:5: \\startpipeline inside a pipeline"},
		{"\\startpipeline skipped by \\if", "\\if false\n\\startpipeline\n\\endif\n\\syncpipeline\n\\endpipeline\n", "e.sql:4: \\syncpipeline outside a pipeline"},
		{"\\gset in a pipeline left open by \\if", "\\startpipeline\n\\if false\n\\endpipeline\n\\endif\nSELECT 1 AS a \\gset\n", "e.sql:5: \\gset and \\aset cannot be used inside a pipeline"},
		{"end of script inside a pipeline", "\\startpipeline\nSELECT 1;\n\\if false\n\\endpipeline\n\\endif\n", "e.sql:5: end of script reached inside a pipeline (\\endpipeline was skipped)"},
		{"open transaction at the end", "BEGIN;\nSELECT 1;\n", "e.sql:2: end of script reached with a transaction still open (the script must commit or roll back what it begins)"},
	} {
		for _, proto := range protocols {
			if proto == ProtocolSimple && strings.Contains(tc.src, "pipeline") {
				continue // pipelines need the extended protocol (Mix.Check says so)
			}
			m := mustMix(t, "e.sql", tc.src)
			for _, cont := range []bool{false, true} {
				c := NewClient(0, Options{Protocol: proto, ContinueOnError: cont}, nil)
				out := c.Run(context.Background(), conn, m, 0, nil)
				rt, ok := errorsAs[*RuntimeError](out.Err)
				if !ok || rt.Error() != tc.want || out.Fatal == cont {
					t.Errorf("%s (%s, continue=%v): %+v, want %q and fatal=%v", tc.name, proto, cont, out, tc.want, !cont)
				}
				if st := conn.PgConn().TxStatus(); st != 'I' {
					t.Errorf("%s (%s): connection left in transaction state %c", tc.name, proto, st)
				}
			}
		}
	}
	// An SQL error is the server's *pgconn.PgError, fatal by default.
	m := mustMix(t, "e.sql", "BEGIN;\nSELECT * FROM no_such_table;\nCOMMIT;\n")
	out := NewClient(0, Options{}, nil).Run(context.Background(), conn, m, 0, nil)
	if pgErr, ok := errorsAs[*pgconn.PgError](out.Err); !ok || pgErr.Code != "42P01" || !out.Fatal || conn.PgConn().TxStatus() != 'I' {
		t.Errorf("undefined table: %+v", out)
	}
}

// TestSleep checks \sleep with a variable and a unit, and that a cancelled context ends it.
func TestSleep(t *testing.T) {
	conn := connect(t)
	m := mustMix(t, "s.sql", "\\set d 30\n\\sleep :d ms\nSELECT 1;\n")
	c := NewClient(0, Options{}, nil)
	began := time.Now()
	if out := c.Run(context.Background(), conn, m, 0, nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	if d := time.Since(began); d < 30*time.Millisecond {
		t.Errorf("\\sleep 30 ms took %v", d)
	}
	long := mustMix(t, "l.sql", "\\sleep 1000 s\n")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	out := c.Run(ctx, conn, long, 0, nil)
	if out.Err != context.Canceled || !out.Fatal {
		t.Errorf("cancelled sleep: %+v", out)
	}
}

// TestAsetWithoutRowsAssignsNothing: \aset leaves a variable unset when its query returns no row
// and keeps the last row when it returns several.
func TestAsetWithoutRowsAssignsNothing(t *testing.T) {
	conn := connect(t)
	m := mustMix(t, "a.sql", "SELECT 1 AS none WHERE false \\; SELECT g AS last FROM generate_series(1, 3) g \\aset\n")
	for _, proto := range protocols {
		c := NewClient(0, Options{Protocol: proto}, nil)
		if out := c.Run(context.Background(), conn, m, 0, nil); out.Err != nil {
			t.Fatalf("%s: %v", proto, out.Err)
		}
		if _, ok := c.vars["none"]; ok {
			t.Errorf("%s: :none was assigned from no row", proto)
		}
		if v := c.vars["last"]; v.s != "3" {
			t.Errorf("%s: :last = %+v, want the last row's 3", proto, v)
		}
	}
}

// TestRetriesOnDeadlock makes two clients lock two rows in opposite orders: the server breaks
// each deadlock with 40P01, the victim is rolled back and retried, and every transaction commits.
func TestRetriesOnDeadlock(t *testing.T) {
	setup := connect(t)
	mustExec(t, setup, "DROP TABLE IF EXISTS deadlock_pair; CREATE TABLE deadlock_pair (id int primary key, n int); INSERT INTO deadlock_pair VALUES (1, 0), (2, 0)")
	m := mustMix(t, "deadlock.sql", `\set first 1 + :client_id
\set second 2 - :client_id
BEGIN;
UPDATE deadlock_pair SET n = n + 1 WHERE id = :first;
\sleep 20 ms
UPDATE deadlock_pair SET n = n + 1 WHERE id = :second;
COMMIT;
`)
	const perClient = 6
	var mu sync.Mutex
	retries, committed := 0, 0
	var wg sync.WaitGroup
	for id := 0; id < 2; id++ {
		conn := connect(t)
		mustExec(t, conn, "SET deadlock_timeout = '5ms'")
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(id, Options{Protocol: ProtocolExtended, MaxTries: 50}, nil)
			for i := 0; i < perClient; i++ {
				out := c.Run(context.Background(), conn, m, 0, nil)
				mu.Lock()
				retries += out.Retries["40P01"]
				if out.Err != nil {
					t.Errorf("client %d: %+v", id, out)
				} else {
					committed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if committed != 2*perClient || retries == 0 {
		t.Errorf("committed %d, deadlock retries %d; want %d committed after some retries", committed, retries, 2*perClient)
	}
	if n := queryInt(t, setup, "SELECT sum(n) FROM deadlock_pair"); n != int64(2*committed) {
		t.Errorf("sum(n) = %d, want 2 per committed transaction (%d)", n, 2*committed)
	}
	t.Logf("committed %d, deadlock retries %d", committed, retries)
}
