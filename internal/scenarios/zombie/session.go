package zombie

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// session is a web request's connection after the startup: the raw socket and the protocol over
// it, so that the web tier can drop it as a killed request does. pgx is not used past the
// startup because, when a connection breaks mid-query, it sends a CancelRequest before closing
// it; a killed process, or a web server that abandons the request, sends nothing, and that is
// the case the article describes.
type session struct {
	conn net.Conn
	fe   *pgproto3.Frontend
	pid  uint32

	dropOnce sync.Once
}

// openSession connects with cc (pgx does the startup and authentication) and takes the socket.
func openSession(ctx context.Context, cc *pgx.ConnConfig) (*session, error) {
	c, err := loadgen.Connect(ctx, cc, connectTimeout)
	if err != nil {
		return nil, err
	}
	if err := c.PgConn().SyncConn(ctx); err != nil {
		_ = c.Close(context.Background())
		return nil, fmt.Errorf("sync the new connection: %w", err)
	}
	h, err := c.PgConn().Hijack()
	if err != nil {
		_ = c.Close(context.Background())
		return nil, fmt.Errorf("take the new connection: %w", err)
	}
	return &session{conn: h.Conn, fe: h.Frontend, pid: h.PID}, nil
}

// query runs sql with the simple protocol and reads every reply up to ReadyForQuery. It returns
// the server's error (a *pgconn.PgError with its SQLSTATE), or the socket's when the connection
// broke; a session dropped mid-query returns the socket's error at once. ctx ending drops the
// session.
func (s *session) query(ctx context.Context, sql string) error {
	stop := context.AfterFunc(ctx, s.drop)
	defer stop()
	s.fe.Send(&pgproto3.Query{String: sql})
	if err := s.fe.Flush(); err != nil {
		return fmt.Errorf("send the query: %w", err)
	}
	var serverErr error
	for {
		msg, err := s.fe.Receive()
		if err != nil {
			if serverErr != nil { // a FATAL error, then the server closed the connection
				return serverErr
			}
			return fmt.Errorf("read the reply: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			serverErr = pgconn.ErrorResponseToPgError(m)
		case *pgproto3.ReadyForQuery:
			return serverErr
		}
	}
}

// close ends the session as a finished request does: Terminate, then the socket.
func (s *session) close() {
	s.dropOnce.Do(func() {
		s.fe.Send(&pgproto3.Terminate{})
		_ = s.fe.Flush()
		_ = s.conn.Close()
	})
}

// drop closes the socket only, as a killed request does: no Terminate, no CancelRequest.
func (s *session) drop() {
	s.dropOnce.Do(func() { _ = s.conn.Close() })
}
