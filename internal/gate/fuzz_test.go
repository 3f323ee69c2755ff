package gate

import (
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

// FuzzParse: a gate file of any content gives a Config or a usage error, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("suite:\n  select-only:\n    set: {workers: 8}\nchecks:\n  - \"select-only: throughput_per_s may fall 5%\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.gate.yaml")
		if err == nil && cfg == nil {
			t.Fatal("Parse gave neither a config nor an error")
		}
		if err != nil && !usage.Is(err) {
			t.Fatalf("Parse: %v is not a usage error", err)
		}
	})
}

// FuzzParseCheck: a check line of any content parses or gets a one-line reason, never a panic.
func FuzzParseCheck(f *testing.F) {
	for _, s := range []string{
		"select-only variant=prepared: throughput_per_s may fall 5%",
		"queue workers=8: median(latency_ms.p99) <= 12.5",
		"ingest: metrics.wal_bytes_per_row < 300",
		"x: y may rise -1%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCheck(s, 1)
		if err == nil && c == nil {
			t.Fatal("parseCheck gave neither a check nor an error")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("parseCheck(%q): a reason of more than one line: %q", s, err)
		}
	})
}
