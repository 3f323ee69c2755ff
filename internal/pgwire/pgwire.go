// Package pgwire reads what engines that drive PostgreSQL's wire protocol themselves (loadgen/mux
// and the scripts it runs) need from backend messages.
package pgwire

import (
	"bytes"

	"github.com/jackc/pgx/v5/pgconn"
)

// ParseError turns an ErrorResponse body into a *pgconn.PgError, so that loadgen.Classify counts
// it by SQLSTATE and retries see its code as they see pgconn's.
func ParseError(body []byte) *pgconn.PgError {
	e := &pgconn.PgError{}
	for len(body) > 0 && body[0] != 0 {
		field := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		value := string(body[1 : 1+end])
		body = body[2+end:]
		switch field {
		case 'S':
			e.Severity = value
		case 'V':
			e.SeverityUnlocalized = value
		case 'C':
			e.Code = value
		case 'M':
			e.Message = value
		case 'D':
			e.Detail = value
		case 'H':
			e.Hint = value
		}
	}
	return e
}
