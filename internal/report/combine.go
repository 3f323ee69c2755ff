package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/montanaflynn/stats"
)

// ErrBadInput marks errors caused by what the user pointed a command at (a directory with no
// result, an unknown schema, results of different scenarios), as opposed to failures while
// rendering. Commands report them as usage errors.
var ErrBadInput = errors.New("bad input")

type badInput struct{ msg string }

func (e *badInput) Error() string        { return e.msg }
func (e *badInput) Is(target error) bool { return target == ErrBadInput }

func badInputf(format string, args ...any) error {
	return &badInput{msg: fmt.Sprintf(format, args...)}
}

// Load reads a result from a run directory or a result file, with an error that says what is
// wrong with the input: a directory without result.json, a file that is not a result, or a
// result of a schema this pgscale does not read. Such errors match ErrBadInput.
func Load(path string) (*Result, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInputf("%s: no such file or directory", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file := path
	if st.IsDir() {
		file = filepath.Join(path, "result.json")
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			return nil, badInputf("%s: no result.json in this directory (give a pgscale run directory or a result file)", path)
		}
	}
	r, err := ReadFile(file)
	if err != nil {
		var probe struct {
			Schema *string `json:"schema"`
		}
		data, rerr := os.ReadFile(file)
		if rerr != nil {
			return nil, fmt.Errorf("%s: %w", file, rerr)
		}
		if jerr := json.Unmarshal(data, &probe); jerr != nil || probe.Schema == nil {
			return nil, badInputf("%s: not a pgscale result (want a JSON document with \"schema\": %q)", file, SchemaVersion)
		}
		if !slices.Contains(ReadableSchemas, *probe.Schema) {
			return nil, badInputf("%s: unknown result schema %q: this pgscale reads %s", file, *probe.Schema, strings.Join(ReadableSchemas, " and "))
		}
		return nil, badInputf("%s: %v", file, err)
	}
	return r, nil
}

