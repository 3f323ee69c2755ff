package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Poolers and their modes.
const (
	PoolerPgBouncer       = "pgbouncer"
	PoolerModeTransaction = "transaction"
	PoolerModeSession     = "session"
	// DefaultPoolerMode is the mode of --pooler when --pooler-mode is not given: transaction
	// pooling is what serverless and many-worker deployments put in front of PostgreSQL.
	DefaultPoolerMode = PoolerModeTransaction
	// DefaultPoolerSize is PgBouncer's own default_pool_size, used when --pooler-size is not given.
	DefaultPoolerSize = 20
)

// Limits of the pooler.
const (
	// poolerMaxClients is PgBouncer's max_client_conn: as many clients as a scenario's workers
	// could open (the scenarios sweep up to a few thousand). Each client costs PgBouncer a file
	// descriptor and about 2 KB.
	poolerMaxClients = 10000
	// poolerStopTimeout is how long PgBouncer gets to exit after SIGTERM (immediate shutdown,
	// milliseconds) before SIGKILL.
	poolerStopTimeout = 3 * time.Second
)

// ValidatePooler checks a pooler request, every problem at once; nil asks for no pooler.
func ValidatePooler(p *PoolerSpec) error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.Kind != PoolerPgBouncer {
		errs = append(errs, usage.Fieldf("pooler", "%q: the valid pooler is %s", p.Kind, PoolerPgBouncer))
	}
	if p.Mode != PoolerModeTransaction && p.Mode != PoolerModeSession {
		errs = append(errs, usage.Fieldf("pooler-mode", "%q: valid modes are %s, %s", p.Mode, PoolerModeTransaction, PoolerModeSession))
	}
	if p.Size <= 0 {
		errs = append(errs, usage.Fieldf("pooler-size", "%d: must be at least 1 (server connections PgBouncer may open)", p.Size))
	}
	return errors.Join(errs...)
}

// poolerDetail describes a pooler for a result's environment.
func poolerDetail(d map[string]string, p *PoolerSpec, version, where string) {
	d["pooler"] = p.Kind
	d["pooler_mode"] = p.Mode
	d["pooler_size"] = strconv.Itoa(p.Size)
	if version != "" {
		d["pooler_version"] = version
	}
	d["pooler_address"] = where
}

// pgbouncerSource samples PgBouncer's admin console: SHOW POOLS (clients waiting for a server,
// servers active) into the server sample, and SHOW STATS into the timeline's extra columns.
type pgbouncerSource struct {
	dsn string // the admin console: database "pgbouncer"

	mu       sync.Mutex
	conn     *pgx.Conn
	prevXact int64
	prevWait int64 // total_wait_time, µs
	havePrev bool
}

// newPgbouncerSource samples the PgBouncer at host:port as user (an admin or stats user).
func newPgbouncerSource(host string, port int, user, password string) *pgbouncerSource {
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", host, port), Path: "/pgbouncer",
		RawQuery: "sslmode=disable&default_query_exec_mode=simple_protocol"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return &pgbouncerSource{dsn: u.String()}
}

// Sample implements SampleSource.
func (s *pgbouncerSource) Sample(ctx context.Context, smp *result.ServerSample) error {
	return s.SampleExtra(ctx, smp, nil)
}

