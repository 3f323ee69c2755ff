package pgwire

import "testing"

// TestParseError reads the fields loadgen.Classify and the error sample need.
func TestParseError(t *testing.T) {
	body := []byte("SERROR\x00VERROR\x00C42P01\x00Mrelation \"x\" does not exist\x00\x00")
	e := ParseError(body)
	if e.Code != "42P01" || e.Severity != "ERROR" || e.Message != `relation "x" does not exist` {
		t.Fatalf("got %+v", e)
	}
}
