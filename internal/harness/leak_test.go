package harness

import (
	"strings"
	"testing"
)

// TestDSNLeaks are the leaks of issue 16 (found by hand and by fuzzing): none of these forms may
// show its password in a redacted DSN, a command-line connection string, or a parse error.
func TestDSNLeaks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ dsn, secret string }{
		{`host=127.0.0.1 user=app password=Pa\ ss@w0rd dbname=app`, "ss@w0rd"},
		{`postgres://app:Sup3rSecret@h1:5432,h2:5433/app`, "Sup3rSecret"},
		{`postgres://app:Sup3r|Secret@127.0.0.1:5432/app`, "Sup3r|Secret"},
		{`postgres://app:Sup3r Secret@127.0.0.1/app`, "Secret"},
		{`postgres://app@127.0.0.1/app?password=Sup3rSecret%zz`, "Sup3rSecret"},
		{`postgres://app:Sup3r@Secret@127.0.0.1/app`, "Secret"},
		{`host=127.0.0.1 password='Sup3rSecret dbname=app`, "Sup3rSecret"},
		{`host=x password=\ 000000 dbname=y`, "000000"},
		{`postgres://\":0000@`, "0000"},
	} {
		if got := RedactDSN(c.dsn); strings.Contains(got, c.secret) {
			t.Errorf("RedactDSN(%q) = %q", c.dsn, got)
		}
		if got := WithoutPassword(c.dsn); strings.Contains(got, c.secret) {
			t.Errorf("WithoutPassword(%q) = %q", c.dsn, got)
		}
		if _, err := ParseDSN(c.dsn); err != nil && strings.Contains(err.Error(), c.secret) {
			t.Errorf("ParseDSN(%q): %v", c.dsn, err)
		}
	}
}