// SampleExtra implements ExtraSampleSource: cl_waiting and sv_active summed over the pools into
// smp; clients active, servers idle, the longest wait, and transactions and wait time since the
// previous reading into extra.
func (s *pgbouncerSource) SampleExtra(ctx context.Context, smp *result.ServerSample, extra map[string]float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		conn, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			return fmt.Errorf("pgbouncer admin console: %s", RedactDSN(err.Error()))
		}
		s.conn = conn
	}
	pools, err := showRows(ctx, s.conn, "SHOW POOLS")
	if err != nil {
		s.closeLocked()
		return fmt.Errorf("pgbouncer SHOW POOLS: %w", err)
	}
	var waiting, active, clActive, svIdle int
	var maxWaitMs float64
	for _, p := range pools {
		if p["database"] == "pgbouncer" {
			continue
		}
		waiting += atoiOr0(p["cl_waiting"])
		active += atoiOr0(p["sv_active"])
		clActive += atoiOr0(p["cl_active"])
		svIdle += atoiOr0(p["sv_idle"]) + atoiOr0(p["sv_used"])
		maxWaitMs = max(maxWaitMs, float64(atoiOr0(p["maxwait"]))*1000+float64(atoiOr0(p["maxwait_us"]))/1000)
	}
	smp.PoolerClientsWaiting, smp.PoolerServersActive = &waiting, &active
	if extra == nil {
		return nil
	}
	extra[result.ColumnPoolerClientsActive] = float64(clActive)
	extra[result.ColumnPoolerServersIdle] = float64(svIdle)
	extra[result.ColumnPoolerMaxWaitMs] = maxWaitMs
	stats, err := showRows(ctx, s.conn, "SHOW STATS")
	if err != nil {
		s.closeLocked()
		return fmt.Errorf("pgbouncer SHOW STATS: %w", err)
	}
	var xacts, waitUs int64
	for _, st := range stats {
		if st["database"] == "pgbouncer" {
			continue
		}
		xacts += int64(atoiOr0(st["total_xact_count"]))
		waitUs += int64(atoiOr0(st["total_wait_time"]))
	}
	if s.havePrev {
		extra[result.ColumnPoolerXacts] = float64(xacts - s.prevXact)
		extra[result.ColumnPoolerWaitMs] = float64(waitUs-s.prevWait) / 1000
	}
	s.prevXact, s.prevWait, s.havePrev = xacts, waitUs, true
	return nil
}

// Close closes the admin console connection.
func (s *pgbouncerSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
}

func (s *pgbouncerSource) closeLocked() {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.conn.Close(ctx)
		s.conn = nil
	}
}

