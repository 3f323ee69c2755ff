package mux

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// connectParallelism bounds concurrent connects while the engine opens its connections (as
// loadgen's connection modes do: the postmaster forks one backend at a time).
const connectParallelism = 32

// conn is one hijacked connection: its socket and the reply being read.
type conn struct {
	id  int // the worker index, for the recorder's shard
	key int // its index in its thread's connections, its key in the thread's epoll set
	fd  int // -1 once closed

	in         []byte // replies read, not yet parsed: in[head:tail]
	head, tail int

	s    Session
	busy bool      // a request is in flight
	owed bool      // the reply of a request abandoned at the end is still due
	wake time.Time // when the session sleeps: when to call it again
	done bool      // the session has nothing more to send

	redialing bool // broken, waiting for the connection the redialer is opening (redial.go)

	// A connection per request (Config.PerOp, perop.go): fd is -1 between requests.
	dial     dialState // the connection's opening
	pending  []byte    // the request to send once the connection is ready
	failures int       // connects failed in a row, for the backoff

	serverErr error // an ErrorResponse that came outside any request (a FATAL before closing)
}

// openAll opens cfg.Conns connections; on error it returns those it opened, to be closed.
func openAll(ctx context.Context, cfg Config) ([]*conn, error) {
	conns := make([]*conn, cfg.Conns)
	errs := make([]error, cfg.Conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, connectParallelism)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = open(ctx, cfg, i)
		}()
	}
	wg.Wait()
	opened := conns[:0]
	for _, c := range conns {
		if c != nil {
			opened = append(opened, c)
		}
	}
	return opened, firstOf(errs)
}

// firstOf is the first error of errs, saying how many more there were: one line, not one per
// connection, when every connection meets the same refusal.
func firstOf(errs []error) error {
	var first error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	if first != nil && more > 0 {
		return fmt.Errorf("%w (and %d more connections failed)", first, more)
	}
	return first
}

// open connects through pgx, prepares the lookup (when the engine runs lookups), hijacks the connection and keeps a duplicate
// of its socket, closing pgx's: Go's netpoller then no longer watches it (it would otherwise be
// woken by every reply the engine waits for itself).
func open(ctx context.Context, cfg Config, id int) (*conn, error) {
	pc, err := loadgen.Connect(ctx, cfg.ConnConfig, cfg.ConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("mux: connect: %w", err)
	}
	pg := pc.PgConn()
	if cfg.SQL != "" && !cfg.Simple {
		pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
		if _, err := pg.Prepare(pctx, StatementName, cfg.SQL, nil); err != nil {
			_ = pc.Close(context.Background())
			return nil, fmt.Errorf("mux: prepare %q: %w", cfg.SQL, err)
		}
	}
	hc, err := pg.Hijack()
	if err != nil {
		_ = pc.Close(context.Background())
		return nil, fmt.Errorf("mux: hijack: %w", err)
	}
	sc, ok := hc.Conn.(syscall.Conn)
	if !ok {
		_ = sendTerminate(hc.Conn.Write)
		_ = hc.Conn.Close()
		return nil, fmt.Errorf("mux: the connection is a %T: the mux engine needs a plain TCP or Unix socket "+
			"(sslmode=disable, or a server without TLS)", hc.Conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		_ = hc.Conn.Close()
		return nil, fmt.Errorf("mux: socket: %w", err)
	}
	fd := -1
	ctlErr := raw.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	_ = hc.Conn.Close() // the duplicate keeps the socket open
	if ctlErr != nil || err != nil {
		return nil, fmt.Errorf("mux: duplicate the socket: %w", errors.Join(ctlErr, err))
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("mux: non-blocking socket: %w", err)
	}
	return &conn{id: id, fd: fd, in: make([]byte, 4096)}, nil
}

// terminate sends Terminate and closes the socket, once.
func (c *conn) terminate() {
	if c.fd < 0 {
		return
	}
	fd := c.fd
	_, _ = unix.Write(fd, terminateMessage)
	_ = unix.Close(fd)
	c.fd = -1
}

// terminateMessage is the protocol's Terminate.
var terminateMessage = []byte{'X', 0, 0, 0, 4}

// sendTerminate writes the Terminate message with write.
func sendTerminate(write func([]byte) (int, error)) error {
	_, err := write(terminateMessage)
	return err
}
