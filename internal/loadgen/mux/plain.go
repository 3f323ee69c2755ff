package mux

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// Plaintext tells whether connections made with cfg are plain sockets the engine can serve:
// without a TLS configuration it knows without connecting; otherwise (sslmode=prefer may or may
// not end in TLS) it opens one connection, as the engine would, and looks.
func Plaintext(ctx context.Context, cfg *pgx.ConnConfig, timeout time.Duration) (bool, error) {
	tls := cfg.TLSConfig != nil
	for _, fb := range cfg.Fallbacks {
		tls = tls || fb.TLSConfig != nil
	}
	if !tls {
		return true, nil
	}
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	pc, err := loadgen.Connect(ctx, cfg, timeout)
	if err != nil {
		return false, fmt.Errorf("mux: connect to see whether the connection is plaintext: %w", err)
	}
	defer pc.Close(context.Background())
	_, plain := pc.PgConn().Conn().(syscall.Conn)
	return plain, nil
}

// NeedsPlaintext is why a connection that uses TLS runs on goroutines, not on the engine.
const NeedsPlaintext = "the connection uses TLS: the mux engine needs a plaintext socket (sslmode=disable)"

// PlaintextOnce is Plaintext asked once per run: the first call may open a connection to see
// whether the server takes TLS; later calls give the same answer. The zero value is ready.
type PlaintextOnce struct {
	asked, plain bool
}

// Plaintext is Plaintext(ctx, cfg, timeout) the first time, its answer after.
func (p *PlaintextOnce) Plaintext(ctx context.Context, cfg *pgx.ConnConfig, timeout time.Duration) (bool, error) {
	if !p.asked {
		plain, err := Plaintext(ctx, cfg, timeout)
		if err != nil {
			return false, err
		}
		p.asked, p.plain = true, plain
	}
	return p.plain, nil
}
