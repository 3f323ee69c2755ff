package harness

// Starting the local server: its run directory and data, the postmaster, and waiting until it
// answers, with the server log read for why it did not.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/usage"
)

// makeRunDir creates the run directory, owned by the account that runs the server, and writes
// the owner marker into it first so Clean can tell a live run from a dead one.
func (t *LocalTarget) makeRunDir(parent, runID string) error {
	if err := t.acct.checkReachable(parent); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(parent, localDirPrefix+localSafeName(runID)+"-*")
	if err != nil {
		return fmt.Errorf("local target: create run directory: %w", err)
	}
	t.dir, t.dataDir = dir, filepath.Join(dir, localDataSubdir)
	if err := writeLocalOwner(dir, runID); err != nil {
		return errors.Join(err, localRemoveAll(dir))
	}
	if err := t.acct.chown(dir); err != nil {
		return errors.Join(fmt.Errorf("local target: %w", err), localRemoveAll(dir))
	}
	return nil
}

// start fills the data directory, then starts the server and waits until it answers.
func (t *LocalTarget) start(ctx context.Context, p *LocalProvider, settings map[string]string) error {
	began := time.Now()
	if t.socketDir() == "" {
		return fmt.Errorf("local target: the run directory %s is too long a path for the server's Unix socket, "+
			"through which pgscale sets the run's password: set TMPDIR to a shorter directory", t.dir)
	}
	if err := t.prepareData(ctx, p); err != nil {
		return err
	}
	if err := t.writeHBA(); err != nil {
		return err
	}
	t.timings.DataDir = time.Since(began)
	began = time.Now()
	if err := t.startServer(ctx, settings, began.Add(p.startTimeout())); err != nil {
		return err
	}
	if err := t.setPassword(ctx); err != nil {
		return err
	}
	t.timings.Server = time.Since(began)
	return nil
}

// prepareData copies the cached template into the data directory, or runs initdb there when
// templates are off or the template cannot be had.
func (t *LocalTarget) prepareData(ctx context.Context, p *LocalProvider) error {
	if !p.NoTemplate {
		tmpl, err := localTemplate(ctx, t.bin, t.acct, os.TempDir())
		if ctx.Err() != nil {
			return fmt.Errorf("local target: %w", context.Cause(ctx))
		}
		if err == nil && tmpl != "" {
			if err := localCopyTree(tmpl, t.dataDir, t.acct); err != nil {
				return fmt.Errorf("local target: copy template %s: %w", tmpl, err)
			}
			t.dataFrom = "template"
			return nil
		}
		// No usable template (a foreign one, or building it failed): initdb says why, if anything.
	}
	t.dataFrom = "initdb"
	return localInitdb(ctx, t.bin, t.acct, t.dataDir)
}

// startServer starts postgres on a free port, trying another port when the one picked was taken.
func (t *LocalTarget) startServer(ctx context.Context, settings map[string]string, deadline time.Time) error {
	for attempt := 1; ; attempt++ {
		port, err := localFreePort()
		if err != nil {
			return err
		}
		if err := t.launch(port, settings); err != nil {
			return err
		}
		err = t.waitReady(ctx, deadline)
		if err == nil {
			return nil
		}
		if attempt >= localPortAttempts || !t.hasExited() || !localPortTaken(t.readLog()) {
			return err
		}
	}
}

// launch starts the postmaster as a child that gets SIGQUIT (immediate shutdown) when pgscale
// dies, in its own process group so a terminal's Ctrl-C reaches pgscale only.
func (t *LocalTarget) launch(port int, settings map[string]string) error {
	logf, err := os.OpenFile(filepath.Join(t.dir, localLogFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("local target: server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	args := []string{
		"-D", t.dataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=" + t.socketDir(),
	}
	cmd := exec.Command(t.bin.Path("postgres"), append(args, SettingArgs(settings)...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = t.dir
	cmd.Env = localEnv()
	cmd.SysProcAttr = localSysProcAttr(t.acct)
	if err := localStartProcess(cmd); err != nil {
		return fmt.Errorf("local target: start %s: %w", t.bin.Path("postgres"), err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status stays in cmd.ProcessState
		close(exited)
	}()
	t.cmd, t.exited, t.port = cmd, exited, port
	return nil
}

// socketDir is the Unix socket directory: the run directory, or none when its path is too long.
func (t *LocalTarget) socketDir() string {
	if len(t.dir)+len("/.s.PGSQL.65535.lock") > localSocketPathMax {
		return ""
	}
	return t.dir
}

// waitReady connects until the server answers a query, it exits, or the deadline passes.
func (t *LocalTarget) waitReady(ctx context.Context, deadline time.Time) error {
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	backoff := 5 * time.Millisecond
	for {
		if t.hasExited() {
			return t.exitError()
		}
		err := t.pingSocket(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-t.exited:
			return t.exitError()
		case <-ctx.Done():
			if parent.Err() != nil { // the caller gave up
				return fmt.Errorf("local target: waiting for postgres: %w", context.Cause(parent))
			}
			return fmt.Errorf("local target: postgres did not answer by the start timeout: %w; last lines of server.log:\n%s",
				err, localLastLines(t.readLog(), 8))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// hasExited tells whether the server process has exited.
func (t *LocalTarget) hasExited() bool {
	select {
	case <-t.exited:
		return true
	default:
		return false
	}
}

// exitError explains why the server exited during start. A setting PostgreSQL rejected is a
// usage error carrying PostgreSQL's own message (and hint, listing the valid values if any).
func (t *LocalTarget) exitError() error {
	log := t.readLog()
	if msg := localRejectedSetting(log); msg != "" {
		return usage.Errorf("local target: postgres rejected a setting: %s", msg)
	}
	return fmt.Errorf("local target: postgres exited while starting (%s); last lines of server.log:\n%s",
		t.cmd.ProcessState, localLastLines(log, 8))
}

// readLog returns the end of server.log (the start's messages are short).
func (t *LocalTarget) readLog() string {
	f, err := os.Open(filepath.Join(t.dir, localLogFile))
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// localRejectedSetting finds PostgreSQL's FATAL about a parameter, with the DETAIL and HINT
// lines that follow it, or "".
func localRejectedSetting(log string) string {
	lines := strings.Split(log, "\n")
	for i, line := range lines {
		_, msg, ok := strings.Cut(line, "FATAL:")
		if !ok || !strings.Contains(msg, `parameter "`) {
			continue
		}
		parts := []string{strings.TrimSpace(msg)}
		for _, next := range lines[i+1:] {
			_, more, ok := strings.Cut(next, "DETAIL:")
			if !ok {
				_, more, ok = strings.Cut(next, "HINT:")
			}
			if !ok {
				break
			}
			parts = append(parts, strings.TrimSpace(more))
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// localPortTaken tells whether a server log shows the port was in use.
func localPortTaken(log string) bool {
	return strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use")
}

// localLastLines returns the last n non-empty lines of s, indented, or a note that s is empty.
func localLastLines(s string, n int) string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, "  "+line)
		}
	}
	if len(lines) == 0 {
		return "  (empty)"
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// localPing connects once and runs a query.
func localPing(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	return localPingConfig(ctx, cfg)
}

// localPingConfig is localPing with a parsed configuration.
func localPingConfig(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}
