package mux

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// lookupRequest is a reusable Bind, Execute, Sync of the prepared lookup, the parameter and the
// result in binary: set the key with setKey, then write bytes. With parse, a Parse of the
// statement as the unnamed statement goes first, and the Bind is of that: the lookup on a
// connection of its own (Config.PerOp) prepares it there in the same round trip, and a pooler's
// server connection never meets a name prepared by another client.
type lookupRequest struct {
	bytes []byte
	keyAt int // offset of the 4-byte parameter value
}

func newLookupRequest(parse string) (*lookupRequest, error) {
	var buf []byte
	name := StatementName
	if parse != "" {
		var err error
		if buf, err = (&pgproto3.Parse{Query: parse}).Encode(nil); err != nil {
			return nil, fmt.Errorf("mux: encode Parse: %w", err)
		}
		name = "" // the unnamed statement just parsed
	}
	key := []byte{0, 0, 0, 0}
	bind := &pgproto3.Bind{
		PreparedStatement:    name,
		ParameterFormatCodes: []int16{1},
		Parameters:           [][]byte{key},
		ResultFormatCodes:    []int16{1},
	}
	buf, err := bind.Encode(buf)
	if err != nil {
		return nil, fmt.Errorf("mux: encode Bind: %w", err)
	}
	// Bind ends with the value, then the result format codes (a count and one code, int16 each).
	keyAt := len(buf) - 4 - 4
	if buf, err = (&pgproto3.Execute{}).Encode(buf); err != nil {
		return nil, fmt.Errorf("mux: encode Execute: %w", err)
	}
	if buf, err = (&pgproto3.Sync{}).Encode(buf); err != nil {
		return nil, fmt.Errorf("mux: encode Sync: %w", err)
	}
	return &lookupRequest{bytes: buf, keyAt: keyAt}, nil
}

func (r *lookupRequest) setKey(key int32) {
	binary.BigEndian.PutUint32(r.bytes[r.keyAt:], uint32(key))
}

// queryRequest is the lookup as a simple-protocol Query, the key written in as text where the
// statement has $1 (what pgx's simple protocol and pgbench -M simple send).
type queryRequest struct {
	before, after string
}

func newQueryRequest(sql string) (*queryRequest, error) {
	before, after, err := splitKey(sql)
	if err != nil {
		return nil, err
	}
	return &queryRequest{before: before, after: after}, nil
}

// splitKey splits sql around its one $1.
func splitKey(sql string) (before, after string, err error) {
	before, after, found := strings.Cut(sql, "$1")
	if !found || (len(after) > 0 && after[0] >= '0' && after[0] <= '9') || strings.Contains(after, "$1") {
		return "", "", fmt.Errorf("mux: %q: a lookup's statement takes its key as $1, once", sql)
	}
	return before, after, nil
}

// append appends the Query for key to buf.
func (r *queryRequest) append(buf []byte, key int32) []byte {
	start := len(buf)
	buf = append(buf, 'Q', 0, 0, 0, 0)
	buf = append(buf, r.before...)
	buf = strconv.AppendInt(buf, int64(key), 10)
	buf = append(buf, r.after...)
	buf = append(buf, 0)
	binary.BigEndian.PutUint32(buf[start+1:], uint32(len(buf)-start-1))
	return buf
}

// Backend message types the engine acts on; it skips the others (BindComplete,
// CommandComplete, NoticeResponse, ParameterStatus …).
const (
	msgDataRow       = 'D'
	msgError         = 'E'
	msgReadyForQuery = 'Z'
)

// headerLen is a backend message's type byte and length.
const headerLen = 5

// nextMessage returns the first complete message in b (type and body) and its length, or 0 when
// b holds less than one message; need is then the length of the whole message when known (to
// grow the buffer), or 0.
func nextMessage(b []byte) (typ byte, body []byte, n, need int, err error) {
	if len(b) < headerLen {
		return 0, nil, 0, 0, nil
	}
	l := int(binary.BigEndian.Uint32(b[1:]))
	if l < 4 {
		return 0, nil, 0, 0, fmt.Errorf("mux: message %q with length %d", b[0], l)
	}
	if len(b) < 1+l {
		return 0, nil, 0, 1 + l, nil
	}
	return b[0], b[headerLen : 1+l], 1 + l, 0, nil
}
