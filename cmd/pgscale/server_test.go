package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// One local server is shared by this package's tests that need no server of their own
// (harnesstest.Server): each run on it works in a schema of its own, through the dsn target.
// Tests of the local target's lifecycle and of server settings start their own; TestDSNSafety,
// which diffs whole servers, is in dsnsafety/, a test binary of its own. Three parallel tests
// run at once: most of their time goes in waiting on the runs they make (in this process, or as
// pgscale processes), on paced load, on containers and on timeouts. A test that compares runs or
// reads the process's own CPU either runs serially (the diagnosis tests) or runs pgscale as a
// process of its own (the own-workload gate test).
func TestMain(m *testing.M) {
	harnesstest.RunAtOnce(3)
	harnesstest.Main(m, removeBuilt)
}

// built is the CLI compiled for the tests that run it as a process, once per test binary run.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildPgscale compiles the CLI on the first call and returns its path; the tests share it.
func buildPgscale(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pgscale-cli-test-")
		if err != nil {
			built.err = err
			return
		}
		built.dir, built.bin = dir, filepath.Join(dir, "pgscale")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// removeBuilt removes the compiled CLI once the tests are done.
func removeBuilt() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}

// onShared is args with the flags that run the command on the shared server, through the dsn
// target.
func onShared(t *testing.T, args ...string) []string {
	t.Helper()
	return append(args, "--target", "dsn", "--dsn", harnesstest.DSN(t))
}

// pacedLoad paces a test's run at 200 operations a second (--rate; lookups, transactions or
// batches, split among the shards of a sharded run): for a test that checks what a run writes or
// how it ends, not how fast it goes. A closed loop there would take both of a 2-core machine's
// CPUs from the tests running beside it for as long as it lasts. A paced select-only runs on the
// goroutine engine: TestCtrlCWritesInterruptedResultAndLeavesNothing and
// TestDSNServerStoppedFailsTheRun keep the mux engine's closed loop.
var pacedLoad = []string{"--rate", "200"}
