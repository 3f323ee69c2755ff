package mux

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestLookupRequest decodes the pre-encoded Bind back: the key lands in its parameter.
func TestLookupRequest(t *testing.T) {
	req, err := newLookupRequest("")
	if err != nil {
		t.Fatal(err)
	}
	req.setKey(123456)
	_, body, n, _, err := nextMessage(req.bytes)
	if err != nil || n == 0 || req.bytes[0] != 'B' {
		t.Fatalf("first message %q, %d bytes, %v: want a Bind", req.bytes[0], n, err)
	}
	var bind pgproto3.Bind
	if err := bind.Decode(body); err != nil {
		t.Fatal(err)
	}
	if bind.PreparedStatement != StatementName || len(bind.Parameters) != 1 ||
		string(bind.Parameters[0]) != "\x00\x01\xe2\x40" {
		t.Fatalf("bind %+v: want statement %s with key 123456 in binary", bind, StatementName)
	}
	if rest := req.bytes[n:]; string(rest) != "E\x00\x00\x00\x09\x00\x00\x00\x00\x00S\x00\x00\x00\x04" {
		t.Fatalf("after the Bind: %q, want Execute and Sync", rest)
	}
}
