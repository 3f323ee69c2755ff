package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSizeCommand(t *testing.T) {
	t.Parallel()
	workload := filepath.Join("..", "..", "examples", "workload.yaml")
	selfhosted := filepath.Join("..", "..", "examples", "catalog-selfhosted.yaml")
	out := t.TempDir()

	code, stdout, stderr := runCLI(t, "size", "--workload", workload, "--catalog", selfhosted, "--out", out)
	if code != exitOK {
		t.Fatalf("size: exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{"gcp-cloudsql", "Connections, not CPU, decide", "self-hosted", "scale up", "budget", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "size.md"))
	if err != nil || !strings.Contains(string(md), "## Recommendation") {
		t.Errorf("size.md: %v\n%s", err, md)
	}
	page, err := os.ReadFile(filepath.Join(out, "size.html"))
	if err != nil || !strings.Contains(string(page), "<h2>Recommendation</h2>") || !strings.Contains(string(page), "data:image/png;base64,") {
		t.Errorf("size.html: %v (%d bytes)", err, len(page))
	}
	for _, f := range []string{"size-capacity.png", "size-capacity.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "size.json"))
	var r struct {
		Schema string `json:"schema"`
	}
	if err != nil || json.Unmarshal(data, &r) != nil || r.Schema != "pgscale.size/v1" {
		t.Errorf("size.json: %v, schema %q", err, r.Schema)
	}

	code, stdout, _ = runCLI(t, "size", "--workload", workload, "--json", "--provider", "aws-rds")
	if code != exitOK || json.Unmarshal([]byte(stdout), &r) != nil {
		t.Errorf("--json: exit %d, output not JSON:\n%.300s", code, stdout)
	}
}

func TestSizeBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("requests: {peak_rate: 0, hold_time: 250ms}\nproviders: [aws]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	workload := filepath.Join("..", "..", "examples", "workload.yaml")
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no workload", []string{"size"}, []string{"--workload FILE is required"}},
		{"missing file", []string{"size", "--workload", filepath.Join(dir, "nope.yaml")}, []string{"no such file"}},
		{"bad spec", []string{"size", "--workload", bad}, []string{"requests.peak_rate: 0; must be above 0", `unknown provider "aws"`}},
		{"unknown provider flag", []string{"size", "--workload", workload, "--provider", "gcp"}, []string{`unknown provider "gcp"`}},
		{"missing catalog", []string{"size", "--workload", workload, "--catalog", filepath.Join(dir, "c.yaml")}, []string{"--catalog"}},
		{"bad measure shape", []string{"size", "--workload", workload, "--measure", "--shapes", "0.5cpu-1gb,fast"},
			[]string{`--shapes "fast": not a shape; give <cpus>cpu-<memory>`}},
		{"one measure shape", []string{"size", "--workload", workload, "--measure", "--shapes", "0.5cpu-1gb"},
			[]string{"--shapes 0.5cpu-1gb: give at least two shapes with different CPU limits"}},
		{"shapes without measure", []string{"size", "--workload", workload, "--shapes", "0.5cpu-1gb,1cpu-1gb"}, []string{"--shapes is for --measure"}},
		{"columns not a columns output", []string{"size", "--workload", workload, "--columns", workload}, []string{"data.columns: ", "is not JSON"}},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %s", c.name, code, exitUsage, stderr)
		}
		if strings.HasPrefix(c.name, "bad measure") && strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s: want one line, got:\n%s", c.name, stderr)
		}
		for _, want := range c.want {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q: %s", c.name, want, stderr)
			}
		}
	}
}
