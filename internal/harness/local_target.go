package harness

// A started local target: what it tells about itself, and stopping its server.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// LocalTarget is a server started by LocalProvider. Its run directory holds the owner marker
// (for Clean), server.log and pgdata/; Close stops the server and removes the directory.
type LocalTarget struct {
	bin      PGBinaries
	acct     localAccount
	dir      string // run directory: owner marker, server.log, pgdata/
	dataDir  string // PGDATA
	dataFrom string // "template" or "initdb"
	port     int
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait has returned
	timings  LocalTimings
	pooler   *localPooler // PgBouncer in front, when the spec asked for it
	password string       // the superuser's, random for the run (local_auth.go); in DSN and AdminDSN only
	secret   string       // its SCRAM-SHA-256 secret, as the server and PgBouncer keep it

	closeOnce sync.Once
	closeErr  error
}

// LocalTimings is how long the parts of a local start took.
type LocalTimings struct {
	DataDir time.Duration // initdb, or copying the cached template (and building it the first time)
	Server  time.Duration // from starting postgres to its first answered query
	Total   time.Duration // the whole start, binary discovery included: time to first query
}

// Kind returns "local".
func (t *LocalTarget) Kind() string { return KindLocal }

// DSN is where the load goes: PgBouncer when the spec asked for a pooler, else the server.
// Superuser postgres with the run's random password (scram-sha-256 on 127.0.0.1), no TLS.
func (t *LocalTarget) DSN() string {
	if t.pooler != nil {
		return t.pooler.dsn(t.password)
	}
	return t.AdminDSN()
}

// AdminDSN is the server's own URL, for setup and sampling.
func (t *LocalTarget) AdminDSN() string {
	return localURL(t.password, t.port)
}

// SampleSources is PgBouncer's SHOW POOLS and SHOW STATS when a pooler is in front.
func (t *LocalTarget) SampleSources() []SampleSource {
	if t.pooler == nil || t.pooler.source == nil {
		return nil
	}
	return []SampleSource{t.pooler.source}
}

// Schema is "public": the whole server belongs to the run.
func (t *LocalTarget) Schema() string { return "public" }

// CanChangeSettings is true: every start takes its settings as -c flags.
func (t *LocalTarget) CanChangeSettings() bool { return true }

// Dir is the run directory; DataDir is PGDATA inside it.
func (t *LocalTarget) Dir() string { return t.dir }

// DataDir is the server's data directory (PGDATA).
func (t *LocalTarget) DataDir() string { return t.dataDir }

// Port is the TCP port the server listens on at 127.0.0.1.
func (t *LocalTarget) Port() int { return t.port }

// PID is the postmaster's process ID.
func (t *LocalTarget) PID() int { return t.cmd.Process.Pid }

// Timings says how long the start took.
func (t *LocalTarget) Timings() LocalTimings { return t.timings }

// Detail describes the target for a result's environment.
func (t *LocalTarget) Detail() map[string]string {
	d := map[string]string{
		"bindir":       t.bin.Dir,
		"version":      t.bin.Version,
		"major":        strconv.Itoa(t.bin.Major),
		"data_dir":     t.dataDir,
		"data_from":    t.dataFrom,
		"port":         strconv.Itoa(t.port),
		"os_user":      t.acct.displayName(),
		"locale":       "C",
		"start_ms":     strconv.FormatInt(t.timings.Total.Milliseconds(), 10),
		"network_path": "loopback",
	}
	if t.pooler != nil {
		poolerDetail(d, &t.pooler.spec, t.pooler.version, fmt.Sprintf("127.0.0.1:%d (local process)", t.pooler.port))
	}
	return d
}

// Info reads the server's version, max_connections and the settings not at their defaults, the
// same way for every target (ReadServerInfo).
func (t *LocalTarget) Info(ctx context.Context) (ServerInfo, error) {
	info, err := ReadServerInfo(ctx, t.AdminDSN())
	if err != nil {
		return ServerInfo{}, fmt.Errorf("local target: %w", err)
	}
	return info, nil
}

// Close stops the server (fast shutdown, SIGKILL after 10 s or once ctx is done) and removes the
// run directory. It is idempotent and safe to call from any goroutine, a signal handler's
// included; concurrent calls wait for the first and return its error.
func (t *LocalTarget) Close(ctx context.Context) error {
	t.closeOnce.Do(func() { t.closeErr = t.shutdown(ctx) })
	return t.closeErr
}

// shutdown stops PgBouncer and the server if they run and removes the run directory.
func (t *LocalTarget) shutdown(ctx context.Context) error {
	var stopErr error
	if t.pooler != nil {
		stopErr = t.pooler.stop(ctx)
	}
	stopErr = errors.Join(stopErr, t.stopServer(ctx))
	if err := localRemoveAll(t.dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("local target: remove %s: %w", t.dir, err))
	}
	return stopErr
}

// stopServer asks for a fast shutdown (SIGINT) and kills the server when that takes too long.
func (t *LocalTarget) stopServer(ctx context.Context) error {
	if t.cmd == nil {
		return nil
	}
	// ErrProcessDone (already exited) is the only likely error; waiting below covers it.
	_ = t.cmd.Process.Signal(os.Interrupt)
	if t.waitExit(ctx, localStopTimeout) {
		return nil
	}
	_ = t.cmd.Process.Kill()
	if t.waitExit(context.Background(), localKillTimeout) {
		return nil
	}
	return fmt.Errorf("local target: postgres (pid %d) still runs after SIGKILL", t.cmd.Process.Pid)
}

// waitExit waits up to d, or until ctx is done, for the server process to exit.
func (t *LocalTarget) waitExit(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.exited:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	select {
	case <-t.exited:
		return true
	default:
		return false
	}
}
