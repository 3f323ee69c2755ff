package gate

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/montanaflynn/stats"
	"github.com/pgscale/pgscale/internal/suggest"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// fieldKind is what a check reads from a series.
type fieldKind int

const (
	fieldThroughput fieldKind = iota // throughput_per_s
	fieldLatency                     // latency_ms.<p>
	fieldErrors                      // errors (all classes)
	fieldErrorClass                  // errors.<class>
	fieldMetric                      // metrics.<name>, or a bare metric name
)

// Field is one figure of a series.
type Field struct {
	Kind fieldKind
	// Name is the percentile (p50, p90, p99, p999, max, mean), the error class or the metric.
	Name string
}

// latencyFields are the percentiles a check may read from latency_ms.
var latencyFields = []string{"p50", "p90", "p99", "p999", "max", "mean"}

// validFields names what a check may read, for error messages.
const validFields = "throughput_per_s, latency_ms.p50, latency_ms.p90, latency_ms.p99, latency_ms.p999, latency_ms.max, " +
	"latency_ms.mean, errors, errors.<class> (a SQLSTATE such as 53300, or a client class such as connect_timeout), " +
	"metrics.<name> or a bare metric name (claim_p99_ms, rows_per_s, ...)"

var (
	metricName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	errorClass = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// String is the field as a check writes it.
func (f Field) String() string {
	switch f.Kind {
	case fieldThroughput:
		return "throughput_per_s"
	case fieldLatency:
		return "latency_ms." + f.Name
	case fieldErrors:
		return "errors"
	case fieldErrorClass:
		return "errors." + f.Name
	}
	return f.Name
}

// parseField reads a field as a check writes it.
func parseField(s string) (Field, error) {
	switch {
	case s == "throughput_per_s":
		return Field{Kind: fieldThroughput}, nil
	case s == "errors":
		return Field{Kind: fieldErrors}, nil
	case strings.HasPrefix(s, "latency_ms."):
		p := strings.TrimPrefix(s, "latency_ms.")
		if !contains(latencyFields, p) {
			return Field{}, fmt.Errorf("unknown field %q%s; latency_ms has %s", s,
				suggest.DidYouMeanAs(p, latencyFields, "latency_ms."), strings.Join(latencyFields, ", "))
		}
		return Field{Kind: fieldLatency, Name: p}, nil
	case strings.HasPrefix(s, "errors."):
		c := strings.TrimPrefix(s, "errors.")
		if !errorClass.MatchString(c) {
			return Field{}, fmt.Errorf("error class %q: want a SQLSTATE (53300) or a client class (connect_timeout)", c)
		}
		return Field{Kind: fieldErrorClass, Name: c}, nil
	case strings.HasPrefix(s, "metrics."):
		m := strings.TrimPrefix(s, "metrics.")
		if !metricName.MatchString(m) {
			return Field{}, fmt.Errorf("metric %q: metric names are snake_case (claim_p99_ms)", m)
		}
		return Field{Kind: fieldMetric, Name: m}, nil
	}
	if !metricName.MatchString(s) {
		return Field{}, fmt.Errorf("unknown field %q%s; valid: %s", s, suggest.DidYouMean(s, builtinFields), validFields)
	}
	// A bare name is a metric; a near miss of a built-in field is more likely a typo.
	if sug := builtinNearMiss(s); sug != "" {
		return Field{}, fmt.Errorf("unknown field %q%s; valid: %s", s, sug, validFields)
	}
	return Field{Kind: fieldMetric, Name: s}, nil
}

// builtinFields are the fields every series has.
var builtinFields = []string{"throughput_per_s", "errors", "latency_ms.p50", "latency_ms.p90", "latency_ms.p99",
	"latency_ms.p999", "latency_ms.max", "latency_ms.mean"}

// builtinNearMiss suggests a built-in field for a bare name that looks like one: a percentile
// without latency_ms. (p99), a prefix (throughput, latency) or a near spelling (erors).
func builtinNearMiss(s string) string {
	if contains(latencyFields, s) {
		return fmt.Sprintf(" (did you mean %q?)", "latency_ms."+s)
	}
	for _, f := range builtinFields {
		if strings.HasPrefix(f, s) {
			return fmt.Sprintf(" (did you mean %q?)", f)
		}
	}
	return suggest.DidYouMean(s, builtinFields)
}

// Value reads the field from a series. ok is false when the series has no such metric; an error
// class the series never saw counts 0.
func (f Field) Value(s *result.Series) (float64, bool) {
	switch f.Kind {
	case fieldThroughput:
		return s.ThroughputPerS, true
	case fieldLatency:
		p := s.LatencyMs
		switch f.Name {
		case "p50":
			return p.P50, true
		case "p90":
			return p.P90, true
		case "p99":
			return p.P99, true
		case "p999":
			return p.P999, true
		case "max":
			return p.Max, true
		case "mean":
			return p.Mean, true
		}
		return 0, false
	case fieldErrors:
		return float64(report.TotalErrors(*s)), true
	case fieldErrorClass:
		return float64(s.Errors[f.Name]), true
	}
	v, ok := s.Metrics[f.Name]
	return v, ok
}

// isCount tells whether the field counts events (errors), for which the worst repeat, not the
// median, decides an absolute check by default.
func (f Field) isCount() bool { return f.Kind == fieldErrors || f.Kind == fieldErrorClass }

// Normalisation of a field by the calibration's throughput (see Config.Calibrate).
const (
	normNone     = ""
	normDivide   = "divide"   // a rate: ÷ calibration throughput
	normMultiply = "multiply" // a time: × calibration throughput
)

// normalisation says how calibration normalises the field: rates (throughput_per_s and metrics
// ending in _per_s) are divided by the calibration's throughput, times (latency_ms.* and metrics
// ending in _ms) multiplied by it; counts and other figures are left as measured.
func (f Field) normalisation() string {
	switch {
	case f.Kind == fieldThroughput, f.Kind == fieldMetric && strings.HasSuffix(f.Name, "_per_s"):
		return normDivide
	case f.Kind == fieldLatency, f.Kind == fieldMetric && strings.HasSuffix(f.Name, "_ms"):
		return normMultiply
	}
	return normNone
}

// Aggregates an absolute check may apply over the repeats.
var aggregates = []string{"median", "mean", "min", "max"}

// Operators of an absolute check.
var operators = []string{"<=", ">=", "==", "!=", "<", ">"}

// Directions of a relative check.
const (
	Rise = "rise"
	Fall = "fall"
)

// Check is one line of the gate file's checks.
type Check struct {
	Line int
	Text string
	// Entry is the suite entry's name; Where selects its series (variant and point values).
	Entry string
	Where map[string]string
	Field Field

	// Relative checks compare with the baseline: the field may move in Direction by at most
	// MaxChange (a fraction: 0.10 for 10%).
	Relative  bool
	Direction string
	MaxChange float64

	// Absolute checks hold Agg(field) Op Threshold over the repeats.
	Agg       string // "" : median, or max for error counts
	Op        string
	Threshold float64
}

// aggregate is the aggregate the check applies.
func (c *Check) aggregate() string {
	if c.Agg != "" {
		return c.Agg
	}
	if c.Field.isCount() {
		return "max"
	}
	return "median"
}

var (
	// absolute: [agg(]field[)] op number
	absoluteExpr = regexp.MustCompile(`^(?:([a-z]+)\(\s*([^()\s]+)\s*\)|([^()\s<>=!]+))\s*(<=|>=|==|!=|<|>|=)\s*([^\s<>=!]+)$`)
	// relative: field may rise|fall [by] [at most] N%
	relativeExpr = regexp.MustCompile(`^(\S+)\s+may\s+(\S+)(?:\s+by)?(?:\s+at\s+most)?\s+(\S+?)\s*%$`)
)

// exprHelp shows both forms of a check, for error messages.
const exprHelp = "write `<entry> [key=value ...]: <field> <op> <number>` (op: < <= > >= == !=; optionally median(), mean(), min() or max() around the field) " +
	"or `<entry> [key=value ...]: <field> may rise|fall <N>%`"

// parseCheck reads a check line: a selector, a colon, and an expression. It checks the syntax
// only; Config.validate checks the entry, the selector and the field against the suite.
func parseCheck(text string, line int) (*Check, error) {
	c := &Check{Line: line, Text: strings.TrimSpace(text), Where: map[string]string{}}
	sel, expr, ok := strings.Cut(c.Text, ":")
	if !ok {
		return nil, fmt.Errorf("no colon between the series and the expression; %s", exprHelp)
	}
	words := strings.Fields(sel)
	if len(words) == 0 {
		return nil, fmt.Errorf("no suite entry before the colon; %s", exprHelp)
	}
	c.Entry = words[0]
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("selector %q: want key=value (variant=prepared, workers=8)", w)
		}
		if _, dup := c.Where[k]; dup {
			return nil, fmt.Errorf("selector %q: %s given twice", w, k)
		}
		c.Where[k] = v
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, fmt.Errorf("no expression after the colon; %s", exprHelp)
	}
	if strings.Contains(expr, " may ") || strings.HasSuffix(expr, "%") {
		return c, parseRelative(c, expr)
	}
	return c, parseAbsolute(c, expr)
}