// showRows runs an admin console SHOW and returns its rows by column name (text values), so that
// columns added by later PgBouncer versions do not matter.
func showRows(ctx context.Context, conn *pgx.Conn, show string) ([]map[string]string, error) {
	rows, err := conn.Query(ctx, show)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []map[string]string
	fields := rows.FieldDescriptions()
	for rows.Next() {
		raw := rows.RawValues()
		m := make(map[string]string, len(fields))
		for i, f := range fields {
			if i < len(raw) {
				m[f.Name] = string(raw[i])
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// The local target's PgBouncer: a process started from the installed pgbouncer program, listening
// on 127.0.0.1, in front of the local server.

// pgbouncerVersionRE reads `pgbouncer --version`: "PgBouncer 1.18.0".
var pgbouncerVersionRE = regexp.MustCompile(`PgBouncer\s+(\d+\.\d+(?:\.\d+)?)`)

// findPgbouncer finds the pgbouncer program (PATH, then /usr/sbin and /usr/local/bin, where
// packages put it outside an ordinary user's PATH) and its version.
func findPgbouncer(ctx context.Context) (path, version string, err error) {
	path, err = exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/bin/pgbouncer", "/opt/homebrew/bin/pgbouncer"} {
			if fi, statErr := os.Stat(p); statErr == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return "", "", usage.Fieldf("pooler", "pgbouncer: the local target needs the pgbouncer program, and there is none "+
			"(apt-get install pgbouncer, dnf install pgbouncer or brew install pgbouncer), or use --target docker")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("local target: %s --version: %w", path, err)
	}
	if m := pgbouncerVersionRE.FindStringSubmatch(string(out)); m != nil {
		version = m[1]
	}
	return path, version, nil
}

// localPooler is a PgBouncer process of a local target.
type localPooler struct {
	spec    PoolerSpec
	path    string
	version string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	source  *pgbouncerSource
}

// Local pooler files in the run directory.
const (
	localPoolerIni   = "pgbouncer.ini"
	localPoolerUsers = "pgbouncer-users.txt"
	localPoolerLog   = "pgbouncer.log"
	localPoolerPID   = "pgbouncer.pid"
)

// startPooler starts PgBouncer in front of the running server and waits until a query goes
// through it, trying another port when the one picked was taken.
func (t *LocalTarget) startPooler(ctx context.Context, spec PoolerSpec, path, version string, deadline time.Time) error {
	p := &localPooler{spec: spec, path: path, version: version}
	t.pooler = p
	for attempt := 1; ; attempt++ {
		port, err := localFreePort()
		if err != nil {
			return err
		}
		if err := t.launchPooler(p, port); err != nil {
			return err
		}
		err = t.waitPooler(ctx, p, deadline)
		if err == nil {
			p.source = newPgbouncerSource("127.0.0.1", p.port, localSuperuser, t.password)
			return nil
		}
		if attempt >= localPortAttempts || !p.hasExited() || !strings.Contains(t.readPoolerLog(), "Address already in use") {
			return err
		}
	}
}

// launchPooler writes the configuration and starts pgbouncer as the server's account, dying
// with pgscale like the server does.
func (t *LocalTarget) launchPooler(p *localPooler, port int) error {
	ini := fmt.Sprintf(`;; written by pgscale for one run
[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
admin_users = %s
stats_users = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = %d
ignore_startup_parameters = extra_float_digits,options,search_path
pidfile = %s
`, t.port, port, filepath.Join(t.dir, localPoolerUsers), localSuperuser, localSuperuser,
		p.spec.Mode, p.spec.Size, poolerMaxClients, filepath.Join(t.dir, localPoolerPID))
	// The auth file holds the run's SCRAM secret, not the password: PgBouncer checks clients with
	// it and, having checked one, logs in to the server with it (SCRAM pass-through).
	users := fmt.Sprintf("%q %q\n", localSuperuser, t.secret)
	for name, content := range map[string]string{localPoolerIni: ini, localPoolerUsers: users} {
		path := filepath.Join(t.dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("local target: pgbouncer configuration: %w", err)
		}
		if err := t.acct.chown(path); err != nil {
			return fmt.Errorf("local target: pgbouncer configuration: %w", err)
		}
	}
	logf, err := os.OpenFile(filepath.Join(t.dir, localPoolerLog), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("local target: pgbouncer log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(p.path, filepath.Join(t.dir, localPoolerIni))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = t.dir
	cmd.Env = localEnv()
	cmd.SysProcAttr = localSysProcAttr(t.acct)
	// SIGTERM is PgBouncer's immediate shutdown; the server's SIGQUIT would dump core.
	localSetPdeathsig(cmd.SysProcAttr, syscall.SIGTERM)
	if err := localStartProcess(cmd); err != nil {
		return fmt.Errorf("local target: start %s: %w", p.path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited, p.port = cmd, exited, port
	return nil
}

// waitPooler connects through PgBouncer until a query answers, it exits, or the deadline passes.
func (t *LocalTarget) waitPooler(ctx context.Context, p *localPooler, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	backoff := 5 * time.Millisecond
	for {
		if p.hasExited() {
			return fmt.Errorf("local target: pgbouncer exited at start: %s", lastLines(t.readPoolerLog(), 5))
		}
		err := localPing(ctx, p.dsn(t.password))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("local target: pgbouncer did not answer within the start timeout: %v; log: %s",
				err, lastLines(t.readPoolerLog(), 5))
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// dsn is where the load goes through PgBouncer.
func (p *localPooler) dsn(password string) string { return localURL(password, p.port) }

func (p *localPooler) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop ends PgBouncer: SIGTERM (immediate shutdown), SIGKILL if it is still there after
// poolerStopTimeout or once ctx is done.
func (p *localPooler) stop(ctx context.Context) error {
	if p.source != nil {
		p.source.Close()
	}
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if waitClosed(ctx, p.exited, poolerStopTimeout) {
		return nil
	}
	_ = p.cmd.Process.Kill()
	if waitClosed(context.Background(), p.exited, localKillTimeout) {
		return nil
	}
	return fmt.Errorf("local target: pgbouncer (pid %d) still runs after SIGKILL", p.cmd.Process.Pid)
}

// waitClosed waits up to d, or until ctx is done, for ch to be closed.
func waitClosed(ctx context.Context, ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// readPoolerLog returns PgBouncer's log so far.
func (t *LocalTarget) readPoolerLog() string {
	b, _ := os.ReadFile(filepath.Join(t.dir, localPoolerLog))
	return string(b)
}

// lastLines returns the last n non-empty lines of s, joined with " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, " | ")
}
