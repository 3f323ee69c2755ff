package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

func TestParseShape(t *testing.T) {
	cases := []struct {
		in    string
		cpus  float64
		memMB int64
	}{
		{"1cpu-1gb", 1, 1024},
		{"2cpu-4gb", 2, 4096},
		{"0.5cpu-512mb", 0.5, 512},
		{"2cpus-3.75gb", 2, 3840},
		{"1CPU-1GB", 1, 1024},
		{"1cpu-2g", 1, 2048},
		{"aws-db.t4g.micro", 2, 1024},
		{"gcp-db-custom-1-3840", 1, 3840},
	}
	for _, c := range cases {
		s, err := ParseShape(c.in)
		if err != nil {
			t.Errorf("ParseShape(%q): %v", c.in, err)
			continue
		}
		if s.CPUs != c.cpus || s.MemoryMB() != c.memMB {
			t.Errorf("ParseShape(%q) = %g CPUs, %d MiB; want %g, %d", c.in, s.CPUs, s.MemoryMB(), c.cpus, c.memMB)
		}
		if s.NanoCPUs() != int64(c.cpus*1e9) {
			t.Errorf("ParseShape(%q).NanoCPUs() = %d", c.in, s.NanoCPUs())
		}
	}
}

func TestParseShapeRejects(t *testing.T) {
	cases := []struct{ in, want string }{
		// An unknown name lists the valid ones.
		{"large", `--shape "large": not a shape; give <cpus>cpu-<memory> (1cpu-1gb, 2cpu-4gb, 0.5cpu-512mb) or one of aws-db.m6g.large, `},
		{"1cpu-1tb", `not a shape`},
		{"1cpu-16mb", `--shape 1cpu-16mb: 16 MiB of memory is too little for PostgreSQL (at least 64 MiB)`},
		{"0.001cpu-1gb", `below Docker's minimum`},
		{"", `not a shape`},
	}
	for _, c := range cases {
		_, err := ParseShape(c.in)
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseShape(%q) = %v; want a usage error containing %q", c.in, err, c.want)
		}
	}
	_, err := ParseShape("large")
	for _, name := range []string{"azure-b1ms", "aws-db.t4g.micro", "gcp-db-custom-2-7680"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not list %s: %v", name, err)
		}
	}
}

func TestBuiltinShapesParse(t *testing.T) {
	shapes, err := LoadShapes()
	if err != nil {
		t.Fatal(err)
	}
	if len(shapes) < 5 {
		t.Fatalf("%d named shapes in docker/shapes.yaml, want the instance classes", len(shapes))
	}
	for name, s := range shapes {
		if s.Note == "" || s.Source != "docker/shapes.yaml" {
			t.Errorf("shape %s: note %q, source %q", name, s.Note, s.Source)
		}
	}
}

func TestShapesFileFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shapes.yaml")
	if err := os.WriteFile(path, []byte("shapes:\n  tiny-box:\n    cpus: 0.5\n    memory: 256mb\n    note: a test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvShapes, path)
	s, err := ParseShape("tiny-box")
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUs != 0.5 || s.MemoryMB() != 256 || s.Source != path {
		t.Errorf("tiny-box = %+v", s)
	}
	if err := os.WriteFile(path, []byte("shapes:\n  Bad Name:\n    cpus: 1\n    memory: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseShape("1cpu-1gb"); err == nil || !usage.Is(err) || !strings.Contains(err.Error(), "Bad Name") {
		t.Errorf("a broken shapes file: %v; want a usage error naming the entry", err)
	}
}

func TestCgroupLimitsCheck(t *testing.T) {
	shape, err := ParseShape("1cpu-1gb")
	if err != nil {
		t.Fatal(err)
	}
	ok := CgroupLimits{Version: 1, QuotaUs: 100000, PeriodUs: 100000, MemoryBytes: 1 << 30}
	if err := ok.Check(shape); err != nil {
		t.Errorf("matching limits: %v", err)
	}
	for _, bad := range []CgroupLimits{
		{Version: 1, QuotaUs: -1, PeriodUs: 100000, MemoryBytes: 1 << 30},     // no CPU limit
		{Version: 2, QuotaUs: 200000, PeriodUs: 100000, MemoryBytes: 1 << 30}, // 2 CPUs
		{Version: 2, QuotaUs: 100000, PeriodUs: 100000, MemoryBytes: -1},      // no memory limit
		{Version: 1, QuotaUs: 100000, PeriodUs: 100000, MemoryBytes: 2 << 30},
	} {
		if err := bad.Check(shape); err == nil {
			t.Errorf("%s passed as 1cpu-1gb", bad)
		}
	}
}