func parseRelative(c *Check, expr string) error {
	m := relativeExpr.FindStringSubmatch(expr)
	if m == nil {
		return fmt.Errorf("malformed relative check %q: want `<field> may rise <N>%%` or `<field> may fall <N>%%`", expr)
	}
	f, err := parseField(m[1])
	if err != nil {
		return err
	}
	c.Relative, c.Field = true, f
	switch m[2] {
	case Rise, Fall:
		c.Direction = m[2]
	default:
		return fmt.Errorf("relative check %q: %q is not a direction; want rise or fall", expr, m[2])
	}
	pct, err := strconv.ParseFloat(m[3], 64)
	if err != nil || math.IsNaN(pct) || math.IsInf(pct, 0) || pct < 0 {
		return fmt.Errorf("relative check %q: %q is not a percentage (want a number from 0, e.g. 10%%)", expr, m[3]+"%")
	}
	if c.Direction == Fall && pct >= 100 {
		return fmt.Errorf("relative check %q: a figure cannot fall by %s%% or more; the check could never fail", expr, m[3])
	}
	c.MaxChange = pct / 100
	return nil
}

func parseAbsolute(c *Check, expr string) error {
	m := absoluteExpr.FindStringSubmatch(expr)
	if m == nil {
		return fmt.Errorf("malformed expression %q; %s", expr, exprHelp)
	}
	field := m[3]
	if m[1] != "" {
		if !contains(aggregates, m[1]) {
			return fmt.Errorf("expression %q: unknown function %s()%s; valid: %s", expr, m[1],
				suggest.DidYouMean(m[1], aggregates), strings.Join(aggregates, ", "))
		}
		c.Agg, field = m[1], m[2]
	}
	f, err := parseField(field)
	if err != nil {
		return err
	}
	c.Field = f
	if m[4] == "=" {
		return fmt.Errorf("expression %q: operator = is not valid (did you mean ==?); valid: %s", expr, strings.Join(operators, " "))
	}
	c.Op = m[4]
	num := strings.ReplaceAll(m[5], "_", "")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("expression %q: %q is not a number (write 5, 0.5, 100000 or 1e5, without units)", expr, m[5])
	}
	c.Threshold = v
	return nil
}

// holds evaluates v op threshold.
func holds(v float64, op string, threshold float64) bool {
	switch op {
	case "<":
		return v < threshold
	case "<=":
		return v <= threshold
	case ">":
		return v > threshold
	case ">=":
		return v >= threshold
	case "==":
		return v == threshold
	case "!=":
		return v != threshold
	}
	return false
}

// aggregateOf applies agg (median, mean, min, max) to xs.
func aggregateOf(agg string, xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var v float64
	switch agg {
	case "min":
		v, _ = stats.Min(xs)
	case "max":
		v, _ = stats.Max(xs)
	case "mean":
		v, _ = stats.Mean(xs)
	default:
		v, _ = stats.Median(xs)
	}
	return v
}

// medianOf is the median of xs, NaN when there are none.
func medianOf(xs []float64) float64 {
	m, _ := stats.Median(xs) // NaN for no values
	return m
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
