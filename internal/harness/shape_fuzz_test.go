package harness

import (
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

// FuzzParseShapes: a shapes file of any content gives shapes or an error, never a panic, and
// every shape it gives has CPUs and memory above zero.
func FuzzParseShapes(f *testing.F) {
	f.Add([]byte("shapes:\n  small:\n    cpus: 1\n    memory: 1gb\n    note: one core\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		shapes, err := parseShapes(data, "fuzz.yaml")
		if err != nil {
			return
		}
		for name, s := range shapes {
			if s.CPUs <= 0 || s.MemoryBytes <= 0 {
				t.Fatalf("shape %s = %+v from %q", name, s, data)
			}
		}
	})
}

// FuzzParseShape: --shape of any content resolves or gets a usage error, never a panic.
func FuzzParseShape(f *testing.F) {
	for _, s := range []string{"1cpu-1gb", "0.5cpu-512mb", "2cpus-3.75gib", "db.t3.micro", "1e308cpu-1e308gb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		shape, err := ParseShape(s)
		if err != nil {
			if !usage.Is(err) {
				t.Fatalf("ParseShape(%q): %v is not a usage error", s, err)
			}
			return
		}
		if shape.CPUs <= 0 || shape.MemoryBytes <= 0 {
			t.Fatalf("ParseShape(%q) = %+v", s, shape)
		}
	})
}
