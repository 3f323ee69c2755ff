package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// distinctive is a password no command may show: with a space, a quote and a backslash, so that
// every way of writing it in a DSN (escaped, quoted, percent-encoded) is tried.
const distinctive = `Pgs-S3cr3t wh'at\ever`

// TestNoOutputShowsThePassword runs real commands against a real server with a DSN whose password
// is distinctive, in each form a user may write it, and looks for the password (and its longest
// words) in their stdout, stderr and every file they wrote.
func TestNoOutputShowsThePassword(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	ctx := context.Background()
	target, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "secrets"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	admin, err := pgx.Connect(ctx, target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	literal := strings.ReplaceAll(distinctive, `'`, `''`)
	if _, err := admin.Exec(ctx, "CREATE ROLE bench LOGIN SUPERUSER PASSWORD '"+literal+"'"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	cfg, err := pgx.ParseConfig(target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf(`host=%s port=%d user=bench dbname=postgres sslmode=disable password=%s`, cfg.Host, cfg.Port,
		strings.NewReplacer(`\`, `\\`, ` `, `\ `, `'`, `\'`).Replace(distinctive))
	quoted := fmt.Sprintf(`host=%s port=%d user=bench dbname=postgres sslmode=disable password='%s'`, cfg.Host, cfg.Port,
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(distinctive))
	url := fmt.Sprintf("postgres://bench:%s@%s:%d/postgres?sslmode=disable", "Pgs-S3cr3t%20wh%27at%5Cever", cfg.Host, cfg.Port)
	wrong := fmt.Sprintf("postgres://bench:%s@%s:%d/postgres?sslmode=disable", "Pgs-S3cr3t%20wh%27at%5Cevers", cfg.Host, cfg.Port)

	type command struct {
		name string
		args []string
		env  string // PGSCALE_DSN: given, the command runs as a process of its own with it
		want int    // exit status
	}
	out := t.TempDir()
	dir := func(name string) string { return filepath.Join(out, name) }
	if err := os.Mkdir(dir("calibrate"), 0o755); err != nil { // calibrate writes into an existing directory
		t.Fatal(err)
	}
	commands := []command{
		{"run key=value", []string{"run", "select-only", "--target", "dsn", "--dsn", kv, "--duration", "1s", "--warmup", "0s",
			"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--rate", "200", "--out", dir("kv")}, "", 0},
		{"run pgbench from PGSCALE_DSN", []string{"run", "pgbench", "--target", "dsn", "--quick", "--duration", "3s", "--warmup", "0s",
			"--set", "workers=1", "--set", "variants=prepared", "--out", dir("pgbench")}, quoted, 0},
		// Both modes (pgbench with and without -C), on one engine of pgscale's side.
		{"calibrate from PGSCALE_DSN", []string{"calibrate", "--target", "dsn", "--duration", "1s", "--pairs", "1", "--clients", "1",
			"--scale", "1", "--engine", "mux", "--out", dir("calibrate")}, url, 0},
		{"report", []string{"report", dir("kv")}, "", 0},
		{"wrong password", []string{"run", "select-only", "--target", "dsn", "--dsn", wrong, "--out", dir("wrong")}, "", 1},
		{"unterminated quote", []string{"run", "select-only", "--target", "dsn", "--dsn", strings.TrimSuffix(quoted, "'")}, "", 2},
		{"bad percent-encoding", []string{"run", "select-only", "--target", "dsn", "--dsn", url + "&password=" + "Pgs-S3cr3t%zz"}, "", 2},
		{"raw @ and space in a URL", []string{"calibrate", "--target", "dsn", "--dsn",
			"postgres://bench:Pgs-S3cr3t wh@at@127.0.0.1/postgres"}, "", 2},
	}
	bin := buildPgscale(t)
	stopWatching := watchCommandLines(t)
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			// PGSCALE_DSN goes into the environment of a pgscale process of its own, not into
			// this test binary's (which the parallel tests share); the commands that name their
			// DSN on the command line run in-process, where the watch of command lines does not
			// see that DSN.
			run := runCLI
			if c.env != "" {
				run = func(t *testing.T, args ...string) (int, string, string) { return runWithDSNEnv(t, bin, c.env, args...) }
			}
			code, stdout, stderr := run(t, c.args...)
			if code != c.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.want, stderr)
			}
			checkNoSecret(t, "stdout", stdout)
			checkNoSecret(t, "stderr", stderr)
		})
	}
	stopWatching()
	_ = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checkNoSecret(t, path, string(b))
		return nil
	})
	for _, want := range []string{"kv/result.json", "pgbench/result.json", "calibrate/calibrate.json"} {
		if _, err := os.Stat(dir(want)); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// runWithDSNEnv runs bin with args and PGSCALE_DSN=dsn in its environment (in place of any
// PGSCALE_DSN of this process), and returns its exit status and output.
func runWithDSNEnv(t *testing.T, bin, dsn string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = dsnEnviron(dsn)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// dsnEnviron is this process's environment with PGSCALE_DSN set to dsn: for a pgscale process
// that reads its dsn there, so that the password stays off its command line.
func dsnEnviron(dsn string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envDSN+"=") {
			env = append(env, kv)
		}
	}
	return append(env, envDSN+"="+dsn)
}

// checkNoSecret fails t when text holds the distinctive password, or its distinctive parts, in
// any spelling.
func checkNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, part := range []string{"S3cr3t", "at\\ever", "wh'at", "wh%27at", "at%5Cever", "wh\\'at", "Pgs-S3cr3t"} {
		if strings.Contains(text, part) {
			t.Errorf("%s shows the password (%q):\n%s", where, part, text)
		}
	}
}

// watchCommandLines reads every process's command line (/proc/*/cmdline, which every user of the
// machine can read) until stopped, and fails t if one shows the password: pgbench and psql get it
// only in their environment.
func watchCommandLines(t *testing.T) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	seen := 0
	go func() {
		defer close(finished)
		for {
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil || len(b) == 0 {
					continue
				}
				line := strings.ReplaceAll(string(b), "\x00", " ")
				if strings.Contains(line, "pgbench") || strings.Contains(line, "psql") {
					seen++
				}
				checkNoSecret(t, p, line)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if seen == 0 {
			t.Errorf("no pgbench command line seen while pgbench ran: the watch saw nothing")
		}
	}
}
