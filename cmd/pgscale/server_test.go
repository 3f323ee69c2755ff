package main

import (
	"testing"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// One local server is shared by this package's tests that need no server of their own
// (harnesstest.Server): each run on it works in a schema of its own, through the dsn target.
// Tests of the local target's lifecycle, of server settings, and those that diff the whole
// server's catalog start their own.
func TestMain(m *testing.M) { harnesstest.Main(m) }

// onShared is args with the flags that run the command on the shared server, through the dsn
// target.
func onShared(t *testing.T, args ...string) []string {
	t.Helper()
	return append(args, "--target", "dsn", "--dsn", harnesstest.DSN(t))
}
