package loadgen

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// dialer opens the connections of one run's connection mode with one config made once.
//
// With sslmode=prefer (libpq's default and pgx's), pgx asks for TLS and, when the server refuses,
// opens a second TCP connection without it: against a server without TLS every connect costs two
// connections, two backends forked by the postmaster, where libpq goes on over the same socket.
// The dialer keeps the first connect's answer: once the server has refused TLS, the rest of the
// run connects without asking (as libpq ends up, one round trip fewer), and the result says so
// (Outcome.TLSRefused).
type dialer struct {
	conf       atomic.Pointer[pgx.ConnConfig]
	timeout    time.Duration
	tlsRefused atomic.Bool
	// plainInARow counts connects in a row that asked for TLS and ended up without it: one could
	// be a TLS attempt that failed for another reason (a reset under a connect storm), so the run
	// stops asking only after refusalsToPin of them.
	plainInARow atomic.Int32
}

// refusalsToPin is how many connects in a row must end without TLS before the dialer stops
// asking for it.
const refusalsToPin = 3

func newDialer(cc *pgx.ConnConfig, timeout time.Duration) *dialer {
	d := &dialer{timeout: timeout}
	d.conf.Store(connConfig(cc))
	return d
}

// newShortDialer is a dialer for connections that live for one operation: they dial with
// dialTCP, which sets no keep-alive timings (a connection closed within the operation never
// waits long enough to use them) and asks the kernel nothing it already knows.
func newShortDialer(cc *pgx.ConnConfig, timeout time.Duration) *dialer {
	d := &dialer{timeout: timeout}
	conf := connConfig(cc)
	withRawDial(conf)
	d.conf.Store(conf)
	return d
}

func (d *dialer) connect(ctx context.Context) (*pgx.Conn, error) {
	conf := d.conf.Load()
	conn, err := connectWith(ctx, conf, d.timeout)
	if err != nil || conf.TLSConfig == nil || d.tlsRefused.Load() {
		return conn, err
	}
	if _, isTLS := conn.PgConn().Conn().(*tls.Conn); isTLS {
		d.plainInARow.Store(0)
		return conn, nil
	}
	if d.plainInARow.Add(1) >= refusalsToPin {
		if plain := withoutTLS(conf); plain != nil {
			d.conf.Store(plain)
			d.tlsRefused.Store(true)
		}
	}
	return conn, nil
}

// withoutTLS is conf with its TLS attempts dropped (its plain fallbacks only), or nil when conf
// has no plain fallback (sslmode=require and above: no TLS is an error there, never skipped).
func withoutTLS(conf *pgx.ConnConfig) *pgx.ConnConfig {
	plain := conf.Copy()
	plain.Fallbacks = nil
	found := false
	for _, fb := range conf.Fallbacks {
		if fb.TLSConfig != nil {
			continue
		}
		if !found {
			plain.Host, plain.Port, plain.TLSConfig = fb.Host, fb.Port, nil
			found = true
			continue
		}
		plain.Fallbacks = append(plain.Fallbacks, fb)
	}
	if !found {
		return nil
	}
	return plain
}
