package script

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/harness"
)

func pgbenchPath(t *testing.T) string {
	t.Helper()
	path, err := harness.FindPgbench()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbench is required in CI: %v", err)
		}
		t.Skipf("no pgbench: %v", err)
	}
	return path
}

// TestExpressionsMatchPgbench runs every expression of evalCases that pgbench evaluates without
// an error through pgbench's own debug() and compares what it prints with this package's result.
func TestExpressionsMatchPgbench(t *testing.T) {
	dsn := serverDSN(t)
	bin := pgbenchPath(t)
	var script strings.Builder
	var cases []evalCase
	for _, tc := range evalCases {
		if strings.HasPrefix(tc.want, "error:") {
			continue
		}
		cases = append(cases, tc)
		fmt.Fprintf(&script, "\\set x debug(%s)\n", tc.expr)
	}
	file := t.TempDir() + "/exprs.sql"
	if err := os.WriteFile(file, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "-t", "1", "-f", file, "-D", "client_id=3", "-D", "scale=1"}
	for k, v := range testVars {
		args = append(args, "-D", k+"="+v)
	}
	cmd := exec.Command(bin, append(args, dsn)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pgbench: %v\n%s", err, stderr.String())
	}
	var got []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if i := strings.Index(line, "): "); strings.HasPrefix(line, "debug(") && i > 0 {
			got = append(got, line[i+3:])
		}
	}
	if len(got) != len(cases) {
		t.Fatalf("pgbench printed %d debug lines for %d expressions:\n%s", len(got), len(cases), stderr.String())
	}
	for i, tc := range cases {
		if got[i] != tc.want {
			t.Errorf("%s: pgbench says %q, the case says %q", tc.expr, got[i], tc.want)
		}
	}
}

// TestTPCBLikeKeepsPgbenchInvariants loads pgbench's tables with pgbench -i, runs the built-in
// tpcb-like script from 4 clients with each protocol, and checks what pgbench's own checks would:
// the balances of accounts, tellers and branches and the history's deltas all sum to the same
// figure, and the history holds one row per committed transaction.
func TestTPCBLikeKeepsPgbenchInvariants(t *testing.T) {
	dsn := serverDSN(t)
	bin := pgbenchPath(t)
	if out, err := exec.Command(bin, "-i", "-q", "-s", "1", dsn).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	tpcb, err := Builtin("tpcb-like")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMix([]*Script{tpcb})
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id := 0; id < 4; id++ {
		conn := connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(id, Options{Protocol: protocols[id%3], Scale: 1, MaxTries: 10}, nil)
			for i := 0; i < 100; i++ {
				out := c.Run(context.Background(), conn, m, 0, nil)
				mu.Lock()
				if out.Err == nil {
					committed++
				} else if _, ok := errorsAs[*pgconn.PgError](out.Err); !ok || out.Fatal {
					t.Errorf("client %d: %+v", id, out)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	conn := connect(t)
	sums := queryInt(t, conn, `SELECT count(DISTINCT s) FROM (
		SELECT sum(abalance) AS s FROM pgbench_accounts UNION ALL SELECT sum(tbalance) FROM pgbench_tellers
		UNION ALL SELECT sum(bbalance) FROM pgbench_branches UNION ALL SELECT sum(delta) FROM pgbench_history) x`)
	if sums != 1 {
		t.Error("sum(abalance), sum(tbalance), sum(bbalance) and sum(delta) differ")
	}
	if rows := queryInt(t, conn, "SELECT count(*) FROM pgbench_history"); int(rows) != committed || committed != 400 {
		t.Errorf("pgbench_history holds %d rows, %d transactions committed, want 400", rows, committed)
	}
}

// TestSameScriptRunsUnderPgbench runs one script file, with random_zipfian, \if, \gset, \aset and
// \sleep, under pgbench -f with each protocol and then under this package: both
// accept it unchanged, and the counter it increments equals the transactions both committed.
func TestSameScriptRunsUnderPgbench(t *testing.T) {
	dsn := serverDSN(t)
	bin := pgbenchPath(t)
	conn := connect(t)
	mustExec(t, conn, "DROP TABLE IF EXISTS same_script; CREATE TABLE same_script (k int primary key, runs int not null default 0, total int not null default 0); INSERT INTO same_script (k) SELECT generate_series(1, 50)")
	src := `-- the same file for pgbench -f and pgscale
\set k random_zipfian(1, 50, 1.2)
\set inc 1 + :k % 2
BEGIN;
SELECT runs AS before FROM same_script WHERE k = :k FOR UPDATE \gset
\if :before >= 0 AND :inc >= 1 AND :inc <= 2
UPDATE same_script SET runs = runs + 1, total = total + :inc WHERE k = :k;
\else
SELECT 1 / 0;
\endif
SELECT :inc AS got, 2 AS two \aset
\sleep 0 ms
END;
`
	file := t.TempDir() + "/same.sql"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, proto := range protocols {
		out, err := exec.Command(bin, "-n", "-f", file, "-c", "2", "-t", "50", "-M", string(proto), dsn).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "number of transactions actually processed: 100/100") {
			t.Fatalf("pgbench -M %s: %v\n%s", proto, err, out)
		}
	}
	s, err := ParseSpec(file)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewMix([]*Script{s})
	for id, proto := range protocols {
		c := NewClient(id, Options{Protocol: proto}, nil)
		for i := 0; i < 100; i++ {
			if out := c.Run(context.Background(), conn, m, 0, nil); out.Err != nil {
				t.Fatalf("%s: %v", proto, out.Err)
			}
		}
		if c.vars["two"].s != "2" || c.vars["got"].s != c.vars["inc"].text() {
			t.Errorf("%s: \\aset gave two=%+v got=%+v for inc=%+v", proto, c.vars["two"], c.vars["got"], c.vars["inc"])
		}
	}
	if runs := queryInt(t, conn, "SELECT sum(runs) FROM same_script"); runs != 600 {
		t.Errorf("sum(runs) = %d after 300 transactions under pgbench and 300 here, want 600", runs)
	}
	if bad := queryInt(t, conn, "SELECT count(*) FROM same_script WHERE total < runs OR total > 2 * runs"); bad != 0 {
		t.Errorf("%d rows whose total is not within [runs, 2*runs]", bad)
	}
}
