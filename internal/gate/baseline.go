package gate

// The baseline: loading it, checking that it was measured as the suite is now, describing it, and
// writing it and the results.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// LoadBaseline reads the baseline directory: a result file per suite entry (<name>.json) and
// calibration.json. A missing or mismatched baseline is a usage error that says how to create
// one, unless update is set (the run will write it). It returns nil when there is none.
func LoadBaseline(cfg *Config, dir string, update bool) (*Measured, []string, error) {
	needs := cfg.HasRelative()
	howTo := fmt.Sprintf("create it with `pgscale gate --config %s --baseline %s --update-baseline` "+
		"(it runs the suite and writes the baseline when every check passes)", cfg.Path, dir)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if needs && !update {
			return nil, nil, usage.Errorf("baseline %s: no such directory, and the relative checks need one; %s", dir, howTo)
		}
		return nil, nil, nil
	case err != nil:
		return nil, nil, usage.Errorf("baseline %s: %v", dir, err)
	case !st.IsDir():
		return nil, nil, usage.Errorf("baseline %s: not a directory (a baseline is a directory of result files, one per suite entry)", dir)
	}
	m := &Measured{Results: map[string]*result.Result{}}
	var probs, notes []string
	entries := append([]*Entry{}, cfg.Suite...)
	if cfg.Calibrate {
		entries = append(entries, calibrationEntry(cfg))
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name+".json")
		res, err := report.Load(path)
		if err != nil {
			if errors.Is(err, report.ErrBadInput) && strings.Contains(err.Error(), "no such file") {
				if !needs || update {
					continue
				}
				if e.Name == CalibrationName {
					probs = append(probs, fmt.Sprintf("baseline %s: no %s.json, and calibrate: true needs one", dir, CalibrationName))
				} else if entryHasRelative(cfg, e.Name) {
					probs = append(probs, fmt.Sprintf("baseline %s: no %s.json for suite entry %s", dir, e.Name, e.Name))
				}
				continue
			}
			probs = append(probs, fmt.Sprintf("baseline %v", err))
			continue
		}
		if diffs := mismatch(e, res); len(diffs) > 0 {
			msg := fmt.Sprintf("baseline %s was measured with other settings than suite entry %s: %s", path, e.Name, strings.Join(diffs, "; "))
			if update {
				notes = append(notes, msg+" (ignored: --update-baseline replaces it)")
				continue
			}
			probs = append(probs, msg)
			continue
		}
		if e.Name == CalibrationName {
			m.Calibration = res
		} else {
			m.Results[e.Name] = res
		}
	}
	if len(probs) > 0 {
		return nil, nil, usage.Errorf("%s\n%s", strings.Join(probs, "\n"), howTo)
	}
	if err := CheckMetrics(cfg, m, "the baseline "+dir); err != nil {
		return nil, nil, err
	}
	if len(m.Results) == 0 && m.Calibration == nil {
		return nil, notes, nil
	}
	return m, notes, nil
}

func entryHasRelative(cfg *Config, name string) bool {
	for _, c := range cfg.Checks {
		if c.Relative && c.Entry == name {
			return true
		}
	}
	return cfg.Calibrate && name == CalibrationName
}

// mismatch lists how a baseline result differs from what the entry would run: the scenario,
// its parameters, its run lengths.
func mismatch(e *Entry, res *result.Result) []string {
	if res.Scenario != e.Scenario {
		return []string{fmt.Sprintf("it is a result of %s, not %s", res.Scenario, e.Scenario)}
	}
	var diffs []string
	want := normalize(e.params)
	got := normalize(res.Params)
	delete(got, "repeat")
	delete(want, "repeat")
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, inBaseline := got[k]; !inBaseline && atDefault(e, k, want[k]) {
			continue // a parameter added since the baseline, left at the value that was the behaviour
		}
		if !reflect.DeepEqual(want[k], got[k]) {
			diffs = append(diffs, fmt.Sprintf("%s=%s in the baseline, %s now", k, show(got[k]), show(want[k])))
		}
	}
	if res.Duration != e.duration.String() {
		diffs = append(diffs, fmt.Sprintf("duration %s in the baseline, %s now", res.Duration, e.duration))
	}
	if res.Warmup != e.warmup.String() {
		diffs = append(diffs, fmt.Sprintf("warm-up %s in the baseline, %s now", res.Warmup, e.warmup))
	}
	return diffs
}

