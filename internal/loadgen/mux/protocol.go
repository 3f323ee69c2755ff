package mux

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// lookupRequest is a reusable Bind, Execute, Sync of the prepared lookup, the parameter and the
// result in binary: set the key with setKey, then write bytes.
type lookupRequest struct {
	bytes []byte
	keyAt int // offset of the 4-byte parameter value
}

func newLookupRequest() (*lookupRequest, error) {
	key := []byte{0, 0, 0, 0}
	bind := &pgproto3.Bind{
		PreparedStatement:    StatementName,
		ParameterFormatCodes: []int16{1},
		Parameters:           [][]byte{key},
		ResultFormatCodes:    []int16{1},
	}
	buf, err := bind.Encode(nil)
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
