package gate

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Measured is a suite's results: one result per entry holding every repeat (series numbered by
// repeat), and the calibration's when the suite calibrates.
type Measured struct {
	Results     map[string]*result.Result // by entry name
	Calibration *result.Result
}

// Status of a check.
type Status string

// A check passes, fails, or is skipped (a relative check with no baseline yet).
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	// Error marks a check that could not be evaluated because the suite could not run.
	Error Status = "error"
)

// CheckResult is one check on one series, with the figures behind its verdict.
type CheckResult struct {
	Check *Check
	// Series names the series checked; Expanded is set when the check selected several and
	// this is one of them.
	Series   string
	Expanded bool
	Status   Status
	// Now and Base are the field's values per repeat, as measured, in repeat order.
	Now, Base []float64
	// Value is an absolute check's aggregate of Now.
	Value float64
	// NowMedian and BaseMedian are a relative check's medians as measured.
	NowMedian, BaseMedian float64
	// Normalised is set when the relative check judged values normalised by the calibration;
	// Change is the change it judged: median(now) / median(baseline) - 1, of the normalised
	// values when Normalised. RawChange is the change of the figures as measured.
	Normalised bool
	Change     float64
	RawChange  float64
	// Tested is set when the U test ran; P is its p-value. Beyond: the change is beyond the
	// threshold in the bad direction; Significant: P <= alpha.
	Tested      bool
	P           float64
	Beyond      bool
	Significant bool
	// Note says in words why the check passed or failed.
	Note string
}

// Name is the check as written, with the series when the check selected several.
func (r *CheckResult) Name() string {
	if r.Expanded {
		return r.Check.Text + " [" + r.Series + "]"
	}
	return r.Check.Text
}

// CalibrationMove is how far the calibration's throughput moved from the baseline.
type CalibrationMove struct {
	Now, Base             []float64
	NowMedian, BaseMedian float64
	Change                float64
	Tested                bool
	P                     float64
}

// seriesOf returns the series of res that match variant and values, by repeat.
func seriesOf(res *result.Result, variant string, values map[string]any) []*result.Series {
	var out []*result.Series
	if res == nil {
		return nil
	}
	for i := range res.Series {
		s := &res.Series[i]
		if s.Variant == variant && samePoint(s.Point, values) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Repeat < out[j].Repeat })
	return out
}

func samePoint(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || fmt.Sprint(v) != fmt.Sprint(w) {
			return false
		}
	}
	return true
}

// calibrationByRepeat maps each repeat to the calibration's throughput.
func calibrationByRepeat(res *result.Result) map[int]float64 {
	out := map[int]float64{}
	if res == nil {
		return out
	}
	for _, s := range res.Series {
		out[s.Repeat] = s.ThroughputPerS
	}
	return out
}

// CheckMetrics makes sure every metric a check reads is in the series it selects. where names
// the results (the baseline, the first repeat) in the message. An unknown metric is a
// configuration error.
func CheckMetrics(cfg *Config, m *Measured, where string) error {
	p := &problems{path: cfg.Path}
	for _, c := range cfg.Checks {
		if c.Field.Kind != fieldMetric {
			continue
		}
		e := cfg.entry(c.Entry)
		res := m.Results[c.Entry]
		if e == nil || res == nil {
			continue
		}
		for _, pt := range matching(c, e) {
			ss := seriesOf(res, pt.Variant, pt.Values)
			if len(ss) == 0 {
				continue
			}
			if _, ok := c.Field.Value(ss[0]); ok {
				continue
			}
			names := metricNames(ss[0])
			all := append(append([]string{}, builtinFields...), names...)
			p.add(c.Line, "check %q: unknown field %q: %s %s has no such metric in %s%s; valid: %s, or its metrics: %s",
				c.Text, c.Field.Name, e.Name, pointLabel(pt.Variant, pt.Values), where, suggest.DidYouMean(c.Field.Name, all),
				strings.Join(builtinFields, ", ")+", errors.<class>", strings.Join(names, ", "))
			break
		}
	}
	return p.err()
}

