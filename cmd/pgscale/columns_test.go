package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// TestColumnsBadInputExitsTwo: bad options, and a table or schema that does not exist on a real
// server, exit 2 with one line naming them.
func TestColumnsBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	type cliCase struct {
		name string
		args []string
		want string
	}
	cases := []cliCase{
		{"no dsn", []string{"columns"}, "--dsn is required"},
		{"bad dsn", []string{"columns", "--dsn", "postgres://u:hunter2@host:notaport/db"}, "is not a valid connection string"},
		{"ddl without local", []string{"columns", "--dsn", "host=x", "--target", "dsn", "--ddl", "x.sql"}, "--ddl is only for --target local"},
		{"bad sample", []string{"columns", "--dsn", "host=x", "--sample", "-2"}, "--sample -2: must be at least 1"},
		{"extra argument", []string{"columns", "orders"}, "unknown command"},
	}
	if _, err := harness.FindPGBinaries(context.Background()); err == nil {
		p := &harness.LocalProvider{}
		target, err := p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "columns-cli-test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = target.Close(context.Background()) })
		conn, err := pgx.Connect(context.Background(), target.DSN())
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(context.Background(), "CREATE TABLE orders (id int8, paid bool)")
		conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases,
			cliCase{"missing table", []string{"columns", "--dsn", target.DSN(), "--table", "order"}, `table "order" does not exist`},
			cliCase{"unknown schema", []string{"columns", "--dsn", target.DSN(), "--schema", "pubic"}, `schema "pubic" does not exist (did you mean "public"?)`},
		)
		code, stdout, stderr := runCLI(t, "columns", "--dsn", target.DSN(), "--table", "orders")
		if code != 0 || !strings.Contains(stdout, "proposed order: id, paid") {
			t.Errorf("columns --table orders: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// Without --dsn, a process with PGSCALE_DSN in its environment analyzes the same server.
		envCode, envStdout, envStderr := runWithDSNEnv(t, buildPgscale(t), target.DSN(), "columns", "--table", "orders")
		if envCode != 0 || envStdout != stdout {
			t.Errorf("columns --table orders with PGSCALE_DSN: exit %d, stdout %q (want %q as with --dsn), stderr %q",
				envCode, envStdout, stdout, envStderr)
		}
	} else {
		skipWithoutPostgres(t)
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr: %s", c.name, code, exitUsage, stderr)
			continue
		}
		if !strings.Contains(stderr, c.want) || strings.Contains(stderr, "hunter2") {
			t.Errorf("%s: stderr %q does not contain %q (or shows the password)", c.name, stderr, c.want)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 0 || stdout != "" {
			t.Errorf("%s: error spans %d lines, stdout %q: want one line and no output", c.name, lines+1, stdout)
		}
	}
}
