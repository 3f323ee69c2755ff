package loadgen

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connector opens connections for a workload that opens its own (ConnNone), the way the
// connection modes do: one config made once, TLS asked for only until the server has refused it
// (see dialer), and, for connections that live about one operation, the socket dialed with
// libpq's system calls (dialTCP).
type Connector struct {
	d *dialer
}

// NewConnector is a Connector to cc. shortLived says the connections live about one operation (a
// cold function's): they then dial as ConnPerOp's do.
func NewConnector(cc *pgx.ConnConfig, timeout time.Duration, shortLived bool) *Connector {
	if shortLived {
		return &Connector{d: newShortDialer(cc, timeout)}
	}
	return &Connector{d: newDialer(cc, timeout)}
}

// Connect opens one connection.
func (c *Connector) Connect(ctx context.Context) (*pgx.Conn, error) { return c.d.connect(ctx) }

// TLSRefused says the server refused TLS and the connector stopped asking for it.
func (c *Connector) TLSRefused() bool { return c.d.tlsRefused.Load() }
