package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrServerGone marks the error that says a target's server went away during a run: its process
// exited (local), its container stopped (docker), or it stopped answering (dsn).
var ErrServerGone = errors.New("the server went away")

// serverGoneError is ErrServerGone with what was seen.
type serverGoneError struct{ detail string }

func (e *serverGoneError) Error() string        { return ErrServerGone.Error() + ": " + e.detail }
func (e *serverGoneError) Is(target error) bool { return target == ErrServerGone }

func serverGone(format string, args ...any) error {
	return &serverGoneError{detail: fmt.Sprintf(format, args...)}
}

// processTarget is a target that knows its server's process (or container): serverExited says
// why it is gone, with the end of its log, or nil while it runs.
type processTarget interface {
	serverExited(ctx context.Context) error
}

// wrapper is a target that wraps another (a latency proxy in front).
type wrapper interface {
	unwrapTarget() Target
}

// ServerWatch tells whether a target's server is still there. A local or docker target is asked
// about its process or container; any other is pinged over a connection of its own, and counts as
// gone only when a new connection fails too, for a reason that is not the server's answer (a full
// server refusing with 53300 is still there).
type ServerWatch struct {
	target Target
	mu     sync.Mutex
	conn   *pgx.Conn
}

// NewServerWatch watches target; Close releases its connection.
func NewServerWatch(target Target) *ServerWatch {
	for {
		w, ok := target.(wrapper)
		if !ok {
			break
		}
		target = w.unwrapTarget()
	}
	return &ServerWatch{target: target}
}

// Check returns an error matching ErrServerGone when the server is gone, else nil.
func (w *ServerWatch) Check(ctx context.Context) error {
	if p, ok := w.target.(processTarget); ok {
		return p.serverExited(ctx)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if w.conn != nil {
		if _, err := w.conn.Exec(ctx, "SELECT 1"); err == nil {
			return nil
		}
		w.conn.Close(context.Background())
		w.conn = nil
	}
	if ctx.Err() != nil {
		return nil // our own deadline or the run's end, not the server's
	}
	cfg, err := pgx.ParseConfig(w.target.AdminDSN())
	if err != nil {
		return nil
	}
	cfg.RuntimeParams["application_name"] = "pgscale watch"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		w.conn = conn
		return nil
	}
	if serverAnswered(err) || ctx.Err() != nil {
		return nil
	}
	return serverGone("%s", RedactDSN(err.Error()))
}

// serverAnswered tells whether a failed connect still heard the server: any SQLSTATE except the
// ones of a server shutting down, crashed or starting up.
func serverAnswered(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return false
	}
	return true
}

// Close releases the watch's connection.
func (w *ServerWatch) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		w.conn.Close(context.Background())
		w.conn = nil
	}
}

// Watch checks every interval until ctx ends, and calls gone once, with the error, when the
// server is gone: a dsn server after two failed checks in a row, so that one lost packet is not
// taken for a dead server.
func (w *ServerWatch) Watch(ctx context.Context, interval time.Duration, gone func(error)) {
	_, local := w.target.(processTarget)
	failures := 0
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := w.Check(ctx)
		if err == nil {
			failures = 0
			continue
		}
		if failures++; local || failures >= 2 {
			gone(err)
			return
		}
	}
}

// serverExited says why the local server is gone, with the end of its log, or nil while it runs.
func (t *LocalTarget) serverExited(context.Context) error {
	if !t.hasExited() {
		return nil
	}
	return serverGone("postgres exited (%s); the end of its log:\n%s", t.cmd.ProcessState, localLastLines(t.readLog(), 8))
}

// serverExited says why the docker server is gone (its container stopped or was removed), with the
// end of its log, or nil while it runs or when the engine cannot say.
func (t *DockerTarget) serverExited(ctx context.Context) error {
	if t.pg == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, err := t.pg.State(ctx)
	switch {
	case err != nil && cerrdefs.IsNotFound(err):
		return serverGone("the postgres container was removed")
	case err != nil || state.Running:
		return nil
	}
	why := fmt.Sprintf("%s, exit code %d", state.Status, state.ExitCode)
	if state.OOMKilled {
		why += ", out of memory (OOMKilled)"
	}
	return serverGone("the postgres container stopped (%s); its log ends:\n%s", why, localLastLines(dockerLogs(ctx, t.pg), 8))
}

// unwrapTarget is the target behind the latency proxy.
func (t *latencyTarget) unwrapTarget() Target { return t.Target }
