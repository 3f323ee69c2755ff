package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/gate"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/workload"
)

// TestCIExamplesRunValidGateCommands keeps the copyable CI setups true: each is well-formed YAML,
// and every `pgscale gate` command in it parses with the gate's real flags, passes their checks,
// and names a gate file that loads.
func TestCIExamplesRunValidGateCommands(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"github-actions.yml", "gitlab-ci.yml", "github-actions-own-workload.yml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(text, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			vars := map[string]string{}
			var scripts []string
			walkYAML(doc, func(key string, value string) {
				if strings.HasPrefix(key, "PGSCALE_") {
					vars[key] = value
				}
				scripts = append(scripts, value)
			})
			var commands, runs [][]string
			for _, script := range scripts {
				for _, line := range strings.Split(script, "\n") {
					line = strings.TrimSpace(line)
					expand := func() []string { return shellWords(os.Expand(line, func(v string) string { return vars[v] })) }
					if strings.HasPrefix(line, "pgscale gate --") { // not the workflow's name
						commands = append(commands, expand())
					}
					if strings.HasPrefix(line, "pgscale run ") {
						runs = append(runs, expand())
					}
				}
			}
			for _, args := range runs {
				checkRunCommand(t, args)
			}
			if len(commands) == 0 {
				t.Fatal("no pgscale gate command")
			}
			if !strings.HasPrefix(vars["PGSCALE_DSN"], "postgres://") {
				t.Errorf("PGSCALE_DSN %q: want a postgres:// URL", vars["PGSCALE_DSN"])
			}
			for _, args := range commands {
				cmd := newGateCmd(io.Discard, io.Discard, harness.NewTracker())
				if err := cmd.ParseFlags(args[2:]); err != nil {
					t.Errorf("%s: %v", strings.Join(args, " "), err)
					continue
				}
				config, _ := cmd.Flags().GetString("config")
				if _, err := gate.Load(filepath.Join("..", "..", config)); err != nil {
					t.Errorf("%s: the gate file does not load: %v", strings.Join(args, " "), err)
				}
				target, _ := cmd.Flags().GetString("target")
				dsn, _ := cmd.Flags().GetString("dsn")
				if target != harness.KindDSN {
					t.Errorf("%s: --target %q, want dsn (the CI service container)", strings.Join(args, " "), target)
				}
				if _, err := harness.ParseDSN(dsn); err != nil {
					t.Errorf("%s: --dsn: %v", strings.Join(args, " "), err)
				}
			}
		})
	}
}

// checkRunCommand checks a `pgscale run WORKLOAD.yaml` line of a CI example: its flags parse
// and pass their checks, the workload file loads, and the target is the service container.
func checkRunCommand(t *testing.T, args []string) {
	t.Helper()
	line := strings.Join(args, " ")
	cmd := newRunCmd(io.Discard, io.Discard, harness.NewTracker())
	if err := cmd.ParseFlags(args[2:]); err != nil {
		t.Errorf("%s: %v", line, err)
		return
	}
	rest := cmd.Flags().Args()
	if len(rest) != 1 || !workload.IsWorkloadPath(rest[0]) {
		t.Errorf("%s: want one workload file, got %q", line, rest)
		return
	}
	if _, err := workload.Load(filepath.Join("..", "..", rest[0])); err != nil {
		t.Errorf("%s: the workload file does not load: %v", line, err)
	}
	if target, _ := cmd.Flags().GetString("target"); target != harness.KindDSN {
		t.Errorf("%s: --target %q, want dsn (the CI service container)", line, target)
	}
	if dsn, _ := cmd.Flags().GetString("dsn"); dsn == "" {
		t.Errorf("%s: no --dsn", line)
	} else if _, err := harness.ParseDSN(dsn); err != nil {
		t.Errorf("%s: --dsn: %v", line, err)
	}
}

// walkYAML calls f with every string value in v and the key it sits under.
func walkYAML(v any, f func(key, value string)) {
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case string:
			f(key, v)
		}
	}
	walk("", v)
}

// shellWords splits a command line on blanks, dropping the double quotes around words.
func shellWords(line string) []string {
	var words []string
	for _, w := range strings.Fields(line) {
		words = append(words, strings.Trim(w, `"`))
	}
	return words
}
