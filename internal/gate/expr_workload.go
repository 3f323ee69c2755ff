package gate

import (
	"fmt"
	"strings"

	"github.com/pgscale/pgscale/result"
)

// ParseExpr reads a check of a workload file: a gate expression without a series before it
// (`latency_ms.p99 < 50`, `errors == 0`), held on every series of the run. Relative checks need
// a baseline, which a gate file has and a workload file does not.
func ParseExpr(text string) (*Check, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("empty check; write `<field> <op> <number>`, e.g. latency_ms.p99 < 50")
	}
	c := &Check{Text: text, Where: map[string]string{}}
	if strings.Contains(text, " may ") || strings.HasSuffix(text, "%") {
		return nil, fmt.Errorf("check %q compares with a baseline; a workload file's checks are absolute "+
			"(latency_ms.p99 < 50): put relative checks in a gate file", text)
	}
	if err := parseAbsolute(c, text); err != nil {
		return nil, fmt.Errorf("check %q: %w", text, err)
	}
	return c, nil
}

// ExprResult is a workload check held on one series.
type ExprResult struct {
	Check  *Check
	Series string // the series' label (variant and point)
	Value  float64
	Pass   bool
	// Missing is set when the series has no such metric.
	Missing bool
}

// String is one line: the check, the series, the value and the verdict.
func (r ExprResult) String() string {
	if r.Missing {
		return fmt.Sprintf("FAIL  %s  [%s]: the series has no %s", r.Check.Text, r.Series, r.Check.Field)
	}
	verdict := "pass"
	if !r.Pass {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s  %s  [%s]: %s", verdict, r.Check.Text, r.Series, num(r.Value))
}

// HoldExpr holds c on every series of res (each repeat on its own: a workload's checks hold
// every time).
func HoldExpr(c *Check, res *result.Result) []ExprResult {
	var out []ExprResult
	for i := range res.Series {
		s := &res.Series[i]
		label := pointLabel(s.Variant, s.Point)
		if s.Repeat > 1 {
			label += fmt.Sprintf(" #%d", s.Repeat)
		}
		v, ok := c.Field.Value(s)
		r := ExprResult{Check: c, Series: label, Value: v, Missing: !ok}
		r.Pass = ok && holds(v, c.Op, c.Threshold)
		out = append(out, r)
	}
	return out
}