func metricNames(s *result.Series) []string {
	names := make([]string, 0, len(s.Metrics))
	for k := range s.Metrics {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Evaluate holds every check of cfg against the measured results now and, for relative checks,
// the baseline base (nil: no baseline yet, so relative checks are skipped).
func Evaluate(cfg *Config, now, base *Measured) ([]CheckResult, error) {
	var out []CheckResult
	calNow := calibrationByRepeat(now.Calibration)
	var calBase map[int]float64
	if base != nil {
		calBase = calibrationByRepeat(base.Calibration)
	}
	for _, c := range cfg.Checks {
		e := cfg.entry(c.Entry)
		if e == nil {
			return nil, usage.Errorf("%s:%d: check %q: no suite entry %q", cfg.Path, c.Line, c.Text, c.Entry)
		}
		pts := matching(c, e)
		for _, pt := range pts {
			r := CheckResult{Check: c, Series: e.Name + " " + pointLabel(pt.Variant, pt.Values), Expanded: len(pts) > 1}
			ss := seriesOf(now.Results[e.Name], pt.Variant, pt.Values)
			if len(ss) == 0 {
				return nil, fmt.Errorf("gate: no measured series %s", r.Series)
			}
			vals, err := values(c, ss)
			if err != nil {
				return nil, err
			}
			r.Now = vals
			if !c.Relative {
				absolute(&r, c)
				out = append(out, r)
				continue
			}
			var bs []*result.Series
			if base != nil {
				bs = seriesOf(base.Results[e.Name], pt.Variant, pt.Values)
			}
			if len(bs) == 0 {
				r.Status, r.NowMedian = Skip, medianOf(vals)
				r.Note = "no baseline yet: create one with --update-baseline"
				out = append(out, r)
				continue
			}
			if r.Base, err = values(c, bs); err != nil {
				return nil, err
			}
			judgeNow, judgeBase := r.Now, r.Base
			if cfg.Calibrate && c.Field.normalisation() != normNone {
				if judgeNow, err = normalise(c.Field, ss, r.Now, calNow); err != nil {
					return nil, fmt.Errorf("gate: %s: %w", r.Series, err)
				}
				if judgeBase, err = normalise(c.Field, bs, r.Base, calBase); err != nil {
					return nil, fmt.Errorf("gate: baseline %s: %w", r.Series, err)
				}
				r.Normalised = true
			}
			relative(&r, c, judgeNow, judgeBase, cfg.Alpha)
			out = append(out, r)
		}
	}
	return out, nil
}

// values reads the check's field from every repeat.
func values(c *Check, ss []*result.Series) ([]float64, error) {
	out := make([]float64, len(ss))
	for i, s := range ss {
		v, ok := c.Field.Value(s)
		if !ok {
			return nil, usage.Errorf("check %q: repeat %d of %s %s has no metric %q", c.Text, s.Repeat, c.Entry,
				pointLabel(s.Variant, s.Point), c.Field.Name)
		}
		out[i] = v
	}
	return out, nil
}

// normalise divides rates by, and multiplies times with, the calibration's throughput of the
// same repeat.
func normalise(f Field, ss []*result.Series, vals []float64, cal map[int]float64) ([]float64, error) {
	out := make([]float64, len(vals))
	for i, s := range ss {
		c, ok := cal[s.Repeat]
		if !ok || c <= 0 {
			return nil, fmt.Errorf("no calibration for repeat %d", s.Repeat)
		}
		if f.normalisation() == normDivide {
			out[i] = vals[i] / c
		} else {
			out[i] = vals[i] * c
		}
	}
	return out, nil
}

// absolute holds aggregate(now) op threshold.
func absolute(r *CheckResult, c *Check) {
	agg := c.aggregate()
	r.Value = aggregateOf(agg, r.Now)
	lo, hi := aggregateOf("min", r.Now), aggregateOf("max", r.Now)
	spread := ""
	if lo != hi {
		spread = fmt.Sprintf(" (%s to %s)", num(lo), num(hi))
	}
	what := fmt.Sprintf("%s of %d repeat%s: %s%s", agg, len(r.Now), plural(len(r.Now)), num(r.Value), spread)
	if len(r.Now) == 1 {
		what = fmt.Sprintf("1 repeat: %s", num(r.Value))
	}
	if holds(r.Value, c.Op, c.Threshold) {
		r.Status, r.Note = Pass, what
		return
	}
	r.Status = Fail
	r.Note = fmt.Sprintf("%s, not %s %s", what, c.Op, num(c.Threshold))
}

// relative decides a relative check from the judged values (normalised or as measured): it
// fails only when the change is beyond the threshold in the bad direction and the U test finds
// it significant.
func relative(r *CheckResult, c *Check, now, base []float64, alpha float64) {
	r.NowMedian, r.BaseMedian = medianOf(r.Now), medianOf(r.Base)
	r.RawChange = change(r.BaseMedian, r.NowMedian)
	d := decide(c.Direction, c.MaxChange, base, now, alpha)
	r.Change, r.Tested, r.P, r.Beyond, r.Significant = d.change, d.tested, d.p, d.beyond, d.significant
	r.Status = Pass
	if d.beyond && d.significant {
		r.Status = Fail
	}
	r.Note = d.note(c, alpha)
}

// decision is the statistics behind a relative check.
type decision struct {
	change      float64
	tested      bool
	p           float64
	beyond      bool
	significant bool
	warnings    []string
	n1, n2      int
}

// decide compares now with base: the change of the medians, whether it is beyond maxChange in
// direction (rise or fall), and whether Mann-Whitney U (benchmath.AssumeNothing) finds the two
// samples different at alpha.
func decide(direction string, maxChange float64, base, now []float64, alpha float64) decision {
	var d decision
	d.change = change(medianOf(base), medianOf(now))
	if direction == Rise {
		d.beyond = d.change > maxChange
	} else {
		d.beyond = d.change < -maxChange
	}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(append([]float64(nil), base...), th),
		benchmath.NewSample(append([]float64(nil), now...), th))
	d.tested, d.p, d.n1, d.n2 = true, cmp.P, len(base), len(now)
	for _, w := range cmp.Warnings {
		d.warnings = append(d.warnings, w.Error())
	}
	d.significant = cmp.P <= alpha
	return d
}

// change is b / a - 1, infinite when a is 0 and b is not.
func change(a, b float64) float64 {
	switch {
	case a == b:
		return 0
	case a == 0:
		return math.Copysign(math.Inf(1), b)
	}
	return b/a - 1
}

func (d decision) note(c *Check, alpha float64) string {
	moved := fmt.Sprintf("%s %s", verb(d.change), pct(math.Abs(d.change)))
	if d.change == 0 {
		moved = "unchanged"
	}
	limit := fmt.Sprintf("%s%% %s", trimFloat(c.MaxChange*100), c.Direction)
	better := c.Direction == Rise && d.change < 0 || c.Direction == Fall && d.change > 0
	stat := fmt.Sprintf("p=%.3f", d.p)
	switch {
	case d.beyond && d.significant:
		return fmt.Sprintf("%s: beyond the %s allowed, and significant (%s <= %g)", moved, limit, stat, alpha)
	case d.beyond:
		n := fmt.Sprintf("%s: beyond the %s allowed, but not significant (%s > %g): within noise", moved, limit, stat, alpha)
		if len(d.warnings) > 0 {
			n += fmt.Sprintf(" (n=%d+%d can never reach p <= %g)", d.n1, d.n2, alpha)
		}
		return n
	case better:
		if d.significant {
			return fmt.Sprintf("%s: better (%s)", moved, stat)
		}
		return fmt.Sprintf("%s: better, within noise (%s)", moved, stat)
	case d.significant:
		return fmt.Sprintf("%s: significant (%s) but within the %s allowed", moved, stat, limit)
	}
	return fmt.Sprintf("%s: within the %s allowed (%s)", moved, limit, stat)
}

// Calibration compares the calibration's throughput now with the baseline's.
func Calibration(now, base *Measured) *CalibrationMove {
	if now == nil || now.Calibration == nil {
		return nil
	}
	m := &CalibrationMove{Now: throughputs(now.Calibration)}
	m.NowMedian = medianOf(m.Now)
	if base == nil || base.Calibration == nil {
		return m
	}
	m.Base = throughputs(base.Calibration)
	m.BaseMedian = medianOf(m.Base)
	d := decide(Fall, 0, m.Base, m.Now, DefaultAlpha)
	m.Change, m.Tested, m.P = d.change, d.tested, d.p
	return m
}

func throughputs(res *result.Result) []float64 {
	ss := make([]*result.Series, 0, len(res.Series))
	for i := range res.Series {
		ss = append(ss, &res.Series[i])
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Repeat < ss[j].Repeat })
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.ThroughputPerS
	}
	return out
}

func verb(change float64) string {
	if change < 0 {
		return "fell"
	}
	return "rose"
}

// pct renders a fraction as a percentage: 0.142 -> 14.2%.
func pct(f float64) string {
	if math.IsInf(f, 0) {
		return "from 0"
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

// signedPct renders a change: +14.2%, -3.0%.
func signedPct(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return fmt.Sprintf("%+.1f%%", f*100)
}

func trimFloat(f float64) string { return fmt.Sprintf("%g", math.Round(f*1000)/1000) }

// num renders a figure with 3 significant digits below 100 and as an integer above: 0.052,
// 2.06, 42551.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	s := fmt.Sprintf("%.3g", v)
	if strings.ContainsAny(s, "e") {
		return fmt.Sprintf("%g", v)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