// atDefault tells whether value is parameter name's default for the entry's scenario under the
// entry's own preset (quick or default): a baseline written before the parameter existed was
// measured with that behaviour. A parameter whose default changed since says what that
// behaviour was (ParamSpec.Before), and value must be that.
func atDefault(e *Entry, name string, value any) bool {
	sc, err := scenarios.Lookup(e.Scenario)
	if err != nil {
		return false
	}
	preset := scenarios.PresetDefault
	if e.Quick {
		preset = scenarios.PresetQuick
	}
	var sets map[string]string
	for _, spec := range sc.Doc().Params {
		if spec.Name == name && spec.Before != "" {
			sets = map[string]string{name: spec.Before}
		}
	}
	params, err := scenarios.ResolvePreset(sc.Doc(), sets, preset)
	if err != nil {
		return false
	}
	def, ok := normalize(params.Map())[name]
	return ok && reflect.DeepEqual(def, value)
}

// normalize makes parameters comparable whether they came from a plan or from JSON.
func normalize(m map[string]any) map[string]any {
	data, err := json.Marshal(m)
	if err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil || out == nil {
		return map[string]any{}
	}
	return out
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	if xs, ok := v.([]any); ok {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// describe says when, where and with what a set of results was measured.
func describe(m *Measured) string {
	var res *result.Result
	for _, name := range slices.Sorted(maps.Keys(m.Results)) {
		res = m.Results[name]
		break
	}
	if res == nil {
		res = m.Calibration
	}
	if res == nil {
		return ""
	}
	repeats := 0
	for _, r := range m.Results {
		for _, s := range r.Series {
			repeats = max(repeats, s.Repeat)
		}
	}
	if repeats == 0 {
		return "" // nothing measured
	}
	env := res.Environment
	s := fmt.Sprintf("%s, %s target, PostgreSQL %s, pgscale %s", res.StartedAt.UTC().Format("2006-01-02 15:04 UTC"),
		env.Target, env.ServerVersion, env.Pgscale.Version)
	if env.Host.CPUModel != "" {
		s += fmt.Sprintf(", %d cores (%s)", env.Host.Cores, env.Host.CPUModel)
	}
	return s + fmt.Sprintf(", %d repeat%s", repeats, plural(repeats))
}

// environmentNotes warns when the baseline was measured on another kind of target or another
// PostgreSQL version: figures then differ for reasons no threshold knows about.
func environmentNotes(now, base *Measured) []string {
	if now == nil || base == nil {
		return nil
	}
	var notes []string
	for _, name := range slices.Sorted(maps.Keys(now.Results)) {
		b, ok := base.Results[name]
		n := now.Results[name]
		if !ok || len(n.Series) == 0 {
			continue
		}
		if b.Environment.Target != n.Environment.Target {
			notes = append(notes, fmt.Sprintf("%s: the baseline ran on the %s target, this run on %s", name, b.Environment.Target, n.Environment.Target))
		}
		if b.Environment.ServerVersion != n.Environment.ServerVersion {
			notes = append(notes, fmt.Sprintf("%s: the baseline ran on PostgreSQL %s, this run on %s", name, b.Environment.ServerVersion, n.Environment.ServerVersion))
		}
		break // one entry tells; the suite shares its target
	}
	return notes
}

// writeResults writes each combined result as <name>.json into dir.
func writeResults(dir string, m *Measured) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	for name, res := range m.Results {
		if err := result.WriteFile(filepath.Join(dir, name+".json"), res); err != nil {
			return err
		}
	}
	if m.Calibration != nil {
		return result.WriteFile(filepath.Join(dir, CalibrationName+".json"), m.Calibration)
	}
	return nil
}

// writeBaseline makes dir the baseline of m: each result written atomically, and result files
// of entries no longer in the suite removed. Other files in dir are left alone.
func writeBaseline(dir string, m *Measured) error {
	if err := writeResults(dir, m); err != nil {
		return err
	}
	keep := map[string]bool{}
	for name := range m.Results {
		keep[name+".json"] = true
	}
	if m.Calibration != nil {
		keep[CalibrationName+".json"] = true
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("update baseline: %w", err)
	}
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") || keep[f.Name()] {
			continue
		}
		path := filepath.Join(dir, f.Name())
		if _, err := report.Load(path); err == nil {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("update baseline: %w", err)
			}
		}
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// latencies is the runner's --latency list for one added round trip (none for 0).
func latencies(d time.Duration) []time.Duration {
	if d <= 0 {
		return nil
	}
	return []time.Duration{d}
}
