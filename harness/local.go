package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Names and limits of the local target.
const (
	localDirPrefix      = "pgscale-local-"    // run directories under os.TempDir()
	localTemplatePrefix = "pgscale-template-" // cached initdb'd templates under os.TempDir()
	localDataSubdir     = "pgdata"            // PGDATA inside a run or template directory
	localLogFile        = "server.log"        // the server's stdout and stderr, in the run directory
	localTemplateStamp  = "pgscale-template"  // names the installation a template was built by
	localSuperuser      = "postgres"          // the database superuser initdb creates
	localOSUser         = "postgres"          // the OS user that runs the server when pgscale is root

	// localStartTimeout bounds waiting for a started server to answer. A server starts in well
	// under a second; 30 s leaves room for a loaded CI machine without hiding a hung start.
	localStartTimeout = 30 * time.Second
	// localStopTimeout is how long a fast shutdown (SIGINT) may take before SIGKILL. Fast shutdown
	// writes one checkpoint; on an ephemeral benchmark server that takes well under a second.
	localStopTimeout = 10 * time.Second
	// localKillTimeout is how long to wait for the process to vanish after SIGKILL.
	localKillTimeout = 3 * time.Second
	// localPortAttempts is how often a start is tried with a new port when the one picked was
	// taken between picking and binding (another process got it first).
	localPortAttempts = 3
	// localSocketPathMax keeps the Unix socket path within sun_path (104 bytes on macOS, 108 on
	// Linux). Longer run directories start without a Unix socket; pgscale connects over TCP.
	localSocketPathMax = 100
)

// localManagedSettings are set by the local target itself; a spec may not override them.
var localManagedSettings = []string{
	"port", "listen_addresses", "unix_socket_directories", "data_directory",
	"config_file", "hba_file", "ident_file",
}

// LocalProvider starts PostgreSQL from binaries installed on this machine (see FindPGBinaries),
// each server in an ephemeral data directory under os.TempDir() on a free port of 127.0.0.1.
// Its zero value is ready to use.
type LocalProvider struct {
	// StartTimeout bounds waiting for the server to answer (default 30 s).
	StartTimeout time.Duration
	// NoTemplate makes every start run initdb instead of copying the cached, initdb'd template.
	NoTemplate bool

	// tempDir replaces os.TempDir() for run directories (tests isolate runs from other Cleans
	// with it); templates stay in os.TempDir(), a cache shared by every run of the account.
	tempDir string
}

// Kind returns "local".
func (p *LocalProvider) Kind() string { return KindLocal }

// Available reports whether a local server can be started here: server binaries must be found
// and, when pgscale runs as root, a postgres OS user must exist to run them.
func (p *LocalProvider) Available(ctx context.Context) error {
	if _, err := FindPGBinaries(ctx); err != nil {
		return err
	}
	_, err := localRunAs()
	return err
}

