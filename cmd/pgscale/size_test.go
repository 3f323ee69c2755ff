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
	for _, want := range []string{"gcp-cloudsql", "Connections, not CPU, decide", "self-hosted", "scaling", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "size.md"))
	if err != nil || !strings.Contains(string(md), "## Recommendation") {
		t.Errorf("size.md: %v\n%s", err, md)
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
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %s", c.name, code, exitUsage, stderr)
		}
		for _, want := range c.want {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q: %s", c.name, want, stderr)
			}
		}
	}
}
