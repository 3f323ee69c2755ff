package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// Named client-side error classes, for errors that carry no SQLSTATE.
const (
	ClassConnectRefused  = "connect_refused"
	ClassConnectTimeout  = "connect_timeout"
	ClassConnectFailed   = "connect_failed"
	ClassConnectionReset = "connection_reset"
	// ClassConnClosed is an operation on a connection already closed: by an earlier fatal error
	// (57P01 after pg_terminate_backend) or a broken socket.
	ClassConnClosed  = "conn_closed"
	ClassTimeout     = "timeout"
	ClassCanceled    = "context_canceled"
	ClassPoolTimeout = "pool_timeout"
	ClassPoolClosed  = "pool_closed"
	ClassOther       = "other"
	// ClassTooManyReserved splits SQLSTATE 53300 "remaining connection slots are reserved" from the
	// plain "too many clients already": the first means ordinary roles have run out while
	// superuser_reserved_connections are still free.
	ClassTooManyReserved = "53300_reserved"
)

// Classify names the class of err: its SQLSTATE when the server sent one (with 53300 split in
// two, see ClassTooManyReserved), the class of an error that names its own (an ErrorClass()
// string method, such as the script_error of a script's runtime error), otherwise one of the
// client classes above.
func Classify(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "53300" && strings.Contains(pgErr.Message, "reserved") {
			return ClassTooManyReserved
		}
		return pgErr.Code
	}
	var classed interface{ ErrorClass() string }
	if errors.As(err, &classed) {
		return classed.ErrorClass()
	}
	var connectErr *pgconn.ConnectError
	isConnect := errors.As(err, &connectErr)
	switch {
	case errors.Is(err, errPoolTimeout):
		return ClassPoolTimeout
	case errors.Is(err, puddle.ErrClosedPool):
		return ClassPoolClosed
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case isConnect && errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnectRefused
	case isConnect && (errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || isNetTimeout(err)):
		return ClassConnectTimeout
	case isConnect:
		return ClassConnectFailed
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed):
		return ClassConnClosed
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		return ClassConnectionReset
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), isNetTimeout(err):
		return ClassTimeout
	}
	return ClassOther
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