// LoadAll loads every path (run directories or result files).
func LoadAll(paths []string) ([]*Result, error) {
	if len(paths) == 0 {
		return nil, badInputf("no results given: name one or more run directories or result files")
	}
	var out []*Result
	var errs []error
	for _, p := range paths {
		r, err := Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Run is one scenario's results gathered for a report: one result file, or several (repeats of
// the same run, or shards), with their series grouped by variant and point.
type Run struct {
	Scenario string
	Results  []*Result
	// Groups are the series grouped by variant and point, in the order they were first seen.
	Groups []*Group
	// Dims are the point's parameters over all groups, by name.
	Dims []Dim
	// Headline is the figure the run is judged by: the first result's that declares one, else
	// ops/s.
	Headline Headline
}

// LatencySLO is slo (ms of p99; 0 for none) as it applies to run: none where the run's operations
// are not requests (Headline.NoLatencySLO).
func (run *Run) LatencySLO(slo float64) float64 {
	if run.Headline.NoLatencySLO {
		return 0
	}
	return slo
}

// Dim is one parameter of the points in a run and the values it takes.
type Dim struct {
	Name    string
	Values  []any // sorted: numerically when every value is a number, else in the order seen
	Numeric bool
}

// Group is one variant at one point over its repeats (across every result of the run).
type Group struct {
	Variant string
	Point   map[string]any
	Repeats []*Series
	// Figures combined over the repeats: Ops and Errors are sums; Throughput is the median of the
	// repeats'; Latency comes from the merged HDR histograms when every repeat carries one
	// (exact), otherwise it is the median of the repeats' percentiles.
	Ops        int64
	Throughput float64
	Latency    Percentiles
	Errors     map[string]int64
	// Headline is the median of the repeats' values of the run's headline; HasHeadline is false
	// when no repeat has one (a series cut short before the scenario computed its metrics).
	Headline    float64
	HasHeadline bool
	// Histogram is the merged latency histogram, nil when a repeat had none.
	Histogram *hdrhistogram.Histogram
}

// Key names the group: its variant and point.
func (g *Group) Key() string { return seriesKey(g.Variant, g.Point) }

// Label is the group's name for tables and legends: the variant and the point's values.
func (g *Group) Label() string {
	if p := PointString(g.Point); p != "" {
		return g.Variant + " " + p
	}
	return g.Variant
}

// TotalErrors sums the group's errors.
func (g *Group) TotalErrors() int64 {
	var n int64
	for _, c := range g.Errors {
		n += c
	}
	return n
}

// ErrorRate is errors per second over the measured time of all repeats.
func (g *Group) ErrorRate() float64 {
	var secs float64
	for _, s := range g.Repeats {
		secs += s.DurationS
	}
	if secs <= 0 {
		return 0
	}
	return float64(g.TotalErrors()) / secs
}

func seriesKey(variant string, point map[string]any) string {
	return variant + "\x00" + PointString(point)
}

// Combine groups results by scenario, in the order the scenarios first appear, and merges the
// series of each scenario's results by variant and point.
func Combine(results []*Result) []*Run {
	var runs []*Run
	byName := map[string]*Run{}
	for _, r := range results {
		run, ok := byName[r.Scenario]
		if !ok {
			run = &Run{Scenario: r.Scenario}
			byName[r.Scenario] = run
			runs = append(runs, run)
		}
		run.Results = append(run.Results, r)
	}
	for _, run := range runs {
		run.Headline = headlineOfAll(run.Results)
		run.group()
	}
	return runs
}

// CombineOne is Combine for results that must all be of one scenario.
func CombineOne(results []*Result) (*Run, error) {
	runs := Combine(results)
	switch len(runs) {
	case 0:
		return nil, badInputf("no results given")
	case 1:
		return runs[0], nil
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Scenario
	}
	return nil, badInputf("results of different scenarios (%s) cannot be combined", strings.Join(names, ", "))
}

func (run *Run) group() {
	byKey := map[string]*Group{}
	dimVals := map[string][]any{}
	var dimNames []string
	for _, r := range run.Results {
		for i := range r.Series {
			s := &r.Series[i]
			k := seriesKey(s.Variant, s.Point)
			g, ok := byKey[k]
			if !ok {
				g = &Group{Variant: s.Variant, Point: s.Point}
				byKey[k] = g
				run.Groups = append(run.Groups, g)
			}
			g.Repeats = append(g.Repeats, s)
			for name, v := range s.Point {
				if _, seen := dimVals[name]; !seen {
					dimNames = append(dimNames, name)
				}
				if !containsValue(dimVals[name], v) {
					dimVals[name] = append(dimVals[name], v)
				}
			}
		}
	}
	sort.Strings(dimNames)
	for _, name := range dimNames {
		d := Dim{Name: name, Values: dimVals[name], Numeric: true}
		for _, v := range d.Values {
			if _, ok := number(v); !ok {
				d.Numeric = false
			}
		}
		if d.Numeric {
			sort.Slice(d.Values, func(i, j int) bool {
				a, _ := number(d.Values[i])
				b, _ := number(d.Values[j])
				return a < b
			})
		}
		run.Dims = append(run.Dims, d)
	}
	for _, g := range run.Groups {
		g.combine(run.Headline)
	}
}

func (g *Group) combine(h Headline) {
	g.Errors = map[string]int64{}
	var tput, head []float64
	merged := NewHistogram()
	exact := true
	for _, s := range g.Repeats {
		g.Ops += s.Ops
		tput = append(tput, s.ThroughputPerS)
		if v, ok := h.Of(s); ok {
			head = append(head, v)
		}
		for c, n := range s.Errors {
			g.Errors[c] += n
		}
		if s.Histograms.Latency == "" {
			if s.Ops > 0 {
				exact = false
			}
			continue
		}
		h, err := DecodeHistogram(s.Histograms.Latency)
		if err != nil {
			exact = false
			continue
		}
		merged.Merge(h)
	}
	g.Throughput = median(tput)
	g.Headline, g.HasHeadline = median(head), len(head) > 0
	if len(g.Repeats) == 1 {
		// One repeat: its own figures, exactly as the run reported them.
		g.Latency = g.Repeats[0].LatencyMs
		if exact && merged.TotalCount() > 0 {
			g.Histogram = merged
		}
		return
	}
	if exact && merged.TotalCount() > 0 {
		g.Histogram = merged
		g.Latency = PercentilesOf(merged)
		return
	}
	pick := func(f func(p Percentiles) float64) float64 {
		var xs []float64
		for _, s := range g.Repeats {
			xs = append(xs, f(s.LatencyMs))
		}
		return median(xs)
	}
	g.Latency = Percentiles{
		P50:  pick(func(p Percentiles) float64 { return p.P50 }),
		P90:  pick(func(p Percentiles) float64 { return p.P90 }),
		P99:  pick(func(p Percentiles) float64 { return p.P99 }),
		P999: pick(func(p Percentiles) float64 { return p.P999 }),
		Max:  pick(func(p Percentiles) float64 { return p.Max }),
		Mean: pick(func(p Percentiles) float64 { return p.Mean }),
	}
	for _, s := range g.Repeats {
		g.Latency.Count += s.LatencyMs.Count
	}
}

// Variants lists the run's variants in the order first seen.
func (run *Run) Variants() []string {
	var out []string
	for _, g := range run.Groups {
		if !contains(out, g.Variant) {
			out = append(out, g.Variant)
		}
	}
	return out
}

// Repeats is the largest number of repeats of any group.
func (run *Run) Repeats() int {
	n := 0
	for _, g := range run.Groups {
		n = max(n, len(g.Repeats))
	}
	return n
}

// Swept returns the dimension the run sweeps, the one plotted along the x axis: among the
// dimensions with more than one value, a numeric one before a named one, then the one with most
// values, then workers or concurrency, then by name. ok is false when no dimension varies.
func (run *Run) Swept() (Dim, bool) {
	var best Dim
	found := false
	rank := func(d Dim) [3]int {
		pref := 0
		if d.Name == "workers" || d.Name == "concurrency" {
			pref = 1
		}
		num := 0
		if d.Numeric {
			num = 1
		}
		return [3]int{num, len(d.Values), pref}
	}
	for _, d := range run.Dims {
		if len(d.Values) < 2 {
			continue
		}
		if !found {
			best, found = d, true
			continue
		}
		a, b := rank(d), rank(best)
		if a[0] > b[0] || a[0] == b[0] && (a[1] > b[1] || a[1] == b[1] && a[2] > b[2]) {
			best = d
		}
	}
	return best, found
}

// Line is one variant (and one combination of the other varying dimensions) along the swept
// dimension: the groups in the order of the swept values.
type Line struct {
	Variant string
	// Fixed holds the other dimensions' values that vary in the run, e.g. max_connections=100.
	Fixed  map[string]any
	Groups []*Group
	// Knee is the index in Groups of the first point where p99 passes the SLO or errors begin,
	// -1 when there is none.
	Knee       int
	KneeReason string
}

// Label names the line for legends.
func (l *Line) Label() string {
	if len(l.Fixed) == 0 {
		return l.Variant
	}
	return l.Variant + " " + PointString(l.Fixed)
}

// SweepLines splits the run's groups into lines along the swept dimension x, and finds each
// line's knee against slo (milliseconds of p99; 0 disables the SLO). Groups whose point lacks x
// are left out (Unswept).
func (run *Run) SweepLines(x Dim, slo float64) []*Line {
	varying := map[string]bool{}
	for _, d := range run.Dims {
		if d.Name != x.Name && len(d.Values) > 1 {
			varying[d.Name] = true
		}
	}
	var lines []*Line
	byKey := map[string]*Line{}
	for _, g := range run.Groups {
		if _, ok := g.Point[x.Name]; !ok {
			continue // a variant that does not take x: see Unswept
		}
		fixed := map[string]any{}
		for k, v := range g.Point {
			if varying[k] {
				fixed[k] = v
			}
		}
		key := g.Variant + "\x00" + PointString(fixed)
		l, ok := byKey[key]
		if !ok {
			l = &Line{Variant: g.Variant, Fixed: fixed}
			byKey[key] = l
			lines = append(lines, l)
		}
		l.Groups = append(l.Groups, g)
	}
	for _, l := range lines {
		sort.SliceStable(l.Groups, func(i, j int) bool {
			return indexOfValue(x.Values, l.Groups[i].Point[x.Name]) < indexOfValue(x.Values, l.Groups[j].Point[x.Name])
		})
		l.Knee = -1
		for i, g := range l.Groups {
			if g.TotalErrors() > 0 {
				l.Knee, l.KneeReason = i, "errors begin"
				break
			}
			if slo > 0 && g.Latency.P99 > slo {
				l.Knee, l.KneeReason = i, fmt.Sprintf("p99 passes %s ms", formatNum(slo))
				break
			}
		}
	}
	return lines
}

// Unswept lists the groups whose point lacks the swept dimension x (ddl-lock's no-timeout has no
// statement_timeout): they are on no line of SweepLines.
func (run *Run) Unswept(x Dim) []*Group {
	var out []*Group
	for _, g := range run.Groups {
		if _, ok := g.Point[x.Name]; !ok {
			out = append(out, g)
		}
	}
	return out
}

// number converts a point value to a float64 when it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func sameValue(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func containsValue(vs []any, v any) bool { return indexOfValue(vs, v) >= 0 }

func indexOfValue(vs []any, v any) int {
	for i, x := range vs {
		if sameValue(x, v) {
			return i
		}
	}
	return -1
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// median is the median of xs, 0 when there are none (a figure no repeat had).
func median(xs []float64) float64 {
	m, err := stats.Median(xs)
	if err != nil {
		return 0
	}
	return m
}

// formatNum renders a figure with up to 3 significant digits below 100 and as an integer above,
// without trailing zeros: 0.052, 2.06, 42551.
func formatNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
