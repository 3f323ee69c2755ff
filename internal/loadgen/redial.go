package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/result"
)

// DefaultGiveUp is how long a Redialer goes on reconnecting before it reports the connection
// lost: longer than a server restart or a failover takes on the targets we measured (a local
// restart answers in ~1 s), short enough that a run whose server has gone fails within a minute.
const DefaultGiveUp = 30 * time.Second

// RedialOptions tune a Redialer. The zero value uses the defaults.
type RedialOptions struct {
	ConnectTimeout time.Duration // each attempt; 0 means 10 s
	GiveUp         time.Duration // reconnecting for longer fails; 0 means DefaultGiveUp
	Backoff        Backoff       // the zero value means DefaultBackoff
	// Setup, when set, runs on every new connection (SET statement_timeout = 0, for example).
	Setup func(ctx context.Context, conn *pgx.Conn) error
}

// LostError says that a Redialer could not get its connection back.
type LostError struct {
	Name     string
	For      time.Duration
	Attempts int
	Err      error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%s: lost its connection and could not reconnect in %s (%d attempts): %v",
		e.Name, e.For.Round(time.Millisecond), e.Attempts, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Redialer holds a connection that pgscale keeps for its own purposes, not as load: a flusher's,
// a feeder's, a control or a sampler session. When the connection is lost (the server terminated
// the backend, restarted, or the network dropped), the next Conn opens a new one with a capped
// exponential backoff, and fails with a *LostError after GiveUp without one. Every error it is
// told of is counted by class (Classify), so lost connections show as 57P01 admin_shutdown or
// conn_closed rather than disappear.
//
// A Redialer serves one goroutine at a time; its counts may be read from any.
type Redialer struct {
	name string
	cc   *pgx.ConnConfig
	opts RedialOptions
	conn *pgx.Conn

	mu         sync.Mutex
	errs       map[string]int64
	samples    map[string]string
	reconnects int64
}

// Redial opens the first connection at once (a failure there is returned, not retried) and
// returns the Redialer that keeps it. name starts its errors ("queue feeder").
func Redial(ctx context.Context, name string, cc *pgx.ConnConfig, opts RedialOptions) (*Redialer, error) {
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.GiveUp == 0 {
		opts.GiveUp = DefaultGiveUp
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff
	}
	r := &Redialer{name: name, cc: cc, opts: opts, errs: map[string]int64{}, samples: map[string]string{}}
	conn, err := r.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.conn = conn
	return r, nil
}

func (r *Redialer) open(ctx context.Context) (*pgx.Conn, error) {
	conn, err := Connect(ctx, r.cc, r.opts.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	if r.opts.Setup != nil {
		if err := r.opts.Setup(ctx, conn); err != nil {
			closeQuietly(conn)
			return nil, err
		}
	}
	return conn, nil
}

// Conn returns a live connection: the one held, or a new one when it was closed.
func (r *Redialer) Conn(ctx context.Context) (*pgx.Conn, error) {
	if r.conn != nil && !r.conn.IsClosed() {
		return r.conn, nil
	}
	if r.conn != nil {
		closeQuietly(r.conn)
		r.conn = nil
	}
	began := time.Now()
	for attempt := 0; ; attempt++ {
		conn, err := r.open(ctx)
		if err == nil {
			r.conn = conn
			r.mu.Lock()
			r.reconnects++
			r.mu.Unlock()
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: reconnect: %w", r.name, ctx.Err())
		}
		r.Count(err)
		if time.Since(began) >= r.opts.GiveUp {
			return nil, &LostError{Name: r.name, For: time.Since(began), Attempts: attempt + 1, Err: err}
		}
		if err := sleep(ctx, r.opts.Backoff.Delay(attempt)); err != nil {
			return nil, fmt.Errorf("%s: reconnect: %w", r.name, err)
		}
	}
}

// Live is Conn after a round trip: a connection whose backend was terminated while it sat idle
// does not know it until it is used, so a control connection that waited through a run is
// checked (and reopened when lost) before its next statements.
func (r *Redialer) Live(ctx context.Context) (*pgx.Conn, error) {
	conn, err := r.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		r.Count(err)
		if !conn.IsClosed() {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		return r.Conn(ctx)
	}
	return conn, nil
}

// Do runs fn on a live connection and counts its error. When fn failed because the connection
// was lost (it is closed afterwards), fn runs once more on a new one: use Do for statements that
// are safe to repeat. A *LostError from reconnecting is returned as it is.
func (r *Redialer) Do(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	for try := 0; ; try++ {
		conn, err := r.Conn(ctx)
		if err != nil {
			return err
		}
		err = fn(conn)
		if err == nil {
			return nil
		}
		// An error of a call that ran out of time is the caller's doing, not the server's, unless
		// the server said it: a session it terminated is counted however late the answer came.
		if ctx.Err() == nil || serverSaid(err) {
			r.Count(err)
		}
		if try > 0 || !conn.IsClosed() || ctx.Err() != nil {
			return err
		}
	}
}

// serverSaid reports whether err is the server's own answer, other than the cancel of a query
// that ran out of time (57014).
func serverSaid(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code != "57014"
}

// Count notes err (nil is ignored) under its class.
func (r *Redialer) Count(err error) {
	if err == nil {
		return
	}
	class := Classify(err)
	r.mu.Lock()
	r.errs[class]++
	if _, ok := r.samples[class]; !ok {
		r.samples[class] = fmt.Sprintf("%s: %v", r.name, err)
	}
	r.mu.Unlock()
}

// Errors are the errors counted, by class, and a message of each class.
func (r *Redialer) Errors() (counts map[string]int64, samples map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.errs), maps.Clone(r.samples)
}

// Reconnects counts the connections opened after the first.
func (r *Redialer) Reconnects() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnects
}

// AddMetrics puts the Redialer's figures into a series' metrics: <prefix>_reconnects, and
// <prefix>_errors_<class> for each class of error it counted, in lower case as metric names are
// (control_errors_57p01).
func (r *Redialer) AddMetrics(m map[string]float64, prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m[result.MetricReconnects(prefix)] = float64(r.reconnects)
	for class, n := range r.errs {
		m[result.MetricErrors(prefix, class)] = float64(n)
	}
}

// Close closes the connection held. It is safe to call more than once.
func (r *Redialer) Close() {
	if r.conn != nil {
		closeQuietly(r.conn)
		r.conn = nil
	}
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// IsLost reports whether err is a connection a Redialer could not get back.
func IsLost(err error) bool {
	var lost *LostError
	return errors.As(err, &lost)
}
