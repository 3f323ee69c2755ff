package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

// writeGate writes a gate file beside a copy of the orders example and returns its path.
func writeGate(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "examples", "workloads"), filepath.Join(dir, "bench"))
	path := filepath.Join(dir, "gate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGateEntriesRunOwnWorkloads(t *testing.T) {
	t.Parallel()
	path := writeGate(t, `
target: local
suite:
  - workload: bench/orders.yaml      # relative to this file
    quick: true
  - name: kv-get
    script:
      files: [bench/kv/get.sql@9, bench/kv/put.sql]
      builtins: [select-only@1]
      setup: [bench/kv/schema.sql]
      vars: {scale: 1, skew: 1.2}
      protocol: prepared
      connect: pool
    set: {workers: 4}
    duration: 2s
  - workload: bench/events.yaml
    quick: true
checks:
  - "orders: throughput_per_s may fall 20%"
  - "orders variant=simple workers=8: latency_ms.p99 may rise 50%"
  - "kv-get variant=prepared: errors == 0"
  - "events: errors == 0"
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Suite) != 3 || len(cfg.Checks) != 4 {
		t.Fatalf("suite %d entries, %d checks", len(cfg.Suite), len(cfg.Checks))
	}
	orders, kv, events := cfg.Suite[0], cfg.Suite[1], cfg.Suite[2]
	if orders.Name != "orders" || orders.Scenario != "script" || orders.own == nil || orders.duration.Seconds() != 4 || orders.warmup.Seconds() != 1 {
		t.Errorf("orders entry: %+v", orders)
	}
	if orders.params["workload"] != "orders" || orders.params["max_tries"] != 3 || len(orders.points) != 1 || orders.points[0].Workers != 8 {
		t.Errorf("orders params %v, points %+v", orders.params, orders.points)
	}
	if got := orders.own.opts.Files; len(got) != 3 || !strings.HasPrefix(got[0], filepath.Join(filepath.Dir(path), "bench", "orders")) {
		t.Errorf("orders files %v: want them beside the workload file", got)
	}
	if kv.Scenario != "script" || kv.own.opts.Connect != "pool" || kv.own.opts.Scale != 1 || kv.points[0].Workers != 4 || kv.points[0].Variant != "prepared" {
		t.Errorf("kv entry: %+v, own %+v", kv, kv.own)
	}
	if events.own.pacer == nil || events.params["stages"] == nil || events.duration+events.warmup != 5e9 {
		t.Errorf("events entry: the stages are its load shape: %+v, params %v", events, events.params)
	}
}

func TestGateOwnWorkloadBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct{ suite, want string }{
		{"  - workload: bench/none.yaml\n", "workload: workload "},
		{"  - workload: bench/orders.yaml\n    scenario: select-only\n", "give one of scenario:, workload: (a workload file) or script:"},
		{"  - script: {files: [bench/orders/nope.sql]}\n", "nope.sql"},
		{"  - script: {flies: [a.sql]}\n", `script: unknown key "flies" (did you mean "files"?)`},
		{"  - script: {builtins: [select-only]}\n    quick: true\n", ""},
	}
	for _, c := range cases {
		path := writeGate(t, "target: local\nsuite:\n"+c.suite+"checks:\n  - \"x: errors == 0\"\n")
		_, err := Load(path)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), `no suite entry "x"`) {
				t.Errorf("%q: %v, want only the check's unknown entry", c.suite, err)
			}
			continue
		}
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant a usage error with %q", c.suite, err, c.want)
		}
	}
}
