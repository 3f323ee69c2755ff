package gate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	// The scenarios register themselves; a gate file names them.
	_ "github.com/pgscale/pgscale/internal/scenarios/all"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCheck compares got with testdata/name, or rewrites it with -update.
func goldenCheck(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// mustParse parses a gate file that must be good.
func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(strings.TrimLeft(text, "\n")), "gate.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}
