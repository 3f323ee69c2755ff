package main

import (
	"strings"
	"testing"
)

func TestCleanDSNBadInput(t *testing.T) {
	t.Setenv(envDSN, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"clean", "--any-host"}, "--any-host is for cleaning a dsn target: give --dsn (or $PGSCALE_DSN)"},
		{[]string{"clean", "--prepared", "--dry-run"}, "--prepared is for cleaning a dsn target"},
		{[]string{"clean", "--dsn", "host=h", "--other-host-age", "0s"}, "--other-host-age 0s: must be more than 0"},
		{[]string{"clean", "--dsn", "postgres://u:hunter2@h:notaport/db"}, "is not a valid connection string"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "hunter2") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