// Start starts a server for spec and returns it once it answers queries.
func (p *LocalProvider) Start(ctx context.Context, spec Spec) (Target, error) {
	t, err := p.StartLocal(ctx, spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// StartLocal is Start with the concrete type, for callers that want the data directory, the
// process or the start timings. A failed start leaves no process and no directory behind.
func (p *LocalProvider) StartLocal(ctx context.Context, spec Spec) (*LocalTarget, error) {
	began := time.Now()
	if err := localCheckSpec(spec); err != nil {
		return nil, err
	}
	bin, err := FindPGBinaries(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := localRunAs()
	if err != nil {
		return nil, err
	}
	var bouncerPath, bouncerVersion string
	if spec.Pooler != nil {
		if bouncerPath, bouncerVersion, err = findPgbouncer(ctx); err != nil {
			return nil, err
		}
	}
	t := &LocalTarget{bin: bin, acct: acct}
	if err := t.makeRunDir(p.dir(), spec.RunID); err != nil {
		return nil, err
	}
	err = t.start(ctx, p, spec.Settings)
	if err == nil && spec.Pooler != nil {
		err = t.startPooler(ctx, *spec.Pooler, bouncerPath, bouncerVersion, time.Now().Add(p.startTimeout()))
	}
	if err != nil {
		// Tear down on ctx's terms: canceled means SIGKILL at once, the data is worthless.
		if cerr := t.shutdown(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	t.timings.Total = time.Since(began)
	return t, nil
}

// dir is where run directories go.
func (p *LocalProvider) dir() string {
	if p.tempDir != "" {
		return p.tempDir
	}
	return os.TempDir()
}

// startTimeout is StartTimeout or its default.
func (p *LocalProvider) startTimeout() time.Duration {
	if p.StartTimeout > 0 {
		return p.StartTimeout
	}
	return localStartTimeout
}

// localCheckSpec rejects what the local target cannot honour, every problem at once.
func localCheckSpec(spec Spec) error {
	var errs []error
	if spec.Shape != "" {
		errs = append(errs, Usagef("--shape %s: the local target cannot limit CPU or memory; use --target docker", spec.Shape))
	}
	if err := ValidatePooler(spec.Pooler); err != nil {
		errs = append(errs, err)
	}
	for _, name := range SortedKeys(spec.Settings) {
		if err := localCheckSetting(name, spec.Settings[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// localCheckSetting rejects a malformed name, a setting the target manages itself, and fsync off.
func localCheckSetting(name, value string) error {
	if err := ValidateSettingName(name); err != nil {
		return err
	}
	for _, managed := range localManagedSettings {
		if strings.EqualFold(name, managed) {
			return Usagef("--pg-setting %s: the local target sets %s itself", name, managed)
		}
	}
	return checkFsyncSetting(name, value)
}

// checkFsyncSetting refuses fsync off, for every target that starts a server.
func checkFsyncSetting(name, value string) error {
	if strings.EqualFold(name, "fsync") {
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "on", "true", "yes", "1":
		default:
			return Usagef("--pg-setting fsync=%s: refused, a server without fsync makes every write benchmark a lie", value)
		}
	}
	return nil
}

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
// Superuser postgres, no password (trust on 127.0.0.1), no TLS.
func (t *LocalTarget) DSN() string {
	if t.pooler != nil {
		return t.pooler.dsn()
	}
	return t.AdminDSN()
}

// AdminDSN is the server's own URL, for setup and sampling.
func (t *LocalTarget) AdminDSN() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", localSuperuser, t.port)
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
	if err := t.prepareData(ctx, p); err != nil {
		return err
	}
	t.timings.DataDir = time.Since(began)
	began = time.Now()
	if err := t.startServer(ctx, settings, began.Add(p.startTimeout())); err != nil {
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
		err := localPing(ctx, t.AdminDSN())
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
		return Usagef("local target: postgres rejected a setting: %s", msg)
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
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}

// localInitdb creates a data directory: superuser postgres, trust authentication on the loopback
// (the server listens nowhere else), UTF8 with the C locale so results and PostgreSQL's messages
// do not depend on the machine's locale, and no fsync of the new files (the server fsyncs its
// own writes as usual: fsync stays on).
func localInitdb(ctx context.Context, bin PGBinaries, acct localAccount, dataDir string) error {
	cmd := exec.CommandContext(ctx, bin.Path("initdb"), "-D", dataDir, "-U", localSuperuser,
		"--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = filepath.Dir(dataDir)
	cmd.Env = localEnv()
	cmd.SysProcAttr = localSysProcAttr(acct)
	// On cancel, kill initdb's process group: the postgres it runs in bootstrap mode too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := localStartProcess(cmd); err != nil {
		return fmt.Errorf("local target: initdb: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("local target: initdb: %w", context.Cause(ctx))
		}
		return fmt.Errorf("local target: initdb: %w; its output ends:\n%s", err, localLastLines(out.String(), 6))
	}
	return nil
}

// localTemplate returns the PGDATA of the cached initdb'd template for this installation and
// account (os.TempDir()/pgscale-template-<major>-<uid>), building it first when there is none.
// Copying it is about twice as fast as initdb. It returns "" without error when a template
// exists that was built by another installation or is not safely ours: the caller runs initdb.
//
// Builders take an flock on pgscale-template-<major>-<uid>.lock (released by the kernel when a
// builder dies, so it cannot go stale), build in a directory of their own and rename it into
// place, so a reader never sees half a template.
func localTemplate(ctx context.Context, bin PGBinaries, acct localAccount, parent string) (string, error) {
	final := filepath.Join(parent, fmt.Sprintf("%s%d-%d", localTemplatePrefix, bin.Major, acct.uid()))
	stamp := bin.Dir + "\n"
	if ok, exists := localTemplateUsable(final, stamp, acct.uid()); exists {
		return localUsablePath(final, ok), nil
	}
	unlock, err := localLock(ctx, final+".lock", localTemplateLockWait)
	if err != nil {
		return "", fmt.Errorf("local target: template: %w", err)
	}
	defer unlock()
	if ok, exists := localTemplateUsable(final, stamp, acct.uid()); exists { // built while we waited
		return localUsablePath(final, ok), nil
	}
	if err := localBuildTemplate(ctx, bin, acct, final, stamp); err != nil {
		return "", err
	}
	ok, _ := localTemplateUsable(final, stamp, acct.uid())
	return localUsablePath(final, ok), nil
}

// localBuildTemplate runs initdb into a directory of its own and renames it to final.
func localBuildTemplate(ctx context.Context, bin PGBinaries, acct localAccount, final, stamp string) error {
	// The PID in the name lets Clean remove builds of runs that were killed.
	tmp, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	defer func() { _ = localRemoveAll(tmp) }() // gone after a successful rename
	if err := acct.chown(tmp); err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	if err := localInitdb(ctx, bin, acct, filepath.Join(tmp, localDataSubdir)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, localTemplateStamp), []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil && !localExists(final) {
		return fmt.Errorf("local target: template: %w", err)
	}
	return nil
}

// localTemplateLockWait bounds waiting for another process's template build (an initdb: about a
// second, several on a loaded machine). After that, or if the lock cannot be had at all (someone
// else holds a file of that name), the start runs initdb itself.
const localTemplateLockWait = time.Minute

// localLock takes an exclusive flock on path, waiting up to wait or until ctx is done, and
// returns its release.
func localLock(ctx context.Context, path string, wait time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, errors.Join(err, ctx.Err()))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// localUsablePath is the template's PGDATA when usable, else "".
func localUsablePath(dir string, usable bool) string {
	if !usable {
		return ""
	}
	return filepath.Join(dir, localDataSubdir)
}

// localTemplateUsable tells whether dir exists and, if so, whether it is a template built by this
// installation (its stamp) that only uid can have written (a real directory owned by uid, closed to
// others: anyone could create a name in the shared temporary directory, and a planted
// postgresql.conf would run commands as the server's user).
func localTemplateUsable(dir, stamp string, uid int) (usable, exists bool) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || localFileOwner(fi) != uid {
		return false, true
	}
	got, err := os.ReadFile(filepath.Join(dir, localTemplateStamp))
	return err == nil && string(got) == stamp, true
}

// localCopyWorkers is how many files localCopyTree copies at once. Creating a file costs far more
// than copying its bytes (on our 2-core CI VM about 0.7 ms per file, and a PostgreSQL 15 data
// directory has about 970 files), and creates overlap: 4 workers halved the copy there (700 ms
// to about 350 ms); 8 and 16 gained nothing more.
const localCopyWorkers = 4

// localCopyTree copies the directory src to dst (which must not exist), keeping permissions, and
// gives everything to acct. Regular files are copied with io.Copy, which uses copy_file_range on
// Linux (and so shares blocks on file systems that can).
func localCopyTree(src, dst string, acct localAccount) error {
	type job struct {
		src, dst string
		perm     fs.FileMode
	}
	jobs := make(chan job)
	errs := make([]error, localCopyWorkers)
	var wg sync.WaitGroup
	for i := range localCopyWorkers {
		wg.Go(func() {
			for j := range jobs {
				if errs[i] != nil {
					continue // keep receiving so the walk never blocks
				}
				errs[i] = localCopyFile(j.src, j.dst, j.perm)
				if errs[i] == nil {
					errs[i] = acct.lchown(j.dst)
				}
			}
		})
	}
	walkErr := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			err = localMkdir(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			err = localCopySymlink(path, target)
		case d.Type().IsRegular():
			jobs <- job{src: path, dst: target, perm: info.Mode().Perm()}
			return nil
		default:
			err = fmt.Errorf("%s: cannot copy a %v", path, d.Type())
		}
		if err != nil {
			return err
		}
		return acct.lchown(target)
	})
	close(jobs)
	wg.Wait()
	return errors.Join(append(errs, walkErr)...)
}

// localMkdir creates a directory with exactly perm (no umask).
func localMkdir(path string, perm fs.FileMode) error {
	if err := os.Mkdir(path, perm); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}

// localCopySymlink recreates the symbolic link src at dst.
func localCopySymlink(src, dst string) error {
	link, err := os.Readlink(src)
	if err != nil {
		return err
	}
	return os.Symlink(link, dst)
}

// localCopyFile copies a regular file to a new file with exactly perm.
func localCopyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Chmod(perm); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// localFreePort asks the kernel for a free TCP port on 127.0.0.1. Another process may take it
// before postgres binds it; startServer then tries again.
func localFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("local target: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("local target: find a free port: %w", err)
	}
	return port, nil
}

// localRemoveAll removes a directory tree, retrying briefly: backends of a killed postmaster may
// still be exiting, and a file they create makes a removal fail with "directory not empty".
func localRemoveAll(dir string) error {
	if dir == "" {
		return nil
	}
	var err error
	for i := 0; i < 5; i++ {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// localExists tells whether path exists (without following a final symbolic link).
func localExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// localSafeName makes a run ID usable in a directory name: letters, digits, '-' and '_', at
// most 24 of them (the Unix socket path inside the directory is limited).
func localSafeName(runID string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, runID)
	if len(clean) > 24 {
		clean = clean[:24]
	}
	if clean == "" {
		return "run"
	}
	return clean
}

// localEnv is the environment of initdb and postgres: pgscale's, without locale variables (the C
// locale keeps PostgreSQL's messages in English, which start errors are matched against) and
// without PG* variables (libpq defaults that could point the server elsewhere).
func localEnv() []string {
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") || strings.HasPrefix(name, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// localSysProcAttr makes a child die with pgscale (SIGQUIT: PostgreSQL's immediate shutdown; initdb
// removes what it made), keeps it out of the terminal's process group, and runs it as acct.
//
// Pdeathsig exists on Linux only. It is set by name so that the package still builds elsewhere
// (macOS), where a server outlives a SIGKILLed pgscale and `pgscale clean` reaps it; a
// local_linux.go holding this one field would say the same more plainly.
func localSysProcAttr(acct localAccount) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Credential: acct.credential()}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() {
		f.Set(reflect.ValueOf(syscall.SIGQUIT))
	}
	return attr
}

// localSetPdeathsig changes the signal a child gets when pgscale dies, where the OS has one.
func localSetPdeathsig(attr *syscall.SysProcAttr, sig syscall.Signal) {
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() {
		f.Set(reflect.ValueOf(sig))
	}
}

// localHasPdeathsig tells whether children die with pgscale on this OS.
func localHasPdeathsig() bool {
	_, ok := reflect.TypeFor[syscall.SysProcAttr]().FieldByName("Pdeathsig")
	return ok
}

// localForker starts child processes from one goroutine locked to its OS thread for the life of
// the process. Linux sends the parent-death signal when the thread that forked the child exits,
// not the process (go.dev/issue/27505), and Go ends a thread when a goroutine exits locked to it;
// forking from a thread that never exits makes the signal mean "pgscale died".
type localForker struct {
	once sync.Once
	reqs chan localForkRequest
}

type localForkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// localSpawner is the process's one forking thread.
var localSpawner localForker

// localStartProcess starts cmd from the forking thread.
func localStartProcess(cmd *exec.Cmd) error {
	return localSpawner.start(cmd)
}

func (f *localForker) start(cmd *exec.Cmd) error {
	f.once.Do(func() {
		f.reqs = make(chan localForkRequest)
		go f.loop()
	})
	done := make(chan error, 1)
	f.reqs <- localForkRequest{cmd: cmd, done: done}
	return <-done
}

func (f *localForker) loop() {
	runtime.LockOSThread() // never unlocked: the thread lives as long as the process
	for req := range f.reqs {
		req.done <- req.cmd.Start()
	}
}

// localAccount is the OS account that runs initdb and postgres: pgscale's own, or, when pgscale
// runs as root (PostgreSQL refuses to), the postgres user.
type localAccount struct {
	switchUser bool
	name       string
	uidNum     int
	gidNum     int
}

// localRunAs picks the account: pgscale's own unless it is root.
func localRunAs() (localAccount, error) {
	if os.Geteuid() != 0 {
		return localAccount{uidNum: os.Geteuid(), gidNum: os.Getegid()}, nil
	}
	u, err := user.Lookup(localOSUser)
	if err != nil {
		return localAccount{}, fmt.Errorf("local target: PostgreSQL refuses to run as root and there is no %q "+
			"OS user to run it as (%v); create one (useradd --system --create-home postgres), "+
			"run pgscale as another user, or use --target docker", localOSUser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return localAccount{}, fmt.Errorf("local target: OS user %s: %w", localOSUser, err)
	}
	if uid == 0 {
		return localAccount{}, fmt.Errorf("local target: OS user %s has uid 0, and PostgreSQL refuses to run as root", localOSUser)
	}
	return localAccount{switchUser: true, name: localOSUser, uidNum: uid, gidNum: gid}, nil
}

// uid is the account's user ID.
func (a localAccount) uid() int { return a.uidNum }

// displayName names the account for a result.
func (a localAccount) displayName() string {
	if a.switchUser {
		return a.name
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(a.uidNum)
}

// credential is the child's credential, nil to keep pgscale's.
func (a localAccount) credential() *syscall.Credential {
	if !a.switchUser {
		return nil
	}
	return &syscall.Credential{Uid: uint32(a.uidNum), Gid: uint32(a.gidNum)}
}

// chown gives path to the account when it is not pgscale's own.
func (a localAccount) chown(path string) error {
	if !a.switchUser {
		return nil
	}
	return os.Chown(path, a.uidNum, a.gidNum)
}

// lchown is chown without following a symbolic link.
func (a localAccount) lchown(path string) error {
	if !a.switchUser {
		return nil
	}
	return os.Lchown(path, a.uidNum, a.gidNum)
}

// checkReachable tells whether the account can enter dir, when it is not pgscale's own: root's
// TMPDIR may be private to root. (The child gets no supplementary groups, so only the owner,
// the primary group and others count.)
func (a localAccount) checkReachable(dir string) error {
	if !a.switchUser {
		return nil
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("local target: %w", err)
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("local target: %w", err)
		}
		bit := fs.FileMode(0o001)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == a.uidNum {
			bit = 0o100
		} else if ok && int(st.Gid) == a.gidNum {
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("local target: the %s OS user that runs the server cannot enter %s (mode %v); "+
				"set TMPDIR to a folder it can reach, such as /tmp", a.name, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// localFileOwner is the user ID owning a file, or -1 when the system does not say.
func localFileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
